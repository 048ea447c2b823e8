"""Arguments and run function of ``optics4f tolerance`` (registered in nets/cli.py)."""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments"]


def add_arguments(p: argparse.ArgumentParser, hardware_args, hardware_settings, int_arg, refuse_inputs):
    """Add the command's options to ``p`` (the bench options through ``hardware_args``); returns run(args)."""
    p.add_argument("model", nargs="?", default=None,
                   help="student checkpoint (model.pt); default: the embedded MNIST-5k student")
    p.add_argument("--spec", type=Path, default=None, metavar="TOML",
                   help="tolerance file: a distribution per bench error (SI units) and the target (docs/tolerance.md)")
    p.add_argument("--sweep", action="append", default=None, metavar="NAME[:UNIT][=V1,V2,...]",
                   help="instead of --spec: accuracy over a grid of bench errors (repeat for more errors), e.g. "
                        "slm_rotation:deg=0,1,2,4 --sweep read_noise; values in SI or the UNIT named; without "
                        "values a default range that reaches the fall")
    p.add_argument("--seeds", type=int_arg(min=1), default=3, help="--sweep: camera noise seeds per point (default 3)")
    p.add_argument("--images", type=int_arg(min=1), default=200, help="--sweep: test images per point (default 200)")
    p.add_argument("--out", type=Path, default=Path("out/tolerance"), metavar="DIR",
                   help="run folder: run.json, benches.jsonl (resumable) and report/ (default out/tolerance)")
    p.add_argument("--force", action="store_true", help="discard a run of another spec in --out and start again")
    p.add_argument("--dataset", default=None, help="dataset name or folder (default: the model's)")
    p.add_argument("--workers", type=int_arg(min=1), default=None,
                   help="local worker processes (default: all cores; 1: no pool)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the benches on a Dask distributed cluster (e.g. tcp://10.0.0.5:8786); needs the "
                        "[dask] extra")
    p.add_argument("--no-figures", action="store_true", help="do not write figures")
    p.add_argument("--progress", action="store_true", help="progress bar with the remaining time")
    hardware_args(p)

    def run(args):
        from .report import format_table, write_report
        from .run import run_tolerance
        from .spec import load_spec

        refuse_inputs(args.out, [args.model, args.spec], "--out")
        if (args.spec is None) == (args.sweep is None):
            raise SystemExit("optics4f tolerance: error: give --spec TOML (Monte Carlo) or --sweep NAME (a grid), "
                             "not both and not neither")
        if args.sweep:
            from .sweep import grid_sweep, parse_sweep, write_sweep

            res = grid_sweep([parse_sweep(t)[:2] for t in args.sweep], args.seeds, args.model,
                             hardware_settings(args), images=args.images, dataset=args.dataset,
                             workers=args.workers, scheduler=args.scheduler, progress=args.progress)
            _print_sweep(res)
            print(f"sweep: {write_sweep(res, args.out, force=args.force, figures=not args.no_figures)}")
            return 0
        spec = load_spec(args.spec)
        res = run_tolerance(spec, args.model, hardware_settings(args), args.out, dataset=args.dataset,
                            workers=args.workers, scheduler=args.scheduler, force=args.force,
                            progress=args.progress)
        print(format_table(res))
        if res.resumed:
            print(f"({res.resumed} benches resumed from {args.out / 'benches.jsonl'})")
        print(f"report: {write_report(res, args.out / 'report', figures=not args.no_figures)}")
        return 0

    return run


def _print_sweep(res):
    m = res.metrics[0]
    print(f"{len(res.points)} points x {res.seeds} noise seeds x {res.images} test images")
    print("  ".join(f"{p.name} ({p.unit})" for p in res.params) + f"   {m} mean +- sd")
    for pt in res.points:
        print("  ".join(f"{pt.values[p.name]:>{len(p.name) + 5}.4g}" for p in res.params)
              + f"   {pt.stats[m].mean:.4f} +- {pt.stats[m].std:.4f}")


# -- optics4f simulate --sweep: the grid sweep above, from the simulate command ---------------------

#: Parameters of the former one-parameter ``simulate --sweep PARAM --values ...``: the bench error
#: each is now and the unit its values were in ("px": display pixels of --display-pitch).
LEGACY_SWEEPS = {"shift": ("slm_shift_x", "px"), "rotation": ("slm_rotation", "deg"),
                 "defocus": ("fourier_defocus", "mm")}


