"""Training: teachers, KD students, linear baselines, hardware students.

One function, :func:`train`, takes a config (a :class:`TrainConfig` or a dict
of its fields) and returns a results dict; the ``optics4f train`` command and
the benchmark scripts call it. Roles:

* ``teacher``  nonlinear network (TeacherCNN / UNet), cross-entropy;
* ``student``  SCLC linear optical student, KD from ``teacher`` (a checkpoint);
* ``baseline`` the same student trained without KD (alpha = 0);
* ``hardware`` the student with the hardware 4f front end (``optics4f.torch``),
  KD when a teacher is given, else cross-entropy.

Reproducibility: the model is built right after ``torch.manual_seed(seed)``;
each epoch reseeds torch from (seed, epoch) and shuffles with a sampler seeded
by (seed, epoch), so a run resumed from the end of epoch e continues exactly as
the uninterrupted run (tested).

Model selection never looks at the test split: each epoch is evaluated on
``eval_split`` (default "val"); ``select="best"`` keeps the weights of the epoch
with the best validation score (accuracy; mean IoU for segmentation),
``select="last"`` those of the last epoch. The selected model is then evaluated
once on ``test_split`` (default "test"): ``result["test"]``. Selecting on the
split that is also the test split is refused.

Files in ``out_dir``: ``checkpoint.pt`` (+ ``.json``; weights, optimizer,
epoch, history, best weights so far; written every epoch, for ``resume``),
``model.pt`` (+ ``.json``; the selected weights and config), ``metrics.csv``,
``metrics.json`` (history, selected epoch, test metrics), ``curves.png``.

Multi-process: launched by ``torchrun`` (environment ``WORLD_SIZE`` > 1) the
run joins the process group (gloo on CPU, nccl on GPU), wraps the model in
DistributedDataParallel, shards each epoch with a DistributedSampler (the
batch size is per process) and writes files from rank 0 only.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from optics4f.io.atomic import atomic_write

from .checkpoint import build_model, load_checkpoint, load_model, save_checkpoint
from .data.augment import Augment
from .kd import DEFAULT_ALPHA, DEFAULT_T, kd_loss

__all__ = ["TrainConfig", "train", "default_model_config", "evaluate", "init_from_checkpoint", "ROLES", "TASKS"]

ROLES = ("teacher", "student", "baseline", "hardware")
TASKS = ("classify", "segment")
SELECT = ("last", "best")
SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved with every checkpoint).

    task : "classify" or "segment"
    dataset : name or folder for ``nets.data.load_dataset`` (ignored when datasets are passed to train)
    role : "teacher", "student", "baseline" or "hardware"
    model : dict overriding the default model config of (task, role) (``arch`` and kwargs)
    epochs, batch_size, lr, weight_decay : the optimiser (Adam); batch size per process
    schedule : learning rate over training: "constant" (lr throughout) or "cosine" (lr * (1 + cos(pi t)) / 2,
        t the fraction of ``epochs`` done, updated every batch; resume with the same ``epochs``)
    augment : training-batch augmentation, a dict of :class:`nets.data.augment.Augment` fields (shift px,
        rotate deg, scale, mixup) or None; applied before the network and the teacher see the batch, so a KD
        teacher labels the very view the student learns from (classification only)
    seed : int
        Initialisation, batch order and augmentation; also the data split unless ``split_seed`` is set
    split_seed : int or None
        Seed of the train/val/test split of a dataset loaded by name (None = ``seed``): runs with several
        seeds on one split set it, so that no seed trains on another's test images
    device : "auto", "cpu", "cuda", "cuda:1", ...
    out_dir : output folder; None: ``runs/<role>`` (each role its own). A folder that already holds a
        model (``model.pt``) or checkpoint is refused unless ``force`` (or ``resume``); one that holds an
        input of the run (the teacher, the ``init_from`` checkpoint, the dataset) is refused even with it
    force : replace the model and checkpoint of an existing ``out_dir``
    teacher : trained teacher checkpoint (``model.pt``), needed for KD
    init_from : checkpoint (``model.pt``) whose weights start the run instead of the random initialisation
        (:func:`init_from_checkpoint`: tensors of the same name and shape are copied, the others keep their
        initialisation; an ideal SCLC student's collapsed masks start a hardware front end's SLM); a resumed
        run continues from its own checkpoint instead
    T, alpha : KD temperature and weight (kd_loss)
    image_size : resize images to this (int or [H, W]) when loading by name
    pad : then centre them on a dark canvas of this size (int or [H, W])
    train_limit, eval_limit : number of images used (None = all)
    eval_split : split evaluated each epoch, for model selection ("val"; "test" only with select="last")
    select : "last" (weights of the last epoch) or "best" (of the epoch best on eval_split)
    test_split : split the selected model is evaluated on once at the end (None = no test evaluation)
    max_steps : stop each epoch after this many batches (smoke tests)
    resume : continue from ``out_dir/checkpoint.pt`` when it exists
    progress : tqdm progress bars
    num_workers : DataLoader workers
    """

    task: str = "classify"
    dataset: str = "digits"
    role: str = "teacher"
    model: dict = field(default_factory=dict)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "constant"
    augment: dict | None = None
    seed: int = 0
    split_seed: int | None = None
    device: str = "auto"
    out_dir: str | None = None
    force: bool = False
    teacher: str | None = None
    init_from: str | None = None
    T: float = DEFAULT_T
    alpha: float = DEFAULT_ALPHA
    image_size: int | list | None = None
    pad: int | list | None = None
    train_limit: int | None = None
    eval_limit: int | None = None
    eval_split: str = "val"
    select: str = "last"
    test_split: str | None = "test"
    max_steps: int | None = None
    resume: bool = False
    progress: bool = True
    num_workers: int = 0

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError(f"epochs must be >= 0 and batch_size >= 1, got {self.epochs}, {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        aug = Augment.from_any(self.augment)  # validates the keys and values
        if aug is not None and self.task != "classify":
            raise ValueError("augment is implemented for task 'classify' only (a segmentation mask would need "
                             "the same transform); set augment=None")
        if self.select not in SELECT:
            raise ValueError(f"select must be one of {SELECT}, got {self.select!r}")
        if self.select == "best" and self.test_split is not None and self.eval_split == self.test_split:
            raise ValueError(f"select='best' on eval_split={self.eval_split!r}, which is also the test split, "
                             "tunes on the test split: use eval_split='val' (or select='last')")
        if self.role == "baseline":
            self.alpha = 0.0  # the baseline is the student without KD
        if self.role == "student" and self.alpha > 0 and not self.teacher:
            raise ValueError("role 'student' trains by KD and needs a trained teacher checkpoint: pass "
                             "teacher=PATH (CLI --teacher PATH), or use role 'baseline' for no KD")
        if self.role == "teacher":
            self.teacher = None
        if self.role == "hardware" and not self.teacher:
            self.alpha = 0.0
        if self.out_dir is None:
            self.out_dir = f"runs/{self.role}"
        from .data import dataset_reference

        self.dataset = dataset_reference(self.dataset)  # absolute: the saved model finds it from anywhere

    @classmethod
    def from_any(cls, config) -> "TrainConfig":
        if isinstance(config, cls):
            return dataclasses.replace(config)
        if not isinstance(config, dict):
            raise TypeError(f"config must be a TrainConfig or a dict, got {type(config).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(config) - names
        if unknown:
            raise ValueError(f"unknown training config keys {sorted(unknown)}; known: {sorted(names)}")
        return cls(**config)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))


