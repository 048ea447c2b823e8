"""optics4f.devices.shot_noise: exact Poisson and normal deviates from counter-based streams.

The laws are checked against scipy.stats (chi-square and KS tests at fixed keys, so each test is
deterministic; a wrong PTRS constant, a skipped acceptance test or a biased inversion gives
p-values near 0 at these sample sizes), and the stream bookkeeping against itself (blocks with
offsets equal one call, keys and streams independent).
"""
import math
import threading
import warnings

import numpy as np
import pytest
from scipy import stats

from optics4f.devices import shot_noise as sn
from optics4f.devices.shot_noise import normal_deviates, poisson_counts


def _chi2_pvalue(samples, lam):
    """Chi-square goodness of fit of integer samples to Poisson(lam); the tails are lumped into
    the end bins and sparse bins merged forward so that each bin expects at least 5."""
    lo, hi = stats.poisson.ppf([1e-5, 1 - 1e-5], lam).astype(int)
    observed = np.bincount(samples.clip(lo, hi).astype(np.int64) - lo, minlength=hi - lo + 1)
    p = stats.poisson.pmf(np.arange(lo, hi + 1), lam)
    p[0], p[-1] = stats.poisson.cdf(lo, lam), stats.poisson.sf(hi - 1, lam)
    obs, exp, o_acc, e_acc = [], [], 0.0, 0.0
    for o, e in zip(observed, samples.size * p):
        o_acc, e_acc = o_acc + o, e_acc + e
        if e_acc >= 5:
            obs.append(o_acc)
            exp.append(e_acc)
            o_acc = e_acc = 0.0
    obs[-1] += o_acc
    exp[-1] += e_acc
    obs, exp = np.array(obs), np.array(exp)
    return stats.chi2.sf(((obs - exp) ** 2 / exp).sum(), obs.size - 1)


# 0.01-9.999: CDF inversion; 10-20: PTRS with the log(k!) table and Stirling's series; larger: PTRS
@pytest.mark.parametrize("lam", [0.01, 0.7, 3.2, 9.999, 10.0, 13.7, 37.5, 1234.5, 1.0e5])
def test_poisson_law_chi_square(lam):
    x = poisson_counts(np.full(200_000, lam), key=int(lam * 1000) + 1)
    assert np.all(x == np.round(x)) and x.min() >= 0
    assert _chi2_pvalue(x, lam) > 1e-3
    se_mean, se_var = np.sqrt(lam / x.size), lam * np.sqrt(2.0 / x.size) * np.sqrt(1 + 1 / (2 * lam))
    assert abs(x.mean() - lam) < 5 * se_mean
    assert abs(x.var() - lam) < 5 * se_var


def test_poisson_mixed_means_probability_integral_transform():
    """Every element has its own mean (as in a camera frame): the randomised PIT
    F(k - 1) + w P(k), w ~ U(0, 1), is uniform exactly when each k follows Poisson(lam_k)."""
    r = np.random.default_rng(0)
    lam = np.exp(r.uniform(np.log(0.05), np.log(5e4), 300_000)).astype(np.float32)
    k = poisson_counts(lam, key=99).astype(np.float64)
    lam = lam.astype(np.float64)
    pit = stats.poisson.cdf(k - 1, lam) + r.uniform(size=k.size) * stats.poisson.pmf(k, lam)
    assert stats.kstest(pit, "uniform").pvalue > 1e-3
    # and the PIT is not correlated with the mean (a bias at some means only would show here)
    assert abs(stats.spearmanr(pit, lam).statistic) < 4 / np.sqrt(k.size)


def test_poisson_mean_zero_negative_and_dtype():
    m = np.array([[0.0, -3.0, 1e-300], [50.0, 2.5, 1e4]], np.float32)
    x = poisson_counts(m, 5)
    assert x.dtype == np.float32 and x.shape == m.shape
    assert x[0, 0] == 0 and x[0, 1] == 0 and x[0, 2] == 0
    assert poisson_counts(m.astype(np.float64), 5).dtype == np.float64
    out = np.empty_like(m)
    assert poisson_counts(m, 5, out=out) is out
    np.testing.assert_array_equal(out, x)


def test_poisson_non_contiguous_input_equals_contiguous():
    m = np.random.default_rng(1).uniform(0, 500, (40, 60))
    np.testing.assert_array_equal(poisson_counts(m[:, ::2], 3), poisson_counts(np.ascontiguousarray(m[:, ::2]), 3))


