"""Differentiable device effects: the SLM and camera models of :mod:`optics4f.devices` under autograd.

Every forward is the devices' own pure function (NumPy/CuPy) on the tensor's
memory, so a trained mask meets exactly the quantisation, LUT, pixel
rendering, fringing and camera the NumPy simulation applies. Backward is
the exact adjoint for the linear steps (pixel rendering, fringing, pixel
integration), the exact derivative for the smooth ones (intensity, noise,
gain, gamma) and a surrogate where the device is piecewise constant:

* SLM quantisation (phase -> gray level -> displayed phase, with the LUT,
  flatness and wavelength scaling of :class:`~optics4f.devices.SLM`):
  ``surrogate='ste'`` passes the gradient straight through (d out / d in = 1);
  ``surrogate='soft'`` uses the derivative of a sigmoid staircase
  sum_k sigmoid((x - b_k) / T) at ``temperature`` T (gray levels), x the
  gray value and b_k the decision boundaries (k + 1/2 for rounding, k for
  floor). Large T tends to the straight-through gradient, small T to the
  true (zero almost everywhere) one; :func:`annealed_temperature` gives a
  geometric schedule between the two. The forward is always the hard
  quantisation the panel shows.
* ADC rounding: straight-through; clipping (full well, ADC range) has its
  true gradient, zero where clipped.
* Camera noise as a reparameterised sample: electrons
  e = m + sqrt(m + s_r^2) eps with eps ~ N(0, 1) from the camera's seeded
  generator, so de/dm = 1 + eps / (2 sqrt(m + s_r^2)). With
  ``noise_model='poisson'`` the forward draws the exact Poisson (+ Gaussian
  read noise) sample of the core and the backward uses the same formula with
  the implied eps = (e - m) / sqrt(m + s_r^2).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ..backend import get_xp
from ..validate import finite_array, physical
from ..devices import detector as _det
from ..devices import render as _render
from ..devices.detector import Camera
from ..devices.slm import SLM, fringing
from ..grid import Grid
from ..system.slm_sampler import SLMSampler
from ..typing import Pitch, Seed, Shape2
from ._convert import core_context, from_array, to_array

__all__ = [
    "quantize_phase",
    "annealed_temperature",
    "render_pixels",
    "fringe",
    "slm_transmission",
    "shown_values",
    "sample_slm",
    "intensity",
    "bin_pixels",
    "camera_electrons",
    "noisy_electrons",
    "digitize",
    "camera_detect",
]

SURROGATES = ("ste", "soft")


def _like(a, t: torch.Tensor) -> torch.Tensor:
    """Tensor of array ``a`` in the dtype of ``t``."""
    return from_array(a).to(t.dtype)


# -- SLM quantisation -------------------------------------------------------------------------------
def _gray_position(slm: SLM, phase, wavelength):
    """Fractional gray value x (levels) at which the panel shows ``phase`` (rad), before rounding."""
    xp = get_xp(phase)
    if slm.flatness is not None:
        phase = phase + xp.asarray(slm.flatness)
    scale = slm.wavelength_scale(wavelength)
    t = np.asarray(slm.phase_lut(), dtype=np.float64) * scale  # rad at the working wavelength
    s = 1.0 if t[-1] > t[0] else -1.0
    ts = s * t
    y = ts[0] + xp.mod(s * phase - ts[0], 2 * np.pi)
    if xp is np:
        return np.interp(y, ts, np.arange(t.size, dtype=np.float64))
    return xp.interp(y, xp.asarray(ts), xp.arange(t.size, dtype=np.float64))  # pragma: no cover - GPU


def _soft_staircase_slope(x, boundary_offset: float, temperature: float, xp):
    """d/dx sum_k sigmoid((x - k - offset) / T) over the boundaries within 20 T of x (tail < 1e-8)."""
    d = x - boundary_offset - xp.floor(x - boundary_offset)  # distance above the boundary below, in [0, 1)
    reach = int(math.ceil(20 * temperature)) + 1
    out = xp.zeros_like(x)
    for j in range(-reach, reach + 1):
        z = (d - j) / temperature
        sg = 1.0 / (1.0 + xp.exp(-z))
        out += sg * (1.0 - sg) / temperature
    return out


class _QuantizePhase(torch.autograd.Function):
    @staticmethod
    def forward(ctx, phase, slm, wavelength, surrogate, temperature):
        with core_context(phase):
            pa = to_array(phase)
            shown = slm.gray_to_phase(slm.phase_to_gray(pa, wavelength), wavelength)
            slope = None
            if surrogate == "soft":
                x = _gray_position(slm, pa.astype(np.float64), wavelength)
                offset = 0.5 if slm.quantization == "round" else 0.0
                slope = from_array(_soft_staircase_slope(x, offset, float(temperature), get_xp(x)))
        ctx.slope = slope
        return _like(shown, phase)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        if ctx.slope is None:
            return g, None, None, None, None
        return g * ctx.slope.to(g.dtype), None, None, None, None


def quantize_phase(phase: torch.Tensor, slm: SLM, wavelength: float | None = None, surrogate: str = "ste",
                   temperature: float = 0.5) -> torch.Tensor:
    """Phase (rad) the panel shows for a wanted ``phase`` (rad), (..., *slm.resolution).

    Forward: ``slm.gray_to_phase(slm.phase_to_gray(phase))`` (flatness
    correction, wrapping, linear law or inverse LUT, bit depth, wavelength
    scaling). Backward: see the module docstring (``surrogate`` 'ste' or
    'soft', ``temperature`` in gray levels for 'soft').
    """
    if not isinstance(slm, SLM):
        raise TypeError(f"slm must be an optics4f.devices.SLM, got {type(slm).__name__}")
    if slm.mode != "phase":
        raise ValueError(f"quantize_phase needs an SLM in mode 'phase', {slm.name!r} is in mode {slm.mode!r}")
    finite_array("phase", phase)
    if wavelength is not None:
        physical("wavelength", wavelength)
    if surrogate not in SURROGATES:
        raise ValueError(f"surrogate must be one of {SURROGATES}, got {surrogate!r}")
    if surrogate == "soft" and not (0 < float(temperature) <= 10):
        raise ValueError(f"temperature must be in (0, 10] gray levels, got {temperature!r}; "
                         "use surrogate='ste' for the straight-through limit")
    if phase.is_complex():
        raise TypeError("phase must be real (radians)")
    return _QuantizePhase.apply(phase, slm, wavelength, surrogate, temperature)


def annealed_temperature(step: int, total_steps: int, start: float = 2.0, end: float = 0.05) -> float:
    """Geometric schedule from ``start`` to ``end`` (gray levels) over ``total_steps`` for ``surrogate='soft'``."""
    if total_steps < 1 or not (start > 0 and end > 0):
        raise ValueError("total_steps must be >= 1 and start, end > 0")
    frac = min(max(step / total_steps, 0.0), 1.0)
    return float(start * (end / start) ** frac)


# -- linear steps with core forward and adjoint ------------------------------------------------------
class _CoreLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, fwd, adj):
        ctx.adj = adj
        with core_context(x):
            return from_array(fwd(to_array(x)))

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        with core_context(g):
            return from_array(ctx.adj(to_array(g.contiguous()))), None, None


def render_pixels(values: torch.Tensor, factor: float | tuple[float, float], out_shape: Shape2,
                  fill_factor: float = 1.0) -> torch.Tensor:
    """Differentiable :func:`optics4f.devices.render.render_pixels` (backward: its exact adjoint)."""
    panel = tuple(values.shape[-2:])
    return _CoreLinear.apply(
        values,
        lambda a: _render.render_pixels(a, factor, out_shape, fill_factor),
        lambda g: _render.render_pixels_adjoint(g, factor, panel, fill_factor),
    )


def _smooth_adjoint(g, sigma, mode: str = "nearest", truncate: float = 4.0):
    """Adjoint of :func:`optics4f.devices.render.smooth` for ``mode='nearest'`` (edge replication)."""
    if mode != "nearest":
        raise ValueError(f"the fringing adjoint is implemented for mode 'nearest', got {mode!r}")
    xp = get_xp(g)
    if xp is np:
        from scipy import ndimage
    else:  # pragma: no cover - needs a GPU
        from cupyx.scipy import ndimage  # type: ignore
    sy, sx = (float(s) for s in np.broadcast_to(np.asarray(sigma, dtype=np.float64), (2,)))
    out = g
    for s, axis in ((sx, -1), (sy, -2)):  # reverse order of the forward (the axes commute anyway)
        if s <= 0:
            continue
        w = _render.gaussian_kernel1d(s, truncate)
        r = (w.size - 1) // 2
        ax = out.ndim + axis
        widths = [(0, 0)] * out.ndim
        widths[ax] = (r, r)
        # Forward: y_i = sum_m w[m + r] x[clip(i + m)]. Scatter g over the replicated border, then fold it.
        wr = xp.asarray(np.ascontiguousarray(w[::-1], dtype=out.dtype))
        z = ndimage.correlate1d(xp.pad(out, widths), wr, axis=ax, mode="constant")
        z = xp.moveaxis(z, ax, -1)
        n = z.shape[-1] - 2 * r
        core = z[..., r:r + n].copy()
        core[..., 0] += z[..., :r].sum(axis=-1)
        core[..., -1] += z[..., r + n:].sum(axis=-1)
        out = xp.moveaxis(core, -1, ax)
    return xp.ascontiguousarray(out)


def fringe(phase: torch.Tensor, sigma_px: float | tuple[float, float]) -> torch.Tensor:
    """Differentiable fringing (:func:`optics4f.devices.slm.fringing`): Gaussian smoothing of a
    real map (rad) with ``sigma_px`` = (sy, sx) in samples, edge values continued."""
    if phase.is_complex():
        raise TypeError("fringe smooths a real phase map; smooth real and imaginary parts separately")
    return _CoreLinear.apply(phase, lambda a: fringing(a, sigma_px), lambda g: _smooth_adjoint(g, sigma_px))


def shown_values(values: torch.Tensor, slm: SLM, wavelength: float | None = None, quantize: bool = True,
                 surrogate: str = "ste", temperature: float = 0.5,
                 dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """What the panel's pixels show for ``values`` (:meth:`optics4f.devices.SLM.shown` of the frame
    that shows them): for a phase panel the displayed phase (rad, the real dtype of ``dtype``),
    quantised with a surrogate gradient (or the ideal continuous phase plus the flatness correction
    with ``quantize=False``); for a 'complex' panel the complex values in ``dtype``."""
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    if slm.mode == "phase":
        if values.is_complex():
            raise TypeError("a phase SLM takes real phases (rad)")
        phi = quantize_phase(values, slm, wavelength, surrogate, temperature) if quantize else values
        if slm.flatness is not None and not quantize:
            phi = phi + torch.as_tensor(slm.flatness, dtype=phi.dtype, device=phi.device)
        return phi.to(real)
    if slm.mode == "complex":
        return values.to(dtype)
    raise ValueError(f"the torch bridge supports SLM modes 'phase' and 'complex', got {slm.mode!r}")


def slm_transmission(values: torch.Tensor, slm: SLM, grid: Grid, wavelength: float | None = None,
                     quantize: bool = True, surrogate: str = "ste", temperature: float = 0.5,
                     dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """Differentiable :meth:`optics4f.devices.SLM.transmission` of the panel showing ``values``.

    Parameters
    ----------
    values : Tensor (..., *slm.resolution)
        Wanted phase (rad, real) for a phase panel; complex pixel values for a
        'complex' panel.
    slm : SLM
    grid : optics4f.Grid
        Simulation grid of the Fourier plane (any pitch: pixels are drawn by area weights).
    wavelength : float, optional
        Working wavelength, m (matters with a design wavelength).
    quantize : bool
        Phase panels: show the quantised phase (the panel's bit depth, LUT,
        flatness; surrogate gradient). False: the ideal continuous phase.
    dtype : torch complex dtype of the result.

    Returns
    -------
    Tensor (..., My, Mx): the formula of :meth:`SLM.transmission` (fill factor, dead zone,
    fringing), the same function (:func:`optics4f.devices.slm_transmission.pixel_transmission`)
    run with the bridge's operations.
    """
    from ..devices.slm_transmission import pixel_transmission
    from .ops import TORCH_OPS

    shown = shown_values(values, slm, wavelength, quantize, surrogate, temperature, dtype)
    return pixel_transmission(TORCH_OPS, slm, grid, shown, dtype)


class _Sample(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mask, sampler):
        ctx.sampler, ctx.dtype = sampler, mask.dtype
        with core_context(mask):
            return from_array(sampler.apply(to_array(mask)))

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        with core_context(g):
            gm = from_array(ctx.sampler.adjoint(to_array(g.contiguous())))
        return gm.to(ctx.dtype), None


def sample_slm(mask: torch.Tensor, sampler: SLMSampler) -> torch.Tensor:
    """Differentiable :meth:`optics4f.system.slm_sampler.SLMSampler.apply`: a Fourier mask (..., My, Mx)
    at the SLM pixel centres (complex128); backward: its exact adjoint."""
    if not mask.is_complex():
        raise TypeError("sample_slm takes a complex Fourier mask")
    return _Sample.apply(mask, sampler)


# -- camera -------------------------------------------------------------------------------------------
class _Intensity(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        with core_context(v):
            return from_array(_det.intensity(to_array(v)))

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        return 2 * g * v  # dI/d(conj v) = v, times 2 in PyTorch's convention; real v: 2 v


def intensity(v: torch.Tensor) -> torch.Tensor:
    """|v|^2 (W/m^2 for v in sqrt(W)/m), :func:`optics4f.devices.detector.intensity`."""
    return _Intensity.apply(v)


def bin_pixels(irradiance: torch.Tensor, sample_pitch: Pitch, camera_shape: Shape2, k: float | tuple[float, float],
               fill_factor: float = 1.0) -> torch.Tensor:
    """Power per camera pixel (W), :func:`optics4f.devices.detector.bin_pixels`; backward: its adjoint
    (the render of the pixel gradient times the sample area)."""
    dy, dx = np.broadcast_to(np.asarray(sample_pitch, dtype=np.float64), (2,))
    plane = tuple(irradiance.shape[-2:])

    def adj(g):
        area = g.dtype.type(dy * dx)
        if np.all(np.asarray(k) == 1) and fill_factor == 1 and plane == tuple(camera_shape):
            return g * area
        return _render.render_pixels(g, k, plane, float(np.sqrt(fill_factor))) * area

    return _CoreLinear.apply(irradiance, lambda a: _det.bin_pixels(a, (dy, dx), camera_shape, k, fill_factor), adj)


def camera_electrons(v: torch.Tensor, camera: Camera, sample_pitch: Pitch, wavelength: float) -> torch.Tensor:
    """Expected electrons per pixel (..., *camera.shape) of the field ``v`` (the camera's mean signal)."""
    dy, dx = np.broadcast_to(np.asarray(sample_pitch, dtype=np.float64), (2,))
    power = bin_pixels(intensity(v), (dy, dx), camera.shape, camera.samples_per_pixel((dy, dx)), camera.fill_factor)
    return _det.mean_electrons(power, wavelength, camera.exposure_time, camera.quantum_efficiency,
                               camera.dark_current)


class _NoisyElectrons(torch.autograd.Function):
    @staticmethod
    def forward(ctx, mean, read_noise, model, rng):
        with core_context(mean):
            m = to_array(mean)
            xp = get_xp(m)
            if model == "gaussian":
                eps = _det.standard_normal(m.shape, rng, m.dtype)
                e = _det.gaussian_noise_reparam(m, read_noise, eps)
            else:
                e = _det.poisson_sample(m, rng)
                if read_noise:
                    e = e + _det.standard_normal(m.shape, rng, m.dtype) * m.dtype.type(read_noise)
            sd = xp.sqrt(xp.maximum(m, 0) + m.dtype.type(read_noise) ** 2)
            safe = xp.where(sd > 0, sd, 1)
            eps_eff = (e - m) / safe
            slope = xp.where((m > 0) & (sd > 0), 1 + eps_eff / (2 * safe), 1)
            ctx.slope = from_array(slope)
        return from_array(e)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        return g * ctx.slope, None, None, None


def noisy_electrons(mean: torch.Tensor, camera: Camera, rng: Any) -> torch.Tensor:
    """Electrons with shot and read noise as a reparameterised sample (see the module docstring).

    ``rng``: a generator from :func:`optics4f.devices.detector.make_rng` (seeded for reproducibility).
    """
    return _NoisyElectrons.apply(mean, float(camera.read_noise), camera.noise_model, rng)


class _Digitize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, e, camera):
        with core_context(e):
            ea = to_array(e)
            counts = camera.digitize(ea)
            ctx.slope = from_array(_digitize_slope(ea, camera))
        return from_array(counts)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        return g * ctx.slope, None


