"""Vendor files: correction images (8/16-bit BMP/PNG), LUT text tables, Santec CSV, and slmsuite's
phase <-> gray convention and phase files, checked against slmsuite itself."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from optics4f.io.vendor import (load_flatness, lut_table, read_correction_image, read_lut_text,
                                read_santec_csv_phase, read_slmsuite_phase, slmsuite_gray_to_phase,
                                slmsuite_phase_to_gray, write_correction_image, write_slmsuite_phase)

TWO_PI = 2 * np.pi


def _pattern(shape=(48, 64)):
    """A known correction: defocus + astigmatism + tilt, several waves peak to valley (rad)."""
    y, x = np.mgrid[:shape[0], :shape[1]]
    y, x = (y - shape[0] / 2) / shape[0], (x - shape[1] / 2) / shape[1]
    return 9.0 * (x**2 + y**2) + 4.0 * (x**2 - y**2) + 2.5 * x


def _wrapped(a):
    return np.abs(np.angle(np.exp(1j * a)))


@pytest.mark.parametrize("suffix, bits, gray_2pi, sign", [(".bmp", 8, None, -1), (".png", 8, 205, -1),
                                                          (".png", 16, 1000, 1), (".tif", 16, None, -1)])
def test_correction_image_round_trip_within_one_gray_level(tmp_path, suffix, bits, gray_2pi, sign):
    phi = _pattern()
    p = write_correction_image(tmp_path / f"c{suffix}", phi, gray_2pi=gray_2pi, bit_depth=bits, sign=sign)
    back = read_correction_image(p, gray_2pi=gray_2pi, sign=sign, bit_depth=bits)
    level = TWO_PI / (2**bits if gray_2pi is None else gray_2pi)
    assert _wrapped(back - phi).max() <= 0.5 * level + 1e-9  # rounding: half a level
    assert _wrapped(back - phi).max() > 0  # it did quantise


def test_vendor_bmp_written_by_another_program(tmp_path):
    """An 8-bit gray BMP made with Pillow alone (as vendor software writes it), read as the vendor states:
    2 pi at gray 205 at 633 nm, used at 532 nm: phase = -2 pi g / 205 * 633 / 532."""
    g = np.arange(48 * 64).reshape(48, 64) % 256
    Image.fromarray(g.astype(np.uint8), mode="L").save(tmp_path / "flat.bmp")
    phi = read_correction_image(tmp_path / "flat.bmp", gray_2pi=205, vendor_wavelength=633e-9, wavelength=532e-9)
    np.testing.assert_allclose(phi, -TWO_PI * g / 205 * 633 / 532, rtol=1e-12)
    # the same through the file spec the export command line takes
    spec = f"{tmp_path / 'flat.bmp'}:gray_2pi=205,wavelength=633e-9"
    np.testing.assert_allclose(load_flatness(spec, 532e-9), phi, rtol=1e-12)
    # a palette BMP with a gray ramp (what some drivers save) reads the same gray levels
    Image.fromarray(g.astype(np.uint8), mode="L").convert("P").save(tmp_path / "pal.bmp")
    np.testing.assert_allclose(read_correction_image(tmp_path / "pal.bmp"), -TWO_PI * g / 256)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="one gray channel"):
        read_correction_image(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="key=value"):
        load_flatness(f"{tmp_path / 'flat.bmp'}:twopi=205")


def test_lut_text_tables(tmp_path):
    g = np.arange(0, 256, 17)
    g[-1] = 255
    phase = -2.1 * np.pi * (g / 255) ** 1.2
    text = "# measured at 633 nm\ngray, phase_rad\n" + "".join(f"{a}, {b:.12f}\n" for a, b in zip(g, phase))
    (tmp_path / "lut.csv").write_text(text)
    t = read_lut_text(tmp_path / "lut.csv")
    assert t["kind"] == "phase"
    full = lut_table(t, 256)
    assert full.shape == (256,) and full[0] == pytest.approx(0.0) and full[255] == pytest.approx(-2.1 * np.pi)
    np.testing.assert_allclose(full[g], phase, atol=1e-11)
    # within one gray level of the true response between the table's points
    true = -2.1 * np.pi * (np.arange(256) / 255) ** 1.2
    assert np.abs(full - true).max() < np.abs(np.diff(true)).max()
    (tmp_path / "deg.txt").write_text("".join(f"{a}\t{np.degrees(b):.10f}\n" for a, b in zip(g, phase)))
    np.testing.assert_allclose(lut_table(read_lut_text(tmp_path / "deg.txt", unit="deg"), 256), full, atol=1e-9)
    # a gray -> gray linearisation table (Meadowlark style) is recognised, and refused as a phase LUT
    (tmp_path / "lin.lut").write_text("".join(f"{i} {min(1023, 4 * i + 3)}\n" for i in range(256)))
    t2 = read_lut_text(tmp_path / "lin.lut")
    assert t2["kind"] == "gray" and t2["value"][10] == 43
    with pytest.raises(ValueError, match="gray -> gray"):
        lut_table(t2, 256)
    (tmp_path / "bad.txt").write_text("0 1 2\n1 2 3\n")
    with pytest.raises(ValueError, match="two"):
        read_lut_text(tmp_path / "bad.txt")


def test_santec_csv_correction(tmp_path):
    from nets.export.formats import write_santec_csv

    g = (np.arange(12 * 20).reshape(12, 20) * 7) % 1024
    write_santec_csv(tmp_path / "santec.csv", g)
    np.testing.assert_allclose(read_santec_csv_phase(tmp_path / "santec.csv"), -TWO_PI * g / 1024)
    np.testing.assert_allclose(load_flatness(tmp_path / "santec.csv"), -TWO_PI * g / 1024)


slmsuite = pytest.importorskip("slmsuite")


def _simulated_slm(shape, bits=8):
    from slmsuite.hardware.slms.simulated import SimulatedSLM

    return SimulatedSLM((shape[1], shape[0]), bitdepth=bits)


@pytest.mark.parametrize("bits", [8, 10])
def test_phase_to_gray_matches_slmsuite(bits):
    phi = _pattern() * 1.7 - 3.0
    slm = _simulated_slm(phi.shape, bits)
    slm.set_phase(phi.copy(), phase_correct=False)
    np.testing.assert_array_equal(slmsuite_phase_to_gray(phi, bits), np.asarray(slm.display))
    # the phase each gray shows, as slmsuite defines it
    g = np.arange(2**bits)
    np.testing.assert_allclose(slmsuite_gray_to_phase(g, bits), np.asarray(slm._gray2phase(g)), atol=1e-5)
    assert slmsuite_phase_to_gray(np.zeros((1, 1)), bits)[0, 0] == 2**bits - 1  # phase 0 on the top level


def test_slmsuite_phase_files_round_trip(tmp_path):
    phi = np.mod(_pattern(), TWO_PI).astype(np.float32)
    slm = _simulated_slm(phi.shape)
    slm.set_phase(phi.copy(), phase_correct=False)
    path = slm.save_phase(str(tmp_path), name="theirs")
    from slmsuite.holography.analysis.files import load_h5

    p, d = read_slmsuite_phase(path)
    data = load_h5(path)
    np.testing.assert_array_equal(p, data["phase"])  # what slmsuite stored (its realised phase)
    np.testing.assert_array_equal(d, data["display"])
    np.testing.assert_array_equal(d, slmsuite_phase_to_gray(p))  # the display of that phase, by our map
    ours = write_slmsuite_phase(tmp_path / "ours.h5", phi)
    slm2 = _simulated_slm(phi.shape)
    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    slm2.logger.logger.addHandler(handler)  # a LoggerAdapter around the logging.Logger
    slm2.load_phase(str(ours))
    logged = " ".join(r.getMessage() for r in records)
    assert "Loaded phase" in logged  # the handler sees slmsuite's log
    assert "does not match" not in logged  # slmsuite's own check of the display against the phase
    np.testing.assert_array_equal(np.asarray(slm2.display), slmsuite_phase_to_gray(phi))
    assert _wrapped(np.asarray(slm2.phase, dtype=np.float64) - phi).max() <= np.pi / 256 + 1e-5  # half a level
    import h5py

    with h5py.File(ours, "r+") as f:  # a display one level off: slmsuite's check does flag it
        f["display"][...] = (f["display"][()].astype(int) + 1) % 256
    records.clear()
    slm2.load_phase(str(ours))
    assert "does not match" in " ".join(r.getMessage() for r in records)


def test_vendor_correction_convention_matches_slmsuite(tmp_path):
    g = (np.arange(48 * 64).reshape(48, 64) * 5) % 256
    Image.fromarray(g.astype(np.uint8), mode="L").save(tmp_path / "corr.bmp")
    slm = _simulated_slm(g.shape)
    theirs = np.asarray(slm.load_vendor_phase_correction(str(tmp_path / "corr.bmp")))
    ours = read_correction_image(tmp_path / "corr.bmp", convention="slmsuite")
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_export_takes_a_vendor_flatness_bmp(tmp_path):
    """`optics4f export --flatness vendor.bmp` (it stopped with "'utf-8' codec can't decode byte" before):
    the sidecar's flatness is the vendor image's phase, and the frames carry it within one gray level."""
    torch = pytest.importorskip("torch")
    from nets.checkpoint import model_config, save_checkpoint
    from nets.cli import main
    from nets.export import read_export
    from nets.models import SCLCClassifier

    torch.manual_seed(0)
    m = SCLCClassifier(image_size=8, channels=(1,), kernel_sizes=3)
    save_checkpoint(tmp_path / "m.pt", m, {"model": model_config("sclc_classifier", image_size=8, channels=[1],
                                                                 kernel_sizes=3)})
    y, x = np.mgrid[:1080, :1920]
    g = ((x // 7 + y // 5) % 256).astype(np.uint8)  # a known gray pattern at the panel's resolution
    Image.fromarray(g, mode="L").save(tmp_path / "vendor_flatness.bmp")
    assert main(["export", str(tmp_path / "m.pt"), "--slm", "holoeye-pluto-2", "--out", str(tmp_path / "e"),
                 "--flatness", f"{tmp_path / 'vendor_flatness.bmp'}:gray_2pi=256,wavelength=532e-9"]) == 0
    b = read_export(tmp_path / "e")
    np.testing.assert_allclose(b.slm.flatness, -TWO_PI * g / 256, rtol=1e-12)
    shown = b.slm.replace(flatness=None).gray_to_phase(b.frames, 532e-9)
    err = _wrapped(shown - (b.phase + b.slm.flatness))
    assert err.max() <= TWO_PI / 255 * 0.5 + 1e-6


def test_export_in_slmsuite_conventions(tmp_path):
    """The frames of an optics4f export rewritten in slmsuite's convention are what slmsuite itself shows
    for the export's wanted phase; the optics4f frames differ (2 pi at 255, no one-level offset)."""
    torch = pytest.importorskip("torch")
    from nets.checkpoint import model_config, save_checkpoint
    from nets.cli import main
    from nets.export import read_export
    from nets.export.formats import read_png
    from nets.export.slmsuite import export_slmsuite

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "m.pt", _one_channel_student(), {"model": model_config(
        "sclc_classifier", image_size=8, channels=[1], kernel_sizes=3)})
    assert main(["export", str(tmp_path / "m.pt"), "--slm", "holoeye-pluto-2", "--out", str(tmp_path / "e"),
                 "--slmsuite", str(tmp_path / "s")]) == 0  # export's option writes slmsuite's files too
    b = read_export(tmp_path / "e")
    assert sorted(f.name for f in (tmp_path / "s").iterdir()) == ["frame_000.h5", "frame_000.png"]
    phase = np.mod(np.asarray(b.phase[0], dtype=np.float64), TWO_PI)
    slm = _simulated_slm(phase.shape)
    slm.set_phase(phase.copy(), phase_correct=False)
    np.testing.assert_array_equal(read_png(tmp_path / "s" / "frame_000.png"), np.asarray(slm.display))
    assert not np.array_equal(b.frames[0], np.asarray(slm.display))  # the conventions do differ
    with pytest.raises(FileExistsError, match="force"):
        export_slmsuite(tmp_path / "e", tmp_path / "s")


def _one_channel_student():
    from nets.models import SCLCClassifier

    return SCLCClassifier(image_size=8, channels=(1,), kernel_sizes=3)
