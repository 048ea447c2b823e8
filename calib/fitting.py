"""Small least-squares helpers shared by the calibration routines (with their uncertainties)."""
from __future__ import annotations

import numpy as np

__all__ = ["parabola_vertex", "lsq_sigma"]


def parabola_vertex(x, y):
    """(vertex, one-sigma of the vertex, curvature a) of the least-squares parabola y = a x^2 + b x + c.

    The uncertainty propagates the coefficient covariance (residual variance x (D^T D)^-1, D the design
    matrix) to -b / 2a to first order; it is NaN with fewer than 4 points (no residual to estimate it)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x0 = float(np.mean(x))
    scale = float(np.max(np.abs(x - x0))) or 1.0
    u = (x - x0) / scale  # centred and scaled to +-1: a well conditioned design whatever the units of x
    design = np.stack([u**2, u, np.ones_like(u)], axis=1)
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    a, b = float(coef[0]), float(coef[1])
    dof = x.size - 3
    if dof > 0 and a != 0:
        r = y - design @ coef
        cov = float(r @ r) / dof * np.linalg.pinv(design.T @ design)
        grad = np.array([b / (2 * a * a), -1 / (2 * a), 0.0])
        sigma = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
    else:
        sigma = float("nan")
    vertex = x0 - scale * b / (2 * a) if a != 0 else float("nan")
    return float(vertex), sigma * scale, a / scale**2


def lsq_sigma(sol) -> np.ndarray:
    """One-sigma of the parameters of a ``scipy.optimize.least_squares`` result: sqrt(diag(s^2 (J^T J)^-1)),
    s^2 the residual variance; NaN without degrees of freedom."""
    dof = sol.fun.size - sol.x.size
    if dof <= 0:
        return np.full(sol.x.shape, np.nan)
    cov = float(sol.fun @ sol.fun) / dof * np.linalg.pinv(sol.jac.T @ sol.jac)
    return np.sqrt(np.clip(np.diag(cov), 0, None))
