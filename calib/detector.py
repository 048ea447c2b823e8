"""Camera calibration, EMVA 1288 style: dark frame and fixed-pattern noise, flat field,
photon-transfer gain and dark noise, saturation, gamma/nonlinearity, and the check that
catches N-bit data left-justified in wider words.

Quantities (y: digital value, ADU; e-: electrons; notation of the EMVA 1288 standard, R4.0):

* temporal variance from a pair of frames of the same exposure: sigma_y^2 = var(yA - yB) / 2
  (the difference cancels every fixed pattern);
* photon transfer: sigma_y^2 - sigma_y.dark^2 = K (mu_y - mu_y.dark), K the overall system
  gain in ADU/e-, fitted on the linear part of the curve (below ``fit_fraction`` of the
  saturation signal);
* dark noise sigma_d = sqrt(sigma_y.dark^2 - 1/12) / K (e-; the 1/12 ADU^2 is the
  quantisation noise). It includes the shot noise of the dark current: what a pixel shows
  in the dark at this exposure time;
* DSNU: spatial std of the dark frame averaged over L frames, with the temporal part
  sigma_y.dark^2 / L removed; PRNU: the same for a bright frame, relative to its signal;
* saturation: the clip plateau of the brightest frames (many pixels at exactly one value),
  or else the signal at the maximum of the variance curve (the EMVA definition);
* gamma: the camera's response y = black + A t^gamma against exposure t (the ADC model of
  :func:`optics4f.devices.detector.adc`, which applies F (s/F)^gamma before the black level);
  the linearity error is the EMVA LE, max |deviation from a straight line| / mu_y range, %;
* bit alignment: 12-bit data stored left-justified in 16-bit words (what many frame grabbers
  and TIFF writers do) have their 4 low bits always zero; read as 16-bit data they look like
  a camera with 16x the gain, which silently corrupts every number above.

All inputs are frames in ADU (anything :func:`numpy.asarray` takes; integer or float), stacked
(n, h, w). Functions return plain floats and NumPy arrays; :func:`calibrate_detector` bundles
them into a :class:`DetectorCalibration`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from .base import Calibration
from .checks import FrameError, check_finite, check_saturation, robust_sigma
from .frames import load_frames

__all__ = [
    "DetectorCalibration",
    "calibrate_detector",
    "BitAlignment",
    "check_bit_alignment",
    "fix_bit_alignment",
    "temporal_variance",
    "dark_statistics",
    "flat_field",
    "photon_transfer",
    "saturation_level",
    "fit_gamma",
    "linearize",
    "simulate_sensor_frames",
]

QUANTIZATION_VARIANCE = 1.0 / 12.0  # ADU^2, uniform rounding of the ADC


def _stack(frames, name: str, min_frames: int = 1) -> np.ndarray:
    a = np.asarray(frames, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{name} must be frames stacked as (n, h, w) (ADU), got shape {a.shape}")
    if a.shape[0] < min_frames:
        raise ValueError(f"{name} needs at least {min_frames} frames, got {a.shape[0]}; record more frames")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or Inf; check the file or the frame grabber")
    return a


# -- bit alignment ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BitAlignment:
    """Result of :func:`check_bit_alignment`.

    shift : number of low bits that are zero in every value (data left-justified by ``shift``).
    data_bits : bit depth of the camera's ADC as far as the data tell: container_bits - shift for
        left-justified data (12 for 12-bit data in 16-bit words), else ``used_bits`` (right-justified
        data do not reveal unused top bits).
    used_bits : bits the values actually reach after removing the shift (<= data_bits).
    container_bits : bits of the storage word.
    distinct_values : how many different values the check saw (it needs enough to be sure).
    """

    shift: int
    data_bits: int
    used_bits: int
    container_bits: int
    distinct_values: int

    @property
    def left_justified(self) -> bool:
        return self.shift > 0


def check_bit_alignment(frames, container_bits: int | None = None, min_distinct: int = 32) -> BitAlignment:
    """Detect data left-justified in wider words (e.g. 12-bit values x 16 in uint16).

    The common trailing zero bits of all values give the shift; random data share one
    trailing zero with probability 2^-(number of distinct values), so at least
    ``min_distinct`` distinct values are required (else the answer would be a guess).
    ``container_bits`` defaults to the dtype's width for integer input, else 16.
    """
    a = np.asarray(frames)
    if container_bits is None:
        container_bits = a.dtype.itemsize * 8 if a.dtype.kind in "iu" else 16
    v = a.ravel()
    if v.dtype.kind == "f":
        if not np.all(np.isfinite(v)) or np.any(v != np.round(v)):
            raise ValueError("frames hold non-integer values; the bit-alignment check needs the raw counts")
    v = v.astype(np.int64)
    if v.min() < 0:
        raise ValueError(f"frames hold negative counts ({v.min()}); give the raw camera values")
    if v.max() >= 2**container_bits:
        raise ValueError(f"values up to {v.max()} do not fit container_bits={container_bits}")
    distinct = np.unique(v)
    if distinct.size < min_distinct:
        raise ValueError(f"only {distinct.size} distinct values; the bit-alignment check needs at least "
                         f"{min_distinct} (record a frame with a range of signal levels, e.g. a ramp or a flat "
                         "field with noise)")
    acc = int(np.bitwise_or.reduce(distinct))
    shift = 0 if acc == 0 else (acc & -acc).bit_length() - 1
    used = max(1, int(distinct.max() >> shift).bit_length())
    data_bits = int(container_bits) - shift if shift else used
    return BitAlignment(shift, data_bits, used, int(container_bits), int(distinct.size))


def fix_bit_alignment(frames, shift: int) -> np.ndarray:
    """Frames with left-justified data shifted back: values // 2^shift (float64)."""
    if int(shift) != shift or shift < 0:
        raise ValueError(f"shift must be a non-negative integer (bits), got {shift!r}")
    return np.asarray(frames, dtype=np.float64) / float(2 ** int(shift))


