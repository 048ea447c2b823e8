"""Configuration round trips (TOML, HDF5), HDF5 field files, atomic writes, and config errors."""
from __future__ import annotations

import os
import re
import tomllib

import h5py
import numpy as np
import pytest

import optics4f
from optics4f.devices.detector import Camera
from optics4f.devices.slm import SLM
from optics4f.io import FORMAT_VERSION, atomic_open
from optics4f.system.files import load_config, load_field, save_config, save_field, save_mask
from optics4f.system import Misalignment, SystemConfig, TiledLayout


def full_config(rng=None):
    rng = rng or np.random.default_rng(0)
    lut = -np.linspace(0, 2 * np.pi, 256, endpoint=False) ** 1.05 / (2 * np.pi) ** 0.05  # nonlinear, monotonic
    slm = SLM(resolution=(256, 256), lut=lut, flatness=rng.uniform(-1, 1, (256, 256)), design_wavelength=633e-9,
              fill_factor=0.95, fringing_sigma=1e-6, name="test-panel")
    cam = Camera(shape=(128, 128), pixel_pitch=8e-6, read_noise=2.5, dark_current=3.0, bit_depth=10, gain=None,
                 gamma=0.9, quantum_efficiency=0.55)
    mis = Misalignment(slm_shift=(1.5e-6, -2e-6), slm_rotation=1e-3, slm_tilt=(1e-4, 0.0), fourier_defocus=2e-4,
                       camera_defocus=-1e-3, input_tilt=(0.0, 5e-4))
    return SystemConfig(slm=slm, camera=cam, misalignment=mis, layout=TiledLayout(4, (32, 32), gap=2),
                        fourier_aperture=None, seed=11, detection="holographic", holography_steps=5)


def assert_no_temp_files(folder):
    left = [f for f in os.listdir(folder) if f.endswith(".tmp")]
    assert not left, left


# -- TOML ----------------------------------------------------------------------------------------
def test_toml_round_trip_is_unchanged(tmp_path):
    cfg = full_config()
    path = cfg.save_toml(tmp_path / "system.toml")
    back = SystemConfig.load_toml(path)
    assert back == cfg
    np.testing.assert_array_equal(back.slm.lut, cfg.slm.lut)
    np.testing.assert_array_equal(back.slm.flatness, cfg.slm.flatness)
    assert back.fourier_aperture is None and back.camera.gain is None
    assert back.misalignment.slm_shift == (1.5e-6, -2e-6) and isinstance(back.camera.shape, tuple)
    # the file itself is plain TOML a person (or another program) can read
    with open(path, "rb") as fh:
        doc = tomllib.load(fh)
    assert doc["wavelength"] == 532e-9 and doc["format_version"] == "1.0"
    assert re.fullmatch(r"system\.slm\.lut\.[0-9a-f]{16}\.npy", doc["slm"]["lut"]["npy"])  # named by content
    assert (tmp_path / doc["slm"]["flatness"]["npy"]).exists()
    assert_no_temp_files(tmp_path)


def test_toml_written_by_hand_loads(tmp_path):
    (tmp_path / "hand.toml").write_text(
        'wavelength = 6.33e-7\nf1 = 0.2\nf2 = 0.1\n[camera]\nshape = [64, 64]\nbit_depth = 8\n'
        '[slm]\nmode = "complex"\n')
    cfg = SystemConfig.load_toml(tmp_path / "hand.toml")
    assert cfg.wavelength == 6.33e-7 and cfg.camera.shape == (64, 64) and cfg.slm.mode == "complex"
    assert cfg.display.resolution == (28, 28) and cfg.layout is None  # defaults elsewhere


def test_config_differences_are_seen():
    a = full_config()
    assert a != a.replace(wavelength=633e-9)
    b = full_config()
    b.slm.flatness[3, 4] += 1e-9
    assert a != b


