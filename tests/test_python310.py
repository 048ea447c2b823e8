"""optics4f runs on Python 3.10 (``python_requires >= 3.10``), where the standard library has no tomllib."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

WITHOUT_TOMLLIB = """
import sys, tomllib as real
sys.modules["tomllib"] = None  # import tomllib now raises ImportError, as on Python 3.10
sys.modules["tomli"] = real    # the tomli package (a 3.10 dependency) has the same API
sys.path.insert(0, {root!r})
import numpy as np
import optics4f
from optics4f.devices.slm import SLM
from optics4f.system import SystemConfig, config
assert config.tomllib is real
cfg = SystemConfig(slm=SLM(resolution=(4, 4), lut=np.linspace(0, 6, 256)))
p = cfg.save_toml({path!r})
assert SystemConfig.load_toml(p) == cfg
print("ok")
"""


def test_package_imports_and_reads_toml_without_tomllib(tmp_path):
    code = WITHOUT_TOMLLIB.format(root=str(ROOT), path=str(tmp_path / "sys.toml"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_no_module_imports_tomllib_without_the_fallback():
    bad = []
    for p in ROOT.glob("**/*.py"):
        if any(part in ("tests", ".git") or part.startswith(".") for part in p.relative_to(ROOT).parts):
            continue
        lines = p.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.strip() in ("import tomllib", "from tomllib import *") and not any(
                    "except ImportError" in x for x in lines[i + 1:i + 4]):
                bad.append(f"{p.relative_to(ROOT)}:{i + 1}")
    assert bad == []


def _python310():
    """A working Python 3.10 interpreter (a pyenv shim of an inactive version does not count), or None."""
    candidates = [os.environ.get("OPTICS4F_PYTHON310")]  # e.g. a 3.10 venv with numpy, scipy, h5py, tomli
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python")))[::-1]
    candidates += [shutil.which("python3.10")]
    for exe in filter(None, candidates):
        r = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip() == "(3, 10)":
            return exe
    return None


@pytest.mark.skipif(_python310() is None, reason="no Python 3.10 interpreter on this machine")
def test_every_source_compiles_under_python310():
    """Syntax newer than 3.10 (except*, PEP 695 generics...) would break ``import optics4f`` there."""
    files = [str(p) for d in ("optics4f", "nets", "calib") for p in (ROOT / d).glob("**/*.py")]
    code = ("import sys\nbad = []\nfor f in sys.argv[1:]:\n    try:\n"
            "        compile(open(f, encoding='utf-8').read(), f, 'exec')\n"
            "    except SyntaxError as e:\n        bad.append(f'{f}:{e.lineno}: {e.msg}')\nprint('\\n'.join(bad))\n"
            "sys.exit(1 if bad else 0)")
    r = subprocess.run([_python310(), "-c", code, *files], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _python310_with_deps():
    exe = _python310()
    if exe is None:
        return None
    r = subprocess.run([exe, "-c", "import numpy, scipy, tomli, tomli_w"], capture_output=True)
    return exe if r.returncode == 0 else None


@pytest.mark.skipif(_python310_with_deps() is None,
                    reason="no Python 3.10 with numpy, scipy, tomli (set OPTICS4F_PYTHON310 to one)")
def test_runs_under_python310(tmp_path):
    code = WITHOUT_TOMLLIB.replace("import sys, tomllib as real", "import sys, tomli as real").replace(
        'sys.modules["tomllib"] = None', "assert sys.version_info[:2] == (3, 10)")
    code = code.format(root=str(ROOT), path=str(tmp_path / "sys.toml"))
    r = subprocess.run([_python310_with_deps(), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
