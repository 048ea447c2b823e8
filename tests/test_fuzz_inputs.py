"""Bad inputs, as a careless or unlucky user gives them, across the public API and every CLI subcommand.

Each case asserts the error type and that the message names the argument (or flag, or file); unit
mix-ups must also suggest the SI value. Nothing here may pass silently or end in a raw traceback.
"""
from __future__ import annotations

import gzip
import math
import struct
import sys

import numpy as np
import pytest

import optics4f as o
from optics4f.devices.detector import Camera, photon_energy
from optics4f.devices.display import InputDisplay
from optics4f.devices.slm import SLM
from optics4f.system import SystemConfig
from optics4f.validate import InputError, SizeError, check_memory, integer, physical, shape2
from optics4f.zernike import zernike_phase

NAN, INF = float("nan"), float("inf")
LAM, D, F = 532e-9, 8e-6, 0.1


# -- the validation layer itself -----------------------------------------------------------------

@pytest.mark.parametrize("name, value, kind, suggestion", [
    ("wavelength", 532, "wavelength", "532e-9"),
    ("wavelength", 1.55, "wavelength", "1.55e-6"),
    ("pitch", 8, "pitch", "8e-6"),
    ("focal_length", 100, "focal_length", "100e-3"),
])
def test_unit_mixups_suggest_the_si_value(name, value, kind, suggestion):
    with pytest.raises(InputError, match=rf"{name}={value}.*did you mean {suggestion}"):
        physical(name, value, kind)


def test_physical_accepts_range_edges_and_signed_values():
    assert physical("wavelength", 100e-9) == 100e-9 and physical("wavelength", 20e-6) == 20e-6
    assert physical("f", -0.05, "focal_length", signed=True) == -0.05
    with pytest.raises(InputError, match="f=0"):
        physical("f", 0.0, "focal_length", signed=True)
    with pytest.raises(InputError, match="wavelength must be positive and finite"):
        physical("wavelength", NAN)


@pytest.mark.parametrize("value", [2.9, NAN, INF, "x", True, -1])
def test_integer_refuses_fractions_bools_and_out_of_range(value):
    with pytest.raises((InputError, TypeError), match="bits"):
        integer("bits", value, min=0)


def test_integer_and_shape_accept_whole_numbers():
    assert integer("n", 3.0) == 3 and integer("n", np.int64(4)) == 4 and integer("n", "5") == 5
    assert shape2("shape", 4) == (4, 4) and shape2("shape", (2.0, np.int32(5))) == (2, 5)


def test_memory_check_names_the_estimate():
    with pytest.raises(SizeError, match=r"huge thing needs about 1 EiB") as e:
        check_memory(2.0**60, "huge thing")
    assert isinstance(e.value, MemoryError) and isinstance(e.value, ValueError)
    check_memory(1024, "small")  # no error


# -- the core, devices and configuration ------------------------------------------------------------

def _camera_detect(**kw):
    cam = Camera(shape=(4, 4), pixel_pitch=D, noise=False, bit_depth=None)
    u = np.ones((4, 4), np.complex64)
    if kw.get("nan"):
        u[1, 2] = NAN
    return cam.detect(u, D, kw.get("wavelength", LAM))


