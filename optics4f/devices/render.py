"""Pixel rendering: a panel of pixels (SLM, display) drawn onto a finer simulation grid.

Geometry (the core's convention, :mod:`optics4f.grid`): panel pixel j of N
has its centre at (j - N//2) * p and simulation sample i of M sits at
(i - M//2) * d, so the panel is centred on the optical axis exactly as a
``Grid(N, p)`` would be. The pitches must satisfy p = k * d with an integer
k per axis (:func:`pitch_ratio`).

Each simulation sample stands for the cell [x_i - d/2, x_i + d/2); its value
is the *area average* of the panel over that cell. A pixel's active area is a
centred square of side ``fill_factor * p`` (``fill_factor`` is linear, per
axis: the area fill factor is its square). So along one axis a pixel adds the
weights w(m) = |[m - 1/2, m + 1/2] & [-a k/2, a k/2]| to the samples m cells
from its centre, with sum_m w(m) = a k exactly. For odd k and a = 1 this is
plain k x k repetition; for even k the two boundary samples of a pixel are
shared 50/50 with its neighbours (no half-sample shift of the panel).

Everything here is linear in the pixel values and separable in y and x;
:func:`render_pixels_adjoint` is the exact adjoint (tested by a dot product),
which the torch bridge uses for backward.
"""
from __future__ import annotations

import math

import numpy as np

from ..backend import get_xp

__all__ = [
    "pitch_ratio",
    "pixel_weights",
    "render_pixels",
    "render_pixels_adjoint",
    "panel_footprint",
    "gaussian_kernel1d",
    "smooth",
]


def pitch_ratio(panel_pitch, sim_pitch, name: str = "pitch", rtol: float = 1e-6) -> tuple:
    """Integer samples per panel pixel (ky, kx) from the panel pitch and the simulation pitch (m).

    Refuses ratios that are not integers (within ``rtol``) and says which
    simulation pitches would work.
    """
    pp = np.broadcast_to(np.asarray(panel_pitch, dtype=np.float64), (2,))
    sp = np.broadcast_to(np.asarray(sim_pitch, dtype=np.float64), (2,))
    if not (np.all(np.isfinite(pp)) and np.all(pp > 0) and np.all(np.isfinite(sp)) and np.all(sp > 0)):
        raise ValueError(f"{name}: pitches must be positive and finite (metres), got panel {panel_pitch!r}, "
                         f"simulation {sim_pitch!r}")
    out = []
    for p, d, ax in zip(pp, sp, "yx"):
        r = p / d
        k = int(round(r))
        if k < 1 or abs(r - k) > rtol * r:
            lo = max(1, math.floor(r))
            raise ValueError(
                f"{name}: the panel pitch {p:.6g} m is {r:.6g} simulation samples of {d:.6g} m along {ax}; "
                f"it must be an integer number of samples. Use a simulation pitch of p/k, e.g. "
                f"{p / lo:.6g} m (k={lo}) or {p / (lo + 1):.6g} m (k={lo + 1}); in a 4f system the "
                f"Fourier-plane pitch is wavelength*f1/(M*dx), so adjust f1, the input pitch or the padded size M"
            )
        out.append(k)
    return tuple(out)


