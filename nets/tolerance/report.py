"""The analysis and report of a tolerance run: terminal table, JSON, CSV (units in every header)
and figures, written into ``OUT/report`` with one folder rename (docs/tolerance.md)."""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from .spec import error_kind
from .result import MetricDistribution, SensitivityRow, ToleranceResult, YieldEstimate, YieldTolerances
from .stats import sensitivity, tolerances_for_yield, yield_interval

__all__ = ["analyse", "format_table", "write_report"]


def analyse(spec, records: list, n_boot: int = 200) -> ToleranceResult:
    """Yield (with Wilson and exact intervals), the metric's distribution, the sensitivity ranking
    and the tolerances for ``spec.yield_goal`` from bench ``records`` (sorted by index)."""
    y = np.array([r[spec.metric] for r in records], dtype=np.float64)
    n, k = len(y), int((y >= spec.threshold).sum())
    p, lo, hi = yield_interval(k, n, spec.confidence, "wilson")
    _, elo, ehi = yield_interval(k, n, spec.confidence, "exact")
    X = {name: np.array([r["values"][name] for r in records], dtype=np.float64) for name in spec.errors}
    varying = {name: x for name, x in X.items() if np.ptp(x) > 0}
    q = np.quantile(y, [0.05, 0.25, 0.5, 0.75, 0.95]) if n else [math.nan] * 5
    rows = sensitivity(varying, y, n_boot=n_boot, confidence=spec.confidence, seed=spec.seed) \
        if varying and n >= 4 else []
    tol = tolerances_for_yield(spec, varying, y, seed=spec.seed) if varying and n >= 8 else None
    return ToleranceResult(
        metric=spec.metric, threshold=spec.threshold, n_benches=n, n_images=spec.images,
        yield_=YieldEstimate(k, n, p, spec.confidence, (lo, hi), (elo, ehi)),
        distribution=MetricDistribution(
            mean=float(y.mean()), std=float(y.std(ddof=1)) if n > 1 else 0.0, min=float(y.min()), p05=float(q[0]),
            p25=float(q[1]), median=float(q[2]), p75=float(q[3]), p95=float(q[4]), max=float(y.max()),
            digital_accuracy=float(records[0]["digital_accuracy"])),
        sensitivity=[SensitivityRow(r["error"], r["share"], r["low"], r["high"], error_kind(r["error"]).unit)
                     for r in rows],
        tolerances=None if tol is None else YieldTolerances.from_dict(tol),
        spec=spec.to_dict(), benches=records)


def format_table(res: ToleranceResult) -> str:
    """The terminal summary of :func:`analyse`."""
    y, d = res.yield_, res.distribution
    m = res.metric
    lines = [f"{res.n_benches} benches x {res.n_images} test images; target {m} >= {res.threshold:g}",
             f"yield            {100 * y.value:6.1f} %   {100 * y.confidence:.0f} % interval "
             f"{100 * y.wilson[0]:.1f}-{100 * y.wilson[1]:.1f} % (Wilson), "
             f"{100 * y.clopper_pearson[0]:.1f}-{100 * y.clopper_pearson[1]:.1f} % (exact)",
             f"{m:16s} mean {d.mean:.4f}  sd {d.std:.4f}  5 % {d.p05:.4f}  median {d.median:.4f}  "
             f"min {d.min:.4f}  (digital {d.digital_accuracy:.4f})"]
    if res.sensitivity:
        lines += ["", f"{'error':18s} {'unit':>10s} {'share of variance':>18s}   interval"]
        lines += [f"{r.error:18s} {r.unit:>10s} {100 * r.share:17.1f} %   {100 * r.low:.1f}-"
                  f"{100 * r.high:.1f} %" for r in res.sensitivity]
        rest = max(0.0, 1.0 - sum(r.share for r in res.sensitivity))
        lines.append(f"{'(the rest)':29s} {100 * rest:17.1f} %   interactions between errors, camera noise, "
                     "finite test set")
    t = res.tolerances
    if t:
        lines += ["", f"tolerances for a {100 * t.goal:.0f} % yield (quadratic model, R^2 {t.model_r2:.2f}; "
                      f"predicted yield as drawn {100 * t.predicted_yield_as_drawn:.0f} %):"]
        if t.all is None:
            lines.append("  narrowing every error together does not reach it (the bench without these errors misses)")
        else:
            lines.append(f"  every width x {t.all.scale:.3g}" + ("  (the drawn widths already reach it)"
                                                               if t.all.scale >= 1 else ""))
        for name, e in t.each.items():
            lines.append(f"  {name:18s} alone: " + ("cannot reach it" if e is None else
                                                    f"width x {e.scale:.3g} -> {_dist_text(e.tolerance)}"))
    return "\n".join(lines)