CORE = [
    # (call, error type, words the message must hold)
    (lambda: o.Grid((2.9, 5), D), ValueError, "shape"),
    (lambda: o.Grid((0, 5), D), ValueError, "shape"),
    (lambda: o.Grid((4, 4), NAN), ValueError, "pitch"),
    (lambda: o.Grid((4, 4), 8), ValueError, "pitch=8.*8e-6"),
    (lambda: o.FourierLens((8, 8), D, 532, F), ValueError, "wavelength=532.*532e-9"),
    (lambda: o.FourierLens((8, 8), D, LAM, -F), ValueError, "focal_length"),
    (lambda: o.ThinLens((8, 8), D, LAM, 0.0), ValueError, "focal_length=0"),
    (lambda: o.ThinLens((8, 8), D, LAM, NAN), ValueError, "focal_length"),
    (lambda: o.ThinLens((8, 8), D, LAM, F, pupil=np.full((8, 8), NAN)), ValueError, "pupil"),
    (lambda: o.AngularSpectrum((8, 8), D, LAM, NAN), ValueError, "z"),
    (lambda: o.AngularSpectrum((8, 8), D, -LAM, 1e-3), ValueError, "wavelength"),
    (lambda: o.AngularSpectrum((8, 8), D, LAM, 1e-3, pad=NAN), ValueError, "pad"),
    (lambda: o.FourF((64, 64), D, LAM, F, pad=1e6), SizeError, "pad=1e\\+06"),
    (lambda: o.FourF((8, 8), D, LAM, F, pad=0.5), ValueError, "pad"),
    (lambda: o.FourF((8, 8), D, LAM, -F), ValueError, "f1"),
    (lambda: o.FourF((8, 8), D, LAM, F, 50.0), ValueError, "f2=50.*50e-3"),
    (lambda: o.FullWave4f((8, 8), D, LAM, -F), ValueError, "f1"),
    (lambda: o.FullWave4f((8, 8), D, LAM, F, -F), ValueError, "f2"),
    (lambda: o.FourF((8, 8), D, LAM, F).apply(np.ones((8, 8)), np.full((8, 8), NAN)), ValueError, "mask"),
    (lambda: o.kernel_to_mask(np.array([[0, NAN], [1, 0]]), (8, 8)), ValueError, "kernel"),
    (lambda: o.kernel_to_mask(np.ones((3, 3)), (8.5, 8)), ValueError, "shape"),
    (lambda: zernike_phase(o.Grid(8, D), [0, 0, 0, 0, 1e-7], 1e-5, -LAM), ValueError, "wavelength"),
    (lambda: zernike_phase(o.Grid(8, D), [0, 0, 0, 0, NAN], 1e-5, LAM), ValueError, r"coefficients\[4\]"),
    (lambda: zernike_phase(o.Grid(8, D), [0, 1e-7], 0.0, LAM), ValueError, "radius"),
    (lambda: SLM(pitch=8), ValueError, "pitch=8.*8e-6"),
    (lambda: SLM(design_wavelength=633), ValueError, "design_wavelength=633.*633e-9"),
    (lambda: SLM().wavelength_scale(-LAM) if SLM().design_wavelength else
     SLM(design_wavelength=LAM).wavelength_scale(-LAM), ValueError, "wavelength"),
    (lambda: InputDisplay(pitch=8), ValueError, "pitch"),
    (lambda: Camera(pixel_pitch=5), ValueError, "pixel_pitch=5.*5e-6"),
    (lambda: Camera(shape=(2.5, 4)), ValueError, "shape"),
    (lambda: Camera(shape=(10**7, 10**7)), SizeError, "10000000 x 10000000 pixel camera needs about"),
    (lambda: SLM(resolution=(10**7, 10**7)), SizeError, "pixel panel needs about"),
    (lambda: _camera_detect(nan=True), ValueError, "u .*NaN"),
    (lambda: _camera_detect(wavelength=-LAM), ValueError, "wavelength"),
    (lambda: photon_energy(0.0), ValueError, "wavelength"),
    (lambda: SystemConfig(wavelength=532), ValueError, "wavelength=532.*532e-9"),
    (lambda: SystemConfig(f1=-0.1), ValueError, "f1"),
    (lambda: SystemConfig(pad=1e6), SizeError, "pad=1e\\+06"),
    (lambda: SystemConfig(pad=NAN), ValueError, "pad"),
    (lambda: SystemConfig(grid_shape=(64.5, 64)), ValueError, "grid_shape"),
    (lambda: SystemConfig(lee_carrier=(NAN, 0.25)), ValueError, "lee_carrier"),
    (lambda: SystemConfig(illumination="1"), TypeError, "illumination"),
    (lambda: o.Grid(8, D).fourier_grid(LAM, NAN), ValueError, "focal_length"),
    (lambda: __import__("optics4f.system.layout", fromlist=["TiledLayout"]).TiledLayout(
        n_channels=2, tile_shape=(4.5, 4)), ValueError, "tile_shape"),
]


