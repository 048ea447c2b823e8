"""Pupils (finite apertures) sampled on a grid: 1 inside, 0 outside (hard edge at pixel centres)."""
from __future__ import annotations

import numpy as np

from .grid import Grid

__all__ = ["circular_pupil", "rectangular_pupil"]


def circular_pupil(grid: Grid, radius: float, center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Circular aperture of ``radius`` (m) centred at ``center`` = (y0, x0) (m); float64 (ny, nx)."""
    if not radius > 0:
        raise ValueError(f"radius must be positive (metres), got {radius!r}")
    y = grid.y()[:, None] - center[0]
    x = grid.x()[None, :] - center[1]
    return ((x**2 + y**2) <= radius**2).astype(np.float64)


def rectangular_pupil(grid: Grid, width: float, height: float | None = None,
                      center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Rectangular aperture ``width`` x ``height`` (m, x by y) centred at (y0, x0); float64 (ny, nx).

    A sample exactly on the edge counts as inside, so a width of k*dx covers k+1 samples
    when the edges fall on samples; choose odd multiples of the pitch for symmetric rects.
    """
    height = width if height is None else height
    if not (width > 0 and height > 0):
        raise ValueError(f"width and height must be positive (metres), got {width!r}, {height!r}")
    y = np.abs(grid.y() - center[0]) <= height / 2 * (1 + 1e-12)
    x = np.abs(grid.x() - center[1]) <= width / 2 * (1 + 1e-12)
    return (y[:, None] & x[None, :]).astype(np.float64)
