"""Zernike polynomials with ANSI (OSA) single indexing, and aberration phases.

ANSI index j = (n (n + 2) + m) / 2, with radial order n and azimuthal
frequency m (m < 0: sin terms). Normalised so that each polynomial has unit
RMS over the unit disk (Noll normalisation): coefficients are RMS wavefront
errors. j = 4 is defocus (n=2, m=0); j = 1, 2 are tilts.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import factorial

import numpy as np

from .grid import Grid

__all__ = ["ansi_to_nm", "nm_to_ansi", "zernike", "zernike_opd", "zernike_phase", "defocus_coefficient"]


def ansi_to_nm(j: int) -> tuple:
    """(n, m) of ANSI index j >= 0."""
    if j < 0 or int(j) != j:
        raise ValueError(f"ANSI Zernike index must be a non-negative integer, got {j!r}")
    n = int(np.ceil((-3 + np.sqrt(9 + 8 * j)) / 2))
    m = 2 * j - n * (n + 2)
    return n, m


def nm_to_ansi(n: int, m: int) -> int:
    """ANSI index of (n, m); requires |m| <= n and n - |m| even."""
    if abs(m) > n or (n - abs(m)) % 2:
        raise ValueError(f"invalid Zernike (n, m) = ({n}, {m}): need |m| <= n and n - |m| even")
    return (n * (n + 2) + m) // 2


def _radial(n: int, m: int, rho: np.ndarray) -> np.ndarray:
    m = abs(m)
    out = np.zeros_like(rho)
    for k in range((n - m) // 2 + 1):
        c = (-1) ** k * factorial(n - k) / (factorial(k) * factorial((n + m) // 2 - k) * factorial((n - m) // 2 - k))
        out += c * rho ** (n - 2 * k)
    return out


def zernike(j: int, rho: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Unit-RMS Zernike polynomial j at polar coordinates (rho in unit-disk radii, theta rad)."""
    n, m = ansi_to_nm(j)
    norm = np.sqrt(2 * (n + 1)) if m != 0 else np.sqrt(n + 1)
    r = _radial(n, m, rho)
    if m > 0:
        return norm * r * np.cos(m * theta)
    if m < 0:
        return norm * r * np.sin(-m * theta)
    return norm * r


def zernike_opd(grid: Grid, coefficients: Sequence[float] | Mapping[int, float], radius: float,
                center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Optical path difference (m) of a Zernike expansion on ``grid``, zero outside ``radius``.

    ``coefficients`` is a sequence (index = ANSI j) or a dict {j: value}; values
    are RMS wavefront errors in metres over the disk of ``radius`` (m).
    """
    from .validate import finite, positive

    positive("radius", radius, unit="m")
    items = list(coefficients.items() if isinstance(coefficients, dict) else enumerate(coefficients))
    for j, c in items:
        finite(f"coefficients[{j}]", c)
    y = (grid.y()[:, None] - center[0]) / radius
    x = (grid.x()[None, :] - center[1]) / radius
    rho = np.hypot(x, y)
    theta = np.arctan2(y, x)
    opd = np.zeros(grid.shape)
    for j, c in items:
        if c:
            opd += c * zernike(int(j), rho, theta)
    opd[rho > 1] = 0.0
    return opd


def zernike_phase(grid: Grid, coefficients: Sequence[float] | Mapping[int, float], radius: float, wavelength: float,
                  center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Phase (rad) 2 pi OPD / lambda of a Zernike expansion (coefficients in metres RMS)."""
    from .validate import physical

    wavelength = physical("wavelength", wavelength)
    return 2 * np.pi / wavelength * zernike_opd(grid, coefficients, radius, center)


def defocus_coefficient(dz: float, radius: float, focal_length: float) -> float:
    """RMS defocus Zernike coefficient (m) for a focus error ``dz`` (m) of a beam of
    ``radius`` (m) converging at ``focal_length`` (m): paraxial OPD = dz r^2 / (2 f^2)
    = dz NA^2 rho^2 / 2, whose Z4 part is dz NA^2 / (4 sqrt 3)."""
    na = radius / focal_length
    return dz * na**2 / (4 * np.sqrt(3))
