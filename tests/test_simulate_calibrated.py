"""A bench with injected errors, uncalibrated vs calibrated (nets.inference.calibrated, CLI)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from calib.base import apply_all  # noqa: E402
from calib.bench_errors import measure_calibrations, truth_calibrations  # noqa: E402
from nets.cli import main  # noqa: E402
from optics4f.system.bench_errors import BenchErrors, aperture_radius, parse_bench_errors, true_system  # noqa: E402
from nets.inference.optical import student_system  # noqa: E402
from nets.inference.simulate import DEFAULT_MODEL, load_student  # noqa: E402

LAM = 532e-9


@pytest.fixture(scope="module")
def nominal():
    """The embedded student's nominal bench (8-bit linear phase panel, 2 pi at 255, 384 x 384 px)."""
    student, _ = load_student(DEFAULT_MODEL)
    return student_system(student)


def _wrapped_rms(a, b):
    return float(np.sqrt(np.mean(np.angle(np.exp(1j * (a - b))) ** 2)))


def test_parse_spec_values_and_errors():
    e = parse_bench_errors(" lut_gamma=1.3, gray_2pi=230,z4=40e-9,z11=-5e-9 ")
    assert (e.lut_gamma, e.gray_2pi, e.zernike) == (1.3, 230.0, {4: 40e-9, 11: -5e-9})
    with pytest.raises(ValueError, match="unknown key 'lut_gama'.*lut_gamma"):
        parse_bench_errors("lut_gama=1.3")
    with pytest.raises(ValueError, match="gray_2pi='abc'.*number"):
        parse_bench_errors("gray_2pi=abc")
    with pytest.raises(ValueError, match="not key=value"):
        parse_bench_errors("z4")
    with pytest.raises(ValueError, match="at least one error"):
        parse_bench_errors(" , ")
    with pytest.raises(ValueError, match="lut_gamma must be in"):
        parse_bench_errors("lut_gamma=-1")


def test_cli_bad_spec_names_the_key(capsys):
    with pytest.raises(SystemExit, match="unknown key 'zz4'"):
        main(["simulate", "--bench-errors", "zz4=1e-9", "--limit", "5", "--no-figures"])
    with pytest.raises(SystemExit, match="--calibrate needs --bench-errors"):
        main(["simulate", "--calibrate", "--limit", "5"])


def test_true_panel_response_is_the_power_law(nominal):
    """phi(g) = -2 pi (g / 230)^1.3 on the true panel, read through the SLM's own lookup."""
    bench = true_system(nominal, parse_bench_errors("lut_gamma=1.3,gray_2pi=230"))
    g = np.array([0, 57, 115, 230, 255])
    frame = np.zeros(bench.slm.resolution, np.uint8)
    frame[0, :5] = g
    shown = bench.slm.gray_to_phase(frame)[0, :5]
    np.testing.assert_allclose(shown, -2 * np.pi * (g / 230.0) ** 1.3, rtol=0, atol=1e-12)
    # no LUT error: the nominal linear law is kept (2 pi at 255, gray up = phase down)
    flat = true_system(nominal, BenchErrors(zernike={4: 1e-9})).slm
    np.testing.assert_allclose(flat.gray_to_phase(frame)[0, :5] - flat.surface[0, :5], -2 * np.pi * g / 255.0,
                               atol=1e-12)


