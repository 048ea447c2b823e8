"""The numba kernels of :mod:`optics4f.devices.shot_noise` (imported only when numba is there).

Module-level functions, not closures, so that numba's disk cache finds them again in later processes
(a closure's cache key pickles the dispatchers it closes over, whose ids change from run to run).
Every loop marked "vectorised" compiles to SIMD code on AVX2 as on AVX-512: branch-free bodies, no
integer <-> float conversions of 64-bit lanes (x86 has vector ones only with AVX-512DQ) and no calls
(the log is the compiled one below, not the C library's).
"""
import math

import numpy as np
from llvmlite import ir
from numba import float64, int64, njit, types, uint64
from numba.extending import intrinsic


@intrinsic
def as_bits(typingctx, x):
    """The IEEE-754 bits of a float64 (a register move, so loops using it stay vectorisable)."""
    if x != types.float64:
        return None
    return types.uint64(x), lambda context, builder, sig, args: builder.bitcast(args[0], ir.IntType(64))


@intrinsic
def as_double(typingctx, b):
    """The float64 whose IEEE-754 bits are the 64-bit integer b."""
    if not (isinstance(b, types.Integer) and b.bitwidth == 64):
        return None
    return types.float64(b), lambda context, builder, sig, args: builder.bitcast(args[0], ir.DoubleType())


gamma = uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (odd: a counter visits all 2**64 states)
m1, m2 = uint64(0xBF58476D1CE4E5B9), uint64(0x94D049BB133111EB)
retry_key = uint64(0xD1B54A32D192ED03)  # offsets keeping the three streams of a key apart
normal_key = uint64(0x632BE59BD9B4E019)
scale = 1.0 / 9007199254740992.0  # 2**-53
# x86 before AVX-512 has no vector int64 -> float64 conversion: integers below 2**52 are converted
# exactly by OR-ing them into the mantissa of 2**52 and subtracting 2**52
magic_bits, two52 = uint64(0x4330000000000000), 4503599627370496.0
one, low32, low20 = uint64(1), uint64(0xFFFFFFFF), uint64(0x000FFFFF)
# fdlibm's log (the version in musl): log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f),
# with 1 + f in [sqrt(2)/2, sqrt(2)); error below 1 ulp
lg1, lg2, lg3, lg4 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, \
    2.222219843214978396e-01
lg5, lg6, lg7 = 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01
ln2_hi, ln2_lo = 6.93147180369123816490e-01, 1.90821492927058770002e-10
hx_shift, hx_sqrt_half = uint64(0x3FF00000 - 0x3FE6A09E), uint64(0x3FE6A09E)
two54, tiny = 18014398509481984.0, 2.2250738585072014e-308  # 2**54, the smallest normal float64
inf, nan = math.inf, math.nan
two_pi = 2.0 * math.pi
# Stirling's series of log Gamma(x): B_2n / (2n (2n - 1) x^(2n - 1)), n = 1..6
half_log_2pi = 0.5 * math.log(2.0 * math.pi)
c1, c2, c3, c4, c5, c6 = 1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360


@njit(inline="always")
def small_uint_to_double(i):
    """float64(i) for 0 <= i < 2**52, exactly."""
    return as_double(i | magic_bits) - two52


@njit(inline="always")
def log(x):
    """Natural log of a float64 (error < 1 ulp; log(0) = -inf, log(inf) = inf, NaN below 0), in
    branch-free arithmetic that compilers vectorise (NumPy's log is SIMD only with AVX-512)."""
    sub = x < tiny  # subnormal (or <= 0): scaled up by 2**54, or replaced below
    y = x * two54 if sub else x
    ix = as_bits(y)
    hx = (ix >> uint64(32)) + hx_shift  # moves the mantissa range [sqrt(2)/2, sqrt(2)) to one exponent
    biased = small_uint_to_double(hx >> uint64(20))
    m = as_double((((hx & low20) + hx_sqrt_half) << uint64(32)) | (ix & low32))
    dk = biased - (1023.0 + 54.0 if sub else 1023.0)
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (lg1 + w * (lg3 + w * (lg5 + w * lg7))) + w * (lg2 + w * (lg4 + w * lg6))
    res = s * (hfsq + r) + dk * ln2_lo - hfsq + f + dk * ln2_hi
    if (x > 0.0) & (x < inf):
        return res
    return -inf if x == 0.0 else (x if x > 0.0 else nan)


