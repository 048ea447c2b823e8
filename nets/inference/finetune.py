"""Hardware-aware fine-tuning: ``optics4f finetune MODEL``.

Two ways to close the gap between the digital student and the simulated hardware:

(a) ``frontend``: retrain the SLM frame (its phase, through the bit depth's quantisation with a
    straight-through gradient) *and* the electronic back end through the differentiable hardware
    model (:class:`optics4f.torch.layers.Hardware4fConv`, the same physics as the simulator),
    by knowledge distillation from the teacher, starting from the student's exported frame;
(b) ``backend``: keep the optics fixed (the frame a lab has built) and refit only the electronic
    back end on camera features of the simulated bench, by KD from the teacher.

Both are then evaluated the way :func:`~nets.inference.simulate.simulate` evaluates the
student: new frames quantised by the panel, the camera with noise, the back end on the test
split. The report gives, for each, the optical accuracy and the fraction of the
digital-to-optical gap it recovers, (after - before) / (digital - before), where that gap is
larger than one test image. Each mode keeps its epoch best on the validation split (the start
included), so fine-tuning never returns a model worse on validation than the one it started from.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from pathlib import Path

from .optical import HardwareSettings, OpticalStudent, auto_exposure, masks_on_grid, student_frames, \
    student_masks, student_system
from .results import FinetuneResult, ModeResult

__all__ = ["hardware_student", "finetune", "recovered_fraction", "MODES"]

MODES = ("frontend", "backend")


def recovered_fraction(digital: float, before: float, after: float, n_images: int | None = None):
    """Share of the gap digital - before that fine-tuning recovered.

    nan when there is no gap; with ``n_images`` (the split's size), None when the gap is not
    larger than one image of the split (1 / n_images): such a gap is the split's noise, and a
    share of it means nothing.
    """
    gap = digital - before
    if n_images is not None and abs(gap) <= 1.0 / max(int(n_images), 1) + 1e-12:
        return None
    return float("nan") if abs(gap) < 1e-12 else float((after - before) / gap)


def _electronics(optical: OpticalStudent):
    import torch

    k = optical.counts_per_unit()
    iy, ix = optical.feature_index
    return (torch.as_tensor(iy), torch.as_tensor(ix), float(k[0]), float(optical.dark_counts()))


def hardware_student(optical: OpticalStudent, backend, noise: bool):
    """The differentiable twin (an ``nn.Module``) of ``optical``, with the back end ``backend``:
    its SLM phase starts from the exported frame; ``frames()`` gives the frames of its phase."""
    import torch
    from torch import nn

    from optics4f.torch.layers import Hardware4fConv

    class HardwareStudent(nn.Module):
        """Differentiable twin of an :class:`OpticalStudent`: Hardware4fConv (learnable SLM phase)
        -> the same electronics (dark, gain K, inversion, crop, binning) -> a back end."""

        def __init__(self):
            super().__init__()
            g = optical.geom
            self.layer = Hardware4fConv(optical.system, in_channels=g["in_channels"], quantize=True, noise=noise,
                                        seed=optical.system.seed, kernel_size=None)
            masks = masks_on_grid(student_masks(optical.model), optical.hw.geometry.padded_shape)
            self.layer.set_masks(masks)  # the exported frame, as Hardware4f.encode makes it
            iy, ix, self.k, self.dark = _electronics(optical)
            self.register_buffer("iy", iy, persistent=False)
            self.register_buffer("ix", ix, persistent=False)
            self.detector = optical.model.detector
            self.backend = backend

        def features(self, x):
            t = (self.layer(x) - self.dark) / self.k
            return self.detector.bin(t[..., self.iy[:, None], self.ix[None, :]])

        def forward(self, x):
            return self.backend(self.features(x))

        def frames(self):
            """SLM frames (Cin, *slm.resolution) of the trained phase."""
            slm = optical.system.slm
            with torch.no_grad():
                return slm.phase_to_gray(self.layer.phase.detach().double().cpu().numpy(), optical.system.wavelength)

    return HardwareStudent()


def _kd_epochs(params, forward, teacher, x_all, y_all, epochs, lr, batch_size, seed, T=10.0, alpha=0.5,
               on_epoch=None):
    """Adam over ``epochs``; ``on_epoch(epoch)`` (1-based) after each, for validation and selection."""
    import torch

    from nets.kd import kd_loss

    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        perm = torch.randperm(len(x_all), generator=g)
        for s in range(0, len(perm), batch_size):
            idx = perm[s:s + batch_size]
            if len(idx) < 2:
                continue  # batch norm needs two samples
            x, y = x_all[idx], y_all[idx]
            with torch.no_grad():
                t = teacher(x) if teacher is not None else None
            loss = kd_loss(forward(idx, x), t, y, T=T, alpha=alpha if teacher is not None else 0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if on_epoch is not None:
            on_epoch(ep + 1)


def _accuracy(optical: OpticalStudent, images, labels, batch_size=200) -> float:
    """Simulated optical accuracy; the camera noise restarts from the system's seed on every call, so
    two models are compared on the same noise stream (and one model always scores the same)."""
    import numpy as np

    optical.rng = np.random.default_rng(optical.system.seed)
    correct = 0
    for s in range(0, len(images), batch_size):
        logits, _ = optical(images[s:s + batch_size])
        correct += int((logits.argmax(1) == labels[s:s + batch_size]).sum())
    return correct / max(len(images), 1)


def _check_args(epochs, lr, frontend_lr, batch_size):
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: give a whole number of epochs >= 1 (CLI --epochs)")
    for name, v in (("lr", lr), ("frontend_lr", frontend_lr)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name}={v!r}: give a learning rate > 0 (CLI --lr)")
    if not isinstance(batch_size, int) or batch_size < 2:
        raise ValueError(f"batch_size={batch_size!r} must be an integer >= 2")


def finetune(model: str | Path | None = None, teacher: str | Path | None = None, *, modes: Sequence[str] = MODES,
             settings: HardwareSettings | None = None, dataset: str | Path | None = None,
             train_limit: int | None = None, limit: int | None = None, val_limit: int | None = None,
             epochs: int = 1, lr: float = 1e-2, frontend_lr: float = 2e-2, batch_size: int = 64, seed: int = 0,
             calibration_images: int = 64) -> FinetuneResult:
    """Fine-tune a student for the simulated hardware (module docstring).

    Each mode trains for ``epochs`` and keeps the epoch best on the *validation* split's simulated
    optical accuracy, the untouched start included (epoch 0): a mode never returns a model worse
    on validation than the one it started from. ``kept`` names the model kept: the best
    on validation of the start and the back-end refit (a retrained SLM frame, mode "frontend", is
    not a student's masks: it is reported, and its frames are in ``modes["frontend"].optical``).

    Returns a :class:`~nets.inference.results.FinetuneResult` (``to_json()``: the report): the
    accuracies before (test and validation splits), per mode a :class:`~nets.inference.results.ModeResult`
    (accuracies after, the selected epoch, 0 = the start, and the share of the test gap recovered,
    None when the gap is not larger than one test image), ``kept`` ("start" or "backend"), ``config``,
    and the kept network (``student``) with its model config (``model_config``).
    """
    import torch

    from optics4f.validate import choice, integer, positive

    from nets.checkpoint import load_model

    epochs = integer("epochs", epochs, min=1)
    lr, frontend_lr = positive("lr", lr), positive("frontend_lr", frontend_lr)
    batch_size = integer("batch_size", batch_size, min=1)
    calibration_images = integer("calibration_images", calibration_images, min=1)
    for name, v in (("train_limit", train_limit), ("limit", limit)):
        if v is not None:
            integer(name, v, min=1)
    for m in modes:
        choice("modes", m, MODES)

    from nets.data import model_dataset

    from .simulate import DEFAULT_MODEL, DEFAULT_TEACHER, load_student

    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"modes must be a non-empty subset of {MODES}, got {list(modes)}")
    _check_args(epochs, lr, frontend_lr, batch_size)
    t0 = time.perf_counter()
    settings = settings or HardwareSettings()
    torch.manual_seed(seed)
    student, cfg = load_student(model or DEFAULT_MODEL)
    teacher_path = teacher
    if teacher_path is None:  # the embedded student's teacher ships with it; else the one it was trained with
        recorded = cfg.get("train", {}).get("teacher")
        teacher_path = DEFAULT_TEACHER if model is None else recorded
        if teacher_path is not None and not Path(teacher_path).is_file():
            raise FileNotFoundError(f"the teacher {str(teacher_path)!r} recorded in the model's config does not exist; "
                                    "pass teacher=PATH (CLI --teacher)")
    t_model = None
    if teacher_path is not None:
        t_model, _ = load_model(teacher_path)
        t_model.requires_grad_(False)
    test, ds_name = model_dataset(cfg, "test", limit, dataset)
    val, _ = model_dataset(cfg, "val", val_limit, dataset)
    train, _ = model_dataset(cfg, "train", train_limit, dataset)
    if len(val) == 0:
        raise ValueError(f"the dataset {ds_name!r} has no validation images to select on")
    calib_x = train.tensors[0][:calibration_images]
    xs, ys = test.tensors
    xv, yv = val.tensors
    xt, yt = train.tensors

    system = student_system(student, settings)
    frames, scale = student_frames(student, system)
    base = OpticalStudent(student, system, frames, scale)
    auto_exposure(base, calib_x, settings.exposure_fill)
    with torch.no_grad():
        digital = float((student(xs).argmax(1) == ys).float().mean())
        digital_val = float((student(xv).argmax(1) == yv).float().mean())
    before, before_val = _accuracy(base, xs, ys), _accuracy(base, xv, yv)
    modes_run: dict[str, ModeResult] = {}
    kept, kept_val, kept_name = student, before_val, "start"

    def feats_of(x):
        return torch.cat([base.features(base.tiles(base.camera_frame(x[s:s + 200]))) for s in range(0, len(x), 200)])

    if "backend" in modes:
        # (b) features of the fixed bench (with noise), computed once; BatchNorm statistics re-estimated.
        feats, feats_val = feats_of(xt), feats_of(xv)
        tuned = copy.deepcopy(student)
        best = {"acc": before_val, "epoch": 0, "state": copy.deepcopy(tuned.backend.state_dict())}

        def select_b(ep):
            tuned.backend.eval()
            with torch.no_grad():
                acc = float((tuned.backend(feats_val).argmax(1) == yv).float().mean())
            if acc > best["acc"]:
                best.update(acc=acc, epoch=ep, state=copy.deepcopy(tuned.backend.state_dict()))
            tuned.backend.train()

        tuned.backend.train()
        _kd_epochs(tuned.backend.parameters(), lambda idx, x: tuned.backend(feats[idx]), t_model, xt, yt,
                   epochs, lr, batch_size, seed, on_epoch=select_b)
        tuned.backend.load_state_dict(best["state"])
        tuned.eval()
        opt_b = OpticalStudent(tuned, system, frames, scale)
        opt_b.set_exposure(system.camera.exposure_time)
        val_b = _accuracy(opt_b, xv, yv)
        acc_b = _accuracy(opt_b, xs, ys)
        modes_run["backend"] = ModeResult(accuracy=acc_b, val_accuracy=val_b, epoch=best["epoch"],
                                          recovered=recovered_fraction(digital, before, acc_b, len(xs)),
                                          optical=opt_b)
        if best["epoch"] > 0 and val_b > kept_val:
            kept, kept_val, kept_name = tuned, val_b, "backend"

    if "frontend" in modes:
        # (a) SLM phase and back end trained through the differentiable hardware model.
        tuned = copy.deepcopy(student)
        hs = hardware_student(base, tuned.backend, noise=settings.noise)
        best = {"acc": before_val, "epoch": 0, "frames": frames, "state": copy.deepcopy(tuned.backend.state_dict())}

        def select_a(ep):
            hs.eval()
            f = hs.frames()
            acc = _accuracy(OpticalStudent(tuned, system, f, scale), xv, yv)
            if acc > best["acc"]:
                best.update(acc=acc, epoch=ep, frames=f, state=copy.deepcopy(tuned.backend.state_dict()))
            hs.train()

        hs.train()
        params = [{"params": [hs.layer.phase], "lr": frontend_lr}, {"params": tuned.backend.parameters()}]
        _kd_epochs(params, lambda idx, x: hs(x), t_model, xt, yt, epochs, lr, batch_size, seed, on_epoch=select_a)
        hs.eval()
        tuned.backend.load_state_dict(best["state"])
        tuned.eval()
        opt_a = OpticalStudent(tuned, system, best["frames"], scale)
        acc_a = _accuracy(opt_a, xs, ys)
        modes_run["frontend"] = ModeResult(accuracy=acc_a, val_accuracy=best["acc"], epoch=best["epoch"],
                                           recovered=recovered_fraction(digital, before, acc_a, len(xs)),
                                           optical=opt_a)

    config = {"model": str(model or DEFAULT_MODEL), "modes": list(modes), "hardware": settings.to_dict(),
              "epochs": epochs, "lr": lr, "frontend_lr": frontend_lr, "batch_size": batch_size, "seed": seed,
              "exposure_time": system.camera.exposure_time, "selection": "validation split, start included"}
    return FinetuneResult(digital_accuracy=digital, optical_accuracy=before, val_digital_accuracy=digital_val,
                          val_optical_accuracy=before_val, n_images=int(len(xs)), n_val_images=int(len(xv)),
                          n_train_images=int(len(xt)), dataset=ds_name,
                          teacher=None if teacher_path is None else str(teacher_path), kept=kept_name,
                          modes=modes_run, config=config, seconds=time.perf_counter() - t0, student=kept,
                          model_config=cfg)