@pytest.mark.parametrize("call, exc, words", CORE, ids=[f"core{i}" for i in range(len(CORE))])
def test_core_refuses_bad_input_naming_it(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_diverging_thin_lens_is_still_allowed():
    lens = o.ThinLens((8, 8), D, LAM, -F)
    assert lens.focal_length == -F


def test_grid_keeps_whole_float_shapes():
    assert o.Grid((4.0, 6), D).shape == (4, 6)


def test_noise_free_camera_still_detects_finite_fields():
    frame = _camera_detect()
    assert np.all(np.isfinite(frame)) and frame.shape == (4, 4)


# -- torch bridge -------------------------------------------------------------------------------------

torch = pytest.importorskip("torch")


def _layer():
    from optics4f.torch import SpectralConv4f

    return SpectralConv4f(1, 2, (8, 8), D, LAM, F, kernel_size=3)


@pytest.mark.parametrize("bad", [NAN, INF])
def test_torch_layer_refuses_nan_and_inf_fields(bad):
    x = torch.rand(1, 1, 8, 8)
    x[0, 0, 3, 3] = bad
    with pytest.raises(ValueError, match="u holds NaN or Inf"):
        _layer()(x)


def test_set_kernels_refuses_nan():
    k = torch.zeros(2, 1, 3, 3)
    k[1, 0, 1, 1] = NAN
    with pytest.raises(ValueError, match="kernels"):
        _layer().set_kernels(k)


def test_spectral_conv_refuses_inf_masks():
    from optics4f.torch import spectral_conv

    layer = _layer()
    m = layer.masks().detach().clone()
    m[0, 0, 0, 0] = complex(INF, 0)
    with pytest.raises(ValueError, match="masks"):
        spectral_conv(torch.rand(1, 1, 8, 8), m, layer.operator(np.complex64))


def test_torch_layer_masks_must_fit_in_memory():
    from optics4f.torch import SpectralConv4f

    with pytest.raises(SizeError, match="4096 x 4096 Fourier masks"):
        SpectralConv4f(4096, 4096, (64, 64), D, LAM, F, kernel_size=3)


def test_torch_layer_shape_is_not_truncated():
    from optics4f.torch import SpectralConv4f

    with pytest.raises(ValueError, match="shape"):
        SpectralConv4f(1, 1, (8.5, 8), D, LAM, F, kernel_size=3)


# -- nets: hardware settings, sweeps, fine-tuning -------------------------------------------------

@pytest.mark.parametrize("kw, words", [
    (dict(slm_bits=2.9), "slm_bits"),
    (dict(camera_bits=17), "camera_bits"),
    (dict(wavelength=532), "wavelength=532.*532e-9"),
    (dict(pitch=8), "pitch"),
    (dict(full_well=-1), "full_well"),
    (dict(read_noise=NAN), "read_noise"),
    (dict(slm_shift=(NAN, 0)), "slm_shift"),
    (dict(pad=0.5), "pad"),
])
def test_hardware_settings_refuse(kw, words):
    from nets.inference.optical import HardwareSettings

    with pytest.raises((ValueError, TypeError), match=words):
        HardwareSettings(**kw)


@pytest.mark.parametrize("param, text, words", [
    ("slm_bits", "2.9", "slm_bits.*whole number"),
    ("camera_bits", "0", "camera_bits.*\\[1, 16\\]"),
    ("full_well", "-5", "full_well"),
    ("read_noise", "nan", "read_noise"),
    ("slm_bits", ",", "slm_bits=,.*no value"),
    ("nope", "1", "unknown bench error 'nope'"),
])
def test_sweep_values_are_checked_per_parameter(param, text, words):
    from nets.tolerance.sweep import parse_sweep

    with pytest.raises(ValueError, match=words):
        parse_sweep(f"{param}={text}")


@pytest.mark.parametrize("kw, words", [(dict(epochs=-1), "epochs"), (dict(epochs=0.5), "epochs"),
                                       (dict(lr=NAN), "lr"), (dict(modes=("sideways",)), "mode")])
def test_finetune_refuses_before_any_work(kw, words):
    from nets.inference.finetune import finetune

    with pytest.raises(ValueError, match=words):
        finetune(**kw)


# -- broken files -----------------------------------------------------------------------------------

def _saved_toml(tmp_path, lut=True):
    slm = SLM(resolution=(4, 4), lut=np.linspace(0, 6, 256) if lut else None)
    return SystemConfig(slm=slm).save_toml(tmp_path / "sys.toml")


@pytest.mark.parametrize("damage, words", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "truncated|not valid TOML"),
    (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "not a text|not valid TOML"),
    (lambda p: p.write_text('format = "optics4f.system"\nformat_version = "1.0"\n'), "truncated"),
    (lambda p: p.write_text('units = "nm"\nwavelength = 532\n'), "units"),
    (lambda p: p.write_text("wavelength = 532\n"), "wavelength=532.*532e-9"),
])
def test_broken_toml_names_the_file(tmp_path, damage, words):
    p = _saved_toml(tmp_path)
    damage(p)
    with pytest.raises(ValueError, match=words) as e:
        SystemConfig.load_toml(p)
    assert "sys.toml" in str(e.value)


