"""Files and folders optics4f writes get the user's umask (0644/0755 under umask 022), not mkstemp's 0600."""
from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from optics4f.io.atomic import atomic_dir, atomic_open, atomic_write, umask_mode
from optics4f.system import SystemConfig


@pytest.fixture
def umask():
    """Set a umask for one test and restore the previous one."""
    saved = []

    def set_(mask):
        saved.append(os.umask(mask))

    yield set_
    if saved:
        os.umask(saved[0])


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def _tree_modes(root):
    """{relative path: mode} of a folder and everything in it."""
    out = {".": _mode(root)}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = _mode(p)
    return out


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700),
                                                       (0o002, 0o664, 0o775)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mask, file_mode, dir_mode):
    umask(mask)
    assert umask_mode() == file_mode and umask_mode(is_dir=True) == dir_mode
    with atomic_open(tmp_path / "a.txt", "w") as fh:
        fh.write("x")
    atomic_write(tmp_path / "sub" / "b.bin", lambda f: f.write(b"y"))
    with atomic_dir(tmp_path / "set") as d:
        (d / "f.txt").write_text("z")
    assert _mode(tmp_path / "a.txt") == file_mode and _mode(tmp_path / "sub" / "b.bin") == file_mode
    assert _mode(tmp_path / "set") == dir_mode and _mode(tmp_path / "set" / "f.txt") == file_mode


def test_saved_configurations_are_readable_by_others(tmp_path, umask):
    from optics4f.devices.slm import SLM
    from optics4f.system.files import save_config, save_field

    umask(0o022)
    cfg = SystemConfig(slm=SLM(resolution=(4, 4), lut=np.linspace(0, 6, 256)))
    cfg.save_toml(tmp_path / "sys.toml")
    save_config(tmp_path / "sys.h5", cfg)
    save_field(tmp_path / "f.h5", np.ones((4, 4), np.complex64), pitch=8e-6, wavelength=532e-9, plane="input")
    modes = {p.name: _mode(p) for p in tmp_path.iterdir()}
    assert len(modes) == 4 and set(modes.values()) == {0o644}, modes


def test_export_folder_is_readable_by_the_slm_account(tmp_path, umask):
    torch = pytest.importorskip("torch")
    from optics4f.devices.presets import slm_preset

    from nets.checkpoint import model_config, save_checkpoint
    from nets.export import export_model

    umask(0o022)
    from nets.models import SCLCClassifier

    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "model.pt", SCLCClassifier(image_size=8, channels=(2,), kernel_sizes=3),
                            {"model": model_config("sclc_classifier", image_size=8, channels=[2], kernel_sizes=3)})
    assert _mode(model) == 0o644 and _mode(model.with_suffix(".json")) == 0o644
    out = tmp_path / "runs" / "export"
    export_model(model, slm_preset("holoeye-pluto-2"), out, formats=["png", "csv"], write_lut=True)
    modes = _tree_modes(out)
    assert len(modes) > 4
    assert modes["."] == 0o755 and _mode(tmp_path / "runs") == 0o755
    assert {m for k, m in modes.items() if k != "."} == {0o644}, modes
    export_model(model, slm_preset("holoeye-pluto-2"), out, formats=["png"], force=True)
    assert set(_tree_modes(out).values()) == {0o644, 0o755}


def test_cli_report_and_figures_are_readable(tmp_path, umask):
    pytest.importorskip("torch")
    from nets.cli import main

    umask(0o022)
    assert main(["demo", "--n", "32", "--out", str(tmp_path / "demo")]) == 0
    assert _tree_modes(tmp_path / "demo") == {".": 0o755, "fourf_demo.png": 0o644}
