"""Exact Poisson shot noise and Gaussian read noise for camera frames, fast.

NumPy's ``Generator.poisson`` spends 30-45 ns per pixel: Hoermann's PTRS algorithm
("The transformed rejection method for generating Poisson random variables", 1993) run
element by element, with up to four logs per sample. Shot noise is then the largest cost
of a simulated camera frame. Here the same exact algorithm runs as whole-array passes
(about 12 ns per pixel on the 2-core development machine):

1. (numba, vectorised) every pixel with mean >= 10 makes PTRS's first attempt with two
   uniforms from a counter-based generator: SplitMix64 of ``key + counter * gamma`` (the
   generator that seeds NumPy's and Java's; it passes BigCrush). The attempt's "squeeze"
   needs no log and accepts about 3 samples in 4;
2. (NumPy's SIMD ``log``, then numba, vectorised) PTRS's exact acceptance test for the rest;
3. the same two steps once more for the ~15 % still left, gathered, each pixel drawing from
   its own stream;
4. (numba, scalar) the ~2 % left after that (further attempts) and means below 10 (inversion
   of the Poisson CDF).

Every uniform is independent, so the samples follow the Poisson law exactly, as PTRS does
(tests: chi-square against scipy.stats.poisson from mean 0.01 to 10^5). A pixel's sample
depends only on the key, its index and its mean: not on chunking or threads.

Read noise (:func:`normal_deviates`) is Box-Muller on uniforms of the same generator (another
stream of the key) with NumPy's SIMD log, sqrt, cos and sin: normal deviates to the rounding of
the output dtype (radius in float64: tails out to 8.5 sigma) at about half the cost of NumPy's
float32 ziggurat.

numba is optional: without it both functions fall back to a NumPy ``Generator`` seeded by the key
and offset, with a one-time warning (the same laws, another random stream, 2-4x slower; blocks
drawn with offsets are then not the draw of the whole batch, only independent of each other).
"""
from __future__ import annotations

import math
import threading
import warnings

import numpy as np

__all__ = ["poisson_counts", "normal_deviates", "compiled_available"]

_CHUNK = 16384  # elements per pass: the scratch rows (128 KiB each) stay in a core's L2 cache, and a
# chunk's Python work (a few calls, ~20 us, holding the GIL) stays small beside its ~200 us of compute
_kernels = None  # the compiled functions, built on first use (numba import + JIT ~2 s; cached on disk)
_warned = False
_build_lock = threading.Lock()  # pool threads may ask for the kernels at once: compile them once


def compiled_available() -> bool:
    """True when numba is importable (the compiled samplers are used)."""
    return _compiled() is not None


def poisson_counts(mean, key: int, out=None, offset: int = 0):
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
    key, n = np.uint64(int(key) % 2**64), flat.size
    scratch = np.empty((4, min(n, _CHUNK)))  # rows: test ratio, mean, k + 1 (all logged in place), k
    scratch2 = np.empty_like(scratch)
    for c0 in range(0, n, _CHUNK):
        lam, o = flat[c0:c0 + _CHUNK], res[c0:c0 + _CHUNK]
        s = scratch[:, :lam.size]
        k.first_attempt(lam, key, offset + c0, o, s)
        with np.errstate(divide="ignore"):  # a ratio of 0 (v = 0, odds 2**-53) has log -inf: accepted
            np.log(s[:3], out=s[:3])
        k.exact_test(lam, o, s)
        # the ~15 % the first attempt left: one more vectorised round on them alone
        idx = np.flatnonzero(o == -2.0)
        if idx.size:
            lam2, o2, s2 = lam[idx], np.empty(idx.size, o.dtype), scratch2[:, :idx.size]
            k.second_attempt(lam2, key, offset + c0, idx, o2, s2)
            with np.errstate(divide="ignore"):
                np.log(s2[:3], out=s2[:3])
            k.exact_test(lam2, o2, s2)
            o[idx] = o2
        bad = k.remainder(lam, key, offset + c0, o)
        if bad >= 0:
            raise ValueError(f"mean must be finite: element {_index(c0 + bad, mean.shape)} is "
                             f"{flat[c0 + bad]}; check the exposure and the field for NaN or inf")
    return out