def test_missing_or_corrupt_side_file_names_it(tmp_path):
    p = _saved_toml(tmp_path)
    side = next(tmp_path.glob("sys.slm.lut.*.npy"))
    side.write_bytes(side.read_bytes()[:40])
    with pytest.raises(ValueError, match="side file .*sys.slm.lut.*truncated"):
        SystemConfig.load_toml(p)
    side.unlink()
    with pytest.raises(FileNotFoundError, match="sys.slm.lut"):
        SystemConfig.load_toml(p)
    with pytest.raises(FileNotFoundError, match="nothing.toml"):
        SystemConfig.load_toml(tmp_path / "nothing.toml")


@pytest.mark.parametrize("cut", [0, 100, 0.5])
def test_truncated_hdf5_files_name_the_file(tmp_path, cut):
    from optics4f.system.files import load_config, load_field, save_config, save_field

    cfg = save_config(tmp_path / "c.h5", SystemConfig())
    fld = save_field(tmp_path / "f.h5", np.ones((4, 4), np.complex64), pitch=D, wavelength=LAM, plane="input")
    for p, load in ((cfg, load_config), (fld, load_field)):
        data = p.read_bytes()
        p.write_bytes(data[: int(cut * len(data)) if isinstance(cut, float) else cut])
        with pytest.raises(ValueError, match=p.name):
            load(p)


def test_hdf5_units_are_honoured_or_refused(tmp_path):
    import h5py

    from optics4f.system.files import load_config, load_field, save_config, save_field

    p = save_config(tmp_path / "c.h5", SystemConfig())
    with h5py.File(p, "r+") as f:
        d = f["config/wavelength"]
        d[()] = 633.0
        d.attrs["units"] = "nm"
        f["config/slm/pitch"].attrs["units"] = "um"
        f["config/slm/pitch"][()] = 8.0
    cfg = load_config(p)
    assert cfg.wavelength == pytest.approx(633e-9, rel=1e-12) and cfg.slm.pitch == pytest.approx(8e-6, rel=1e-12)
    with h5py.File(p, "r+") as f:
        f["config/wavelength"].attrs["units"] = "furlong"
    with pytest.raises(ValueError, match="c.h5.*wavelength.*furlong"):
        load_config(p)
    q = save_field(tmp_path / "f.h5", np.ones((4, 4), np.complex64), pitch=D, wavelength=LAM, plane="input")
    with h5py.File(q, "r+") as f:
        d = f["entry/data/field"]
        d.attrs["wavelength"] = 532.0
        d.attrs["attribute_units"] = '{"wavelength": "nm", "pixel_pitch": "um"}'
        d.attrs["pixel_pitch"] = np.array([8.0, 8.0])
    ff = load_field(q)
    assert ff.wavelength == pytest.approx(532e-9) and ff.pitch == pytest.approx((8e-6, 8e-6))


@pytest.mark.parametrize("content, words", [
    (b"", "cannot be read"),
    (b"not a checkpoint at all", "not a torch checkpoint"),
])
def test_broken_checkpoints_name_the_file(tmp_path, content, words):
    from nets.checkpoint import load_checkpoint

    p = tmp_path / "model.pt"
    p.write_bytes(content)
    with pytest.raises(ValueError, match=f"model.pt.*{words}|{words}.*model.pt"):
        load_checkpoint(p)


def test_truncated_checkpoint_names_the_file(tmp_path):
    from nets.checkpoint import load_checkpoint, model_config, save_checkpoint
    from nets.models import SCLCClassifier

    p = save_checkpoint(tmp_path / "model.pt", SCLCClassifier(image_size=8, channels=(2,), kernel_sizes=3),
                        {"model": model_config("sclc_classifier", image_size=8, channels=[2], kernel_sizes=3)})
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(ValueError, match="model.pt"):
        load_checkpoint(p)