def default_model_config(task: str, role: str, in_channels: int, image_size, n_classes: int) -> dict:
    """Model config for a (task, role) on images (in_channels, image_size) with n_classes."""
    image_size = list(image_size)
    if role == "teacher":
        if task == "classify":
            return {"arch": "teacher_cnn", "in_channels": in_channels, "image_size": image_size,
                    "n_classes": n_classes}
        return {"arch": "unet", "in_channels": in_channels, "n_classes": n_classes}
    arch = "sclc_classifier" if task == "classify" else "sclc_segmenter"
    cfg = {"arch": arch, "in_channels": in_channels, "image_size": image_size, "n_classes": n_classes}
    if role == "hardware":
        cfg["frontend"] = "hardware"
    return cfg


# -- data ------------------------------------------------------------------------------------------

def _load_split(cfg: TrainConfig, split: str, limit):
    from .data import load_dataset  # the dataset registry (a name or a folder)

    kw = {"size": cfg.image_size, "seed": cfg.seed if cfg.split_seed is None else cfg.split_seed}
    if cfg.pad is not None:
        kw["pad"] = cfg.pad
    if limit is not None:
        kw["limit"] = limit
    return load_dataset(cfg.dataset, split, **kw)


def _n_classes(ds) -> int:
    for attr in ("num_classes", "n_classes"):
        if hasattr(ds, attr):
            return int(getattr(ds, attr))
    if hasattr(ds, "classes"):
        return len(ds.classes)
    ys = ds.tensors[1] if hasattr(ds, "tensors") else torch.stack([torch.as_tensor(ds[i][1]) for i in range(len(ds))])
    return int(ys.max()) + 1


