"""Encodings of a complex Fourier-plane mask on real panels, and their fidelity.

A 4f system wants a complex mask H; a lab has a phase-only LCoS or a binary
DMD. Both encodings below make H appear as one term of the panel's
transmission, displaced in the *output* plane (the Fourier plane of the SLM),
where an aperture keeps that term and blocks the rest.

* :func:`double_phase` (phase-only panel): H / a_max = (exp(i t1) + exp(i t2)) / 2 with
  t1,2 = arg H +- arccos(|H| / a_max), interleaved on a checkerboard. The
  panel shows H / a_max plus a term modulated by (-1)^(i+j), which lands at
  (lambda f2 / (2 p), lambda f2 / (2 p)) in the output plane (the corners of the
  field of view lambda f2 / p): the centred aperture of half-width
  lambda f2 / (4 p) per axis passes the wanted term and blocks it.
* :func:`lee_hologram` (DMD): binary t = [cos(2 pi nu.j + arg H) > cos(pi w)] with
  w = arcsin(|H| / a_max) / pi. Its Fourier series in the carrier phase has the
  +1 order (|H| / a_max / pi) exp(i arg H) exp(2 pi i nu.j): H / (pi a_max)
  shifted to lambda f2 nu / p in the output plane, where an aperture of
  half-width lambda f2 |nu| / (2 p) along the carrier selects it.

j is the pixel index relative to the panel centre (pixel N//2, the optical
axis), nu the carrier in cycles per pixel. Output positions follow the
optics4f 4f convention (FourF): a mask factor exp(2 pi i nu.j) moves the output
by +lambda f2 nu / p.

Fidelity (:func:`encoding_fidelity`): with r the ideal output (complex mask)
and t the encoded output, both inside the aperture, the best complex scale is
alpha = <r, t> / <r, r>; we report the normalised correlation
|<r, t>| / (|r| |t|) (1 = perfect up to a complex scale), the relative L2
error |t - alpha r| / |alpha r| and alpha itself (whose expected value, from
the encoding, is 1 / a_max for double phase and 1 / (pi a_max) for Lee).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import get_xp
from ..grid import Grid
from ..typing import Array, ArrayLike

__all__ = ["Encoded", "double_phase", "lee_hologram", "order_shift", "output_window", "encoding_fidelity"]


@dataclass
class Encoded:
    """An encoded mask.

    pattern : array (..., ny, nx)
        Phase (rad, float64) for double phase; amplitude 0.0/1.0 (float64) for Lee.
        Feed it to ``SLM.encode`` (phase or binary mode) to get the frame.
    scale : complex
        The wanted term of the transmission equals ``scale * target``.
    carrier : (nu_y, nu_x)
        Cycles per pixel of the wanted term (0 for double phase).
    unwanted_carrier : (nu_y, nu_x)
        Carrier of the nearest unwanted term (for the aperture).
    """

    pattern: object
    scale: complex
    carrier: tuple
    unwanted_carrier: tuple

    def aperture(self, grid: Grid, pitch: float, wavelength: float, f2: float) -> np.ndarray:
        """Output-plane window (float64 on ``grid``) that keeps the wanted term and blocks the nearest other.

        Centred at lambda f2 nu / p; half-width per axis lambda f2 |nu - nu_unwanted| / (2 p), or the whole
        field of view lambda f2 / (2 p) along an axis where both carriers agree. ``pitch``: the SLM pitch (m).
        """
        center = order_shift(self.carrier, pitch, wavelength, f2)
        fov = wavelength * f2 / pitch
        half = tuple(fov * (abs(a - b) / 2 if a != b else 0.5) for a, b in zip(self.carrier, self.unwanted_carrier))
        return output_window(grid, center, half)


def _target(target):
    xp = get_xp(target)
    t = xp.asarray(target)
    if t.ndim < 2:
        raise ValueError(f"target must have at least 2 dimensions (..., ny, nx), got shape {tuple(t.shape)}")
    t = t.astype(np.complex128)
    if not bool(xp.isfinite(t).all()):
        raise ValueError("target contains NaN or Inf")
    return t


def _amax(t, amax):
    xp = get_xp(t)
    peak = float(xp.abs(t).max())
    if amax is None:
        amax = peak
    if not (np.isfinite(amax) and amax > 0):
        raise ValueError(f"amax must be positive (the target amplitude mapped to full modulation), got {amax!r}; "
                         "an all-zero target cannot be encoded")
    if peak > amax * (1 + 1e-12):
        raise ValueError(f"|target| reaches {peak:.6g} > amax = {amax:.6g}; use amax >= max|target| (default)")
    return float(amax)


def _centred_index(n, xp):
    return xp.arange(n, dtype=np.float64) - n // 2


def double_phase(target: ArrayLike, amax: float | None = None) -> Encoded:
    """Double-phase encoding of the complex ``target`` (..., ny, nx) for a phase-only panel.

    Returns an :class:`Encoded` with the phase pattern (rad, in (-2 pi, 2 pi);
    the SLM wraps it), scale 1/amax (amax defaults to max|target|), carrier 0
    and the unwanted term at (1/2, 1/2) cycles per pixel.
    """
    t = _target(target)
    xp = get_xp(t)
    amax = _amax(t, amax)
    phi = xp.angle(t)
    delta = xp.arccos(xp.clip(xp.abs(t) / amax, 0.0, 1.0))
    ny, nx = t.shape[-2:]
    parity = (_centred_index(ny, xp)[:, None] + _centred_index(nx, xp)[None, :]) % 2 == 0
    pattern = xp.where(parity, phi + delta, phi - delta)
    return Encoded(pattern, 1.0 / amax, (0.0, 0.0), (0.5, 0.5))


def lee_hologram(target: ArrayLike, carrier: tuple[float, float] = (0.0, 0.25), amax: float | None = None) -> Encoded:
    """Binary-amplitude Lee hologram of the complex ``target`` (..., ny, nx) for a DMD.

    Parameters
    ----------
    carrier : (nu_y, nu_x)
        Carrier in cycles per pixel; |nu| <= 1/2 per axis. More pixels per period
        (smaller nu) resolve the amplitude better but bring the orders closer.
    amax : float, optional
        Amplitude given full modulation (default max|target|).

    Returns an :class:`Encoded` (pattern 0.0/1.0, scale 1/(pi amax), the
    wanted +1 order at ``carrier``, the nearest unwanted term, the zero order,
    at 0).
    """
    t = _target(target)
    xp = get_xp(t)
    amax = _amax(t, amax)
    nu = tuple(float(c) for c in np.broadcast_to(np.asarray(carrier, dtype=np.float64), (2,)))
    if not all(np.isfinite(nu)) or max(abs(c) for c in nu) > 0.5 or nu == (0.0, 0.0):
        raise ValueError(f"carrier must be non-zero with |nu| <= 1/2 cycles per pixel on each axis, got {carrier!r}")
    ny, nx = t.shape[-2:]
    ramp = 2 * np.pi * (nu[0] * _centred_index(ny, xp)[:, None] + nu[1] * _centred_index(nx, xp)[None, :])
    w = xp.arcsin(xp.clip(xp.abs(t) / amax, 0.0, 1.0)) / np.pi
    pattern = (xp.cos(ramp + xp.angle(t)) > xp.cos(np.pi * w)).astype(np.float64)
    return Encoded(pattern, 1.0 / (np.pi * amax), nu, (0.0, 0.0))


def order_shift(carrier: float | tuple[float, float], pitch: float, wavelength: float,
                f2: float) -> tuple[float, float]:
    """Output-plane position (y, x) in metres of a mask term with ``carrier`` (cycles per pixel)
    on a panel of ``pitch`` (m) in a 4f system with second lens ``f2`` (m): lambda f2 nu / p."""
    nu = np.broadcast_to(np.asarray(carrier, dtype=np.float64), (2,))
    return tuple(float(c) * wavelength * f2 / pitch for c in nu)


def output_window(grid: Grid, center: tuple[float, float] = (0.0, 0.0),
                  half_width: float | tuple[float, float] | None = None) -> np.ndarray:
    """Rectangular output-plane aperture on ``grid``: 1.0 where |y - y0| < hy and |x - x0| < hx, else 0.

    ``half_width`` (m): scalar or (hy, hx); default: the whole grid.
    Returns float64 (ny, nx).
    """
    if half_width is None:
        return np.ones(grid.shape)
    hy, hx = np.broadcast_to(np.asarray(half_width, dtype=np.float64), (2,))
    if not (hy > 0 and hx > 0):
        raise ValueError(f"half_width must be positive (m), got {half_width!r}")
    y = np.abs(grid.y() - center[0]) < hy
    x = np.abs(grid.x() - center[1]) < hx
    return (y[:, None] & x[None, :]).astype(np.float64)


def encoding_fidelity(reference: Array, test: Array, window: Array | None = None) -> dict:
    """Agreement of an encoded output ``test`` with the ideal output ``reference`` inside ``window``.

    Returns dict(correlation, relative_error, scale, window_power_fraction):
    correlation = |<r, t>| / (|r| |t|); scale = alpha = <r, t>/<r, r> (t ~ alpha r);
    relative_error = |t - alpha r| / |alpha r|; window_power_fraction = power of
    ``test`` inside the window over its total power. Sums run over all axes.
    """
    xp = get_xp(reference, test)
    r = xp.asarray(reference).astype(np.complex128)
    t = xp.asarray(test).astype(np.complex128)
    if r.shape != t.shape:
        raise ValueError(f"reference {tuple(r.shape)} and test {tuple(t.shape)} must have the same shape")
    total = float(xp.sum(xp.abs(t) ** 2))
    if window is not None:
        w = xp.asarray(window)
        r, t = r * w, t * w
    rr = float(xp.sum(xp.abs(r) ** 2))
    tt = float(xp.sum(xp.abs(t) ** 2))
    if rr == 0 or tt == 0:
        raise ValueError("reference or test is zero inside the window; check the window position")
    rt = complex(xp.sum(xp.conj(r) * t))
    alpha = rt / rr
    err = float(xp.sqrt(xp.sum(xp.abs(t - alpha * r) ** 2))) / (abs(alpha) * np.sqrt(rr))
    return {
        "correlation": abs(rt) / np.sqrt(rr * tt),
        "relative_error": err,
        "scale": alpha,
        "window_power_fraction": tt / total if total > 0 else 0.0,
    }
