"""calib.detector: EMVA 1288 quantities against frames with known statistics.

Synthetic frames come from two independent generators: plain NumPy (Poisson electrons, Gaussian
read noise, rounding) written here, and the optics4f Camera model (simulate_sensor_frames).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from calib.base import load
from calib.detector import (
    DetectorCalibration,
    calibrate_detector,
    check_bit_alignment,
    dark_statistics,
    fit_gamma,
    fix_bit_alignment,
    flat_field,
    linearize,
    photon_transfer,
    saturation_level,
    simulate_sensor_frames,
    temporal_variance,
)
from optics4f.devices.detector import Camera, adc


def numpy_sensor(rng, electrons, n, K, read, offset, shape=(128, 128), full_well=None, bits=12):
    """Independent sensor: Poisson(electrons) (+ read noise), clipped at the full well, K ADU/e-,
    offset, rounded, clipped to the ADC range. ``electrons`` scalar or (h, w)."""
    lam = np.broadcast_to(np.asarray(electrons, dtype=np.float64), shape)
    e = rng.poisson(lam, size=(n,) + shape).astype(np.float64) + read * rng.standard_normal((n,) + shape)
    if full_well is not None:
        e = np.minimum(e, full_well)
    return np.clip(np.rint(K * e + offset), 0, 2**bits - 1)


# -- bit alignment ----------------------------------------------------------------------------------
def test_left_justified_12_bit_is_caught(rng):
    counts = rng.integers(0, 4096, size=(2, 64, 64)).astype(np.uint16)
    packed = counts << 4
    a = check_bit_alignment(packed)
    assert (a.shift, a.data_bits, a.container_bits, a.left_justified) == (4, 12, 16, True)
    np.testing.assert_array_equal(fix_bit_alignment(packed, a.shift), counts)
    b = check_bit_alignment(counts)  # right-justified 12-bit in uint16: no shift, 12 bits used
    assert (b.shift, b.used_bits, b.data_bits, b.left_justified) == (0, 12, 12, False)


def test_bit_alignment_float_frames_and_errors(rng):
    counts = rng.integers(0, 1024, size=(64, 64)).astype(np.float64) * 64  # 10 bits << 6, as float
    a = check_bit_alignment(counts)
    assert (a.shift, a.data_bits) == (6, 10)
    with pytest.raises(ValueError, match="distinct values"):
        check_bit_alignment(np.full((8, 8), 16.0))
    with pytest.raises(ValueError, match="non-integer"):
        check_bit_alignment(counts + 0.5)
    with pytest.raises(ValueError, match="negative"):
        check_bit_alignment(counts - 1e6)


# -- temporal variance, dark, flat --------------------------------------------------------------------
def test_temporal_variance_cancels_fixed_pattern(rng):
    pattern = 50.0 * rng.standard_normal((256, 256))  # a strong fixed pattern, identical in both frames
    pair = pattern + 3.0 * rng.standard_normal((2, 256, 256)) + 100.0
    mu, var = temporal_variance(pair)
    assert mu == pytest.approx(100.0 + pattern.mean(), abs=0.05)
    assert var == pytest.approx(9.0, rel=0.02)  # sqrt(2/N) = 0.55 % standard error
    with pytest.raises(ValueError, match="exactly 2"):
        temporal_variance(pair[:1].repeat(3, axis=0))


def test_dark_statistics_and_flat_field(rng):
    dsnu_adu = 2.0 * rng.standard_normal((128, 128))
    dark = 100.0 + dsnu_adu + 3.0 * rng.standard_normal((16, 128, 128))
    ds = dark_statistics(dark)
    assert ds["mean"] == pytest.approx(100.0 + dsnu_adu.mean(), abs=0.05)
    assert ds["temporal_variance"] == pytest.approx(9.0, rel=0.02)
    assert ds["dsnu"] == pytest.approx(dsnu_adu.std(), rel=0.03)
    gain_map = 1.0 + 0.02 * rng.standard_normal((128, 128))
    flat = 100.0 + dsnu_adu + 1000.0 * gain_map + 10.0 * rng.standard_normal((16, 128, 128))
    f, prnu = flat_field(flat, ds["dark"])
    assert f.mean() == pytest.approx(1.0)
    assert prnu == pytest.approx(gain_map.std() / gain_map.mean(), rel=0.05)
    assert np.corrcoef(f.ravel(), gain_map.ravel())[0, 1] > 0.95
    with pytest.raises(ValueError, match="not brighter"):
        flat_field(dark, ds["dark"] + 50)
    with pytest.raises(ValueError, match="same camera region"):
        flat_field(flat, ds["dark"][:64])


# -- photon transfer ---------------------------------------------------------------------------------
def test_photon_transfer_independent_sensor(rng):
    K, read, offset, fw = 0.25, 5.0, 50.0, 12000.0
    levels = np.linspace(0, 1.3 * fw, 18)
    bright = np.stack([numpy_sensor(rng, e, 2, K, read, offset, full_well=fw) for e in levels])
    dark = numpy_sensor(rng, 0.0, 2, K, read, offset)
    r = photon_transfer(bright, dark)
    assert r["gain"] == pytest.approx(K, rel=0.02)
    assert r["dark_noise"] == pytest.approx(read, rel=0.03)  # Poisson(0) adds nothing
    assert r["saturation"] == K * fw + offset  # the clip plateau, exactly
    assert r["saturation_capacity"] == pytest.approx(fw, rel=0.01)
    assert r["nonlinearity"] < 0.03


def test_ignoring_the_left_justification_gives_a_wrong_gain(rng):
    """The failure the bit check exists for: packed 12-bit data read as 16-bit look like 16x the gain."""
    K, read, offset, fw = 0.25, 5.0, 50.0, 12000.0
    levels = np.linspace(0, 1.3 * fw, 14)
    bright = np.stack([numpy_sensor(rng, e, 2, K, read, offset, full_well=fw) for e in levels]) * 16
    dark = numpy_sensor(rng, 0.0, 2, K, read, offset) * 16
    wrong = photon_transfer(bright, dark)["gain"]
    assert abs(wrong / K - 1) > 0.5  # badly off: this is what the check must prevent
    assert wrong == pytest.approx(16 * K, rel=0.03)
    shift = check_bit_alignment(bright).shift
    assert shift == 4
    right = photon_transfer(fix_bit_alignment(bright, shift), fix_bit_alignment(dark, shift))["gain"]
    assert right == pytest.approx(K, rel=0.02)


def test_photon_transfer_errors(rng):
    with pytest.raises(ValueError, match="n_levels, 2, h, w"):
        photon_transfer(np.zeros((3, 64, 64)), np.zeros((2, 64, 64)))
    bright = np.stack([numpy_sensor(rng, e, 2, 0.25, 5.0, 50.0, shape=(32, 32)) for e in (0, 100, 200)])
    with pytest.raises(ValueError, match="exposure levels"):
        photon_transfer(bright, bright[0], saturation=60.0)


def test_saturation_level():
    f = np.full((2, 10, 10), 500.0)
    f[0, :5] = 4095.0
    assert saturation_level(f) == 4095.0
    g = np.arange(800.0).reshape(2, 20, 20)  # every value once: no plateau
    assert saturation_level(g) == pytest.approx(g[1].mean())  # no plateau: brightest mean


# -- response: gamma and linearisation -----------------------------------------------------------------
def test_fit_gamma_recovers_exact_power_law():
    t = np.linspace(0, 10e-3, 12)
    y = 80.0 + 5.0e3 * (t / 1e-3) ** 0.7  # A t^gamma with t in ms, expressed in s below
    r = fit_gamma(t, y)
    assert r["gamma"] == pytest.approx(0.7, rel=1e-6)
    assert r["black"] == pytest.approx(80.0, abs=1e-3)
    lin = fit_gamma(t, 80.0 + 3.0e5 * t)
    assert lin["gamma"] == pytest.approx(1.0, abs=1e-9)
    assert lin["linearity_error"] < 1e-6
    assert r["linearity_error"] > 1.0  # a gamma of 0.7 is far from linear (percent)
    with pytest.raises(ValueError, match="at least 4"):
        fit_gamma(t[:3], y[:3])


def test_linearize_inverts_the_camera_adc():
    s = np.linspace(50.0, 3800.0, 300)  # linear signal, ADU (below the clip of F (s/F)^0.7 + 100)
    y = adc(s.astype(np.float64), 1.0, 12, offset=100.0, gamma=0.7)  # optics4f camera ADC (rounded)
    back = linearize(y, 0.7, 100.0, 4095.0) - 100.0
    # Rounding y to 1 ADU moves s by at most 0.5 ds/dy = 0.5 (1/gamma) (s/F)^(1 - gamma) ADU.
    bound = 0.5 / 0.7 * (s / 4095.0) ** 0.3 * 1.05
    assert np.all(np.abs(back - s) <= bound)
    assert np.max(np.abs(back - s)) > 0.05  # the bound is not vacuous: rounding does show
    with pytest.raises(ValueError, match="gamma"):
        linearize(y, 0.0, 100.0, 4095.0)


# -- the whole calibration -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def measured():
    """Frames of a camera-model sensor with DSNU and PRNU, left-justified 12-bit in uint16."""
    rng = np.random.default_rng(7)
    cam = Camera(shape=(96, 96), pixel_pitch=8e-6, quantum_efficiency=0.7, exposure_time=1e-2, read_noise=4.0,
                 dark_current=300.0, full_well=2.0e4, bit_depth=12, gain=0.18, offset=100.0)
    prnu = 1.0 + 0.01 * rng.standard_normal(cam.shape)
    dsnu = rng.gamma(4.0, 1.5, cam.shape)
    sat = cam.full_well / cam.quantum_efficiency

    def sim(ph, k):
        return (simulate_sensor_frames(cam, ph, k, rng, prnu, dsnu).astype(np.uint16) << 4).astype(np.uint16)

    levels = np.linspace(0, 1.25 * sat, 18)
    frames = (sim(0, 16), sim(0.5 * sat, 16), np.stack([sim(p, 2) for p in levels]), sim(0, 2), levels)
    dark_e = cam.dark_current * cam.exposure_time + dsnu.mean()
    truth = {"gain": 0.18, "dark_noise": np.sqrt(16 + dark_e), "dsnu": dsnu.std(), "prnu": prnu.std(),
             "saturation_capacity": cam.full_well, "black_level": 100 + 0.18 * dark_e}
    return cam, frames, truth


def test_calibrate_detector_recovers_truth(measured, tmp_path):
    cam, (dark, flat, bright, dpair, levels), truth = measured
    cal = calibrate_detector(dark, flat, bright, dpair, levels, truth=truth)
    assert isinstance(cal, DetectorCalibration)
    assert (cal["bit_shift"], cal["data_bits"], cal["gamma"]) == (4.0, 12.0, 1.0)
    for name, rel in (("gain", 0.03), ("dark_noise", 0.05), ("dsnu", 0.1), ("prnu", 0.1),
                      ("saturation_capacity", 0.03)):
        assert cal[name] == pytest.approx(truth[name], rel=rel), name
    assert cal["black_level"] == pytest.approx(truth["black_level"], abs=0.5)
    # Files round-trip, and the camera model takes the measured numbers.
    back = load(cal.save(tmp_path / "det.h5"))
    assert isinstance(back, DetectorCalibration)
    np.testing.assert_array_equal(back["flat"], cal["flat"])
    assert back.truth["gain"] == 0.18
    from calib.bench import bench_config

    cfg = cal.apply_to_config(bench_config(16))
    assert cfg.camera.gain == pytest.approx(0.18, rel=0.03) and cfg.camera.bit_depth == 12
    assert cfg.camera.full_well == pytest.approx(2.0e4, rel=0.03)


def test_correct_flattens_a_flat_frame(measured):
    cam, (dark, flat, bright, dpair, levels), truth = measured
    cal = calibrate_detector(dark, flat, bright, dpair, levels)
    raw = fix_bit_alignment(flat, 4)
    before = (raw.mean(axis=0) - cal["dark"]).std() / (raw.mean() - cal["black_level"])
    corrected = cal.correct(flat).mean(axis=0)
    after = corrected.std() / corrected.mean()
    # After flat-fielding with the flat's own map only the temporal noise of the mean remains.
    assert before > 0.009 and after < 1e-6
    e = cal.to_electrons(flat).mean()
    assert e == pytest.approx(0.5 * cam.full_well, rel=0.04)


def test_gamma_camera_is_detected(measured):
    cam, (dark, flat, bright, dpair, levels), truth = measured
    rng = np.random.default_rng(3)
    cg = dataclasses.replace(cam, gamma=0.8)
    sat = cam.full_well / cam.quantum_efficiency
    series = np.stack([simulate_sensor_frames(cg, p, 2, rng) for p in levels])
    curve = fit_gamma(levels, series.mean(axis=(1, 2, 3)), series.max())
    assert curve["gamma"] == pytest.approx(0.8, abs=0.01)
    cal = calibrate_detector(simulate_sensor_frames(cg, 0, 4, rng), simulate_sensor_frames(cg, 0.5 * sat, 4, rng),
                             series, series[0], levels)
    assert cal["gamma"] == pytest.approx(0.8, abs=0.01)
    # the gamma-corrected gain is close to the true one; without linearising it would be far off
    assert cal["gain"] == pytest.approx(0.18, rel=0.05)


def test_calibrate_detector_from_files(measured, tmp_path):
    """What a lab has: multi-page 16-bit TIFFs and .npy files written by its acquisition software."""
    from PIL import Image

    cam, (dark, flat, bright, dpair, levels), truth = measured

    def tiff(frames, name):
        pages = [Image.fromarray(f.astype(np.uint16)) for f in frames]
        path = tmp_path / name
        pages[0].save(path, save_all=True, append_images=pages[1:])
        return path

    np.save(tmp_path / "series.npy", bright.reshape(-1, *bright.shape[2:]))  # consecutive frames = pairs
    cal = calibrate_detector(tiff(dark, "dark.tif"), tiff(flat, "flat.tif"), tmp_path / "series.npy",
                             tiff(dpair, "dark_pair.tif"), levels, container_bits=16)
    assert cal["bit_shift"] == 4.0
    assert cal["gain"] == pytest.approx(truth["gain"], rel=0.03)
    with pytest.raises(ValueError, match="pairs"):
        calibrate_detector(tiff(dark, "d2.tif"), tiff(flat, "f2.tif"), tiff(bright[0, :1], "odd.tif"), dpair,
                           levels, container_bits=16)