def _limit(ds, n):
    return ds if n is None or n >= len(ds) else torch.utils.data.Subset(ds, range(n))


# -- distributed -----------------------------------------------------------------------------------

def _dist_setup(device: str):
    """(rank, world, local_rank, owns_group): joins the group when launched by torchrun."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, 0, False
    owns = not dist.is_initialized()
    if owns:
        backend = "nccl" if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()) else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns


def _resolve_device(name: str, local_rank: int, world: int) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(name)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("device 'cuda' asked for but torch sees no CUDA GPU; use device='cpu'")
        if world > 1 and dev.index is None:
            dev = torch.device("cuda", local_rank)
    return dev


def _all_reduce(values: list, device, world: int) -> list:
    if world <= 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


# -- metrics ---------------------------------------------------------------------------------------

def _batch_stats(logits, target, n_classes):
    """(correct, count, per-class intersection, per-class union) of a batch (pixels for segmentation)."""
    pred = logits.argmax(1)
    correct = (pred == target).sum().item()
    inter, union = [], []
    if logits.ndim == 4:
        for k in range(n_classes):
            p, t = pred == k, target == k
            inter.append((p & t).sum().item())
            union.append((p | t).sum().item())
    return correct, target.numel(), inter, union


@torch.no_grad()
def evaluate(model: nn.Module, loader, device, n_classes: int) -> dict:
    """Cross-entropy, accuracy (pixel accuracy for segmentation) and, for segmentation, mean IoU."""
    model.eval()
    loss_sum = correct = count = 0.0
    inter = [0.0] * n_classes
    union = [0.0] * n_classes
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        c, n, i, u = _batch_stats(logits, y, n_classes)
        correct, count = correct + c, count + n
        for k in range(len(i)):
            inter[k] += i[k]
            union[k] += u[k]
    out = {"loss": loss_sum / max(count, 1), "acc": correct / max(count, 1)}
    if any(union):
        out["miou"] = sum(a / b for a, b in zip(inter, union) if b) / sum(1 for b in union if b)
    return out


def _write_metrics(out: Path, history: list, cfg: dict, summary: dict | None = None):
    keys = list(dict.fromkeys(k for row in history for k in row))

    def write_csv(f):
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)

    atomic_write(out / "metrics.csv", write_csv, mode="w")
    atomic_write(out / "metrics.json",
                 lambda f: json.dump({"config": cfg, "history": history, **(summary or {})}, f, indent=2), mode="w")
    _plot_curves(out / "curves.png", history)


def _plot_curves(path: Path, history: list):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(9, 3.5))
    ax1, ax2 = fig.subplots(1, 2)
    ep = [r["epoch"] for r in history]
    for key, ax in (("loss", ax1), ("acc", ax2)):
        for part in ("train", "eval"):
            k = f"{part}_{key}"
            if any(k in r for r in history):
                label = {"train_loss": "train (objective)", "eval_loss": "eval (cross-entropy)"}.get(k, part)
                ax.plot(ep, [r.get(k, math.nan) for r in history], "o-", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel({"loss": "loss", "acc": "accuracy"}[key])
        ax.grid(alpha=0.3)
        ax.legend()
    if any("eval_miou" in r for r in history):
        ax2.plot(ep, [r.get("eval_miou", math.nan) for r in history], "s--", label="eval mIoU")
        ax2.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write(path, lambda f: f.write(buf.getvalue()))


# -- warm start ------------------------------------------------------------------------------------

@torch.no_grad()
def init_from_checkpoint(model: nn.Module, path) -> dict:
    """Start ``model`` from the weights of the checkpoint ``path`` (``model.pt``); returns what was taken.

    Every parameter and buffer of the checkpoint whose name and shape match one of ``model``'s is
    copied (``load_state_dict(strict=False)`` after dropping shape mismatches); the rest of ``model``
    keeps its initialisation. When the checkpoint is an SCLC student with the ideal front end
    (:class:`~nets.models.spectral.SpectralStack`) and ``model``'s front end is the hardware one
    (``set_masks``), the SLM starts from the ideal stack's collapsed masks evaluated on the hardware's
    Fourier grid (the same kernels and pooling apertures, the same physical frequencies: a network
    trained in the ideal simulation, then fine-tuned through the hardware); BatchNorm running statistics
    are then reset, since they describe the ideal camera's intensities, not the hardware's ADU.

    Returns ``{"copied": [names], "skipped": [names], "masks": bool}``.
    """
    from torch.nn.modules.batchnorm import _BatchNorm

    from .models.spectral import SpectralStack

    src, src_cfg = load_model(path)
    own = model.state_dict()
    take = {k: v for k, v in src.state_dict().items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(take, strict=False)
    out = {"copied": sorted(take), "skipped": sorted(set(src.state_dict()) - set(take)), "masks": False}
    front = getattr(model, "frontend", None)
    if isinstance(getattr(src, "frontend", None), SpectralStack) and hasattr(front, "set_masks"):
        grid = tuple(front.layer.hw.geometry.padded_shape)  # the SLM's Fourier grid (My, Mx)
        ideal = build_model(dict(src_cfg["model"], padded_size=list(grid)))  # the same stack on that grid
        ideal.load_state_dict(src.state_dict())
        front.set_masks(ideal.frontend.collapse().to(torch.complex128))
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.reset_running_stats()
        out["masks"] = True
    return out


# -- the loop --------------------------------------------------------------------------------------

def _epoch_seed(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + 7919 * (epoch + 1)) % (2 ** 63)


def train(config, train_set=None, eval_set=None, test_set=None) -> dict:
    """Train a network as ``config`` says; returns a results dict.

    Parameters
    ----------
    config : TrainConfig or dict
    train_set, eval_set, test_set : datasets of (x float32 (C, H, W) in [0, 1], y int64 () or (H, W)), optional
        Default: ``nets.data.load_dataset(config.dataset, "train" / config.eval_split / config.test_split)``.
        When ``train_set`` is given, the test evaluation happens only if ``test_set`` is given too
        (a dataset loaded by name could not match the given data).

    Returns
    -------
    dict with ``config``, ``model`` (model config), ``history`` (one row per
    epoch: epoch, train_loss, train_acc, eval_loss, eval_acc[, eval_miou],
    seconds; "eval" is ``eval_split``), ``final`` (last row), ``best_eval_acc``,
    ``selected_epoch`` (epoch whose weights are kept, see ``select``),
    ``selected`` (its history row), ``test`` (loss, acc[, miou] of the selected
    model on the test split, evaluated once; None without a test split),
    ``checkpoint`` (path of model.pt), ``out_dir``, ``n_parameters`` and
    ``module`` (the selected network itself, on its device; drop it before
    writing the dict as JSON).
    """
    cfg = TrainConfig.from_any(config)
    rank, world, local_rank, owns_group = _dist_setup(cfg.device)
    try:
        return _train(cfg, train_set, eval_set, test_set, rank, world, local_rank)
    finally:
        if owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()


def check_out_dir(cfg: TrainConfig):
    """Refuse an ``out_dir`` that holds an input of the run (always) or an earlier model (without
    ``force`` or ``resume``): training never replaces what it reads, nor a result silently."""
    out = Path(cfg.out_dir).resolve()
    inputs = {"teacher": cfg.teacher, "init_from": cfg.init_from}
    for what, path in inputs.items():
        if path and Path(path).resolve().parent == out:
            raise ValueError(f"out_dir {str(cfg.out_dir)!r} is the folder of the {what} {str(path)!r}: the run would "
                             f"replace its own input. Give another out_dir (CLI --out), e.g. runs/{cfg.role}; "
                             "--force does not override this")
    data = Path(cfg.dataset)
    if data.exists() and (data.resolve() == out or out in data.resolve().parents):
        raise ValueError(f"out_dir {str(cfg.out_dir)!r} holds the dataset {cfg.dataset!r}; give another out_dir")
    if cfg.resume or cfg.force:
        return
    found = [n for n in ("model.pt", "checkpoint.pt") if (out / n).exists()]
    if found:
        raise FileExistsError(f"out_dir {str(cfg.out_dir)!r} already holds {' and '.join(found)} from an earlier run; "
                              "give a new folder (CLI --out DIR), --resume to continue it, or --force to replace it")


def _score(row: dict) -> float:
    """Model-selection score of a history row: validation mean IoU (segmentation) or accuracy."""
    return row.get("eval_miou", row["eval_acc"])


def _train(cfg: TrainConfig, train_set: Dataset | None, eval_set: Dataset | None, test_set: Dataset | None,
           rank: int, world: int, local_rank: int) -> dict:
    """The run of :func:`train` in this process, step by step (rank 0 writes the files)."""
    check_out_dir(cfg)
    device = _resolve_device(cfg.device, local_rank, world)
    out = Path(cfg.out_dir)
    main = rank == 0
    if main:
        out.mkdir(parents=True, exist_ok=True)
    train_set, eval_set, test_set = _build_data(cfg, train_set, eval_set, test_set)
    mcfg, n_classes = _model_config(cfg, train_set)
    model = _build_model(cfg, mcfg, device)
    run_cfg = {"train": cfg.to_dict(), "model": mcfg}
    teacher = _load_teacher(cfg, device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    aug = Augment.from_any(cfg.augment)
    sel = _resume(cfg, out / "checkpoint.pt", model, opt, mcfg, device)
    loop = _Epochs(cfg, net=_wrap_ddp(model, world, device), opt=opt, teacher=teacher, aug=aug, device=device,
                   n_classes=n_classes, world=world, show=cfg.progress and main,
                   **_loaders(cfg, train_set, eval_set, world, rank))
    for epoch in range(sel.start, cfg.epochs):
        row = loop.run(epoch, model)
        best = sel.record(row, model, cfg.select)
        if main:
            _write_epoch(cfg, out, model, opt, run_cfg, sel, best)
    sel.restore(model)
    test = _final_test(cfg, model, test_set, device, n_classes)
    model_path = out / "model.pt"
    if main:
        _write_final(cfg, out, model, run_cfg, sel, test)
    return {"config": cfg.to_dict(), "model": mcfg, "history": sel.history,
            "final": sel.history[-1] if sel.history else {},
            "best_eval_acc": max((r["eval_acc"] for r in sel.history), default=float("nan")),
            "selected_epoch": sel.best_epoch, "selected": sel.selected, "test": test,
            "checkpoint": str(model_path), "out_dir": str(out),
            "n_parameters": sum(p.numel() for p in model.parameters()), "module": model}


def _log(msg: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(msg)  # between the progress bars, not through them


# -- the steps of a run ----------------------------------------------------------------------------

def _build_data(cfg: TrainConfig, train_set: Dataset | None, eval_set: Dataset | None,
                test_set: Dataset | None) -> tuple[Dataset, Dataset, Dataset | None]:
    """(train, eval, test) datasets: the given ones cut to the limits, else loaded by name. With a
    given ``train_set`` and no ``test_set`` there is no test split (one loaded by name might not match)."""
    by_name = train_set is None
    if by_name:
        train_set = _load_split(cfg, "train", cfg.train_limit)
    else:
        train_set = _limit(train_set, cfg.train_limit)
    if eval_set is None:
        eval_set = _load_split(cfg, cfg.eval_split, cfg.eval_limit)
    else:
        eval_set = _limit(eval_set, cfg.eval_limit)
    if test_set is None and by_name and cfg.test_split is not None:
        test_set = _load_split(cfg, cfg.test_split, cfg.eval_limit)
    elif test_set is not None:
        test_set = _limit(test_set, cfg.eval_limit)
    return train_set, eval_set, test_set


def _model_config(cfg: TrainConfig, train_set: Dataset) -> tuple[dict, int]:
    """(model config, number of classes): the default of (task, role) for the data's image shape,
    updated by ``cfg.model``, as plain JSON."""
    x0 = train_set[0][0]  # the one probe of the image shape
    base = train_set.dataset if isinstance(train_set, torch.utils.data.Subset) else train_set
    n_classes = _n_classes(base)
    mcfg = default_model_config(cfg.task, cfg.role, int(x0.shape[0]), tuple(x0.shape[1:]), n_classes)
    mcfg.update(cfg.model)
    return json.loads(json.dumps(mcfg)), n_classes


def _build_model(cfg: TrainConfig, mcfg: dict, device: torch.device) -> nn.Module:
    """The network of ``mcfg``, initialised right after ``torch.manual_seed(cfg.seed)`` (or from
    ``cfg.init_from``), on ``device``. A hardware front end's system (a default one is derived) is
    recorded in ``mcfg["frontend_kw"]["system"]``, so the saved model rebuilds the very same."""
    torch.manual_seed(cfg.seed)
    model = build_model(mcfg)
    if cfg.init_from:
        init_from_checkpoint(model, cfg.init_from)
    model = model.to(device)
    system = getattr(getattr(model, "frontend", None), "system", None)
    if system is not None:
        mcfg.setdefault("frontend_kw", {})["system"] = system
    return model


def _load_teacher(cfg: TrainConfig, device: torch.device) -> nn.Module | None:
    """The frozen KD teacher (None without KD), refused when trained for another task."""
    if not (cfg.teacher and cfg.alpha > 0):
        return None
    teacher, tcfg = load_model(cfg.teacher, map_location=device)
    teacher.requires_grad_(False)
    if tcfg.get("train", {}).get("task", cfg.task) != cfg.task:
        raise ValueError(f"teacher {cfg.teacher} was trained for task {tcfg['train']['task']!r}, "
                         f"not {cfg.task!r}")
    return teacher


@dataclass
class _Selection:
    """The epochs done (``history``, one row each) and the selected weights: ``best_state`` (a CPU
    copy; None while the last epoch's are the selected ones) of epoch ``best_epoch`` (1-based, 0: none)."""

    start: int = 0
    history: list = field(default_factory=list)
    best_state: dict | None = None
    best_epoch: int = 0

    def record(self, row: dict, model: nn.Module, select: str) -> dict:
        """Add an epoch's row and select on it; returns the selection entries of the checkpoint."""
        self.history.append(row)
        epoch = row["epoch"]
        if select == "last":
            self.best_epoch = epoch
            return {}
        if self.best_state is None or _score(row) > _score(self.history[self.best_epoch - 1]):  # ties keep the earlier
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            self.best_epoch = epoch
        return {"best_state_dict": self.best_state, "best_epoch": self.best_epoch}

    def restore(self, model: nn.Module) -> None:
        """Load the selected weights into ``model`` (when they are not its own, those of the last epoch)."""
        if self.best_state is not None and self.best_epoch != len(self.history):
            model.load_state_dict(self.best_state)

    @property
    def selected(self) -> dict:
        """The history row of the selected epoch ({} when no epoch ran)."""
        return self.history[self.best_epoch - 1] if self.best_epoch else {}


def _resume(cfg: TrainConfig, ck_path: Path, model: nn.Module, opt: torch.optim.Optimizer, mcfg: dict,
            device: torch.device) -> _Selection:
    """With ``cfg.resume`` and a checkpoint at ``ck_path``: load its weights and optimiser state into
    ``model`` and ``opt`` and return where it stopped; else a fresh :class:`_Selection`."""
    sel = _Selection()
    if not (cfg.resume and ck_path.is_file()):
        return sel
    ck = load_checkpoint(ck_path, map_location=device)
    if ck["config"]["model"] != mcfg:
        raise ValueError(f"cannot resume from {ck_path}: it holds model {ck['config']['model']}, this run "
                         f"builds {mcfg}; use another out_dir or resume=False")
    model.load_state_dict(ck["state_dict"])
    opt.load_state_dict(ck["optimizer"])
    sel.start, sel.history = int(ck["epoch"]), list(ck["history"])
    sel.best_epoch = sel.start
    if cfg.select == "best" and "best_state_dict" in ck:
        sel.best_state, sel.best_epoch = ck["best_state_dict"], int(ck["best_epoch"])
    return sel


def _wrap_ddp(model: nn.Module, world: int, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel when several processes train, else ``model`` itself."""
    if world <= 1:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[device.index] if device.type == "cuda" else None)


def _loaders(cfg: TrainConfig, train_set: Dataset, eval_set: Dataset, world: int, rank: int) -> dict:
    """``sampler``, ``loader`` (training, this process's shard) and ``eval_loader``."""
    # DistributedSampler also serves one process: it shuffles with a generator seeded by seed + epoch.
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed,
                                 drop_last=True)
    loader = DataLoader(train_set, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers,
                        drop_last=False)
    eval_loader = DataLoader(eval_set, batch_size=max(cfg.batch_size, 256), shuffle=False,
                             num_workers=cfg.num_workers)
    return {"sampler": sampler, "loader": loader, "eval_loader": eval_loader}


def _scheduled_lr(cfg: TrainConfig, epoch: int, step: int, n_steps: int) -> float:
    """Learning rate at ``step`` of ``n_steps`` in ``epoch`` (0-based): a function of (epoch, step)
    only, so a resumed run continues exactly."""
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * (epoch + step / n_steps) / cfg.epochs))
    return cfg.lr


