"""Simulated optical inference (nets.inference): physics of the chain, files, embedded model, CLI."""
from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nets.checkpoint import save_checkpoint  # noqa: E402
from nets.inference.optical import (HardwareSettings, OpticalStudent, auto_exposure, masks_on_grid,  # noqa: E402
                                    student_frames, student_masks, student_system)
from nets.inference.report import confusion_matrix, format_confusion, mean_iou  # noqa: E402
from nets.inference.simulate import DEFAULT_MODEL, export_student, simulate  # noqa: E402
from nets.models import SCLCClassifier, SCLCSegmenter, TeacherCNN  # noqa: E402

IDEAL = dict(slm_mode="complex", noise=False, camera_bits=None, pad=2.0)


def _student(cls=SCLCClassifier, **kw):
    torch.manual_seed(3)
    m = cls(in_channels=1, image_size=12, channels=(3,), kernel_sizes=5, **kw)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so the back end depends on the scale of features
        m(torch.rand(64, 1, 12, 12))
    return m.eval()


def _images(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 12, 12, generator=g)
    return torch.round(x * 255) / 255  # the display is 8-bit: exact gray levels


@pytest.mark.parametrize("binning", [1, 2])
def test_ideal_complex_slm_gives_the_students_own_features(binning):
    """Complex SLM, noiseless analogue camera: camera tiles -> electronics == student.camera(x).

    Catches a missing image inversion, a one-pixel offset of the crop, a wrong intensity scale
    (K) or a wrong tile order: the asymmetric random images make each one a large error."""
    m = _student(binning=binning)
    sysc = student_system(m, HardwareSettings(**IDEAL))
    frames, scale = student_frames(m, sysc)
    opt = OpticalStudent(m, sysc, frames, scale)
    x = _images()
    auto_exposure(opt, x, 0.5)
    logits, tiles = opt(x)
    with torch.no_grad():
        ref_f, ref_l = m.camera(x), m(x)
    f = opt.features(tiles)
    assert f.shape == ref_f.shape
    assert float((f - ref_f).norm() / ref_f.norm()) < 1e-5
    assert float((logits - ref_l).abs().max()) < 1e-3 * float(ref_l.abs().max())
    # without the inversion the features are far off (the test can fail)
    opt._iy, opt._ix = opt._iy[::-1].copy(), opt._ix[::-1].copy()
    assert float((opt.features(tiles) - ref_f).norm() / ref_f.norm()) > 0.1


def test_segmenter_goes_through_the_same_path():
    m = _student(SCLCSegmenter, n_classes=2, decoder_width=4)
    sysc = student_system(m, HardwareSettings(**IDEAL))
    frames, scale = student_frames(m, sysc)
    opt = OpticalStudent(m, sysc, frames, scale)
    x = _images()
    auto_exposure(opt, x, 0.5)
    logits, _ = opt(x)
    with torch.no_grad():
        ref = m(x)
    assert logits.shape == ref.shape == (6, 2, 12, 12)
    assert float((logits - ref).abs().max()) < 1e-3 * float(ref.abs().max())


def test_masks_on_grid_keeps_the_convolution():
    """The kernel of the student's masks, moved to a 2x larger grid, is the same compact kernel."""
    from optics4f.kernels import mask_to_kernel

    m = _student()
    small = student_masks(m)
    big = masks_on_grid(small, (40, 40))
    ks, kb = mask_to_kernel(small), mask_to_kernel(big)
    c = 20 - small.shape[-1] // 2
    assert np.allclose(kb[..., c:c + small.shape[-2], c:c + small.shape[-1]], ks, atol=1e-12)
    kb[..., c:c + small.shape[-2], c:c + small.shape[-1]] = 0
    assert np.abs(kb).max() < 1e-12


def test_double_phase_on_a_phase_slm_is_close_to_ideal():
    """8-bit phase-only SLM with double phase at pad 4: features within a few % of the ideal ones."""
    m = _student()
    sysc = student_system(m, HardwareSettings(noise=False, camera_bits=None))
    frames, scale = student_frames(m, sysc)
    assert frames.dtype == np.uint8 and frames.shape == (1,) + tuple(sysc.slm.resolution)
    opt = OpticalStudent(m, sysc, frames, scale)
    x = _images()
    auto_exposure(opt, x, 0.5)
    _, tiles = opt(x)
    with torch.no_grad():
        ref = m.camera(x)
    err = float((opt.features(tiles) - ref).norm() / ref.norm())
    assert 1e-4 < err < 0.05