def _idx(shape, data: bytes, gz=False):
    raw = bytes([0, 0, 0x08, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape) + data
    return gzip.compress(raw) if gz else raw


@pytest.mark.parametrize("raw, words", [
    (_idx((3, 2, 2), bytes(11)), "needs 12 data bytes.*has 11"),
    (_idx((3, 2, 2), bytes(13)), "more than 12"),
    (_idx((3, 2, 2), bytes(1 << 20), gz=True), "more than 12"),  # inflates far past what it declares
    (b"\x00\x00", "too short"),
    (b"\x1f\x8b\x08\x00broken", "corrupt gzip"),
    (_idx((4, 4), b""), "needs 16 data bytes"),
])
def test_broken_idx_files(tmp_path, raw, words):
    from nets.data.idx import IdxFormatError, read_idx

    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(raw)
    with pytest.raises(IdxFormatError, match=words) as e:
        read_idx(p)
    assert p.name in str(e.value)


def test_idx_header_too_large_for_memory_is_refused_before_reading(tmp_path):
    from nets.data.idx import read_idx

    p = tmp_path / "bomb.idx"
    p.write_bytes(gzip.compress(_idx((65535, 65535, 65535), b"")))
    with pytest.raises(SizeError, match="bomb.idx.*needs about"):
        read_idx(p)


def test_idx_round_trip_is_writable_and_exact(tmp_path):
    from nets.data.idx import read_idx

    data = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    p = tmp_path / "ok.gz"
    p.write_bytes(_idx((3, 2, 2), data.tobytes(), gz=True))
    a = read_idx(p)
    assert np.array_equal(a, data) and a.flags.writeable


@pytest.mark.parametrize("fmt, name", [("png", "frame_000.png"), ("bmp", "frame_000.bmp"),
                                       ("csv", "frame_000.csv")])
def test_truncated_frames_name_the_file(tmp_path, fmt, name):
    from nets.export.formats import read_frame, write_frame

    p = tmp_path / name
    write_frame(p, np.arange(64, dtype=np.uint8).reshape(8, 8), fmt, bit_depth=8)
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 3])
    with pytest.raises(ValueError, match=name):
        read_frame(p, fmt)


# -- the CLI: every subcommand ------------------------------------------------------------------------

@pytest.fixture
def student(tmp_path):
    from nets.checkpoint import model_config, save_checkpoint
    from nets.models import SCLCClassifier

    torch.manual_seed(0)
    m = SCLCClassifier(image_size=8, channels=(2,), kernel_sizes=3)
    return save_checkpoint(tmp_path / "model.pt", m, {"model": model_config(
        "sclc_classifier", image_size=8, channels=[2], kernel_sizes=3)})


def _cli(argv, capsys):
    """(exit status, stderr) of the CLI run in-process; argparse's own refusals exit 2."""
    from nets.cli import main

    try:
        rc = main(argv)
    except SystemExit as e:  # a message (Python prints it and exits 1) or argparse's status 2
        rc = 1 if isinstance(e.code, str) else e.code
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    err = capsys.readouterr().err
    return rc, err