@njit(inline="always")
def bits(c):
    """SplitMix64's output for counter state c."""
    z = (c ^ (c >> uint64(30))) * m1
    z = (z ^ (z >> uint64(27))) * m2
    return z ^ (z >> uint64(31))


@njit(inline="always")
def uniform(c):
    """Double in [0, 1) from the top 53 bits of SplitMix64's output for c (exactly float64(top) / 2**53)."""
    top = bits(c) >> uint64(11)
    return (2.0 * small_uint_to_double(top >> one) + (1.0 if top & one else 0.0)) * scale


@njit(inline="always")
def ptrs_constants(lam):
    b = 0.931 + 2.53 * math.sqrt(lam)
    a = -0.059 + 0.02483 * b
    return a, b, 0.9277 - 3.6224 / (b - 2.0), 1.1239 + 1.1328 / (b - 3.4)


@njit(inline="always")
def ptrs_k(lam, a, b, u):
    return np.floor((2.0 * a / (0.5 - abs(u)) + b) * u + lam + 0.43)


@njit(inline="always")
def log_factorial(k):
    """log(k!) of a whole k >= 0: Stirling's series from log(k + 1) above 7 (error < 2e-15), the
    log of k! itself (a product of at most 7 factors, exact) below."""
    fact = 1.0
    for j in range(2, 8):
        fact *= j if j <= k else 1.0
    small = k < 8.0
    x = k + 1.0
    log_arg = log(fact if small else x)
    inv = 1.0 / x
    r = inv * inv
    series = (c1 + r * (c2 + r * (c3 + r * (c4 + r * (c5 + r * c6))))) * inv
    return log_arg if small else (x - 0.5) * log_arg - x + half_log_2pi + series


@njit(inline="always")
def is_big(x):
    """PTRS's range (mean >= 10, finite and not huge); NaN and inf fail."""
    return (x >= 10.0) & (x <= 1e300)


@njit(inline="always")
def squeeze(x, u, v):
    """The cheap part of a PTRS attempt with uniforms (u + 1/2, v) at mean x: (k where the squeeze
    accepts it (about 3 times in 4, no log needed), -3 - k where the exact test must decide, -2 where
    another attempt, or below mean 10 inversion, is due)."""
    big = is_big(x)
    xb = x if big else 10.0
    us = 0.5 - abs(u)
    a, b, vr, _ = ptrs_constants(xb)
    k = ptrs_k(xb, a, b, u)
    accept = big & (us >= 0.07) & (v <= vr)
    testable = big & (k >= 0.0) & ((us >= 0.013) | (v <= us))
    return k if accept else (-3.0 - k if testable else -2.0)


@njit(inline="always")
def exact_test(x, k, u, v):
    """The rest of the attempt (x >= 10, k >= 0), PTRS's acceptance test log(v inv_alpha / (a / us^2
    + b)) <= log(x^k e^-x / k!) (a ratio of 0, odds 2**-53, has log -inf: accepted): k, else -2."""
    us = 0.5 - abs(u)
    a, b, _, inv_alpha = ptrs_constants(x)
    return k if log(v * inv_alpha / (a / (us * us) + b)) <= -x + k * log(x) - log_factorial(k) else -2.0


@njit(inline="always")
def retry_base(key, g):
    """Counter base of element g's own stream (for attempts after the first, and inversion)."""
    return bits((key ^ retry_key) + uint64(g) * gamma)


