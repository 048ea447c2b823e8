"""Pixel rendering: a panel of pixels (SLM, display) drawn onto a finer simulation grid.

Geometry (the core's convention, :mod:`optics4f.grid`): panel pixel j of N
has its centre at (j - N//2) * p and simulation sample i of M sits at
(i - M//2) * d, so the panel is centred on the optical axis exactly as a
``Grid(N, p)`` would be. The ratio k = p / d (:func:`pitch_ratio`) is any
positive number per axis: a lab's panel pitch and a simulation pitch chosen
for the FFT need not be commensurate (docs/sampling.md).

Each simulation sample stands for the cell [x_i - d/2, x_i + d/2); its value
is the *area average* of the panel over that cell. A pixel's active area is a
centred square of side ``fill_factor * p`` (``fill_factor`` is linear, per
axis: the area fill factor is its square). So along one axis pixel j adds the
weight W[i, j] = |[i' - 1/2, i' + 1/2] & [c_j - a k/2, c_j + a k/2]| (in
sample units, i' = i - M//2, c_j = (j - N//2) k) to sample i, and
sum_i W[i, j] = a k exactly. For an integer k the pixel centres fall on
samples: odd k with a = 1 is plain k x k repetition; for even k the two
boundary samples of a pixel are shared 50/50 with its neighbours (no
half-sample shift of the panel). Integer ratios use shifted slices; any other
ratio uses the same weights as a dense (M, N) matrix per axis
(:func:`pixel_matrix`), restricted to the pixels that reach the grid.

Everything here is linear in the pixel values and separable in y and x;
:func:`render_pixels_adjoint` is the exact adjoint (tested by a dot product),
which the torch bridge uses for backward.
"""
from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np

from ..backend import get_xp
from ..typing import Array, ArrayModule, Pitch, Shape2

if TYPE_CHECKING:
    from scipy import sparse

__all__ = [
    "pitch_ratio",
    "is_integer_ratio",
    "pixel_weights",
    "pixel_matrix",
    "render_pixels",
    "render_pixels_adjoint",
    "panel_footprint",
    "gaussian_kernel1d",
    "smooth",
]


def pitch_ratio(panel_pitch: Pitch, sim_pitch: Pitch, name: str = "pitch",
                rtol: float = 1e-6) -> tuple[int | float, int | float]:
    """Simulation samples per panel pixel (ky, kx) = panel pitch / simulation pitch (both m).

    A ratio within ``rtol`` of an integer is returned as that ``int`` (the exact,
    sliced rendering path); any other positive ratio as a ``float``.
    """
    pp = np.broadcast_to(np.asarray(panel_pitch, dtype=np.float64), (2,))
    sp = np.broadcast_to(np.asarray(sim_pitch, dtype=np.float64), (2,))
    if not (np.all(np.isfinite(pp)) and np.all(pp > 0) and np.all(np.isfinite(sp)) and np.all(sp > 0)):
        raise ValueError(f"{name}: pitches must be positive and finite (metres), got panel {panel_pitch!r}, "
                         f"simulation {sim_pitch!r}")
    return tuple(_as_ratio(p / d, rtol) for p, d in zip(pp, sp))


def _as_ratio(r: float, rtol: float = 1e-6):
    """``int(r)`` when r is within rtol of a positive integer, else ``float(r)``."""
    k = int(round(r))
    return k if k >= 1 and abs(r - k) <= rtol * r else float(r)


def is_integer_ratio(factor: float | tuple[float, float]) -> bool:
    """True when every entry of ``factor`` is an integer number of samples per pixel."""
    return all(isinstance(k, (int, np.integer)) or float(k).is_integer()
               for k in np.broadcast_to(np.asarray(factor, dtype=object), (2,)))


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


@functools.lru_cache(maxsize=64)
def _pixel_matrix_csr(n_panel: int, k: float, m_out: int, fill_factor: float):
    """CSR (m_out, n_panel) of the area weights W[i, j] (module docstring), float64."""
    from scipy import sparse

    half = fill_factor * k / 2
    c = (np.arange(n_panel) - n_panel // 2) * k  # pixel centres, sample units from the axis
    first = np.floor(c - half - 0.5).astype(np.int64) + 1  # first sample whose cell reaches the pixel
    taps = int(math.ceil(2 * half)) + 2
    rows, cols, vals = [], [], []
    for t in range(taps):
        i_rel = first + t  # sample index relative to the axis sample M//2
        w = np.minimum(i_rel - c + 0.5, half) - np.maximum(i_rel - c - 0.5, -half)
        i = i_rel + m_out // 2
        keep = (w > 1e-12) & (i >= 0) & (i < m_out)
        rows.append(i[keep])
        cols.append(np.nonzero(keep)[0])
        vals.append(np.minimum(w[keep], 1.0))
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(m_out, n_panel))


