"""Focus: metrics and peak fit against closed forms; camera and Fourier planes found on a simulated bench."""
from __future__ import annotations

import numpy as np
import pytest

from calib import load
from calib.bench import SimulatedBench, bench_config
from calib.focus import FocusCalibration, fit_peak, focus_camera, focus_fourier, pinhole_frame, sharpness
from optics4f.devices import SLM
from optics4f.system import SystemConfig


def test_sharpness_closed_forms():
    delta = np.zeros((1, 8, 8))
    delta[0, 3, 4] = 7.0
    flat = np.ones((1, 8, 8))
    assert sharpness(delta)[0] == pytest.approx(1.0)
    assert sharpness(flat)[0] == pytest.approx(1 / 64)
    with pytest.raises(ValueError, match="no signal"):
        sharpness(np.zeros((1, 4, 4)))


def test_fit_peak_parabola_and_gaussian():
    z = np.linspace(-1, 1, 21)
    assert fit_peak(z, 3 - (z - 0.137) ** 2) == pytest.approx(0.137, abs=1e-12)
    assert fit_peak(z, np.exp(-((z + 0.21) ** 2) / 0.5)) == pytest.approx(-0.21, abs=5e-3)
    with pytest.raises(ValueError, match="end of the scan"):
        fit_peak(z, z)


@pytest.mark.parametrize("dz", [0.3e-3, -0.25e-3])
def test_camera_plane_found(dz):
    bench = SimulatedBench(bench_config(64, misalignment=dict(camera_defocus=dz)), seed=3)
    point, flat = bench.point_image(), bench.uniform_frame(0)
    bench.set_exposure(flat, point)
    z = np.arange(-0.7e-3, 0.71e-3, 0.1e-3)
    frames = np.concatenate([bench.with_misalignment(camera_defocus=dz + zi).record(flat, point) for zi in z])
    cal = focus_camera(frames, z, dark=100.0)
    assert cal.values["camera_defocus"] == pytest.approx(dz, abs=0.05e-3)  # the sign is right
    cfg = cal.apply_to_config(SystemConfig())
    assert cfg.misalignment.camera_defocus == pytest.approx(cal.values["camera_defocus"])


def test_fourier_plane_found(tmp_path):
    dz = 0.9e-3
    bench = SimulatedBench(bench_config(64, misalignment=dict(fourier_defocus=dz)), seed=3)
    nominal = SLM(resolution=bench.slm.resolution, pitch=bench.slm.pitch)
    window = bench.window_image(16)
    patch = pinhole_frame(nominal, (32, 32), 5)
    bench.set_exposure(patch, window)
    z = np.arange(-2.8e-3, 2.81e-3, 0.4e-3)
    frames = np.concatenate([bench.with_misalignment(fourier_defocus=dz + zi).record(patch, window) for zi in z])
    cal = focus_fourier(frames, z, region=(45, 64, 0, 64), dark=100.0)
    assert cal.values["fourier_defocus"] == pytest.approx(dz, abs=0.15e-3)
    back = load(cal.save(tmp_path / "focus.h5"))
    assert isinstance(back, FocusCalibration)
    assert back.values["fourier_defocus"] == cal.values["fourier_defocus"]


def test_frame_count_mismatch():
    with pytest.raises(ValueError, match="one frame per position"):
        focus_camera(np.ones((3, 8, 8)), [0.0, 1e-4])