def normal_deviates(shape, key: int, dtype=np.float32, offset: int = 0):
    """Standard normal deviates of ``shape``, float32 or float64, on the stream ``key`` (independent
    of the Poisson stream of the same key); ``offset`` as for :func:`poisson_counts`.

    Box-Muller: stream position 2j is pair j's radius times its cosine, 2j + 1 times its sine. The
    angle's trig is in ``dtype`` (float32 trig is SIMD in NumPy, about 0.6 ns; float64 trig is not,
    about 9 ns), the radius is float64 (tails out to 8.5 sigma)."""
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
    r64 = np.empty(size)
    r, angle, trig = (np.empty(size, dtype) for _ in range(3))
    pairs = np.empty((size, 2), dtype)
    for p0 in range(first, last, _CHUNK):
        m = min(_CHUNK, last - p0)
        k.box_muller_uniforms(key, p0, r64[:m], angle[:m])  # r64 in (0, 1], angle in [0, 2 pi)
        np.log(r64[:m], out=r64[:m])
        r64[:m] *= -2.0
        np.sqrt(r64[:m], out=r[:m])
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
    user's cache folder) so that later processes skip the ~2 s compilation."""
    from types import SimpleNamespace

    from numba import float64, int64, njit, uint64

    gamma = uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (odd: a counter visits all 2**64 states)
    m1, m2 = uint64(0xBF58476D1CE4E5B9), uint64(0x94D049BB133111EB)
    retry_key = uint64(0xD1B54A32D192ED03)  # offsets keeping the three streams of a key apart
    normal_key = uint64(0x632BE59BD9B4E019)
    scale = 1.0 / 9007199254740992.0  # 2**-53
    two_pi = 2.0 * math.pi
    # log(k!) for k = 0..7, and Stirling's series of log Gamma(x): B_2n / (2n (2n - 1) x^(2n - 1)), n = 1..6
    log_fact = np.array([math.lgamma(k + 1.0) for k in range(8)])
    half_log_2pi = 0.5 * math.log(2.0 * math.pi)
    c1, c2, c3, c4, c5, c6 = 1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360

    @njit(inline="always")
    def bits(c):
        """SplitMix64's output for counter state c."""
        z = (c ^ (c >> uint64(30))) * m1
        z = (z ^ (z >> uint64(27))) * m2
        return z ^ (z >> uint64(31))

    @njit(inline="always")
    def uniform(c):
        """Double in [0, 1) from the top 53 bits of SplitMix64's output for c."""
        return float64(bits(c) >> uint64(11)) * scale

    @njit(inline="always")
    def ptrs_constants(lam):
        b = 0.931 + 2.53 * math.sqrt(lam)
        a = -0.059 + 0.02483 * b
        return a, b, 0.9277 - 3.6224 / (b - 2.0), 1.1239 + 1.1328 / (b - 3.4)

    @njit(inline="always")
    def ptrs_k(lam, a, b, u):
        return math.floor((2.0 * a / (0.5 - abs(u)) + b) * u + lam + 0.43)

    @njit(inline="always")
    def log_factorial(k, log_k1):
        """log(k!) from k and log(k + 1): the table below 8, Stirling's series above (error < 2e-15)."""
        x = k + 1.0
        r = 1.0 / (x * x)
        series = (c1 + r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * c6))))) / x
        big = (x - 0.5) * log_k1 - x + half_log_2pi + series
        return big if k >= 8.0 else log_fact[min(max(int64(k), 0), 7)]

    @njit(inline="always")
    def attempt(x, u, v):
        """A PTRS attempt with uniforms (u + 1/2, v) at mean x: (k where its squeeze accepts, -1 where
        the exact test must decide, -2 where another attempt, or below mean 10 inversion, is due;
        then the exact test's ratio, the mean, k + 1 and k: the first three to be logged)."""
        us = 0.5 - abs(u)
        a, b, vr, inv_alpha = ptrs_constants(max(x, 10.0))
        k = ptrs_k(x, a, b, u)
        big = (x >= 10.0) & (x <= 1e300)  # NaN and inf fail both
        squeeze = big & (us >= 0.07) & (v <= vr)
        testable = big & (k >= 0.0) & ((us >= 0.013) | (v <= us))
        return (k if squeeze else (-1.0 if testable else -2.0),
                v * inv_alpha / (a / (us * us) + b) if testable else 1.0,
                max(x, 1.0) if big else 1.0, max(k, 0.0) + 1.0, k)

    @njit(inline="always")
    def retry_base(key, g):
        """Counter base of element g's own stream (for attempts after the first, and inversion)."""
        return bits((key ^ retry_key) + uint64(g) * gamma)

    @njit(nogil=True, cache=cache, error_model="numpy")
    def first_attempt(lam, key, i0, out, s):
        """Every element's first attempt (element i at stream position i0 + i)."""
        for i in range(lam.size):
            c = key + uint64(2 * (i0 + i) + 1) * gamma
            out[i], s[0, i], s[1, i], s[2, i], s[3, i] = attempt(float64(lam[i]), uniform(c) - 0.5, uniform(c + gamma))

    @njit(nogil=True, cache=cache, error_model="numpy")
    def second_attempt(lam, key, i0, idx, out, s):
        """The second attempt of the elements idx (lam = their means), from their own streams."""
        for j in range(lam.size):
            c = retry_base(key, i0 + idx[j])
            out[j], s[0, j], s[1, j], s[2, j], s[3, j] = attempt(float64(lam[j]), uniform(c + gamma) - 0.5,
                                                                 uniform(c + uint64(2) * gamma))

    @njit(nogil=True, cache=cache, error_model="numpy")
    def exact_test(lam, out, s):
        """PTRS's acceptance log(v inv_alpha / (a / us^2 + b)) <= log P(k) on the logs of s; -2 on failure."""
        for i in range(lam.size):
            k = s[3, i]
            log_pk = -float64(lam[i]) + k * s[1, i] - log_factorial(k, s[2, i])
            o = out[i]
            out[i] = o if o != -1.0 else (k if s[0, i] <= log_pk else -2.0)

    @njit(nogil=True, cache=cache, error_model="numpy")
    def remainder(lam, key, i0, out):
        """Elements still marked -2: their third and later attempts (mean >= 10), or CDF inversion,
        from their own streams; returns the index of a non-finite mean, else -1."""
        for i in range(lam.size):
            if out[i] != -2.0:
                continue
            x = float64(lam[i])
            if not math.isfinite(x):
                return i
            c = retry_base(key, i0 + i)  # position 0: inversion; 1, 2: the second attempt; 3, 4: the third ...
            if x >= 10.0:
                a, b, vr, inv_alpha = ptrs_constants(x)
                log_lam = math.log(x)
                while True:
                    c += uint64(2) * gamma
                    u = uniform(c + gamma) - 0.5
                    v = uniform(c + uint64(2) * gamma)
                    us = 0.5 - abs(u)
                    k = ptrs_k(x, a, b, u)
                    if us >= 0.07 and v <= vr:
                        break
                    if k < 0 or (us < 0.013 and v > us):
                        continue
                    if (math.log(v * inv_alpha / (a / (us * us) + b))
                            <= -x + k * log_lam - log_factorial(k, math.log(k + 1.0))):
                        break
                out[i] = k
            elif x > 0.0:
                # inversion: the smallest k with CDF(k) > u (a few dozen steps at most below mean 10)
                u = uniform(c)
                p = math.exp(-x)
                cdf, k = p, 0
                while u >= cdf and p > 0.0:
                    k += 1
                    p *= x / k
                    cdf += p
                out[i] = k
            else:
                out[i] = 0.0
        return -1

    @njit(nogil=True, cache=cache)
    def box_muller_uniforms(key, p0, r, angle):
        """Pair p's uniform radius variable r in (0, 1] (its log is taken) and angle in [0, 2 pi)."""
        base = key ^ normal_key
        for j in range(r.size):
            c = base + uint64(2 * (p0 + j) + 1) * gamma
            r[j] = 1.0 - uniform(c)
            angle[j] = two_pi * uniform(c + gamma)

    return SimpleNamespace(first_attempt=first_attempt, second_attempt=second_attempt, exact_test=exact_test,
                           remainder=remainder,
                           box_muller_uniforms=box_muller_uniforms)
