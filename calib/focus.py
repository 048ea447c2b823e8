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
aberration-free beam, so the vertex is unbiased. Its one-sigma uncertainty
comes from the scatter of the points about the parabola (least-squares
covariance of the vertex).

The Fourier probe must be sized to the bench: the spot on the SLM has a
width of lambda f1 / (W d) for a window of W display pixels of pitch d, and a
depth of focus of about (spot width)^2 / lambda. With a fixed window, a bench
of twice the focal length doubles the spot and quadruples its depth of focus;
the metric then barely changes over the scan and the vertex is set by the
camera noise (a 16-pixel window on a 12.9 mm lens: the metric changed by 4 %
over +-3 mm, and the fit was 0.15 mm off). :func:`probe_window` sizes W for a
spot of a few SLM pixels; the fit refuses a scan over which the metric varies
by less than ``min_contrast``.
"""
from __future__ import annotations

import numpy as np

from .base import Calibration
from .checks import FrameError, check_frames
from .fitting import parabola_vertex
from .frames import load_frames
from .registration import blazed_phase

__all__ = ["FocusCalibration", "sharpness", "region_power", "fit_peak", "fit_peak_error", "pinhole_frame",
           "probe_window", "focus_camera", "focus_fourier"]


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


def fit_peak_error(z, metric, points: int = 5, min_contrast: float = 0.0):
    """(position, one-sigma uncertainty) of the maximum of ``metric`` (units of z): vertex of a
    least-squares parabola through the ``points`` samples around the largest one; the uncertainty
    from the residual scatter (least-squares covariance, first-order propagation to -b / 2a).

    Errors: the maximum at the end of the scan; a metric not peaked there; a metric that varies by
    less than ``min_contrast`` (a fraction of its maximum) over the whole scan (too flat to locate)."""
    z = np.asarray(z, dtype=np.float64)
    m = np.asarray(metric, dtype=np.float64)
    if z.shape != m.shape or z.size < 3:
        raise ValueError(f"need matching z and metric arrays of at least 3 samples, got {z.shape} and {m.shape}")
    if not (np.all(np.isfinite(z)) and np.all(np.isfinite(m))):
        raise ValueError("z and the metric must be finite; check the frames and the stage positions")
    order = np.argsort(z)
    z, m = z[order], m[order]
    k = int(np.argmax(m))
    if k == 0 or k == z.size - 1:
        raise ValueError(f"the focus metric peaks at the end of the scan (z = {z[k]:.4g} m); extend the scan range")
    top = float(np.max(np.abs(m)))
    contrast = float((m.max() - m.min()) / top) if top > 0 else 0.0
    if contrast < min_contrast:
        raise FrameError(f"the focus metric varies by only {100 * contrast:.3g} % over the scan (need "
                         f"{100 * min_contrast:.3g} %): the probe's depth of focus is much longer than the scan, so "
                         "noise sets the peak; use a larger probe window (calib.focus.probe_window) or a longer scan")
    h = max(1, int(points) // 2)
    lo, hi = max(0, k - h), min(z.size, k + h + 1)
    vertex, sigma, a = parabola_vertex(z[lo:hi], m[lo:hi])
    if not a < 0:
        raise ValueError("the focus metric is not peaked around its maximum; use finer steps or more light")
    return vertex, sigma


def fit_peak(z, metric, points: int = 5):
    """Position (units of z) of the maximum of ``metric``: vertex of a least-squares parabola through the
    ``points`` samples around the largest one (:func:`fit_peak_error` also gives its uncertainty).
    Error when the maximum is at the end of the scan."""
    return fit_peak_error(z, metric, points)[0]


def probe_window(wavelength: float, f1: float, display_pitch: float, slm_pitch: float,
                 spot_pixels: float = 4.0) -> int:
    """Side (display pixels, even, >= 2) of the lit window whose focus on the SLM is about ``spot_pixels``
    SLM pixels wide (lambda f1 / (W d) = spot_pixels p_slm): small enough for the pinhole patch to
    cut it, with a depth of focus of (spot width)^2 / lambda that a scan of a few mm resolves."""
    for name, v in (("wavelength", wavelength), ("f1", f1), ("display_pitch", display_pitch),
                    ("slm_pitch", slm_pitch), ("spot_pixels", spot_pixels)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive (SI units), got {v!r}")
    w = wavelength * f1 / (spot_pixels * slm_pitch * display_pitch)
    return max(2, 2 * int(round(w / 2)))


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


def _make(name, z, metric, truth, method, points, min_contrast, bench):
    zp, sigma = fit_peak_error(z, metric, points, min_contrast)
    values = {name: -zp, "z": np.asarray(z, dtype=np.float64), "metric": np.asarray(metric, dtype=np.float64),
              "z_peak": zp}
    units = {name: "m", "z": "m", "metric": "1", "z_peak": "m"}
    return FocusCalibration(values=values, units=units, truth=truth, metadata={"method": method},
                            uncertainty={name: sigma, "z_peak": sigma}, bench=dict(bench or {}))


def _scan_frames(frames, z, dark, what, region=None):
    """Frames (n, h, w) checked for use (in ``region`` only, when given: light elsewhere may clip)."""
    f = load_frames(frames)
    if f.shape[0] != np.size(z):
        raise ValueError(f"{f.shape[0]} frames for {np.size(z)} stage positions; one frame per position")
    if region is None:
        check_frames(f, dark, what, each=False)
    else:
        r0, r1, c0, c1 = (int(v) for v in region)
        d = np.broadcast_to(np.asarray(dark, dtype=np.float64), f.shape[1:])[r0:r1, c0:c1]
        check_frames(f[:, r0:r1, c0:c1], d, f"{what} (region {tuple(region)})", each=False)
    return f


def focus_camera(frames, z, *, dark=0.0, points: int = 5, min_contrast: float = 0.1, truth: dict | None = None,
                 bench: dict | None = None) -> FocusCalibration:
    """Camera-plane error from frames of a point at camera stage positions ``z`` (m); ``bench``: the
    bench description to record (:func:`calib.benchinfo.describe_bench`)."""
    f = _scan_frames(frames, z, dark, "camera focus scan")
    return _make("camera_defocus", z, sharpness(f, dark), truth, "sharpness", points, min_contrast, bench)


def focus_fourier(frames, z, *, region, dark=0.0, points: int = 5, min_contrast: float = 0.1,
                  truth: dict | None = None, bench: dict | None = None) -> FocusCalibration:
    """Fourier-plane (SLM) error from frames of :func:`pinhole_frame` at SLM stage positions ``z`` (m);
    ``region`` (row0, row1, col0, col1) is the camera box of the steered light."""
    f = load_frames(frames)
    region_power(f[:1], region)  # the region lies inside the frames
    f = _scan_frames(f, z, dark, "Fourier focus scan", region)
    p = region_power(f, region, dark)
    if p.max() <= 0:
        raise FrameError(f"no light in the camera region {tuple(region)} at any stage position; check the region "
                         "(where the pinhole patch steers the light) and the exposure")
    return _make("fourier_defocus", z, p / p.max(), truth, "pinhole_power", points, min_contrast, bench)