@njit(inline="always")
def remainder(x, c):
    """The third and later PTRS attempts at a mean x >= 10 from the stream c of its element."""
    # stream positions: 0: inversion; 1, 2: the second attempt; 3, 4: the third ...
    a, b, vr, inv_alpha = ptrs_constants(x)
    log_lam = math.log(x)
    while True:
        c += uint64(2) * gamma
        u = uniform(c + gamma) - 0.5
        v = uniform(c + uint64(2) * gamma)
        us = 0.5 - abs(u)
        k = ptrs_k(x, a, b, u)
        if us >= 0.07 and v <= vr:
            return k
        if k < 0 or (us < 0.013 and v > us):
            continue
        if math.log(v * inv_alpha / (a / (us * us) + b)) <= -x + k * log_lam - log_factorial(k):
            return k


@njit(nogil=True, error_model="numpy")
def exact_tests(x, kf, u, v, n, idx, x2, k2, u2, v2):
    """Resolve in place the entries kf[:n] = -3 - k that PTRS's exact test must decide (to k or -2),
    gathered into contiguous arrays so that the test's loop vectorises."""
    m = 0
    for j in range(n):
        idx[m] = j
        m += kf[j] <= -3.0
    for j in range(m):
        i = idx[j]
        x2[j], k2[j], u2[j], v2[j] = x[i], -3.0 - kf[i], u[i], v[i]
    for j in range(m):
        k2[j] = exact_test(x2[j], k2[j], u2[j], v2[j])
    for j in range(m):
        kf[idx[j]] = k2[j]


@njit(nogil=True, error_model="numpy")
def inversion(x, u, p, cdf, k, pos, n, res):
    """CDF inversion for means 0 < x < 10: res[pos[j]] = the smallest k with CDF(k) > u[j], from
    p = exp(-x) (in p[:n]); step-major over all elements so that each step is one vectorised loop
    (the same operations as element by element), the finished ones dropped between steps."""
    for j in range(n):
        cdf[j], k[j] = p[j], 0.0
    step = 1
    while n > 0:
        active = 0
        d = float64(step)
        for j in range(n):
            go = (u[j] >= cdf[j]) & (p[j] > 0.0)
            q = p[j] * (x[j] / d)
            p[j] = q if go else p[j]
            cdf[j] = cdf[j] + q if go else cdf[j]
            k[j] += 1.0 if go else 0.0
            active += go
        if 4 * active <= 3 * n:  # drop the finished ones (in place, keeping the order)
            w = 0
            for j in range(n):
                go = (u[j] >= cdf[j]) & (p[j] > 0.0)
                res[pos[j]] = k[j]
                x[w], u[w], p[w], cdf[w], k[w], pos[w] = x[j], u[j], p[j], cdf[j], k[j], pos[j]
                w += go
            n = w
        step += 1


