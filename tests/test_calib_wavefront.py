"""calib.wavefront: probe phases, the sharpness metric, the sweep fit and the correction, against
closed forms and a simulated bench with a hidden aberration."""
from __future__ import annotations

import numpy as np
import pytest

from calib.base import load
from calib.bench import SimulatedBench, bench_config
from calib.wavefront import (
    WavefrontCalibration,
    calibrate_wavefront,
    calibrate_wavefront_diversity,
    correction_phase,
    diversity_phases,
    fit_phase_diversity,
    fit_sweep,
    make_calibration,
    psf_model,
    residual_rms,
    sharpness,
    simulate_spot_frames,
    sweep_phases,
)
from optics4f.grid import Grid
from optics4f.zernike import zernike_phase

LAM = 633e-9


def test_sweep_phases_are_scaled_zernikes():
    g = Grid((32, 32), 10e-6)
    radius = 120e-6
    phases, pm, pa = sweep_phases(g, [4, 5], [-50e-9, 0.0, 50e-9], radius, LAM)
    assert phases.shape == (6, 32, 32) and pm.tolist() == [4, 4, 4, 5, 5, 5]
    y, x = np.meshgrid(g.y() / radius, g.x() / radius, indexing="ij")
    r2 = x**2 + y**2
    inside = r2 <= 1
    defocus = np.sqrt(3) * (2 * r2 - 1)  # Z4, unit RMS (ANSI n=2, m=0)
    astig = np.sqrt(6) * r2 * np.cos(2 * np.arctan2(y, x))  # Z5 (n=2, m=2)
    np.testing.assert_allclose(phases[2][inside], 2 * np.pi / LAM * 50e-9 * defocus[inside], atol=1e-12)
    np.testing.assert_allclose(phases[3][inside], -2 * np.pi / LAM * 50e-9 * astig[inside], atol=1e-12)
    assert np.all(phases[:, ~inside] == 0) and np.all(phases[1] == 0)
    base = np.full((32, 32), 0.3)
    np.testing.assert_allclose(sweep_phases(g, [4], [0.0, 1e-9, 2e-9], radius, LAM, base=base)[0][0], base)


def test_sweep_phases_refuse_tilts_and_short_sweeps():
    g = Grid((8, 8), 1e-6)
    with pytest.raises(ValueError, match="tilts"):
        sweep_phases(g, [1, 4], [-1e-8, 0, 1e-8], 4e-6, LAM)
    with pytest.raises(ValueError, match="at least 3"):
        sweep_phases(g, [4], [0.0, 1e-8], 4e-6, LAM)


def test_sharpness_closed_forms():
    one = np.zeros((9, 9))
    one[4, 4] = 7.0
    flat = np.zeros((9, 9))
    flat[2:6, 3:8] = 3.0  # 20 equal pixels
    np.testing.assert_allclose(sharpness(np.stack([one, flat])), [1.0, 1 / 20])
    np.testing.assert_allclose(sharpness(flat + 100.0, dark=100.0), [1 / 20])  # dark removed
    with pytest.raises(ValueError, match="no signal"):
        sharpness(np.zeros((1, 4, 4)))


def gaussian_spots(widths, n=64):
    y, x = np.mgrid[:n, :n] - n / 2
    return np.stack([np.exp(-(x**2 + y**2) / (2 * w**2)) for w in widths])


def test_fit_sweep_finds_the_vertex():
    """Gaussian spots of width w: S = 1 / (4 pi w^2) closely, so w^2 = w0^2 exp(kappa (a + c)^2)
    makes log S an exact parabola in a with its peak at a = -c."""
    c = {4: 23e-9, 7: -41e-9}
    amps = np.linspace(-100e-9, 100e-9, 7)
    kappa = 4e13  # 1/m^2
    frames, pm, pa = [], [], []
    for j, cj in c.items():
        w = 3.0 * np.exp(0.5 * kappa * (amps + cj) ** 2)
        frames.append(gaussian_spots(w))
        pm += [j] * amps.size
        pa += list(amps)
    fit = fit_sweep(np.concatenate(frames), pm, pa)
    for j, cj in c.items():
        assert fit["coefficients"][j] == pytest.approx(cj, abs=0.5e-9)
        assert fit["curvature"][j] == pytest.approx(-2 * kappa, rel=0.02)
        assert fit["in_range"][j]
    # A sweep with the amplitudes' sign flipped (a wrong sign convention) lands on -c: detected.
    flipped = fit_sweep(np.concatenate(frames), pm, -np.asarray(pa))
    assert abs(flipped["coefficients"][4] - c[4]) > 40e-9


