"""Camera model and signed/complex detection schemes, against Poisson statistics and hand values."""
from __future__ import annotations

import numpy as np
import pytest

from optics4f.devices.detector import (
    Camera,
    adc,
    bin_pixels,
    gaussian_noise_reparam,
    intensity,
    mean_electrons,
    pixel_factor,
    saturate,
    shot_noise_reparam,
    standard_normal,
)
from optics4f.devices.holography import (
    phase_shift_intensities,
    pseudo_negative_combine,
    recover_field,
    split_kernel,
    step_phases,
)

H_PLANCK = 6.62607015e-34  # J s (exact, SI 2019)
C_LIGHT = 299792458.0  # m/s (exact)


def analog_camera(**kw):
    """A camera that returns electrons: no ADC, 1 ADU per electron, huge full well."""
    base = dict(shape=(64, 64), pixel_pitch=2e-6, bit_depth=None, gain=1.0, full_well=1e12, noise=True)
    base.update(kw)
    return Camera(**base)


def uniform_field(irradiance, shape=(132, 132)):
    return np.full(shape, np.sqrt(irradiance), dtype=np.complex128)


# -- photoelectrons: physics by hand --------------------------------------------------------------
def test_mean_electrons_matches_photon_count_by_hand():
    lam, t, qe, pitch = 633e-9, 2e-3, 0.6, 2e-6
    irr = 3.0e-3  # W/m^2
    cam = analog_camera(quantum_efficiency=qe, exposure_time=t, dark_current=50.0, noise=False)
    # 2 um pixels on a 1 um simulation grid: k = 2 (the field extends past the camera).
    e = cam.mean_electrons(uniform_field(irr), 1e-6, lam)
    expected = qe * irr * pitch**2 * t / (H_PLANCK * C_LIGHT / lam) + 50.0 * t
    assert e.shape == (64, 64)
    np.testing.assert_allclose(e, expected, rtol=1e-12)


# -- shot noise --------------------------------------------------------------------------------------
@pytest.mark.parametrize("lam_e", [3.0, 40.0])
def test_shot_noise_mean_and_variance_are_poisson(lam_e):
    lam, t = 500e-9, 1e-3
    irr = lam_e * (H_PLANCK * C_LIGHT / lam) / (t * (1e-6) ** 2)  # gives lam_e electrons per 1 um pixel
    cam = analog_camera(shape=(100, 100), pixel_pitch=1e-6, exposure_time=t)
    frames = cam.detect(np.broadcast_to(uniform_field(irr, (100, 100)), (4, 100, 100)), 1e-6, lam, rng=7)
    x = frames.ravel()
    n = x.size
    np.testing.assert_allclose(cam.mean_electrons(uniform_field(irr, (100, 100)), 1e-6, lam), lam_e, rtol=1e-9)
    # Sample mean: sd sqrt(lam/n); sample variance: sd ~ sqrt((lam + 2 lam^2) / n) for Poisson.
    assert abs(x.mean() - lam_e) < 5 * np.sqrt(lam_e / n)
    assert abs(x.var(ddof=1) - lam_e) < 5 * np.sqrt((lam_e + 2 * lam_e**2) / n)
    assert np.all(x == np.round(x)) and x.min() >= 0  # counts of electrons


def test_read_noise_adds_its_variance():
    lam_e, sr = 20.0, 3.0
    cam = analog_camera(shape=(100, 100), pixel_pitch=1e-6, exposure_time=1.0, read_noise=sr)
    irr = lam_e * H_PLANCK * C_LIGHT / 500e-9 / (1e-6) ** 2
    x = cam.detect(np.broadcast_to(uniform_field(irr, (100, 100)), (4, 100, 100)), 1e-6, 500e-9, rng=3).ravel()
    n, var = x.size, lam_e + sr**2
    assert abs(x.mean() - lam_e) < 5 * np.sqrt(var / n)
    # For Poisson + Gaussian the 4th central moment is lam + 3 lam^2 + 6 lam sr^2 + 3 sr^4 -> var(s^2) ~ (m4 - var^2)/n.
    m4 = lam_e + 3 * lam_e**2 + 6 * lam_e * sr**2 + 3 * sr**4
    assert abs(x.var(ddof=1) - var) < 5 * np.sqrt((m4 - var**2) / n)


