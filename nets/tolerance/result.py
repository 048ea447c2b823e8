"""Typed results of ``optics4f tolerance``: a Monte Carlo run (:class:`ToleranceResult`) and a grid
sweep (:class:`SweepResult`), each with ``to_dict``/``to_json`` giving the files' JSON
(``report/summary.json``, ``sweep.json``; docs/tolerance.md) and ``from_dict`` reading it back.

Units: error values are SI (the unit named with each error); metrics, shares, yields and scales
are fractions (1).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["YieldEstimate", "MetricDistribution", "SensitivityRow", "ErrorTolerance", "AllTolerances",
           "YieldTolerances", "ToleranceResult", "SweptError", "SeedStats", "SweepPoint", "SweepResult"]


def _pair(v) -> tuple:
    lo, hi = v
    return float(lo), float(hi)


@dataclass(frozen=True)
class YieldEstimate:
    """``passed`` of ``benches`` benches reached the target: ``value`` = passed / benches, with its
    Wilson and exact (Clopper-Pearson) intervals at ``confidence``."""

    passed: int
    benches: int
    value: float
    confidence: float
    wilson: tuple
    clopper_pearson: tuple

    def to_dict(self) -> dict:
        return {"passed": self.passed, "benches": self.benches, "yield": self.value, "confidence": self.confidence,
                "wilson": list(self.wilson), "clopper_pearson": list(self.clopper_pearson)}

    @classmethod
    def from_dict(cls, d: dict) -> "YieldEstimate":
        return cls(int(d["passed"]), int(d["benches"]), float(d["yield"]), float(d["confidence"]),
                   _pair(d["wilson"]), _pair(d["clopper_pearson"]))


@dataclass(frozen=True)
class MetricDistribution:
    """The metric over the benches: mean, sample standard deviation, extremes and quantiles (p05 ...
    p95), and the digital (ideal) accuracy of the student, all fractions."""

    mean: float
    std: float
    min: float
    p05: float
    p25: float
    median: float
    p75: float
    p95: float
    max: float
    digital_accuracy: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "MetricDistribution":
        return cls(**{k: float(v) for k, v in d.items()})


@dataclass(frozen=True)
class SensitivityRow:
    """Share of the metric's variance ``error`` explains on its own (first-order index), with its
    bootstrap interval [low, high]; ``unit``: the error's SI unit."""

    error: str
    share: float
    low: float
    high: float
    unit: str

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> "SensitivityRow":
        return cls(str(d["error"]), float(d["share"]), float(d["low"]), float(d["high"]), str(d["unit"]))


@dataclass(frozen=True)
class ErrorTolerance:
    """One error narrowed alone: its width ``scale`` (1) and the resulting distribution (a spec entry)."""

    scale: float
    tolerance: dict

    def to_dict(self) -> dict:
        return {"scale": self.scale, "tolerance": self.tolerance}


@dataclass(frozen=True)
class AllTolerances:
    """Every varying error narrowed by one ``scale`` (1): the resulting distributions by error."""

    scale: float
    tolerances: dict

    def to_dict(self) -> dict:
        return {"scale": self.scale, "tolerances": self.tolerances}