def pixel_matrix(n_panel: int, k: float, m_out: int, fill_factor: float = 1.0) -> sparse.csr_matrix:
    """Area weights (m_out, n_panel) of ``n_panel`` pixels of ``k`` samples (any k > 0) on ``m_out``
    samples along one axis, as a SciPy CSR matrix: W[i, j] is the fraction of sample cell i that
    the active part of pixel j covers (module docstring); each column sums to fill_factor * k
    where the pixel lies inside the grid. :func:`render_pixels` applies W along each axis."""
    k, fill_factor = float(k), float(fill_factor)
    if not (np.isfinite(k) and k > 0):
        raise ValueError(f"samples per pixel k must be positive and finite, got {k!r}")
    if not (0 < fill_factor <= 1):
        raise ValueError(f"fill_factor must be in (0, 1] (linear, per axis), got {fill_factor!r}")
    return _pixel_matrix_csr(int(n_panel), k, int(m_out), fill_factor)


def _apply_matrix_last_axis(v, w, transpose: bool):
    """v (..., n) -> (..., m) with v @ W.T (or (..., m) -> (..., n) with v @ W when ``transpose``)."""
    xp = get_xp(v)
    lead = v.shape[:-1]
    flat = v.reshape(-1, v.shape[-1])
    if xp is not np:  # pragma: no cover - needs a GPU
        from cupyx.scipy import sparse as xsparse

        w = xsparse.csr_matrix(w)
    # (W @ flat.T).T keeps the sparse operand on the left, which SciPy and CuPy both dispatch
    out = (w.T @ flat.T).T if transpose else (w @ flat.T).T
    out = xp.asarray(out)
    return xp.ascontiguousarray(out.astype(v.dtype, copy=False)).reshape(lead + (out.shape[-1],))


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


def _render_last_axis(v, k, m_out: int, fill_factor: float):
    if not float(k).is_integer():
        return _apply_matrix_last_axis(v, pixel_matrix(v.shape[-1], k, m_out, fill_factor), False)
    k = int(k)
    xp = get_xp(v)
    offsets, weights = pixel_weights(k, fill_factor)
    n = v.shape[-1]
    out = xp.zeros(v.shape[:-1] + (m_out,), dtype=v.dtype)
    for off, w in zip(offsets, weights):
        s = _axis_slices(n, k, m_out, int(off))
        if s is not None:
            out[..., s[1]] += v[..., s[0]] * v.dtype.type(w)
    return out


def _adjoint_last_axis(u, k, n_panel: int, fill_factor: float):
    if not float(k).is_integer():
        return _apply_matrix_last_axis(u, pixel_matrix(n_panel, k, u.shape[-1], fill_factor), True)
    k = int(k)
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


def _factor_pair(factor) -> tuple:
    """(ky, kx) as positive floats (integers stay integral) from a scalar or a pair."""
    pair = tuple(float(k) for k in np.broadcast_to(np.asarray(factor, dtype=np.float64), (2,)))
    if not all(np.isfinite(k) and k > 0 for k in pair):
        raise ValueError(f"samples per pixel must be positive and finite, got {factor!r}")
    return pair


def render_pixels(values: Array, factor: float | tuple[float, float], out_shape: Shape2,
                  fill_factor: float = 1.0) -> Array:
    """Draw pixel ``values`` (..., ny, nx) onto a (..., My, Mx) grid with ``factor`` samples per pixel.

    Parameters
    ----------
    values : array (..., ny, nx), float or complex
        One value per panel pixel (e.g. a complex transmission).
    factor : number or (ky, kx)
        Simulation samples per pixel, panel pitch / simulation pitch (:func:`pitch_ratio`);
        any positive value (integers take the exact sliced path).
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
    ky, kx = _factor_pair(factor)
    xp = get_xp(values)
    out = _render_last_axis(values, kx, int(out_shape[1]), fill_factor)
    out = xp.swapaxes(out, -1, -2)
    out = _render_last_axis(out, ky, int(out_shape[0]), fill_factor)
    return xp.ascontiguousarray(xp.swapaxes(out, -1, -2))


def render_pixels_adjoint(field: Array, factor: float | tuple[float, float], panel_shape: Shape2,
                          fill_factor: float = 1.0) -> Array:
    """Adjoint of :func:`render_pixels`: (..., My, Mx) -> (..., ny, nx), the weighted sum over each pixel.

    With fill_factor 1 and values given as energy densities this integrates a
    fine-grid quantity over the panel pixels (in units of samples).
    """
    field = _check_values(field, "field")
    ky, kx = _factor_pair(factor)
    xp = get_xp(field)
    out = _adjoint_last_axis(field, kx, int(panel_shape[1]), fill_factor)
    out = xp.swapaxes(out, -1, -2)
    out = _adjoint_last_axis(out, ky, int(panel_shape[0]), fill_factor)
    return xp.ascontiguousarray(xp.swapaxes(out, -1, -2))


def panel_footprint(panel_shape: Shape2, factor: float | tuple[float, float], out_shape: Shape2,
                    xp: ArrayModule = np) -> Array:
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


def smooth(a: Array, sigma: float | tuple[float, float], mode: str = "nearest", truncate: float = 4.0) -> Array:
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
