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

__all__ = ["kernel_to_mask", "mask_to_kernel", "embed_kernel"]


def embed_kernel(kernel, shape, correlate: bool = False):
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


def kernel_to_mask(kernel, shape, correlate: bool = False):
    """Fourier-plane mask (..., *shape), centred order, whose 4f pass convolves with ``kernel``.

    The mask is dimensionless: a kernel that is 1 at its centre and 0 elsewhere
    gives the identity mask H = 1.
    """
    return centered_dft(embed_kernel(kernel, shape, correlate))


def mask_to_kernel(mask):
    """Inverse of :func:`kernel_to_mask` (no flip): the embedded kernel, centred at shape//2."""
    n = mask.shape[-1] * mask.shape[-2]
    return centered_idft(mask) / n