# -- HDF5 ----------------------------------------------------------------------------------------
def test_hdf5_config_round_trip_with_units(tmp_path):
    cfg = full_config()
    save_config(tmp_path / "c.h5", cfg)
    back = load_config(tmp_path / "c.h5")
    assert back == cfg
    with h5py.File(tmp_path / "c.h5", "r") as f:
        assert f.attrs["format_version"] == FORMAT_VERSION and f.attrs["software_version"] == optics4f.__version__
        assert f["config/wavelength"].attrs["units"] == "m"
        assert f["config/camera/exposure_time"].attrs["units"] == "s"
        assert f["config/misalignment/slm_rotation"].attrs["units"] == "rad"
        assert f["config/slm/lut"].attrs["units"] == "rad"
        assert f["config/fourier_aperture"].shape is None  # None stored as an empty dataset


def test_field_file_round_trip_with_nexus_attributes(tmp_path, rng):
    u = (rng.standard_normal((3, 8, 10)) + 1j * rng.standard_normal((3, 8, 10))).astype(np.complex64)
    cfg = full_config()
    save_field(tmp_path / "u.h5", u, pitch=(4e-6, 5e-6), wavelength=633e-9, plane="output", config=cfg,
               attrs={"note": "test run", "step": 3})
    r = load_field(tmp_path / "u.h5")
    np.testing.assert_array_equal(r.data, u)
    assert r.data.dtype == np.complex64
    assert r.pitch == (4e-6, 5e-6) and r.wavelength == 633e-9 and r.plane == "output"
    assert r.units == "sqrt(W)/m" and r.kind == "field" and r.config == cfg
    assert r.attrs["note"] == "test run" and r.attrs["step"] == 3
    with h5py.File(tmp_path / "u.h5", "r") as f:
        assert f.attrs["default"] == "entry" and f["entry"].attrs["default"] == "data"
        g = f["entry/data"]
        assert g.attrs["NX_class"] == "NXdata" and g.attrs["signal"] == "field"
        assert list(g.attrs["axes"]) == [".", "y", "x"]
        np.testing.assert_allclose(g["x"][()], (np.arange(10) - 5) * 5e-6)
        np.testing.assert_allclose(g["y"][()], (np.arange(8) - 4) * 4e-6)
        assert g["x"].attrs["units"] == "m"
        assert g["field"].attrs["wavelength"] == 633e-9


def test_mask_file_defaults(tmp_path):
    h = np.exp(1j * np.linspace(0, 1, 64)).reshape(8, 8)
    save_mask(tmp_path / "m.h5", h, pitch=8e-6, wavelength=532e-9)
    r = load_field(tmp_path / "m.h5")
    assert r.kind == "mask" and r.units == "1" and r.plane == "fourier" and r.config is None
    np.testing.assert_array_equal(r.data, h)


# -- atomic writes ------------------------------------------------------------------------------
def test_existing_files_are_not_clobbered(tmp_path):
    p = tmp_path / "x.h5"
    save_mask(p, np.ones((4, 4)), pitch=1e-6, wavelength=5e-7)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_mask(p, np.zeros((4, 4)), pitch=1e-6, wavelength=5e-7)
    np.testing.assert_array_equal(load_field(p).data, np.ones((4, 4)))
    save_mask(p, np.zeros((4, 4)), pitch=1e-6, wavelength=5e-7, overwrite=True)
    np.testing.assert_array_equal(load_field(p).data, np.zeros((4, 4)))
    cfg = SystemConfig()
    cfg.save_toml(tmp_path / "c.toml")
    with pytest.raises(FileExistsError):
        cfg.save_toml(tmp_path / "c.toml")
    assert_no_temp_files(tmp_path)


def test_a_crash_while_writing_leaves_no_file_and_keeps_the_old_one(tmp_path):
    p = tmp_path / "y.h5"
    # an attribute h5py cannot store makes the writer fail half-way, after the data went in
    with pytest.raises(TypeError):
        save_field(p, np.ones((4, 4)), pitch=1e-6, wavelength=5e-7, plane="input", attrs={"bad": object()})
    assert not p.exists()
    assert_no_temp_files(tmp_path)
    save_field(p, np.ones((4, 4)), pitch=1e-6, wavelength=5e-7, plane="input")
    with pytest.raises(TypeError):
        save_field(p, np.zeros((4, 4)), pitch=1e-6, wavelength=5e-7, plane="input", attrs={"bad": object()},
                   overwrite=True)
    np.testing.assert_array_equal(load_field(p).data, np.ones((4, 4)))
    assert_no_temp_files(tmp_path)
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "z.txt", "w") as fh:
            fh.write("half")
            raise RuntimeError("crash")
    assert not (tmp_path / "z.txt").exists()
    assert_no_temp_files(tmp_path)