def test_streams_reproducible_and_distinct():
    m = np.full(50_000, 400.0)
    a, b = poisson_counts(m, 1), poisson_counts(m, 2)
    np.testing.assert_array_equal(a, poisson_counts(m, 1))
    assert np.mean(a == b) < 0.1  # P(equal) for two independent Poisson(400) is about 0.014
    z1, z2 = normal_deviates(50_000, 1, np.float64), normal_deviates(50_000, 2, np.float64)
    np.testing.assert_array_equal(z1, normal_deviates(50_000, 1, np.float64))
    bound = 4 / np.sqrt(m.size)
    assert abs(np.corrcoef(z1, z2)[0, 1]) < bound
    # the Poisson and normal streams of one key are independent, and neighbours are uncorrelated
    assert abs(np.corrcoef((a - 400) / 20, z1)[0, 1]) < bound
    assert abs(np.corrcoef(a[1:], a[:-1])[0, 1]) < bound
    assert abs(np.corrcoef(z1[1:], z1[:-1])[0, 1]) < bound


@pytest.mark.parametrize("cuts", [(1,), (12_345, 40_001), (sn._CHUNK - 1, sn._CHUNK + 3, 2 * sn._CHUNK)])
def test_blocks_with_offsets_equal_one_call(cuts):
    r = np.random.default_rng(2)
    m = r.uniform(0, 3000, 2 * sn._CHUNK + 1001)
    m[::7] = r.uniform(0, 10, m[::7].size)  # the inversion branch too
    edges = [0, *cuts, m.size]
    for f in (lambda x, o: poisson_counts(x, 17, offset=o), lambda x, o: normal_deviates(x.size, 17, np.float32, o)):
        whole = f(m, 0)
        parts = np.concatenate([f(m[a:b], a) for a, b in zip(edges[:-1], edges[1:])])
        np.testing.assert_array_equal(parts, whole)


def test_threads_draw_what_one_thread_draws():
    m = np.random.default_rng(3).uniform(0, 2000, (8, 5000))
    serial = [poisson_counts(m[i], 40 + i) for i in range(8)]
    got = [None] * 8

    def work(i):
        got[i] = poisson_counts(m[i], 40 + i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(got, serial):
        np.testing.assert_array_equal(a, b)


def test_normal_deviates_law():
    z = normal_deviates((400, 1001), 7, np.float64).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n) and abs(z.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(z)) < 5 * np.sqrt(6 / n) and abs(stats.kurtosis(z)) < 5 * np.sqrt(24 / n)
    # float32 deviates are the float64 ones to float32 rounding (trig done in float32)
    z32 = normal_deviates((400, 1001), 7, np.float32).ravel()
    assert z32.dtype == np.float32
    np.testing.assert_allclose(z32, z, rtol=2e-6, atol=2e-6)


def test_bad_inputs_name_the_problem():
    m = np.full((3, 4), 100.0)
    m[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"mean must be finite.*\(1, 2\)"):
        poisson_counts(m, 0)
    m[1, 2] = np.inf
    with pytest.raises(ValueError, match="mean must be finite"):
        poisson_counts(m, 0)
    with pytest.raises(TypeError, match="float32 or float64"):
        poisson_counts(np.ones(3, np.int64), 0)
    with pytest.raises(ValueError, match="out must be"):
        poisson_counts(np.ones(3), 0, out=np.empty(3, np.float32))
    with pytest.raises(TypeError, match="float32 or float64"):
        normal_deviates(3, 0, np.int32)


def test_without_numba_falls_back_to_numpy_with_a_warning(monkeypatch):
    def no_numba():
        raise ImportError("no numba")

    monkeypatch.setattr(sn, "_kernels", None)
    monkeypatch.setattr(sn, "_warned", False)
    monkeypatch.setattr(sn, "_build", no_numba)
    with pytest.warns(RuntimeWarning, match="numba is not installed"):
        x = poisson_counts(np.full(100_000, 25.0), 4)
    assert abs(x.mean() - 25) < 5 * np.sqrt(25 / x.size) and abs(x.var() - 25) < 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        z = normal_deviates(100_000, 4, np.float64)
    assert abs(z.std() - 1) < 0.02
    with pytest.raises(ValueError, match="mean must be finite"):
        poisson_counts(np.array([1.0, np.nan]), 0)