# -- dark, flat, photon transfer -------------------------------------------------------------------
def temporal_variance(pair) -> tuple:
    """(mu_y, sigma_y^2) of a pair of frames of the same exposure (ADU, ADU^2), EMVA 1288:
    mu = mean(yA + yB) / 2 and sigma^2 = var(yA - yB) / 2 (fixed patterns cancel)."""
    p = _stack(pair, "pair", 2)
    if p.shape[0] != 2:
        raise ValueError(f"pair must hold exactly 2 frames (2, h, w), got {p.shape[0]}")
    return float(p.mean()), float(np.var(p[0] - p[1]) / 2.0)


def dark_statistics(frames) -> dict:
    """Dark frame and its noise from L >= 2 frames taken with the light blocked (ADU).

    Returns ``dark`` (h, w) mean dark frame (offset + dark signal per pixel), ``mean``
    (its spatial mean), ``temporal_variance`` (ADU^2, per-pixel variance over the frames
    averaged over the sensor) and ``dsnu`` (ADU, spatial std of the dark frame with the
    temporal part sigma^2 / L removed).
    """
    d = _stack(frames, "dark frames", 2)
    L = d.shape[0]
    dark = d.mean(axis=0)
    tvar = float(d.var(axis=0, ddof=1).mean())
    svar = float(dark.var()) - tvar / L
    return {"dark": dark, "mean": float(dark.mean()), "temporal_variance": tvar,
            "dsnu": float(np.sqrt(max(svar, 0.0)))}


def flat_field(frames, dark) -> tuple:
    """(flat, prnu) from L >= 2 frames of a uniform illumination and the dark frame (ADU).

    ``flat`` (h, w) is the dark-subtracted mean frame normalised to a mean of 1 (divide
    dark-subtracted frames by it to correct illumination and pixel-response non-uniformity);
    ``prnu`` is its spatial relative std with the temporal noise removed (EMVA PRNU, as a
    fraction). Its shape must match the dark frame's.
    """
    f = _stack(frames, "flat frames", 2)
    dark = np.asarray(dark, dtype=np.float64)
    if dark.shape != f.shape[1:]:
        raise ValueError(f"dark has shape {dark.shape}, the flat frames {f.shape[1:]}; use the dark frame of the "
                         "same camera region")
    L = f.shape[0]
    signal = f.mean(axis=0) - dark
    mean = float(signal.mean())
    if mean <= 0:
        raise ValueError("the flat frames are not brighter than the dark frame; expose the camera to light")
    tvar = float(f.var(axis=0, ddof=1).mean())
    svar = float(signal.var()) - tvar / L
    return signal / mean, float(np.sqrt(max(svar, 0.0)) / mean)