@njit(nogil=True, error_model="numpy")
def poisson(lam, key, i0, out, chunk):
    """Poisson samples of the means lam into out (element i at stream position i0 + i), chunk by
    chunk, in passes over contiguous arrays: (1) every element's first-attempt uniforms, vectorised;
    (2) PTRS's squeeze, vectorised; (3) the exact test of the ~1 in 4 the squeeze left, gathered,
    vectorised; (4) a second attempt, from their own streams, of the ~1 in 20 left at means >= 10,
    gathered, vectorised as (2)-(3), and scalar code for the few after that; (5) CDF inversion below
    mean 10, gathered, vectorised step by step. Returns the index of a non-finite mean, else -1.
    The gathers are branch-free (an unconditional store and a count) and keep the loops they feed
    free of indexed loads, which would stop vectorisation."""
    size = min(chunk, lam.size)
    kf, us, vs, xs = np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    idx, idxb, idxs = np.empty(size, int64), np.empty(size, int64), np.empty(size, int64)
    x2, k2, u2, v2 = np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    xb, kb, ub, vb, cdf = np.empty(size), np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    for c0 in range(0, lam.size, chunk):
        n = min(c0 + chunk, lam.size) - c0
        block = lam[c0:c0 + n]
        base = key + uint64(2 * (i0 + c0) + 1) * gamma  # the counter of element i is base + 2 i gamma
        for i in range(n):  # a separate pass from the squeeze: together they overflow AVX2's registers
            c = base + uint64(i) * (gamma + gamma)
            us[i], vs[i] = uniform(c) - 0.5, uniform(c + gamma)
        for i in range(n):
            xs[i] = block[i]
            kf[i] = squeeze(xs[i], us[i], vs[i])
        m = mr = 0
        for i in range(n):  # those the exact test decides, gathered; those left for later (-2)
            k = kf[i]
            out[c0 + i] = k
            idx[m], x2[m], u2[m], v2[m], k2[m] = i, xs[i], us[i], vs[i], -3.0 - k
            m += k <= -3.0
            idxs[mr] = i
            mr += k == -2.0
        for j in range(m):
            k2[j] = exact_test(x2[j], k2[j], u2[j], v2[j])
        for j in range(m):  # the samples accepted by the test; the rest join the -2 list
            out[c0 + idx[j]] = k2[j]
            idxs[mr] = idx[j]
            mr += k2[j] == -2.0
        mb = ms = 0
        for j in range(mr):  # a second attempt (mean >= 10) or inversion (the rest)
            i = idxs[j]
            big = is_big(xs[i])
            idxb[mb] = i
            mb += big
            idxs[ms] = i
            ms += not big
        for j in range(mb):
            xb[j] = xs[idxb[j]]
        for j in range(mb):
            c = retry_base(key, i0 + c0 + idxb[j])
            ub[j], vb[j] = uniform(c + gamma) - 0.5, uniform(c + uint64(2) * gamma)
            kb[j] = squeeze(xb[j], ub[j], vb[j])
        exact_tests(xb, kb, ub, vb, mb, idx, x2, k2, u2, v2)
        for j in range(mb):
            if kb[j] == -2.0:
                kb[j] = remainder(xb[j], retry_base(key, i0 + c0 + idxb[j]))
            out[c0 + idxb[j]] = kb[j]
        if ms == 0:
            continue
        for j in range(ms):
            x = xs[idxs[j]]
            if not math.isfinite(x):
                return c0 + idxs[j]
            xb[j] = x
        for j in range(ms):  # uniforms at stream position 0
            ub[j] = uniform(retry_base(key, i0 + c0 + idxs[j]))
        for j in range(ms):  # the C library's exp (the loop stays scalar)
            vb[j] = math.exp(-xb[j]) if (xb[j] > 0.0) & (xb[j] < 10.0) else 0.0
        for j in range(ms):  # means <= 0 give 0; huge finite ones (over 1e300) further PTRS attempts
            x = xb[j]
            out[c0 + idxs[j]] = remainder(x, retry_base(key, i0 + c0 + idxs[j])) if x >= 10.0 else 0.0
        m = 0
        for j in range(ms):
            idx[m], xb[m], ub[m], vb[m] = idxs[j] + c0, xb[j], ub[j], vb[j]
            m += (xb[j] > 0.0) & (xb[j] < 10.0)
        inversion(xb, ub, vb, cdf, kb, idx, m, out)
    return -1


@njit(nogil=True, error_model="numpy")
def box_muller(key, p0, r, angle):
    """Pair p's radius sqrt(-2 log(1 - U)) (U in [0, 1)) and angle 2 pi U' in [0, 2 pi)."""
    base = key ^ normal_key
    for j in range(r.size):
        c = base + uint64(2 * (p0 + j) + 1) * gamma
        r[j] = math.sqrt(-2.0 * log(1.0 - uniform(c)))
        angle[j] = two_pi * uniform(c + gamma)


@njit(nogil=True, error_model="numpy")
def log_array(x, out):
    """out = log(x) elementwise with the compiled log (for its tests)."""
    for i in range(x.size):
        out[i] = log(x[i])

