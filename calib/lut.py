"""SLM gray-to-phase LUT: binary-grating diffraction efficiency and split-screen interferometry.

Both methods light the Fourier SLM with an (almost) plane wave, a point on the
input display, and watch the far field of the panel on the camera.

**Binary grating** (:func:`grating_frames`, :func:`lut_from_gratings`). A
grating of period P pixels, half of each period at the reference gray g0 and
half at the test gray g, is a square wave of phase step d = phi(g) - phi(g0).
Its orders carry (independently of the illumination's shape)

    I_0 = cos^2(d/2) I,    I_{+1} = I_{-1} = (4/pi^2) sin^2(d/2) I,

so cos d = (I_0 - (pi^2/4) I_1) / (I_0 + (pi^2/4) I_1), with I_1 the mean of the two
first orders (illumination drifts cancel), and |d| folded into [0, pi] is
2 atan2((pi/2) sqrt(I_1), sqrt(I_0)). A monotonic panel's curve folds back at
pi, 2 pi, ...; the candidate unfoldings (:func:`unfold_candidates`) each start
a least-squares fit of the table to the measured cos d (linear in the counts,
so unbiased where the folded phase is not), and the best monotonic fit wins.
The sign of the response is not observable this way; give it (``sign``), or
measure it with the split screen.

**Split screen** (:func:`split_screen_frames`, :func:`lut_from_split_screen`).
Columns left of the panel centre show g0, the others g; a small (3-pixel)
window on the display lights the SLM. In the far field the half-plane step of
d is a Hilbert filter: the output is (1 + e^{id})/2 u + (e^{id} - 1)/2 H[u],
so the power in a box around the DC is e0 - b (1 - cos d) (b > 0, unknown:
it depends on the window) and, with ``orientation = +1`` (a grating of
positive spatial frequency along the SLM x axis moves light to +x on the
camera, the lens convention of optics4f), the odd part of the central rows is
beta sin d with beta > 0: light leans to the side of the advanced half. The
table, b and beta are fitted to both signals by least squares: a signed phase
with no folding ambiguity. The odd signal is weak (a few 1e-3 of the DC), so
it fixes the sign and the branch; the precision comes mostly from the DC.

The LUT (rad at the measurement wavelength, gray 0 -> 0 by construction) is a
polynomial of degree ``degree`` in g / g_max without constant term
(:func:`fit_lut`), checked strictly monotonic; the 2 pi gray level is where
|phi| reaches 2 pi. Near 2 pi the intensities are flat in the phase, so the
2 pi level is the least certain number (about +-1 level by gratings, +-3 by
the split screen on the example bench). Wavelength scaling (optical path
fixed, LC dispersion neglected): phi_lambda = phi_measured * lambda_measured
/ lambda (:meth:`LUTCalibration.at_wavelength`).
"""
from __future__ import annotations

import numpy as np

from optics4f.devices.slm import gray_dtype

from .base import Calibration
from .checks import FrameError, check_finite, check_frames, check_saturation, check_signal
from .frames import load_frames

__all__ = [
    "LUTCalibration",
    "grating_frames",
    "split_screen_frames",
    "box_sums",
    "grating_orders",
    "folded_phase",
    "unfold_phase",
    "unfold_candidates",
    "fit_lut",
    "gray_of_phase",
    "lut_from_gratings",
    "lut_from_split_screen",
    "split_screen_signals",
]

_TWO_PI = 2.0 * np.pi


# ------------------------------------------------------------------------------------------- probes
def _check_grays(grays, bit_depth):
    g = np.asarray(grays)
    if g.ndim != 1 or g.size < 2 or g.dtype.kind not in "iu":
        raise ValueError(f"grays must be a 1-D list of at least 2 integer gray levels, got {grays!r}")
    if g.min() < 0 or g.max() > 2**bit_depth - 1:
        raise ValueError(f"grays must lie in 0..{2**bit_depth - 1} for a {bit_depth}-bit panel")
    if np.any(np.diff(g) <= 0):
        raise ValueError("grays must be strictly increasing")
    return g


