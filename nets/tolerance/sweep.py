"""Accuracy over a grid of bench errors, several noise seeds per point, with error bars:
``optics4f tolerance --sweep NAME[:UNIT][=V1,V2,...] [--sweep ...] --seeds K`` (docs/tolerance.md).

Every point is a bench of the tolerance machinery (:mod:`.bench`: frames exported once, the bench
varied) with the named errors at the grid's values and the others nominal; each point runs with
``seeds`` camera noise seeds (--seed + k), and reports the mean, the standard deviation over seeds
and its standard error. Values are SI (or a unit of the same kind named in the option); CSV
headers carry the units. The default ranges reach the point where the embedded student's accuracy
falls (measured, 60 test images).
"""
from __future__ import annotations

import itertools
import json
import math
import os
from pathlib import Path

import numpy as np

from .result import SeedStats, SweepPoint, SweepResult, SweptError
from .spec import error_kind

__all__ = ["DEFAULT_RANGES", "parse_sweep", "grid_sweep", "write_sweep"]

#: Default values (SI) per error, reaching the fall of the embedded student's accuracy (measured on 60
#: test images; Fourier defocus alone stays flat to 100 mm there).
DEFAULT_RANGES = {
    "slm_bits": [8, 6, 4, 3, 2, 1],
    "camera_bits": [12, 10, 8, 6, 4, 2],
    "full_well": [2e4, 3000, 1000, 300, 100, 30],
    "read_noise": [5, 30, 100, 300, 1000, 3000],
    "slm_shift_y": [0, 64e-6, 128e-6, 256e-6, 384e-6, 512e-6],
    "slm_shift_x": [0, 64e-6, 128e-6, 256e-6, 384e-6, 512e-6],
    "slm_rotation": [math.radians(d) for d in (0, 0.5, 1, 2, 4, 8)],
    "slm_tilt_y": [0, 1e-4, 2e-4, 5e-4, 1e-3, 3e-3],
    "slm_tilt_x": [0, 1e-4, 2e-4, 5e-4, 1e-3, 3e-3],
    "input_tilt_y": [0, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2],
    "input_tilt_x": [0, 1e-3, 3e-3, 5e-3, 1e-2, 3e-2],
    "fourier_defocus": [0, 10e-3, 20e-3, 50e-3, 100e-3, 200e-3],  # flat to 100 mm (measured)
    "camera_defocus": [0, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2],
    "wavelength": [532e-9, 535e-9, 540e-9, 550e-9, 570e-9, 600e-9],
    "gray_2pi": [255, 240, 220, 180, 128],
    "lut_gamma": [0.7, 0.85, 1.0, 1.2, 1.5, 2.0],
    "fill_factor": [1.0, 0.99, 0.97, 0.95, 0.9, 0.8],
}
_ZERNIKE_DEFAULT = [0, 50e-9, 100e-9, 200e-9, 400e-9, 800e-9]


def parse_sweep(text: str) -> tuple:
    """(name, values in SI, unit shown) from ``NAME[:UNIT][=V1,V2,...]`` (no values: the defaults)."""
    from optics4f.validate import to_si

    head, sep, vals = str(text).partition("=")
    name, _, unit = head.partition(":")
    name = name.strip()
    kind = error_kind(name, where=f"--sweep {text!r}")
    unit = unit.strip() or kind.unit
    if not sep:
        values = DEFAULT_RANGES.get(name, _ZERNIKE_DEFAULT if name[0] == "z" else None)
        return name, [float(v) for v in values], kind.unit
    try:
        raw = [float(v) for v in vals.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--sweep {text!r}: the values must be comma-separated numbers, e.g. "
                         f"{name}:{unit}=0,1,2") from None
    if not raw:
        raise ValueError(f"--sweep {text!r} holds no value; give e.g. {name}:{unit}=0,1,2 or {name} alone")
    values = [float(to_si(v, unit, kind.unit, f"--sweep {name}")) for v in raw]
    for v in values:
        if not kind.low <= v <= kind.high or (kind.integer and v != int(v)):
            raise ValueError(f"--sweep {name}: {v!r} {kind.unit} is not allowed ({kind.description}: "
                             f"{'whole numbers ' if kind.integer else ''}in [{kind.low:g}, {kind.high:g}])")
    return name, values, kind.unit


