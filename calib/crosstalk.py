"""Pixel crosstalk of a phase SLM: fringing width and fill factor from binary gratings of several periods.

A binary grating of period P pixels (half at gray 0, half at a gray showing a
step d, ideally pi) sends a share of the light into its orders that depends on
how sharp the phase edges are. Fringing fields smooth the displayed phase
(modelled as a Gaussian of standard deviation sigma, as
:class:`optics4f.devices.SLM` does), which matters more the finer the
grating; the inactive gap between pixels (linear fill factor F per axis,
reflecting with unit amplitude and zero phase on an LCoS panel) takes light
from every grating alike. So the zero- and first-order efficiencies against
the period separate the two.

Model (:func:`grating_efficiencies`), one period on a fine grid of ``oversample``
points per pixel, periodic smoothing by FFT::

    t(x, y) = 1 + cover_x(x) cover_y(y) (exp(i phi_s(x)) - 1),   phi_s = G_sigma * phi
    c_0 = 1 + F <cover_x (exp(i phi_s) - 1)>,   c_1 = F <cover_x exp(i phi_s) exp(-2 pi i x / P)>

(<.> the mean over one period, the y average of cover_y being F), so
eta_0 = |c_0|^2 and eta_1 = |c_1|^2 relative to a flat frame. The routine
(:func:`crosstalk_from_gratings`) measures eta_0 and eta_1 (mean of the two
first orders) for each period and fits sigma, F and d by least squares.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

from optics4f.devices.slm import gray_dtype

from .base import Calibration
from .checks import FrameError, check_finite, check_saturation, check_signal
from .frames import load_frames
from .lut import box_sums, grating_frames, grating_orders

__all__ = ["CrosstalkCalibration", "crosstalk_frames", "grating_efficiencies", "measure_efficiencies",
           "crosstalk_from_gratings"]


def crosstalk_frames(resolution, periods, gray: int, bit_depth: int = 8):
    """SLM frames (1 + len(periods), ny, nx): a flat frame (gray 0, the reference) then binary gratings
    (0 | ``gray``) of each period along x."""
    flat = np.zeros((1,) + tuple(int(r) for r in resolution), dtype=gray_dtype(bit_depth))
    gr = [grating_frames(resolution, [0, int(gray)], period=int(p), bit_depth=bit_depth)[1] for p in periods]
    return np.concatenate([flat, np.stack(gr)])


def grating_efficiencies(period: int, step: float, sigma_px: float, fill_factor: float, oversample: int = 64):
    """(eta_0, eta_1) of a binary phase grating (see the module docstring).

    period : int, pixels (even); step : rad; sigma_px : fringing standard deviation, pixels;
    fill_factor : linear active fraction per axis; oversample : model points per pixel.
    """
    period, s = int(period), int(oversample)
    n = period * s
    x = (np.arange(n) + 0.5) / s  # pixel units, period [0, P)
    phi = np.where(x >= period / 2, float(step), 0.0)
    if sigma_px > 0:
        f = np.fft.rfftfreq(n, d=1.0 / s)  # cycles per pixel
        phi = np.fft.irfft(np.fft.rfft(phi) * np.exp(-2 * (np.pi * f * sigma_px) ** 2), n)
    frac = x - np.floor(x) - 0.5  # centre of each model cell within its pixel, [-0.5, 0.5)
    half, h = 0.5 * fill_factor, 0.5 / s
    cover = np.clip(np.minimum(frac + h, half) - np.maximum(frac - h, -half), 0, None) * s  # exact cell overlap
    e = np.exp(1j * phi)
    c0 = 1.0 + fill_factor * np.mean(cover * (e - 1.0))
    # cell average of the Fourier kernel (exact for a piecewise-constant transmission)
    kern = np.exp(-2j * np.pi * x / period) * np.sinc(1.0 / (period * s))
    c1 = fill_factor * np.mean(cover * e * kern)
    return float(abs(c0) ** 2), float(abs(c1) ** 2)


def measure_efficiencies(frames, periods, *, center, order_spacing: float | None = None, dark=0.0,
                         half_width: int = 1):
    """(eta_0, eta_1) arrays (len(periods),) from frames of :func:`crosstalk_frames` (flat frame first);
    ``center`` / ``order_spacing`` as in :func:`calib.lut.grating_orders` (a registration works too)."""
    f = load_frames(frames)
    periods = [int(p) for p in periods]
    if f.shape[0] != len(periods) + 1:
        raise ValueError(f"need the flat reference frame plus one frame per period ({len(periods) + 1}), "
                         f"got {f.shape[0]}")
    check_finite(f, "crosstalk frames")
    h = int(half_width)
    for p, fr in zip([periods[0]] + periods, f):
        for r, c in np.rint(grating_orders(center, order_spacing, p)).astype(int):
            check_saturation(fr[max(r - h, 0):r + h + 1, max(c - h, 0):c + h + 1][None],
                             "crosstalk frames (order boxes)", min_pixels=1)
    check_signal(f, dark, "crosstalk frames", each=True)
    ref = box_sums(f[:1], grating_orders(center, order_spacing, periods[0])[:1], half_width, dark)[0, 0]
    if ref <= 0:
        raise FrameError("the flat reference frame has no power at the DC; check center and dark")
    eta0, eta1 = [], []
    for fr, p in zip(f[1:], periods):
        s = box_sums(fr, grating_orders(center, order_spacing, p), half_width, dark)[0]
        eta0.append(s[0] / ref)
        eta1.append(0.5 * (s[1] + s[2]) / ref)
    eta0, eta1 = np.array(eta0), np.array(eta1)
    total = eta0 + 2 * eta1
    if np.any(total > 1.15):
        raise FrameError(f"the gratings put {total.max():.3g} x the flat frame's power into their orders (at most 1 "
                         "is possible): the flat frame's DC is clipped, or the exposure or the source changed "
                         "between frames; record all frames with one exposure below saturation")
    return eta0, eta1


class CrosstalkCalibration(Calibration):
    """Fringing and fill factor: values ``fringing_sigma`` (m), ``fringing_sigma_px``, ``fill_factor``,
    ``step`` (rad, magnitude of the grating's phase step, <= pi), measured and fitted efficiencies."""

    kind: str = "crosstalk"
    bench_scope = ("slm.pitch", "slm.mode")  # what the calibration depends on: the panel type

    def apply_to_slm(self, slm):
        """The SLM with the measured fringing width and fill factor (what the simulator then renders)."""
        return slm.replace(fringing_sigma=float(self.values["fringing_sigma"]),
                           fill_factor=float(self.values["fill_factor"]))


def crosstalk_from_gratings(frames, periods, *, center, slm_pitch: float, order_spacing: float | None = None,
                            dark=0.0, half_width: int = 1, step_guess: float = np.pi, truth: dict | None = None,
                            bench: dict | None = None) -> CrosstalkCalibration:
    """Fit fringing width and fill factor to the order efficiencies of gratings of several periods.

    frames : flat frame then one frame per period (:func:`crosstalk_frames`); periods : even pixels.
    center : camera (row, col) of the DC, or a RegistrationCalibration (then no order_spacing needed);
    order_spacing : camera px per (cycle per SLM pixel).
    slm_pitch : m (converts sigma to metres). step_guess : starting phase step, rad.

    The fitted ``step`` is the magnitude |d| of the displayed step, assumed <= pi (d and -d give the
    same efficiencies): show a gray near the pi level of the LUT calibration.

    Dark, saturated (in the order boxes) or non-finite frames raise :class:`calib.checks.FrameError`;
    uncertainties come from the least-squares covariance (residual scatter).
    """
    from optics4f.validate import integer, physical

    periods = [integer(f"periods[{i}]", p, min=2) for i, p in enumerate(periods)]
    slm_pitch = physical("slm_pitch", slm_pitch, "pitch")
    if len(periods) < 2:
        raise ValueError("give at least two grating periods; fringing shows up only against the period")
    eta0, eta1 = measure_efficiencies(frames, periods, center=center, order_spacing=order_spacing, dark=dark,
                                      half_width=half_width)

    def model(q):
        return np.array([grating_efficiencies(p, q[2], q[0], q[1]) for p in periods]).T

    def residuals(q):
        m0, m1 = model(q)
        return np.concatenate([m0 - eta0, m1 - eta1])

    best = None
    for s0 in (0.1, 0.4):  # two starts: the fit is not convex in sigma
        d0 = float(np.clip(abs(np.angle(np.exp(1j * step_guess))), 0.05, np.pi - 1e-6))
        sol = optimize.least_squares(residuals, [s0, 0.95, d0], bounds=([0.0, 0.3, 0.0], [3.0, 1.0, np.pi]))
        if best is None or sol.cost < best.cost:
            best = sol
    sigma, fill, step = best.x
    m0, m1 = model(best.x)
    values = {"fringing_sigma": float(sigma * slm_pitch), "fringing_sigma_px": float(sigma),
              "fill_factor": float(fill), "step": float(step), "periods": np.array(periods, dtype=float),
              "eta0": eta0, "eta1": eta1, "eta0_fit": m0, "eta1_fit": m1,
              "rms_residual": float(np.sqrt(np.mean(best.fun**2)))}
    units = {"fringing_sigma": "m", "fringing_sigma_px": "px", "fill_factor": "1", "step": "rad",
             "periods": "px", "eta0": "1", "eta1": "1", "eta0_fit": "1", "eta1_fit": "1", "rms_residual": "1"}
    dof = best.fun.size - best.x.size
    cov = float(best.fun @ best.fun) / dof * np.linalg.pinv(best.jac.T @ best.jac) if dof > 0 else \
        np.full((3, 3), np.nan)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    unc = {"fringing_sigma_px": float(sd[0]), "fringing_sigma": float(sd[0] * slm_pitch), "fill_factor": float(sd[1]),
           "step": float(sd[2])}
    return CrosstalkCalibration(values=values, units=units, truth=truth, metadata={"method": "binary_gratings"},
                                uncertainty=unc, bench=dict(bench or {}))