@dataclass(frozen=True)
class YieldTolerances:
    """The tolerances that reach the yield ``goal`` by the fitted quadratic model (its R^2 and
    residual sigma, and the yield it predicts for the drawn widths): ``all`` (None: narrowing every
    error together cannot reach it) and ``each`` (None where that error alone cannot)."""

    goal: float
    model_r2: float
    residual_sigma: float
    predicted_yield_as_drawn: float
    all: AllTolerances | None
    each: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"goal": self.goal, "model_r2": self.model_r2, "residual_sigma": self.residual_sigma,
                "predicted_yield_as_drawn": self.predicted_yield_as_drawn,
                "all": None if self.all is None else self.all.to_dict(),
                "each": {n: None if e is None else e.to_dict() for n, e in self.each.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "YieldTolerances":
        a = d["all"]
        return cls(float(d["goal"]), float(d["model_r2"]), float(d["residual_sigma"]),
                   float(d["predicted_yield_as_drawn"]),
                   None if a is None else AllTolerances(float(a["scale"]), dict(a["tolerances"])),
                   {n: None if e is None else ErrorTolerance(float(e["scale"]), dict(e["tolerance"]))
                    for n, e in d["each"].items()})


@dataclass
class ToleranceResult:
    """A tolerance run (:func:`nets.tolerance.run.run_tolerance`).

    ``metric`` and ``threshold``: the target; ``n_benches`` benches of ``n_images`` test images;
    ``yield_``; ``distribution`` of the metric; ``sensitivity`` (largest share first; empty with
    fewer than 4 benches or nothing varying); ``tolerances`` (None with fewer than 8 benches);
    ``spec`` (the spec as a dict, SI); ``benches``: one record per bench, by index ({index,
    noise_seed, values (SI), accuracy, digital_accuracy[, miou, digital_miou]}); ``computed`` and
    ``resumed`` benches; ``model`` path; ``hardware`` (the nominal bench); ``executor`` ("local" or
    "dask") and its ``workers`` (None on Dask)."""

    metric: str
    threshold: float
    n_benches: int
    n_images: int
    yield_: YieldEstimate
    distribution: MetricDistribution
    sensitivity: list
    tolerances: YieldTolerances | None
    spec: dict
    benches: list
    computed: int = 0
    resumed: int = 0
    model: str = ""
    hardware: dict = field(default_factory=dict)
    executor: str = "local"
    workers: int | None = None

    def to_dict(self) -> dict:
        """The JSON-ready dict, keys in the order of ``summary.json``."""
        return {"metric": self.metric, "threshold": self.threshold, "n_benches": self.n_benches,
                "n_images": self.n_images, "yield": self.yield_.to_dict(), "distribution": self.distribution.to_dict(),
                "sensitivity": [r.to_dict() for r in self.sensitivity],
                "tolerances": None if self.tolerances is None else self.tolerances.to_dict(),
                "spec": self.spec, "benches": self.benches, "computed": self.computed, "resumed": self.resumed,
                "model": self.model, "hardware": self.hardware, "executor": self.executor, "workers": self.workers}

    def to_json(self) -> str:
        """``report/summary.json``'s text."""
        return json.dumps(self.to_dict(), indent=2, default=float) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> "ToleranceResult":
        """Back from :meth:`to_dict` (or a ``summary.json`` read with ``json.load``)."""
        return cls(str(d["metric"]), float(d["threshold"]), int(d["n_benches"]), int(d["n_images"]),
                   YieldEstimate.from_dict(d["yield"]), MetricDistribution.from_dict(d["distribution"]),
                   [SensitivityRow.from_dict(r) for r in d["sensitivity"]],
                   None if d["tolerances"] is None else YieldTolerances.from_dict(d["tolerances"]),
                   d["spec"], list(d["benches"]), int(d.get("computed", 0)), int(d.get("resumed", 0)),
                   str(d.get("model", "")), dict(d.get("hardware", {})), str(d.get("executor", "local")),
                   d.get("workers"))


@dataclass(frozen=True)
class SweptError:
    """One swept error: its ``name``, SI ``unit`` and ``values`` (SI)."""

    name: str
    unit: str
    values: tuple

    def to_dict(self) -> dict:
        return {"name": self.name, "unit": self.unit, "values": list(self.values)}


@dataclass(frozen=True)
class SeedStats:
    """A metric over the noise seeds of one point: mean, sample standard deviation (0 for one seed),
    standard error of the mean and the value per seed."""

    mean: float
    std: float
    sem: float
    per_seed: tuple


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: the swept errors' ``values`` (SI), the digital accuracy, and each optical
    metric's :class:`SeedStats` (``stats["accuracy"]``)."""

    values: dict
    digital_accuracy: float
    stats: dict

    def to_dict(self) -> dict:
        d = {"values": self.values, "digital_accuracy": self.digital_accuracy}
        for m, s in self.stats.items():
            d.update({f"{m}_mean": s.mean, f"{m}_std": s.std, f"{m}_sem": s.sem, f"{m}_per_seed": list(s.per_seed)})
        return d


@dataclass
class SweepResult:
    """A grid sweep (:func:`nets.tolerance.sweep.grid_sweep`): the swept ``params``, ``seeds`` noise
    seeds per point (``noise_seeds``), ``images`` test images, the ``metrics`` reported, the
    ``model``, the nominal bench ``hardware`` and the ``points`` (the grid, first error slowest)."""

    params: list
    seeds: int
    noise_seeds: list
    images: int
    metrics: list
    model: str
    hardware: dict
    points: list

    def to_dict(self) -> dict:
        """The JSON-ready dict, keys in the order of ``sweep.json``."""
        return {"params": [p.to_dict() for p in self.params], "seeds": self.seeds, "noise_seeds": self.noise_seeds,
                "images": self.images, "metrics": self.metrics, "model": self.model, "hardware": self.hardware,
                "points": [p.to_dict() for p in self.points]}

    def to_json(self) -> str:
        """``sweep.json``'s text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> "SweepResult":
        """Back from :meth:`to_dict` (or a ``sweep.json`` read with ``json.load``)."""
        metrics = list(d["metrics"])
        points = [SweepPoint(dict(p["values"]), float(p["digital_accuracy"]),
                             {m: SeedStats(float(p[f"{m}_mean"]), float(p[f"{m}_std"]), float(p[f"{m}_sem"]),
                                           tuple(p[f"{m}_per_seed"])) for m in metrics}) for p in d["points"]]
        return cls([SweptError(p["name"], p["unit"], tuple(p["values"])) for p in d["params"]], int(d["seeds"]),
                   list(d["noise_seeds"]), int(d["images"]), metrics, str(d["model"]), dict(d["hardware"]), points)
