"""Honest fits: every calibration routine refuses frames that cannot support its fit (all zero,
saturated, NaN, too few spots/levels/probes) with an error naming the problem, and every result
carries an uncertainty that matches the scatter of repeated measurements."""
from __future__ import annotations

import numpy as np
import pytest

from calib.checks import FrameError, check_frames
from calib.crosstalk import crosstalk_from_gratings
from calib.detector import calibrate_detector
from calib.fitting import parabola_vertex
from calib.focus import fit_peak_error, focus_camera, focus_fourier, probe_window
from calib.kernel import calibrate_kernel, impulse_intensity
from calib.lut import lut_from_gratings, lut_from_split_screen
from calib.registration import register_fourier_plane, register_spots, spot_grid
from calib.wavefront import calibrate_wavefront, calibrate_wavefront_diversity

LAM = 633e-9
N = 32
GRAYS = np.arange(0, 256, 32)
NUS = spot_grid(3, 0.15)
Z = np.linspace(-1e-3, 1e-3, 9)
AMPS = np.linspace(-1e-7, 1e-7, 5)

# name -> (number of frames, callable(frames)); every routine as a lab calls it, dark level 100 ADU
ROUTINES = {
    "lut_gratings": (GRAYS.size, lambda f: lut_from_gratings(f, GRAYS, center=(16, 16), order_spacing=32.0, period=8,
                                                             wavelength=LAM, dark=100.0)),
    "lut_split_screen": (GRAYS.size, lambda f: lut_from_split_screen(f, GRAYS, center=(16, 16), wavelength=LAM,
                                                                     dark=100.0)),
    "registration_spots": (NUS.shape[0], lambda f: register_spots(f, NUS, dark=100.0)),
    "registration_fourier_plane": (16, lambda f: register_fourier_plane(
        f, np.arange(16), region=(20, 32, 0, 32), display_period=8, display_pitch=8e-6, slm_pitch=8e-6,
        slm_pixels=32, wavelength=LAM, dark=100.0)),
    "crosstalk": (3, lambda f: crosstalk_from_gratings(f, [4, 8], center=(16, 16), slm_pitch=8e-6,
                                                       order_spacing=32.0, dark=100.0)),
    "focus_camera": (Z.size, lambda f: focus_camera(f, Z, dark=100.0)),
    "focus_fourier": (Z.size, lambda f: focus_fourier(f, Z, region=(20, 32, 0, 32), dark=100.0)),
    "wavefront_sweep": (AMPS.size, lambda f: calibrate_wavefront(f, [4] * AMPS.size, AMPS, 1e-4, LAM, dark=100.0)),
    "wavefront_diversity": (2, lambda f: calibrate_wavefront_diversity(f, [{}, {4: LAM / 8}], [4], 1e-4, LAM, 0.02,
                                                                       8e-6, dark=100.0)),
    "kernel_impulse": (2, lambda f: impulse_intensity(f, 100.0, (5, 5))),
}


def _zeros(n):
    return np.zeros((n, N, N))


def _dark(n):
    """Black level and read noise only: what a camera records with the source off."""
    return np.random.default_rng(1).normal(100.0, 3.0, (n, N, N)).round()


def _saturated(n):
    f = _dark(n)
    f[:, 8:28, 8:28] = 4095.0  # a 12-bit camera clipped over the whole centre
    return f


def _nan(n):
    f = _saturated(n) * 0 + 1000.0
    f[0, 3, 3] = np.nan
    return f


@pytest.mark.parametrize("name", sorted(ROUTINES))
@pytest.mark.parametrize("bad, message", [(_zeros, "no light"), (_dark, "no light"), (_saturated, "saturation"),
                                          (_nan, "NaN")], ids=["all_zero", "dark", "saturated", "nan"])
def test_unusable_frames_are_refused(name, bad, message):
    n, run = ROUTINES[name]
    with pytest.raises(ValueError, match=message):
        run(bad(n))


