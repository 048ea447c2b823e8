"""SLM frame file formats: exact round trips, container modes, vendor layouts, LUT files."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from optics4f.devices.presets import slm_preset
from optics4f.devices.slm import SLM

from nets.export import formats as F


@pytest.fixture
def frames(rng):
    return {"8": rng.integers(0, 256, (6, 9)).astype(np.uint8),
            "10": rng.integers(0, 1024, (6, 9)).astype(np.uint16),
            "12": rng.integers(0, 4096, (6, 9)).astype(np.uint16),
            "bin": rng.integers(0, 2, (6, 9)).astype(np.uint8)}


def test_png_8bit_round_trip_is_exact_and_8bit(tmp_path, frames):
    a = frames["8"]
    F.write_png(tmp_path / "a.png", a, bit_depth=8, metadata={"bit_depth": 8, "slm": "x"})
    with Image.open(tmp_path / "a.png") as img:
        assert img.mode == "L" and img.size == (9, 6)  # PIL size is (width, height)
    b = F.read_png(tmp_path / "a.png")
    assert b.dtype == np.uint8 and np.array_equal(a, b)
    assert F.png_metadata(tmp_path / "a.png") == {"bit_depth": 8, "slm": "x"}


@pytest.mark.parametrize("bits", ["10", "12"])
def test_png_16bit_keeps_raw_levels(tmp_path, frames, bits):
    a = frames[bits]
    a[0, 0] = 2 ** int(bits) - 1  # the top level stays the top level, not rescaled to 65535
    F.write_png(tmp_path / "a.png", a, bit_depth=int(bits))
    with Image.open(tmp_path / "a.png") as img:
        assert img.mode.startswith("I;16")
    b = F.read_png(tmp_path / "a.png")
    assert b.dtype == np.uint16 and np.array_equal(a, b) and b.max() == 2 ** int(bits) - 1


def test_bmp_8bit_round_trip_and_refuses_deep_frames(tmp_path, frames):
    F.write_bmp(tmp_path / "a.bmp", frames["8"])
    assert np.array_equal(F.read_bmp(tmp_path / "a.bmp"), frames["8"])
    with pytest.raises(ValueError, match="'png'"):
        F.write_bmp(tmp_path / "b.bmp", frames["10"], bit_depth=10)
    assert not (tmp_path / "b.bmp").exists()


def test_santec_csv_layout_and_round_trip(tmp_path, frames):
    a = frames["10"]
    F.write_santec_csv(tmp_path / "a.csv", a)
    rows = list(csv.reader(open(tmp_path / "a.csv")))
    assert rows[0] == ["Y/X"] + [str(i) for i in range(9)]  # header: X indices
    assert [r[0] for r in rows[1:]] == [str(i) for i in range(6)]  # first column: Y index
    assert [int(v) for v in rows[3][1:]] == a[2].tolist()
    assert np.array_equal(F.read_santec_csv(tmp_path / "a.csv"), a)


def test_bmp1_round_trip_and_binary_check(tmp_path, frames):
    F.write_bmp1(tmp_path / "a.bmp", frames["bin"])
    with Image.open(tmp_path / "a.bmp") as img:
        assert img.mode == "1"
    assert np.array_equal(F.read_bmp1(tmp_path / "a.bmp"), frames["bin"])
    with pytest.raises(ValueError, match="only 0 and 1"):
        F.write_bmp1(tmp_path / "b.bmp", frames["8"] | 2)


def test_rgb24_bit_plane_order_is_ti_dlp():
    """Frame i alone lights bit i % 8 of G (i < 8), R (8..15), B (16..23)."""
    expect = [(1, b) for b in range(8)] + [(0, b) for b in range(8)] + [(2, b) for b in range(8)]
    for i, (c, bit) in enumerate(expect):
        fr = np.zeros((24, 2, 3), np.uint8)
        fr[i, 1, 2] = 1
        rgb = F.pack_rgb24(fr)
        want = np.zeros(3, np.uint8)
        want[c] = 1 << bit
        assert np.array_equal(rgb[1, 2], want), i
        assert not rgb[0].any()


def test_rgb24_round_trip_partial_stack(tmp_path, rng):
    fr = rng.integers(0, 2, (11, 5, 7)).astype(np.uint8)
    F.write_rgb24(tmp_path / "p.bmp", fr)
    with Image.open(tmp_path / "p.bmp") as img:
        assert img.mode == "RGB"
    assert np.array_equal(F.read_rgb24(tmp_path / "p.bmp", 11), fr)
    assert not F.read_rgb24(tmp_path / "p.bmp", 24)[11:].any()  # unused planes stay dark
    with pytest.raises(ValueError, match="24"):
        F.pack_rgb24(np.zeros((25, 2, 2), np.uint8))


def test_writers_refuse_overwrite_and_float_frames(tmp_path, frames):
    p = tmp_path / "a.png"
    F.write_png(p, frames["8"])
    before = p.read_bytes()
    with pytest.raises(FileExistsError):
        F.write_png(p, frames["8"] // 2)
    assert p.read_bytes() == before
    F.write_png(p, frames["8"] // 2, overwrite=True)
    assert np.array_equal(F.read_png(p), frames["8"] // 2)
    with pytest.raises(TypeError, match="integer gray levels"):
        F.write_png(tmp_path / "f.png", frames["8"].astype(float))
    with pytest.raises(ValueError, match="bit_depth=8"):
        F.write_png(tmp_path / "g.png", frames["10"], bit_depth=8)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.png"]  # no temporary files left


def test_dispatch_covers_every_format(tmp_path, frames):
    for fmt, a in (("png", frames["12"]), ("bmp", frames["8"]), ("csv", frames["10"]), ("bmp1", frames["bin"])):
        F.write_frame(tmp_path / f"x_{fmt}{F.FORMATS[fmt]}", a, fmt)
        assert np.array_equal(F.read_frame(tmp_path / f"x_{fmt}{F.FORMATS[fmt]}", fmt), a), fmt
    with pytest.raises(ValueError, match="unknown frame format"):
        F.write_frame(tmp_path / "y.tif", frames["8"], "tif")


def test_lut_file_text_and_round_trip(tmp_path):
    t = np.array([0, 4, 8, 1019])
    F.write_lut_file(tmp_path / "l.txt", t)
    assert (tmp_path / "l.txt").read_text() == "0 0\n1 4\n2 8\n3 1019\n"
    assert np.array_equal(F.read_lut_file(tmp_path / "l.txt"), t)
    (tmp_path / "bad.txt").write_text("0 1\n2 3\n")
    with pytest.raises(ValueError, match="first column"):
        F.read_lut_file(tmp_path / "bad.txt")


def test_linearizing_lut_linear_panel_closed_form():
    # Santec 10 bit, 2 pi at level 1023: input i -> round(1023 i / 256), for either sign
    want = np.floor(1023 * np.arange(256) / 256 + 0.5).astype(int)
    assert np.array_equal(F.linearizing_lut(slm_preset("santec-slm-200")), want)
    assert np.array_equal(F.linearizing_lut(slm_preset("santec-slm-200", sign=1)), want)


def test_linearizing_lut_measured_table_matches_brute_force():
    g = np.arange(256)
    lut = -2.2 * np.pi * (g / 255) ** 1.3  # measured, nonlinear, decreasing, more than 2 pi
    slm = SLM(resolution=(4, 4), lut=lut)
    t = F.linearizing_lut(slm, 64)
    want_phase = lut[0] - 2 * np.pi * np.arange(64) / 64
    brute = np.argmin(np.abs(lut[None, :] - want_phase[:, None]), axis=1)  # nearest level, no wrap needed
    assert np.array_equal(t, brute)
    assert np.all(np.diff(t) > 0)
