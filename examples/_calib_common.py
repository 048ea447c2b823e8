"""Shared plumbing of the ``examples/calibrate_*.py`` scripts.

Each script: builds a simulated bench with known errors (``calib.bench``), renders the frames,
runs the calibration routine a lab would run, then uses this module to

* parse the common options (``--check``, ``--out DIR``, ``--size small|default``, ``--seed``);
* print a true-vs-recovered table with the error and the tolerance (:class:`Report`);
* save a figure of measured frames, fit and residual (:func:`figure`, :func:`save_figure`);
* exit non-zero under ``--check`` when a tolerance is missed (:meth:`Report.exit_code`).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["parse_args", "Report", "figure", "save_figure", "finish"]


def parse_args(description: str, argv=None) -> argparse.Namespace:
    """Common options; ``args.out`` is a created Path."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--check", action="store_true", help="exit with status 1 when a tolerance is missed")
    p.add_argument("--out", default="out/calibration", help="folder for the figure and the HDF5 file")
    p.add_argument("--size", choices=("small", "default"), default="default",
                   help="small: a fast run (tests); default: a larger bench")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated camera noise")
    args = p.parse_args(argv)
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


@dataclass
class _Row:
    name: str
    true: float
    recovered: float
    tol: float
    unit: str
    relative: bool

    @property
    def error(self) -> float:
        return self.recovered - self.true

    @property
    def ok(self) -> bool:
        err = abs(self.error) / abs(self.true) if self.relative else abs(self.error)
        return bool(np.isfinite(err) and err <= self.tol)


@dataclass
class Report:
    """True vs recovered values with tolerances (absolute, or relative with ``relative=True``)."""

    title: str
    rows: list = field(default_factory=list)

    def add(self, name: str, true, recovered, tol: float, unit: str = "", relative: bool = False):
        self.rows.append(_Row(name, float(true), float(recovered), float(tol), unit, relative))
        return self

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def table(self) -> str:
        lines = [self.title, f"{'quantity':<36}{'true':>14}{'recovered':>14}{'error':>12}{'tolerance':>12}  unit  ok"]
        for r in self.rows:
            tol = f"{r.tol:.3g}{' rel' if r.relative else ''}"
            lines.append(f"{r.name:<36}{r.true:>14.6g}{r.recovered:>14.6g}{r.error:>12.3g}{tol:>12}  "
                         f"{r.unit:<5} {'yes' if r.ok else 'NO'}")
        return "\n".join(lines)

    def exit_code(self, check: bool) -> int:
        return 1 if (check and not self.ok) else 0


def figure(nrows: int, ncols: int, size=(3.2, 2.8)):
    """A matplotlib figure on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return fig, axes


def save_figure(fig, path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return Path(path)


def finish(report: Report, args, files=()) -> int:
    """Print the table and the written files; return the exit code."""
    print(report.table())
    for f in files:
        print(f"wrote {f}")
    code = report.exit_code(args.check)
    if code:
        print("CHECK FAILED: a recovered value misses its tolerance", file=sys.stderr)
    return code
