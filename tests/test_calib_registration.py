"""Registration: affine fit and decomposition, spot finding, spot-grid and slit-scan recovery on a simulated bench."""
from __future__ import annotations

import numpy as np
import pytest

from calib import load
from calib.bench import SimulatedBench, bench_config
from calib.registration import (FourierPlaneCalibration, RegistrationCalibration, cosine_window,
                                decompose_affine, find_spot, fit_affine, register_fourier_plane, register_spots,
                                slit_scan_frames, spot_grid, spot_grid_frames)
from optics4f.devices import SLM
from optics4f.system import SystemConfig

PITCH = 8e-6


def affine_rc(sx, sy, theta, shear):
    """A in (row, col) order from the (x, y) form R(theta) [[sx, sx h], [0, sy]]."""
    c, s = np.cos(theta), np.sin(theta)
    axy = np.array([[c, -s], [s, c]]) @ np.array([[sx, sx * shear], [0, sy]])
    return axy[::-1, ::-1]


def test_fit_and_decompose_affine_exactly():
    a = affine_rc(60.0, 58.0, 0.07, 0.02)
    b = np.array([31.2, 33.7])
    nus = spot_grid(4, 0.2)
    a2, b2 = fit_affine(nus, nus @ a.T + b)
    np.testing.assert_allclose(a2, a, atol=1e-9)
    np.testing.assert_allclose(b2, b, atol=1e-9)
    np.testing.assert_allclose(decompose_affine(a2), (60.0, 58.0, 0.07, 0.02), atol=1e-9)
    # a pure rotation by +theta maps nu_x to +x and +y (counter-clockwise in (x, y))
    r = affine_rc(1, 1, 0.3, 0)
    assert r @ np.array([0.0, 1.0]) == pytest.approx([np.sin(0.3), np.cos(0.3)])


def test_find_spot_subpixel():
    yy, xx = np.indices((40, 40))
    f = 50 + 1000 * np.exp(-((yy - 17.3) ** 2 + (xx - 22.6) ** 2) / (2 * 1.2**2))
    r, c = find_spot(f, half_width=4)
    assert (r, c) == (pytest.approx(17.3, abs=0.03), pytest.approx(22.6, abs=0.03))
    # excluding a brighter DC finds the weaker spot
    f[5, 5] += 5000
    assert find_spot(f, exclude=(5, 5), exclude_radius=3, half_width=4)[0] == pytest.approx(17.3, abs=0.03)


@pytest.mark.parametrize("rotation", [0.05, -0.05])
def test_spot_grid_on_bench_recovers_rotation_scale_and_dc(rotation):
    tilt = (0.5e-3, -0.3e-3)
    bench = SimulatedBench(bench_config(64, pitch=PITCH, misalignment=dict(slm_rotation=rotation, slm_tilt=tilt)),
                           seed=2)
    nominal = SLM(resolution=bench.slm.resolution, pitch=PITCH)
    nus = spot_grid(3, 0.2)
    frames = spot_grid_frames(nominal, nus)
    source = bench.gaussian_image(1.0)
    bench.set_exposure(frames[4], source)
    cal = register_spots(bench.record(frames, source), nus, dark=100.0, half_width=3)
    v = cal.values
    assert v["rotation"] == pytest.approx(rotation, abs=2e-3)  # the sign is right
    # lambda f2 / (p_slm p_cam) camera pixels per cycle/pixel, from the bench's optics
    scale = bench.config.wavelength * bench.config.f2 / (PITCH * PITCH)
    assert v["scale_x"] == pytest.approx(scale, rel=3e-3) and v["scale_y"] == pytest.approx(scale, rel=3e-3)
    dc = 32 + 2 * bench.config.f2 * np.sin(np.array(tilt)) / PITCH
    assert (v["dc_row"], v["dc_col"]) == (pytest.approx(dc[0], abs=0.05), pytest.approx(dc[1], abs=0.05))
    assert v["rms_residual"] < 0.05
    # round trip of the map
    p = cal.camera_position([0.1, -0.05])
    np.testing.assert_allclose(cal.slm_frequency(p), [0.1, -0.05], atol=1e-12)


def test_spot_grid_needs_matching_frames():
    with pytest.raises(ValueError, match="one frame per grating"):
        register_spots(np.zeros((2, 8, 8)), spot_grid(2, 0.1))


def slit_bench(shift_px, period=8, w=31):
    bench = SimulatedBench(bench_config(64, pitch=PITCH, misalignment=dict(slm_shift=(0.0, shift_px * PITCH))),
                           seed=4)
    nominal = SLM(resolution=bench.slm.resolution, pitch=PITCH)
    hann = np.hanning(w + 2)[1:-1]
    image = bench.window_image(w, cosine_window(w, period) * np.outer(hann, hann))
    positions = np.arange(17, 48)
    frames = slit_scan_frames(nominal, positions, axis=1, steer_period=3)
    bench.set_exposure(frames[15], image)
    return bench, bench.record(frames, image), positions


def test_slit_scan_finds_optical_axis_and_f1():
    shift_px = 2.6  # SLM moved by +2.6 pixels: the axis sits at panel pixel 32 - 2.6
    bench, frames, positions = slit_bench(shift_px)
    cal = register_fourier_plane(frames, positions, region=(45, 64, 0, 64), display_period=8, display_pitch=PITCH,
                                 slm_pitch=PITCH, slm_pixels=64, wavelength=bench.config.wavelength, dark=100.0)
    assert cal.values["dc"] == pytest.approx(32 - shift_px, abs=0.1)
    assert abs(cal.values["dc"] - (32 - shift_px + 1)) > 0.5  # a one-pixel error would be seen
    assert cal.values["shift"] == pytest.approx(shift_px * PITCH, abs=0.1 * PITCH)
    assert cal.values["f1"] == pytest.approx(bench.config.f1, rel=0.01)
    # the calibration moves a configuration's SLM to the measured place
    cfg = cal.apply_to_config(SystemConfig())
    assert cfg.misalignment.slm_shift[1] == pytest.approx(cal.values["shift"])
    assert cfg.misalignment.slm_shift[0] == 0.0


def test_registration_files_and_apply(tmp_path):
    a = affine_rc(64, 64, 0.02, 0)
    cal = RegistrationCalibration(values={"A": a, "b": np.array([32.0, 32.0]), "rotation": 0.02},
                                  units={"A": "px/(cycle/px)", "b": "px", "rotation": "rad"})
    back = load(cal.save(tmp_path / "reg.h5"))
    assert isinstance(back, RegistrationCalibration)
    np.testing.assert_array_equal(back.values["A"], a)
    assert back.apply_to_config(SystemConfig()).misalignment.slm_rotation == pytest.approx(0.02)
    with pytest.raises(FileExistsError):
        cal.save(tmp_path / "reg.h5")
    assert isinstance(FourierPlaneCalibration(values={"dc": 1.0}, units={"dc": "px"}), FourierPlaneCalibration)
