"""The SLM's transmission on a simulation grid, written once for every array backend.

:meth:`optics4f.devices.SLM.transmission` (NumPy/CuPy) and the torch bridge's
``slm_transmission`` (autograd) both call :func:`pixel_transmission` with their
*ops* object (:mod:`optics4f.ops`, docs/architecture.md "One hardware
pipeline"); what differs between them is only how the shown pixel values are
obtained (a frame's gray levels, or learnable phases through a quantisation
with a surrogate gradient).

Formula (docs/sampling.md for the pixel geometry): with ``dead`` = 1 for an
'unmodulated' dead zone and 0 for 'zero',

* no fringing: t = dead * footprint + render(value - dead, fill_factor);
* fringing, phase panel: the displayed (wrapped) phase is drawn on the grid
  with full pixels, smoothed, then t = dead * footprint + cover * (exp(i phi_s) - dead);
* fringing, other panels: the complex value is drawn and its real and
  imaginary parts smoothed, t = dead * footprint + cover * (value_s - dead);

where footprint is the fraction of each sample inside the panel and cover the
fraction inside the pixels' active areas.
"""
from __future__ import annotations

from typing import Any

from ..grid import Grid
from ..typing import Array
from .slm import SLM

__all__ = ["pixel_transmission"]


def pixel_transmission(ops: Any, slm: SLM, grid: Grid, shown: Array, dtype: Any) -> Array:
    """Complex transmission (..., My, Mx) on ``grid`` of a panel showing ``shown``.

    Parameters
    ----------
    ops : an ops object (:data:`optics4f.ops.ARRAY_OPS` or the torch one)
    slm : optics4f.devices.SLM
    grid : optics4f.Grid
        Simulation grid (the Fourier plane); any pitch (:mod:`optics4f.devices.render`).
    shown : array (..., *slm.resolution)
        What each pixel shows: the phase (rad, real) for a phase panel, the complex
        value (amplitude, or complex for an ideal complex panel) otherwise.
    dtype : complex dtype of the result, in the backend's own dtype type.
    """
    k = slm.samples_per_pixel(grid)
    dead = 1.0 if slm.effective_dead_zone == "unmodulated" else 0.0
    shape = grid.shape
    if slm.fringing_sigma > 0:
        sigma = (slm.fringing_sigma / grid.dy, slm.fringing_sigma / grid.dx)
        drawn = ops.render(shown, k, shape, 1.0)  # full pixels: fringing acts across the dead zone
        if slm.mode == "phase":
            active = ops.phasor(ops.smooth(drawn, sigma))
        else:
            active = ops.complex(ops.smooth(drawn.real, sigma), ops.smooth(drawn.imag, sigma))
        t = ops.coverage(slm.resolution, k, shape, slm.fill_factor, shown) * (active - dead)
    else:
        value = ops.phasor(shown) if slm.mode == "phase" else shown
        t = ops.render(value - dead, k, shape, slm.fill_factor)
    if dead:
        t = t + ops.coverage(slm.resolution, k, shape, 1.0, shown) * dead
    return ops.cast(t, dtype)
