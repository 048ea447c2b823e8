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
        if res["resumed"]:
            print(f"({res['resumed']} benches resumed from {args.out / 'benches.jsonl'})")
        print(f"report: {write_report(res, args.out / 'report', figures=not args.no_figures)}")
        return 0

    return run


def _print_sweep(res):
    names = [p["name"] for p in res["params"]]
    m = res["metrics"][0]
    print(f"{len(res['points'])} points x {res['seeds']} noise seeds x {res['images']} test images")
    print("  ".join(f"{n} ({p['unit']})" for n, p in zip(names, res["params"])) + f"   {m} mean +- sd")
    for pt in res["points"]:
        print("  ".join(f"{pt['values'][n]:>{len(n) + 5}.4g}" for n in names)
              + f"   {pt[m + '_mean']:.4f} +- {pt[m + '_std']:.4f}")