def pixel_weights(k: int, fill_factor: float = 1.0) -> tuple:
    """Area weights of one pixel on the samples around its centre, along one axis.

    Returns (offsets, weights): integer sample offsets m (relative to the
    pixel-centre sample) and float64 weights w(m) in [0, 1], the fraction of
    cell [m - 1/2, m + 1/2) covered by the active interval [-a k/2, a k/2]
    (a = ``fill_factor``, k samples per pixel). sum(weights) = a k.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"samples per pixel k must be a positive integer, got {k!r}")
    if not (0 < fill_factor <= 1):
        raise ValueError(f"fill_factor must be in (0, 1] (linear, per axis), got {fill_factor!r}")
    half = fill_factor * k / 2
    r = int(math.ceil(half + 0.5))
    m = np.arange(-r, r + 1)
    w = np.clip(np.minimum(m + 0.5, half) - np.maximum(m - 0.5, -half), 0.0, 1.0)
    keep = w > 1e-12
    return m[keep], w[keep]


def _axis_slices(n_panel: int, k: int, m_out: int, offset: int):
    """For one tap offset: (panel slice, output slice with step k) of the pixels that land inside."""
    # centre sample of pixel j: c_j = (j - n//2) k + m_out//2 ; the tap lands on c_j + offset
    start = -(n_panel // 2) * k + m_out // 2 + offset
    j_lo = 0 if start >= 0 else (-start + k - 1) // k   # first j with start + j k >= 0
    j_hi = min(n_panel - 1, (m_out - 1 - start) // k)    # last j with start + j k <= m_out - 1
    if j_hi < j_lo:
        return None
    i0 = start + j_lo * k
    return slice(j_lo, j_hi + 1), slice(i0, i0 + (j_hi - j_lo) * k + 1, k)


def _render_last_axis(v, k: int, m_out: int, fill_factor: float):
    xp = get_xp(v)
    offsets, weights = pixel_weights(k, fill_factor)
    n = v.shape[-1]
    out = xp.zeros(v.shape[:-1] + (m_out,), dtype=v.dtype)
    for off, w in zip(offsets, weights):
        s = _axis_slices(n, k, m_out, int(off))
        if s is not None:
            out[..., s[1]] += v[..., s[0]] * v.dtype.type(w)
    return out


def _adjoint_last_axis(u, k: int, n_panel: int, fill_factor: float):
    xp = get_xp(u)
    offsets, weights = pixel_weights(k, fill_factor)
    m_out = u.shape[-1]
    out = xp.zeros(u.shape[:-1] + (n_panel,), dtype=u.dtype)
    for off, w in zip(offsets, weights):
        s = _axis_slices(n_panel, k, m_out, int(off))
        if s is not None:
            out[..., s[0]] += u[..., s[1]] * u.dtype.type(w)
    return out


def _check_values(values, name):
    xp = get_xp(values)
    values = xp.asarray(values)
    if values.ndim < 2:
        raise ValueError(f"{name} must have at least 2 dimensions (..., ny, nx), got shape {tuple(values.shape)}")
    if values.dtype.kind not in "fc":
        values = values.astype(np.float64)
    return values


def render_pixels(values, factor, out_shape, fill_factor: float = 1.0):
    """Draw pixel ``values`` (..., ny, nx) onto a (..., My, Mx) grid with ``factor`` samples per pixel.

    Parameters
    ----------
    values : array (..., ny, nx), float or complex
        One value per panel pixel (e.g. a complex transmission).
    factor : int or (ky, kx)
        Simulation samples per pixel (see :func:`pitch_ratio`).
    out_shape : (My, Mx)
        Simulation grid shape. The panel is centred on sample (My//2, Mx//2);
        parts outside the grid are cut, grid samples outside the panel are 0.
    fill_factor : float
        Linear active fraction of each pixel, per axis, in (0, 1].

    Returns
    -------
    array (..., My, Mx) of the dtype of ``values`` (float64 for integers),
    linear in ``values``: sample = sum_j values_j * w_y * w_x.
    """
    values = _check_values(values, "values")
    ky, kx = np.broadcast_to(np.asarray(factor), (2,))
    xp = get_xp(values)
    out = _render_last_axis(values, int(kx), int(out_shape[1]), fill_factor)
    out = xp.swapaxes(out, -1, -2)
    out = _render_last_axis(out, int(ky), int(out_shape[0]), fill_factor)
    return xp.ascontiguousarray(xp.swapaxes(out, -1, -2))


def render_pixels_adjoint(field, factor, panel_shape, fill_factor: float = 1.0):
    """Adjoint of :func:`render_pixels`: (..., My, Mx) -> (..., ny, nx), the weighted sum over each pixel.

    With fill_factor 1 and values given as energy densities this integrates a
    fine-grid quantity over the panel pixels (in units of samples).
    """
    field = _check_values(field, "field")
    ky, kx = np.broadcast_to(np.asarray(factor), (2,))
    xp = get_xp(field)
    out = _adjoint_last_axis(field, int(kx), int(panel_shape[1]), fill_factor)
    out = xp.swapaxes(out, -1, -2)
    out = _adjoint_last_axis(out, int(ky), int(panel_shape[0]), fill_factor)
    return xp.ascontiguousarray(xp.swapaxes(out, -1, -2))


def panel_footprint(panel_shape, factor, out_shape, xp=np):
    """Fraction (0..1) of each simulation sample covered by the panel (all pixels, dead zones included)."""
    ones = xp.ones(tuple(panel_shape), dtype=np.float64)
    return render_pixels(ones, factor, out_shape, 1.0)


def gaussian_kernel1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Normalised sampled Gaussian exp(-m^2 / (2 sigma^2)), |m| <= round(truncate * sigma) (sigma in samples).

    Same kernel as ``scipy.ndimage.gaussian_filter1d``, so the torch bridge
    can reproduce :func:`smooth` with a 1-D convolution and replicate padding.
    """
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be positive and finite (samples), got {sigma!r}")
    r = int(truncate * float(sigma) + 0.5)
    m = np.arange(-r, r + 1)
    w = np.exp(-0.5 * (m / float(sigma)) ** 2)
    return w / w.sum()


def smooth(a, sigma, mode: str = "nearest", truncate: float = 4.0):
    """Separable Gaussian smoothing of the last two axes of a real array; ``sigma`` = (sy, sx) in samples.

    ``mode`` is the boundary rule of ``scipy.ndimage`` ('nearest': the edge
    value continues, what a liquid-crystal layer at the panel edge does;
    'wrap': periodic). A sigma of 0 on an axis leaves that axis alone.
    Works on NumPy (scipy.ndimage) and CuPy (cupyx.scipy.ndimage) arrays.
    """
    xp = get_xp(a)
    if xp is np:
        from scipy import ndimage
    else:  # pragma: no cover - needs a GPU
        from cupyx.scipy import ndimage  # type: ignore
    sy, sx = (float(s) for s in np.broadcast_to(np.asarray(sigma, dtype=np.float64), (2,)))
    if not (np.isfinite(sy) and np.isfinite(sx) and sy >= 0 and sx >= 0):
        raise ValueError(f"sigma must be >= 0 and finite (samples), got {sigma!r}")
    out = a
    for s, axis in ((sy, -2), (sx, -1)):
        if s > 0:
            w = xp.asarray(gaussian_kernel1d(s, truncate).astype(a.dtype))
            out = ndimage.correlate1d(out, w, axis=a.ndim + axis, mode=mode)
    return out
