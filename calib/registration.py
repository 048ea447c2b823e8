"""Registration: camera <-> Fourier-SLM affine map, and where the Fourier plane sits on the SLM.

**Camera <-> SLM k-space** (:func:`spot_grid_frames`, :func:`register_spots`).
A blazed grating of nu = (nu_y, nu_x) cycles per SLM pixel sends its first
order to the camera pixel (row, col) = A nu + b: for an ideal bench A =
(lambda f2 / (p_slm p_cam)) times a rotation, and b the DC. The routine shows a
grid of such gratings (one frame each, point source on the display), finds each
spot (brightest pixel away from the DC, then its background-subtracted centre
of mass) and fits A, b by least squares. A is reported as scale, rotation and
shear in the (x, y) = (col, row) frame: A_xy = R(theta) [[s_x, s_x h], [0, s_y]]
(theta counter-clockwise from +x to +y, h the shear). With a lens convention
that does not mirror, theta is the SLM's rotation about the axis.

**Fourier-plane registration** (:func:`slit_scan_frames`, :func:`register_fourier_plane`).
The display shows a Hann-windowed cosine of period L display pixels, whose
spectrum is three spots on the SLM: the DC at x_dc and two side lobes at
x_dc -+ s, s = lambda f1 / (L p_disp p_slm) SLM pixels. A one-pixel slit
scans the SLM: the pixels of the slit show a blazed grating along the other
axis that steers their light to a camera region, whose power P(c) samples the
Fourier-plane intensity. Fitting three Gaussians (centres x_dc, x_dc -+ s)
gives the optical axis on the panel (the SLM shift) and the scale
lambda f1 / p_slm, hence f1. (A knife edge instead of a slit was biased by a
few tenths of a pixel: the light that the sharp edge diffracts out of the
camera differs between mirror-image edge positions; for a slit it does not.)
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage, optimize

from .base import Calibration
from .checks import FrameError, check_finite, check_frames, check_saturation, robust_sigma
from .frames import load_frames

__all__ = [
    "RegistrationCalibration",
    "FourierPlaneCalibration",
    "blazed_phase",
    "spot_grid",
    "spot_grid_frames",
    "find_spot",
    "fit_affine",
    "decompose_affine",
    "register_spots",
    "slit_scan_frames",
    "cosine_window",
    "register_fourier_plane",
]


# ---------------------------------------------------------------------------------------- k-space
def blazed_phase(resolution, nu):
    """Phase (rad, panel shape) of a blazed grating of ``nu`` = (nu_y, nu_x) cycles per pixel, zero at the
    panel centre pixel (N//2)."""
    ny, nx = (int(r) for r in resolution)
    y = (np.arange(ny) - ny // 2)[:, None]
    x = (np.arange(nx) - nx // 2)[None, :]
    return 2 * np.pi * (nu[0] * y + nu[1] * x)


def spot_grid(n: int = 3, max_nu: float = 0.15):
    """(n*n, 2) grating frequencies (nu_y, nu_x), cycles per pixel, on a square grid of +-max_nu
    (the centre (0, 0), the DC, included)."""
    if int(n) < 2 or not 0 < max_nu < 0.5:
        raise ValueError(f"need n >= 2 and 0 < max_nu < 0.5 cycles/pixel (Nyquist), got n={n!r}, max_nu={max_nu!r}")
    v = np.linspace(-max_nu, max_nu, int(n))
    yy, xx = np.meshgrid(v, v, indexing="ij")
    return np.stack([yy.ravel(), xx.ravel()], axis=1)


def spot_grid_frames(slm, nus, wavelength=None):
    """SLM frames (n, *panel) showing a blazed grating for each row of ``nus`` (encoded with the SLM's
    current, possibly uncalibrated, LUT)."""
    nus = np.atleast_2d(np.asarray(nus, dtype=np.float64))
    return np.stack([slm.encode(blazed_phase(slm.resolution, nu), wavelength) for nu in nus])


def find_spot(frame, exclude=None, exclude_radius: float = 0.0, half_width: int = 2, dark=0.0):
    """(row, col) sub-pixel centre of the brightest spot: the maximum pixel (outside ``exclude_radius``
    pixels of ``exclude``), then the centre of mass of the (2h+1)^2 window, background (window median)
    removed."""
    f = np.asarray(frame, dtype=np.float64) - np.asarray(dark, dtype=np.float64)
    search = f.copy()
    if exclude is not None and exclude_radius > 0:
        yy, xx = np.indices(f.shape)
        search[np.hypot(yy - exclude[0], xx - exclude[1]) <= exclude_radius] = -np.inf
    r, c = np.unravel_index(np.argmax(search), f.shape)
    h = int(half_width)
    r0, r1, c0, c1 = max(r - h, 0), min(r + h + 1, f.shape[0]), max(c - h, 0), min(c + h + 1, f.shape[1])
    win = f[r0:r1, c0:c1]
    win = np.clip(win - np.median(win), 0, None)
    if win.sum() <= 0:
        return float(r), float(c)
    cy, cx = ndimage.center_of_mass(win)
    return r0 + cy, c0 + cx


def fit_affine(nus, points):
    """Least-squares A (2x2), b (2,) with points = A nus + b, both (n, 2) in (row/y, col/x) order."""
    return fit_affine_cov(nus, points)[:2]


def fit_affine_cov(nus, points):
    """(A, b, cov): :func:`fit_affine` and the (6, 6) covariance of (A00, A01, b0, A10, A11, b1) from the
    residual scatter (one variance for both coordinates; zeros when exactly determined)."""
    nus = np.asarray(nus, dtype=np.float64)
    pts = np.asarray(points, dtype=np.float64)
    if nus.shape != pts.shape or nus.ndim != 2 or nus.shape[1] != 2 or nus.shape[0] < 3:
        raise ValueError(f"need at least 3 (nu, point) pairs of shape (n, 2), got {nus.shape} and {pts.shape}")
    if not (np.all(np.isfinite(nus)) and np.all(np.isfinite(pts))):
        raise ValueError("grating frequencies and spot positions must be finite")
    m = np.hstack([nus, np.ones((nus.shape[0], 1))])
    if np.linalg.matrix_rank(m) < 3:
        raise ValueError("the grating frequencies lie on one line; an affine map needs gratings along two "
                         "directions (use calib.registration.spot_grid)")
    sol, *_ = np.linalg.lstsq(m, pts, rcond=None)
    dof = 2 * (nus.shape[0] - 3)
    res = pts - m @ sol
    s2 = float((res**2).sum() / dof) if dof > 0 else 0.0
    block = s2 * np.linalg.inv(m.T @ m)
    cov = np.zeros((6, 6))
    cov[:3, :3] = cov[3:, 3:] = block
    return sol[:2].T, sol[2], cov


def _affine_params(p):
    a = np.array([[p[0], p[1]], [p[3], p[4]]])
    return np.array(list(decompose_affine(a)) + [p[2], p[5]])


def affine_uncertainty(a, b, cov) -> dict:
    """One-sigma uncertainties of scale_x, scale_y, rotation, shear, dc_row, dc_col (first-order
    propagation of the affine covariance through :func:`decompose_affine`, numerical Jacobian)."""
    p = np.array([a[0, 0], a[0, 1], b[0], a[1, 0], a[1, 1], b[1]], dtype=np.float64)
    f0 = _affine_params(p)
    jac = np.empty((f0.size, p.size))
    for j in range(p.size):
        h = 1e-6 * max(1.0, abs(p[j]))
        q = p.copy()
        q[j] += h
        jac[:, j] = (_affine_params(q) - f0) / h
    sd = np.sqrt(np.clip(np.diag(jac @ cov @ jac.T), 0, None))
    names = ("scale_x", "scale_y", "rotation", "shear", "dc_row", "dc_col")
    return {k: float(v) for k, v in zip(names, sd)}


def decompose_affine(a):
    """(scale_x, scale_y, rotation rad, shear) of A (rows/cols order) in the (x, y) frame:
    A_xy = R(theta) [[s_x, s_x h], [0, s_y]]."""
    a = np.asarray(a, dtype=np.float64)
    axy = a[::-1, ::-1]  # (row, col) -> (x, y) ordering of both sides
    theta = np.arctan2(axy[1, 0], axy[0, 0])
    c, s = np.cos(theta), np.sin(theta)
    u = np.array([[c, s], [-s, c]]) @ axy
    return float(u[0, 0]), float(u[1, 1]), float(theta), float(u[0, 1] / u[0, 0])


class RegistrationCalibration(Calibration):
    """Affine map camera pixel (row, col) = A nu + b from SLM spatial frequency nu (cycles/pixel).

    values: ``A`` (2x2, px per cycle/pixel), ``b`` (2, px), ``scale_x``, ``scale_y``, ``rotation`` (rad),
    ``shear``, ``dc_row``, ``dc_col`` (px), ``rms_residual`` (px)."""

    kind: str = "registration"

    def camera_position(self, nu):
        """Camera (row, col) of the first order of a grating of ``nu`` (..., 2) cycles per pixel."""
        return np.asarray(nu, dtype=np.float64) @ np.asarray(self.values["A"]).T + np.asarray(self.values["b"])

    def slm_frequency(self, point):
        """Grating frequency (..., 2) (nu_y, nu_x) that sends light to camera ``point`` (row, col)."""
        a = np.asarray(self.values["A"])
        return (np.asarray(point, dtype=np.float64) - np.asarray(self.values["b"])) @ np.linalg.inv(a).T

    def apply_to_slm(self, slm):
        """The k-space map does not change the panel; the SLM is returned unchanged."""
        return slm

    def apply_to_config(self, config):
        """The configuration with its SLM rotation set to the measured rotation (a lab fixing the model)."""
        import dataclasses

        mis = dataclasses.replace(config.misalignment, slm_rotation=float(self.values["rotation"]))
        return config.replace(misalignment=mis)


def register_spots(frames, nus, *, dc_frame=None, dark=0.0, exclude_radius: float = 3.0, half_width: int = 2,
                   truth: dict | None = None, bench: dict | None = None) -> RegistrationCalibration:
    """Fit the camera <-> SLM k-space affine map from frames of :func:`spot_grid_frames`.

    frames : (n, h, w) one per row of ``nus``; nus : (n, 2) cycles per pixel (a row (0, 0) is the DC).
    dc_frame : frame with a flat SLM, giving the DC to exclude from the spot search of the other frames
        (default: the frame of nu = (0, 0) if present, else the brightest pixel of the first frame).
    truth : optional dict of true values (same names) of a simulated bench.
    bench : optional description of the bench (:func:`calib.benchinfo.describe_bench`), recorded.

    Frames that are dark, saturated or show no spot away from the DC raise :class:`calib.checks.FrameError`;
    the uncertainties come from the scatter of the spots about the affine map.
    """
    f = load_frames(frames)
    nus = np.atleast_2d(np.asarray(nus, dtype=np.float64))
    if f.shape[0] != nus.shape[0]:
        raise ValueError(f"{f.shape[0]} frames for {nus.shape[0]} gratings; record one frame per grating")
    if f.shape[0] < 4:
        raise FrameError(f"only {f.shape[0]} spot frames; the affine map (6 numbers) and its uncertainty need at "
                         "least 4 spots (use calib.registration.spot_grid(3))")
    check_frames(f, dark, "spot-grid frames", each=True)
    zero = np.flatnonzero(np.all(nus == 0, axis=1))
    if dc_frame is not None:
        dc = find_spot(load_frames(dc_frame)[0], half_width=half_width, dark=dark)
    elif zero.size:
        dc = find_spot(f[zero[0]], half_width=half_width, dark=dark)
    else:
        dc = None
    pts = np.array([find_spot(fr, None if np.all(nu == 0) else dc, exclude_radius, half_width, dark)
                    for fr, nu in zip(f, nus)])
    _check_spots(f, pts, dark)
    a, b, cov = fit_affine_cov(nus, pts)
    sx, sy, theta, shear = decompose_affine(a)
    spread = np.ptp(pts, axis=0).max()
    if not np.all(np.isfinite([sx, sy, theta, shear])) or spread < 2.0 or min(abs(sx), abs(sy)) < 1e-3 * spread:
        raise FrameError(f"the spots do not move with the grating frequency (they spread over {spread:.3g} px): the "
                         "camera sees no first orders; check that the SLM shows the gratings, the steering range "
                         "(max_nu) and the exposure")
    res = pts - (nus @ a.T + b)
    values = {"A": a, "b": b, "scale_x": sx, "scale_y": sy, "rotation": theta, "shear": shear,
              "dc_row": float(b[0]), "dc_col": float(b[1]), "rms_residual": float(np.sqrt(np.mean(res**2))),
              "spots": pts, "nus": nus}
    units = {"A": "px/(cycle/px)", "b": "px", "scale_x": "px/(cycle/px)", "scale_y": "px/(cycle/px)",
             "rotation": "rad", "shear": "1", "dc_row": "px", "dc_col": "px", "rms_residual": "px",
             "spots": "px", "nus": "cycle/px"}
    unc = affine_uncertainty(a, b, cov)
    unc["b"] = np.array([unc["dc_row"], unc["dc_col"]])
    unc["A"] = np.sqrt(np.array([[cov[0, 0], cov[1, 1]], [cov[3, 3], cov[4, 4]]]))
    return RegistrationCalibration(values=values, units=units, truth=truth, metadata={"method": "spot_grid"},
                                   uncertainty=unc, bench=dict(bench or {}))


def _check_spots(frames, pts, dark, snr: float = 10.0):
    """FrameError when a found spot does not stand ``snr`` noise sigmas above its frame's background."""
    weak = []
    for i, (fr, (r, c)) in enumerate(zip(frames, pts)):
        v = np.asarray(fr, dtype=np.float64) - np.asarray(dark, dtype=np.float64)
        peak = v[int(round(r)), int(round(c))]
        if peak - np.median(v) <= snr * max(robust_sigma(v), 1.0):
            weak.append(i)
    if weak:
        raise FrameError(f"no spot in frame(s) {weak[:8]} (the brightest pixel is within {snr:g} noise sigmas of "
                         "the background): too few spots for the affine fit; check the gratings' range (the first "
                         "orders must land on the camera) and the exposure")


# --------------------------------------------------------------------------------- Fourier plane
def cosine_window(size: int, period: float, axis: int = 1):
    """(size, size) display pattern (1 + cos(2 pi x / period)) / 2 along ``axis`` (x = pixel - size//2)."""
    x = np.arange(int(size)) - int(size) // 2
    line = 0.5 * (1 + np.cos(2 * np.pi * x / float(period)))
    return np.broadcast_to(line[None, :] if axis == 1 else line[:, None], (int(size), int(size))).copy()


def slit_scan_frames(slm, positions, width: int = 1, axis: int = 1, steer_period: float = 3.0, wavelength=None):
    """SLM frames (n, *panel): a slit of ``width`` pixels starting at each index of ``positions`` along
    ``axis`` shows a blazed grating of ``steer_period`` pixels along the other axis; the rest is flat
    (phase 0). The slit's centre is ``position + (width - 1) / 2``."""
    pos = np.asarray(positions, dtype=int)
    ny, nx = slm.resolution
    nu = (1.0 / steer_period, 0.0) if axis == 1 else (0.0, 1.0 / steer_period)
    ramp = blazed_phase(slm.resolution, nu)
    idx = (np.arange(nx)[None, :] if axis == 1 else np.arange(ny)[:, None]) * np.ones((ny, nx), dtype=int)
    return np.stack([slm.encode(np.where((idx >= p) & (idx < p + int(width)), ramp, 0.0), wavelength)
                     for p in pos])


def _slit_model(c, x0, s, sigma, amp, r, base):
    g = lambda xj: np.exp(-0.5 * ((c - xj) / sigma) ** 2)  # noqa: E731
    return base + amp * (g(x0) + r * (g(x0 - s) + g(x0 + s)))


class FourierPlaneCalibration(Calibration):
    """Where the Fourier plane sits on the SLM: values ``dc`` (pixel index of the optical axis along the
    scanned axis), ``shift`` (m, SLM shift = -(dc - N//2) p), ``lambda_f1`` (m^2), ``f1`` (m),
    ``spot_sigma`` (px)."""

    kind: str = "fourier_plane"

    def apply_to_config(self, config):
        """The configuration with the measured SLM shift along the scanned axis."""
        import dataclasses

        ax = int(self.metadata.get("axis", 1))
        shift = list(config.misalignment.slm_shift)
        shift[ax] = float(self.values["shift"])
        return config.replace(misalignment=dataclasses.replace(config.misalignment, slm_shift=tuple(shift)))


def register_fourier_plane(frames, positions, *, region, display_period: float, display_pitch: float,
                           slm_pitch: float, slm_pixels: int, wavelength: float, width: int = 1, axis: int = 1,
                           dark=0.0, s_guess: float | None = None, truth: dict | None = None,
                           bench: dict | None = None) -> FourierPlaneCalibration:
    """DC position and lambda f1 / p_slm from a slit scan (:func:`slit_scan_frames`).

    frames : (n, h, w), one per slit position ``positions`` (SLM pixel index along ``axis``).
    region : (row0, row1, col0, col1) camera box where the steered light lands.
    display_period : float
        Period L of the display cosine (:func:`cosine_window`), display pixels; display_pitch (m).
    slm_pitch : float (m); slm_pixels : panel pixels along ``axis``; wavelength (m); width : slit pixels.
    s_guess : starting value of the side-lobe distance (SLM pixels); default: the strongest side peak.

    The steered power P(c) samples the Fourier-plane intensity through the slit; it is fitted by three
    Gaussians at x_dc and x_dc -+ s (equal side amplitudes, a common width) plus a background. The
    slit's diffraction losses are the same for mirror-image positions, so the DC is unbiased.
    """
    raw = load_frames(frames)
    c = np.asarray(positions, dtype=np.float64) + 0.5 * (int(width) - 1)
    if raw.shape[0] != c.size or c.size < 8:
        raise ValueError(f"need one frame per slit position and at least 8 positions, got {raw.shape[0]} frames "
                         f"for {c.size} positions")
    r0, r1, c0, c1 = (int(v) for v in region)
    if not (0 <= r0 < r1 <= raw.shape[1] and 0 <= c0 < c1 <= raw.shape[2]):
        raise ValueError(f"region {tuple(region)} does not lie inside the {raw.shape[1]}x{raw.shape[2]} frames")
    d = np.broadcast_to(np.asarray(dark, dtype=np.float64), raw.shape[1:])
    # per pixel the steered light of a one-pixel slit is faint: the signal test is on the region's power below
    check_finite(raw, "slit-scan frames")
    check_saturation(raw[:, r0:r1, c0:c1], f"slit-scan frames (region {tuple(region)})")
    f = raw - d
    p = f[:, r0:r1, c0:c1].sum(axis=(1, 2))
    noise = np.sqrt((r1 - r0) * (c1 - c0)) * max(robust_sigma(f[:, r0:r1, c0:c1]), 1.0)
    if np.ptp(p) <= 10 * noise:
        raise FrameError(f"the steered power varies by {np.ptp(p):.3g} ADU over the slit scan, within the noise "
                         f"({noise:.3g} ADU): no light above the dark level, no Fourier-plane spots to fit; "
                         "check the region, the display pattern "
                         "and the exposure")
    k = int(np.argmax(p))
    x0, amp, base = c[k], p[k] - p.min(), p.min()
    if s_guess is None:
        far = np.abs(c - x0) > 2
        s_guess = abs(c[far][np.argmax(p[far])] - x0) if far.any() else 0.25 * (c[-1] - c[0])
    p0 = [x0, float(s_guess), 1.0, amp, 0.25, base]
    try:
        popt, pcov = optimize.curve_fit(_slit_model, c, p, p0=p0, maxfev=20000)
    except RuntimeError as e:
        raise ValueError(f"the slit-scan fit did not converge ({e}); check region, the scan range (it must cover "
                         "the DC and both side lobes) and s_guess") from None
    x0, s, sigma = popt[0], abs(popt[1]), abs(popt[2])
    perr = np.sqrt(np.clip(np.diag(pcov), 0, None))
    if not (np.all(np.isfinite(popt)) and np.all(np.isfinite(perr))) or not (c[0] <= x0 <= c[-1]) or popt[3] <= 0:
        raise FrameError("the slit-scan fit found no DC inside the scan (or no uncertainty); the scan must cover the "
                         "DC and both side lobes with light in the region")
    lam_f1 = s * slm_pitch * float(display_period) * float(display_pitch)
    centre = int(slm_pixels) // 2
    values = {"dc": float(x0), "shift": float(-(x0 - centre) * slm_pitch), "lambda_f1": float(lam_f1),
              "f1": float(lam_f1 / wavelength), "side_lobe_distance": float(s), "spot_sigma": float(sigma),
              "dc_std": float(perr[0]), "signal": p, "fit": _slit_model(c, *popt), "positions": c}
    units = {"dc": "px", "shift": "m", "lambda_f1": "m^2", "f1": "m", "side_lobe_distance": "px",
             "spot_sigma": "px", "dc_std": "px", "signal": "ADU", "fit": "ADU", "positions": "px"}
    unc = {"dc": float(perr[0]), "shift": float(perr[0] * slm_pitch), "side_lobe_distance": float(perr[1]),
           "lambda_f1": float(perr[1] * slm_pitch * float(display_period) * float(display_pitch)),
           "spot_sigma": float(perr[2])}
    unc["f1"] = unc["lambda_f1"] / wavelength
    return FourierPlaneCalibration(values=values, units=units, truth=truth,
                                   metadata={"axis": int(axis), "method": "slit_scan", "wavelength": wavelength,
                                             "width": int(width)}, uncertainty=unc, bench=dict(bench or {}))
