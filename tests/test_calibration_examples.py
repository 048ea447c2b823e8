"""Every examples/calibrate_*.py runs with --check at the small size and at the default size (as the
README tells users to run them), exits 0 and writes its HDF5 and PNG.

The scripts run in this process (``runpy`` + their ``main(argv)``), which saves an interpreter start
and the imports per script; one script also runs as a real subprocess to prove the command line.
"""
from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(EXAMPLES.glob("calibrate_*.py"))


def test_scripts_exist():
    assert SCRIPTS, f"no calibrate_*.py scripts in {EXAMPLES}"


@pytest.fixture
def examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("MPLBACKEND", "Agg")


def _run_check(script, size, tmp_path, capsys):
    module = runpy.run_path(str(script), run_name=script.stem)
    assert "main" in module, f"{script.name} must define main(argv=None) -> int"
    rc = module["main"](["--check", "--size", size, "--out", str(tmp_path)])
    out = capsys.readouterr()
    assert rc == 0, f"{script.name} failed (rc {rc}):\n{out.out}\n{out.err}"
    assert "recovered" in out.out, f"{script.name} printed no true-vs-recovered table:\n{out.out}"
    assert list(tmp_path.glob("*.h5")), f"{script.name} wrote no HDF5 file:\n{out.out}"
    assert list(tmp_path.glob("*.png")), f"{script.name} wrote no PNG figure:\n{out.out}"
    from calib import load

    for h5 in tmp_path.glob("*.h5"):  # every result carries its uncertainty and the bench it was measured on
        cal = load(h5)
        assert cal.uncertainty and all(np.all(np.isfinite(np.asarray(v))) for v in cal.uncertainty.values()), \
            f"{h5.name}: uncertainty {cal.uncertainty}"
        assert cal.bench, f"{h5.name} records no bench"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_example_check_passes(script, tmp_path, examples_on_path, capsys):
    _run_check(script, "small", tmp_path, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_example_check_passes_at_default_size(script, tmp_path, examples_on_path, capsys):
    """The size the README tells users to run (the Fourier focus failed here with a fixed probe window)."""
    _run_check(script, "default", tmp_path, capsys)


def test_check_fails_with_exit_code_from_command_line(tmp_path):
    """--check turns a missed tolerance into exit status 1 (the shared helper), seen from a subprocess."""
    code = ("import sys; sys.path.insert(0, {!r}); from _calib_common import Report, finish, parse_args; "
            "a = parse_args('t', ['--check', '--out', {!r}]); "
            "sys.exit(finish(Report('t').add('x', 1.0, 2.0, 0.1), a))").format(str(EXAMPLES), str(tmp_path))
    env = dict(os.environ, MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "CHECK FAILED" in r.stderr