def test_gaussian_reparameterised_noise_moments():
    rng = np.random.default_rng(1)
    mean = np.full(200_000, 30.0)
    eps = standard_normal(mean.shape, rng, np.float64)
    x = gaussian_noise_reparam(mean, 2.0, eps)
    assert abs(x.mean() - 30.0) < 5 * np.sqrt(34.0 / x.size)
    assert abs(x.var() - 34.0) < 5 * np.sqrt(2 * 34.0**2 / x.size)
    np.testing.assert_allclose(shot_noise_reparam(mean[:3], eps[:3]), 30 + np.sqrt(30) * eps[:3])


def test_gaussian_noise_model_camera_moments():
    lam_e, sr = 25.0, 2.0
    cam = analog_camera(shape=(100, 100), pixel_pitch=1e-6, exposure_time=1.0, read_noise=sr, noise_model="gaussian")
    irr = lam_e * H_PLANCK * C_LIGHT / 500e-9 / (1e-6) ** 2
    x = cam.detect(np.broadcast_to(uniform_field(irr, (100, 100)), (4, 100, 100)), 1e-6, 500e-9, rng=9).ravel()
    var = lam_e + sr**2
    assert abs(x.mean() - lam_e) < 5 * np.sqrt(var / x.size)
    assert abs(x.var(ddof=1) - var) < 5 * np.sqrt(2 * var**2 / x.size)


