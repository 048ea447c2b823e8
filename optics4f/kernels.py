"""Kernels <-> Fourier-plane masks of a 4f system.

A 4f system *convolves* (optics does not flip a kernel for you the way
``torch.nn.Conv2d`` cross-correlates). With lens convention of
:mod:`optics4f.lens`, a Fourier-plane mask H = centred DFT of a kernel k
embedded at the optical axis gives

    v = -(f1/f2) * (u (*) k)   evaluated at the inverted, magnified point,

where (*) is the discrete circular convolution on the (padded) grid
(``scipy.signal.fftconvolve`` once the grid is padded enough). Pass
``correlate=True`` to get the mask of a cross-correlation (a Conv2d weight).
"""
from __future__ import annotations

import numpy as np

from .backend import get_xp
from .lens import centered_dft, centered_idft
from .typing import Array, ArrayLike

__all__ = ["kernel_to_mask", "mask_to_kernel", "embed_kernel", "mask_at"]


def embed_kernel(kernel: ArrayLike, shape: tuple[int, int], correlate: bool = False) -> Array:
    """Place ``kernel`` (..., kh, kw) on a (..., *shape) grid with its centre pixel
    (kh//2, kw//2) at the optical axis (shape//2); flipped about it for a correlation."""
    from .validate import finite_array, shape2

    xp = get_xp(kernel)
    kernel = finite_array("kernel", xp.asarray(kernel))
    if kernel.ndim < 2:
        raise ValueError(f"kernel must have at least 2 dimensions (..., kh, kw), got shape {tuple(kernel.shape)}")
    kh, kw = kernel.shape[-2:]
    my, mx = shape2("shape", shape)
    if kh > my or kw > mx:
        raise ValueError(f"kernel of shape {(kh, kw)} does not fit the grid {tuple(shape)}; pad the 4f grid")
    dtype = kernel.dtype if kernel.dtype.kind == "c" else np.result_type(kernel.dtype, np.complex64)
    out = xp.zeros(kernel.shape[:-2] + (my, mx), dtype=dtype)
    oy, ox = my // 2 - kh // 2, mx // 2 - kw // 2
    out[..., oy:oy + kh, ox:ox + kw] = kernel
    if correlate:
        # k'(x) = k(-x) about the axis: index p -> M - p (mod M) around p = M//2 for even M.
        out = xp.flip(out, axis=(-2, -1))
        out = xp.roll(out, shift=(1 - my % 2, 1 - mx % 2), axis=(-2, -1))
    return out


def kernel_to_mask(kernel: ArrayLike, shape: tuple[int, int], correlate: bool = False) -> Array:
    """Fourier-plane mask (..., *shape), centred order, whose 4f pass convolves with ``kernel``.

    The mask is dimensionless: a kernel that is 1 at its centre and 0 elsewhere
    gives the identity mask H = 1.
    """
    return centered_dft(embed_kernel(kernel, shape, correlate))


def mask_to_kernel(mask: Array) -> Array:
    """Inverse of :func:`kernel_to_mask` (no flip): the embedded kernel, centred at shape//2."""
    n = mask.shape[-1] * mask.shape[-2]
    return centered_idft(mask) / n


def mask_at(mask: Array, sy: ArrayLike, sx: ArrayLike, rtol: float = 1e-13) -> Array:
    """Values (..., len(sy), len(sx)) of a centred Fourier mask (..., My, Mx) at fractional sample
    positions ``sy``, ``sx`` (1-D, in samples of the mask's grid, the axis at M//2).

    The mask is the centred DFT of a kernel on the grid, so its values between samples are the
    kernel's discrete-time Fourier transform (exact band-limited interpolation, the Dirichlet
    kernel): H(s) = sum_n h_n exp(-2 pi i (s - M//2)(n - M//2) / M). At integer positions this is
    the mask itself. The sum runs over the kernel's support only (samples above ``rtol`` of its
    peak), which keeps compact and tiled kernels cheap. Used where SLM pixel centres fall between
    Fourier samples (docs/sampling.md).
    """
    xp = get_xp(mask)
    mask = xp.asarray(mask)
    my, mx = mask.shape[-2:]
    k = mask_to_kernel(mask.astype(np.complex128))
    mag = xp.abs(k).reshape(-1, my, mx).max(axis=0)
    peak = float(mag.max()) if mag.size else 0.0
    out_shape = mask.shape[:-2] + (len(sy), len(sx))
    if peak == 0:
        return xp.zeros(out_shape, dtype=np.complex128)
    rows = xp.nonzero(mag.max(axis=1) > rtol * peak)[0]
    cols = xp.nonzero(mag.max(axis=0) > rtol * peak)[0]
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1

    def phasors(s, n0, n1, m):
        s = xp.asarray(np.asarray(s, dtype=np.float64) - m // 2)
        n = xp.arange(n0, n1, dtype=np.float64) - m // 2
        return xp.exp(-2j * np.pi * s[:, None] * n[None, :] / m)

    ey, ex = phasors(sy, r0, r1, my), phasors(sx, c0, c1, mx)
    return ey @ k[..., r0:r1, c0:c1] @ ex.T
