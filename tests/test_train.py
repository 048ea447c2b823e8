"""Training smoke tests (tiny synthetic data, a few steps): loss decreases, KD students train,
checkpoints load with weights_only, resume continues exactly, metric files, CLI, DDP on gloo."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import TensorDataset

from conftest import bars
from nets.checkpoint import build_model, load_checkpoint, load_model
from nets.train import TrainConfig, train

TINY = dict(epochs=3, batch_size=16, lr=3e-3, progress=False, device="cpu")




def squares(n, seed, size=16):
    """2-class segmentation: a bright square (class 1) at a random place."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g) * 0.3
    m = torch.zeros(n, size, size, dtype=torch.int64)
    for i in range(n):
        r, c = torch.randint(0, size - 6, (2,), generator=g).tolist()
        x[i, 0, r:r + 6, c:c + 6] += 0.6
        m[i, r:r + 6, c:c + 6] = 1
    return TensorDataset(x.clamp(0, 1), m)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny networks: torch's thread pool only costs here (and the 2 CPU cores are shared)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def data():
    return bars(96, 0), bars(48, 1)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("teacher")
    res = train(dict(TINY, role="teacher", out_dir=str(out), model={"widths": [4, 8], "hidden": 16}), *data)
    return res


def test_teacher_learns_and_writes_files(teacher):
    h = teacher["history"]
    assert len(h) == 3 and h[-1]["train_loss"] < h[0]["train_loss"]
    assert teacher["final"]["eval_acc"] > 0.9  # three well-separated bars
    out = Path(teacher["out_dir"])
    for name in ("checkpoint.pt", "checkpoint.json", "model.pt", "model.json", "metrics.csv", "metrics.json",
                 "curves.png"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert abs(float(rows[-1]["eval_acc"]) - h[-1]["eval_acc"]) < 1e-12
    js = json.loads((out / "metrics.json").read_text())
    assert js["history"] == json.loads(json.dumps(h)) and js["config"]["train"]["role"] == "teacher"
    with Image.open(out / "curves.png") as im:
        assert im.format == "PNG" and im.size[0] > 100


def test_checkpoint_loads_with_weights_only(teacher, data):
    path = teacher["checkpoint"]
    raw = torch.load(path, weights_only=True)
    assert set(raw["state_dict"]) == set(teacher["module"].state_dict())
    model, cfg = load_model(path)
    assert cfg["model"]["arch"] == "teacher_cnn" and cfg["train"]["seed"] == 0
    x = data[1].tensors[0][:8]
    teacher["module"].eval()
    torch.testing.assert_close(model(x), teacher["module"](x), rtol=0, atol=0)
    ck = load_checkpoint(Path(teacher["out_dir"]) / "checkpoint.pt")
    assert ck["epoch"] == 3 and "state" in ck["optimizer"]
    fresh = build_model(cfg["model"])
    assert not torch.equal(fresh.head[-1].weight, model.head[-1].weight)


def test_kd_student_and_baseline_train(teacher, data, tmp_path):
    mcfg = {"channels": [4], "kernel_sizes": 5, "pool": 2, "binning": 2}
    st = train(dict(TINY, role="student", teacher=teacher["checkpoint"], out_dir=str(tmp_path / "s"), model=mcfg),
               *data)
    h = st["history"]
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    assert st["model"]["arch"] == "sclc_classifier" and st["config"]["alpha"] == 0.5
    bl = train(dict(TINY, role="baseline", out_dir=str(tmp_path / "b"), model=mcfg), *data)
    assert bl["config"]["alpha"] == 0.0
    assert bl["history"][-1]["train_loss"] < bl["history"][0]["train_loss"]
    # same seed, same init, different loss: KD changes the trained student
    assert not torch.equal(st["module"].frontend.layers[0].weight, bl["module"].frontend.layers[0].weight)
    masks = st["module"].frontend.collapse()
    assert masks.shape == (4, 1) + st["module"].frontend.padded_shape


# (not with schedule="cosine": its lr depends on `epochs`, which this test changes between the two parts)
@pytest.mark.parametrize("extra", [{}, {"augment": {"shift": 1.5, "rotate": 10, "mixup": 0.4}}])
def test_resume_continues_exactly(data, tmp_path, extra):
    cfg = dict(TINY, role="baseline", epochs=2, model={"channels": [2], "kernel_sizes": 3, "hidden": [8]}, **extra)
    full = train(dict(cfg, out_dir=str(tmp_path / "full")), *data)
    train(dict(cfg, epochs=1, out_dir=str(tmp_path / "part")), *data)
    resumed = train(dict(cfg, resume=True, out_dir=str(tmp_path / "part")), *data)
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "part" / "model.pt", weights_only=True)["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(resumed["history"]) == strip(full["history"])
    # and the continuation is not a no-op: epoch 2 moved the weights away from epoch 1's
    one = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    assert one["epoch"] == 2
    with pytest.raises(ValueError, match="cannot resume"):
        train(dict(cfg, resume=True, out_dir=str(tmp_path / "part"), model={"channels": [3]}), *data)


def test_split_seed_fixes_the_split_while_seed_varies():
    from nets.data import load_dataset
    from nets.train import _load_split

    ref = load_dataset("digits", "test", seed=0).tensors[0]
    other = _load_split(TrainConfig(dataset="digits", seed=1), "test", None).tensors[0]
    same = _load_split(TrainConfig(dataset="digits", seed=1, split_seed=0), "test", None).tensors[0]
    assert torch.equal(same, ref)
    assert not torch.equal(other, ref)  # seed alone also reshuffles the split


def test_segmentation_teacher_and_pixelwise_kd(tmp_path):
    tr, ev = squares(32, 0), squares(16, 1)
    cfg = dict(TINY, task="segment", epochs=2, batch_size=8)
    t = train(dict(cfg, role="teacher", out_dir=str(tmp_path / "t"), model={"base": 4, "depth": 1}), tr, ev)
    assert t["model"]["arch"] == "unet" and "eval_miou" in t["final"]
    s = train(dict(cfg, role="student", teacher=t["checkpoint"], out_dir=str(tmp_path / "s"),
                   model={"channels": [3], "decoder_width": 4}), tr, ev)
    assert s["model"]["arch"] == "sclc_segmenter"
    assert s["history"][-1]["train_loss"] < s["history"][0]["train_loss"]
    assert 0 <= s["final"]["eval_miou"] <= 1


def test_config_errors(teacher, data, tmp_path):
    with pytest.raises(ValueError, match="--teacher"):
        TrainConfig(role="student")
    with pytest.raises(ValueError, match="unknown training config keys"):
        TrainConfig.from_any({"epochz": 3})
    with pytest.raises(ValueError, match="task"):
        TrainConfig(task="detect")
    with pytest.raises(ValueError, match="trained for task 'classify'"):
        train(dict(TINY, task="segment", role="student", teacher=teacher["checkpoint"], out_dir=str(tmp_path)),
              squares(8, 0), squares(8, 1))


def test_cli_train_on_a_registered_dataset(tmp_path):
    from nets.cli import main

    out = tmp_path / "cli"
    rc = main(["train", "teacher", "--dataset", "digits", "--epochs", "1", "--batch-size", "16", "--train-limit",
               "64", "--eval-limit", "32", "--device", "cpu", "--out", str(out), "--no-progress",
               "--model", '{"widths": [4], "hidden": 0}'])
    assert rc == 0
    model, cfg = load_model(out / "model.pt")
    assert cfg["train"]["dataset"] == "digits" and cfg["model"]["image_size"] == [8, 8]
    assert len(list(csv.DictReader(open(out / "metrics.csv")))) == 1


WORKER = """
import sys, torch
from torch.utils.data import TensorDataset
sys.path.insert(0, {testdir!r})
from test_train import bars
from nets.train import train

class Recording(TensorDataset):
    seen = []
    def __getitem__(self, i):
        self.seen.append(int(i))
        return super().__getitem__(i)

tr, ev = bars(64, 0), bars(16, 1)
tr = Recording(*tr.tensors)
res = train(dict(role="teacher", epochs=1, batch_size=8, max_steps=3, lr=1e-2, device="cpu", progress=False,
                 seed=3, out_dir={out!r}, model={{"widths": [4], "hidden": 8}}), tr, ev)
rank = int(__import__("os").environ["RANK"])
# seen[0] is train()'s probe of the image shape, not a training step
params = {{k: v.detach() for k, v in res["module"].named_parameters()}}
torch.save({{"params": params, "seen": tr.seen[1:]}}, {out!r} + f"/rank{{rank}}.pt")
"""


def test_ddp_two_gloo_processes_keep_replicas_equal(tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(WORKER.format(testdir=str(Path(__file__).parent), out=str(out))))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert len(r0["seen"]) == len(r1["seen"]) == 3 * 8
    assert not set(r0["seen"]) & set(r1["seen"])  # each replica trained on its own shard...
    for k in r0["params"]:
        assert torch.equal(r0["params"][k], r1["params"][k]), k  # ...yet the weights agree
    # DDP averages the replicas' gradients: the same as one process taking, at each step, the union of
    # the two shards' batches (batch 16), from the same initial weights. Written out by hand here.
    mcfg = load_checkpoint(out / "model.pt")["config"]["model"]
    torch.manual_seed(3)
    ref = build_model(mcfg)
    init = {k: p.detach().clone() for k, p in ref.named_parameters()}
    x, y = bars(64, 0).tensors
    opt = torch.optim.Adam(ref.parameters(), lr=1e-2)
    for step in range(3):
        idx = r0["seen"][8 * step:8 * step + 8] + r1["seen"][8 * step:8 * step + 8]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(ref(x[idx]), y[idx]).backward()
        opt.step()
    for k, p in ref.named_parameters():
        torch.testing.assert_close(r0["params"][k], p.detach(), rtol=1e-5, atol=1e-6)
        assert not torch.equal(p, init[k]) or k.endswith("bias")  # the weights moved


def test_hardware_student_by_kd(teacher, data, tmp_path):
    res = train(dict(TINY, role="hardware", teacher=teacher["checkpoint"], out_dir=str(tmp_path / "hw"),
                     model={"channels": [2], "kernel_sizes": 3}), *data)
    assert res["model"]["frontend"] == "hardware" and res["config"]["alpha"] == 0.5
    assert res["model"]["frontend_kw"]["system"]["slm"]["mode"] == "phase"  # the system used is recorded
    h = res["history"]
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    model, _ = load_model(res["checkpoint"])  # rebuilt from the recorded system
    x = data[1].tensors[0][:4]
    res["module"].eval()
    torch.testing.assert_close(model(x), res["module"](x))


def _fit_residual(ref, out):
    """Relative residual of ``out`` against ``ref`` after the best single scale (camera units differ)."""
    ref, out = ref.double(), out.double()
    s = (ref * out).sum() / (out * out).sum()
    return float((s * out - ref).norm() / ref.norm())


@pytest.mark.filterwarnings("ignore:No artists with labels:UserWarning")  # the empty curves of a 0-epoch run
def test_init_from_copies_a_checkpoint_before_training(teacher, data, tmp_path):
    mcfg = {"channels": [4], "kernel_sizes": 5, "pool": 2, "binning": 2}
    src = train(dict(TINY, role="student", teacher=teacher["checkpoint"], out_dir=str(tmp_path / "s"), model=mcfg),
                *data)
    # another seed, no epoch: the run's model is the checkpoint's, tensor for tensor
    res = train(dict(TINY, epochs=0, seed=5, role="student", teacher=teacher["checkpoint"], model=mcfg,
                     out_dir=str(tmp_path / "w"), init_from=src["checkpoint"]), *data)
    assert res["config"]["init_from"] == src["checkpoint"]
    want = load_model(src["checkpoint"])[0].state_dict()
    got = res["module"].state_dict()
    assert set(got) == set(want)
    for k, v in want.items():
        assert torch.equal(got[k], v), k
    cold = train(dict(TINY, epochs=0, seed=5, role="student", teacher=teacher["checkpoint"], model=mcfg,
                      out_dir=str(tmp_path / "c")), *data)
    assert not torch.equal(cold["module"].frontend.layers[0].weight, want["frontend.layers.0.weight"])


@pytest.mark.parametrize("pool", [None, 2])
def test_init_from_ideal_student_starts_the_hardware_slm(tmp_path, pool):
    from nets.checkpoint import save_checkpoint
    from nets.train import init_from_checkpoint

    torch.manual_seed(1)
    mc = {"arch": "sclc_classifier", "in_channels": 1, "image_size": [12, 12], "n_classes": 3, "channels": [2],
          "kernel_sizes": 5, "pool": pool, "binning": 2}
    ideal = build_model(mc)
    with torch.no_grad():
        ideal.backend[1].running_mean.fill_(3.0)  # statistics of the ideal camera
        ideal.frontend.layers[0].weight[..., 0, :] += 0.5  # an asymmetric kernel: convolution, not correlation
    path = save_checkpoint(tmp_path / "model.pt", ideal, {"model": mc})
    hw_cfg = dict(mc, pool=None, frontend="hardware", frontend_kw={"readout": "image"})  # noise-free default system
    hw = build_model(hw_cfg)
    info = init_from_checkpoint(hw, path)
    assert info["masks"] and info["skipped"] == ["frontend.layers.0.weight"]
    torch.testing.assert_close(hw.backend[2].weight, ideal.backend[2].weight, rtol=0, atol=0)  # back end copied
    assert torch.equal(hw.backend[1].running_mean, torch.zeros(2 * 6 * 6))  # BatchNorm statistics restarted
    # Reference: the ideal stack with the same weights on the SLM's Fourier grid (same physical frequencies;
    # on its own small grid the band-limited pooled kernel wraps around). The hardware camera (8-bit phase
    # SLM, double-phase encoding, noise-free) then sees the ideal intensity up to its gain: 0.6 % residual
    # without pooling; 3.4 % with the aperture's hard edge (double-phase leakage into the camera window).
    grid = list(hw.frontend.layer.hw.geometry.padded_shape)
    ref = build_model(dict(mc, padded_size=grid))
    ref.load_state_dict(ideal.state_dict())
    x = torch.rand(6, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = ref.detector.detect(ref.frontend(x))
        got = hw.frontend(x)
        cold = build_model(hw_cfg).frontend(x)  # random SLM: ~0.96
    assert _fit_residual(want, got) < (0.015 if pool is None else 0.06)
    assert _fit_residual(want, cold) > 0.5
