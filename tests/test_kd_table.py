"""The KD results table script (tiny run: schema and names only, no accuracy assertions) and the
model selection it relies on in nets.train (select on the validation split, test once at the end)."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from conftest import bars as conftest_bars
from nets.checkpoint import load_model
from nets.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
bars = functools.partial(conftest_bars, noise=0.6, bar=0.4)  # fainter bars: the teacher must learn


class Counting(TensorDataset):
    """A dataset that counts how many samples were read from it."""

    reads = 0

    def __getitem__(self, i):
        type(self).reads += 1
        return super().__getitem__(i)


def test_kd_table_tiny_run_writes_the_records(tmp_path):
    out = tmp_path / "kd.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "kd_table.py"), "--json", str(out), "--work", str(tmp_path / "w"),
           "--teacher-epochs", "1", "--student-epochs", "1", "--hardware-epochs", "1", "--max-steps", "1",
           "--train-limit", "16", "--eval-limit", "8", "--seg-size", "12", "--threads", "1", "--seeds", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = json.loads(out.read_text())
    assert isinstance(records, list)
    got = [(r["dataset"], r["row"], r["metric"]) for r in records]
    want = [("mnist5k", row, "accuracy") for row in ("teacher", "baseline", "kd", "kd_hardware")]
    want += [("synthetic-seg", row, "iou") for row in ("teacher", "baseline", "kd", "kd_hardware")]
    assert got == want
    for r in records:
        assert {"dataset", "row", "metric", "value", "seconds"} <= set(r)
        assert isinstance(r["value"], float) and 0.0 <= r["value"] <= 1.0
        assert isinstance(r["seconds"], float) and r["seconds"] > 0
        assert r["epochs"] == 1 and r["selected_epoch"] == 1
    # the hardware row ran through the 8-bit phase SLM and the 10-bit noisy camera
    _, cfg = load_model(tmp_path / "w" / "mnist5k" / "kd_hardware" / "model.pt")
    system = cfg["model"]["frontend_kw"]["system"]
    assert system["slm"]["mode"] == "phase" and system["slm"]["bit_depth"] == 8
    cam = system["camera"]
    assert cam["bit_depth"] == 10 and cam["noise"] and cam["read_noise"] > 0
    assert "| mnist5k | kd_hardware | accuracy |" in proc.stdout
    # the MNIST hardware row starts from the kd row's student (preset "init": "kd") and reads out the
    # registered image window, so that the ideal student's back end fits it
    hw_rec = next(r for r in records if r["dataset"] == "mnist5k" and r["row"] == "kd_hardware")
    assert hw_rec["init"] == "kd"
    assert cfg["train"]["init_from"] == str(tmp_path / "w" / "mnist5k" / "kd" / "model.pt")
    assert cfg["model"]["frontend_kw"]["readout"] == "image"
    _, cfg = load_model(tmp_path / "w" / "synthetic-seg" / "kd_hardware" / "model.pt")
    assert cfg["model"]["frontend_kw"]["readout"] == "image"  # registered with the masks
    # the segmentation preset trains every row on flipped / rotated views of its scenes
    assert [r.get("views") for r in records if r["dataset"] == "synthetic-seg"] == ["dihedral"] * 4


def test_kd_table_warm_start_needs_the_kd_row(tmp_path):
    cmd = [sys.executable, str(ROOT / "benchmarks" / "kd_table.py"), "--work", str(tmp_path / "w"),
           "--datasets", "mnist5k", "--rows", "teacher", "kd_hardware", "--teacher-epochs", "1", "--max-steps", "1",
           "--train-limit", "16", "--eval-limit", "8", "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode != 0 and "add 'kd' to --rows" in proc.stderr
    assert not (tmp_path / "w" / "mnist5k" / "kd_hardware").exists()  # refused before training


def test_kd_table_seeds_share_one_split(tmp_path):
    """--seeds 2: baseline and kd each run seeds 0 and 1 on the split of seed 0; the record holds the mean."""
    out = tmp_path / "kd.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "kd_table.py"), "--json", str(out), "--work", str(tmp_path / "w"),
           "--datasets", "mnist5k", "--rows", "teacher", "baseline", "kd", "--seeds", "2",
           "--teacher-epochs", "1", "--student-epochs", "1", "--max-steps", "1",
           "--train-limit", "16", "--eval-limit", "8", "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = json.loads(out.read_text())
    assert [r["row"] for r in records] == ["teacher", "baseline", "kd"]
    assert "seeds" not in records[0] and records[0]["selected_epoch"] == 1  # one teacher
    for r in records[1:]:
        assert r["seeds"] == [0, 1] and r["selected_epoch"] == [1, 1]
        assert r["value"] == pytest.approx(sum(r["values"]) / 2, abs=1e-15)
        assert r["val_value"] == pytest.approx(sum(r["val_values"]) / 2, abs=1e-15)
        cfgs = [json.loads((tmp_path / "w" / "mnist5k" / r["row"] / f"seed{s}" / "metrics.json").read_text())["config"]
                for s in (0, 1)]
        assert [c["train"]["seed"] for c in cfgs] == [0, 1]
        assert [c["train"]["split_seed"] for c in cfgs] == [0, 0]
    assert "| mnist5k | kd | accuracy |" in proc.stdout and "1,1/1" in proc.stdout


@pytest.fixture(scope="module")
def selected_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("sel")
    test = bars(30, 2)
    Counting.reads = 0
    test_set = Counting(*test.tensors)
    cfg = dict(role="baseline", epochs=4, batch_size=8, lr=3e-2, progress=False, device="cpu", select="best",
               model={"channels": [2], "kernel_sizes": 3}, out_dir=str(out))
    res = train(cfg, bars(48, 0), bars(30, 1), test_set)
    return res, test, test_set, bars(30, 1)


def test_best_epoch_on_validation_is_kept(selected_run):
    res, _, _, val = selected_run
    accs = [r["eval_acc"] for r in res["history"]]
    assert res["selected_epoch"] == accs.index(max(accs)) + 1  # first epoch reaching the best val accuracy
    assert res["selected"] == res["history"][res["selected_epoch"] - 1]
    assert res["selected_epoch"] < len(res["history"])  # an earlier epoch's weights had to be restored
    model, _ = load_model(res["checkpoint"])
    x, y = val.tensors
    with torch.no_grad():
        logits = model(x)
    assert (logits.argmax(1) == y).double().mean().item() == pytest.approx(res["selected"]["eval_acc"], abs=1e-12)
    ce = torch.nn.functional.cross_entropy(logits, y).item()
    assert ce == pytest.approx(res["selected"]["eval_loss"], rel=1e-5)


def test_test_split_is_read_once_after_training(selected_run):
    res, test, _, _ = selected_run
    assert Counting.reads == len(test)  # one pass, at the end: never during training or selection
    model, _ = load_model(res["checkpoint"])
    x, y = test.tensors
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).double().mean().item()
    assert res["test"]["acc"] == pytest.approx(acc, abs=1e-12)
    js = json.loads((Path(res["out_dir"]) / "metrics.json").read_text())
    assert js["selected_epoch"] == res["selected_epoch"] and js["test"]["acc"] == res["test"]["acc"]


def test_selection_on_the_test_split_is_refused():
    assert TrainConfig().eval_split == "val" and TrainConfig().test_split == "test"
    with pytest.raises(ValueError, match="tunes on the test split"):
        TrainConfig(select="best", eval_split="test")
    with pytest.raises(ValueError, match="select"):
        TrainConfig(select="max")
    TrainConfig(select="last", eval_split="test")  # reporting the last epoch on test is no selection


@pytest.mark.parametrize("size", [12, 11])
def test_hardware_image_readout_registers_with_the_ideal_student(size):
    """readout='image' (used by the hardware segmentation row): with the ideal stack's collapsed masks on a
    complex SLM (no quantisation, no noise) the frame is the ideal student's camera image, not inverted, not
    shifted, times one constant."""
    from nets.models.hardware import HardwareFrontend, default_system
    from nets.models.spectral import SpectralStack

    torch.manual_seed(3)
    sysd = default_system(size, 1, 5)
    sysd["slm"]["mode"] = "complex"
    hw = HardwareFrontend(1, size, 1, 5, system=sysd, quantize=False, readout="image")
    grid = hw.layer.hw.geometry.padded_shape
    st = SpectralStack(1, size, channels=(1,), kernel_sizes=5, padded_size=grid).double()
    hw.set_masks(st.collapse().detach())
    x = torch.randint(0, 256, (2, 1, size, size)).double() / 255  # on the display's 8-bit levels
    cam = hw(x.float()).detach().double()
    ref = st(x).detach().abs() ** 2  # the ideal front end's (H, W) window, upright
    assert cam.shape == ref.shape == (2, 1, size, size)
    scale = (cam * ref).sum() / (ref * ref).sum()
    assert scale > 0 and (cam - scale * ref).norm() / cam.norm() < 1e-5
    for shift in ((0, 1), (1, 0)):  # one pixel off, or inverted, is far from it
        assert (cam - scale * torch.roll(ref, shift, (-2, -1))).norm() / cam.norm() > 0.05
    assert (cam - scale * ref.flip(-2, -1)).norm() / cam.norm() > 0.05
    with pytest.raises(ValueError, match="readout"):
        HardwareFrontend(1, size, 1, 5, system=sysd, readout="flipped")


def test_dihedral_views_move_image_and_mask_together():
    """nets.data.augment.DihedralViews: each item is one of the 8 symmetries of the square, the same for the image
    and its mask, all 8 occur, and the draw follows torch's seed (nets.train reseeds it every epoch)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from nets.data.augment import DihedralViews

    x = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(1, 2, 5, 5)  # every pixel distinct
    y = torch.arange(5 * 5).reshape(1, 5, 5)  # the mask labels each pixel by its index
    base = TensorDataset(x, y)
    base.classes = [str(k) for k in range(25)]
    views = DihedralViews(base)
    assert len(views) == 1 and views.classes == base.classes
    # the 8 symmetries written out by hand: transpose and flips of the (row, column) axes
    syms = [lambda a: a, lambda a: a.flip(-1), lambda a: a.flip(-2), lambda a: a.flip(-1).flip(-2),
            lambda a: a.transpose(-1, -2), lambda a: a.transpose(-1, -2).flip(-1),
            lambda a: a.transpose(-1, -2).flip(-2), lambda a: a.transpose(-1, -2).flip(-1).flip(-2)]
    torch.manual_seed(3)
    seen = []
    for _ in range(80):
        xv, yv = views[0]
        hits = [k for k, t in enumerate(syms) if torch.equal(xv, t(x[0])) and torch.equal(yv, t(y[0]))]
        assert len(hits) == 1  # the image and the mask moved by the same symmetry
        seen.append(hits[0])
    assert set(seen) == set(range(8))
    torch.manual_seed(3)
    again = []
    for _ in range(80):
        yv = views[0][1]
        again.append(next(k for k, t in enumerate(syms) if torch.equal(yv, t(y[0]))))
    assert again == seen
