"""The vectorised exact Poisson sampler against the Poisson distribution itself (scipy.stats)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from optics4f import fft as _fft
from optics4f.devices import shot_noise
from optics4f.devices.shot_noise import poisson_ptrs, sample_shot_noise


def _chi2_pvalue(x, lam):
    """Pearson chi-square p value of integer samples ``x`` against Poisson(lam), bins with >= 20 expected."""
    xi = x.astype(np.int64)
    k = np.arange(xi.min(), xi.max() + 1)
    counts = np.bincount(xi - xi.min())
    expected = stats.poisson.pmf(k, lam) * x.size
    keep = expected >= 20
    # lump the tails (and thin bins) into one bin so the test sees every sample
    obs = np.append(counts[keep], x.size - counts[keep].sum())
    exp = np.append(expected[keep], x.size - expected[keep].sum())
    return stats.chisquare(obs, exp).pvalue


# PTRS's range starts at 10; 10.7 and 37.3 sit between integers, 12345.6 is a bright pixel.
@pytest.mark.parametrize("lam", [10.0, 10.7, 37.3, 1000.0, 12345.6])
def test_ptrs_is_poisson(lam):
    x = poisson_ptrs(np.full(400_000, lam), np.random.default_rng(int(lam * 10)))
    assert np.all(x == np.round(x)) and x.min() >= 0
    assert _chi2_pvalue(x, lam) > 1e-3  # a wrong constant shifts whole bins by percent: p ~ 0
    n = x.size
    assert abs(x.mean() - lam) < 5 * np.sqrt(lam / n)
    assert abs(x.var() / lam - 1) < 5 * np.sqrt(2 / n)


def test_chi2_check_catches_a_near_miss():
    """The check above can fail: Poisson(lam) shifted by 1 % of its mean is rejected."""
    rng = np.random.default_rng(0)
    assert _chi2_pvalue(rng.poisson(1.01 * 37.3, 400_000).astype(float), 37.3) < 1e-6
    assert _chi2_pvalue(np.round(rng.normal(37.3, np.sqrt(37.3), 400_000)), 37.3) < 1e-6  # Gaussian, no skew


def test_mixed_frame_follows_each_pixels_mean():
    """Pixels below and above the PTRS threshold in one frame: each column keeps its own Poisson law."""
    lams = np.array([0.0, 0.3, 4.0, 9.99, 10.0, 250.0])
    mean = np.broadcast_to(lams, (60_000, lams.size)).astype(np.float32)
    x = sample_shot_noise(mean, np.random.default_rng(5))
    assert x.dtype == np.float32 and x.shape == mean.shape
    assert np.all(x[:, 0] == 0)
    for j, lam in enumerate(lams[1:], start=1):
        assert _chi2_pvalue(x[:, j].astype(np.float64), lam) > 1e-3, lam


def test_negative_means_count_as_zero():
    x = sample_shot_noise(np.array([-3.0, -1e-9, 0.0]), np.random.default_rng(0))
    np.testing.assert_array_equal(x, 0)


@pytest.fixture
def restore_threads():
    threads = _fft.get_fft_threads()
    yield
    _fft.set_fft_engine(_fft.get_fft_engine(), threads=threads)


def test_same_generator_state_same_frame_for_any_thread_count(monkeypatch, restore_threads):
    monkeypatch.setattr(shot_noise, "_CHUNK", 1000)  # several chunks
    mean = np.random.default_rng(1).uniform(0, 50, (7, 33, 41))
    frames = []
    for threads in (1, 2, 3):
        _fft.set_fft_engine(_fft.get_fft_engine(), threads=threads)
        frames.append(sample_shot_noise(mean, np.random.default_rng(42), read_noise=2.0))
    np.testing.assert_array_equal(frames[0], frames[1])
    np.testing.assert_array_equal(frames[0], frames[2])
    assert not np.array_equal(frames[0], sample_shot_noise(mean, np.random.default_rng(43), read_noise=2.0))


def test_read_noise_is_added_in_the_same_pass():
    lam, sr, n = 30.0, 4.0, 400_000
    x = sample_shot_noise(np.full(n, lam), np.random.default_rng(9), read_noise=sr)
    var = lam + sr**2
    m4 = lam + 3 * lam**2 + 6 * lam * sr**2 + 3 * sr**4  # 4th central moment of Poisson + Gaussian
    assert abs(x.mean() - lam) < 5 * np.sqrt(var / n)
    assert abs(x.var(ddof=1) - var) < 5 * np.sqrt((m4 - var**2) / n)
    assert not np.all(x == np.round(x))


def test_ptrs_refuses_small_means():
    with pytest.raises(ValueError, match=">= 10"):
        poisson_ptrs(np.array([9.0, 20.0]), np.random.default_rng(0))


def test_camera_frames_are_reproducible_for_any_thread_count(restore_threads):
    """A batch of frames is detected frame by frame on the pool threads, each frame with its own
    generator seeded from the caller's: the thread count must not change the frames."""
    from optics4f.devices.detector import Camera

    cam = Camera(shape=(24, 24), pixel_pitch=2e-6, exposure_time=1e-3, read_noise=3.0, full_well=5e4, bit_depth=12)
    r = np.random.default_rng(0)
    u = (r.standard_normal((5, 48, 48)) + 1j * r.standard_normal((5, 48, 48))) * 0.2  # ~1000 e- a pixel
    got = []
    for threads in (1, 2):
        _fft.set_fft_engine(_fft.get_fft_engine(), threads=threads)
        got.append(cam.detect(u, 1e-6, 633e-9, rng=np.random.default_rng(11)))
    np.testing.assert_array_equal(got[0], got[1])
    assert got[0].shape == (5, 24, 24) and 50 < np.median(got[0]) < 1000  # lit, not saturated
    twin = cam.detect(np.stack([u[0], u[0]]), 1e-6, 633e-9, rng=np.random.default_rng(11))
    assert not np.array_equal(twin[0], twin[1])  # each frame its own noise draw
    # noise off: the batch path is the per-frame expected signal, exactly
    quiet = Camera(**{**cam.__dict__, "noise": False})
    np.testing.assert_array_equal(quiet.detect(u, 1e-6, 633e-9),
                                  np.stack([quiet.detect_mean(f, 1e-6, 633e-9) for f in u]))