def test_fit_sweep_refuses_a_metric_without_maximum():
    # log S = -2 log w + const is convex in w: widths growing linearly have no peak to find.
    with pytest.raises(ValueError, match="no maximum"):
        fit_sweep(gaussian_spots([2.9, 3.0, 3.1, 3.2]), [4, 4, 4, 4], [-1e-8, 0, 1e-8, 2e-8])


@pytest.fixture(scope="module")
def bench():
    radius = 0.3 * 16 * 8e-6
    b = SimulatedBench(bench_config(32, wavelength=LAM, fourier_aperture=radius), seed=11)
    b.set_exposure(b.uniform_frame(0), b.point_image(), peak=0.6)
    return b, radius


def test_sweep_on_the_bench_recovers_a_hidden_aberration(bench, tmp_path):
    b, radius = bench
    true = {4: 0.04 * LAM, 5: -0.03 * LAM, 7: 0.02 * LAM}
    aberration = zernike_phase(b.system.fourier_grid, true, radius, LAM)
    modes, amps = [3, 4, 5, 6, 7, 8], np.linspace(-0.15, 0.15, 7) * LAM
    phases, pm, pa = sweep_phases(b.slm.grid, modes, amps, radius, LAM)
    slm_frames = np.stack([b.slm.encode(p, LAM) for p in phases])
    frames = simulate_spot_frames(b.system, slm_frames, aberration, b.point_image(), rng=b.rng)
    cal = calibrate_wavefront(frames, pm, pa, radius, LAM, dark=b.dark_frame(4), truth=true)
    rec = cal.coefficients
    for j in modes:
        assert rec.get(j, 0.0) == pytest.approx(true.get(j, 0.0), abs=LAM / 50), j
    assert residual_rms(true, rec) < LAM / 40
    # The correction makes the spot sharper than it was, and the wrong-signed one makes it worse.
    point = b.point_image()
    zero = np.zeros(b.slm.resolution)

    def sharp(slm):
        f = simulate_spot_frames(b.system, slm.encode(zero, LAM)[None], aberration, point, rng=b.rng)
        return sharpness(f, 100.0)[0]

    before, after = sharp(b.slm), sharp(cal.apply_to_slm(b.slm))
    wrong = make_calibration({j: -c for j, c in rec.items()}, radius, LAM)
    # Marechal: the aberration (0.054 waves RMS) costs exp(-(2 pi 0.054)^2) = 0.89 of the peak.
    assert after > 1.1 * before and sharp(wrong.apply_to_slm(b.slm)) < 0.9 * before
    # The HDF5 file keeps the coefficients and comes back as a WavefrontCalibration.
    back = load(cal.save(tmp_path / "wf.h5"))
    assert isinstance(back, WavefrontCalibration)
    assert back.coefficients == pytest.approx(rec)
    assert back.truth["zernike_coefficients"][4] == pytest.approx(true[4])


def test_apply_to_slm_adds_the_correction_to_the_flatness(bench):
    b, radius = bench
    cal = make_calibration({4: 30e-9, 6: -20e-9}, radius, LAM)
    slm = b.slm.replace(flatness=np.full(b.slm.resolution, 0.25))
    new = cal.apply_to_slm(slm)
    expected = 0.25 - zernike_phase(slm.grid, {4: 30e-9, 6: -20e-9}, radius, LAM)
    np.testing.assert_allclose(new.flatness, expected, atol=1e-12)
    np.testing.assert_allclose(correction_phase(slm.grid, {4: 30e-9, 6: -20e-9}, radius, LAM), expected - 0.25)
    # What the panel then shows for a zero target is the correction, wrapped and quantised to 8 bits.
    shown = new.gray_to_phase(new.encode(np.zeros(slm.resolution), LAM), LAM)
    d = np.angle(np.exp(1j * (shown - expected)))
    assert np.max(np.abs(d)) <= np.pi / 255 + 1e-9
    with pytest.raises(ValueError, match="phase SLM"):
        cal.apply_to_slm(b.slm.replace(mode="amplitude"))
    assert cal.apply_to_config(b.config).slm.flatness is not None