def test_kernel_refuses_zero_fields_and_one_probe():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 16, 16))
    with pytest.raises(FrameError, match="no light"):
        calibrate_kernel(x, np.zeros((4, 16, 16), complex), np.ones((3, 3)))
    with pytest.raises(FrameError, match="every probe image is zero"):
        calibrate_kernel(np.zeros((4, 16, 16)), x.astype(complex), np.ones((3, 3)))
    with pytest.raises(FrameError, match="at least 2 probes"):
        calibrate_kernel(x[:1], x[:1].astype(complex), np.ones((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        calibrate_kernel(x, np.full((4, 16, 16), np.nan, complex), np.ones((3, 3)))


def _detector_inputs(rng, level=2000.0):
    dark = rng.normal(100, 3, (4, N, N)).round()
    flat = rng.normal(100 + level, 30, (4, N, N)).round()
    t = np.linspace(1e-4, 1e-3, 8)
    means = 100 + 3000 * t / 1e-3
    bright = np.stack([rng.normal(m, np.sqrt(m - 99), (2, N, N)).round() for m in means])
    return dark, flat, bright, dark[:2], t


@pytest.mark.parametrize("case, message", [("zero_flat", "no light"), ("saturated_flat", "saturation"),
                                           ("dark_series", "series is dark"), ("nan", "NaN")])
def test_detector_refuses_unusable_frames(case, message):
    dark, flat, bright, dpairs, t = _detector_inputs(np.random.default_rng(2))
    if case == "zero_flat":
        flat = np.zeros_like(flat)
    elif case == "saturated_flat":
        flat[:, :16] = 4095.0
    elif case == "dark_series":  # a gamma fitted to this came out as 0.2 before the check
        bright = np.random.default_rng(3).normal(100, 3, bright.shape).round()
    else:
        flat[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=message):
        calibrate_detector(dark, flat, bright, dpairs, t)


def test_detector_result_carries_uncertainties():
    dark, flat, bright, dpairs, t = _detector_inputs(np.random.default_rng(4))
    cal = calibrate_detector(dark, flat, bright, dpairs, t)
    for k in ("gain", "dark_noise", "gamma", "black_level", "saturation_capacity"):
        assert np.isfinite(cal.uncertainty[k]) and cal.uncertainty[k] >= 0, k
    # Poisson pixels of gain 1 ADU/e-: the fitted gain lies within a few of its sigmas of 1
    assert abs(cal["gain"] - 1.0) < 5 * cal.uncertainty["gain"] + 0.02


def test_too_few_spots_levels_and_amplitudes():
    spot = np.random.default_rng(0).normal(100, 3, (3, N, N))
    spot[:, 16, 16] += 3000
    with pytest.raises(FrameError, match="at least 4 spots"):
        register_spots(spot, NUS[:3], dark=100.0)
    # gratings that do not diffract: every spot on the DC, the affine scale would be 0
    still = np.random.default_rng(0).normal(100, 3, (NUS.shape[0], N, N))
    still[:, 16, 16] += 3000
    with pytest.raises(FrameError, match="do not move"):
        register_spots(still, NUS, dark=100.0, exclude_radius=0.0)
    with pytest.raises(FrameError, match="at least 4"):
        lut_from_gratings(spot, [0, 64, 128], center=(16, 16), order_spacing=32.0, period=8, wavelength=LAM,
                          dark=100.0)
    with pytest.raises(FrameError, match="fewer than 4"):
        calibrate_wavefront(spot, [4, 4, 4], AMPS[:3], 1e-4, LAM, dark=100.0)


def test_check_frames_accepts_spots_and_flats():
    rng = np.random.default_rng(0)
    spots = rng.normal(100, 3, (2, N, N))
    spots[:, 10, 10] += 200  # 67 sigma: lit
    check_frames(spots, 100.0)
    flat = rng.normal(600, 20, (2, N, N))
    check_frames(flat, 100.0)  # no spot, but 25 sigma above the dark level
    float_psf = np.exp(-np.hypot(*np.mgrid[-16:16, -16:16]) ** 2 / 8)[None]
    check_frames(float_psf)  # noise-free float frames have a scale-free noise floor
    with pytest.raises(FrameError, match="frame\\(s\\) \\[1\\]"):
        check_frames(np.stack([spots[0], rng.normal(100, 3, (N, N))]), 100.0)


def test_parabola_vertex_sigma_matches_the_scatter():
    """The reported sigma is the spread of the vertex over repeated noisy measurements (within 25 %)."""
    rng = np.random.default_rng(5)
    x = np.linspace(-1.0, 1.0, 9)
    truth = 0.13
    vertices, sigmas = [], []
    for _ in range(400):
        y = 2.0 - 1.5 * (x - truth) ** 2 + rng.normal(0, 0.02, x.size)
        v, s, a = parabola_vertex(x, y)
        vertices.append(v)
        sigmas.append(s)
        assert a < 0
    assert np.mean(vertices) == pytest.approx(truth, abs=3 * np.std(vertices) / 20)
    assert np.std(vertices) == pytest.approx(np.sqrt(np.mean(np.square(sigmas))), rel=0.25)
    # units of x do not matter (the design is scaled): the same fit on a 1e-8 scale
    v, s, _ = parabola_vertex(x * 1e-8, 2.0 - 1.5 * (x - truth) ** 2)
    assert v == pytest.approx(truth * 1e-8, rel=1e-9)


def test_fit_peak_refuses_a_flat_metric():
    z = np.linspace(-3e-3, 3e-3, 25)
    broad = 1 - 0.04 * ((z - 0.8e-3) / 3.8e-3) ** 2  # 4 % over the scan: the default-bench focus with a fixed window
    with pytest.raises(FrameError, match="varies by only"):
        fit_peak_error(z, broad, min_contrast=0.1)
    z_peak, sigma = fit_peak_error(z, 1 - 0.5 * ((z - 0.8e-3) / 3e-3) ** 2, min_contrast=0.1)
    assert z_peak == pytest.approx(0.8e-3, abs=1e-9) and sigma < 1e-9


def test_probe_window_keeps_the_spot_size():
    """lambda f1 / (W d) = 4 SLM pixels: 16 display pixels on the 6.47 mm bench, 32 on the 12.9 mm one."""
    f_small = 8e-6 * 128 * 8e-6 / (2 * LAM)
    assert probe_window(LAM, f_small, 8e-6, 8e-6) == 16
    assert probe_window(LAM, 2 * f_small, 8e-6, 8e-6) == 32
    with pytest.raises(ValueError, match="f1"):
        probe_window(LAM, -1.0, 8e-6, 8e-6)
