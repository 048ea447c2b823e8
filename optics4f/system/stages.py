"""The hardware 4f pass as a sequence of stages, written once for every array backend.

:class:`~optics4f.system.hardware4f.Hardware4f` (NumPy/CuPy) and
:class:`optics4f.torch.Hardware4fConv` (autograd) run these same stage objects;
each stage is a formula over an *ops* object (:mod:`optics4f.ops`: NumPy/CuPy,
or ``optics4f.torch.ops``: the bridge's autograd Functions), so a physics change
is made once (docs/architecture.md, "One hardware pipeline")::

    images --DisplayStage--> u_i                             (per input channel i; core, no gradient)
    masks --ChannelMasks--> H_i = sum_o ramp_o H_oi          (the layout's tiles, complex panels)
          --SLMSampler--> pixel values                       (at the SLM pixel centres, any pitch ratio)
    shown --FourierTransmission--> t_i = pixel_transmission(shown) (x warp) x Fourier-plane factors
    u_i, t_i --OpticalPass--> v_i = R_out * 4f(R_in * u_i; t_i) (then the explicit camera propagation)
    v_i --CameraStage--> frame_i (ADU)                        (intensity, pixels, noise, ADC)
    sum_i frame_i --TileStage--> (..., Cout, th, tw)          (time multiplexing; tile read-out)

Every stage holds constants (factors, devices, geometry) on the backend it is
built for; building one is cheap, so front ends build them per call from their
own buffers (the torch layer's buffers follow ``module.to(device)``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import Any

from ..backend import get_xp
from ..devices.slm_transmission import pixel_transmission
from ..typing import Array, Ops, Seed

__all__ = ["DisplayStage", "ChannelMasks", "FourierTransmission", "OpticalPass",
           "CameraStage", "TileStage", "HardwarePipeline"]


@dataclass
class DisplayStage:
    """Images -> the field just after the input display, times the illumination amplitude (sqrt(W)/m).

    Core arrays only: images are data, with no gradient (the torch layer calls it on the tensor's
    memory). ``images`` (..., h, w): floats in [0, 1] or gray levels; smaller than the display they
    are centred on it (:meth:`optics4f.devices.display.InputDisplay.embed`).
    """

    display: Any
    grid: Any
    illumination: float
    dtype: Any

    def __call__(self, images: Array) -> Array:
        xp = get_xp(images)
        images = xp.asarray(images)
        if tuple(images.shape[-2:]) != self.display.resolution:
            images = self.display.embed(images)
        u = self.display.field(images, self.grid, dtype=self.dtype)
        return u * self.dtype.type(self.illumination)


@dataclass
class ChannelMasks:
    """Per-(output, input) channel Fourier masks (Cout, Cin, My, Mx) -> one mask per input channel
    (Cin, My, Mx): sum_o ramps[o] * masks[o, i], the layout's phase ramps moving output channel o to
    its camera tile (:mod:`optics4f.system.layout`). ``ramps`` None: a single output channel."""

    ramps: Any = None

    def __call__(self, ops: Ops, masks: Array) -> Array:
        if self.ramps is None:
            return masks[0]
        return ops.combine(masks, self.ramps)


@dataclass
class FourierTransmission:
    """What the SLM shows -> its transmission on the Fourier grid, times the Fourier-plane factors.

    ``shown`` (..., *slm.resolution): the phase (rad) of a phase panel, the complex value of
    other panels (:meth:`optics4f.devices.SLM.shown`). The pixels are drawn by
    :func:`~optics4f.devices.slm_transmission.pixel_transmission` (fill factor, dead zone,
    fringing, any pitch ratio); ``warp`` (NumPy/CuPy only) resamples the result (SLM rotation,
    another wavelength's Fourier scale); ``factor`` is the lab-fixed Fourier-plane factor
    (SLM tilt, camera defocus, iris, Lee carrier) or None.
    """

    slm: Any
    grid: Any
    dtype: Any
    factor: Any = None
    warp: Callable | None = None

    def __call__(self, ops: Ops, shown: Array) -> Array:
        t = pixel_transmission(ops, self.slm, self.grid, shown, self.dtype)
        if self.warp is not None:
            t = self.warp(t)
        return t if self.factor is None else ops.multiply_(t, ops.constant(self.factor, t))


@dataclass
class OpticalPass:
    """Input field -> output field: misalignment input factor, 4f pass through a Fourier-plane
    transmission, output factor, and the explicit camera propagation (camera and Fourier defocus
    together), each optional (None). See :mod:`optics4f.system.misalignment`."""

    fourf: Any
    f_in: Any = None
    f_out: Any = None
    propagator: Any = None

    def __call__(self, ops: Ops, u: Array, handle: Any) -> Array:
        """``u`` (B, ny, nx); ``handle``: a transmission or ``ops.prepare_pass`` of one."""
        if self.f_in is not None:
            u = u * ops.constant(self.f_in, u)  # not in place: u is the caller's
        v = ops.four_f(u, handle, self.fourf)
        if self.f_out is not None:
            v = ops.multiply_(v, ops.constant(self.f_out, v))
        if self.propagator is not None:
            v = ops.apply_operator(self.propagator, v)
        return v


@dataclass
class CameraStage:
    """Output field -> camera frame (ADU): :meth:`optics4f.devices.detector.Camera.detect` (intensity,
    pixel integration at any pitch ratio, electrons, noise, saturation, ADC). ``noise`` overrides
    ``camera.noise`` (None: keep it)."""

    camera: Any
    sample_pitch: Any
    wavelength: float
    noise: bool | None = None

    def __post_init__(self):
        if self.noise is not None and bool(self.noise) != self.camera.noise:
            self.camera = dataclasses.replace(self.camera, noise=bool(self.noise))

    def __call__(self, ops: Ops, v: Array, rng: Seed) -> Array:
        return ops.detect(v, self.camera, self.sample_pitch, self.wavelength, rng, None)


@dataclass
class TileStage:
    """Camera frame -> the layout's tiles (..., Cout, th/k, tw/k); no layout: the frame itself."""

    layout: Any = None
    camera_factor: Any = 1

    def __call__(self, ops: Ops, frame: Array) -> Array:
        return frame if self.layout is None else ops.read_tiles(frame, self.layout, self.camera_factor)


@dataclass
class HardwarePipeline:
    """The stages after the Fourier transmission: one optical pass and one exposure per input channel,
    frames summed electronically (time multiplexing), then the tiles."""

    optical: OpticalPass
    camera: CameraStage
    tiles: TileStage

    def run(self, ops: Ops, field: Callable, handles: Sequence, rng: Seed) -> Array:
        """Tiles of the summed frames; ``field(i)`` gives input channel i's field (B, ny, nx),
        ``handles[i]`` its Fourier-plane transmission (or a prepared pass)."""
        total = None
        for i, h in enumerate(handles):
            total = ops.accumulate_(total, self.camera(ops, self.optical(ops, field(i), h), rng))
        return self.tiles(ops, total)