def test_iterative_refinement_adds_previous_coefficients(bench):
    b, radius = bench
    first = make_calibration({4: 10e-9}, radius, LAM, metadata={"passes": 1})
    frames = gaussian_spots(3.0 * np.exp(0.5 * 4e13 * (np.linspace(-1e-7, 1e-7, 5) + 5e-9) ** 2))
    cal = calibrate_wavefront(frames, [4] * 5, np.linspace(-1e-7, 1e-7, 5), radius, LAM, previous=first)
    assert cal.coefficients[4] == pytest.approx(15e-9, abs=0.5e-9)
    assert cal.metadata["passes"] == 2


# -- phase diversity ---------------------------------------------------------------------------------
def test_psf_model_is_the_airy_pattern():
    """No aberration: |2 J1(v) / v|^2 with v = 2 pi R r / (lambda f) (point samples on the camera)."""
    from scipy.special import j1

    f, pc, n = 0.25, 8e-6, 64
    d_fourier = LAM * f / (2 * n * pc)
    radius = 20.3 * d_fourier
    psf = psf_model({}, [{}], radius, LAM, f, pc, (n, n))[0]
    r = (np.arange(n) - n // 2) * pc
    v = 2 * np.pi * radius * np.abs(r) / (LAM * f)
    airy = np.where(v > 0, (2 * j1(np.maximum(v, 1e-12)) / np.maximum(v, 1e-12)) ** 2, 1.0)
    row = psf[n // 2] / psf[n // 2, n // 2]
    np.testing.assert_allclose(row[n // 2 - 8:n // 2 + 9], airy[n // 2 - 8:n // 2 + 9], atol=0.01)
    assert psf.sum() == pytest.approx(1.0)


def test_psf_model_twin_image_ambiguity():
    """W(u) and -W(-u) give the same in-focus PSF (even modes flip sign, odd modes keep it); a
    defocus diversity tells them apart, which is why phase diversity needs two different frames."""
    args = (0.3e-3, LAM, 0.02, 8e-6, (32, 32))  # pupil radius of 12 model samples
    w, twin = {4: 30e-9, 7: 20e-9}, {4: -30e-9, 7: 20e-9}
    np.testing.assert_allclose(psf_model(w, [{}], *args), psf_model(twin, [{}], *args), atol=1e-12)
    a, b = psf_model(w, [{4: LAM / 8}], *args), psf_model(twin, [{4: LAM / 8}], *args)
    assert np.abs(a - b).max() > 0.1 * a.max()
    with pytest.raises(ValueError, match="different diversities"):
        fit_phase_diversity(np.ones((2, 32, 32)), [{}, {4: 0.0}], [4], *args[:4])
    with pytest.raises(ValueError, match="covers only"):
        psf_model(w, [{}], 1e-6, *args[1:])


def test_phase_diversity_on_the_bench():
    radius = 0.3 * 32 * 8e-6
    b = SimulatedBench(bench_config(64, wavelength=LAM, fourier_aperture=radius), seed=4)
    b.set_exposure(b.uniform_frame(0), b.point_image(), peak=0.6)
    true = {4: 0.04 * LAM, 5: -0.03 * LAM, 7: 0.02 * LAM, 9: -0.02 * LAM}
    aberration = zernike_phase(b.system.fourier_grid, true, radius, LAM)
    divs = [{}, {4: LAM / 8}, {4: -LAM / 8}]
    slm_frames = np.stack([b.slm.encode(p, LAM) for p in diversity_phases(b.slm.grid, divs, radius, LAM)])
    frames = simulate_spot_frames(b.system, slm_frames, aberration, b.point_image(), rng=b.rng)
    dark = b.dark_frame(4)
    modes = [3, 4, 5, 6, 7, 8, 9]
    cal = calibrate_wavefront_diversity(frames, divs, modes, radius, LAM, b.config.f2, b.camera.pixel_pitch,
                                        dark=dark, truth=true)
    for j in modes:
        assert cal.coefficients.get(j, 0.0) == pytest.approx(true.get(j, 0.0), abs=LAM / 100), j
    assert cal.metadata["fit_residual"] < 0.1
    # A camera pitch 20 % off (a wrong registration) no longer fits: the errors exceed the tolerance.
    bad = fit_phase_diversity(frames, divs, modes, radius, LAM, b.config.f2, 1.2 * b.camera.pixel_pitch, dark)
    assert bad["residual"] > 2 * cal.metadata["fit_residual"]
    assert max(abs(bad["coefficients"][j] - true.get(j, 0.0)) for j in modes) > LAM / 100
