"""Detection schemes for signed or complex outputs: phase-shifting holography and pseudo-negatives.

A camera sees |v|^2 and loses the sign and phase of the 4f output field v.
Two standard ways back:

* **Phase-shifting holography** (N-step, N >= 3): interfere v with a known
  reference R stepped through phases theta_n,
  I_n = |v + R e^{i theta_n}|^2 = |v|^2 + |R|^2 + 2 Re(v conj(R) e^{-i theta_n}),
  and solve per pixel by least squares for a + b cos theta + c sin theta:
  v conj(R) = (b + i c) / 2. For N equally spaced steps this is the
  classic v = sum_n I_n e^{i theta_n} / (N conj(R)).
* **Pseudo-negative detection** (two passes): a real kernel h = h+ - h-
  with h+, h- >= 0. For a non-negative real input both passes give
  non-negative real fields (times the 4f factor -(f1/f2), a global sign),
  so the signed result is sqrt(I+) - sqrt(I-) = (f1/f2) |u * h+| - (f1/f2) |u * h-|
  = (f1/f2) (u * h) at the (inverted) output point.

All functions are pure and work on NumPy or CuPy arrays.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_xp
from ..typing import Array, ArrayLike
from .detector import intensity

__all__ = [
    "step_phases",
    "phase_shift_intensities",
    "recover_field",
    "split_kernel",
    "pseudo_negative_combine",
]


def step_phases(n_steps: int) -> np.ndarray:
    """Equally spaced reference phases 2 pi n / N, n = 0..N-1 (rad); N >= 3."""
    if int(n_steps) != n_steps or n_steps < 3:
        raise ValueError(f"n_steps must be an integer >= 3 (three unknowns per pixel), got {n_steps!r}")
    return 2 * np.pi * np.arange(int(n_steps)) / int(n_steps)


def phase_shift_intensities(field: Array, reference: complex | Array, phases: ArrayLike) -> Array:
    """Interferograms |field + reference e^{i theta_n}|^2, stacked on a new leading axis.

    field : (..., ny, nx) complex; reference : scalar or broadcastable complex
    array (the reference beam at the camera, same units as ``field``);
    phases : (N,) rad. Returns (N, ..., ny, nx) real.
    """
    xp = get_xp(field)
    ph = np.asarray(phases, dtype=np.float64)
    rot = xp.asarray(np.exp(1j * ph).astype(field.dtype)).reshape((-1,) + (1,) * field.ndim)
    return intensity(field[None] + rot * reference)


def recover_field(intensities: Array, reference: complex | Array, phases: ArrayLike) -> Array:
    """Complex field from N >= 3 phase-shifted interferograms (least squares per pixel).

    intensities : (N, ..., ny, nx) real, measured with reference phases ``phases`` (N,) rad.
    reference : the reference beam (scalar or broadcastable complex array, nonzero).
    Works with any N >= 3 distinct phases (not only equal steps); returns complex
    (..., ny, nx). Intensities may be camera counts: the field comes out in
    sqrt(counts) units then.
    """
    xp = get_xp(intensities)
    ph = np.asarray(phases, dtype=np.float64)
    if ph.ndim != 1 or ph.size < 3 or intensities.shape[0] != ph.size:
        raise ValueError(f"need phases of shape (N,), N >= 3, matching intensities.shape[0]; got phases "
                         f"{ph.shape} and intensities {tuple(intensities.shape)}")
    design = np.stack([np.ones_like(ph), np.cos(ph), np.sin(ph)], axis=1)  # (N, 3)
    if np.linalg.matrix_rank(design) < 3:
        raise ValueError("phases must include at least three distinct values modulo 2 pi")
    pinv = np.linalg.pinv(design)  # (3, N)
    coef_b = xp.asarray(pinv[1].astype(intensities.dtype))
    coef_c = xp.asarray(pinv[2].astype(intensities.dtype))
    flat = intensities.reshape(ph.size, -1)
    b = (coef_b @ flat).reshape(intensities.shape[1:])
    c = (coef_c @ flat).reshape(intensities.shape[1:])
    ref = xp.asarray(reference)
    if bool(xp.any(ref == 0)):
        raise ValueError("reference must be nonzero wherever the field is recovered")
    return (b + 1j * c) / (2 * xp.conj(ref))


def split_kernel(kernel: Array) -> tuple[Array, Array]:
    """(h+, h-) with h = h+ - h-, both >= 0 (real kernels only)."""
    xp = get_xp(kernel)
    if kernel.dtype.kind == "c":
        raise TypeError("pseudo-negative detection splits a real kernel; this one is complex")
    return xp.maximum(kernel, 0), xp.maximum(-kernel, 0)


def pseudo_negative_combine(i_pos: Array, i_neg: Array) -> Array:
    """Signed amplitude sqrt(I+) - sqrt(I-) from the two passes' intensities (or counts).

    Valid when each pass's output field is real and of one sign (non-negative
    input and kernel part), which is the point of the split.
    """
    xp = get_xp(i_pos, i_neg)
    return xp.sqrt(xp.maximum(i_pos, 0)) - xp.sqrt(xp.maximum(i_neg, 0))
