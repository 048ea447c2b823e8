"""The simulation grid a bench needs: padding chosen from the lenses and pixel pitches.

A lab has the lenses it bought (50, 75, 100, 150, 200, 250, 300 mm are catalogue values), not
ones that suit an FFT. The Fourier plane of a grid of M samples at input pitch d has pitch
lambda f1 / (M d); the SLM panel is drawn on it at whatever ratio k = p_slm M d / (lambda f1)
that gives (:mod:`optics4f.devices.render`), so the only requirement is k >= 1: at least one
Fourier sample per SLM pixel, otherwise a sample averages several pixels and aliases their
structure (a double-phase checkerboard, say). :func:`bench_pad` returns the smallest padding
that meets it (and the caller's own minimum), at an FFT-friendly length (docs/sampling.md).
"""
from __future__ import annotations

import math

import numpy as np

from ..grid import fast_padded_size
from ..typing import Shape2

__all__ = ["bench_pad", "slm_samples_needed"]


def slm_samples_needed(sample_pitch: float, wavelength: float, f1: float, slm_pitch: float,
                       samples_per_pixel: float = 1.0) -> float:
    """Padded grid length M (samples) at which the Fourier pitch lambda f1 / (M d) equals
    slm_pitch / samples_per_pixel (all lengths in metres)."""
    for name, v in (("sample_pitch", sample_pitch), ("wavelength", wavelength), ("f1", f1),
                    ("slm_pitch", slm_pitch), ("samples_per_pixel", samples_per_pixel)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    return samples_per_pixel * wavelength * f1 / (sample_pitch * slm_pitch)


def bench_pad(grid_shape: Shape2, sample_pitch: float, wavelength: float, f1: float, slm_pitch: float,
              pad: float = 2.0, samples_per_pixel: float = 1.0) -> float:
    """Zero-padding factor (for ``SystemConfig.pad``) of a ``grid_shape`` input plane sampled at
    ``sample_pitch`` (m) that gives at least ``samples_per_pixel`` Fourier samples per SLM pixel
    of ``slm_pitch`` (m) behind a Fourier lens ``f1`` (m) at ``wavelength`` (m), and at least
    ``pad``. The padded length is FFT-friendly (``optics4f.grid.fast_padded_size``)."""
    need = slm_samples_needed(sample_pitch, wavelength, f1, slm_pitch, samples_per_pixel)
    if not (math.isfinite(pad) and pad >= 1):
        raise ValueError(f"pad must be >= 1, got {pad!r}")
    factors = []
    for n in np.broadcast_to(np.asarray(grid_shape, dtype=np.int64), (2,)):
        n = int(n)
        m = fast_padded_size(n, max(float(pad), need / n))
        factors.append(m / n)
    return float(max(factors))
