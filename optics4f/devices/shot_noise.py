"""Exact Poisson shot noise for camera frames, vectorised and spread over the CPU threads.

NumPy's ``Generator.poisson`` draws one element at a time under the GIL (30-50 ns per pixel
here, the largest cost of a noisy hardware pass). This module draws the same distribution
exactly, faster:

* means >= 10: Hoermann's transformed rejection with squeeze (PTRS, the algorithm NumPy
  itself uses for these means), run on whole arrays: every pixel proposes at once, about
  90 % are accepted by the squeeze, the rest take the exact log-density test (scipy's
  ``gammaln``) and the rejected few propose again;
* means < 10: NumPy's own sampler, on those pixels only.

The frame is cut into fixed chunks, each with its own generator seeded from the caller's,
and the chunks are shared out to the FFT thread pool (NumPy's uniform and normal fills and
ufuncs release the GIL). So a given generator state gives the same frame whatever the
thread count. Optional Gaussian read noise is added in the same pass.

Reference: W. Hoermann, "The transformed rejection method for generating Poisson random
variables", Insurance: Mathematics and Economics 12, 39-45 (1993).
"""
from __future__ import annotations

import threading

import numpy as np
from scipy.special import gammaln

from ..backend import get_xp

__all__ = ["poisson_ptrs", "sample_shot_noise", "in_worker_thread", "PTRS_MIN_MEAN"]

PTRS_MIN_MEAN = 10.0  # PTRS's proven range; below it NumPy's multiplication method is exact and cheap
_CHUNK = 1 << 13  # elements per chunk: 64 KiB float64 temporaries stay in cache and under malloc's mmap threshold


def in_worker_thread() -> bool:
    """True inside one of optics4f's pool threads: work there must not wait on the pool again."""
    return threading.current_thread().name.startswith("optics4f-fft")


def poisson_ptrs(lam, rng, out=None) -> np.ndarray:
    """Exact Poisson samples for a 1-D float64 array of means ``lam`` >= 10, into ``out`` (float64)."""
    lam = np.asarray(lam, dtype=np.float64)
    if lam.size and not lam.min() >= PTRS_MIN_MEAN:
        raise ValueError(f"poisson_ptrs needs means >= {PTRS_MIN_MEAN}; got min {lam.min()!r}")
    b = np.sqrt(lam)
    b *= 2.53
    b += 0.931
    a2 = 2.0 * (-0.059 + 0.02483 * b)  # 2a
    vr = 0.9277 - 3.6224 / (b - 2.0)  # squeeze: accept without the density test below this V
    shift = lam + 0.43
    # One proposal per element, vectorised. A rejected proposal restarts the sampler afresh, so
    # handing the rejected few (about 1.5 %) to NumPy's exact sampler leaves the law unchanged.
    out = np.empty(lam.shape) if out is None else out
    rejected = _propose(rng, shift, a2, b, vr, lam, out)
    if rejected.size:
        out[rejected] = rng.poisson(lam[rejected])
    return out


def _propose(rng, shift, a2, b, vr, lam, k):
    """One PTRS proposal per element into ``k``; returns the indices rejected (to draw again)."""
    n = lam.size
    u = rng.random(n)
    u -= 0.5
    v = rng.random(n)
    us = np.abs(u)
    np.subtract(0.5, us, out=us)
    np.divide(a2, us, out=k)
    k += b
    k *= u
    k += shift
    np.floor(k, out=k)
    rest = np.flatnonzero((us < 0.07) | (v > vr))
    if rest.size == 0:
        return rest
    r_us, r_v, r_k = us[rest], v[rest], k[rest]
    test = (r_k >= 0) & ~((r_us < 0.013) & (r_v > r_us))
    c = rest[test]
    accepted = np.zeros(rest.size, bool)
    if c.size:  # the exact test: log V + log(1/alpha) - log(a/us^2 + b) <= log(lam^k e^-lam / k!)
        lc, bc, kc, usc = lam[c], b[c], k[c], us[c]
        inv_alpha = 1.1239 + 1.1328 / (bc - 3.4)
        with np.errstate(divide="ignore"):  # V = 0 gives -inf: accepted, as it should be
            lhs = np.log(v[c]) + np.log(inv_alpha) - np.log(0.5 * a2[c] / (usc * usc) + bc)
        accepted[np.flatnonzero(test)] = lhs <= -lc + kc * np.log(lc) - gammaln(kc + 1.0)
    return rest[~accepted]


def _chunk(mean, out, seed, read_noise):
    rng = np.random.default_rng(seed)
    lam = mean.astype(np.float64)
    small = np.flatnonzero(~(lam >= PTRS_MIN_MEAN))  # few in a lit frame; NaN-safe
    if small.size == lam.size:
        out[...] = rng.poisson(np.maximum(lam, 0))
    else:
        if small.size:  # PTRS runs on every element; the dim ones are redrawn by NumPy below
            lam_small = np.maximum(lam[small], 0)
            lam[small] = PTRS_MIN_MEAN
        e = poisson_ptrs(lam, rng)
        if small.size:
            e[small] = rng.poisson(lam_small)
        out[...] = e
    if read_noise:
        noise = rng.standard_normal(out.size, dtype=out.dtype if out.dtype == np.float32 else np.float64)
        noise *= read_noise
        out += noise


def sample_shot_noise(mean, rng, read_noise: float = 0.0):
    """Electrons with exact Poisson shot noise around ``mean`` (e-), plus Gaussian read noise.

    ``mean`` : float array of expected electrons (negative values count as 0).
    ``rng`` : ``numpy.random.Generator`` (CuPy arrays: a CuPy generator, drawn by CuPy).
    ``read_noise`` : e- rms, added as N(0, read_noise^2).
    Returns a new array of the dtype of ``mean``. Reproducible: the same generator state
    gives the same result for any number of threads.
    """
    xp = get_xp(mean)
    if xp is not np:  # cuRAND's Poisson sampler is already fast
        e = rng.poisson(xp.maximum(mean, 0).astype(np.float64)).astype(mean.dtype)
        if read_noise:
            e = e + rng.standard_normal(mean.shape, dtype=mean.dtype) * mean.dtype.type(read_noise)
        return e
    from ..fft import _pool, get_fft_threads

    flat = np.ascontiguousarray(mean).reshape(-1)
    out = np.empty(flat.shape, mean.dtype)
    starts = range(0, flat.size, _CHUNK)
    seeds = rng.integers(0, 2**63, size=len(starts))
    jobs = [(flat[s:s + _CHUNK], out[s:s + _CHUNK], int(seed), float(read_noise)) for s, seed in zip(starts, seeds)]
    workers = min(get_fft_threads(), len(jobs))
    if workers <= 1 or in_worker_thread():
        for job in jobs:
            _chunk(*job)
    else:
        for _ in _pool(workers).map(lambda job: _chunk(*job), jobs):
            pass
    return out.reshape(mean.shape)
