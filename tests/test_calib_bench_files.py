"""Calibration files know their bench: a calibration applied to another bench warns and names the
difference; `optics4f inspect` says what calibration, LUT, flatness and slmsuite files hold."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from calib import load
from calib.base import apply_all
from calib.bench import bench_config
from calib.benchinfo import BenchMismatchWarning, bench_differences, describe_bench
from calib.lut import LUTCalibration
from calib.registration import RegistrationCalibration


def _lut_cal(cfg):
    lut = -np.linspace(0, 7.0, 256)
    return LUTCalibration(values={"lut": lut, "wavelength": cfg.wavelength}, units={"lut": "rad", "wavelength": "m"},
                          uncertainty={"lut": np.full(256, 0.01)}, bench=describe_bench(cfg))


def test_calibration_records_its_bench_and_warns_elsewhere(tmp_path):
    measured = bench_config(128, wavelength=633e-9)
    cal = load(_lut_cal(measured).save(tmp_path / "lut.h5"))  # the bench survives the file
    assert cal.bench["wavelength"] == 633e-9 and cal.bench["slm"]["resolution"] == (128, 128)
    np.testing.assert_array_equal(cal.uncertainty["lut"], 0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_all(bench_config(128, wavelength=633e-9), [cal])  # same bench: silent
        apply_all(bench_config(64, wavelength=633e-9), [cal])  # a LUT does not depend on the panel size
    with pytest.warns(BenchMismatchWarning, match=r"wavelength: 6\.33e-07 m \(calibration\) vs 5\.32e-07 m"):
        apply_all(bench_config(128, wavelength=532e-9), [cal])
    reg = RegistrationCalibration(values={"A": np.eye(2) * 64, "b": np.zeros(2), "rotation": 0.0},
                                  units={"A": "px", "b": "px", "rotation": "rad"}, bench=describe_bench(measured))
    with pytest.warns(BenchMismatchWarning, match="camera.shape: 128x128 .* vs 64x64"):
        apply_all(bench_config(64, wavelength=633e-9), [reg])
    assert bench_differences({}, measured) == []  # nothing recorded: nothing to compare


def test_export_warns_about_a_calibration_from_another_bench(tmp_path):
    torch = pytest.importorskip("torch")
    from nets.checkpoint import model_config, save_checkpoint
    from nets.cli import main
    from nets.models import SCLCClassifier

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "m.pt", SCLCClassifier(image_size=8, channels=(1,), kernel_sizes=3),
                    {"model": model_config("sclc_classifier", image_size=8, channels=[1], kernel_sizes=3)})
    _lut_cal(bench_config(64, wavelength=633e-9, pitch=8e-6)).save(tmp_path / "lut.h5")
    with pytest.warns(BenchMismatchWarning, match="wavelength"):
        assert main(["export", str(tmp_path / "m.pt"), "--slm", "holoeye-pluto-2", "--out", str(tmp_path / "e"),
                     "--wavelength", "532e-9", "--calibration", str(tmp_path / "lut.h5")]) == 0


def test_inspect_reads_calibration_lut_flatness_and_slmsuite_files(tmp_path, capsys):
    from nets.cli import main
    from optics4f.io.vendor import write_correction_image, write_slmsuite_phase

    _lut_cal(bench_config(64, wavelength=633e-9)).save(tmp_path / "lut.h5")
    assert main(["inspect", str(tmp_path / "lut.h5")]) == 0
    out = capsys.readouterr().out
    assert "calibration (lut)" in out and "633 nm" in out and "sigma" in out
    (tmp_path / "phase.txt").write_text("gray phase\n0 0.0\n128 -3.5\n255 -7.0\n")
    assert main(["inspect", str(tmp_path / "phase.txt")]) == 0
    out = capsys.readouterr().out
    assert "gray -> phase" in out and "gray_2pi: 228.99" in out  # 2 pi at gray 128 + 127 (2 pi - 3.5) / 3.5
    np.save(tmp_path / "flat.npy", np.full((4, 6), 0.5))
    assert main(["inspect", str(tmp_path / "flat.npy")]) == 0
    assert "phase map (rad)" in capsys.readouterr().out
    write_correction_image(tmp_path / "flat.bmp", np.full((4, 6), -np.pi))
    assert main(["inspect", str(tmp_path / "flat.bmp")]) == 0
    assert "gray_range: [128, 128]" in capsys.readouterr().out
    write_slmsuite_phase(tmp_path / "s.h5", np.full((4, 6), 1.0))
    assert main(["inspect", str(tmp_path / "s.h5")]) == 0
    out = capsys.readouterr().out
    assert "slmsuite phase file" in out and "display_matches_phase: True" in out