@dataclass
class _Epochs:
    """The training epochs: ``net`` (``model``, DDP-wrapped with several processes) by Adam ``opt``,
    KD from ``teacher`` (None: cross-entropy), batches augmented by ``aug``; each epoch evaluated on
    ``eval_loader``."""

    cfg: TrainConfig
    net: nn.Module
    opt: torch.optim.Optimizer
    teacher: nn.Module | None
    aug: Augment | None
    device: torch.device
    n_classes: int
    world: int
    show: bool
    sampler: DistributedSampler
    loader: DataLoader
    eval_loader: DataLoader

    def run(self, epoch: int, model: nn.Module) -> dict:
        """Train epoch ``epoch`` (0-based) and evaluate ``model``; returns its history row."""
        t0 = time.perf_counter()
        torch.manual_seed(_epoch_seed(self.cfg.seed, epoch))
        self.sampler.set_epoch(epoch)
        loss_sum, correct, count, samples = self._train(epoch)
        loss_sum, correct, count, samples = _all_reduce([loss_sum, correct, count, samples], self.device, self.world)
        ev = evaluate(model, self.eval_loader, self.device, self.n_classes)
        row = {"epoch": epoch + 1, "train_loss": loss_sum / max(samples, 1), "train_acc": correct / max(count, 1)}
        row.update({f"eval_{k}": v for k, v in ev.items()})
        row["seconds"] = time.perf_counter() - t0
        return row

    def _train(self, epoch: int) -> tuple[float, float, float, float]:
        """One pass over this process's shard: (loss sum over samples, correct, count, samples)."""
        from tqdm.auto import tqdm

        cfg, opt, teacher = self.cfg, self.opt, self.teacher
        self.net.train()
        loss_sum = correct = count = samples = 0.0
        n_steps = len(self.loader) if cfg.max_steps is None else min(len(self.loader), cfg.max_steps)
        bar = tqdm(self.loader, total=n_steps, desc=f"{cfg.role} epoch {epoch + 1}/{cfg.epochs}",
                   disable=not self.show, leave=False)
        for step, (x, y) in enumerate(itertools.islice(bar, n_steps)):
            x, y = x.to(self.device), y.to(self.device)
            if cfg.schedule != "constant":
                for g in opt.param_groups:
                    g["lr"] = _scheduled_lr(cfg, epoch, step, n_steps)
            target = y
            if self.aug is not None:  # one augmented view, seen by the student and the teacher alike
                x, target = self.aug(x, y, self.n_classes)
            logits = self.net(x)
            t_logits = None
            if teacher is not None:
                with torch.no_grad():
                    t_logits = teacher(x)
            loss = kd_loss(logits, t_logits, target, T=cfg.T, alpha=cfg.alpha if teacher is not None else 0.0)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss became {loss.item()} at epoch {epoch + 1}, step {step}; "
                                         f"lower lr (now {cfg.lr})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            c, n, _, _ = _batch_stats(logits.detach(), target if target.dtype == y.dtype else target.argmax(1), 0)
            loss_sum, samples = loss_sum + loss.item() * x.shape[0], samples + x.shape[0]
            correct, count = correct + c, count + n
            bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.close()
        return loss_sum, correct, count, samples


