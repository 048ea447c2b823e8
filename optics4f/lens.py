"""Lenses: the Fourier-transforming lens (front to back focal plane) and the thin lens.

Fourier lens convention (docs/architecture.md#conventions), with f the focal length:

    U(u) = 1 / (i lambda f) * integral u(x) exp(-2 pi i x.u / (lambda f)) d^2x

sampled as U = dx dy / (i lambda f) * centred DFT(u), on an output grid of
pitch lambda f / (N dx). It conserves power: sum |U|^2 du dv = sum |u|^2 dx dy.
"""
from __future__ import annotations

import numpy as np

from .backend import DEFAULT_COMPLEX, get_xp
from .fft import get_plan
from .grid import Grid
from .operator import LinearOperator
from .sampling import warn_sampling
from .typing import Array, ArrayLike, ArrayModule, DTypeLike, Pitch, Shape2
from .validate import finite_array, physical

__all__ = ["FourierLens", "ThinLens", "thin_lens_phase", "centered_dft", "centered_idft", "checkerboard"]


def checkerboard(shape: tuple[int, ...], xp: ArrayModule = np, dtype: DTypeLike = np.float32) -> Array:
    """(-1)^(i+j) over the last two axes of ``shape``."""
    ny, nx = shape[-2:]
    s = (-1.0) ** np.add.outer(np.arange(ny), np.arange(nx))
    return xp.asarray(s.astype(dtype))