def add_simulate_sweep_arguments(p: argparse.ArgumentParser, int_arg):
    """``simulate``'s sweep options (``--sweep`` repeatable, ``--seeds``, ``--workers``; ``--values`` deprecated)."""
    p.add_argument("--sweep", action="append", default=None, metavar="NAME[:UNIT][=V1,V2,...]",
                   help="accuracy over a grid of bench errors, mean +- sd over --seeds noise seeds (repeat for a "
                        "grid; any error of docs/tolerance.md, values in SI or the UNIT named, without values a "
                        "range that reaches the fall), e.g. --sweep slm_rotation:deg=0,1,2,4 --sweep read_noise; "
                        "writes OUT/sweep_NAME[_NAME...]/ (sweep.json, sweep.csv, sweep.png); --limit: test images "
                        "per point (default 200)")
    p.add_argument("--values", default=None, help="deprecated: give the values in --sweep NAME=V1,V2,...")
    p.add_argument("--seeds", type=int_arg(min=1), default=3, help="--sweep: camera noise seeds per point (default 3)")
    p.add_argument("--workers", type=int_arg(min=1), default=1,
                   help="--sweep: local worker processes (default 1: this process)")


def sweep_texts(sweeps: list, values, pitch: float) -> tuple:
    """(the ``--sweep`` texts in today's NAME[:UNIT][=V1,...] syntax, a deprecation note or None)
    from ``simulate``'s options: ``--values`` joins the single ``--sweep``, and the former parameter
    names (:data:`LEGACY_SWEEPS`) become their bench errors, values kept in their old units
    (``pitch``: the display pitch, m, of a shift in pixels)."""
    texts, shown, notes = [], [], []
    if values is not None:
        if len(sweeps) != 1 or "=" in sweeps[0]:
            raise ValueError(f"--values {values!r} goes with one --sweep NAME without values; give the values in "
                             "the sweep itself: --sweep NAME=V1,V2,... (repeatable)")
        notes.append("--values is deprecated")
    for t in sweeps:
        head, sep, vals = t.partition("=")
        if values is not None:
            sep, vals = "=", values
        name, _, unit = head.partition(":")
        show = None
        if name.strip() in LEGACY_SWEEPS:
            new, old_unit = LEGACY_SWEEPS[name.strip()]
            unit = unit.strip() or old_unit
            if sep and unit == "px":
                try:
                    px = [float(v) for v in vals.split(",") if v.strip()]
                except ValueError:
                    raise ValueError(f"--sweep {t!r}: the values must be comma-separated numbers") from None
                unit, vals = "m", ",".join(repr(v * pitch) for v in px)  # the old sweep's metres exactly
                show = f"{new}:um=" + ",".join(f"{v * pitch * 1e6:.6g}" for v in px)
            t = new + (f":{unit}={vals}" if sep else "")
            notes.append(f"--sweep {name.strip()} is now --sweep {new}")
        elif values is not None:
            t = f"{head}={vals}"
        texts.append(t)
        shown.append(show or t)
    note = None
    if notes:
        note = ("optics4f simulate: " + "; ".join(notes) + ": ran " + " ".join(f"--sweep {t}" for t in shown)
                + " (--sweep NAME[:UNIT][=V1,V2,...], SI or the UNIT named; docs/tolerance.md)")
    return texts, note


def run_simulate_sweep(args, settings) -> int:
    """``optics4f simulate --sweep ...``: the grid sweep (:func:`.sweep.grid_sweep`) written into a
    new folder ``OUT/sweep_NAME[_NAME...]``."""
    import sys

    from optics4f.io.atomic import refuse_inputs

    from .sweep import grid_sweep, parse_sweep, write_sweep

    if args.frames:
        raise SystemExit("optics4f simulate: --sweep exports the model for its benches itself; drop --frames")
    texts, note = sweep_texts(args.sweep, args.values, settings.pitch)
    if note:
        print(note, file=sys.stderr)
    params = [parse_sweep(t)[:2] for t in texts]
    folder = Path(args.out) / ("sweep_" + "_".join(n for n, _ in params))
    if folder.exists():
        raise FileExistsError(f"{str(folder)!r} holds an earlier sweep; remove it or give another --out")
    refuse_inputs(folder, [a for a in (args.model,) if a], "--out")
    res = grid_sweep(params, args.seeds, args.model, settings, images=args.limit or 200, dataset=args.dataset,
                     workers=args.workers, progress=args.progress)
    _print_sweep(res)
    print(f"sweep: {write_sweep(res, folder, figures=not args.no_figures)}")
    return 0
