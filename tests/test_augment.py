"""nets.data.augment: the affine warp against exact pixel operations (roll, rot90, a 2x zoom of a
linear ramp), the random view's ranges, mixup's image/label mixture, and the training hook
(the teacher sees the student's augmented view; cosine schedule)."""
from __future__ import annotations

import math

import pytest
import torch

from conftest import bars
from nets.data.augment import Augment, affine_view, mixup, warp


def shifted(x, dy, dx):
    """x shifted by integer (dy, dx) pixels, zero filled (an independent reference)."""
    out = torch.zeros_like(x)
    h, w = x.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


@pytest.mark.parametrize("dy,dx", [(1, -2), (-3, 0), (0, 2)])
def test_integer_shift_is_an_exact_translation(dy, dx):
    x = torch.rand(2, 3, 9, 12, dtype=torch.float64)
    got = warp(x, 0.0, 1.0, float(dy), float(dx))
    assert torch.allclose(got, shifted(x, dy, dx), atol=1e-12)


def test_half_pixel_shift_is_the_mean_of_neighbours():
    x = torch.rand(1, 1, 6, 8, dtype=torch.float64)
    got = warp(x, 0.0, 1.0, 0.0, 0.5)
    ref = 0.5 * (x[..., :-1] + x[..., 1:])
    assert torch.allclose(got[..., 1:], ref, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_right_angle_rotation_is_rot90(k):
    x = torch.rand(2, 1, 9, 9, dtype=torch.float64)
    got = warp(x, 90.0 * k, 1.0, 0.0, 0.0)
    assert torch.allclose(got, torch.rot90(x, k, (-2, -1)), atol=1e-9)  # counter-clockwise as displayed
    assert not torch.allclose(got, torch.rot90(x, -k, (-2, -1)), atol=1e-3) or k == 2


def test_zoom_of_a_linear_ramp_scales_its_slope_about_the_centre():
    w = 16
    ramp = (torch.arange(w, dtype=torch.float64) - (w - 1) / 2).expand(1, 1, w, w)
    got = warp(ramp, 0.0, 2.0, 0.0, 0.0)
    # factor 2: output pixel j samples input coordinate (j - c) / 2 + c, c the centre; inside the image
    assert torch.allclose(got[..., 4:12, 4:12], ramp[..., 4:12, 4:12] / 2, atol=1e-12)


def test_random_views_stay_in_range_and_vary_per_image():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 15, 15)
    x[:, :, 7, 7] = 1.0
    got = affine_view(x, shift=2.0)
    assert got.min() >= 0 and got.max() <= 1 + 1e-6
    ys = torch.arange(15.0)
    cy = (got.sum(-1) * ys).sum(-1) / got.sum((-2, -1))  # centroid row of each moved dot
    cx = (got.sum(-2) * ys).sum(-1) / got.sum((-2, -1))
    dy, dx = (cy - 7).flatten(), (cx - 7).flatten()
    assert dy.abs().max() <= 2 + 1e-5 and dx.abs().max() <= 2 + 1e-5
    assert dy.std() > 0.8 and dx.std() > 0.8  # uniform on [-2, 2] has std 1.15
    assert (dy - dx).abs().max() > 0.5  # independent axes
    assert torch.allclose(affine_view(x, 0.0, 0.0, 0.0), x, atol=1e-6)


def test_mixup_mixes_images_and_one_hot_labels_alike():
    torch.manual_seed(1)
    n, k = 32, 5
    y = torch.arange(n) % k
    x = torch.nn.functional.one_hot(y, k).float()[:, None, None, :]  # the image is its own one-hot label
    xm, ym = mixup(x, y, k, alpha=0.4)
    assert ym.shape == (n, k) and torch.allclose(ym.sum(1), torch.ones(n))
    assert torch.allclose(xm[:, 0, 0, :], ym, atol=1e-6)
    lam = ym.max(1).values
    assert (lam < 0.99).any() and (lam > 0.5 - 1e-6).all()


def test_augment_config_errors():
    assert Augment.from_any(None) is None and Augment.from_any({}) is None
    assert Augment.from_any({"shift": 0}) is None
    assert Augment.from_any({"shift": 2}).geometric
    with pytest.raises(ValueError, match="unknown augment keys"):
        Augment.from_any({"shfit": 2})
    with pytest.raises(ValueError, match="scale"):
        Augment(scale=1.0)
    with pytest.raises(ValueError, match="rotate"):
        Augment(rotate=-1)
    with pytest.raises(ValueError, match="classification"):
        Augment(shift=1)(torch.zeros(2, 1, 4, 4), torch.zeros(2, 4, 4, dtype=torch.int64), 2)




def test_teacher_labels_the_students_augmented_view(tmp_path, monkeypatch):
    """Consistent KD: the teacher's input in each step is the very batch the student got."""
    from nets.checkpoint import load_model
    from nets import train as train_mod

    torch.set_num_threads(1)
    tiny = dict(batch_size=16, lr=3e-3, progress=False, device="cpu", max_steps=2)
    t = train_mod.train(dict(tiny, epochs=1, role="teacher", out_dir=str(tmp_path / "t"),
                             model={"widths": [4], "hidden": 0}), bars(32, 0), bars(12, 1))
    seen = {"student": [], "teacher": []}
    real_load = train_mod.load_model

    def spy_load(path, **kw):
        m, c = real_load(path, **kw)
        m.register_forward_pre_hook(lambda mod, inp: seen["teacher"].append(inp[0].clone()))
        return m, c

    monkeypatch.setattr(train_mod, "load_model", spy_load)
    real_build = train_mod.build_model

    def spy_build(cfg):
        m = real_build(cfg)
        m.register_forward_pre_hook(lambda mod, inp: seen["student"].append(inp[0].clone()) if mod.training else None)
        return m

    monkeypatch.setattr(train_mod, "build_model", spy_build)
    cfg = dict(tiny, epochs=1, role="student", teacher=t["checkpoint"], out_dir=str(tmp_path / "s"),
               model={"channels": [2], "kernel_sizes": 3}, augment={"shift": 2, "mixup": 0.4}, schedule="cosine")
    train_mod.train(cfg, bars(32, 0), bars(12, 1))
    assert len(seen["student"]) == len(seen["teacher"]) == 2
    raw = bars(32, 0).tensors[0]
    for s, te in zip(seen["student"], seen["teacher"]):
        assert torch.equal(s, te)
        assert not any(torch.equal(s[i], r) for i in range(len(s)) for r in raw)  # every image was changed
    assert load_model(tmp_path / "s" / "model.pt")[1]["train"]["augment"] == {"shift": 2, "mixup": 0.4}


def test_cosine_schedule_lr_per_step(tmp_path, monkeypatch):
    from nets import train as train_mod

    lrs = []
    real_step = torch.optim.Adam.step

    def spy(self, *a, **k):
        lrs.append(self.param_groups[0]["lr"])
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    cfg = dict(batch_size=8, lr=0.1, progress=False, device="cpu", epochs=2, role="baseline", schedule="cosine",
               out_dir=str(tmp_path), model={"channels": [2], "kernel_sizes": 3})
    train_mod.train(cfg, bars(32, 0), bars(12, 1))  # 4 steps an epoch, 8 in all
    want = [0.1 * 0.5 * (1 + math.cos(math.pi * i / 8)) for i in range(8)]
    assert lrs == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="schedule"):
        train_mod.TrainConfig(schedule="step")
    with pytest.raises(ValueError, match="classify"):
        train_mod.TrainConfig(task="segment", augment={"shift": 1})
