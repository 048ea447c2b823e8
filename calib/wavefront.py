"""Wavefront calibration: Zernike coefficients of the system aberration by a modal sweep on a
spot (sensorless adaptive optics), and the correction map to add to the SLM.

Procedure (what a lab runs; the examples run it on the simulator):

1. Light one pixel of the input display (a point source). The first lens turns it into a
   plane wave on the Fourier SLM, the iris of radius ``radius`` (m) bounds it, and the camera
   sees the point-spread function (PSF) of that pupil with every phase error of the SLM panel
   and the optics referred to the Fourier plane, W(u) = sum_j c_j Z_j(u / radius).
2. For each Zernike mode j (ANSI index, :mod:`optics4f.zernike`; unit RMS over the pupil, so
   c_j is an RMS wavefront error in metres) show the probe phase 2 pi a Z_j / lambda on the SLM
   for several amplitudes a (:func:`sweep_phases`), and record a camera frame for each.
3. The spot is sharpest when the probe cancels the aberration, a = -c_j. For a pupil of
   uniform amplitude the Strehl ratio is exp(-(2 pi / lambda)^2 sum_j (c_j + a_j)^2) to second
   order, so the log of a sharpness metric is a parabola in a whose vertex is -c_j, independent
   of the other modes (orthonormal) to that order; :func:`fit_sweep` fits it. A second sweep
   with the first correction applied removes the higher-order cross-talk.
4. The correction is -W: :func:`correction_phase` gives -2 pi W / lambda on the SLM pixels
   (rad), which goes into :attr:`optics4f.devices.SLM.flatness` (added before wrapping and
   quantisation, as labs do).

Tip/tilt (j = 1, 2) only move the spot and leave its sharpness unchanged, and piston (j = 0)
is invisible, so the sweep starts at j = 3; tilts belong to the registration calibration.

The sharpness metric is S = sum I^2 / (sum I)^2 over the dark-subtracted frame: independent of
the exposure and of where the spot lands, and maximal for the sharpest spot.

Phase retrieval (:func:`fit_phase_diversity`, :func:`calibrate_wavefront_diversity`) is the fast
alternative: a few frames of the same spot with known diversity phases (e.g. in focus and
+-lambda/8 of defocus shown on the SLM) and a PSF model (:func:`psf_model`: uniformly lit
circular pupil, Fourier-lens imaging onto the camera) fitted by nonlinear least squares. It needs
the scale of the bench (focal length, camera pitch) and the pupil; the sweep needs neither.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from optics4f.grid import Grid
from optics4f.padding import crop_center
from optics4f.pupil import circular_pupil
from optics4f.zernike import zernike_phase

from .base import Calibration
from .checks import FrameError, check_frames
from .fitting import lsq_sigma, parabola_vertex
from .frames import load_frames

__all__ = ["WavefrontCalibration", "make_calibration", "calibrate_wavefront", "calibrate_wavefront_diversity",
           "sweep_phases", "sharpness", "fit_sweep", "correction_phase", "residual_rms", "psf_model",
           "diversity_phases", "fit_phase_diversity", "simulate_spot_frames"]


def _check_modes(modes) -> np.ndarray:
    m = np.atleast_1d(np.asarray(modes))
    if m.ndim != 1 or m.size == 0 or m.dtype.kind not in "iu" or np.any(m < 0):
        raise ValueError(f"modes must be a non-empty list of ANSI Zernike indices (integers >= 0), got {modes!r}")
    if np.any(m < 3):
        raise ValueError(f"modes {sorted(set(m[m < 3].tolist()))} (piston, tilts) only move the spot, or do "
                         "nothing, and leave its sharpness unchanged; use modes >= 3 (tilts belong to the "
                         "registration)")
    return m.astype(int)


def sweep_phases(grid: Grid, modes, amplitudes, radius: float, wavelength: float, center=(0.0, 0.0),
                 base=None) -> tuple:
    """Probe phases of a Zernike sweep on the SLM pixels.

    Parameters
    ----------
    grid : Grid
        The SLM panel (``SLM.grid``: one sample per pixel).
    modes : sequence of int
        ANSI indices to sweep (>= 3).
    amplitudes : sequence of float
        Probe amplitudes a (m RMS), the same for every mode; include negative and positive
        values around 0, wider than the aberration you expect (e.g. +-lambda/6).
    radius : float
        Pupil radius on the SLM (m): the Fourier iris.
    wavelength : float
        m.
    center : (y0, x0)
        Pupil centre on the panel (m), the optical axis.
    base : array (ny, nx), optional
        Phase (rad) added to every probe (e.g. a previous correction being refined).

    Returns (phases (n, ny, nx) rad float64, probe_modes (n,), probe_amplitudes (n,) m), n =
    len(modes) * len(amplitudes), mode-major.
    """
    modes = _check_modes(modes)
    amps = np.asarray(amplitudes, dtype=np.float64).ravel()
    if amps.size < 3 or not np.all(np.isfinite(amps)):
        raise ValueError(f"amplitudes must hold at least 3 finite values (m RMS) to fit a parabola, got {amplitudes!r}")
    phases, pm, pa = [], [], []
    for j in modes:
        unit = zernike_phase(grid, {int(j): 1.0}, radius, wavelength, center)  # rad per metre RMS
        for a in amps:
            phases.append(unit * a if base is None else unit * a + base)
            pm.append(int(j))
            pa.append(float(a))
    return np.stack(phases), np.asarray(pm), np.asarray(pa)


def sharpness(frames, dark=0.0) -> np.ndarray:
    """S = sum I^2 / (sum I)^2 of each frame (n, h, w) after subtracting ``dark`` (ADU; scalar
    or (h, w)); dimensionless, 1/(number of lit pixels) for a flat spot, 1 for a single pixel."""
    f = np.asarray(frames, dtype=np.float64)
    if f.ndim == 2:
        f = f[None]
    if f.ndim != 3:
        raise ValueError(f"frames must be (n, h, w) camera frames, got shape {f.shape}")
    i = np.maximum(f - np.asarray(dark, dtype=np.float64), 0.0)
    total = i.sum(axis=(1, 2))
    if np.any(total <= 0):
        raise ValueError("a frame has no signal above the dark level; check the exposure and the dark frame")
    return (i**2).sum(axis=(1, 2)) / total**2


def fit_sweep(frames, probe_modes, probe_amplitudes, dark=0.0) -> dict:
    """Zernike coefficients (m RMS) of the aberration from the frames of a sweep.

    ``frames`` (n, h, w) ADU in the order of ``probe_modes`` / ``probe_amplitudes`` (from
    :func:`sweep_phases`). For each mode, log S(a) is fitted by a parabola whose vertex is at
    a = -c_j. Returns ``coefficients`` {j: c_j} (m), ``curvature`` {j: d2 log S / da2} (1/m^2,
    negative), ``metric`` (n,) the sharpness of every frame, ``in_range`` {j: bool} (the
    vertex lies inside the swept amplitudes; outside it is an extrapolation: sweep wider) and
    ``sigma`` {j: one-sigma of c_j} (m, from the scatter about the parabola).
    """
    pm = np.asarray(probe_modes).ravel()
    pa = np.asarray(probe_amplitudes, dtype=np.float64).ravel()
    s = sharpness(frames, dark)
    if not (s.size == pm.size == pa.size):
        raise ValueError(f"{s.size} frames for {pm.size} probe modes and {pa.size} amplitudes; they must match")
    coeffs, curv, in_range, sigma = {}, {}, {}, {}
    for j in _check_modes(np.unique(pm)):
        sel = pm == j
        a, y = pa[sel], np.log(s[sel])
        if np.unique(a).size < 4:
            raise FrameError(f"mode {j} has fewer than 4 distinct probe amplitudes; the parabola and its "
                             "uncertainty need 4 (use 5 or more)")
        vertex, sd, c2 = parabola_vertex(a, y)
        if not c2 < 0:
            raise ValueError(f"the sharpness of mode {j} has no maximum over the sweep (curvature {c2:.3g} >= 0): "
                             "the probes are too small against the noise or the spot is lost; sweep wider or "
                             "expose longer")
        coeffs[int(j)] = float(-vertex)
        sigma[int(j)] = sd
        curv[int(j)] = float(2 * c2)
        in_range[int(j)] = bool(a.min() <= vertex <= a.max())
    return {"coefficients": coeffs, "curvature": curv, "metric": s, "in_range": in_range, "sigma": sigma}


def correction_phase(grid: Grid, coefficients: dict, radius: float, wavelength: float,
                     center=(0.0, 0.0)) -> np.ndarray:
    """Phase (rad, float64, grid shape) that cancels the aberration sum_j c_j Z_j (m): -2 pi W / lambda
    inside the pupil, 0 outside. Add it to ``SLM.flatness``."""
    return -zernike_phase(grid, {int(j): float(c) for j, c in coefficients.items()}, radius, wavelength, center)


def residual_rms(true: dict, recovered: dict) -> float:
    """RMS wavefront error (m) left after correcting ``true`` with ``recovered`` ({j: c_j}, m RMS):
    sqrt(sum_j (c_j - r_j)^2) over the union of modes (orthonormal Zernikes)."""
    keys = set(true) | set(recovered)
    return float(np.sqrt(sum((true.get(j, 0.0) - recovered.get(j, 0.0)) ** 2 for j in keys)))


# -- phase diversity (phase retrieval) -----------------------------------------------------------
def _psf_setup(modes, diversities, radius, wavelength, focal_length, camera_pitch, camera_shape, pad, center):
    """Pupil samples, Zernike basis (rad per m RMS) and diversity phases there, computed once."""
    ny, nx = (int(s) for s in camera_shape)
    my, mx = pad * ny, pad * nx
    grid = Grid((my, mx), (wavelength * focal_length / (my * camera_pitch),
                           wavelength * focal_length / (mx * camera_pitch)))
    inside = circular_pupil(grid, radius, center) > 0
    if inside.sum() < 20:
        raise ValueError(f"the pupil (radius {radius:.4g} m) covers only {int(inside.sum())} samples of the model grid "
                         f"(pitch {grid.dx:.4g} m = lambda f / (M p_camera)): check radius, focal_length and "
                         "camera_pitch, or raise pad")
    basis = np.stack([zernike_phase(grid, {int(j): 1.0}, radius, wavelength, center)[inside] for j in modes]) \
        if len(modes) else np.zeros((0, int(inside.sum())))
    div = np.stack([zernike_phase(grid, dict(d), radius, wavelength, center)[inside] for d in diversities])
    return inside, basis, div, (ny, nx)


def _psfs(c, setup) -> np.ndarray:
    inside, basis, div, shape = setup
    w = np.asarray(c, dtype=np.float64) @ basis if basis.shape[0] else 0.0
    field = np.zeros((div.shape[0],) + inside.shape, dtype=np.complex128)
    field[:, inside] = np.exp(1j * (w + div))  # only the pupil is lit: exp on its samples only
    # Centred DFT (origin at M//2 in and out, the convention of optics4f.lens.centered_dft), via
    # scipy.fft directly: this runs hundreds of times inside the fit.
    out = sfft.fftshift(sfft.fft2(sfft.ifftshift(field, axes=(-2, -1))), axes=(-2, -1))
    i = np.abs(crop_center(out, shape)) ** 2
    return i / i.sum(axis=(1, 2), keepdims=True)


def psf_model(coefficients, diversities, radius: float, wavelength: float, focal_length: float,
              camera_pitch: float, camera_shape, pad: int = 2, center=(0.0, 0.0)) -> np.ndarray:
    """Normalised PSFs (n, *camera_shape) of a uniformly lit circular pupil (radius m, in the
    Fourier plane) with the aberration sum_j c_j Z_j (``coefficients`` {j: c_j}, m) plus each
    diversity ({j: a_j} m, shown on the SLM), imaged by a lens of ``focal_length`` onto a camera
    of ``camera_pitch`` (m).

    The pupil is sampled on M = pad * camera size samples of pitch lambda f / (M p_camera), so
    that the centred DFT of the pupil field lands on the camera pixels (Fourier-lens convention
    of :mod:`optics4f.lens`: the output is the forward transform, which fixes the sign of the
    odd modes; the camera integrates each pixel as one sample). Each PSF sums to 1.
    """
    modes = sorted(int(j) for j in coefficients)
    setup = _psf_setup(modes, diversities, radius, wavelength, focal_length, camera_pitch, camera_shape, pad,
                       center)
    return _psfs([coefficients[j] for j in modes], setup)


def diversity_phases(grid: Grid, diversities, radius: float, wavelength: float, center=(0.0, 0.0)) -> np.ndarray:
    """Phases (n, ny, nx) rad on the SLM pixels (``grid`` = ``SLM.grid``) of the diversities
    [{j: a_j (m)}, ...] (an empty dict: no diversity)."""
    return np.stack([zernike_phase(grid, dict(d), radius, wavelength, center) for d in diversities])


def fit_phase_diversity(frames, diversities, modes, radius: float, wavelength: float, focal_length: float,
                        camera_pitch: float, dark=0.0, pad: int = 2, center=(0.0, 0.0)) -> dict:
    """Zernike coefficients (m RMS) from a few spot frames with known diversity phases (phase
    retrieval by nonlinear least squares on the normalised frames, :func:`scipy.optimize.least_squares`).

    ``frames`` (n, h, w) ADU of a point source, each with the diversity ``diversities[i]`` =
    {j: a_j} (m) added on the SLM (e.g. {} and {4: +-lambda/8}: one in-focus, two defocused
    frames; a single in-focus frame cannot tell W(u) from -W(-u)). ``modes``: the ANSI indices
    fitted (>= 3). The model is :func:`psf_model` (a uniformly lit pupil; SLM pixels ignored).
    Returns ``coefficients`` {j: c_j} (m), ``residual`` (rms misfit / rms data) and ``success``.
    """
    from scipy.optimize import least_squares

    f = load_frames(frames)
    if len(diversities) != f.shape[0]:
        raise ValueError(f"{f.shape[0]} frames for {len(diversities)} diversities; give one diversity per frame")
    keys = {tuple(sorted((int(j), float(a)) for j, a in dict(d).items() if a)) for d in diversities}
    if len(keys) < 2:
        raise ValueError("phase diversity needs at least 2 frames with different diversities (e.g. in focus and "
                         "defocused): one PSF cannot tell W(u) from -W(-u)")
    modes = _check_modes(modes)
    check_frames(f, dark, "phase-diversity frames", each=True)
    data = np.maximum(f - np.asarray(dark, dtype=np.float64), 0.0)
    data /= data.sum(axis=(1, 2), keepdims=True)

    setup = _psf_setup(modes.tolist(), diversities, radius, wavelength, focal_length, camera_pitch, f.shape[1:],
                       pad, center)

    def resid(c):
        return (_psfs(c * wavelength, setup) - data).ravel()

    # Unknowns in waves (order 0.01-0.1) so that the finite-difference steps are well scaled.
    sol = least_squares(resid, np.zeros(modes.size), x_scale=0.05, diff_step=1e-3)
    rms = float(np.sqrt(np.mean(sol.fun**2)) / np.sqrt(np.mean(data**2)))
    sd = lsq_sigma(sol) * wavelength
    return {"coefficients": {int(j): float(c * wavelength) for j, c in zip(modes, sol.x)}, "residual": rms,
            "success": bool(sol.success), "sigma": {int(j): float(v) for j, v in zip(modes, sd)}}


# -- simulated bench -------------------------------------------------------------------------------
def simulate_spot_frames(hardware, slm_frames, aberration, image, rng=None) -> np.ndarray:
    """Camera frames (n, *camera.shape), ADU, of the display ``image`` (a point source for a
    sweep) through ``hardware`` (:class:`optics4f.system.Hardware4f`) with SLM gray-level
    ``slm_frames`` (n, *slm.resolution) and a hidden Fourier-plane ``aberration`` (rad, on
    ``hardware.fourier_grid``): the bench stand-in of the examples and tests (shot and read
    noise from ``rng``)."""
    u = hardware.input_field(np.asarray(image, dtype=np.float64))
    ab = np.exp(1j * np.asarray(aberration, dtype=np.float64)).astype(hardware.dtype)
    out = [hardware.camera_frame(hardware.propagate(u, hardware.fourier_mask(frame=fr) * ab), rng=rng)
           for fr in np.asarray(slm_frames)]
    return np.asarray(np.stack(out), dtype=np.float64)


# -- calibration object ----------------------------------------------------------------------------
@dataclass(eq=False)
class WavefrontCalibration(Calibration):
    """Zernike coefficients of the system aberration and the SLM correction they imply.

    values: ``zernike_coefficients`` (m RMS, index = ANSI j; piston and tilts 0 = not measured),
    ``pupil_radius`` (m), ``pupil_center`` ((y0, x0) m on the SLM panel), ``wavelength`` (m).
    """

    kind: str = "wavefront"
    bench_scope = ("wavelength", "slm.", "geometry.f1")  # it depends on the panel, the wavelength and f1

    @property
    def coefficients(self) -> dict:
        """{j: c_j} (m RMS) of the non-zero coefficients."""
        c = np.asarray(self["zernike_coefficients"], dtype=np.float64)
        return {j: float(v) for j, v in enumerate(c) if v != 0}

    def correction(self, grid: Grid, wavelength: float | None = None) -> np.ndarray:
        """Correction phase (rad) on ``grid`` (e.g. ``SLM.grid``) at ``wavelength`` (m, default the
        calibration's): -2 pi W / lambda (the optical path error is fixed, the phase scales)."""
        lam = float(self["wavelength"]) if wavelength is None else float(wavelength)
        return correction_phase(grid, self.coefficients, float(self["pupil_radius"]), lam,
                                tuple(np.asarray(self["pupil_center"], dtype=np.float64)))

    def apply_to_slm(self, slm):
        """A copy of ``slm`` (phase mode) whose ``flatness`` has the correction added (rad, at the
        calibration wavelength, which is the wavelength ``flatness`` is defined at)."""
        if slm.mode != "phase":
            raise ValueError(f"a wavefront correction needs a phase SLM, got mode {slm.mode!r}")
        corr = self.correction(slm.grid)
        flat = corr if slm.flatness is None else slm.flatness + corr
        return slm.replace(flatness=flat)


def _as_array(coefficients: dict, n: int) -> np.ndarray:
    a = np.zeros(n)
    for j, v in coefficients.items():
        a[int(j)] = float(v)
    return a


def make_calibration(coefficients: dict, radius: float, wavelength: float, center=(0.0, 0.0),
                     truth: dict | None = None, metadata: dict | None = None, sigma: dict | None = None,
                     bench: dict | None = None) -> WavefrontCalibration:
    """:class:`WavefrontCalibration` from {j: c_j} (m RMS); ``truth`` the injected {j: c_j} of a simulation;
    ``sigma`` {j: one-sigma of c_j} (m)."""
    n = 1 + max([0, *coefficients, *(truth or {})])
    values = {"zernike_coefficients": _as_array(coefficients, n), "pupil_radius": float(radius),
              "pupil_center": np.asarray(center, dtype=np.float64), "wavelength": float(wavelength)}
    units = {"zernike_coefficients": "m", "pupil_radius": "m", "pupil_center": "m", "wavelength": "m"}
    tr = None if truth is None else {"zernike_coefficients": _as_array(truth, n)}
    unc = {} if sigma is None else {"zernike_coefficients": _as_array(sigma, n)}
    return WavefrontCalibration(values=values, units=units, truth=tr, metadata=dict(metadata or {}),
                                uncertainty=unc, bench=dict(bench or {}))


def _add_previous(coefficients: dict, previous) -> tuple:
    """Measured residual plus the correction that was shown while measuring, and the pass count."""
    coeffs = dict(coefficients)
    passes = 1
    if previous is not None:
        for j, c in previous.coefficients.items():
            coeffs[j] = coeffs.get(j, 0.0) + c
        passes += int(previous.metadata.get("passes", 1))
    return coeffs, passes


def calibrate_wavefront(frames, probe_modes, probe_amplitudes, radius: float, wavelength: float,
                        center=(0.0, 0.0), dark=0.0, previous: WavefrontCalibration | None = None,
                        truth: dict | None = None, bench: dict | None = None) -> WavefrontCalibration:
    """Wavefront calibration from the camera ``frames`` of a Zernike sweep (:func:`sweep_phases`).

    ``frames``: anything :func:`calib.frames.load_frames` reads (n, h, w) ADU; ``dark``: dark
    level or frame (ADU). ``previous``: the calibration whose correction was shown during the
    sweep (the ``base`` of :func:`sweep_phases`); its coefficients are added to the residual
    measured now (iterative refinement). ``truth``: injected {j: c_j} (m) of a simulated bench.
    ``bench``: the bench description to record (:func:`calib.benchinfo.describe_bench`).

    Dark, saturated or non-finite frames raise :class:`calib.checks.FrameError`;
    ``uncertainty["zernike_coefficients"]`` holds the one-sigma of each measured coefficient (m).
    """
    f = check_frames(load_frames(frames), dark, "wavefront sweep frames", each=True)
    fit = fit_sweep(f, probe_modes, probe_amplitudes, dark)
    coeffs, passes = _add_previous(fit["coefficients"], previous)
    meta = {"method": "zernike sweep, log-sharpness parabola", "passes": passes,
            "modes": np.asarray(sorted(fit["coefficients"])), "sweep_amplitudes": np.unique(probe_amplitudes)}
    return make_calibration(coeffs, radius, wavelength, center, truth, meta, sigma=fit["sigma"], bench=bench)


def calibrate_wavefront_diversity(frames, diversities, modes, radius: float, wavelength: float, focal_length: float,
                                  camera_pitch: float, center=(0.0, 0.0), dark=0.0,
                                  previous: WavefrontCalibration | None = None,
                                  truth: dict | None = None, bench: dict | None = None) -> WavefrontCalibration:
    """Wavefront calibration by phase diversity (:func:`fit_phase_diversity`): a few frames of a
    point source with known diversity phases on the SLM (:func:`diversity_phases`), e.g. in focus
    and +-lambda/8 of defocus. ``focal_length`` (m) of the lens between SLM and camera and
    ``camera_pitch`` (m) fix the scale of the model (as measured by the registration);
    ``previous``: the calibration shown during the measurement (its coefficients are added)."""
    fit = fit_phase_diversity(frames, diversities, modes, radius, wavelength, focal_length, camera_pitch, dark,
                              center=center)
    if not fit["success"]:
        raise RuntimeError("the phase-diversity fit did not converge; check the diversities, the scale "
                           "(focal_length, camera_pitch) and the dark level")
    coeffs, passes = _add_previous(fit["coefficients"], previous)
    meta = {"method": "phase diversity, least squares on normalised PSFs", "passes": passes,
            "modes": np.asarray(sorted(fit["coefficients"])), "fit_residual": fit["residual"],
            "diversity_frames": float(len(diversities))}
    return make_calibration(coeffs, radius, wavelength, center, truth, meta, sigma=fit["sigma"], bench=bench)
