"""Shared calibration infrastructure: Calibration files, frame loading, the simulated bench, the example helpers."""
from __future__ import annotations

import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

import calib
from calib import Calibration, SimulatedBench, apply_all, bench_config, load, load_frames
from optics4f.system import SystemConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from _calib_common import Report  # noqa: E402


class _Shift(Calibration):
    kind: str = "test_shift"

    def apply_to_config(self, config):
        return config.replace(f2=config.f2 * self.values["factor"])


def test_round_trip_units_truth_metadata(tmp_path):
    c = Calibration(kind="thing", values={"a": 1.5, "b": np.arange(4.0), "flag": True}, units={"a": "m", "b": "rad",
                    "flag": "1"}, truth={"a": 1.4}, metadata={"wavelength": 633e-9, "probe": {"period": 8}})
    p = c.save(tmp_path / "c.h5")
    with h5py.File(p) as f:
        assert f.attrs["format"] == "optics4f" and f["calibration"].attrs["kind"] == "thing"
        assert f["calibration/values/a"].attrs["units"] == "m"
        assert "software_version" in f.attrs
    b = load(p)
    assert type(b) is Calibration and b.kind == "thing"
    assert b["a"] == 1.5 and b.units["b"] == "rad"
    np.testing.assert_array_equal(b["b"], np.arange(4.0))
    assert b.metadata["probe"]["period"] == 8
    t, r, e = b.errors()["a"]
    assert (t, r) == (1.4, 1.5) and e == pytest.approx(0.1)
    with pytest.raises(FileExistsError, match="overwrite"):
        c.save(p)
    c.save(p, overwrite=True)
    with pytest.raises(KeyError, match="has no value 'zz'"):
        b["zz"]


def test_subclass_kind_registry_and_apply(tmp_path):
    c = _Shift(values={"factor": 2.0}, units={"factor": "1"})
    assert c.kind == "test_shift" and calib.KINDS["test_shift"] is _Shift
    assert isinstance(load(c.save(tmp_path / "s.h5")), _Shift)
    cfg = SystemConfig()
    assert apply_all(cfg, [c, c]).f2 == pytest.approx(4 * cfg.f2)
    base = Calibration(values={}, units={})
    assert base.apply_to_config(cfg) is cfg and base.apply_to_slm(cfg.slm) is cfg.slm
    with pytest.raises(TypeError, match="Calibration objects"):
        apply_all(cfg, ["file.h5"])


def test_validation_errors(tmp_path):
    with pytest.raises(ValueError, match="units are missing for \\['a'\\]"):
        Calibration(values={"a": 1.0}, units={})
    with pytest.raises(TypeError, match="values\\['a'\\]"):
        Calibration(values={"a": object()}, units={"a": "1"})
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "none.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        load(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="not an optics4f calibration"):
        load(tmp_path / "other.h5")


def test_load_frames_sources(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4096, (3, 6, 5)).astype(np.uint16)
    np.save(tmp_path / "f.npy", a)
    pages = [Image.fromarray(x) for x in a]
    pages[0].save(tmp_path / "f.tif", save_all=True, append_images=pages[1:])
    Image.fromarray(a[0]).save(tmp_path / "f.png")
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["g/frames"] = a
    for src in (a, list(a), tmp_path / "f.npy", str(tmp_path / "f.tif"), tmp_path / "f.h5",
                f"{tmp_path / 'f.h5'}:/g/frames"):
        out = load_frames(src)
        assert out.dtype == np.float64 and out.shape == (3, 6, 5)
        np.testing.assert_array_equal(out, a)  # 16-bit values kept exactly
    np.testing.assert_array_equal(load_frames(tmp_path / "f.png")[0], a[0])
    np.testing.assert_array_equal(load_frames([tmp_path / "f.png", a[1]]), a[:2])


def test_load_frames_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_frames(tmp_path / "missing.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="not a readable image"):
        load_frames(tmp_path / "bad.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ValueError, match="colour image"):
        load_frames(tmp_path / "rgb.png")
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["a"], f["b"] = np.zeros((2, 2)), np.zeros((2, 2))
    with pytest.raises(ValueError, match="name one with dataset"):
        load_frames(tmp_path / "two.h5")
    with pytest.raises(ValueError, match="different shapes"):
        load_frames([np.zeros((2, 2)), np.zeros((3, 3))])
    with pytest.raises(ValueError, match="unknown frame file type"):
        (tmp_path / "x.txt").write_text("1")
        load_frames(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="NaN"):
        load_frames(np.full((2, 2), np.nan))


def test_bench_geometry_noise_and_exposure():
    bench = SimulatedBench(bench_config(64), seed=7)
    cfg = bench.config
    # one SLM pixel = 2 Fourier samples of lambda f1 / (M d)
    assert bench.system.geometry.slm_factor == (2, 2)
    assert bench.order_spacing == pytest.approx(64.0)
    # a binary pi grating of period 8 puts its first orders 64 / 8 = 8 camera pixels from the DC
    frame = np.zeros(bench.slm.resolution, np.uint8)
    x = np.arange(64) - 32
    frame[:, (x % 8) >= 4] = 128  # about pi on the default 255-level panel
    point = bench.point_image()
    bench.set_exposure(frame, point, peak=0.5)
    mean = bench.record(frame, point, noise=False)[0] - cfg.camera.offset
    peaks = np.argwhere(mean > 0.5 * mean.max())
    assert sorted(map(tuple, peaks)) == [(32, 24), (32, 40)]
    # exposure: the brightest pixel collects half the full well
    assert mean.max() == pytest.approx(0.5 * cfg.camera.full_well * cfg.camera.adu_per_electron, rel=2e-3)
    # noise is seeded and realistic (shot noise ~ sqrt(N))
    a = SimulatedBench(bench_config(64), seed=3).record(frame, point)
    b = SimulatedBench(bench_config(64), seed=3).record(frame, point)
    np.testing.assert_array_equal(a, b)
    dark = bench.dark_frame(16)
    assert dark.mean() == pytest.approx(cfg.camera.offset, abs=0.2)


def test_report_exit_codes():
    rep = Report("t").add("x", 1.0, 1.05, 0.1).add("y", 2.0, 2.1, 0.01, relative=True)
    assert not rep.ok and rep.exit_code(check=True) == 1 and rep.exit_code(check=False) == 0
    assert "NO" in rep.table()
    assert Report("t").add("x", 1.0, 1.05, 0.1).exit_code(check=True) == 0