def grating_frames(resolution, grays, period: int = 8, reference: int = 0, axis: int = 1, bit_depth: int = 8):
    """SLM frames (n, ny, nx) of binary gratings: per period, ``period//2`` pixels at ``reference`` and the
    others at each gray of ``grays``; stripes vary along ``axis`` (1: columns, a grating along x)."""
    period = int(period)
    if period < 2 or period % 2:
        raise ValueError(f"period must be an even number of pixels >= 2, got {period!r}")
    g = _check_grays(grays, bit_depth)
    ny, nx = (int(r) for r in resolution)
    idx = np.arange(nx if axis == 1 else ny) - (nx if axis == 1 else ny) // 2
    high = (idx % period) >= period // 2
    out = np.full((g.size, ny, nx), reference, dtype=gray_dtype(bit_depth))
    if axis == 1:
        out[:, :, high] = g[:, None, None]
    else:
        out[:, high, :] = g[:, None, None]
    return out


def split_screen_frames(resolution, grays, reference: int = 0, bit_depth: int = 8):
    """SLM frames (n, ny, nx): columns < nx//2 at ``reference``, the others at each gray of ``grays``."""
    g = _check_grays(grays, bit_depth)
    ny, nx = (int(r) for r in resolution)
    out = np.full((g.size, ny, nx), reference, dtype=gray_dtype(bit_depth))
    out[:, :, nx // 2:] = g[:, None, None]
    return out


# ----------------------------------------------------------------------------------------- analysis
def box_sums(frames, positions, half_width: int = 1, dark=0.0):
    """Sum of (frame - dark) over (2 h + 1)^2 boxes centred on ``positions`` ((k, 2) rows, cols; rounded
    to pixels): (n, k). Boxes must lie inside the frame."""
    f = load_frames(frames) - np.asarray(dark, dtype=np.float64)
    pos = np.rint(np.atleast_2d(np.asarray(positions, dtype=np.float64))).astype(int)
    h = int(half_width)
    n, hh, ww = f.shape
    out = np.empty((n, pos.shape[0]))
    for j, (r, c) in enumerate(pos):
        if r - h < 0 or c - h < 0 or r + h >= hh or c + h >= ww:
            raise ValueError(f"box {j} at pixel ({r}, {c}) with half_width {h} leaves the {hh}x{ww} frame; "
                             "check the DC position, the order spacing and the grating period")
        out[:, j] = f[:, r - h:r + h + 1, c - h:c + h + 1].sum(axis=(1, 2))
    return out


def grating_orders(center, order_spacing: float, period: int, axis: int = 1):
    """Camera positions (3, 2) (rows, cols) of the orders 0, +1, -1 of a grating of ``period`` pixels
    varying along ``axis`` of the SLM.

    ``center``: (row, col) of the DC, with ``order_spacing`` the camera pixels per (cycle per SLM
    pixel), lambda f2 / (p_slm * camera pitch) (orders along the camera axis ``axis``); or a
    :class:`calib.registration.RegistrationCalibration`, whose affine map places the orders
    (rotation, shear and offset included; ``order_spacing`` is then not used)."""
    if hasattr(center, "camera_position"):
        nu = np.zeros((3, 2))
        nu[1, axis], nu[2, axis] = 1.0 / period, -1.0 / period
        return center.camera_position(nu)
    if order_spacing is None:
        raise ValueError("give order_spacing (camera px per cycle/px), or a registration as center")
    c = np.asarray(center, dtype=np.float64)
    step = np.zeros(2)
    step[axis] = float(order_spacing) / float(period)
    return np.stack([c, c + step, c - step])


def folded_phase(i0, i1):
    """|d| folded into [0, pi] from zero-order and mean first-order powers of a binary grating (rad)."""
    i0 = np.clip(np.asarray(i0, dtype=np.float64), 0, None)
    i1 = np.clip(np.asarray(i1, dtype=np.float64), 0, None)
    return 2.0 * np.arctan2(0.5 * np.pi * np.sqrt(i1), np.sqrt(i0))


def _unfold_at(f, turns):
    """Unfold folded samples with branch changes at the sample indices ``turns`` (sorted)."""
    b = np.searchsorted(np.asarray(turns), np.arange(f.size), side="right")
    return np.where(b % 2 == 0, b * np.pi + f, (b + 1) * np.pi - f)


def unfold_candidates(folded, low: float = 0.6, high: float = 0.6):
    """Possible monotonic (increasing) unfoldings of a phase folded into [0, pi] (rad), as a list.

    A monotonic response folds back at pi (the folded curve peaks) and at 2 pi (it dips); the
    turning samples are looked for among the samples within ``high`` rad of pi (first turn) and,
    after it, within ``low`` rad of 0 (second turn), plus the options "no turn". Responses up to
    3 pi are covered. The right candidate is the one whose fit to the raw measurements is best.
    """
    f = np.clip(np.asarray(folded, dtype=np.float64), 0.0, np.pi)
    out = [_unfold_at(f, [])]
    for k1 in np.flatnonzero(f >= np.pi - high):
        out.append(_unfold_at(f, [k1]))
        for k2 in np.flatnonzero(f <= low):
            if k2 > k1 + 1:
                out.append(_unfold_at(f, [k1, k2]))
    return out


def unfold_phase(folded):
    """Monotonic (increasing) phase from samples folded into [0, pi] (rad): turns at the largest sample
    and, when the curve rises again by more than 0.1 rad after it, at the smallest one beyond it."""
    f = np.clip(np.asarray(folded, dtype=np.float64), 0.0, np.pi)
    k1 = int(np.argmax(f))
    if k1 == f.size - 1:
        return _unfold_at(f, [])
    k2 = k1 + int(np.argmin(f[k1:]))
    turns = [k1, k2] if k2 < f.size - 1 and f[k2:].max() - f[k2] > 0.1 else [k1]
    return _unfold_at(f, turns)


def _poly_design(grays, top, degree):
    x = np.asarray(grays, dtype=np.float64) / top
    return np.stack([x**k for k in range(1, degree + 1)], axis=-1)  # no constant: phase(0) = 0


def _fit(grays, phase, bit_depth, degree, residuals):
    """(lut or None when not strictly monotonic, cost, one-sigma of the lut (2^bits,))."""
    from scipy.optimize import least_squares

    top = 2**bit_depth - 1
    grays = np.asarray(grays, dtype=np.float64)
    degree = int(min(degree, grays.size - 1))
    a = _poly_design(grays, top, degree)
    coef = np.linalg.lstsq(a, np.asarray(phase, dtype=np.float64), rcond=None)[0]
    r = a @ coef - phase
    cost = float(np.sum(r**2))
    jac, nres = a, r.size
    if residuals is not None:
        x0 = np.concatenate([coef, np.asarray(getattr(residuals, "x0", []), dtype=np.float64)])
        sol = least_squares(lambda p: residuals(a @ p[:degree], p[degree:]), x0, method="lm")
        coef, cost, jac, nres, r = sol.x[:degree], float(sol.cost), sol.jac, sol.fun.size, sol.fun
    full = _poly_design(np.arange(top + 1), top, degree)
    lut = full @ coef
    dof = nres - jac.shape[1]
    if dof > 0:
        cov = float(r @ r) / dof * np.linalg.pinv(jac.T @ jac)[:degree, :degree]
        sigma = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", full, cov, full), 0, None))
    else:
        sigma = np.full(lut.shape, np.nan)
    return _monotone(lut), cost, sigma


def _monotone(lut, max_bad: float = 0.1):
    """The table if strictly monotonic; a fit that turns over at a few levels (at most ``max_bad`` of
    them, e.g. where a saturating panel flattens at its top grays) is clamped to a minimal slope there
    (1e-6 of the mean step); None when it turns over more (a wrong unfolding)."""
    d = np.diff(lut)
    direction = np.sign(lut[-1] - lut[0])
    if direction == 0:
        return None
    bad = direction * d <= 0
    if not bad.any():
        return lut
    if bad.mean() > max_bad:
        return None
    floor = 1e-6 * np.abs(d).mean()
    d = direction * np.maximum(direction * d, floor)
    return np.concatenate([[lut[0]], lut[0] + np.cumsum(d)])


def fit_lut(grays, phase, bit_depth: int = 8, degree: int = 5, residuals=None):
    """Full table (2^bits,) rad: polynomial of ``degree`` in g/g_max with phase(0) = 0, fitted by least
    squares to the measured (grays, phase). A fit that turns over at no more than 10 % of the levels
    is clamped there to a minimal slope (an SLM table must be strictly monotonic); otherwise an error.

    ``residuals(phi_at_grays, extra) -> array`` (optional): refine the coefficients (and ``extra``
    nuisance parameters, given as ``residuals.x0``) by ``scipy.optimize.least_squares`` on the raw
    measurements instead of the derived phases, which removes the bias of folding noisy data.
    """
    lut, _, _ = _fit(grays, phase, bit_depth, degree, residuals)
    if lut is None:
        raise ValueError(f"the fitted LUT is not monotonic (degree {degree}); measure more gray levels, lower "
                         "degree, or check the order positions and the dark frame")
    return lut


def _best_fit(grays, candidates, bit_depth, degree, residuals):
    """Fit every candidate phase curve; the monotonic table of least cost and its starting phases."""
    best = None
    for ph in candidates:
        lut, cost, sigma = _fit(grays, ph, bit_depth, degree, residuals)
        if lut is not None and (best is None or cost < best[1]):
            best = (lut, cost, ph, sigma)
    if best is None:
        raise ValueError("no monotonic LUT fits the measurements; measure more gray levels, lower degree, or "
                         "check the order positions, the exposure and the dark frame")
    return best[0], best[2], best[3]


def gray_of_phase(lut, target: float = _TWO_PI) -> float:
    """Fractional gray level where |lut| reaches ``target`` (linear interpolation); NaN when it never does."""
    a = np.abs(np.asarray(lut, dtype=np.float64))
    if a.max() < target:
        return float("nan")
    return float(np.interp(target, a, np.arange(a.size)))


# --------------------------------------------------------------------------------- the calibration
class LUTCalibration(Calibration):
    """Gray-to-phase table of an SLM (values: ``lut`` rad per gray level at ``wavelength``, ``gray_2pi``,
    the measured points ``grays`` / ``phase``, ``wavelength`` m)."""

    kind: str = "lut"
    bench_scope = ("wavelength", "slm.pitch", "slm.bit_depth", "slm.mode")  # the panel type and the wavelength

    @property
    def lut(self) -> np.ndarray:
        return np.asarray(self.values["lut"])

    @property
    def wavelength(self) -> float:
        return float(self.values["wavelength"])

    def at_wavelength(self, wavelength: float) -> np.ndarray:
        """The table (rad) at another wavelength (m): lut * lambda_measured / lambda."""
        if not (np.isfinite(wavelength) and wavelength > 0):
            raise ValueError(f"wavelength must be positive (m), got {wavelength!r}")
        return self.lut * self.wavelength / float(wavelength)

    def gray_2pi_at(self, wavelength: float) -> float:
        """The (fractional) gray level giving 2 pi at ``wavelength`` (m); NaN if the panel cannot reach it."""
        return gray_of_phase(self.at_wavelength(wavelength))

    def apply_to_slm(self, slm):
        """The SLM with this table as its measured LUT, valid at ``wavelength`` (its design wavelength)."""
        if slm.mode != "phase":
            raise ValueError(f"a phase LUT applies to a phase SLM, not mode {slm.mode!r}")
        if slm.levels != self.lut.size:
            raise ValueError(f"the LUT has {self.lut.size} levels but the SLM {slm.name!r} has {slm.levels} "
                             f"({slm.bit_depth} bits); calibrate at the panel's bit depth")
        return slm.replace(lut=self.lut.copy(), design_wavelength=self.wavelength)


def _make(lut, grays, phase, wavelength, method, truth_slm, metadata, sigma, bench):
    g2pi = gray_of_phase(lut)
    values = {"lut": lut, "gray_2pi": g2pi, "grays": np.asarray(grays, dtype=np.float64),
              "phase": np.asarray(phase, dtype=np.float64), "wavelength": float(wavelength)}
    unc = {"lut": sigma}
    if np.isfinite(g2pi):  # sigma of the level = sigma of the phase there / the slope of |lut|
        slope = abs(float(np.interp(g2pi, np.arange(lut.size - 1) + 0.5, np.diff(np.abs(lut)))))
        unc["gray_2pi"] = float(np.interp(g2pi, np.arange(lut.size), sigma)) / max(slope, 1e-12)
    units = {"lut": "rad", "gray_2pi": "gray level", "grays": "gray level", "phase": "rad", "wavelength": "m"}
    truth = None
    if truth_slm is not None:
        t = truth_slm.phase_lut() * truth_slm.wavelength_scale(wavelength)
        t = t - t[0]
        truth = {"lut": t, "gray_2pi": gray_of_phase(t)}
    return LUTCalibration(values=values, units=units, truth=truth, metadata={"method": method, **metadata},
                          uncertainty=unc, bench=dict(bench or {}))


def _check_wavelength(wavelength):
    if not (isinstance(wavelength, (int, float)) and np.isfinite(wavelength) and wavelength > 0):
        raise ValueError(f"wavelength must be the measurement wavelength in metres, got {wavelength!r}")


def _frames_and_grays(frames, grays, bit_depth, why: str):
    """Frames (n, h, w) and gray levels (n,), one frame per gray, the first gray the reference 0."""
    f = load_frames(frames)
    g = _check_grays(grays, bit_depth)
    if g[0] != 0:
        raise ValueError(f"grays must start at the reference gray 0 ({why})")
    if f.shape[0] != g.size:
        raise ValueError(f"{f.shape[0]} frames for {g.size} gray levels; record one frame per gray level")
    if g.size < 4:
        raise FrameError(f"only {g.size} gray levels; the LUT fit and its uncertainty need at least 4 (use 8 or more)")
    return f, g


def _check_lut_frames(f, dark, what, boxes=None):
    """check_frames on the whole frames, or on the order boxes (positions (k, 2), half width h) only."""
    if boxes is None:
        return check_frames(f, dark, what, each=True)
    pos, h = boxes
    d = np.broadcast_to(np.asarray(dark, dtype=np.float64), f.shape[1:])
    rows = np.unique(np.concatenate([np.arange(int(round(r)) - h, int(round(r)) + h + 1) for r, _ in pos]))
    cols = np.unique(np.concatenate([np.arange(int(round(c)) - h, int(round(c)) + h + 1) for _, c in pos]))
    rows, cols = rows[(rows >= 0) & (rows < f.shape[1])], cols[(cols >= 0) & (cols < f.shape[2])]
    check_finite(f, what)
    check_saturation(f[:, rows][:, :, cols], f"{what} (order boxes)")
    check_signal(f, d, what, each=True)


def lut_from_gratings(frames, grays, *, center, order_spacing: float | None = None, period: int, wavelength: float,
                      sign: int = -1, axis: int = 1, dark=0.0, half_width: int = 1, bit_depth: int = 8,
                      degree: int = 5, truth_slm=None, bench: dict | None = None) -> LUTCalibration:
    """LUT from camera frames of the binary gratings of :func:`grating_frames` (reference gray 0).

    Parameters
    ----------
    frames : frames source (n, h, w)
        One camera frame per gray of ``grays`` (see :func:`calib.frames.load_frames`).
    grays : (n,) increasing integers, starting at the reference gray 0.
    center : (row, col) or RegistrationCalibration
        Camera pixel of the DC (zero order); or the registration, which then places every order.
    order_spacing : float
        Camera pixels per (cycle per SLM pixel), lambda f2 / (p_slm * camera pitch) (not used with
        a registration).
    period : int
        Grating period, SLM pixels.
    wavelength : float
        Measurement wavelength, m.
    sign : -1 | +1
        Direction of the response (-1: gray up = phase down); not observable by this method.
    dark : float or (h, w)
        Black level (ADU) subtracted before the order powers are summed.
    half_width : int
        Boxes of (2 h + 1)^2 pixels around each order.
    truth_slm : SLM, optional
        The true panel of a simulated bench (stored as ``truth``).
    bench : dict, optional
        The bench description to record (:func:`calib.benchinfo.describe_bench`).

    Dark, saturated (in the order boxes) or non-finite frames raise :class:`calib.checks.FrameError`;
    ``uncertainty["lut"]`` is the one-sigma of the table from the least-squares covariance.
    """
    _check_wavelength(wavelength)
    if sign not in (-1, 1):
        raise ValueError(f"sign must be -1 (gray up = phase down) or +1, got {sign!r}")
    f, g = _frames_and_grays(frames, grays, bit_depth, "the table is relative to gray 0")
    orders = grating_orders(center, order_spacing, period, axis)
    _check_lut_frames(f, dark, "grating frames", (orders, int(half_width)))
    p = box_sums(f, orders, half_width, dark)
    i0, i1 = p[:, 0], 0.25 * np.pi**2 * 0.5 * (p[:, 1] + p[:, 2])
    folded = folded_phase(i0, i1 / (0.25 * np.pi**2))
    total = i0 + i1
    if np.any(total <= 0.05 * total.max()):
        bad = g[total <= 0.05 * total.max()]
        raise ValueError(f"almost no light in the order boxes at gray levels {bad[:6].tolist()}: the boxes miss the "
                         "orders; check center / order_spacing (use the registration) and half_width")
    cos_d = (i0 - i1) / total  # linear in the counts: unbiased near the folds
    lut, phase, sigma = _best_fit(g, [sign * u for u in unfold_candidates(folded)], bit_depth, degree,
                                  lambda phi, _: np.cos(phi) - cos_d)
    return _make(lut, g, phase, wavelength, "binary_grating", truth_slm,
                 {"period": int(period), "sign": int(sign), "degree": int(degree)}, sigma, bench)


def split_screen_signals(frames, *, center, dark=0.0, half_width: int = 1, reach: int = 8, orientation: int = 1):
    """(dc, odd) per frame: DC box power and sum_{0 < |x| <= reach} sgn(x) I on the central rows
    (+-half_width), x the camera column from the DC, times ``orientation``."""
    f = load_frames(frames) - np.asarray(dark, dtype=np.float64)
    r, c = (int(round(v)) for v in center)
    h, reach = int(half_width), int(reach)
    if r - h < 0 or r + h >= f.shape[1] or c - reach < 0 or c + reach >= f.shape[2]:
        raise ValueError(f"the analysis window (rows {r}+-{h}, columns {c}+-{reach}) leaves the frame; "
                         "check center or lower reach")
    rows = f[:, r - h:r + h + 1, :].sum(axis=1)
    dc = rows[:, c - h:c + h + 1].sum(axis=1)
    right = rows[:, c + h + 1:c + reach + 1].sum(axis=1)
    left = rows[:, c - reach:c - h].sum(axis=1)
    return dc, orientation * (right - left)


def lut_from_split_screen(frames, grays, *, center, wavelength: float, dark=0.0, half_width: int = 1,
                          reach: int = 8, orientation: int = 1, bit_depth: int = 8, degree: int = 5,
                          truth_slm=None, bench: dict | None = None) -> LUTCalibration:
    """Signed LUT from camera frames of :func:`split_screen_frames` (reference gray 0, first gray 0).

    ``orientation``: +1 when a grating of positive frequency along the SLM x axis moves light to +x
    (larger column) on the camera, -1 when the camera sees the panel mirrored. ``center`` may be a
    RegistrationCalibration: the DC and the orientation are then taken from its affine map.
    The grays should span most of the panel's range (the fit of the sine scale needs points around
    the circle). Other parameters as :func:`lut_from_gratings`.
    """
    _check_wavelength(wavelength)
    if hasattr(center, "camera_position"):  # a registration: DC and orientation from its affine map
        orientation = 1 if np.asarray(center.values["A"])[1, 1] > 0 else -1
        center = tuple(np.asarray(center.values["b"], dtype=np.float64))
    if orientation not in (-1, 1):
        raise ValueError(f"orientation must be +1 or -1 (see the docstring), got {orientation!r}")
    f, g = _frames_and_grays(frames, grays, bit_depth, "both halves equal: the DC reference")
    r, c = (int(round(v)) for v in center)
    _check_lut_frames(f, dark, "split-screen frames", (np.array([[r, c - reach], [r, c + reach], [r, c]]),
                                                       max(int(half_width), int(reach))))
    dc, odd = split_screen_signals(f, center=center, dark=dark, half_width=half_width, reach=reach,
                                   orientation=orientation)
    e0 = dc[0]
    if e0 <= 0:
        raise ValueError("the reference frame (gray 0 on both halves) has no DC power; check center and dark")
    # dc = e0 - b (1 - cos d), odd = beta sin d; start from the folded magnitude and the sign of the odd part
    b0 = max(0.5 * (e0 - dc.min()), 1e-12 * e0)
    beta0 = max(float(np.abs(odd).max()), 1e-12 * e0)
    cands = []
    for mag in unfold_candidates(np.arccos(np.clip(1.0 - (e0 - dc) / b0, -1.0, 1.0))):
        cands.append(mag if np.sum(odd * np.sin(mag)) >= 0 else -mag)  # the sign the odd part shows

    def residuals(phi, extra):
        b, beta = extra
        return np.concatenate([(e0 - b * (1 - np.cos(phi)) - dc) / e0, (beta * np.sin(phi) - odd) / e0])

    residuals.x0 = [b0, beta0]
    lut, phase, sigma = _best_fit(g, cands, bit_depth, degree, residuals)
    return _make(lut, g, phase, wavelength, "split_screen", truth_slm,
                 {"orientation": int(orientation), "reach": int(reach), "degree": int(degree)}, sigma, bench)
