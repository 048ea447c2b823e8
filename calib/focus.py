"""Focus: defocus scans that find the camera plane and the Fourier (SLM) plane.

A motorised stage moves the camera (or the SLM) along the axis through
positions z_i (m, relative to where it sits); the element is in focus where a
focus metric peaks, so its present axial error is dz = -z_peak (positive dz:
the element sits beyond the focal plane, away from the lens before it).

* **Camera plane** (:func:`focus_camera`): a point on the display, a flat SLM;
  metric = sharpness sum(I^2) / (sum I)^2 of the dark-subtracted frame, which
  is largest for the smallest image of the point.
* **Fourier plane** (:func:`focus_fourier`): a lit window on the display
  focuses to a spot on the SLM; a small patch around the DC
  (:func:`pinhole_frame`) steers its light to a camera region; the steered
  power is largest when the spot on the SLM is smallest, i.e. when the SLM
  sits in the back focal plane of lens 1.

The peak is the vertex of a parabola fitted to the points around the
maximum (:func:`fit_peak`); both metrics are even in the defocus for an
aberration-free beam, so the vertex is unbiased.
"""
from __future__ import annotations

import numpy as np

from .base import Calibration
from .frames import load_frames
from .registration import blazed_phase

__all__ = ["FocusCalibration", "sharpness", "region_power", "fit_peak", "pinhole_frame", "focus_camera",
           "focus_fourier"]


def sharpness(frames, dark=0.0):
    """sum(I^2) / (sum I)^2 per frame (I the dark-subtracted frame clipped at 0), (n,)."""
    f = np.clip(load_frames(frames) - np.asarray(dark, dtype=np.float64), 0, None)
    tot = f.sum(axis=(1, 2))
    if np.any(tot <= 0):
        raise ValueError("a frame has no signal above the dark level; check the exposure and the dark frame")
    return (f**2).sum(axis=(1, 2)) / tot**2


def region_power(frames, region, dark=0.0):
    """Sum of the dark-subtracted frames over the box (row0, row1, col0, col1), (n,)."""
    r0, r1, c0, c1 = (int(v) for v in region)
    f = load_frames(frames) - np.asarray(dark, dtype=np.float64)
    if not (0 <= r0 < r1 <= f.shape[1] and 0 <= c0 < c1 <= f.shape[2]):
        raise ValueError(f"region {region} does not lie inside the {f.shape[1]}x{f.shape[2]} frames")
    return f[:, r0:r1, c0:c1].sum(axis=(1, 2))


def fit_peak(z, metric, points: int = 5):
    """Position (units of z) of the maximum of ``metric``: vertex of a least-squares parabola through the
    ``points`` samples around the largest one. Error when the maximum is at the end of the scan."""
    z = np.asarray(z, dtype=np.float64)
    m = np.asarray(metric, dtype=np.float64)
    if z.shape != m.shape or z.size < 3:
        raise ValueError(f"need matching z and metric arrays of at least 3 samples, got {z.shape} and {m.shape}")
    order = np.argsort(z)
    z, m = z[order], m[order]
    k = int(np.argmax(m))
    if k == 0 or k == z.size - 1:
        raise ValueError(f"the focus metric peaks at the end of the scan (z = {z[k]:.4g} m); extend the scan range")
    h = max(1, int(points) // 2)
    lo, hi = max(0, k - h), min(z.size, k + h + 1)
    a, b, _ = np.polyfit(z[lo:hi] - z[k], m[lo:hi], 2)
    if a >= 0:
        raise ValueError("the focus metric is not peaked around its maximum; use finer steps or more light")
    return float(z[k] - b / (2 * a))


def pinhole_frame(slm, center, size: int = 5, steer_period: float = 3.0, wavelength=None):
    """SLM frame: a ``size`` x ``size`` patch centred on pixel ``center`` (row, col) shows a blazed grating of
    ``steer_period`` pixels along y (steering its light to +rows); the rest is flat."""
    ny, nx = slm.resolution
    r, c = (int(round(v)) for v in center)
    h = int(size) // 2
    phase = np.zeros((ny, nx))
    ramp = blazed_phase(slm.resolution, (1.0 / steer_period, 0.0))
    phase[r - h:r - h + int(size), c - h:c - h + int(size)] = ramp[r - h:r - h + int(size), c - h:c - h + int(size)]
    return slm.encode(phase, wavelength)


class FocusCalibration(Calibration):
    """Axial errors: ``camera_defocus`` and/or ``fourier_defocus`` (m), with the scan (``z``, ``metric``)."""

    kind: str = "focus"

    def apply_to_config(self, config):
        """The configuration with the measured defocus (the simulator then models the bench as it is;
        after the lab moves the stage by -defocus, use the config without it)."""
        import dataclasses

        changes = {k: float(self.values[k]) for k in ("camera_defocus", "fourier_defocus") if k in self.values}
        return config.replace(misalignment=dataclasses.replace(config.misalignment, **changes))


def _make(name, z, metric, truth, method, points):
    zp = fit_peak(z, metric, points)
    values = {name: -zp, "z": np.asarray(z, dtype=np.float64), "metric": np.asarray(metric, dtype=np.float64),
              "z_peak": zp}
    units = {name: "m", "z": "m", "metric": "1", "z_peak": "m"}
    return FocusCalibration(values=values, units=units, truth=truth, metadata={"method": method})


def focus_camera(frames, z, *, dark=0.0, points: int = 5, truth: dict | None = None) -> FocusCalibration:
    """Camera-plane error from frames of a point at camera stage positions ``z`` (m)."""
    f = load_frames(frames)
    if f.shape[0] != np.size(z):
        raise ValueError(f"{f.shape[0]} frames for {np.size(z)} stage positions; one frame per position")
    return _make("camera_defocus", z, sharpness(f, dark), truth, "sharpness", points)


def focus_fourier(frames, z, *, region, dark=0.0, points: int = 5, truth: dict | None = None) -> FocusCalibration:
    """Fourier-plane (SLM) error from frames of :func:`pinhole_frame` at SLM stage positions ``z`` (m);
    ``region`` (row0, row1, col0, col1) is the camera box of the steered light."""
    f = load_frames(frames)
    if f.shape[0] != np.size(z):
        raise ValueError(f"{f.shape[0]} frames for {np.size(z)} stage positions; one frame per position")
    p = region_power(f, region, dark)
    return _make("fourier_defocus", z, p / p.max(), truth, "pinhole_power", points)
