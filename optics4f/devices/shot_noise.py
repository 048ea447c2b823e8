"""Exact Poisson shot noise and Gaussian read noise for camera frames, fast.

NumPy's ``Generator.poisson`` runs Hoermann's PTRS algorithm
("The transformed rejection method for generating Poisson random variables", 1993)
element by element, with up to four logs per sample. Shot noise is then the largest cost
of a simulated camera frame (docs/results.md). Here the same exact algorithm runs as whole-array passes over
chunks, compiled with numba (:mod:`._noise_kernels`), in SIMD code on AVX2 as on AVX-512:

1. (vectorised) every pixel draws two uniforms from a counter-based generator: SplitMix64 of
   ``key + counter * gamma`` (the generator that seeds NumPy's and Java's; it passes BigCrush);
2. (vectorised) with them, pixels of mean >= 10 make PTRS's first attempt up to its "squeeze",
   which needs no log and accepts about 3 samples in 4;
3. (gathered, vectorised) PTRS's exact acceptance test for the ~1 in 4 left, with a compiled
   float64 log (fdlibm's, within 1 ulp): NumPy's SIMD log exists only for AVX-512, and the
   C library's log stops a loop from vectorising;
4. (gathered, vectorised as 2-3) a second attempt for the ~1 in 20 still left at means >= 10,
   each pixel drawing from its own stream; (scalar) further attempts for the few after that;
5. (gathered, vectorised step by step) means below 10: inversion of the Poisson CDF, all
   pixels taking step k together and the finished ones dropped between steps.

Every uniform is independent, so the samples follow the Poisson law exactly, as PTRS does
(tests: chi-square against scipy.stats.poisson from mean 0.01 to 10^5). A pixel's sample
depends only on the key, its index and its mean: not on chunking, threads or the CPU's SIMD
width.

Read noise (:func:`normal_deviates`) is Box-Muller on uniforms of the same generator (another
stream of the key): the radius sqrt(-2 log U) compiled in float64 (tails out to 8.5 sigma), the
angle's cos and sin by NumPy in the output dtype; normal deviates to the rounding of the output
dtype, cheaper than NumPy's float32 ziggurat (docs/results.md#measurements).

numba is optional: without it both functions fall back to a NumPy ``Generator`` seeded by the key
and offset, with a one-time warning (the same laws, another random stream, slower; blocks
drawn with offsets are then not the draw of the whole batch, only independent of each other).
"""
from __future__ import annotations

import threading
import warnings

import numpy as np

from ..typing import DTypeLike

__all__ = ["poisson_counts", "normal_deviates", "compiled_available"]

_CHUNK = 16384  # elements per pass: the scratch rows (128 KiB each) stay in a core's L2 cache
_kernels = None  # the compiled functions, built on first use (numba JIT, cached on disk)
_warned = False
_build_lock = threading.Lock()  # pool threads may ask for the kernels at once: compile them once


def compiled_available() -> bool:
    """True when numba is importable (the compiled samplers are used)."""
    return _compiled() is not None


def poisson_counts(mean: np.ndarray, key: int, out: np.ndarray | None = None, offset: int = 0) -> np.ndarray:
    """Exact Poisson samples (photoelectrons) with the given means.

    mean : NumPy float32 or float64 array, any shape (electrons; negative means give 0).
    key : int: the random stream (taken mod 2**64). Equal keys and means give equal samples.
    out : optional C-contiguous array of the shape and dtype of ``mean`` for the result.
    offset : stream position of the first element: element j draws from counters of index
        ``offset + j``, so a batch split into blocks, each with its own offset, gives the same
        samples as one call on the whole batch (threads split work this way).
    Returns the samples as floats of the dtype of ``mean`` (float32 holds integers exactly up to
    2**24, far above any full well). Raises ValueError naming the first non-finite mean.
    """
    mean, out = _check(mean, out)
    k = _compiled()
    if k is None:
        _check_finite(mean)
        rng = np.random.default_rng([int(key) % 2**64, int(offset)])
        out[...] = rng.poisson(np.maximum(mean, 0).astype(np.float64))
        return out
    flat, res = np.ascontiguousarray(mean).reshape(-1), out.reshape(-1)
    bad = k.poisson(flat, np.uint64(int(key) % 2**64), int(offset), res, _CHUNK)
    if bad >= 0:
        raise ValueError(f"mean must be finite: element {_index(bad, mean.shape)} is {flat[bad]}; check the "
                         f"exposure and the field for NaN or inf")
    return out


