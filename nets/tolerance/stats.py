"""Statistics of a tolerance run: yield with a confidence interval, sensitivity, and the
tolerances that would reach a requested yield (docs/tolerance.md).

* Yield: k of n benches reach the target; the interval is Wilson's score interval or the exact
  Clopper-Pearson one (``scipy.stats.binomtest(...).proportion_ci``).
* Sensitivity: the share of the metric's variance each error explains on its own, the first-order
  (Sobol) index S_j = Var(E[y | x_j]) / Var(y), estimated by the adjusted R^2 of y regressed on
  (x_j, x_j^2). The quadratic term matters: misalignments cost accuracy either way, so y is even
  in them and a straight line (standardised regression) would find nothing. Intervals: bootstrap
  over benches (percentile).
* Tolerances for a yield: the additive quadratic model y = b0 + sum_j (a_j x_j + c_j x_j^2) + e,
  e ~ N(0, s_res^2), fitted to the benches, predicts the yield of narrower distributions by Monte
  Carlo; bisection finds the width scale (all errors together, then each error alone) that reaches
  the goal. It interpolates the fitted surface inside the drawn ranges, and says so when the goal
  needs more than they cover.
"""
from __future__ import annotations

import numpy as np

__all__ = ["yield_interval", "sensitivity", "QuadraticModel", "tolerances_for_yield"]


def yield_interval(k: int, n: int, confidence: float = 0.95, method: str = "wilson") -> tuple:
    """(yield, low, high): k of n benches pass; ``method`` "wilson" or "exact" (Clopper-Pearson)."""
    from scipy.stats import binomtest

    if n < 1:
        raise ValueError(f"the yield needs at least one bench, got n={n}")
    if method not in ("wilson", "exact"):
        raise ValueError(f"yield interval method must be 'wilson' or 'exact', got {method!r}")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method=method)
    return k / n, float(ci.low), float(ci.high)


def _design(x):
    """Columns (1, x, x^2) of a centred, scaled x (well conditioned for any unit)."""
    x = np.asarray(x, dtype=np.float64)
    s = x.std()
    z = (x - x.mean()) / (s if s > 0 else 1.0)
    return np.column_stack([np.ones_like(z), z, z * z])


def _first_order(x, y) -> float:
    """Adjusted R^2 of y on (x, x^2), clipped to [0, 1]; 0 for a constant x or y."""
    n = len(y)
    if np.ptp(x) == 0 or np.ptp(y) == 0 or n < 4:
        return 0.0
    X = _design(x)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    rss = float(((y - X @ beta) ** 2).sum())
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - (rss / (n - 3)) / (tss / (n - 1))
    return float(np.clip(r2, 0.0, 1.0))


def sensitivity(X: dict, y, n_boot: int = 200, confidence: float = 0.95, seed: int = 0) -> list:
    """Rows {error, share, low, high}, largest share first: the share of Var(y) each error's values
    ``X[name]`` explain (module docstring), with bootstrap percentile intervals."""
    y = np.asarray(y, dtype=np.float64)
    names = list(X)
    cols = [np.asarray(X[n], dtype=np.float64) for n in names]
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, len(names)))
    for b in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        boot[b] = [_first_order(c[i], y[i]) for c in cols]
    a = (1 - confidence) / 2
    rows = [{"error": n, "share": _first_order(c, y), "low": float(np.quantile(boot[:, j], a)),
             "high": float(np.quantile(boot[:, j], 1 - a))} for j, (n, c) in enumerate(zip(names, cols))]
    return sorted(rows, key=lambda r: -r["share"])


class QuadraticModel:
    """y = b0 + sum_j (a_j z_j + c_j z_j^2) + N(0, s_res^2), z_j the standardised error j, fitted by
    least squares to the benches (errors ``X``: name -> values, metric ``y``)."""

    def __init__(self, X: dict, y):
        self.names = [n for n in X if np.ptp(np.asarray(X[n], float)) > 0]
        y = np.asarray(y, dtype=np.float64)
        self.mean = {n: float(np.mean(X[n])) for n in self.names}
        self.std = {n: float(np.std(X[n])) for n in self.names}
        A = self._matrix({n: np.asarray(X[n], float) for n in self.names}, len(y))
        self.beta, *_ = np.linalg.lstsq(A, y, rcond=None)
        dof = max(len(y) - A.shape[1], 1)
        self.residual_sigma = float(np.sqrt(((y - A @ self.beta) ** 2).sum() / dof))
        self.r2 = 1 - float(((y - A @ self.beta) ** 2).sum()) / max(float(((y - y.mean()) ** 2).sum()), 1e-300)

    def _matrix(self, X, n):
        cols = [np.ones(n)]
        for name in self.names:
            z = (X[name] - self.mean[name]) / self.std[name]
            cols += [z, z * z]
        return np.column_stack(cols)

    def predict(self, X: dict, n: int) -> np.ndarray:
        """Mean metric at error values ``X`` (errors the model has; the others at their fitted mean)."""
        full = {name: np.asarray(X.get(name, np.full(n, self.mean[name])), float) for name in self.names}
        return self._matrix(full, n) @ self.beta


def _predicted_yield(model, spec_errors: dict, scales: dict, threshold: float, n: int, rng) -> float:
    X = {name: d.scaled(scales.get(name, 1.0)).sample(rng, n) for name, d in spec_errors.items()}
    y = model.predict(X, n) + rng.normal(0.0, model.residual_sigma, n)
    return float(np.mean(y >= threshold))


def _bisect(f, goal: float, hi: float = 1.0, iters: int = 20):
    """Largest scale s in (0, hi] with f(s) >= goal (f decreasing in s), or None if even s -> 0 misses."""
    if f(hi) >= goal:
        return hi
    if f(1e-6) < goal:
        return None
    lo = 1e-6
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(mid) >= goal else (lo, mid)
    return lo


def tolerances_for_yield(spec, X: dict, y, n_mc: int = 20000, seed: int = 0) -> dict:
    """The width scales that reach ``spec.yield_goal`` by the fitted :class:`QuadraticModel`:
    ``all`` (every varying error's width times one factor) and ``each`` (one error narrowed alone,
    the others as drawn; None where narrowing it alone cannot reach the goal), with the model's R^2
    and residual sigma. Scales above 1 are not extrapolated (1.0: the drawn widths already reach it)."""
    model = QuadraticModel(X, y)
    varying = {n: d for n, d in spec.errors.items() if d.varies and not d.kind.integer}

    def f_all(s):
        return _predicted_yield(model, spec.errors, {n: s for n in varying}, spec.threshold, n_mc,
                                np.random.default_rng(seed))

    out = {"goal": spec.yield_goal, "model_r2": float(model.r2), "residual_sigma": model.residual_sigma,
           "predicted_yield_as_drawn": f_all(1.0), "all": None, "each": {}}
    s = _bisect(f_all, spec.yield_goal) if varying else None
    if s is not None:
        out["all"] = {"scale": s, "tolerances": {n: d.scaled(s).to_dict() for n, d in varying.items()}}
    for name, d in varying.items():
        def f_one(t, name=name):
            return _predicted_yield(model, spec.errors, {name: t}, spec.threshold, n_mc, np.random.default_rng(seed))

        t = _bisect(f_one, spec.yield_goal)
        out["each"][name] = None if t is None else {"scale": t, "tolerance": d.scaled(t).to_dict()}
    return out