def test_surface_error_has_the_zernike_rms_and_sign(nominal):
    c4, c5 = 40e-9, 30e-9
    slm = true_system(nominal, BenchErrors(zernike={4: c4, 5: c5})).slm
    r = aperture_radius(nominal)
    assert r == pytest.approx(0.5 * 384 * 8e-6)  # the panel covers the Fourier grid exactly
    y, x = np.meshgrid(slm.grid.y(), slm.grid.x(), indexing="ij")
    inside = np.hypot(x, y) <= r
    rms = np.sqrt(np.mean(slm.surface[inside] ** 2))
    assert rms == pytest.approx(2 * np.pi / LAM * np.hypot(c4, c5), rel=0.01)  # unit-RMS Zernikes
    assert np.all(slm.surface[~inside] == 0)
    cy, cx = (n // 2 for n in slm.resolution)  # r = 0: Z4 = sqrt(3)(2 r^2 - 1) = -sqrt(3), Z5 = 0
    assert slm.surface[cy, cx] == pytest.approx(-np.sqrt(3) * 2 * np.pi * c4 / LAM, rel=1e-12)


def test_calibrated_export_shows_the_wanted_phase_on_the_true_panel(nominal):
    """Phases encoded with the calibrated export SLM and shown by the erroneous panel land within the
    8-bit quantisation (step <= 0.04 rad -> rms ~0.012); the nominal encoding is far off."""
    errors = parse_bench_errors("lut_gamma=1.3,gray_2pi=230,z4=40e-9,z5=30e-9")
    bench = true_system(nominal, errors).slm
    calibrated = apply_all(nominal, truth_calibrations(nominal, errors)).slm
    target = np.random.default_rng(4).uniform(-np.pi, np.pi, nominal.slm.resolution)
    err_cal = _wrapped_rms(bench.gray_to_phase(calibrated.encode(target, LAM), LAM), target)
    err_nom = _wrapped_rms(bench.gray_to_phase(nominal.slm.encode(target, LAM), LAM), target)
    assert err_cal < 0.02
    assert err_nom > 0.5


def test_measured_lut_matches_the_injected_response(nominal):
    """The split-screen routine on the simulated erroneous panel recovers the true table."""
    (cal,) = measure_calibrations(nominal, parse_bench_errors("lut_gamma=1.3,gray_2pi=230"))
    truth = -2 * np.pi * (np.arange(256) / 230.0) ** 1.3
    assert np.sqrt(np.mean((cal.values["lut"] - truth) ** 2)) < 0.03  # measured 0.008 rad
    assert cal.values["gray_2pi"] == pytest.approx(230, abs=2)


def test_cli_lut_error_lowers_accuracy_and_calibration_recovers_it(tmp_path, nominal, capsys):
    """End to end on 200 test images of the embedded student, the calibration file built from the
    known truth. Measured (noise seed 0): error-free 0.965, uncalibrated 0.835, calibrated 0.960;
    seeds 1-3 give 0.96-0.97, 0.825-0.835, 0.955-0.96. The runs see the same images (paired), so the
    12.5-point gain is far above the binomial scatter of one run (sqrt(0.84 * 0.16 / 200) = 2.6
    points): the margins below (8 points lost, 8 gained, calibrated within 2 points of the error-free
    bench) leave room for noise while failing if the calibration were not applied to the export, or
    applied to the bench instead (then the bench would be corrected twice)."""
    errors = parse_bench_errors("lut_gamma=1.3,gray_2pi=230")
    files = [c.save(tmp_path / f"{c.kind}.h5") for c in truth_calibrations(nominal, errors)]
    report = tmp_path / "report.json"
    rc = main(["simulate", "--bench-errors", "lut_gamma=1.3,gray_2pi=230", "--calibration", *map(str, files),
               "--limit", "200", "--report", str(report), "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "optical, uncalibrated" in out and "recovered by calibrating" in out
    r = json.loads(report.read_text())
    assert r["n_images"] == 200 and r["calibrations"] == ["lut"]
    assert r["bench_errors"] == {"lut_gamma": 1.3, "gray_2pi": 230.0, "zernike": {}}
    ref, unc, cal = r["error_free_accuracy"], r["uncalibrated_accuracy"], r["calibrated_accuracy"]
    assert ref >= r["digital_accuracy"] - 0.02
    assert unc <= ref - 0.08
    assert cal >= unc + 0.08
    assert cal >= ref - 0.02
    assert r["recovered_fraction"] == pytest.approx((cal - unc) / (ref - unc))
    assert r["recovered_fraction"] > 0.8


def test_no_recovered_fraction_without_an_accuracy_gap(capsys):
    """Errors that cost no image (here none at all): no fraction is made up (None, n/a printed)."""
    from nets.inference.calibrated import compare, format_comparison

    r = compare(None, BenchErrors(), calibrations=[], limit=20)
    assert r.calibrated_accuracy is None and r.recovered_fraction is None
    assert r.uncalibrated_accuracy == r.error_free_accuracy
    r = dataclasses.replace(r, calibrated_accuracy=r.error_free_accuracy, calibrations=["lut"])
    assert "n/a" in format_comparison(r)


def test_measured_wavefront_matches_the_injected_surface(nominal):
    """The Zernike sweep on the simulated erroneous panel (one pass, modes 3-5) recovers the
    injected 50 nm RMS to a residual of 5.0 nm (measured; bound 12 nm), and the correction it puts
    into the SLM's flatness leaves 0.10 of the surface's RMS phase (bound 0.3; a wrong sign gives 2)."""
    from calib.wavefront import residual_rms

    errors = BenchErrors(zernike={4: 40e-9, 5: 30e-9})
    (cal,) = measure_calibrations(nominal, errors, modes=(3, 4, 5), passes=1)
    assert cal.kind == "wavefront"
    assert residual_rms(errors.zernike, cal.coefficients) < 12e-9
    flat = cal.apply_to_slm(nominal.slm).flatness + true_system(nominal, errors).slm.surface
    assert np.sqrt(np.mean(flat**2)) < 0.3 * np.sqrt(np.mean(true_system(nominal, errors).slm.surface ** 2))


def test_cli_calibrate_measures_the_lut_and_recovers_the_accuracy(tmp_path, capsys):
    """``--calibrate``: the LUT measured by the split-screen routine on the erroneous panel, applied to
    the export. Measured (200 images, seed 0): uncalibrated 0.835, calibrated 0.965; margins as above."""
    report = tmp_path / "r.json"
    assert main(["simulate", "--bench-errors", "lut_gamma=1.3,gray_2pi=230", "--calibrate", "--limit", "200",
                 "--report", str(report), "--out", str(tmp_path)]) == 0
    r = json.loads(report.read_text())
    assert r["calibration_methods"] == ["split_screen"]
    assert r["calibrated_accuracy"] >= r["uncalibrated_accuracy"] + 0.08
    assert r["calibrated_accuracy"] >= r["error_free_accuracy"] - 0.02
