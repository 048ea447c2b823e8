"""Nothing a user wrote is ever lost: failures injected between the steps of every write.

Each test writes a first output, then makes a second write fail at a chosen step (the rename, the
data, the commit of a set, a killed process) and checks that the first output is intact and loads.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from optics4f.devices.slm import SLM
from optics4f.io import atomic
from optics4f.io.atomic import atomic_dir, atomic_open, atomic_path, clean_stale
from optics4f.system import SystemConfig

torch = pytest.importorskip("torch")


def _hidden(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- one file -----------------------------------------------------------------------------------------

def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    p = tmp_path / "a.txt"
    p.write_text("old")

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        with atomic_open(p, "w", overwrite=True) as fh:
            fh.write("new")
    assert p.read_text() == "old" and _hidden(tmp_path) == []


def test_writer_failing_midway_keeps_the_old_file(tmp_path):
    p = tmp_path / "field.h5"
    from optics4f.system.files import load_field, save_field

    save_field(p, np.ones((4, 4), np.complex64), pitch=8e-6, wavelength=532e-9, plane="input")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(p, overwrite=True) as tmp:
            tmp.write_bytes(b"half a fi")
            raise RuntimeError("disk full")
    assert np.array_equal(load_field(p).data, np.ones((4, 4), np.complex64))
    assert _hidden(tmp_path) == []


def test_output_never_resolves_to_an_input(tmp_path):
    src = tmp_path / "model.pt"
    src.write_bytes(b"weights")
    os.symlink(src, tmp_path / "link.pt")
    for out in (src, tmp_path / "link.pt", tmp_path / "." / "model.pt"):
        with pytest.raises(ValueError, match="is the input"):
            with atomic_open(out, "wb", overwrite=True, inputs=[src]) as fh:
                fh.write(b"json")
    with pytest.raises(ValueError, match="contains the input"):
        with atomic_dir(tmp_path, overwrite=True, inputs=[src]):
            pass
    assert src.read_bytes() == b"weights"


# -- a set of files: export folders --------------------------------------------------------------------

def _export(out, seed, force=False):
    from optics4f import kernel_to_mask
    from optics4f.devices.presets import slm_preset

    from nets.export import export_masks, export_system

    rng = np.random.default_rng(seed)
    k = rng.normal(size=(3, 3))
    masks = kernel_to_mask(k.astype(np.complex128), (18, 18))[None, None]
    cfg = export_system(slm_preset("holoeye-pluto-2", resolution=(80, 96)), (16, 16), (18, 18), 1)
    return export_masks(masks, out, cfg, formats=["png", "csv"], force=force)


@pytest.mark.parametrize("step", ["sidecar", "manifest", "switch"])
def test_interrupted_forced_export_keeps_the_old_export(tmp_path, monkeypatch, step):
    from nets.export import bundle, read_export

    out = tmp_path / "export"
    _export(out, seed=1)
    first = read_export(out)
    (out / "notes.txt").write_text("my bench notes")

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    if step == "sidecar":
        monkeypatch.setattr(bundle, "write_sidecar", fail)
    elif step == "manifest":
        monkeypatch.setattr(bundle, "write_manifest", fail)
    else:  # the commit itself: the exchange and the fallback renames both fail
        monkeypatch.setattr(atomic, "_exchange", fail)
    with pytest.raises(OSError, match="No space"):
        _export(out, seed=2, force=True)
    again = read_export(out)  # verifies every checksum
    assert np.array_equal(again.frames, first.frames) and np.array_equal(again.phase, first.phase)
    assert (out / "notes.txt").read_text() == "my bench notes"
    assert _hidden(tmp_path) == []


def test_forced_export_replaces_the_set_and_keeps_user_files(tmp_path):
    from nets.export import read_export

    out = tmp_path / "export"
    _export(out, seed=1)
    (out / "notes.txt").write_text("mine")
    old = read_export(out).frames
    _export(out, seed=2, force=True)
    new = read_export(out)
    assert not np.array_equal(new.frames, old)
    assert (out / "notes.txt").read_text() == "mine"
    assert _hidden(tmp_path) == []


def test_fallback_switch_without_renameat2_keeps_then_replaces(tmp_path, monkeypatch):
    from nets.export import read_export

    out = tmp_path / "export"
    _export(out, seed=1)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)  # a system without an atomic exchange
    _export(out, seed=2, force=True)
    assert read_export(out).frames.shape[0] == 1 and _hidden(tmp_path) == []
    # the second rename failing puts the old folder back
    real = os.rename
    calls = []

    def second_fails(a, b):
        calls.append(b)
        if len(calls) == 2:
            raise OSError(5, "I/O error")
        return real(a, b)

    before = read_export(out).frames
    monkeypatch.setattr(atomic.os, "rename", second_fails)
    with pytest.raises(OSError, match="I/O error"):
        _export(out, seed=3, force=True)
    assert np.array_equal(read_export(out).frames, before)


KILLED_EXPORT = """
import os, sys
sys.path.insert(0, {root!r})
import numpy as np
from nets.export import bundle
def killed(*a, **k):
    os._exit(9)  # the process dies between the frames and the manifest: no cleanup runs
