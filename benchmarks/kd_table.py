"""Knowledge-distillation results table: teacher, linear baseline, KD student, hardware KD student.

    python benchmarks/kd_table.py [--json PATH] [--datasets mnist5k synthetic-seg] [--work DIR]

For each dataset four networks are trained with :func:`nets.train.train` (split seed 0):

* ``teacher``      the nonlinear CNN (MNIST-5k) or U-Net (segmentation), cross-entropy;
* ``baseline``     the SCLC linear optical student trained with plain cross-entropy;
* ``kd``           the *same* student (same architecture, initialisation, epochs,
                   optimiser, schedule and input augmentation) trained by knowledge
                   distillation from the teacher (the preset's T and alpha); with
                   augmentation the teacher labels the very view the student sees;
* ``kd_hardware``  the student with the hardware 4f front end (8-bit phase-only SLM,
                   10-bit camera with shot and read noise), trained by KD through the
                   simulation and evaluated with a fresh noise draw per frame. A preset
                   with ``"init": "kd"`` starts it from the ``kd`` row's student of the same
                   seed (``nets.train`` ``init_from``: the ideal masks on the SLM, the back
                   end copied) and fine-tunes it through the hardware: what a lab does.

Honest evaluation: every epoch is evaluated on the validation split; a row keeps the
epoch with the best validation score (``select="best"``, the default) or, where its
preset says ``"select": "last"``, the last epoch (a fixed training length); the test
split is evaluated once, on that model, at the end of each row. A preset's ``"seeds":
n`` trains the row with seeds 0 .. n-1 (initialisation, batch order, augmentation;
one data split) and reports the mean (``--seeds`` overrides n for the student rows).
The presets below were chosen by looking at validation numbers only.

Records (``--json``): a list of ``{"dataset", "row", "metric", "value", "seconds", ...}``
with ``row`` in ("teacher", "baseline", "kd", "kd_hardware"), ``metric`` "accuracy"
(MNIST-5k) or "iou" (mean IoU over classes, segmentation), ``value`` the test
fraction, ``seconds`` the row's wall time (training and evaluation). Extra keys:
``val_value`` (the selected epoch's validation score), ``epochs``, ``selected_epoch``,
``select``, ``n_parameters``, ``init`` (warm-started rows: "kd"); rows with several seeds:
``value``/``val_value`` are the means,
``selected_epoch`` a list, and ``seeds``, ``values``, ``val_values`` the per-seed ones; presets with
``unlabelled`` scenes: ``unlabelled``, the extra training images per epoch (teacher-labelled scenes for
the KD rows, repeats of the labelled ones for the baseline: :func:`teacher_labelled_sets`); presets with
``views``: ``views`` (segmentation rows trained on random flips / 90-degree rotations:
:class:`nets.data.augment.DihedralViews`).

The printed table is the one docs/results.md shows.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ROWS = ("teacher", "baseline", "kd", "kd_hardware")
METRIC = {"classify": "accuracy", "segment": "iou"}

# Camera of the hardware row: 10-bit ADC spanning a 10 000 e- full well, 5 e- rms read noise,
# shot noise (the Gaussian reparameterisation the gradient flows through); the exposure is set
# from the training images (``calibrate_exposure``).
HW_CAMERA = {"bit_depth": 10, "gain": None, "full_well": 1.0e4, "read_noise": 5.0, "noise": True,
             "noise_model": "gaussian"}
HW_SLM_BITS = 8
EXPOSURE_FILL = 0.5  # brightest pixels (99.9th percentile) of the initial student at half the full well

MNIST_VIEWS = {"shift": 2.0, "rotate": 10.0, "scale": 0.1}  # nets.data.augment.Augment

PRESETS = {
    # Chosen on the validation split only (docs/results.md, "What was tried"). All MNIST rows see random views
    # (shift <= 2 px, rotation <= 10 deg, scale 0.9-1.1) under a cosine learning rate. KD is "function
    # matching" (Beyer et al. 2022): alpha = 1, T = 1, the teacher labelling each augmented view; the
    # baseline gets the same views with their hard labels. Students keep their last epoch (fixed length).
    # The hardware student is what a lab does: the kd row's student (same seed) is loaded onto the hardware
    # ("init": "kd": its collapsed masks, pooling aperture included, on the SLM; its back end, which the
    # registered "image" readout fits), then KD fine-tuned through the simulated hardware for 4 epochs at a
    # tenth of the learning rate (validation, 3 seeds: 98.3 % mean against 97.7 % for 12 epochs from scratch).
    "mnist5k": {
        "task": "classify", "dataset": "mnist5k", "image_size": None, "batch_size": 64,
        "teacher": {"epochs": 30, "lr": 2e-3, "schedule": "cosine", "augment": MNIST_VIEWS,
                    "model": {"widths": [32, 64], "hidden": 128}},
        "student": {"epochs": 60, "lr": 3e-3, "schedule": "cosine", "augment": MNIST_VIEWS, "T": 1.0, "alpha": 1.0,
                    "select": "last", "model": {"channels": [8], "kernel_sizes": 7, "pool": 2, "binning": 2}},
        "hardware": {"epochs": 4, "lr": 3e-4, "schedule": "cosine", "augment": MNIST_VIEWS, "T": 1.0, "alpha": 1.0,
                     "select": "last", "init": "kd",
                     "model": {"channels": [8], "kernel_sizes": 7, "binning": 2, "readout": "image"}},
    },
    "synthetic-seg": {
        # Chosen on validation mIoU only (docs/results.md, "What was tried"): the one-layer 16-wide decoder left every
        # student at ~44 % whatever the loss (it underfits: train ~ val); a second 3x3 layer, 32 wide, under a
        # cosine learning rate lifts it to ~60 %. Pixel-wise KD at T = 1 then tracks the baseline at equal steps.
        # KD's own lever is data: "unlabelled" extra scenes from another generator seed, labelled by the teacher
        # only (true masks never read); the baseline repeats its 700 labelled scenes to run as many steps.
        # Every row trains on random flips / 90-degree rotations of its scenes ("views": an exact symmetry of the
        # generator): the U-Net teacher rises from 69.8 to 81.2 % val, the students move within noise; the
        # student rows are the mean of seeds 0, 1, 2 (one split).
        "task": "segment", "dataset": "synthetic-seg", "image_size": 32, "batch_size": 32, "views": "dihedral",
        "teacher": {"epochs": 60, "lr": 3e-3, "schedule": "cosine", "model": {"base": 16, "depth": 2}},
        "student": {"epochs": 30, "lr": 3e-3, "schedule": "cosine", "T": 1.0, "alpha": 0.5, "unlabelled": 700,
                    "seeds": 3, "model": {"channels": [8], "kernel_sizes": 7, "decoder_width": 32, "decoder_depth": 2}},
        "hardware": {"epochs": 30, "lr": 3e-3, "schedule": "cosine", "T": 1.0, "alpha": 0.5, "unlabelled": 700,
                     "model": {"channels": [8], "kernel_sizes": 7, "decoder_width": 32, "decoder_depth": 2}},
    },
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="write the records to this JSON file")
    p.add_argument("--datasets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS)
    p.add_argument("--work", type=Path, default=ROOT / "out" / "kd_table",
                   help="training folders (default out/kd_table)")
    p.add_argument("--seed", type=int, default=0, help="first seed (rows with n seeds use seed .. seed + n - 1)")
    p.add_argument("--seeds", type=int, help="override the presets' number of seeds of the student rows")
    # 1: on a shared 2-core machine 2 threads ran a teacher epoch many times slower (docs/results.md#measurements)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--device", default="cpu")
    # smoke-test knobs (the full table uses the presets)
    p.add_argument("--teacher-epochs", type=int, help="override the presets' teacher epochs")
    p.add_argument("--student-epochs", type=int, help="override the presets' student (baseline, kd) epochs")
    p.add_argument("--hardware-epochs", type=int, help="override the presets' hardware student epochs")
    p.add_argument("--max-steps", type=int, help="batches per epoch at most")
    p.add_argument("--train-limit", type=int, help="training images used")
    p.add_argument("--eval-limit", type=int, help="validation and test images used")
    p.add_argument("--seg-size", type=int, help="segmentation image size (default: the preset's 32)")
    return p.parse_args(argv)


def hardware_model(preset: dict, image_size, in_channels: int, train_cfg: dict) -> dict:
    """Model config of the hardware student: default system, 8-bit phase SLM, 10-bit noisy camera."""
    from nets.models.hardware import default_system

    m = copy.deepcopy(preset["hardware"]["model"])
    # "image": camera tiles flipped back and cropped, registered with the input (segmentation masks; the
    # ideal student's back end, for a warm start); "tiles": the whole (image + kernel - 1) tiles
    readout = m.pop("readout", "image" if train_cfg["task"] == "segment" else "tiles")
    cout = m["channels"][-1]
    system = default_system(image_size, cout, m["kernel_sizes"], bit_depth=HW_SLM_BITS, noise=True)
    system["camera"].update(HW_CAMERA)
    system["seed"] = train_cfg["seed"]
    system["camera"]["exposure_time"] = calibrate_exposure(m, system, image_size, in_channels, train_cfg)
    m.update(frontend="hardware", frontend_kw={"system": system, "readout": readout})
    return m


def calibrate_exposure(model_cfg: dict, system: dict, image_size, in_channels: int, train_cfg: dict) -> float:
    """Exposure (s) putting the 99.9th percentile pixel of the student as training starts (random SLM, or
    the warm start ``train_cfg["init_from"]``), on up to 256 training images, at ``EXPOSURE_FILL`` of the
    full well: what a lab sets before training (training images only)."""
    import torch

    from nets.checkpoint import build_model
    from nets.data import load_dataset
    from nets.train import init_from_checkpoint

    probe = copy.deepcopy(system)
    probe["camera"].update(bit_depth=None, gain=1.0, full_well=1e30, noise=False)  # output = mean electrons
    torch.manual_seed(train_cfg["seed"])  # the same initial SLM as the training run
    net = build_model(dict(model_cfg, arch=_arch(train_cfg["task"]), in_channels=in_channels,
                           image_size=list(image_size), n_classes=train_cfg["n_classes"],
                           frontend="hardware", frontend_kw={"system": probe}))  # all tiles, whole frame
    if train_cfg.get("init_from"):
        init_from_checkpoint(net, train_cfg["init_from"])
    kw = {"size": train_cfg["image_size"], "seed": train_cfg["split_seed"],
          "limit": min(256, train_cfg["train_limit"] or 256)}
    x = load_dataset(train_cfg["dataset"], "train", **kw).tensors[0]
    with torch.no_grad():
        e = net.frontend(x).flatten()
    peak = float(torch.quantile(e[:1_000_000].double(), 0.999))
    if not peak > 0:
        raise RuntimeError("the untrained hardware student sends no light to the camera; check the system")
    return system["camera"]["exposure_time"] * EXPOSURE_FILL * system["camera"]["full_well"] / peak


UNLABELLED_SEED_OFFSET = 1000  # generator seed of the unlabelled scenes: the split seed + this


def teacher_labelled_sets(cfg: dict, teacher_path: str | None, n: int) -> dict:
    """``train``'s data sets for a KD row with ``n`` extra unlabelled scenes (``synthetic-seg`` only).

    The labelled train split is the baseline's, unchanged. The extra scenes come from the same
    generator under another seed (split seed + ``UNLABELLED_SEED_OFFSET``), so none is a
    validation or test scene; their true masks are thrown away and their targets are the teacher's
    argmax (:func:`nets.kd.pseudo_labels`); the KL term sees the teacher's logits as for any image.
    ``teacher_path=None`` (the baseline, which has no labeller): the ``n`` extra places repeat the
    labelled scenes instead, so that the baseline runs as many optimiser steps per epoch on its own data.
    Returns ``{"train_set", "eval_set", "test_set"}`` (the evaluation splits as ``train`` loads them).
    """
    import torch
    from torch.utils.data import TensorDataset

    from nets.checkpoint import load_model
    from nets.data import load_dataset
    from nets.kd import pseudo_labels

    if cfg["dataset"] != "synthetic-seg" or n < 1:
        raise ValueError(f"unlabelled scenes need the synthetic-seg generator and n >= 1, got dataset "
                         f"{cfg['dataset']!r}, n={n}; drop 'unlabelled' from the preset")
    sets = labelled_sets(cfg)
    labelled = sets["train_set"]
    if teacher_path is None:
        keep = torch.arange(len(labelled) + int(n)) % len(labelled)
        train_set = TensorDataset(labelled.tensors[0][keep], labelled.tensors[1][keep])
    else:
        extra = load_dataset(cfg["dataset"], "train", size=cfg["image_size"],
                             seed=cfg["split_seed"] + UNLABELLED_SEED_OFFSET,
                             counts={"train": int(n), "val": 0, "test": 0}).tensors[0]
        teacher, _ = load_model(teacher_path)
        train_set = TensorDataset(torch.cat([labelled.tensors[0], extra]),
                                  torch.cat([labelled.tensors[1], pseudo_labels(teacher, extra)]))
    train_set.classes = labelled.classes
    return dict(sets, train_set=train_set)


def labelled_sets(cfg: dict) -> dict:
    """``train``'s data sets loaded by name as ``train`` itself would (train split limited to
    ``cfg["train_limit"]``): for rows whose training set is wrapped in views (``DihedralViews``) or
    extended (:func:`teacher_labelled_sets`)."""
    from nets.data import load_dataset

    kw = {"size": cfg["image_size"], "seed": cfg["split_seed"]}
    ev = dict(kw, limit=cfg["eval_limit"])
    return {"train_set": load_dataset(cfg["dataset"], "train", limit=cfg["train_limit"], **kw),
            "eval_set": load_dataset(cfg["dataset"], cfg["eval_split"], **ev),
            "test_set": load_dataset(cfg["dataset"], cfg["test_split"], **ev)}


def _arch(task):
    return "sclc_classifier" if task == "classify" else "sclc_segmenter"


def run_dataset(name: str, args) -> list:
    from nets.data import load_dataset
    from nets.train import train

    preset = PRESETS[name]
    size = args.seg_size if (args.seg_size and preset["task"] == "segment") else preset["image_size"]
    common = {"task": preset["task"], "dataset": preset["dataset"], "seed": args.seed, "split_seed": args.seed,
              "device": args.device,
              "batch_size": preset["batch_size"], "image_size": size, "progress": False,
              "eval_split": "val", "select": "best", "test_split": "test",
              "train_limit": args.train_limit, "eval_limit": args.eval_limit, "max_steps": args.max_steps}
    from nets.data.augment import DihedralViews

    # a preset's "views": training views of every segmentation row (classification rows use "augment")
    views = {"dihedral": DihedralViews}[preset["views"]] if preset.get("views") else None
    x0 = load_dataset(preset["dataset"], "val", size=size, seed=args.seed, limit=1)[0][0]
    image_size, in_channels = tuple(x0.shape[1:]), int(x0.shape[0])
    override = {"teacher": args.teacher_epochs, "student": args.student_epochs, "hardware": args.hardware_epochs}
    records, teacher_path, kd_paths = [], None, {}  # kd_paths: the KD row's model.pt per seed (warm starts)
    work = args.work / name
    for row in ROWS:
        if row not in args.rows:
            continue
        part = {"teacher": "teacher", "baseline": "student", "kd": "student", "kd_hardware": "hardware"}[row]
        spec = preset[part]
        if spec is None:
            print(f"[{name}] {row}: no preset (skipped)")
            continue
        spec = copy.deepcopy(spec)
        n_seeds = int(spec.pop("seeds", 1))  # popped in any case: not a TrainConfig field
        n_seeds = n_seeds if args.seeds is None or row == "teacher" else args.seeds
        unlabelled = int(spec.pop("unlabelled", 0))  # extra scenes for the KD rows, labelled by the teacher
        init = spec.pop("init", None)  # "kd": start from the KD row's student of the same seed
        if init not in (None, "kd"):
            raise ValueError(f"preset {name}/{part}: 'init' must be 'kd' or absent, got {init!r}")
        seeds = [args.seed + i for i in range(n_seeds)]
        cfg = dict(common, role={"teacher": "teacher", "baseline": "baseline", "kd": "student",
                                 "kd_hardware": "hardware"}[row], out_dir=str(work / row))
        cfg.update(spec)
        if override[part] is not None:
            cfg["epochs"] = override[part]
        t0 = time.perf_counter()
        if row in ("kd", "kd_hardware"):
            if teacher_path is None:
                raise SystemExit(f"row {row!r} needs the teacher row (add 'teacher' to --rows)")
            cfg["teacher"] = teacher_path
        key = "miou" if preset["task"] == "segment" else "acc"
        runs = []
        for seed in seeds:  # the same seeds (initialisations, batch orders, views) for baseline and kd
            c = dict(cfg, seed=seed, out_dir=cfg["out_dir"] + (f"/seed{seed}" if len(seeds) > 1 else ""))
            if init == "kd":
                if seed not in kd_paths:
                    raise SystemExit(f"row {row!r} starts from the kd row's student (preset 'init': 'kd'); "
                                     "add 'kd' to --rows")
                c["init_from"] = kd_paths[seed]
            if row == "kd_hardware":
                n_classes = len(load_dataset(preset["dataset"], "val", size=size, seed=args.seed, limit=1).classes)
                c["model"] = hardware_model(preset, image_size, in_channels, dict(c, n_classes=n_classes))
            sets = {}
            if unlabelled:  # KD rows: + teacher-labelled scenes; baseline: as many steps on its labelled scenes
                sets = teacher_labelled_sets(c, teacher_path if row != "baseline" else None, unlabelled)
                c["train_limit"] = None  # already applied to the labelled part
            elif views is not None:
                sets = labelled_sets(c)
                c["train_limit"] = None
            if views is not None:
                sets["train_set"] = views(sets["train_set"])
            res = train(c, **sets)
            runs.append((float(res["test"][key]), float(res["selected"][f"eval_{key}"]), res["selected_epoch"],
                         res["n_parameters"]))
            del res["module"]
            if row == "teacher":
                teacher_path = res["checkpoint"]
            if row == "kd":
                kd_paths[seed] = res["checkpoint"]
        seconds = time.perf_counter() - t0
        tests, vals, sel, npar = zip(*runs)
        rec = {"dataset": name, "row": row, "metric": METRIC[preset["task"]], "value": sum(tests) / len(tests),
               "seconds": round(seconds, 2), "val_value": sum(vals) / len(vals),
               "epochs": cfg["epochs"], "selected_epoch": sel[0] if len(sel) == 1 else list(sel),
               "select": cfg["select"], "n_parameters": npar[0]}
        if len(seeds) > 1:
            rec.update(seeds=seeds, values=list(tests), val_values=list(vals))
        if unlabelled:  # extra training images per epoch: teacher-labelled (KD rows) or repeats (baseline)
            rec["unlabelled"] = unlabelled
        if views is not None:
            rec["views"] = preset["views"]
        if init:
            rec["init"] = init
        each = f" (seeds {seeds}: test {', '.join(f'{v:.4f}' for v in tests)})" if len(seeds) > 1 else ""
        print(f"[{name}] {row}: test {rec['metric']} {rec['value']:.4f} (val {rec['val_value']:.4f}, epoch "
              f"{_epochs(rec)}){each}, {seconds:.0f} s", flush=True)
        records.append(rec)
    return records


def _epochs(rec) -> str:
    """'kept/run' epochs of a record (one kept epoch per seed)."""
    sel = rec["selected_epoch"]
    return f"{','.join(map(str, sel)) if isinstance(sel, list) else sel}/{rec['epochs']}"


def table(records: list) -> str:
    """Markdown table of the records (one line per dataset and row)."""
    lines = ["| dataset | row | metric | test | val (selected) | epochs | wall time (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['dataset']} | {r['row']} | {r['metric']} | {100 * r['value']:.1f} % | "
                     f"{100 * r['val_value']:.1f} % | {_epochs(r)} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> list:
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    records = []
    for name in args.datasets:
        records += run_dataset(name, args)
    total = time.perf_counter() - t0
    print(table(records))
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"total wall time {total:.0f} s on {os.cpu_count()} CPU cores, {args.threads} torch threads; "
          f"1-min load average {load:.1f} at start, {load_end:.1f} at end")
    if args.json:
        from optics4f.io.atomic import atomic_write

        atomic_write(args.json, lambda f: json.dump(records, f, indent=2), mode="w")
        print(f"records written to {args.json}")
    return records


if __name__ == "__main__":
    main()