CLI = [
    # (argv with {model}/{tmp}, words the one-line error must hold)
    (["demo", "--n", "70000", "--out", "{tmp}/d"], "70000 x 70000 demo needs about .*iB"),
    (["demo", "--n", "2.5"], "--n"),
    (["demo", "--n", "-1"], "--n"),
    (["train", "student", "--epochs", "-1"], "--epochs"),
    (["train", "student", "--lr", "nan"], "--lr"),
    (["train", "student", "--model", "[1, 2]"], "--model"),
    (["train", "student", "--teacher", "{model}", "--out", "{tmp}"], "folder of the teacher.*--out"),
    (["export", "{model}", "--slm", "holoeye-pluto-2", "--out", "{tmp}/e", "--wavelength", "532"],
     "--wavelength.*532e-9"),
    (["export", "{model}", "--slm", "holoeye-pluto-2", "--out", "{tmp}/e", "--display-pitch", "8"], "--display-pitch"),
    (["export", "{model}", "--slm", "holoeye-pluto-2", "--out", "{tmp}", "--force"], "--out.*contains the input"),
    (["export", "{tmp}/missing.pt", "--slm", "holoeye-pluto-2", "--out", "{tmp}/e"], "missing.pt"),
    (["export", "{model}", "--slm", "no-such-panel", "--out", "{tmp}/e"], "no-such-panel"),
    (["export", "{model}", "--slm", "holoeye-pluto-2", "--out", "{tmp}/e", "--lut", "{tmp}/nolut.txt"], "--lut"),
    (["export", "{model}", "--slm", "holoeye-pluto-2", "--out", "{tmp}/e", "--bits", "2.9"], "--bits"),
    (["export", "{model}", "--slm", "holoeye-pluto-2", "--out", "{tmp}/e", "--lut", "{tmp}/garbage.pt"],
     "--lut file .*garbage.pt"),
    (["export", "{model}", "--slm", "holoeye-pluto-2", "--out", "{tmp}/e", "--lut", "{tmp}/nan.txt"],
     "--lut file .*nan.txt.*NaN"),
    (["export", "{model}", "--slm", "holoeye-pluto-2", "--out", "{tmp}/e", "--system", "{tmp}/empty.toml"],
     "empty.toml"),
    (["inspect", "{tmp}/missing.h5"], "missing.h5"),
    (["inspect", "{tmp}/garbage.h5"], "garbage.h5"),
    (["simulate", "{model}", "--report", "{model}"], "--report.*is the input"),
    (["simulate", "{tmp}/garbage.pt", "--limit", "2"], "garbage.pt"),
    (["simulate", "{model}", "--limit", "0"], "--limit"),
    (["simulate", "{model}", "--sweep", "slm_bits", "--values", "2.9"], "slm_bits.*whole number"),
    (["simulate", "{model}", "--slm-bits", "2.9"], "--slm-bits"),
    (["simulate", "{model}", "--full-well", "-3"], "--full-well"),
    (["simulate", "{model}", "--defocus", "inf"], "--defocus"),
    (["finetune", "{model}", "--epochs", "-1"], "--epochs"),
    (["finetune", "{model}", "--report", "{model}"], "--report.*is the input"),
]


@pytest.mark.parametrize("argv, words", CLI, ids=[f"{a[0]}-{i}" for i, (a, _) in enumerate(CLI)])
def test_cli_user_errors_are_one_line_and_non_zero(tmp_path, student, capsys, argv, words):
    (tmp_path / "empty.toml").write_text("")
    (tmp_path / "nan.txt").write_text("0 0.0\n1 nan\n")
    (tmp_path / "garbage.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    (tmp_path / "garbage.pt").write_bytes(b"PK\x03\x04 broken zip")
    before = student.read_bytes()
    argv = [a.format(model=student, tmp=tmp_path) for a in argv]
    rc, err = _cli(argv, capsys)
    assert rc not in (0, None), err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("optics4f"), err
    import re

    assert re.search(words, last), last
    assert student.read_bytes() == before  # an input is never touched


def test_cli_debug_shows_the_traceback(tmp_path, student):
    import subprocess
    import sys

    args = [sys.executable, "-m", "nets.cli", "simulate", str(student), "--report", str(student)]
    plain = subprocess.run(args, capture_output=True, text=True)
    debug = subprocess.run(args + ["--debug"], capture_output=True, text=True)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr and "--report" in plain.stderr
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ValueError" in debug.stderr


def test_cli_internal_errors_are_one_line_too(monkeypatch, capsys):
    from nets import cli

    def boom(args):
        raise ZeroDivisionError("a bug")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["demo"].set_defaults(_run=boom)
    rc, err = _cli(["demo"], capsys)
    assert rc == 1 and "internal error: ZeroDivisionError: a bug" in err and "--debug" in err
    assert math.isfinite(rc)


def test_export_manifest_without_keys_names_the_file(tmp_path, student):
    import json

    from optics4f.devices.presets import slm_preset

    from nets.export import export_model, read_export

    m = export_model(student, slm_preset("holoeye-pluto-2"), tmp_path / "e")
    doc = json.loads(m.read_text())
    del doc["frames"]
    m.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="manifest.json.*'frames'"):
        read_export(m, verify=False)


def test_hdf5_configuration_without_keys_is_refused(tmp_path):
    import h5py

    from optics4f.system.files import load_config, save_config

    p = save_config(tmp_path / "c.h5", SystemConfig())
    with h5py.File(p, "r+") as f:
        del f["config/camera/full_well"]
        del f["config/wavelength"]
    with pytest.raises(ValueError, match=r"c.h5.*incomplete.*'wavelength'.*'camera.full_well'"):
        load_config(p)
    with h5py.File(p, "r+") as f:
        for k in list(f["config"]):
            del f["config"][k]
    with pytest.raises(ValueError, match="c.h5.*incomplete"):
        load_config(p)