# -- bad configurations ------------------------------------------------------------------------
def test_unknown_settings_are_refused_with_the_known_ones(tmp_path):
    (tmp_path / "bad.toml").write_text('wavelength = 5e-7\n[camera]\nexposure = 0.1\n')
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['exposure'\] in \[camera\].*exposure_time"):
        SystemConfig.load_toml(tmp_path / "bad.toml")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['focal'\] in \[system\]"):
        SystemConfig.from_dict({"focal": 0.1})


@pytest.mark.parametrize("kw, match", [
    (dict(wavelength=-5e-7), "wavelength must be positive"),
    (dict(f1=0.0), "f1 must be positive"),
    (dict(grid_shape=(1, 64)), "grid_shape"),
    (dict(oversample=1.5), "oversample"),
    (dict(pad=0.5), "pad must be >= 1"),
    (dict(camera={"bit_depth": 17}), r"\[camera\] bit_depth"),
    (dict(slm={"bit_depth": 0}), r"\[slm\] bit_depth"),
    (dict(encoding="lee"), "encoding 'lee' does not work on an SLM in mode 'phase'"),
    (dict(detection="magic"), "detection must be one of"),
    (dict(holography_steps=2), "holography_steps"),
    (dict(camera=3), "camera must be a Camera"),
    (dict(misalignment={"slm_tilt": (0.0, 1.0)}), "not a small misalignment"),
])
def test_bad_configurations_get_clear_errors(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        SystemConfig(**kw)


def test_wrong_files_are_refused(tmp_path):
    (tmp_path / "v.toml").write_text('format = "optics4f.system"\nformat_version = "2.0"\n')
    with pytest.raises(ValueError, match="format_version"):
        SystemConfig.load_toml(tmp_path / "v.toml")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="not an optics4f file"):
        load_field(tmp_path / "other.h5")
    save_config(tmp_path / "c.h5", SystemConfig())
    with pytest.raises(ValueError, match="load_config"):
        load_field(tmp_path / "c.h5")
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="plane"):
        save_field(tmp_path / "p.h5", np.ones((2, 2)), pitch=1e-6, wavelength=5e-7, plane="")


def test_a_reloaded_configuration_simulates_the_same_frames(tmp_path, rng):
    from optics4f.devices.display import InputDisplay
    from optics4f.kernels import kernel_to_mask
    from optics4f.system import Hardware4f

    d, lam = 8e-6, 532e-9
    f = d * 128 * d / lam
    cfg = SystemConfig(wavelength=lam, f1=f, f2=f, grid_shape=(64, 64), display=InputDisplay(resolution=(16, 16)),
                       slm=SLM(resolution=(128, 128), pitch=d, bit_depth=10, fringing_sigma=2e-6,
                               flatness=rng.uniform(0, 1, (128, 128))),
                       camera=Camera(shape=(64, 64), pixel_pitch=d, read_noise=1.5, exposure_time=5e-4),
                       misalignment=Misalignment(slm_shift=(3e-6, -1e-6), camera_defocus=1e-3),
                       layout=TiledLayout(4, (32, 32)), seed=5)
    cfg.save_toml(tmp_path / "s.toml")
    save_config(tmp_path / "s.h5", cfg)
    masks = kernel_to_mask(rng.standard_normal((4, 1, 5, 5)), (128, 128))
    imgs = rng.uniform(0, 1, (2, 1, 16, 16))
    ref = Hardware4f(cfg).forward(imgs, masks)
    assert ref.max() > 100  # a real signal, not an all-dark frame
    for back in (SystemConfig.load_toml(tmp_path / "s.toml"), load_config(tmp_path / "s.h5")):
        np.testing.assert_array_equal(Hardware4f(back).forward(imgs, masks), ref)