def _write_epoch(cfg: TrainConfig, out: Path, model: nn.Module, opt: torch.optim.Optimizer, run_cfg: dict,
                 sel: _Selection, best: dict) -> None:
    """``checkpoint.pt`` (weights, optimiser, history and ``best`` selection, for ``resume``) and
    ``metrics.*`` / ``curves.png`` in ``out`` after an epoch, and its line in the log."""
    row = sel.history[-1]
    save_checkpoint(out / "checkpoint.pt", model, run_cfg, optimizer=opt.state_dict(), epoch=row["epoch"],
                    history=sel.history, **best)
    _write_metrics(out, sel.history, run_cfg)
    msg = ", ".join(f"{k} {v:.4g}" for k, v in row.items() if k != "epoch")
    _log(f"[{cfg.role}] epoch {row['epoch']}/{cfg.epochs}: {msg}")


def _final_test(cfg: TrainConfig, model: nn.Module, test_set: Dataset | None, device: torch.device,
                n_classes: int) -> dict | None:
    """Metrics of the selected ``model`` on the test split, evaluated once (None without one)."""
    if test_set is None:
        return None
    t_loader = DataLoader(test_set, batch_size=max(cfg.batch_size, 256), shuffle=False, num_workers=cfg.num_workers)
    return evaluate(model, t_loader, device, n_classes)


def _write_final(cfg: TrainConfig, out: Path, model: nn.Module, run_cfg: dict, sel: _Selection,
                 test: dict | None) -> None:
    """``model.pt`` (the selected weights) and the final ``metrics.*`` and ``curves.png`` in ``out``."""
    save_checkpoint(out / "model.pt", model, run_cfg, history=sel.history, selected_epoch=sel.best_epoch)
    _write_metrics(out, sel.history, run_cfg, {"selected_epoch": sel.best_epoch, "test_split": cfg.test_split,
                                               "test": test})
    if test is not None:
        msg = ", ".join(f"{k} {v:.4g}" for k, v in test.items())
        _log(f"[{cfg.role}] epoch {sel.best_epoch} selected on {cfg.eval_split}; {cfg.test_split}: {msg}")
