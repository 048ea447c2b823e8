"""SLM LUT calibration: analytic grating efficiencies, unfolding, recovery from synthetic and simulated frames."""
from __future__ import annotations

import numpy as np
import pytest

from calib import load
from calib.bench import SimulatedBench, bench_config
from calib.lut import (LUTCalibration, folded_phase, grating_frames, gray_of_phase, lut_from_gratings,
                       lut_from_split_screen, split_screen_frames, unfold_candidates, unfold_phase)
from optics4f.devices import SLM

LAM = 633e-9


def bowed_lut(gray_2pi=220.0, bow=0.25, sign=-1):
    g = np.arange(256, dtype=np.float64)
    shape = lambda x: x * (1 + bow * np.sin(np.pi * x / 255))  # noqa: E731
    return sign * 2 * np.pi * shape(g) / shape(gray_2pi)


def test_grating_frames_layout():
    f = grating_frames((4, 16), [0, 7, 9], period=4, reference=2)
    assert f.shape == (3, 4, 16) and f.dtype == np.uint8
    x = np.arange(16) - 8
    high = (x % 4) >= 2
    np.testing.assert_array_equal(f[1][:, high], 7)
    np.testing.assert_array_equal(f[1][:, ~high], 2)
    s = split_screen_frames((4, 16), [0, 5])
    np.testing.assert_array_equal(s[1][:, 8:], 5)
    np.testing.assert_array_equal(s[1][:, :8], 0)


def test_folded_phase_of_square_wave_orders():
    # Fourier series of a 50 % duty binary phase grating: |c0|^2 = cos^2(d/2), |c+-1|^2 = (4/pi^2) sin^2(d/2)
    d = np.linspace(0, np.pi, 13)
    i0, i1 = np.cos(d / 2) ** 2, 4 / np.pi**2 * np.sin(d / 2) ** 2
    np.testing.assert_allclose(folded_phase(i0, i1), d, atol=1e-12)
    # the same numbers from an FFT of one finely sampled period (independent of the closed form)
    t = np.exp(1j * np.where(np.arange(8192) >= 4096, 1.1, 0.0))
    c = np.fft.fft(t) / t.size
    assert folded_phase(abs(c[0]) ** 2, abs(c[1]) ** 2) == pytest.approx(1.1, abs=1e-6)


def test_unfold_recovers_monotonic_ramp_beyond_two_pi():
    phi = np.linspace(0, 2.6 * np.pi, 40)
    folded = np.abs(np.angle(np.exp(1j * phi)))
    np.testing.assert_allclose(unfold_phase(folded), phi, atol=1e-9)
    assert any(np.allclose(c, phi, atol=1e-9) for c in unfold_candidates(folded))


def synthetic_grating_frames(lut, grays, spacing=64.0, period=8, counts=2e4, shape=(64, 64), rng=None, dark=100.0):
    """Camera frames with single-pixel orders of analytic power (Poisson), 100 ADU black level."""
    rng = np.random.default_rng(0) if rng is None else rng
    cy, cx = shape[0] // 2, shape[1] // 2
    off = int(round(spacing / period))
    out = np.full((len(grays),) + shape, dark)
    for k, g in enumerate(grays):
        d = lut[g] - lut[0]
        out[k, cy, cx] += counts * np.cos(d / 2) ** 2
        out[k, cy, cx + off] += counts * 4 / np.pi**2 * np.sin(d / 2) ** 2
        out[k, cy, cx - off] += counts * 4 / np.pi**2 * np.sin(d / 2) ** 2
    return rng.poisson(out).astype(float)


def test_lut_from_synthetic_gratings_recovers_table_and_2pi_level():
    true = bowed_lut()
    grays = np.arange(0, 256, 8)
    frames = synthetic_grating_frames(true, grays)
    cal = lut_from_gratings(frames, grays, center=(32, 32), order_spacing=64.0, period=8, wavelength=LAM,
                            sign=-1, dark=100.0, half_width=0)
    assert np.sqrt(np.mean((cal.lut - true) ** 2)) < 0.03
    assert cal.values["gray_2pi"] == pytest.approx(220.0, abs=1.0)
    assert np.all(np.diff(cal.lut) < 0)  # the given sign


def test_calibrated_encoding_shows_the_wanted_phase():
    """Masks encoded through the applied calibration, shown by the true panel, at two wavelengths."""
    true = bowed_lut()
    grays = np.arange(0, 256, 8)
    cal = lut_from_gratings(synthetic_grating_frames(true, grays), grays, center=(32, 32), order_spacing=64.0,
                            period=8, wavelength=LAM, dark=100.0, half_width=0)
    panel = SLM(resolution=(32, 32), pitch=8e-6, lut=true, design_wavelength=LAM)
    nominal = SLM(resolution=(32, 32), pitch=8e-6)
    target = np.random.default_rng(3).uniform(-np.pi, np.pi, (32, 32))
    for wl in (LAM, 532e-9):
        def err(model, wl=wl):
            shown = panel.gray_to_phase(model.encode(target, wl), wl)
            return np.sqrt(np.mean(np.angle(np.exp(1j * (shown - target))) ** 2))
        assert err(cal.apply_to_slm(nominal)) < 0.04  # quantisation is ~0.01 rad
        assert err(nominal) > 0.5


def test_wrong_order_position_is_caught():
    """Order boxes one pixel off (a wrong registration) see no first order: refused, not a wrong table."""
    true = bowed_lut()
    grays = np.arange(0, 256, 8)
    frames = synthetic_grating_frames(true, grays)
    with pytest.raises(ValueError, match="boxes miss the orders"):
        lut_from_gratings(frames, grays, center=(32, 32), order_spacing=72.0, period=8, wavelength=LAM,
                          dark=100.0, half_width=0)