def photon_transfer(bright_pairs, dark_pairs, fit_fraction: float = 0.7, saturation: float | None = None) -> dict:
    """EMVA 1288 photon transfer: the system gain K (ADU/e-) and the dark noise (e-).

    Parameters
    ----------
    bright_pairs : (n_levels, 2, h, w)
        A pair of frames at each of several exposures (ADU), from dark to saturation.
    dark_pairs : (2, h, w) or (n_levels, 2, h, w)
        Dark pair(s) at the same exposure times (one pair if the dark signal does not change).
    fit_fraction : float
        Fit the straight line on levels with mu_y - mu_dark below this fraction of the
        saturation signal (EMVA: 0.7).
    saturation : float, optional
        Saturation level (ADU); default: :func:`saturation_level` of the brightest frames.

    Returns a dict: ``gain`` K (ADU/e-), ``dark_noise`` (e-), ``mu`` and ``var`` (the curve,
    ADU and ADU^2, dark subtracted), ``used`` (bool mask of the fitted levels),
    ``nonlinearity`` (rms residual of the line / mean variance: large when the curve is not a
    line, e.g. a gamma camera), ``saturation`` (ADU), ``saturation_capacity`` (e-),
    ``dark_variance`` (sigma_y.dark^2, ADU^2), ``gain_sigma`` (one-sigma of K from the residuals).
    """
    b = np.asarray(bright_pairs, dtype=np.float64)
    if b.ndim != 4 or b.shape[1] != 2:
        raise ValueError(f"bright_pairs must be (n_levels, 2, h, w) (a pair per exposure), got shape {b.shape}")
    d = np.asarray(dark_pairs, dtype=np.float64)
    if d.ndim == 3 or (d.ndim == 4 and d.shape[0] == 1):
        d = np.broadcast_to(d.reshape((1,) + d.shape[-3:]), b.shape)
    if d.shape != b.shape:
        raise ValueError(f"dark_pairs must be (2, h, w) or match bright_pairs {b.shape}, got {d.shape}")
    if not 0 < fit_fraction <= 1:
        raise ValueError(f"fit_fraction must be in (0, 1], got {fit_fraction!r}")
    stats = np.array([temporal_variance(p) for p in b])
    dstats = np.array([temporal_variance(p) for p in d])
    mu, var = stats[:, 0] - dstats[:, 0], stats[:, 1] - dstats[:, 1]
    sat = saturation_level(b.reshape(-1, *b.shape[2:])) if saturation is None else float(saturation)
    mu_dark = float(dstats[:, 0].mean())
    used = (mu > 0) & (mu < fit_fraction * (sat - mu_dark))
    if used.sum() < 3:
        raise ValueError(f"only {int(used.sum())} exposure levels lie below {fit_fraction:.0%} of saturation; "
                         "record more levels between dark and saturation")
    # EMVA 1288 fits a line through the origin of the dark-subtracted curve (least squares).
    if not np.dot(mu[used], mu[used]) > 0:
        raise FrameError("the exposure series shows no signal above the dark pairs; expose the camera to light")
    K = float(np.dot(mu[used], var[used]) / np.dot(mu[used], mu[used]))
    resid = var[used] - K * mu[used]
    if not K > 0:
        raise FrameError(f"the photon-transfer gain came out {K:.3g} ADU/e- (the variance does not grow with the "
                         "signal): the series is dark or clipped; record pairs from dark to saturation")
    k_sigma = float(np.sqrt(np.dot(resid, resid) / max(used.sum() - 1, 1) / np.dot(mu[used], mu[used])))
    var_dark = float(dstats[:, 1].mean())
    dark_noise = float(np.sqrt(max(var_dark - QUANTIZATION_VARIANCE, 0.0)) / K)
    return {"gain": K, "dark_noise": dark_noise, "mu": mu, "var": var, "used": used,
            "nonlinearity": float(np.sqrt(np.mean(resid**2)) / np.mean(var[used])),
            "saturation": sat, "saturation_capacity": float((sat - mu_dark) / K), "dark_variance": var_dark,
            "gain_sigma": k_sigma}


