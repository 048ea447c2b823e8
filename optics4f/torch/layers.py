"""nn.Module layers built on the optics4f core.

:class:`SpectralConv4f`
    Ideal 4f spectral convolution with learnable Fourier-plane masks
    (complex, or phase-only parameterised by the phase in rad).
:class:`Hardware4fConv`
    The hardware 4f system of a :class:`~optics4f.system.SystemConfig`
    (display, pixelated SLM with bit depth/LUT/fill factor/fringing,
    misalignments, camera with noise) with a learnable SLM, output channels
    tiled on the camera.

Layer semantics (shared with the nets package): input (B, Cin, H, W), real
or complex field amplitudes on the display grid; output (B, Cout, H, W) with
``out[b, o] = sum_i 4f(u[b, i], mask[o, i])``. Each (o, i) pair is one
optical pass (a *convolution*, and the 4f image is inverted and scaled by
-(f1/f2), see :class:`optics4f.FourF`); the sum over input channels is done
electronically (time multiplexing of the input channels). ``detect='field'``
(default) returns the complex field; ``detect='intensity'`` returns |v|^2
of the summed field (per-pass intensity detection is what
``Hardware4fConv`` models).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..fourf import FourF
from ..kernels import kernel_to_mask
from ..system.config import SystemConfig
from ..system.hardware4f import Hardware4f
from ..system.stages import CameraStage, ChannelMasks, FourierTransmission, HardwarePipeline, OpticalPass, TileStage
from ..typing import ArrayLike, DTypeLike, Pitch, Seed, Shape2
from ..validate import check_memory, finite_array, integer, shape2
from ._convert import core_context, from_array, numpy_dtype, to_array
from .devices import shown_values
from .functions import phase_mask, spectral_conv
from .ops import TORCH_OPS

__all__ = ["SpectralConv4f", "Hardware4fConv", "random_kernel_masks"]

_MASK_KINDS = ("complex", "phase")
_DETECT = ("field", "intensity")


def _check_choice(value, choices, name):
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def random_kernel_masks(out_channels: int, in_channels: int, kernel_size: int | Shape2, padded_shape: Shape2,
                        dtype: DTypeLike = np.complex64) -> torch.Tensor:
    """Masks (Cout, Cin, My, Mx) of random compact kernels (kaiming-uniform, like ``nn.Conv2d``).

    Drawn with torch's generator (``torch.manual_seed`` makes them
    reproducible) and converted with the core's :func:`optics4f.kernel_to_mask`.
    """
    bound = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
    k = (torch.rand(out_channels, in_channels, kernel_size, kernel_size, dtype=torch.float64) * 2 - 1) * bound
    return torch.from_numpy(kernel_to_mask(k.numpy(), padded_shape).astype(dtype))


class SpectralConv4f(nn.Module):
    """Ideal 4f convolution layer with learnable Fourier-plane masks.

    Parameters
    ----------
    in_channels, out_channels : int
    shape : (H, W)
        Input field shape in pixels (the display).
    pitch : float
        Input pixel pitch, metres.
    wavelength : float
        Metres.
    f1, f2 : float
        Focal lengths, metres (f2 defaults to f1).
    pad : float
        Zero-padding factor of the 4f grid (>= 1); masks have shape
        ``padded_shape`` = about pad*(H, W). pad >= 1 + kernel/H gives a
        linear (non-circular) convolution.
    mask : {'complex', 'phase'}
        Parameterisation: ``mask`` (complex parameter) or ``phase`` (real
        parameter, rad; the mask is exp(i phase)).
    detect : {'field', 'intensity'}
        Return the complex output field or its intensity |v|^2.
    kernel_size : int
        Size of the random compact kernels the masks are initialised from
        (phase-only masks take the phase of those masks).
    dtype : torch.complex64 or torch.complex128
        Precision of the masks and of the core pass.
    """

    def __init__(self, in_channels: int, out_channels: int, shape: Shape2, pitch: Pitch, wavelength: float, f1: float,
                 f2: float | None = None, pad: float = 2.0, mask: str = "complex", detect: str = "field",
                 kernel_size: int | Shape2 = 5, dtype: torch.dtype = torch.complex64) -> None:
        super().__init__()
        _check_choice(mask, _MASK_KINDS, "mask")
        _check_choice(detect, _DETECT, "detect")
        if dtype not in (torch.complex64, torch.complex128):
            raise TypeError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
        for v, name in ((in_channels, "in_channels"), (out_channels, "out_channels"), (kernel_size, "kernel_size")):
            if int(v) != v or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.mask_kind, self.detect = mask, detect
        self.geometry = dict(shape=shape2("shape", shape), pitch=pitch, wavelength=float(wavelength),
                             f1=float(f1), f2=None if f2 is None else float(f2), pad=float(pad))
        self._ops = {}
        op = self.operator(numpy_dtype(dtype))
        self.padded_shape = op.padded_shape
        # the masks, their gradient and two optimiser moments
        check_memory(4 * self.in_channels * self.out_channels * np.prod(self.padded_shape, dtype=float)
                     * torch.empty((), dtype=dtype).element_size(),
                     f"{self.out_channels} x {self.in_channels} Fourier masks of {self.padded_shape} samples",
                     "use fewer channels or a smaller pad")
        if kernel_size > min(self.padded_shape):
            raise ValueError(f"kernel_size {kernel_size} does not fit the Fourier grid {self.padded_shape}")
        init = random_kernel_masks(self.out_channels, self.in_channels, kernel_size, self.padded_shape,
                                   numpy_dtype(dtype))
        if mask == "complex":
            self.mask = nn.Parameter(init)
        else:
            self.phase = nn.Parameter(torch.angle(init))

    # -- geometry -----------------------------------------------------------------------------
    def operator(self, dtype: DTypeLike) -> FourF:
        """The core :class:`~optics4f.FourF` of this layer for a complex NumPy ``dtype`` (cached)."""
        key = np.dtype(dtype).str
        op = self._ops.get(key)
        if op is None:
            g = self.geometry
            op = FourF(g["shape"], g["pitch"], g["wavelength"], g["f1"], g["f2"], pad=g["pad"], dtype=dtype)
            self._ops[key] = op
        return op

    def masks(self) -> torch.Tensor:
        """Complex Fourier-plane masks (Cout, Cin, My, Mx), centred order, differentiable."""
        return self.mask if self.mask_kind == "complex" else phase_mask(self.phase)

    @torch.no_grad()
    def set_kernels(self, kernels: torch.Tensor | ArrayLike, correlate: bool = False) -> SpectralConv4f:
        """Set the masks from spatial kernels (Cout, Cin, kh, kw) on the padded input grid.

        ``correlate=True`` takes ``nn.Conv2d`` weights (cross-correlation);
        phase-only layers keep the phase of the resulting masks.
        """
        k = finite_array("kernels", torch.as_tensor(kernels).detach().cpu())
        if k.dim() != 4 or tuple(k.shape[:2]) != (self.out_channels, self.in_channels):
            raise ValueError(f"kernels must have shape ({self.out_channels}, {self.in_channels}, kh, kw), "
                             f"got {tuple(k.shape)}")
        param = self.mask if self.mask_kind == "complex" else self.phase
        m = torch.from_numpy(np.ascontiguousarray(kernel_to_mask(k.numpy(), self.padded_shape, correlate)))
        if self.mask_kind == "complex":
            param.copy_(m.to(param.dtype))
        else:
            param.copy_(torch.angle(m).to(param.dtype))
        return self

    def extra_repr(self) -> str:
        g = self.geometry
        return (f"{self.in_channels}, {self.out_channels}, shape={g['shape']}, pad={g['pad']}, "
                f"mask={self.mask_kind!r}, detect={self.detect!r}, fourier_shape={self.padded_shape}")

    # -- forward ------------------------------------------------------------------------------
    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Output (B, Cout, H, W): complex field, or intensity for ``detect='intensity'``."""
        if u.dim() != 4 or u.shape[1] != self.in_channels or tuple(u.shape[-2:]) != self.geometry["shape"]:
            raise ValueError(f"input must have shape (B, {self.in_channels}, {self.geometry['shape'][0]}, "
                             f"{self.geometry['shape'][1]}), got {tuple(u.shape)}")
        m = self.masks()
        v = spectral_conv(u, m, self.operator(numpy_dtype(m.dtype)))
        if self.detect == "intensity":
            return v.real.square() + v.imag.square()
        return v