def grid_sweep(params: list, seeds: int = 3, model=None, settings=None, *, images: int = 200,
               calibration_images: int = 64, dataset=None, workers: int | None = 1, scheduler=None,
               progress: bool = False) -> SweepResult:
    """Metrics over the grid of ``params`` [(name, SI values), ...] x ``seeds`` noise seeds
    (--seed + k), ``images`` test images per point: a :class:`.result.SweepResult` whose points
    hold each metric's mean, standard deviation and standard error over the seeds."""
    from tqdm.auto import tqdm

    from nets.inference.optical import HardwareSettings
    from nets.inference.simulate import DEFAULT_MODEL

    from .run import executor, evaluate_bench

    settings = settings or HardwareSettings()
    if int(seeds) < 1:
        raise ValueError(f"--seeds must be >= 1, got {seeds}")
    names = [n for n, _ in params]
    if len(set(names)) != len(names):
        raise ValueError(f"--sweep names an error twice: {names}")
    model_path = Path(model) if model is not None else DEFAULT_MODEL
    key = json.dumps({"sweep": str(model_path), "hardware": settings.to_dict(), "dataset": dataset}, sort_keys=True)
    ctx_args = ((key, images, calibration_images), str(model_path), settings, images, calibration_images, dataset)
    grid = [dict(zip(names, pt)) for pt in itertools.product(*[v for _, v in params])]
    jobs = [(k * seeds + s, values, settings.seed + s) for k, values in enumerate(grid) for s in range(seeds)]
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    submit, as_completed, close = executor(min(workers, len(jobs)), scheduler, ctx_args)
    done = {}
    try:
        futures = [submit(evaluate_bench, ctx_args, *j) for j in jobs]
        for f in tqdm(as_completed(futures), total=len(jobs), unit="point", desc="sweep", disable=not progress):
            rec = f.result()
            done[rec["index"]] = rec
    finally:
        close()
    metrics = [k for k in ("accuracy", "miou") if k in done[0]]
    points = []
    for k, values in enumerate(grid):
        recs = [done[k * seeds + s] for s in range(seeds)]
        stats = {}
        for m in metrics:
            a = np.array([r[m] for r in recs])
            sd = float(a.std(ddof=1)) if seeds > 1 else 0.0
            stats[m] = SeedStats(float(a.mean()), sd, sd / math.sqrt(seeds), tuple(a.tolist()))
        points.append(SweepPoint(values, recs[0]["digital_accuracy"], stats))
    return SweepResult([SweptError(n, error_kind(n).unit, tuple(v)) for n, v in params], int(seeds),
                       [settings.seed + s for s in range(seeds)], int(images), metrics, str(model_path),
                       settings.to_dict(), points)


def write_sweep(res: SweepResult, folder, force: bool = False, figures: bool = True):
    """``sweep.json``, ``sweep.csv`` (units in every header) and ``sweep.png`` into a new ``folder``."""
    import csv
    import io

    from optics4f.io.atomic import atomic_dir

    with atomic_dir(folder, overwrite=force, what="--out") as tmp:
        (tmp / "sweep.json").write_text(res.to_json())
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([f"{p.name} ({p.unit})" for p in res.params]
                   + [f"{m}_{s} (1)" for m in res.metrics for s in ("mean", "std", "sem")]
                   + ["digital_accuracy (1)", "seeds"])
        for pt in res.points:
            w.writerow([pt.values[p.name] for p in res.params]
                       + [v for m in res.metrics for v in (pt.stats[m].mean, pt.stats[m].std, pt.stats[m].sem)]
                       + [pt.digital_accuracy, res.seeds])
        (tmp / "sweep.csv").write_text(buf.getvalue())
        if figures:
            _figure(res, tmp / "sweep.png")
    return folder


def _figure(res: SweepResult, path):
    from matplotlib.figure import Figure

    from nets.inference.figures import save_png

    m = res.metrics[0]
    first, rest = res.params[0], res.params[1:]
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    others = [dict(zip([q.name for q in rest], pt)) for pt in itertools.product(*[q.values for q in rest])]
    for o in others:
        pts = [pt for pt in res.points if all(pt.values[k] == v for k, v in o.items())]
        label = ", ".join(f"{k}={v:.3g} {error_kind(k).unit}" for k, v in o.items()) or "simulated optical"
        ax.errorbar([pt.values[first.name] for pt in pts], [pt.stats[m].mean for pt in pts],
                    yerr=[pt.stats[m].std for pt in pts], marker="o", capsize=3, label=label)
    ax.axhline(res.points[0].digital_accuracy, color="gray", ls="--", label="digital (ideal)")
    ax.set_xlabel(f"{first.name} ({first.unit})")
    ax.set_ylabel(f"{m} (1), mean +- sd over {res.seeds} noise seeds")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_png(fig, path)
