"""The repository passes its lint rules (``ruff.toml`` at the root; ruff is in the ``test`` extra)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ["optics4f", "nets", "calib", "examples", "benchmarks", "tests"]


def test_ruff_check_is_clean():
    """``ruff check`` over every Python folder finds nothing; a failure lists ruff's findings."""
    cmd = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
           "--config", str(ROOT / "ruff.toml"), *FOLDERS]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(cmd[2:])} failed (rc {res.returncode}):\n{res.stdout}{res.stderr}"