class Hardware4fConv(nn.Module):
    """Hardware 4f convolution layer: images -> display -> 4f with a learnable SLM -> camera tiles.

    The forward runs the stages of :meth:`optics4f.system.Hardware4f.forward`
    themselves (:mod:`optics4f.system.stages`, docs/architecture.md "One
    hardware pipeline") with the bridge's autograd operations
    (:mod:`optics4f.torch.ops`): the display field of the images
    (:meth:`Hardware4f.input_field`, no gradient: the images are data), the
    misalignment factors, the SLM transmission on the Fourier grid
    (quantisation with a surrogate gradient, LUT, then the core's pixel
    formula: fill factor, dead zone, fringing, any SLM/Fourier pitch ratio),
    the 4f pass (:func:`optics4f.torch.spectral_conv`, one input channel at a
    time), the camera (:func:`optics4f.torch.devices.camera_detect`:
    intensity, pixel integration, reparameterised noise, saturation, ADC) and
    the tiles of the layout. Input channels are time-multiplexed: one pass
    and one exposure each, frames summed electronically.

    Parameterisation (what is learned is what the panel can show):

    * SLM mode ``'phase'``: ``phase`` (Cin, *slm.resolution), rad, the phase
      each input channel's frame shows; the output channels are the camera
      tiles of the layout, which the phase pattern must steer light into.
    * SLM mode ``'complex'`` (an ideal complex modulator): ``mask``
      (Cout, Cin, My, Mx), the wanted per-channel Fourier masks (centred, on
      the Fourier grid) combined with the layout's phase ramps and sampled at
      the SLM pixel centres by :class:`~optics4f.system.slm_sampler.SLMSampler`
      (any pitch ratio; backward: its exact adjoint), as :meth:`Hardware4f.set_masks` does.

    :meth:`set_masks` initialises either from wanted complex masks through
    the configuration's encoding (e.g. double phase on a phase panel).

    Parameters
    ----------
    config : SystemConfig
    in_channels : int
    quantize : bool
        Show quantised phases (phase panels); False: ideal continuous phase.
    surrogate, temperature :
        Gradient of the quantisation (see :mod:`optics4f.torch.devices`).
    noise : bool or None
        Camera noise (None: ``config.camera.noise``), as a reparameterised sample.
    seed : int or None
        Seed of the camera noise generator (None: ``config.seed``).
    dtype : torch.complex64 or torch.complex128
    kernel_size : int or None
        Initialise the SLM from random compact kernels of this size (one per
        (output, input) channel pair, through :meth:`set_masks`; drawn with
        torch's generator); None: a flat SLM (phase 0 / mask 0).

    Not supported in the differentiable path (clear errors): SLM rotation,
    holographic/pseudo-negative detection, binary and amplitude panels.
    """

    def __init__(self, config: SystemConfig, in_channels: int = 1, quantize: bool = True, surrogate: str = "ste",
                 temperature: float = 0.5, noise: bool | None = None, seed: Seed = None,
                 dtype: torch.dtype = torch.complex64, kernel_size: int | Shape2 = 5, strict: bool = False) -> None:
        super().__init__()
        if not isinstance(config, SystemConfig):
            raise TypeError(f"config must be an optics4f.system.SystemConfig, got {type(config).__name__}")
        if dtype not in (torch.complex64, torch.complex128):
            raise TypeError(f"dtype must be torch.complex64 or torch.complex128, got {dtype}")
        in_channels = integer("in_channels", in_channels, min=1)
        self.hw = hw = Hardware4f(config, strict=strict, dtype=numpy_dtype(dtype))
        slm = config.slm
        if slm.mode not in ("phase", "complex"):
            raise ValueError(f"Hardware4fConv learns phase or complex SLMs; this SLM is in mode {slm.mode!r}")
        if config.misalignment.slm_rotation:
            raise NotImplementedError("SLM rotation is not differentiable in the bridge yet; set "
                                      "misalignment.slm_rotation=0 (or train aligned and evaluate with Hardware4f)")
        if config.detection != "intensity":
            raise NotImplementedError(f"detection {config.detection!r} is not differentiable in the bridge; "
                                      "use detection='intensity'")
        self.config = config
        self.in_channels = int(in_channels)
        self.out_channels = 1 if config.layout is None else config.layout.n_channels
        self.quantize, self.surrogate, self.temperature = bool(quantize), surrogate, float(temperature)
        self.noise = noise
        self.rng = np.random.default_rng(config.seed if seed is None else seed)
        self._dtype = dtype
        real = torch.float64 if dtype == torch.complex128 else torch.float32
        if slm.mode == "phase":
            self.phase = nn.Parameter(torch.zeros((self.in_channels,) + tuple(slm.resolution), dtype=real))
        else:
            self.mask = nn.Parameter(torch.zeros((self.out_channels, self.in_channels) + hw.geometry.padded_shape,
                                                 dtype=dtype))
        self._build_constants()
        if kernel_size is not None:
            self.set_masks(random_kernel_masks(self.out_channels, self.in_channels, int(kernel_size),
                                               hw.geometry.padded_shape, np.complex128))

    # -- fixed geometry ---------------------------------------------------------------------------
    def _build_constants(self):
        """Constants of the stages as buffers (they follow ``.to(device)``): layout ramps, factors."""
        hw, g = self.hw, self.hw.geometry
        cam = self.config.camera.shape
        if self.config.layout is not None:
            tiles = self.config.layout.read_tiles(np.zeros(cam, dtype=np.int8), g.camera_factor)
            self.tile_shape = tuple(tiles.shape[-2:])
        else:
            self.tile_shape = tuple(cam)
        ramps = None
        if self.config.layout is not None:
            ramps = self.config.layout.ramps(hw.fourier_grid, self.config.wavelength, self.config.f2,
                                             hw.out_grid.pitch)
            ramps = torch.from_numpy(ramps.astype(numpy_dtype(self._dtype)))
        self.register_buffer("_ramps", ramps, persistent=False)
        f_in, f_out = hw.phase_factors()
        f_fou = hw.fourier_factor(np.empty(0))  # SLM tilt, camera defocus, iris, Lee carrier
        for name, f in (("_f_in", f_in), ("_f_out", f_out), ("_f_fourier", f_fou)):
            self.register_buffer(name, None if f is None else torch.from_numpy(np.array(f)), persistent=False)

    @torch.no_grad()
    def set_masks(self, masks: torch.Tensor | ArrayLike) -> Hardware4fConv:
        """Initialise the SLM from wanted complex masks (Cout, Cin, My, Mx) (centred, Fourier grid).

        Phase panels: the phase the configuration's encoding shows
        (:meth:`Hardware4f.encode` then :meth:`SLM.gray_to_phase`), so the
        layer starts from exactly what :meth:`Hardware4f.forward` would show.
        Complex panels: the masks themselves.
        """
        m = np.asarray(masks.detach().cpu().numpy() if isinstance(masks, torch.Tensor) else masks)
        if self.config.slm.mode == "complex":
            if m.shape != tuple(self.mask.shape):
                raise ValueError(f"masks must have shape {tuple(self.mask.shape)}, got {m.shape}")
            self.mask.copy_(torch.from_numpy(m.astype(numpy_dtype(self._dtype))))
            return self
        combined = self.hw.channel_masks(m)  # (Cin, My, Mx), tiled with the layout's ramps
        frame = np.stack([self.hw.encode(c)[0] for c in combined])  # per channel, as Hardware4f.set_masks
        slm = self.config.slm
        # The wanted phase that gives this frame again: the shown phase shrunk by 1e-9 (so that the level
        # at exactly 2 pi, e.g. gray_2pi itself, is not wrapped to level 0 -- they differ once fringing
        # smooths the displayed, wrapped phase), minus the flatness correction that the panel adds.
        phase = slm.gray_to_phase(frame, self.config.wavelength) * (1 - 1e-9)
        if slm.flatness is not None:
            phase = phase - slm.flatness
        if phase.shape != tuple(self.phase.shape):
            raise ValueError(f"masks give {phase.shape[0]} input channels, the layer has {self.in_channels}")
        self.phase.copy_(torch.from_numpy(phase).to(self.phase.dtype))
        return self

    # -- forward ----------------------------------------------------------------------------------
    # The pass is the core's stage sequence (optics4f.system.stages, docs/architecture.md "One hardware
    # pipeline") run with the bridge's autograd operations (optics4f.torch.ops): nothing here is physics.
    def _slm_values(self):
        """What each input channel's frame is asked to show, (Cin, *slm.resolution): the learnable
        phase, or the wanted masks tiled by the layout and sampled at the SLM pixel centres."""
        if self.config.slm.mode == "phase":
            return self.phase
        combined = ChannelMasks(self._ramps)(TORCH_OPS, self.mask)  # (Cin, My, Mx)
        return TORCH_OPS.sample(self.hw.sampler, combined)

    def fourier_transmission(self) -> torch.Tensor:
        """SLM transmission (Cin, My, Mx) on the Fourier grid, times the Fourier-plane factors."""
        shown = shown_values(self._slm_values(), self.config.slm, self.config.wavelength, quantize=self.quantize,
                             surrogate=self.surrogate, temperature=self.temperature, dtype=self._dtype)
        stage = FourierTransmission(self.config.slm, self.hw.fourier_grid, self._dtype, self._f_fourier)
        return stage(TORCH_OPS, shown)

    def input_field(self, images: torch.Tensor) -> torch.Tensor:
        """Display field (B, Cin, ny, nx) of images (B, Cin, h, w) in [0, 1] (core, no gradient)."""
        with core_context(images):
            u = self.hw.input_field(to_array(images.detach()))
        return from_array(u)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Camera counts (B, Cout, th, tw) in ADU of images (B, Cin, h, w), floats in [0, 1]."""
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"images must have shape (B, {self.in_channels}, h, w), got {tuple(images.shape)}")
        if images.is_complex():
            raise TypeError("images are display gray values in [0, 1], not fields")
        return self.from_field(self.input_field(images))

    def from_field(self, u: torch.Tensor) -> torch.Tensor:
        """Camera counts (B, Cout, th, tw) of input fields ``u`` (B, Cin, ny, nx) on ``hw.in_grid``
        (sqrt(W)/m, e.g. from :meth:`input_field`); differentiable in ``u`` and in the SLM."""
        hw = self.hw
        if u.dim() != 4 or u.shape[1] != self.in_channels or tuple(u.shape[-2:]) != hw.in_grid.shape:
            raise ValueError(f"u must have shape (B, {self.in_channels}, {hw.in_grid.ny}, {hw.in_grid.nx}), "
                             f"got {tuple(u.shape)}")
        finite_array("u", u)
        t = self.fourier_transmission()
        g, cfg = hw.geometry, self.config
        pipeline = HardwarePipeline(OpticalPass(hw.fourf, self._f_in, self._f_out, hw.camera_propagator),
                                    CameraStage(cfg.camera, hw.out_grid.pitch, cfg.wavelength, self.noise),
                                    TileStage(cfg.layout, g.camera_factor))
        handles = [TORCH_OPS.prepare_pass(hw.fourf, t[i]) for i in range(t.shape[0])]
        out = pipeline.run(TORCH_OPS, lambda i: u[:, i], handles, self.rng)
        return out if cfg.layout is not None else out[:, None]