def saturation_level(frames, plateau_fraction: float = 0.01) -> float:
    """Saturation signal (ADU) seen in ``frames``: the highest value if at least
    ``plateau_fraction`` of the pixels of some frame sit exactly on it (a clip plateau: full
    well or ADC top), else the highest mean of a frame (the frames never saturated: a lower
    bound)."""
    f = _stack(frames, "frames")
    top = float(f.max())
    at_top = (f == top).reshape(f.shape[0], -1).mean(axis=1)
    if at_top.max() >= plateau_fraction:
        return top
    return float(f.reshape(f.shape[0], -1).mean(axis=1).max())


# -- response curve --------------------------------------------------------------------------------
def _response(t, black, a, gamma):
    return black + a * np.power(np.maximum(t, 0.0), gamma)


def fit_gamma(exposures, means, saturation: float | None = None, noise_floor: float = 0.0) -> dict:
    """Fit the response mu_y(t) = black + A t^gamma (ADU) to mean frame values against exposure.

    ``exposures`` (n,) in s (or any quantity proportional to the photons per pixel), ``means``
    (n,) the mean frame values in ADU; levels at or above 95 % of ``saturation`` (ADU) and
    exposures <= 0 are left out. Returns ``gamma``, ``black`` (ADU), ``a`` (ADU / s^gamma),
    ``linearity_error`` (EMVA LE of a straight-line fit between 5 % and 95 % of the range, %),
    ``used`` (bool mask), ``gamma_sigma`` (one-sigma, from the fit covariance). A series whose means
    change by less than ``noise_floor`` (ADU) is refused (:class:`calib.checks.FrameError`).
    """
    t = np.asarray(exposures, dtype=np.float64).ravel()
    m = np.asarray(means, dtype=np.float64).ravel()
    if t.shape != m.shape:
        raise ValueError(f"exposures {t.shape} and means {m.shape} must have the same length")
    if np.ptp(m) <= max(noise_floor, 1e-9 * np.abs(m).max()):
        raise FrameError(f"the mean signal changes by only {np.ptp(m):.3g} ADU over the exposure series: the "
                         "series is dark (or constant); a gamma fitted to it would be meaningless. Light the camera "
                         "and record exposures from dark to near saturation")
    used = t > 0
    if saturation is not None:
        used &= m < 0.95 * float(saturation)
    if used.sum() < 4:
        raise FrameError(f"only {int(used.sum())} unsaturated exposure levels; the gamma fit needs at least 4 "
                         "(lower the exposures of the series, or add levels below saturation)")
    tt, mm = t[used], m[used]
    # Start from the log-log slope above the lowest level, which is near the black level.
    g0 = np.polyfit(np.log(tt[1:]), np.log(np.maximum(mm[1:] - mm[0] * 0.5, 1e-9)), 1)[0]
    p0 = (float(mm.min()) * 0.5, float((mm.max() - mm.min()) / tt.max() ** g0), float(np.clip(g0, 0.2, 3)))
    (black, a, gamma), pcov = curve_fit(_response, tt, mm, p0=p0, maxfev=20000)
    sd = np.sqrt(np.clip(np.diag(pcov), 0, None)) if np.all(np.isfinite(pcov)) else np.full(3, np.nan)
    lo, hi = mm.min() + 0.05 * np.ptp(mm), mm.min() + 0.95 * np.ptp(mm)
    sel = (mm >= lo) & (mm <= hi)
    if sel.sum() >= 2:
        line = np.polyval(np.polyfit(tt[sel], mm[sel], 1), tt[sel])
        le = float(np.max(np.abs(mm[sel] - line)) / np.ptp(mm) * 100.0)
    else:
        le = float("nan")
    return {"gamma": float(gamma), "black": float(black), "a": float(a), "linearity_error": le, "used": used,
            "gamma_sigma": float(sd[2]), "black_sigma": float(sd[0])}


