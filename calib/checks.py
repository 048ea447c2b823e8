"""Can these frames support a fit? Checks every calibration routine runs before fitting.

A fit on unusable frames returns numbers that look like results (a scale of
0 from a dark spot grid, a NaN shear, a gamma of 0.2 from a dark series, a
fill factor of 1.0 from saturated gratings). The routines call these checks
first and stop with a :class:`FrameError` that names the problem and the fix:

* :func:`check_finite` - NaN or Inf anywhere;
* :func:`check_saturation` - pixels at the camera's top count (the clipping
  level: 2^b - 1 for b = 8, 10, 12, 14, 16, or ``saturation`` when given);
* :func:`check_signal` - no light above the dark level: the brightest pixels
  of (frame - dark) must stand ``snr`` noise sigmas above the background
  (sigma from the median absolute deviation, which the few lit pixels of a
  spot frame do not move), or the frame must be bright as a whole (flat fields);
* :func:`check_frames` - all three, the usual entry point.
"""
from __future__ import annotations

import numpy as np

__all__ = ["FrameError", "check_finite", "check_saturation", "check_signal", "check_frames", "robust_sigma",
           "clip_level"]

#: Top counts of common camera bit depths (a frame whose maximum is one of these, reached by several
#: pixels, is clipped).
CLIP_LEVELS = tuple(float(2**b - 1) for b in (8, 10, 12, 14, 16))


class FrameError(ValueError):
    """Frames that cannot support a calibration fit (dark, saturated, non-finite, too few features)."""


def robust_sigma(a) -> float:
    """1.4826 x median absolute deviation of ``a`` (the Gaussian sigma, robust to a few bright pixels)."""
    a = np.asarray(a, dtype=np.float64)
    return float(1.4826 * np.median(np.abs(a - np.median(a))))


def clip_level(frames) -> float | None:
    """The top count the frames reach if it is a camera's clipping level (2^b - 1), else None."""
    top = float(np.max(frames))
    return top if top in CLIP_LEVELS else None


def _where(i, n, what):
    return f"{what} frame {i}" if n > 1 else what


def check_finite(frames, what: str = "frames"):
    """FrameError if any value is NaN or Inf."""
    f = np.asarray(frames)
    if f.dtype.kind in "fc" and not np.all(np.isfinite(f)):
        bad = np.flatnonzero(~np.all(np.isfinite(f.reshape(f.shape[0], -1)), axis=1)) if f.ndim == 3 else [0]
        raise FrameError(f"{what}: frame(s) {list(bad)[:8]} contain NaN or Inf; check the file or the frame grabber")


def check_saturation(frames, what: str = "frames", saturation: float | None = None, max_fraction: float = 0.0,
                     min_pixels: int = 2):
    """FrameError if more than ``max_fraction`` of the pixels of a frame (and at least ``min_pixels``)
    sit at the clipping level: ``saturation`` (ADU) if given, else a top count 2^b - 1 that the frames
    reach. Clipped pixels bias every power and centroid; lower the exposure."""
    f = np.asarray(frames, dtype=np.float64)
    f = f[None] if f.ndim == 2 else f
    level = clip_level(f) if saturation is None else float(saturation)
    if level is None:
        return
    count = (f >= level).reshape(f.shape[0], -1).sum(axis=1)
    limit = max(int(min_pixels), int(max_fraction * f[0].size))
    bad = np.flatnonzero(count >= limit)
    if bad.size:
        raise FrameError(f"{what}: {int(count[bad[0]])} pixels of {_where(bad[0], f.shape[0], 'frame')} "
                         f"(frames {bad[:8].tolist()}) sit at the saturation level {level:g} ADU; "
                         "lower the exposure (or the light) and record again")


def check_signal(frames, dark=0.0, what: str = "frames", snr: float = 10.0, each: bool = True):
    """FrameError when a frame (``each``) or all frames (not ``each``) show no light above ``dark``.

    A frame is lit when its brightest pixel of (frame - dark) exceeds the background median by
    ``snr`` robust sigmas (spots), or its median exceeds ``snr`` sigmas of zero (flat fields); an
    all-constant frame (sigma 0) is lit only if it is above the dark level."""
    f = np.asarray(frames, dtype=np.float64)
    f = (f[None] if f.ndim == 2 else f) - np.asarray(dark, dtype=np.float64)
    lit = []
    for fr in f:
        v = fr.ravel()
        med = float(np.median(v))
        # integer counts: below half an ADU the noise is quantisation; float frames: scale-free floor
        floor = 0.5 if np.all(v == np.round(v)) else 1e-9 * float(np.max(np.abs(v)))
        sig = max(robust_sigma(v), floor)
        top = float(v.max())
        lit.append(top - med > snr * sig or med > snr * sig)
    lit = np.asarray(lit)
    bad = np.flatnonzero(~lit)
    if (each and bad.size) or (not each and not lit.any()):
        which = "all frames" if not each or bad.size == f.shape[0] else f"frame(s) {bad[:8].tolist()}"
        raise FrameError(f"{what}: {which} show no light above the dark level (nothing brighter than {snr:g} "
                         "noise sigmas); check that the source is on, the exposure, and the dark frame")


def check_frames(frames, dark=0.0, what: str = "frames", saturation: float | None = None, snr: float = 10.0,
                 each: bool = True, max_saturated: float = 0.0):
    """check_finite, check_saturation and check_signal in turn; returns the frames unchanged."""
    check_finite(frames, what)
    check_saturation(frames, what, saturation, max_saturated)
    check_signal(frames, dark, what, snr, each)
    return frames