def test_simulate_reads_the_exported_files(tmp_path):
    """simulate(frames=DIR) runs the frames of the PNG files: a changed PNG is refused (checksums)."""
    m = _student()
    path = tmp_path / "student.pt"
    save_checkpoint(path, m, {"model": {"arch": "sclc_classifier", "in_channels": 1, "image_size": 12,
                                        "channels": [3], "kernel_sizes": 5},
                              "train": {"task": "classify", "dataset": "digits", "image_size": 12, "seed": 0}})
    settings = HardwareSettings(noise=False, camera_bits=None)
    sysc = student_system(m, settings)
    manifest = export_student(m, sysc, tmp_path / "export")
    res = simulate(path, frames=tmp_path / "export", settings=settings, limit=40)
    frames, _ = student_frames(m, sysc)
    assert np.array_equal(res.optical.frames, frames)
    assert res.config["frames"] == str(tmp_path / "export")
    assert res.n_images == 40 and 0 <= res.optical_accuracy <= 1
    png = sorted((tmp_path / "export").glob("frame_*.png"))[0]
    from PIL import Image

    img = np.array(Image.open(png))
    img[0, 0] ^= 1
    Image.fromarray(img).save(png)
    with pytest.raises(ValueError, match="sha256|checksum"):
        simulate(path, frames=manifest, settings=settings, limit=10)


