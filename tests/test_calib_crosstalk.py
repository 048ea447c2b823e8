"""Pixel crosstalk: the grating-efficiency model against closed forms and an independent FFT, and recovery
of fringing width and fill factor from a simulated bench."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from calib.bench import SimulatedBench, bench_config
from calib.crosstalk import CrosstalkCalibration, crosstalk_frames, crosstalk_from_gratings, grating_efficiencies
from optics4f.devices import SLM

PITCH = 8e-6


@pytest.mark.parametrize("period", [2, 4, 8])
@pytest.mark.parametrize("step", [0.7, np.pi, 4.0])
def test_ideal_panel_closed_form(period, step):
    e0, e1 = grating_efficiencies(period, step, 0.0, 1.0)
    assert e0 == pytest.approx(np.cos(step / 2) ** 2, abs=1e-12)
    assert e1 == pytest.approx(4 / np.pi**2 * np.sin(step / 2) ** 2, abs=1e-12)


def test_fill_factor_closed_form():
    # pi grating, gaps reflect unmodulated light: c0 = 1 - F^2 (the area-weighted mean of +-1 and the gap)
    for fill in (0.6, 0.8, 0.95):
        e0, _ = grating_efficiencies(4, np.pi, 0.0, fill)
        assert e0 == pytest.approx((1 - fill**2) ** 2, abs=1e-12)


def test_fringing_against_independent_fft():
    """Periodic Gaussian smoothing with scipy.ndimage, orders by numpy FFT over one period."""
    period, step, sigma, s = 4, np.pi, 0.35, 256
    x = (np.arange(period * s) + 0.5) / s
    phi = np.where(x >= period / 2, step, 0.0)
    phi_s = ndimage.gaussian_filter1d(phi, sigma * s, mode="wrap", truncate=8.0)
    c = np.fft.fft(np.exp(1j * phi_s)) / phi_s.size
    e0, e1 = grating_efficiencies(period, step, sigma, 1.0, oversample=s)
    assert e0 == pytest.approx(abs(c[0]) ** 2, abs=1e-6)
    assert e1 == pytest.approx(abs(c[1]) ** 2, abs=1e-5)  # the model averages the kernel over its cells
    # fringing sends light back to the zero order, more for finer gratings
    assert grating_efficiencies(2, step, sigma, 1.0)[0] > grating_efficiencies(8, step, sigma, 1.0)[0] > 0


def test_recovery_on_simulated_bench():
    sigma_px, fill = 0.35, 0.85
    bench = SimulatedBench(bench_config(64, slm_samples=4, pitch=PITCH,
                                        slm=dict(fringing_sigma=sigma_px * PITCH, fill_factor=fill, gray_2pi=250)),
                           seed=1)
    periods = [2, 4, 8]
    frames = crosstalk_frames(bench.slm.resolution, periods, gray=125)
    point = bench.point_image()
    bench.set_exposure(frames[0], point)
    cal = crosstalk_from_gratings(bench.record(frames, point), periods, center=bench.camera_center,
                                  order_spacing=bench.order_spacing, slm_pitch=PITCH, dark=100.0)
    assert cal.values["fringing_sigma"] == pytest.approx(sigma_px * PITCH, rel=0.1)
    assert cal.values["fill_factor"] == pytest.approx(fill, abs=0.02)
    # an ideal-panel answer would miss: its efficiencies differ from the measured ones by far more than the fit
    ideal = np.array([grating_efficiencies(p, cal.values["step"], 0.0, 1.0) for p in periods]).T
    assert np.abs(ideal[0] - cal.values["eta0"]).max() > 10 * cal.values["rms_residual"]
    slm = cal.apply_to_slm(SLM(resolution=(8, 8), pitch=PITCH))
    assert slm.fringing_sigma == pytest.approx(cal.values["fringing_sigma"])
    assert slm.fill_factor == pytest.approx(cal.values["fill_factor"])
    assert isinstance(cal, CrosstalkCalibration)


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least two grating periods"):
        crosstalk_from_gratings(np.zeros((2, 8, 8)), [4], center=(4, 4), order_spacing=8, slm_pitch=PITCH)
    with pytest.raises(ValueError, match="flat reference frame"):
        crosstalk_from_gratings(np.zeros((2, 16, 16)), [2, 4], center=(8, 8), order_spacing=8, slm_pitch=PITCH)