def test_noise_off_is_the_mean_and_seeds_reproduce():
    cam = analog_camera(read_noise=1.0, noise=False)
    u = uniform_field(1e-3)
    a = cam.detect(u, 1e-6, 600e-9, rng=1)
    np.testing.assert_array_equal(a, cam.mean_electrons(u, 1e-6, 600e-9))
    noisy = analog_camera(read_noise=1.0)
    f1, f2, f3 = (noisy.detect(u, 1e-6, 600e-9, rng=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(f1, f2)
    assert not np.array_equal(f1, f3)


# -- pixel integration ---------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 4])
def test_binning_conserves_energy(k, rng):
    # Light inside the camera area (the camera is centred like a Grid, so with these sizes its
    # edge pixels reach one sample beyond the plane on one side): all of it must be counted.
    d = 1.5e-6
    irr = np.zeros((2, 12 * k, 12 * k))
    irr[:, k:-k, k:-k] = rng.uniform(0, 2, (2, 10 * k, 10 * k))
    p = bin_pixels(irr, d, (12, 12), k)
    np.testing.assert_allclose(p.sum(axis=(-2, -1)), irr.sum(axis=(-2, -1)) * d * d, rtol=1e-12)


def test_pixel_geometry_centred_on_axis():
    # A point at the axis sample (N//2) lands in camera pixel n//2 (odd k: the sample is that pixel's centre).
    irr = np.zeros((30, 30))
    irr[15, 15] = 1.0
    p = bin_pixels(irr, 1.0, (10, 10), 3)
    assert p[5, 5] == 1.0 and p.sum() == 1.0
    # one sample to the right of the pixel edge (x = +2 samples) belongs to pixel 6
    irr[:] = 0
    irr[15, 17] = 1.0
    assert bin_pixels(irr, 1.0, (10, 10), 3)[5, 6] == 1.0


def test_fill_factor_scales_power_by_area():
    d, k, irr = 1e-6, 5, 2.0
    for ff in (1.0, 0.64, 0.5):
        p = bin_pixels(np.full((60, 60), irr), d, (10, 10), k, fill_factor=ff)  # light beyond the camera
        np.testing.assert_allclose(p, irr * ff * (k * d) ** 2, rtol=1e-12)


def test_camera_larger_than_plane_sees_dark_outside():
    irr = np.ones((8, 8))
    p = bin_pixels(irr, 1.0, (12, 12), 1)
    assert p.sum() == 64 and p[0, 0] == 0 and p[6, 6] == 1


def test_pixel_factor_is_any_positive_ratio():
    k = pixel_factor(6e-6, 2e-6)
    assert k == 3 and isinstance(k, int)  # whole ratios stay integers (the exact sliced path)
    assert pixel_factor(5e-6, 2e-6) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="positive and finite"):
        pixel_factor(-5e-6, 2e-6)


# -- saturation, ADC, gamma ------------------------------------------------------------------------
def test_saturation_and_bit_depth_clip_as_specified():
    cam = Camera(shape=(1, 6), pixel_pitch=1e-6, bit_depth=8, gain=0.5, offset=2.0, full_well=1000.0, noise=False)
    e = np.array([[-10.0, 0.0, 0.4, 1.2, 100.0, 1e6]])
    # hand values: round(0.5 e + 2) clipped to [0, 255]; 1e6 e- saturates at 1000 -> 502 -> 255
    np.testing.assert_array_equal(cam.digitize(e), [[0, 2, 2, 3, 52, 255]])
    np.testing.assert_array_equal(saturate(np.array([5.0, 2e3]), 1e3), [5.0, 1e3])
    # default gain maps the full well onto full scale
    full = Camera(shape=(1, 2), pixel_pitch=1e-6, bit_depth=12, full_well=2e4)
    np.testing.assert_array_equal(full.digitize(np.array([[2e4, 5e3]])), [[4095, 1024]])  # 1023.75 -> 1024
    one_bit = adc(np.array([0.2, 0.6, 5.0]), 1.0, 1)
    np.testing.assert_array_equal(one_bit, [0, 1, 1])


def test_gamma_maps_on_full_scale():
    s = np.array([0.0, 63.75, 255.0])
    np.testing.assert_allclose(adc(s, 1.0, 8, gamma=0.5), np.round(255 * (s / 255) ** 0.5))
    np.testing.assert_array_equal(adc(s, 1.0, 8, gamma=0.5), [0, 128, 255])


def test_intensity_dtype_and_value():
    u = np.array([3 + 4j], dtype=np.complex64)
    i = intensity(u)
    assert i.dtype == np.float32 and i[0] == 25


@pytest.mark.parametrize("kw, match", [
    (dict(fill_factor=0.0), "fill_factor"),
    (dict(fill_factor=1.2), "fill_factor"),
    (dict(bit_depth=17), "bit_depth"),
    (dict(bit_depth=0), "bit_depth"),
    (dict(quantum_efficiency=1.5), "quantum_efficiency"),
    (dict(pixel_pitch=-1e-6), "pixel_pitch"),
    (dict(full_well=float("nan")), "full_well"),
    (dict(noise_model="uniform"), "noise_model"),
    (dict(gamma=0.0), "gamma"),
])
def test_bad_camera_settings_name_the_argument(kw, match):
    with pytest.raises(ValueError, match=match):
        Camera(**kw)


def test_camera_integrates_a_pitch_that_is_not_a_multiple():
    """5 um pixels on a 2 um grid (2.5 samples each): a uniform irradiance puts I * (fill * area)
    on every pixel inside the plane, and a pixel half off the plane gets the covered part only."""
    cam = Camera(shape=(4, 4), pixel_pitch=5e-6, fill_factor=0.81)
    irr = 3.0  # W/m^2
    p = cam.pixel_power(np.full((16, 16), np.sqrt(irr), np.complex128), 2e-6)
    np.testing.assert_allclose(p, irr * 0.81 * 25e-12, rtol=1e-12)
    wide = Camera(shape=(8, 8), pixel_pitch=5e-6)  # 40 um sensor on a 32 um plane: edge pixels see part
    p = wide.pixel_power(np.full((16, 16), 1.0, np.complex128), 2e-6)
    np.testing.assert_allclose(p.sum(), 1.0 * (16 * 2e-6) ** 2, rtol=1e-12)  # all the plane's power
    assert p[0, 0] < p[4, 4]


def test_mean_electrons_function_units():
    p = np.array([1e-15])  # W
    e = mean_electrons(p, 400e-9, 1e-3, 0.5, dark_current=1000.0)
    np.testing.assert_allclose(e, 0.5 * 1e-18 / (H_PLANCK * C_LIGHT / 400e-9) + 1.0, rtol=1e-12)


# -- phase-shifting holography ----------------------------------------------------------------------
@pytest.mark.parametrize("phases", [step_phases(3), step_phases(4), step_phases(7), np.array([0.1, 1.0, 2.2, 4.0])])
def test_phase_shifting_recovers_the_complex_field(phases, rng):
    v = rng.standard_normal((3, 16, 16)) + 1j * rng.standard_normal((3, 16, 16))
    ref = 2.0 * np.exp(0.7j)
    got = recover_field(phase_shift_intensities(v, ref, phases), ref, phases)
    np.testing.assert_allclose(got, v, atol=1e-12)


def test_phase_shifting_by_hand_for_four_steps():
    # I_n = |v + r i^n|^2 ; v = (I0 - I2) / (4 r) + i (I1 - I3) / (4 r) for a real reference r.
    v, r = 0.3 - 0.8j, 1.5
    i = [abs(v + r * 1j**n) ** 2 for n in range(4)]
    expected = ((i[0] - i[2]) + 1j * (i[1] - i[3])) / (4 * r)
    np.testing.assert_allclose(expected, v)
    got = recover_field(np.array(i, dtype=np.float64)[:, None, None], r, step_phases(4))
    np.testing.assert_allclose(got[0, 0], v, atol=1e-14)


def test_holography_input_errors():
    with pytest.raises(ValueError, match="n_steps"):
        step_phases(2)
    with pytest.raises(ValueError, match="distinct"):
        recover_field(np.ones((3, 2, 2)), 1.0, np.array([0.0, 0.0, 2 * np.pi]))
    with pytest.raises(ValueError, match="reference must be nonzero"):
        recover_field(np.ones((3, 2, 2)), 0.0, step_phases(3))


# -- pseudo-negative -----------------------------------------------------------------------------
def test_pseudo_negative_split_and_combine(rng):
    h = rng.standard_normal((5, 5))
    hp, hn = split_kernel(h)
    assert hp.min() >= 0 and hn.min() >= 0
    np.testing.assert_array_equal(hp - hn, h)
    a, b = rng.uniform(0, 1, (2, 8, 8))
    np.testing.assert_allclose(pseudo_negative_combine(a**2, b**2), a - b, atol=1e-15)
    with pytest.raises(TypeError, match="real kernel"):
        split_kernel(h + 0j)


@pytest.mark.parametrize("noise_model", ["poisson", "gaussian"])
def test_batch_of_frames_equals_one_whole_draw_for_any_thread_count(noise_model):
    """A noisy batch is detected in blocks of frames on the pool threads, each block drawing at its
    own stream offset: the frames must equal one whole-batch draw, whatever the thread count."""
    from optics4f import fft as _fft

    cam = Camera(shape=(24, 24), pixel_pitch=2e-6, exposure_time=1e-3, read_noise=3.0, full_well=5e4, bit_depth=12,
                 noise_model=noise_model)
    r = np.random.default_rng(0)
    u = (r.standard_normal((9, 48, 48)) + 1j * r.standard_normal((9, 48, 48))) * 0.2  # ~1000 e- a pixel
    whole = cam.digitize(cam.electrons(cam.mean_electrons(u, 1e-6, 633e-9), np.random.default_rng(11)))
    threads = _fft.get_fft_threads()
    got = []
    try:
        for n in (1, 2, 3):
            _fft.set_fft_engine(_fft.get_fft_engine(), threads=n)
            got.append(cam.detect(u, 1e-6, 633e-9, rng=np.random.default_rng(11)))
    finally:
        _fft.set_fft_engine(_fft.get_fft_engine(), threads=threads)
    for g in got:
        np.testing.assert_array_equal(g, whole)
    assert whole.shape == (9, 24, 24) and 50 < np.median(whole) < 1000  # lit, not saturated
    twin = cam.detect(np.stack([u[0], u[0]]), 1e-6, 633e-9, rng=np.random.default_rng(11))
    assert not np.array_equal(twin[0], twin[1])  # each frame its own noise
    # noise of the right size around the noise-free frame: var(ADU) = g^2 (mean e- + read^2) (+ rounding)
    mean = cam.detect_mean(u, 1e-6, 633e-9)
    g = cam.adu_per_electron
    z = (whole - mean) / np.sqrt(g**2 * (mean / g + cam.read_noise**2) + 1 / 12)
    assert abs(z.mean()) < 5 / np.sqrt(z.size) + 0.02 and abs(z.std() - 1) < 0.05

def test_chain_functions_take_scalars_and_leave_inputs_alone():
    """The in-place steps of adc / mean_electrons / intensity work on their own arrays only."""
    e = np.array([[-3.0, 100.4, 5e4]], np.float32)
    keep = e.copy()
    a = adc(e, 0.5, 12, offset=2.0)
    np.testing.assert_array_equal(e, keep)
    np.testing.assert_array_equal(a, [[0.0, 52.0, 4095.0]])  # rint(0.5 e + 2), clipped to [0, 4095]
    assert adc(np.float32(100.4), 0.5, 12, offset=2.0) == 52.0
    u = np.array([1 + 2j, 3j], np.complex64)
    np.testing.assert_array_equal(intensity(u), [5.0, 9.0])
    p = np.array([1e-12], np.float32)
    m = mean_electrons(p, 5e-7, 1e-3, 1.0, dark_current=5.0)
    assert p[0] == np.float32(1e-12) and m[0] == pytest.approx(
        1e-12 * 1e-3 / (6.62607015e-34 * 299792458 / 5e-7) + 5e-3, rel=1e-6)