def test_no_writable_cache_folder_compiles_without_disk_cache(monkeypatch):
    """numba raises RuntimeError at decoration when no cache folder is writable (read-only install
    and home): the kernels are then built without the disk cache, same streams."""
    build, calls = sn._build, []

    def fussy(cache=True):
        calls.append(cache)
        if cache:
            raise RuntimeError("cannot cache function: no locator available")
        return build(cache=False)

    expected = poisson_counts(np.full(1000, 50.0), 3)
    monkeypatch.setattr(sn, "_kernels", None)
    monkeypatch.setattr(sn, "_build", fussy)
    np.testing.assert_array_equal(poisson_counts(np.full(1000, 50.0), 3), expected)
    assert calls == [True, False]


def test_compiled_log_is_within_one_ulp():
    """The samplers' own vectorisable log (NumPy's float64 log is SIMD only with AVX-512) against an
    extended-precision reference: every input class the samplers feed it (uniforms, means, k + 1, test
    ratios near 1) and the whole exponent range, subnormals included; a wrong coefficient, a lost ln2_lo
    term or an off-by-one exponent would be millions of ulps off."""
    k = sn._compiled()
    r = np.random.default_rng(0)
    x = np.concatenate([np.exp(r.uniform(-744.0, 709.0, 100_000)), 1 + r.uniform(-0.3, 0.3, 50_000),
                        1 + r.uniform(-1e-6, 1e-6, 20_000), np.arange(1.0, 50_001.0), r.uniform(0, 1, 50_000),
                        r.uniform(np.sqrt(0.5), np.sqrt(2.0), 50_000), np.ldexp(1.0, np.arange(-1074, 1024)),
                        np.nextafter(np.ldexp(1.0, np.arange(-1000, 1000)), 0)])
    x = x[(x > 0) & np.isfinite(x)]
    got = np.empty_like(x)
    k.log_array(x, got)
    if np.finfo(np.longdouble).nmant >= 63:  # x86 extended or quad precision: a reference to ~1e-19
        ref = np.log(x.astype(np.longdouble))
        ulps = np.abs((got.astype(np.longdouble) - ref) / np.spacing(np.abs(ref.astype(np.float64))))
        assert float(ulps.max()) < 1.0
    else:  # long double is double here: against the C library's log, itself within an ulp
        ref = np.array([math.log(v) for v in x])
        assert float((np.abs(got - ref) / np.spacing(np.abs(ref))).max()) <= 2.0
    special = np.array([0.0, -0.0, np.inf, np.nan, -1.0, -np.inf, 5e-324, 1.0])
    out = np.empty_like(special)
    k.log_array(special, out)
    np.testing.assert_array_equal(out[:3], [-np.inf, -np.inf, np.inf])
    assert np.isnan(out[3:6]).all()
    assert out[6] == math.log(5e-324) and out[7] == 0.0


def _splitmix64(c):
    """SplitMix64's output for counter state c, in Python integers (an independent implementation)."""
    z = (c ^ (c >> 30)) * 0xBF58476D1CE4E5B9 % 2**64
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB % 2**64
    return z ^ (z >> 31)


def test_small_means_are_the_inverse_cdf_of_their_own_uniform():
    """Below mean 10 a sample is the smallest k with CDF(k) > u, u the first uniform of the element's own
    stream (position 0): checked element by element against the algorithm written out in Python, so the
    vectorised, step-by-step inversion (elements dropped as they finish) gives exactly the sequential
    result. Means of 10 and more are mixed in (they take other passes), and offsets shift the stream."""
    r = np.random.default_rng(11)
    m = r.uniform(-0.5, 10.0, 3000)
    m[::5] = r.uniform(10, 500, m[::5].size)
    m[7], m[8], m[9] = 0.0, 1e-300, 9.999999  # zero, tiny, the edge of the range
    key, offset = 2**64 - 5, 123_456
    got = poisson_counts(m, key, offset=offset)
    gamma, retry_key = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03
    checked = 0
    for i in np.flatnonzero(m < 10):
        x = float(m[i])
        if x <= 0:
            assert got[i] == 0
            continue
        c = _splitmix64(((key ^ retry_key) + (offset + int(i)) * gamma) % 2**64)
        u = (_splitmix64(c) >> 11) / 2.0**53
        p = math.exp(-x)
        cdf, k = p, 0
        while u >= cdf and p > 0:
            k += 1
            p *= x / k
            cdf += p
        assert got[i] == k, (i, x, u)
        checked += 1
    assert checked > 2000 and got[m >= 10].min() > 0