def test_bad_model_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        simulate(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable optics4f model"):
        simulate(junk)
    t = TeacherCNN(image_size=12, widths=(4,), hidden=0)
    tp = tmp_path / "teacher.pt"
    save_checkpoint(tp, t, {"model": {"arch": "teacher_cnn", "image_size": 12, "widths": [4], "hidden": 0},
                            "train": {"task": "classify", "dataset": "digits", "image_size": 12}})
    with pytest.raises(ValueError, match="SCLC student"):
        simulate(tp, limit=5)


def _card_numbers():
    text = (DEFAULT_MODEL.parent / "MODEL_CARD.md").read_text()

    def num(label):
        m = re.search(r"\| " + re.escape(label) + r" \| ([0-9.]+) \|", text)
        assert m, f"model card has no line for {label!r}"
        return float(m.group(1))

    return num("digital accuracy"), num("simulated optical accuracy (default bench)")


def test_embedded_model_reaches_its_model_card():
    """The shipped student, simulated on the default bench on the whole test split (through files)."""
    digital, optical = _card_numbers()
    res = simulate()
    assert res.n_images == 1000
    assert res.digital_accuracy == pytest.approx(digital, abs=1e-4)
    assert res.optical_accuracy == pytest.approx(optical, abs=0.01)
    assert res.optical_accuracy > 0.9
    c = np.asarray(res.confusion)
    assert c.sum() == 1000 and np.trace(c) == round(res.optical_accuracy * 1000)


def test_optical_accuracy_falls_with_fewer_bits_and_more_noise():
    base = simulate(limit=200)
    bits = simulate(limit=200, settings=HardwareSettings(slm_bits=2))
    noisy = simulate(limit=200, settings=HardwareSettings(full_well=30))
    assert bits.optical_accuracy < base.optical_accuracy - 0.1
    assert noisy.optical_accuracy < base.optical_accuracy - 0.1
    assert bits.digital_accuracy == base.digital_accuracy == noisy.digital_accuracy


def test_confusion_matrix_and_iou_against_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    assert np.array_equal(confusion_matrix(t, p, 4), metrics.confusion_matrix(t, p, labels=range(4)))
    assert mean_iou(p, t, 4) == pytest.approx(metrics.jaccard_score(t, p, average="macro"), rel=1e-12)
    txt = format_confusion(confusion_matrix(t, p, 4))
    assert txt.splitlines()[2].split()[0] == "0" and len(txt.splitlines()) == 6


def test_cli_default_runs_simulate_and_writes_report_and_figures(tmp_path, capsys):
    from nets.cli import DEFAULT_COMMAND, main

    assert DEFAULT_COMMAND == "simulate"
    assert main(["--limit", "60", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "simulated optical" in out and "confusion matrix" in out
    rep = json.loads((tmp_path / "report.json").read_text())
    for k in ("digital_accuracy", "optical_accuracy", "n_images", "config", "confusion"):
        assert k in rep
    assert rep["n_images"] == 60 and rep["config"]["hardware"]["slm_bits"] is None
    for name in ("input", "fourier_frame", "camera", "features"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_cli_sweep_writes_csv_and_png(tmp_path):
    from nets.cli import main

    assert main(["simulate", "--sweep", "slm_bits=1,8", "--sweep", "read_noise=5", "--seeds", "2", "--limit", "100",
                 "--out", str(tmp_path)]) == 0
    folder = tmp_path / "sweep_slm_bits_read_noise"
    rows = list(csv.DictReader(open(folder / "sweep.csv")))
    assert [(float(r["slm_bits (bit)"]), float(r["read_noise (e-)"])) for r in rows] == [(1.0, 5.0), (8.0, 5.0)]
    assert float(rows[0]["accuracy_mean (1)"]) < float(rows[1]["accuracy_mean (1)"]) - 0.2
    assert [int(r["seeds"]) for r in rows] == [2, 2] and all(float(r["accuracy_std (1)"]) >= 0 for r in rows)
    assert (folder / "sweep.png").stat().st_size > 1000
    assert (folder / "sweep.json").stat().st_size > 0
    with pytest.raises(SystemExit, match="unknown bench error 'colour'"):
        main(["simulate", "--sweep", "colour", "--out", str(tmp_path)])


def test_calibration_file_is_applied(tmp_path):
    """A measured (nonlinear) LUT, saved and loaded as a file, changes the frames the simulation makes,
    and the panel then shows the wanted phases: features stay close to the ideal ones."""
    lut_mod = pytest.importorskip("calib.lut")
    m = _student()
    path = tmp_path / "student.pt"
    save_checkpoint(path, m, {"model": {"arch": "sclc_classifier", "in_channels": 1, "image_size": 12,
                                        "channels": [3], "kernel_sizes": 5},
                              "train": {"task": "classify", "dataset": "digits", "image_size": 12, "seed": 0}})
    g = np.arange(256) / 255.0
    lut = -2 * np.pi * (0.7 * g + 0.3 * g ** 2) * 1.05  # monotonic, nonlinear, a bit beyond 2 pi
    cal = lut_mod.LUTCalibration(kind="lut", values={"lut": lut, "wavelength": 532e-9},
                                 units={"lut": "rad", "wavelength": "m"})
    cal.save(tmp_path / "lut.h5")
    settings = HardwareSettings(noise=False, camera_bits=None)
    plain = simulate(path, settings=settings, limit=20)
    from calib.base import load  # a file is read by calib; nets takes the object

    cald = simulate(path, settings=settings, limit=20, calibrations=[load(tmp_path / "lut.h5")])
    assert cald.config["calibrations"] == ["lut"]
    assert np.array_equal(cald.optical.system.slm.lut, lut)
    assert float((cald.optical.frames != plain.optical.frames).mean()) > 0.5
    x = plain.images[:8]
    with torch.no_grad():
        ref = m.camera(x)
    for r in (plain, cald):
        o = r.optical
        err = float((o.features(o.tiles(o.camera_frame(x))) - ref).norm() / ref.norm())
        assert err < 0.05


def test_simulate_runs_frames_from_optics4f_export(tmp_path):
    """The folder `optics4f export` writes (nets.export.export_model, a 1080p panel preset) runs as is."""
    export = pytest.importorskip("nets.export")
    from optics4f.devices import slm_preset

    m = _student()
    path = tmp_path / "student.pt"
    save_checkpoint(path, m, {"model": {"arch": "sclc_classifier", "in_channels": 1, "image_size": 12,
                                        "channels": [3], "kernel_sizes": 5},
                              "train": {"task": "classify", "dataset": "digits", "image_size": 12, "seed": 0}})
    export.export_model(path, slm_preset("holoeye-pluto-2"), tmp_path / "exp")
    bundle = export.read_export(tmp_path / "exp")
    res = simulate(path, frames=tmp_path / "exp", settings=HardwareSettings(noise=False, camera_bits=None), limit=20)
    assert res.optical.frames.shape == (1, 1080, 1920)
    assert np.array_equal(res.optical.frames, bundle.frames)
    assert res.config["system"]["slm"]["name"] == "holoeye-pluto-2"
    with pytest.raises(ValueError, match="exported from"):  # the embedded student is another model
        simulate(None, frames=tmp_path / "exp", limit=5)


def test_segmentation_model_reports_iou(tmp_path):
    """simulate() on a segmentation student: pixel accuracy and mean IoU, digital vs optical; with an
    ideal complex SLM and no noise the two agree."""
    torch.manual_seed(0)
    m = SCLCSegmenter(in_channels=1, image_size=16, n_classes=4, channels=(3,), kernel_sizes=3, decoder_width=4)
    with torch.no_grad():
        m(torch.rand(32, 1, 16, 16))
    m.eval()
    path = tmp_path / "seg.pt"
    save_checkpoint(path, m, {"model": {"arch": "sclc_segmenter", "in_channels": 1, "image_size": 16, "n_classes": 4,
                                        "channels": [3], "kernel_sizes": 3, "decoder_width": 4},
                              "train": {"task": "segment", "dataset": "synthetic-seg", "image_size": 16, "seed": 0}})
    res = simulate(path, settings=HardwareSettings(**IDEAL), limit=8, calibration_images=8)
    assert res.task == "segment" and "confusion" not in res.to_json()
    assert res.optical_miou == pytest.approx(res.digital_miou, abs=1e-3)
    assert res.optical_accuracy == pytest.approx(res.digital_accuracy, abs=1e-3)
    from nets.inference.report import format_table

    assert "mIoU" in format_table(res.to_json())