def linearize(frames, gamma: float, black: float, full_scale: float) -> np.ndarray:
    """Undo the camera response F (s/F)^gamma + black (ADU): s = F ((y - black)/F)^(1/gamma) + black.

    ``full_scale`` F is 2^bits - 1 of the camera's ADC. Values below ``black`` are kept linear
    (the read noise around the black level is not distorted further). Returns float64.
    """
    if not (np.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be positive, got {gamma!r}")
    if not full_scale > 0:
        raise ValueError(f"full_scale must be positive (ADU), got {full_scale!r}")
    y = np.asarray(frames, dtype=np.float64) - black
    pos = np.maximum(y, 0.0)
    return np.where(y > 0, full_scale * (pos / full_scale) ** (1.0 / gamma), y) + black


# -- simulated sensor ------------------------------------------------------------------------------
def simulate_sensor_frames(camera, photons, n_frames: int, rng, prnu=None, dsnu=None) -> np.ndarray:
    """Frames (n_frames, *camera.shape), ADU, of a uniform illumination through the camera model.

    Stands in for the bench in the examples and tests: expected electrons per pixel
    QE * ``photons`` * ``prnu`` + ``dsnu`` + dark current * t (``prnu`` a relative gain map of
    mean ~1, ``dsnu`` an additive dark-signal map in e-, >= 0 (dark current non-uniformity);
    both (h, w) or None), then the camera's
    own shot and read noise, full-well clip and ADC (:class:`optics4f.devices.Camera`).
    ``photons``: mean photons per pixel during the exposure.
    """
    shape = tuple(camera.shape)
    mean = np.full(shape, float(photons) * camera.quantum_efficiency)
    if prnu is not None:
        mean = mean * np.asarray(prnu, dtype=np.float64)
    mean = mean + camera.dark_current * camera.exposure_time
    if dsnu is not None:
        dsnu = np.asarray(dsnu, dtype=np.float64)
        if dsnu.min() < 0:
            raise ValueError("dsnu is a dark signal in electrons and must be >= 0 (a negative mean has no "
                             "Poisson noise); shift it, e.g. dsnu - dsnu.min()")
        mean = mean + dsnu
    mean = np.broadcast_to(mean, (int(n_frames),) + shape).copy()
    return camera.digitize(camera.electrons(mean, rng))


# -- calibration object ----------------------------------------------------------------------------
@dataclass(eq=False)
class DetectorCalibration(Calibration):
    """Camera calibration (EMVA 1288 quantities).

    values: ``dark`` (h, w) ADU dark frame; ``flat`` (h, w) relative response (mean 1);
    ``gain`` K (ADU/e-); ``dark_noise`` (e-); ``dsnu`` (e-); ``prnu`` (1); ``saturation``
    (ADU); ``saturation_capacity`` (e-); ``black_level`` (ADU, mean of the dark frame);
    ``gamma`` (1); ``linearity_error`` (%); ``bit_shift`` (bits of left-justification removed);
    ``data_bits`` (bits of the camera's ADC).
    """

    kind: str = "detector"
    bench_scope = ("camera.",)  # what the calibration depends on: the camera

    def correct(self, frames) -> np.ndarray:
        """Frames (n, h, w) in linear ADU above the dark frame, flat-field corrected: shift
        removed, response linearised (when gamma != 1), dark subtracted, divided by the flat."""
        f = fix_bit_alignment(load_frames(frames), int(self["bit_shift"]))
        gamma = float(self["gamma"])
        if gamma != 1.0:
            black = float(self.metadata.get("response_black", self["black_level"]))
            f = linearize(f, gamma, black, float(2 ** int(self["data_bits"]) - 1))
        return (f - self["dark"]) / self["flat"]

    def to_electrons(self, frames) -> np.ndarray:
        """:meth:`correct` divided by the gain: photoelectrons per pixel."""
        return self.correct(frames) / float(self["gain"])

    def apply_to_config(self, config):
        """A copy of ``config`` whose camera has the measured gain, dark noise (as read noise; the
        dark signal is folded into the black level, so dark_current = 0), black level, full well
        (saturation capacity), bit depth and gamma: the simulator then predicts what this camera
        records."""
        import dataclasses

        cam = dataclasses.replace(config.camera, gain=float(self["gain"]), read_noise=float(self["dark_noise"]),
                                  offset=float(self["black_level"]), dark_current=0.0,
                                  full_well=float(self["saturation_capacity"]), bit_depth=int(self["data_bits"]),
                                  gamma=float(self["gamma"]))
        return config.replace(camera=cam)


UNITS = {"dark": "ADU", "flat": "1", "gain": "ADU/e-", "dark_noise": "e-", "dsnu": "e-", "prnu": "1",
         "saturation": "ADU", "saturation_capacity": "e-", "black_level": "ADU", "gamma": "1",
         "linearity_error": "%", "bit_shift": "bit", "data_bits": "bit"}


def _pairs(source, name) -> np.ndarray:
    """(n, 2, h, w) float64 from a 4-D array, or from frames (2n, h, w) taken as consecutive pairs."""
    if hasattr(source, "shape") and np.ndim(source) == 4:
        a = np.asarray(source, dtype=np.float64)
    else:
        f = load_frames(source)
        if f.shape[0] % 2:
            raise ValueError(f"{name} must hold pairs of frames; got {f.shape[0]} frames (an odd number)")
        a = f.reshape(-1, 2, *f.shape[1:])
    if a.shape[1] != 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite pairs (n, 2, h, w), got shape {a.shape}")
    return a


def calibrate_detector(dark_frames, flat_frames, bright_pairs, dark_pairs, exposures, container_bits=None,
                       gamma_tolerance: float = 0.02, truth: dict | None = None,
                       bench: dict | None = None) -> DetectorCalibration:
    """Full camera calibration from raw frames (ADU as stored, e.g. uint16 words).

    Parameters
    ----------
    dark_frames : (L, h, w)
        Frames with the light blocked (L >= 2), anything :func:`calib.frames.load_frames` reads.
    flat_frames : (L, h, w)
        Frames of a uniform illumination at about half of saturation.
    bright_pairs : (n_levels, 2, h, w)
        A pair of frames at each exposure of a series from dark to beyond saturation.
    dark_pairs : (2, h, w) or (n_levels, 2, h, w)
        Dark pair(s) at the same exposure(s). Pairs may also come as frames (2 n, h, w) or
        files, consecutive frames forming a pair.
    exposures : (n_levels,)
        Exposure times (s) or illumination levels of the series (anything proportional to the
        photons per pixel).
    container_bits : int, optional
        Bits of the storage word (default: the dtype's, or 16 for float input).
    gamma_tolerance : float
        A fitted |gamma - 1| above this linearises every frame before the photon transfer.
    truth : dict, optional
        Injected values of a simulated bench (same names as ``values``).
    bench : dict, optional
        The bench description to record (:func:`calib.benchinfo.describe_bench`).

    Non-finite frames, clipped dark or flat frames, a flat not brighter than the dark, and an
    exposure series without signal raise :class:`calib.checks.FrameError`. ``uncertainty`` holds
    one-sigma values (the gain from the photon-transfer residuals, gamma from the response fit; a
    gamma set to 1 carries the fitted |gamma - 1| plus its sigma).

    Steps: bit alignment (on the flat frames and the exposure series, which hold many distinct
    values up to saturation), response curve (gamma, linearity error), then dark statistics,
    flat field and photon transfer on the shifted (and, for gamma != 1, linearised) frames.
    With gamma != 1 the dark noise and DSNU are approximate: the camera clips the signal at 0
    before its gamma, which no linearisation restores near the black level.
    """
    if container_bits is None:
        kind = getattr(flat_frames, "dtype", np.dtype(float))
        container_bits = kind.itemsize * 8 if kind.kind in "iu" else 16
    flat, bright = load_frames(flat_frames), _pairs(bright_pairs, "bright_pairs")
    dark_raw = load_frames(dark_frames)
    for name, a in (("dark_frames", dark_raw), ("flat_frames", flat), ("bright_pairs", bright)):
        check_finite(a.reshape(-1, *a.shape[-2:]), name)
    check_saturation(flat, "flat_frames", max_fraction=0.001)
    check_saturation(dark_raw, "dark_frames", max_fraction=0.001)
    noise = max(robust_sigma(dark_raw[0]), 0.5)
    lit = flat.mean() - dark_raw.mean()
    if lit <= 10 * noise / np.sqrt(flat[0].size) or lit <= noise:
        raise FrameError(f"flat_frames are {lit:.3g} ADU above the dark frames (dark noise {noise:.3g} ADU): no light; "
                         "illuminate the sensor uniformly at about half of saturation")
    # The exposure series reaches saturation, so it shows how many bits the values really use.
    align = check_bit_alignment(np.concatenate([flat.ravel(), bright.ravel()]), container_bits)
    shift = align.shift
    dark = fix_bit_alignment(dark_raw, shift)
    flat, bright = fix_bit_alignment(flat, shift), fix_bit_alignment(bright, shift)
    dpairs = fix_bit_alignment(_pairs(dark_pairs, "dark_pairs"), shift)
    sat_raw = saturation_level(bright.reshape(-1, *bright.shape[2:]))
    curve = fit_gamma(exposures, bright.mean(axis=(1, 2, 3)), sat_raw, noise_floor=10 * max(robust_sigma(dark[0]), 0.5))
    gamma = curve["gamma"] if abs(curve["gamma"] - 1.0) > gamma_tolerance else 1.0
    full_scale = float(2**align.data_bits - 1)
    if gamma != 1.0:  # undo the response first: the photon transfer assumes a linear camera
        dark, flat, bright, dpairs = (linearize(a, gamma, curve["black"], full_scale)
                                      for a in (dark, flat, bright, dpairs))
    ds = dark_statistics(dark)
    flat_map, prnu = flat_field(flat, ds["dark"])
    ptc = photon_transfer(bright, dpairs)
    K = ptc["gain"]
    values = {"dark": ds["dark"], "flat": flat_map, "gain": K, "dark_noise": ptc["dark_noise"],
              "dsnu": ds["dsnu"] / K, "prnu": prnu, "saturation": ptc["saturation"],
              "saturation_capacity": ptc["saturation_capacity"], "black_level": ds["mean"], "gamma": gamma,
              "linearity_error": curve["linearity_error"], "bit_shift": float(shift),
              "data_bits": float(align.data_bits)}
    meta = {"method": "EMVA 1288 (photon transfer)", "fitted_gamma": curve["gamma"], "response_black": curve["black"],
            "ptc_mu": ptc["mu"], "ptc_var": ptc["var"], "ptc_used": ptc["used"].astype(np.int8),
            "exposures": np.asarray(exposures, dtype=np.float64), "ptc_nonlinearity": ptc["nonlinearity"],
            "container_bits": float(align.container_bits), "used_bits": float(align.used_bits)}
    rel = ptc["gain_sigma"] / K
    unc = {"gain": ptc["gain_sigma"], "dark_noise": ptc["dark_noise"] * rel, "dsnu": ds["dsnu"] / K * rel,
           "saturation_capacity": ptc["saturation_capacity"] * rel,
           "black_level": float(np.sqrt(ds["temporal_variance"] / (dark.shape[0] * dark[0].size))),
           "gamma": curve["gamma_sigma"] if gamma != 1.0 else abs(curve["gamma"] - 1.0) + curve["gamma_sigma"],
           "prnu": float(prnu / np.sqrt(2 * flat[0].size)) if prnu > 0 else 0.0}
    return DetectorCalibration(values=values, units=dict(UNITS), truth=truth, metadata=meta, uncertainty=unc,
                               bench=dict(bench or {}))
