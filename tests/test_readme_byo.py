"""README, "Bring your own model and data": its Python and shell blocks, run as written on a
3-class dataset of shapes drawn here (nothing the repository ships)."""
import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

README = Path(__file__).resolve().parents[1] / "README.md"


def write_shapes(root: Path, size: int = 16, n_train: int = 60, n_test: int = 20, seed: int = 0):
    """Circles, squares and triangles of random centre, size and brightness, with noise (class folders)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    c0 = size / 2
    for part, n in (("train", n_train), ("test", n_test)):
        for c, name in enumerate(["circle", "square", "triangle"]):
            d = root / part / name
            d.mkdir(parents=True, exist_ok=True)
            for k in range(n):
                cy, cx = rng.uniform(c0 - 2, c0 + 2, 2)
                r = rng.uniform(0.2, 0.3) * size
                if c == 0:
                    m = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
                elif c == 1:
                    m = (abs(yy - cy) <= 0.8 * r) & (abs(xx - cx) <= 0.8 * r)
                else:
                    m = (yy >= cy - r) & (yy <= cy + r) & (abs(xx - cx) <= (yy - cy + r) / 2)
                a = m * rng.uniform(150, 255) + rng.normal(0, 10, m.shape)
                Image.fromarray(a.clip(0, 255).astype(np.uint8)).save(d / f"{k}.png")


def section_blocks():
    text = README.read_text()
    sec = text[text.index("## Bring your own model and data"):]
    sec = sec[:sec.index("\n## ", 3)]
    py = re.findall(r"```python\n(.*?)```", sec, re.S)
    sh = re.findall(r"```bash\n(.*?)```", sec, re.S)
    assert len(py) == 1 and len(sh) == 1
    return py[0], [ln for ln in sh[0].splitlines() if ln.strip()]


@pytest.mark.slow
def test_readme_bring_your_own_model_and_data(tmp_path, monkeypatch, capsys):
    from nets.cli import main

    write_shapes(tmp_path / "shapes")
    monkeypatch.chdir(tmp_path)
    code, commands = section_blocks()
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert float(out.split()[-1]) < 1e-5  # the printed max relative difference on real images
    for line in commands:
        argv = shlex.split(line)
        assert argv[0] == "optics4f"
        assert main(argv[1:]) == 0, line
    rep = json.loads(Path("runs/mine-sim/report.json").read_text())
    assert rep["classes"] == ["circle", "square", "triangle"] and np.array(rep["confusion"]).shape == (3, 3)
    assert rep["optical_accuracy"] > 0.5  # better than chance (1/3) through the simulated bench
    cfg = json.loads(Path("runs/mine/model.json").read_text())
    assert cfg["train"]["dataset"] == str((tmp_path / "shapes").resolve())  # absolute
    ft = json.loads(Path("runs/mine-2bit/report.json").read_text())
    kept_val = ft["backend_val_accuracy"] if ft["kept"] == "backend" else ft["val_optical_accuracy"]
    assert kept_val >= ft["val_optical_accuracy"]
    # the fine-tuned model is a model simulate loads, and it reads the 3 classes
    sim = json.loads(Path("runs/mine-2bit-sim/report.json").read_text())
    assert len(sim["classes"]) == 3
    # simulate from another folder finds the data (absolute path in the config)
    monkeypatch.chdir(tmp_path / "runs")
    assert main(["simulate", "mine/model.pt", "--limit", "6", "--out", "elsewhere", "--no-figures"]) == 0