def _digitize_slope(e, camera):
    """d counts / d electrons of the unrounded response (0 where saturated or clipped)."""
    xp = get_xp(e)
    t = e.dtype.type
    gain, gamma, full = camera.adu_per_electron, camera.gamma, camera.full_scale
    s = xp.minimum(e, t(camera.full_well)) * t(gain)
    slope = xp.where(e < camera.full_well, t(gain), t(0))
    if full is None:  # analogue: max(s, 0)^gamma + offset
        if gamma != 1:
            pos = s > 0
            slope = slope * xp.where(pos, t(gamma) * xp.where(pos, s, t(1)) ** t(gamma - 1), t(0))
        return slope
    if gamma != 1:
        inside = (s > 0) & (s < full)
        sc = xp.where(inside, s / t(full), t(1))
        slope = slope * xp.where(inside, t(gamma) * sc ** t(gamma - 1), t(0))
        level = t(full) * (xp.clip(s, 0, full) / t(full)) ** t(gamma)
    else:
        level = s
    out = level + t(camera.offset)
    return xp.where((out >= 0) & (out <= full), slope, t(0)).astype(e.dtype)


def digitize(electrons: torch.Tensor, camera: Camera) -> torch.Tensor:
    """Counts (ADU) from electrons: :meth:`Camera.digitize` (full well, gain, gamma, offset, ADC).
    Backward: the slope of the unrounded response (straight through the rounding), 0 where clipped."""
    return _Digitize.apply(electrons, camera)


def camera_detect(v: torch.Tensor, camera: Camera, sample_pitch: Pitch, wavelength: float, rng: Seed = None,
                  noise: bool | None = None) -> torch.Tensor:
    """Differentiable camera frame (ADU, (..., *camera.shape)) of the output field ``v`` (sqrt(W)/m).

    The chain of :meth:`optics4f.devices.detector.Camera.detect`: intensity,
    pixel integration, electrons, noise (``noise`` overrides ``camera.noise``;
    ``rng`` a seeded generator or a seed), saturation and ADC.
    """
    mean = camera_electrons(v, camera, sample_pitch, wavelength)
    use_noise = camera.noise if noise is None else bool(noise)
    if use_noise:
        with core_context(mean):
            rng = _det.make_rng(rng, like=to_array(mean))
        mean = noisy_electrons(mean, camera, rng)
    return digitize(mean, camera)