def _centered(u, inverse: bool):
    """fftshift(F(ifftshift(u))) over the last two axes, unnormalised.

    For even sizes this is sign * S * F(S * u) with the checkerboard S, which
    avoids two shift copies.
    """
    xp = get_xp(u)
    ny, nx = u.shape[-2:]
    plan = get_plan(u.shape, u.dtype, like=u)
    if ny % 2 == 0 and nx % 2 == 0:
        s = checkerboard((ny, nx), xp, np.float32 if u.dtype == np.complex64 else np.float64)
        buf = plan.buffer
        xp.multiply(u, s, out=buf)
        buf = plan.backward(buf) if inverse else plan.forward(buf)
        sign = -1.0 if ((ny + nx) // 2) % 2 else 1.0
        return buf * (s * sign)
    shifted = xp.fft.ifftshift(u, axes=(-2, -1))
    out = plan.backward(shifted.copy()) if inverse else plan.forward(shifted.copy())
    return xp.fft.fftshift(out, axes=(-2, -1))


def centered_dft(u: Array) -> Array:
    """Unnormalised centred DFT (origin at pixel N//2 in and out) over the last two axes."""
    return _centered(u, inverse=False)


def centered_idft(u: Array) -> Array:
    """Unnormalised centred inverse DFT (no 1/N) over the last two axes."""
    return _centered(u, inverse=True)


class FourierLens(LinearOperator):
    """Front focal plane -> back focal plane of an ideal lens of focal length ``f`` (m).

    Parameters
    ----------
    shape : (ny, nx)
        Field shape.
    pitch : float or (dy, dx)
        Input pitch, metres. Output pitch is lambda f / (N d).
    wavelength, focal_length : float
        Metres.
    dtype : complex dtype
    """

    def __init__(self, shape: Shape2, pitch: Pitch, wavelength: float, focal_length: float,
                 dtype: DTypeLike = DEFAULT_COMPLEX) -> None:
        wavelength = physical("wavelength", wavelength)
        focal_length = physical("focal_length", focal_length)
        self.in_grid = Grid(shape, pitch)
        self.wavelength = float(wavelength)
        self.focal_length = float(focal_length)
        self.out_grid = self.in_grid.fourier_grid(self.wavelength, self.focal_length)
        self.dtype = np.dtype(dtype)
        dy, dx = self.in_grid.pitch
        self.scale = dx * dy / (1j * self.wavelength * self.focal_length)

    def apply(self, u: Array) -> Array:
        """Field in the back focal plane, (..., ny, nx) on ``out_grid``."""
        u = self._check_input(u, self.in_grid, "u")
        return centered_dft(u) * self.dtype.type(self.scale)

    def adjoint(self, v: Array) -> Array:
        """Adjoint (conjugate transpose) of :meth:`apply`."""
        v = self._check_input(v, self.out_grid, "v")
        return centered_idft(v) * self.dtype.type(np.conj(self.scale))

    def inverse(self, v: Array) -> Array:
        """Back focal plane -> front focal plane (the exact inverse of :meth:`apply`)."""
        v = self._check_input(v, self.out_grid, "v")
        n = self.in_grid.shape[0] * self.in_grid.shape[1]
        return centered_idft(v) * self.dtype.type(1.0 / (self.scale * n))


def thin_lens_phase(grid: Grid, wavelength: float, focal_length: float) -> np.ndarray:
    """Paraxial thin-lens phase -pi r^2 / (lambda f) (rad, float64); f > 0 converges."""
    wavelength = physical("wavelength", wavelength)
    focal_length = physical("focal_length", focal_length, signed=True)
    return -np.pi * grid.r2() / (wavelength * focal_length)


class ThinLens(LinearOperator):
    """Thin lens transmission P(x, y) exp(-i pi r^2 / (lambda f)) (a diagonal operator).

    ``pupil`` is an optional real (ny, nx) aperture (see :mod:`optics4f.pupil`).
    Warns when the lens phase is sampled below Nyquist inside the pupil.
    """

    def __init__(self, shape: Shape2, pitch: Pitch, wavelength: float, focal_length: float,
                 pupil: ArrayLike | None = None, dtype: DTypeLike = DEFAULT_COMPLEX, strict: bool = False) -> None:
        self.in_grid = self.out_grid = Grid(shape, pitch)
        self.wavelength = physical("wavelength", wavelength)
        self.focal_length = physical("focal_length", focal_length, signed=True)  # f < 0: a diverging lens
        self.dtype = np.dtype(dtype)
        g = self.in_grid
        if pupil is not None:
            pupil = finite_array("pupil", np.asarray(pupil, dtype=np.float64))
            if pupil.shape != g.shape:
                raise ValueError(f"pupil has shape {pupil.shape}, expected the grid shape {g.shape}")
        # Local frequency of the lens chirp is r / (lambda f); Nyquist is 1 / (2 d).
        y, x = g.y(), g.x()
        if pupil is not None:
            inside = pupil > 0
            xmax = np.abs(x[inside.any(axis=0)]).max(initial=0.0)
            ymax = np.abs(y[inside.any(axis=1)]).max(initial=0.0)
        else:
            xmax, ymax = np.abs(x).max(), np.abs(y).max()
        for rmax, d, ax in ((xmax, g.dx, "x"), (ymax, g.dy, "y")):
            if rmax / (self.wavelength * abs(self.focal_length)) > 1 / (2 * d) * (1 + 1e-9):
                warn_sampling(
                    f"thin lens phase aliases along {ax}: local frequency "
                    f"{rmax / (self.wavelength * abs(self.focal_length)):.4g} "
                    f"cycles/m exceeds Nyquist {1 / (2 * d):.4g} at the aperture edge. Use a pupil of radius <= "
                    f"{self.wavelength * abs(self.focal_length) / (2 * d):.4g} m or a finer pitch.",
                    strict=strict,
                    stacklevel=3,
                )
                break
        t = np.exp(1j * thin_lens_phase(g, self.wavelength, self.focal_length))
        if pupil is not None:
            t = t * pupil
        self._t64 = t
        self._cache = {}

    def transmission(self, like: Array | None = None) -> Array:
        """Complex transmission (ny, nx) in this operator's dtype, on the backend of ``like``."""
        xp = get_xp(like) if like is not None else np
        key = id(xp)
        if key not in self._cache:
            self._cache[key] = xp.asarray(self._t64.astype(self.dtype))
        return self._cache[key]

    def apply(self, u: Array) -> Array:
        u = self._check_input(u, self.in_grid, "u")
        return u * self.transmission(u)

    def adjoint(self, v: Array) -> Array:
        v = self._check_input(v, self.out_grid, "v")
        return v * get_xp(v).conj(self.transmission(v))