@pytest.mark.parametrize("sign", [-1, 1])
def test_split_screen_on_simulated_bench_finds_sign_and_table(sign):
    true = bowed_lut(sign=sign)
    bench = SimulatedBench(bench_config(64, wavelength=LAM, slm=dict(lut=true)), seed=5)
    grays = np.arange(0, 256, 12)
    window = bench.window_image(3)
    bench.set_exposure(bench.uniform_frame(0), window, peak=0.6)
    frames = bench.record(split_screen_frames(bench.slm.resolution, grays), window)
    cal = lut_from_split_screen(frames, grays, center=bench.camera_center, wavelength=LAM, dark=100.0,
                                truth_slm=bench.slm)
    assert np.sign(cal.lut[-1]) == sign
    assert np.sqrt(np.mean((cal.lut - true) ** 2)) < 0.04
    # the intensity near 2 pi is flat in the phase, so its gray level is the least certain value
    # (noise spread about +-3.5 levels with 22 levels measured); a 5 % error (11 levels) is caught
    assert cal.values["gray_2pi"] == pytest.approx(220.0, abs=5.0)
    # a one-level error in the 2 pi level would be resolved: the truth stored matches the panel
    assert cal.truth["gray_2pi"] == pytest.approx(220.0, abs=1e-9)


def linear_cal(gray_2pi=200.0):
    lut = -2 * np.pi * np.arange(256) / gray_2pi
    return LUTCalibration(values={"lut": lut, "gray_2pi": gray_2pi, "wavelength": LAM},
                          units={"lut": "rad", "gray_2pi": "gray level", "wavelength": "m"})


def test_wavelength_scaling():
    cal = linear_cal(200.0)
    np.testing.assert_allclose(cal.at_wavelength(532e-9), cal.lut * LAM / 532e-9)
    assert cal.gray_2pi_at(532e-9) == pytest.approx(200.0 * 532e-9 / LAM, abs=1e-9)
    assert np.isnan(cal.gray_2pi_at(800e-9 * 2))  # a long wavelength never reaches 2 pi on this panel
    assert gray_of_phase(cal.lut) == pytest.approx(200.0)


def test_apply_to_slm_and_file_round_trip(tmp_path):
    cal = linear_cal(200.0)
    slm = SLM(resolution=(4, 4), pitch=8e-6)
    s2 = cal.apply_to_slm(slm)
    frame = np.full((4, 4), 100, dtype=np.uint8)
    # at 532 nm the same gray shows lambda_m / lambda times the measured phase
    assert s2.gray_to_phase(frame, 532e-9)[0, 0] == pytest.approx(-np.pi * LAM / 532e-9)
    with pytest.raises(ValueError, match="levels"):
        cal.apply_to_slm(SLM(resolution=(4, 4), pitch=8e-6, bit_depth=10))
    p = cal.save(tmp_path / "lut.h5")
    back = load(p)
    assert isinstance(back, LUTCalibration)
    np.testing.assert_array_equal(back.lut, cal.lut)
    assert back.units["lut"] == "rad"


def test_bad_inputs():
    frames = np.zeros((3, 16, 16))
    with pytest.raises(ValueError, match="start at the reference gray 0"):
        lut_from_gratings(frames, [4, 8, 12], center=(8, 8), order_spacing=8, period=4, wavelength=LAM)
    with pytest.raises(ValueError, match="one frame per gray"):
        lut_from_gratings(frames, [0, 8], center=(8, 8), order_spacing=8, period=4, wavelength=LAM)
    with pytest.raises(ValueError, match="wavelength"):
        lut_from_gratings(frames, [0, 4, 8], center=(8, 8), order_spacing=8, period=4, wavelength=-1)
    with pytest.raises(ValueError, match="period"):
        grating_frames((4, 4), [0, 1], period=3)


def test_registration_places_the_orders_on_a_misaligned_bench():
    """Rotated and tilted SLM: the orders move off the nominal boxes; with the spot-grid registration
    (and a Gaussian source, whose order images do not ring) the LUT is right; with the nominal
    geometry it is not."""
    from calib.registration import register_spots, spot_grid, spot_grid_frames

    true = bowed_lut()
    mis = dict(slm_rotation=0.05, slm_tilt=(2.5e-3, -3.0e-3))  # DC moved by (4.0, -4.9) px
    bench = SimulatedBench(bench_config(64, wavelength=LAM, slm=dict(lut=true), misalignment=mis), seed=6)
    source = bench.gaussian_image(1.0)
    nus = spot_grid(3, 0.2)
    spots = spot_grid_frames(SLM(resolution=bench.slm.resolution, pitch=8e-6), nus)
    bench.set_exposure(spots[4], source)
    reg = register_spots(bench.record(spots, source), nus, dark=100.0, half_width=3)
    grays = np.arange(0, 256, 8)
    bench.set_exposure(bench.uniform_frame(0), source)
    frames = bench.record(grating_frames(bench.slm.resolution, grays, period=8), source)
    cal = lut_from_gratings(frames, grays, center=reg, period=8, wavelength=LAM, dark=100.0, half_width=2)
    assert np.sqrt(np.mean((cal.lut - true) ** 2)) < 0.03
    assert cal.values["gray_2pi"] == pytest.approx(220.0, abs=2.0)
    with pytest.raises(ValueError, match="boxes miss the orders"):
        lut_from_gratings(frames, grays, center=bench.camera_center, order_spacing=bench.order_spacing, period=8,
                          wavelength=LAM, dark=100.0, half_width=2)