def _dist_text(d: dict) -> str:
    if d["dist"] == "uniform":
        return f"uniform {d['low']:.4g} .. {d['high']:.4g} {d['unit']}"
    if d["dist"] == "normal":
        return f"normal {d['mean']:.4g} +- {d['sigma']:.4g} {d['unit']}"
    return f"fixed {d['value']:.4g} {d['unit']}"


def _csv(rows: list, header: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write_report(res: ToleranceResult, folder, force: bool = True, figures: bool = True) -> Path:
    """Write ``summary.json``, ``benches.csv``, ``sensitivity.csv``, ``tolerances.csv`` and the figures
    into ``folder`` (a new folder switched in with one rename; replaces a previous report)."""
    from optics4f.io.atomic import atomic_dir

    names = list(res.spec["errors"])
    units = [error_kind(n).unit for n in names]
    metrics = [k for k in ("accuracy", "digital_accuracy", "miou", "digital_miou") if k in res.benches[0]]
    with atomic_dir(folder, overwrite=force, what="report folder") as tmp:
        (tmp / "summary.json").write_text(res.to_json())
        (tmp / "benches.csv").write_text(_csv(
            [[r["index"], r["noise_seed"], *(r["values"][n] for n in names), *(r[k] for k in metrics)]
             for r in res.benches],
            ["bench", "noise_seed"] + [f"{n} ({u})" for n, u in zip(names, units)] + [f"{k} (1)" for k in metrics]))
        (tmp / "sensitivity.csv").write_text(_csv(
            [[r.error, r.unit, r.share, r.low, r.high] for r in res.sensitivity],
            ["error", "unit of the error", "share of variance (1)", "interval low (1)", "interval high (1)"]))
        t = res.tolerances
        rows = []
        for n, u in zip(names, units):
            drawn = res.spec["errors"][n]
            all_ = t.all.tolerances.get(n) if t is not None and t.all is not None else None
            one = t.each.get(n) if t is not None else None
            rows.append([n, u, _dist_text(drawn), t.all.scale if t is not None and t.all is not None else "",
                         _dist_text(all_) if all_ else "", one.scale if one else "",
                         _dist_text(one.tolerance) if one else ""])
        (tmp / "tolerances.csv").write_text(_csv(rows, [
            "error", "unit of the error", "drawn", "scale, all together (1)", "tolerance, all together (SI)",
            "scale, this error alone (1)", "tolerance, this error alone (SI)"]))
        if figures:
            _figures(res, tmp, names, units)
    return Path(folder)


def _figures(res, folder: Path, names, units):
    from matplotlib.figure import Figure

    from nets.inference.figures import save_png

    m, thr = res.metric, res.threshold
    y = np.array([r[m] for r in res.benches])
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    ax.hist(y, bins=min(30, max(5, len(y) // 3)), color="tab:blue", alpha=0.8)
    ax.axvline(thr, color="tab:red", ls="--", label=f"target {thr:g}")
    yl = res.yield_
    ax.set_title(f"yield {100 * yl.value:.1f} % ({100 * yl.wilson[0]:.0f}-{100 * yl.wilson[1]:.0f} %)")
    ax.set_xlabel(f"{m} (1)")
    ax.set_ylabel("benches")
    ax.legend()
    fig.tight_layout()
    save_png(fig, folder / "yield_histogram.png")

    if res.sensitivity:
        s = res.sensitivity[::-1]
        fig = Figure(figsize=(5.5, 0.8 + 0.35 * len(s)))
        ax = fig.subplots()
        share = np.array([r.share for r in s])
        err = np.array([[r.share - r.low, r.high - r.share] for r in s]).T.clip(0)
        ax.barh([r.error for r in s], share, xerr=err, color="tab:orange")
        ax.set_xlabel(f"share of the {m} variance (1)")
        ax.set_xlim(0, 1)
        fig.tight_layout()
        save_png(fig, folder / "sensitivity.png")

    varying = [(n, u) for n, u in zip(names, units) if np.ptp([r["values"][n] for r in res.benches]) > 0]
    if varying:
        cols = min(3, len(varying))
        rows = math.ceil(len(varying) / cols)
        fig = Figure(figsize=(4 * cols, 3.2 * rows))
        axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
        for ax, (n, u) in zip(axes, varying):
            ax.plot([r["values"][n] for r in res.benches], y, ".", alpha=0.6)
            ax.axhline(thr, color="tab:red", ls="--", lw=1)
            ax.set_xlabel(f"{n} ({u})")
            ax.set_ylabel(f"{m} (1)")
        for ax in axes[len(varying):]:
            ax.set_visible(False)
        fig.tight_layout()
        save_png(fig, folder / "metric_vs_errors.png")