def normal_deviates(shape: tuple[int, ...], key: int, dtype: DTypeLike = np.float32, offset: int = 0) -> np.ndarray:
    """Standard normal deviates of ``shape``, float32 or float64, on the stream ``key`` (independent
    of the Poisson stream of the same key); ``offset`` as for :func:`poisson_counts`.

    Box-Muller: stream position 2j is pair j's radius times its cosine, 2j + 1 times its sine. The
    angle's trig is in ``dtype`` (float32 trig is SIMD in NumPy; float64 trig is not, and costs far more:
    docs/results.md#measurements), the radius is float64 (tails out to 8.5 sigma)."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    n = int(np.prod(shape))
    k = _compiled()
    if k is None:
        return np.random.default_rng([int(key) % 2**64, int(offset), 1]).standard_normal(shape, dtype=dtype)
    out = np.empty(n, dtype)
    key = np.uint64(int(key) % 2**64)
    first, last = offset // 2, (offset + n + 1) // 2  # the pairs covering positions offset .. offset + n - 1
    size = min(last - first, _CHUNK)
    r, angle, trig = (np.empty(size, dtype) for _ in range(3))
    pairs = np.empty((size, 2), dtype)
    for p0 in range(first, last, _CHUNK):
        m = min(_CHUNK, last - p0)
        k.box_muller(key, p0, r[:m], angle[:m])
        np.multiply(r[:m], np.cos(angle[:m], out=trig[:m]), out=pairs[:m, 0])
        np.multiply(r[:m], np.sin(angle[:m], out=trig[:m]), out=pairs[:m, 1])
        a = max(2 * p0, offset)  # stream positions this chunk holds, clipped to the wanted ones
        b = min(2 * (p0 + m), offset + n)
        out[a - offset:b - offset] = pairs.reshape(-1)[a - 2 * p0:b - 2 * p0]
    return out.reshape(shape)


def _check(mean, out):
    mean = np.asarray(mean)
    if mean.dtype not in (np.float32, np.float64):
        raise TypeError(f"mean must be float32 or float64, got {mean.dtype}; cast it first")
    if out is None:
        out = np.empty(mean.shape, mean.dtype)
    elif out.shape != mean.shape or out.dtype != mean.dtype or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous {mean.dtype} array of shape {mean.shape}, got "
                         f"{out.dtype} {out.shape}")
    return mean, out


def _index(flat_index, shape) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat_index, shape))


def _check_finite(mean):
    if not np.isfinite(mean).all():
        bad = int(np.flatnonzero(~np.isfinite(mean))[0])
        raise ValueError(f"mean must be finite: element {_index(bad, mean.shape)} is "
                         f"{mean.reshape(-1)[bad]}; check the exposure and the field for NaN or inf")


def _compiled():
    global _kernels, _warned
    if _kernels is None:
        with _build_lock:
            if _kernels is None:
                try:
                    try:
                        _kernels = _build()
                    except RuntimeError:  # numba found no writable cache folder (read-only install and home)
                        _kernels = _build(cache=False)
                except ImportError:
                    if not _warned:
                        warnings.warn("numba is not installed: camera shot and read noise use NumPy's samplers "
                                      "(2-4x slower, another random stream); `pip install numba` for the compiled "
                                      "ones", RuntimeWarning, stacklevel=3)
                        _warned = True
                    return None
    return _kernels


def _build(cache: bool = True):
    """The compiled kernels; ``cache``: keep them on disk (numba's cache, next to this file or in the
    user's cache folder) so that later processes skip the compilation (docs/results.md#measurements)."""
    from . import _noise_kernels as k

    if cache:
        for f in (k.poisson, k.box_muller, k.log_array):
            f.enable_caching()
    return k