bundle.write_manifest = killed
sys.path.insert(0, {tests!r})
from test_crash_consistency import _export
_export({out!r}, seed=2, force=True)
"""


def test_killed_writer_leaves_old_export_and_its_temporary_is_cleaned(tmp_path):
    from nets.export import read_export

    out = tmp_path / "export"
    _export(out, seed=1)
    first = read_export(out).frames
    root = str(Path(__file__).resolve().parents[1])
    code = KILLED_EXPORT.format(root=root, tests=str(Path(__file__).parent), out=str(out))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert r.returncode == 9, r.stderr
    assert np.array_equal(read_export(out).frames, first)
    stale = _hidden(tmp_path)
    assert len(stale) == 1 and stale[0].startswith(".export.") and stale[0].endswith(".tmp")
    _export(out, seed=3, force=True)  # the next write removes the dead writer's temporary
    assert _hidden(tmp_path) == []


def test_clean_stale_spares_live_writers_and_young_legacy_names(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (tmp_path / f".out.h5.{dead}.abc.tmp").write_text("x")  # a dead process's
    (tmp_path / f".out.h5.{os.getpid()}.abc.tmp").write_text("x")  # ours: alive
    (tmp_path / ".out.h5.legacy1.tmp").write_text("x")  # no pid, fresh
    old = tmp_path / ".out.h5.legacy2.tmp"
    old.mkdir()
    (old / "f").write_text("x")
    t = time.time() - 3600
    os.utime(old, (t, t))
    (tmp_path / ".other.h5.1.x.tmp").write_text("x")  # another file's
    (tmp_path / "out.h5").write_text("the output")
    removed = sorted(p.name for p in clean_stale(tmp_path, "out.h5"))
    assert removed == sorted([f".out.h5.{dead}.abc.tmp", ".out.h5.legacy2.tmp"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".out.h5.{os.getpid()}.abc.tmp", ".out.h5.legacy1.tmp", ".other.h5.1.x.tmp", "out.h5"])


# -- a configuration with side files ---------------------------------------------------------------------

def _config(scale):
    return SystemConfig(slm=SLM(resolution=(4, 4), lut=np.linspace(0, scale, 256), flatness=np.full((4, 4), scale)))


def test_interrupted_toml_overwrite_keeps_the_old_configuration(tmp_path, monkeypatch):
    from optics4f.system import config as config_module

    p = _config(6.0).save_toml(tmp_path / "sys.toml")
    names = sorted(x.name for x in tmp_path.iterdir())
    real = atomic_open

    def toml_write_fails(path, *a, **k):
        if str(path).endswith(".toml"):
            raise OSError(28, "No space left on device")
        return real(path, *a, **k)

    import optics4f.system.config as mod  # save_toml writes through its atomic_open

    monkeypatch.setattr(mod, "atomic_open", toml_write_fails)
    with pytest.raises(OSError, match="No space"):
        _config(5.0).save_toml(p, overwrite=True)
    monkeypatch.undo()
    back = SystemConfig.load_toml(p)
    assert back == _config(6.0) and config_module.FORMAT_VERSION
    # the new side files were written (content-named, beside the old ones); the old ones are intact
    assert set(names) <= {x.name for x in tmp_path.iterdir()}


def test_toml_overwrite_replaces_side_files_as_a_set(tmp_path):
    p = _config(6.0).save_toml(tmp_path / "sys.toml")
    _config(5.0).save_toml(p, overwrite=True)
    assert SystemConfig.load_toml(p) == _config(5.0)
    # the previous side files are gone, only the two the TOML names remain
    assert sorted(x.name.split(".")[2] for x in tmp_path.glob("sys.*.npy")) == ["flatness", "lut"]
    assert _hidden(tmp_path) == []
    _config(5.0).save_toml(p, overwrite=True)  # same content: same names, nothing lost
    assert SystemConfig.load_toml(p) == _config(5.0)


def test_toml_of_another_stem_keeps_its_side_files(tmp_path):
    a = _config(6.0).save_toml(tmp_path / "a.toml")
    b = _config(6.0).save_toml(tmp_path / "b.toml")
    SystemConfig().save_toml(a, overwrite=True)  # a no longer has arrays
    assert SystemConfig.load_toml(b) == _config(6.0) and SystemConfig.load_toml(a) == SystemConfig()


# -- checkpoints and reports -----------------------------------------------------------------------------

def test_failed_checkpoint_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    from nets.checkpoint import load_model, model_config, save_checkpoint
    from nets.models import SCLCClassifier

    cfg = {"model": model_config("sclc_classifier", image_size=8, channels=[2], kernel_sizes=3)}
    torch.manual_seed(0)
    m = SCLCClassifier(image_size=8, channels=(2,), kernel_sizes=3)
    p = save_checkpoint(tmp_path / "model.pt", m, cfg)

    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError):
        save_checkpoint(p, SCLCClassifier(image_size=8, channels=(2,), kernel_sizes=3), cfg)
    monkeypatch.undo()
    back, _ = load_model(p)
    for k, v in m.state_dict().items():
        assert torch.equal(back.state_dict()[k], v)
    assert _hidden(tmp_path) == []


def test_full_disk_is_refused_before_the_export_starts(tmp_path, monkeypatch):
    import shutil as sh

    from nets.export import read_export

    out = tmp_path / "export"
    _export(out, seed=1)
    first = read_export(out).frames
    monkeypatch.setattr(sh, "disk_usage", lambda p: sh._ntuple_diskusage(10**9, 10**9 - 100, 100))
    with pytest.raises(OSError, match="free on the disk"):
        _export(out, seed=2, force=True)
    monkeypatch.undo()
    assert np.array_equal(read_export(out).frames, first) and _hidden(tmp_path) == []


def test_force_never_swaps_out_a_folder_that_is_not_an_export(tmp_path):
    home = tmp_path / "data"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="not an earlier export"):
        _export(home, seed=1, force=True)
    assert [p.name for p in home.iterdir()] == ["thesis.tex"] and _hidden(tmp_path) == []


def test_export_through_a_symlinked_folder_keeps_the_link(tmp_path):
    from nets.export import read_export

    real = tmp_path / "real"
    _export(real, seed=1)
    link = tmp_path / "link"
    os.symlink(real, link)
    _export(link, seed=2, force=True)
    assert link.is_symlink() and read_export(link).frames.shape[0] == 1
    assert _hidden(tmp_path) == []


def test_toml_overwrite_never_deletes_a_users_own_array(tmp_path):
    own = tmp_path / "sys.lut_measured.npy"
    np.save(own, np.linspace(0, 6, 256))
    (tmp_path / "sys.toml").write_text('[slm]\nresolution = [4, 4]\nlut = { npy = "sys.lut_measured.npy" }\n')
    cfg = SystemConfig.load_toml(tmp_path / "sys.toml")
    SystemConfig().save_toml(tmp_path / "sys.toml", overwrite=True)
    assert own.is_file() and np.array_equal(np.load(own), cfg.slm.lut)
