"""Hardware 4f system: display -> lens f1 -> SLM (misaligned) -> lens f2 -> camera.

Built on the ideal :class:`optics4f.FourF` (Fourier-lens model): the same two
FFTs per pass, with the devices and misalignments as elementwise factors
(:mod:`.misalignment`) so a hardware pass costs little more than an ideal one.
The pass is the stage sequence of :mod:`.stages` (docs/architecture.md, "One
hardware pipeline") run with the NumPy/CuPy operations of :mod:`optics4f.ops`;
the torch layer :class:`optics4f.torch.Hardware4fConv` runs the same stages.

    u   = illumination * display.field(image)                      (input plane)
    v   = R_out(x') * FourF(R_in(x) * u, fourier_mask(H))           (output plane)
    frame = camera.detect(v)                                        (counts)

* :meth:`Hardware4f.fourier_mask` turns a wanted complex Fourier mask H
  (FourF convention: centred order on ``fourier_grid``) into what the
  misaligned SLM actually shows: H sampled at the SLM pixel centres,
  encoded for the panel (double phase, phase only, amplitude, Lee or
  direct; for Lee the camera is centred on the hologram's +1 order),
  converted to a gray-level frame (LUT, bit depth, flatness),
  rendered on the Fourier grid (fill factor, dead zone, fringing), rotated,
  times the lab-fixed Fourier-plane factors (SLM tilt, camera defocus, iris).
* :meth:`Hardware4f.propagate` is the optical pass of a field through a
  Fourier mask, :meth:`Hardware4f.camera_frame` the camera; the torch bridge
  can reuse them separately.
* Multi-channel: :meth:`Hardware4f.forward` takes images (B, Cin, h, w) and
  masks (Cout, Cin, My, Mx): the output channels are tiled on the camera
  (:class:`~optics4f.system.layout.TiledLayout`), the input channels are
  time-multiplexed (one pass and one exposure per input channel, frames
  summed electronically); :meth:`Hardware4f.forward_wavelengths` puts them
  on different wavelengths instead (one exposure, one shared SLM frame).
* Signed and complex outputs: :meth:`Hardware4f.detect_holographic`
  (N-step phase shifting with a reference beam) and
  :meth:`Hardware4f.pseudo_negative` (two passes with the positive and
  negative parts of a real kernel).
"""
from __future__ import annotations

import functools

import numpy as np

from ..backend import DEFAULT_COMPLEX, as_field, get_xp
from ..fourf import FourF
from ..kernels import kernel_to_mask
from ..ops import ARRAY_OPS
from ..propagation import AngularSpectrum
from ..pupil import circular_pupil
from ..sampling import warn_sampling
from ..typing import Array, ArrayLike, DTypeLike, Seed, Shape2
from ..devices.detector import make_rng, mean_electrons
from ..devices.encoding import double_phase, lee_hologram, order_shift
from ..devices.holography import pseudo_negative_combine, recover_field, split_kernel, step_phases
from ..validate import finite_array, physical
from .config import SystemConfig
from .misalignment import camera_defocus_factor, fourier_defocus_factors, linear_phase, resample_mask, slm_shift_ramps
from .slm_sampler import SLMSampler, pixel_centres
from .stages import (CameraStage, ChannelMasks, DisplayStage, FourierTransmission, HardwarePipeline, OpticalPass,
                     TileStage)

__all__ = ["Hardware4f"]


class Hardware4f:
    """Simulated hardware 4f system of a :class:`~optics4f.system.config.SystemConfig`.

    Parameters
    ----------
    config : SystemConfig
    strict : bool
        Raise instead of warning on marginal sampling (:meth:`SystemConfig.check`).
    dtype : complex dtype
        complex64 (default) or complex128.
    rotation_order : int
        Spline order of the SLM-rotation resampling (0 nearest, 1 linear, 3 cubic).
    """

    def __init__(self, config: SystemConfig, strict: bool = False, dtype: DTypeLike = DEFAULT_COMPLEX,
                 rotation_order: int = 1) -> None:
        if not isinstance(config, SystemConfig):
            raise TypeError(f"config must be a SystemConfig, got {type(config).__name__}")
        self.config = cfg = config
        self.geometry = g = cfg.check(strict)
        self.dtype = np.dtype(dtype)
        self.rotation_order = int(rotation_order)
        self.fourf = FourF(cfg.grid_shape, g.in_grid.pitch, cfg.wavelength, cfg.f1, cfg.f2, pad=cfg.pad,
                           dtype=self.dtype)
        self.in_grid, self.fourier_grid, self.out_grid = g.in_grid, g.fourier_grid, g.out_grid
        self.layout = cfg.layout
        self.rng = make_rng(cfg.seed)
        self._set_factors()
        self._wavelengths = {}  # other wavelengths (wavelength multiplexing): (FourF, factors)
        self._ramps = None if self.layout is None else self.layout.ramps(
            self.fourier_grid, cfg.wavelength, cfg.f2, self.out_grid.pitch)
        self._masks = None  # encoded Fourier masks of set_masks, one per input channel
        self.sampler = SLMSampler(cfg.slm.resolution, g.slm_factor, g.padded_shape)
        self._cache = {}
        self._check_encoding_orders()

    # -- fixed factors ------------------------------------------------------------------------------
    def _build_factors(self, lam=None):
        """Elementwise misalignment factors at wavelength ``lam`` (default: the system's) on that
        wavelength's Fourier grid: (in, out, fourier) complex128 NumPy arrays or None, and the
        explicit camera propagator (or None)."""
        cfg, m = self.config, self.config.misalignment
        lam = cfg.wavelength if lam is None else float(lam)
        f1, f2 = cfg.f1, cfg.f2
        fgrid = self.in_grid.padded(cfg.pad).fourier_grid(lam, f1)
        k = 2 * np.pi / lam
        fin = fout = ffou = asm = None

        def mul(a, b):
            return b if a is None else a * b

        if any(m.slm_shift):
            r1, r2 = slm_shift_ramps(self.in_grid, self.out_grid, lam, f1, f2, m.slm_shift)
            fin, fout = mul(fin, r1), mul(fout, r2)
        if m.fourier_defocus:
            t1, t2 = fourier_defocus_factors(self.in_grid, self.out_grid, lam, f1, f2, m.fourier_defocus)
            fin, fout = mul(fin, t1), mul(fout, t2)
        if any(m.input_tilt):
            fin = mul(fin, linear_phase(self.in_grid, k * np.sin(m.input_tilt[0]), k * np.sin(m.input_tilt[1])))
        # Fourier-plane factors live on the grid that moves with the SLM (see misalignment.py):
        # lab-fixed ones are evaluated with the optical axis at -shift.
        axis = (-m.slm_shift[0], -m.slm_shift[1])
        if any(m.slm_tilt):
            ffou = mul(ffou, linear_phase(fgrid, 2 * k * np.sin(m.slm_tilt[0]), 2 * k * np.sin(m.slm_tilt[1])))
        if m.camera_defocus:
            if m.fourier_defocus:  # T_out does not commute with the camera propagation: propagate explicitly
                asm = AngularSpectrum(self.out_grid.shape, self.out_grid.pitch, lam, m.camera_defocus, pad=2.0,
                                      band_limit=True, dtype=self.dtype)
            else:
                ffou = mul(ffou, camera_defocus_factor(fgrid, lam, f2, m.camera_defocus, axis))
        if cfg.fourier_aperture is not None:
            ffou = mul(ffou, circular_pupil(fgrid, cfg.fourier_aperture, center=axis))
        if cfg.effective_encoding == "lee":
            # The Lee hologram's wanted +1 order lands at X = lambda0 f2 nu / p (lambda0: the system's
            # wavelength); the camera is centred there, which is the ramp exp(-2 pi i X.u / (lambda f2)).
            xy = np.asarray(cfg.lee_carrier) * cfg.wavelength * f2 / cfg.slm.pitch
            ffou = mul(ffou, linear_phase(fgrid, -2 * np.pi * xy[0] / (lam * f2), -2 * np.pi * xy[1] / (lam * f2)))
        return fin, fout, ffou, asm

    def _set_factors(self):
        self._f_in, self._f_out, self._f_fourier, self._camera_asm = self._build_factors()

    @property
    def displayed_masks(self) -> list | None:
        """Fourier-plane transmissions (My, Mx) set by :meth:`set_masks`, one per input channel
        (encoded, rendered, misaligned: what :meth:`forward` uses); None before set_masks."""
        return None if self._masks is None else list(self._masks)

    def fourier_factor(self, like: Array, wavelength: float | None = None) -> Array | None:
        """The elementwise Fourier-plane factor (SLM tilt, camera defocus, iris, encoding carrier)
        on the backend of ``like`` in the system dtype, or None when there is none. It multiplies
        the SLM transmission (:meth:`fourier_mask` includes it already)."""
        return self._factor("_f_fourier", like, wavelength)

    def _factor(self, name, like, lam=None):
        if lam is None or lam == self.config.wavelength:
            a = getattr(self, name)
            key = (name, id(get_xp(like)))
        else:
            fin, fout, ffou, _ = self._wavelength_pass(lam)[1]
            a = {"_f_in": fin, "_f_out": fout, "_f_fourier": ffou}[name]
            key = (name, id(get_xp(like)), float(lam))
        if a is None:
            return None
        if key not in self._cache:
            self._cache[key] = get_xp(like).asarray(a.astype(self.dtype))
        return self._cache[key]

    def phase_factors(self, like: Array | None = None) -> tuple[Array | None, Array | None]:
        """(input, output) elementwise factors of the misalignments on ``in_grid`` / ``out_grid``
        (arrays in this system's dtype on the backend of ``like``, or None when trivial), as
        :meth:`propagate` applies them: v = out * FourF(in * u, fourier_mask). Does not include
        the explicit camera propagation used when both defocuses are set (``camera_propagator``)."""
        like = np.empty(0) if like is None else like
        return self._factor("_f_in", like), self._factor("_f_out", like)

    @property
    def camera_propagator(self) -> AngularSpectrum | None:
        """The AngularSpectrum applied to the output (camera and Fourier defocus together), or None."""
        return self._camera_asm

    def check_kernel(self, kernel_shape: Shape2, strict: bool = False) -> None:
        """Errors or warnings when kernels of ``kernel_shape`` (kh, kw) input samples cannot be
        represented: the output support (display + kernel - 1 samples) must fit the padded grid
        (else the convolution is circular), a layout tile (else channels overlap), and the
        spacing M/k of the output replicas of the SLM pixel grid (else they alias)."""
        kh, kw = (int(k) for k in kernel_shape)
        disp = np.asarray(self.config.display.resolution) * self.geometry.display_factor
        support = disp + np.array([kh, kw]) - 1
        padded = np.asarray(self.geometry.padded_shape)
        if np.any(support > padded):
            raise ValueError(f"image ({tuple(disp)}) * kernel ({kh}, {kw}) needs {tuple(support)} samples, more than "
                             f"the padded grid {tuple(padded)}: the convolution would wrap around; raise pad")
        if self.layout is not None and np.any(support > np.asarray(self.layout.tile_shape)):
            raise ValueError(f"the output of one channel spans {tuple(support)} samples, more than the tile "
                             f"{self.layout.tile_shape}: neighbouring channels would overlap; enlarge tile_shape")
        replica = np.floor(padded / np.asarray(self.geometry.slm_factor, dtype=np.float64)).astype(int)
        if np.any(support > replica):
            warn_sampling(f"kernels of ({kh}, {kw}) samples: the output ({tuple(support)} samples) is wider than the "
                          f"spacing {tuple(replica)} of the SLM pixel replicas, so the mask the SLM can show aliases "
                          "the kernel; use a finer SLM pitch or a smaller kernel", strict=strict)

    def _check_encoding_orders(self):
        """Warn when an encoding's unwanted term lands on the camera (its output aperture)."""
        cfg = self.config
        enc = cfg.effective_encoding
        if enc not in ("double_phase", "lee"):
            return
        nu = (0.5, 0.5) if enc == "double_phase" else (0.0, 0.0)
        want = (0.0, 0.0) if enc == "double_phase" else cfg.lee_carrier
        pos = np.abs(order_shift(nu, cfg.slm.pitch, cfg.wavelength, cfg.f2))
        wpos = np.abs(order_shift(want, cfg.slm.pitch, cfg.wavelength, cfg.f2))
        half = np.asarray(cfg.camera.size) / 2
        # The unwanted term (an image of the display's extent, centred at ``pos``) reaches the camera
        # (centred on the wanted term) when it is closer than the camera half-size plus its own half-size.
        extent = np.asarray(cfg.display.resolution) * cfg.display.pitch * cfg.f2 / cfg.f1 / 2
        sep = np.abs(pos - wpos)
        if np.all(sep < half + extent):
            warn_sampling(
                f"encoding {enc!r}: the unwanted term sits {sep} m from the wanted one in the output plane, inside "
                f"the camera ({cfg.camera.size} m); the camera sees both. Use a smaller camera window or an SLM with "
                "a finer pitch (or a longer f2)")

    # -- planes ----------------------------------------------------------------------------------------
    def input_field(self, images: ArrayLike) -> Array:
        """Field (..., ny, nx) on ``in_grid`` of images on the display, sqrt(W)/m.

        ``images``: float in [0, 1] or integer gray levels, (..., h, w) with h, w at most the
        display resolution (smaller images are centred on the display).
        """
        return DisplayStage(self.config.display, self.in_grid, self.config.illumination, self.dtype)(images)

    def slm_target(self, mask: Array) -> Array:
        """Values of the Fourier mask ``mask`` (..., My, Mx) at the SLM pixel centres: (..., *slm.resolution).

        Pixel j (of N) has its centre at Fourier sample s_j = (j - N//2) k + M//2 (k = SLM pitch /
        Fourier pitch, the geometry of :mod:`optics4f.devices.render`); pixels whose centre is off
        the grid get 0. For an integer k the centres are samples; otherwise the mask is evaluated
        between samples by its kernel's Fourier series (:class:`~optics4f.system.slm_sampler.SLMSampler`,
        a linear operator with an exact adjoint, which the torch bridge differentiates through).
        """
        return self.sampler.apply(mask)

    @staticmethod
    def _pixel_centres(n: int, k: float, m: int) -> np.ndarray:
        """Fourier-sample positions (float) of the centres of n panel pixels of k samples on m samples."""
        return pixel_centres(n, k, m)

    def encode(self, mask: Array) -> tuple[Array, float]:
        """(frame, scale): the SLM frame showing ``mask`` and the factor by which the
        wanted term of the panel's transmission equals ``mask`` (1/amax for double phase)."""
        cfg = self.config
        slm, enc = cfg.slm, cfg.effective_encoding
        t = self.slm_target(mask)
        xp = get_xp(t)
        if enc == "direct":
            return slm.encode(t, cfg.wavelength), 1.0
        if enc == "double_phase":
            e = double_phase(t)
            return slm.encode(e.pattern, cfg.wavelength), e.scale
        if enc == "lee":
            e = lee_hologram(t, cfg.lee_carrier)
            return slm.encode(e.pattern, cfg.wavelength), e.scale
        if enc == "phase":
            return slm.encode(xp.angle(t), cfg.wavelength), 1.0
        amax = float(xp.abs(t).max())
        if amax == 0:
            raise ValueError("the mask is zero on the SLM; nothing to show")
        return slm.encode(xp.abs(t) / amax, cfg.wavelength), 1.0 / amax

    def fourier_mask(self, mask: ArrayLike | None = None, frame: Array | None = None,
                     wavelength: float | None = None) -> Array:
        """Complex transmission (..., My, Mx) in the Fourier plane of the (misaligned) SLM.

        Give either the wanted complex ``mask`` (centred, on ``fourier_grid``), which is
        encoded (:meth:`encode`), or an SLM ``frame`` (gray levels, panel resolution).
        The result includes the rotation of the SLM and the Fourier-plane factors (SLM
        tilt, camera defocus, iris), but not the SLM shift, which :meth:`propagate` applies.

        ``wavelength`` (m, default the system's): the same frame seen by another wavelength
        (wavelength multiplexing): the panel's phase scales by lambda_design / lambda and the
        Fourier grid of that wavelength, pitch lambda f1 / (M d), samples the panel at other
        points (the rendered panel is resampled by the spline of ``rotation_order``).
        """
        cfg = self.config
        if (mask is None) == (frame is None):
            raise ValueError("give exactly one of mask (complex, Fourier grid) or frame (SLM gray levels)")
        if frame is None:
            mask = as_field(mask, "mask", dtype=np.complex128)
            if tuple(mask.shape[-2:]) != self.geometry.padded_shape:
                raise ValueError(f"mask has shape {tuple(mask.shape[-2:])}; the Fourier plane has "
                                 f"{self.geometry.padded_shape} samples at pitch {self.fourier_grid.pitch} m")
            frame, _ = self.encode(mask)
        lam = cfg.wavelength if wavelength is None else float(wavelength)
        return self.transmission_stage(frame, lam)(ARRAY_OPS, cfg.slm.shown(frame, lam))

    def transmission_stage(self, like: Array | None = None, wavelength: float | None = None) -> FourierTransmission:
        """The :class:`~optics4f.system.stages.FourierTransmission` stage at ``wavelength`` (m, default
        the system's) with its constants on the backend of ``like``: SLM pixels on the Fourier grid,
        the SLM rotation and the wavelength's Fourier scale (a spline resampling of
        ``rotation_order``), the Fourier-plane factors."""
        cfg = self.config
        like = np.empty(0) if like is None else like
        lam = cfg.wavelength if wavelength is None else float(wavelength)
        a, scale = cfg.misalignment.slm_rotation, lam / cfg.wavelength
        warp = None
        if a or scale != 1:
            # Sample u of this wavelength's grid sits at u * scale on the system's grid; rotation R(-a).
            c, s_ = np.cos(a) * scale, np.sin(a) * scale
            warp = functools.partial(resample_mask, matrix=[[c, -s_], [s_, c]], order=self.rotation_order, fill=0.0)
        return FourierTransmission(cfg.slm, self.fourier_grid, self.dtype, self._factor("_f_fourier", like, lam),
                                   warp)

    def propagate(self, u: Array, fourier_mask: Array, _fourf: FourF | None = None,
                  wavelength: float | None = None) -> Array:
        """Output field (..., ny, nx) on ``out_grid`` of the input field ``u`` through a Fourier-plane
        transmission (from :meth:`fourier_mask`, at the same ``wavelength``), with the SLM shift,
        defocus and tilt factors. The output pitch d f2 / f1 does not depend on the wavelength."""
        u = as_field(u, "u", dtype=self.dtype, check_finite=False)  # the FourF pass below checks it
        return self.optical_stage(u, wavelength)(ARRAY_OPS, u, fourier_mask if _fourf is None else _fourf)

    def optical_stage(self, like: Array | None = None, wavelength: float | None = None) -> OpticalPass:
        """The :class:`~optics4f.system.stages.OpticalPass` at ``wavelength`` (m, default the system's):
        the misalignment factors (on the backend of ``like``), the 4f pass, the camera propagator."""
        like = np.empty(0) if like is None else like
        lam = self.config.wavelength if wavelength is None else float(wavelength)
        fourf, asm = (self.fourf, self._camera_asm) if lam == self.config.wavelength else \
            (self._wavelength_pass(lam)[0], self._wavelength_pass(lam)[1][3])
        return OpticalPass(fourf, self._factor("_f_in", like, lam), self._factor("_f_out", like, lam), asm)

    def pipeline(self, like: Array | None = None, noise: bool | None = None) -> HardwarePipeline:
        """The stages after the Fourier transmission (:class:`~optics4f.system.stages.HardwarePipeline`),
        constants on the backend of ``like``; ``noise`` overrides the camera's."""
        g = self.geometry
        return HardwarePipeline(self.optical_stage(like), CameraStage(self.config.camera, self.out_grid.pitch,
                                                                      self.config.wavelength, noise),
                                TileStage(self.layout, g.camera_factor))

    def _wavelength_pass(self, lam: float):
        """(FourF, factors) at another wavelength (cached)."""
        lam = float(lam)
        if not (np.isfinite(lam) and lam > 0):
            raise ValueError(f"wavelength must be positive (metres), got {lam!r}")
        if lam not in self._wavelengths:
            cfg = self.config
            f = FourF(cfg.grid_shape, self.in_grid.pitch, lam, cfg.f1, cfg.f2, pad=cfg.pad, dtype=self.dtype)
            self._wavelengths[lam] = (f, self._build_factors(lam))
        return self._wavelengths[lam]

    def camera_frame(self, v: Array, rng: Seed = None) -> Array:
        """Camera frame (ADU) of the output field ``v``; ``rng`` a generator or seed (None: the system's)."""
        cfg = self.config
        return cfg.camera.detect(v, self.out_grid.pitch, cfg.wavelength, rng=self.rng if rng is None else rng)

    # -- multi-channel ---------------------------------------------------------------------------------
    def tiled_mask(self, masks: Array) -> Array:
        """One Fourier mask (..., My, Mx) from per-output-channel masks (..., Cout, My, Mx)."""
        if self.layout is None:
            raise ValueError("this configuration has no layout (config.layout is None)")
        return self.layout.combine(masks, self._ramps)

    def channel_masks(self, masks: Array) -> Array:
        """The Fourier masks each input channel's pass shows, (Cin, My, Mx): the per-output-channel
        ``masks`` (Cout, Cin, My, Mx) tiled by the layout (or (Cin, My, Mx) as given, without one)."""
        xp = get_xp(masks)
        masks = xp.asarray(masks)
        ms = self.geometry.padded_shape
        if self.layout is None:
            if masks.ndim == 2:
                masks = masks[None]
            if masks.ndim == 4:
                if masks.shape[0] != 1:
                    raise ValueError(f"masks have {masks.shape[0]} output channels but the configuration has no layout")
                masks = masks[0]
            if masks.ndim != 3 or tuple(masks.shape[-2:]) != ms:
                raise ValueError(f"masks must be (Cin, *{ms}) without a layout, got {tuple(masks.shape)}")
            return masks
        if masks.ndim == 3:
            masks = masks[:, None]
        if masks.ndim != 4 or masks.shape[0] != self.layout.n_channels or tuple(masks.shape[-2:]) != ms:
            raise ValueError(f"masks must be (Cout={self.layout.n_channels}, Cin, *{ms}), got {tuple(masks.shape)}")
        return ChannelMasks(self._ramps)(ARRAY_OPS, masks.astype(np.complex128))  # (Cin, My, Mx)

    def set_masks(self, masks: ArrayLike) -> Hardware4f:
        """Encode and render the masks once (Cout, Cin, My, Mx) (or (Cin, My, Mx) without a layout)
        for later :meth:`forward` calls."""
        combined = self.channel_masks(finite_array("masks", masks))
        self._masks = [self.fourier_mask(combined[i]) for i in range(combined.shape[0])]
        # One FourF per input channel with its mask prepared (FFT order, scale) once.
        self._passes = [ARRAY_OPS.prepare_pass(self.fourf, fm) for fm in self._masks]
        return self

    def forward(self, images: ArrayLike, masks: ArrayLike | None = None, rng: Seed = None,
                noise: bool | None = None) -> Array:
        """Camera readout of images through the system.

        images : (B, Cin, h, w) or (B, h, w) float in [0, 1] (or gray levels).
        masks : (Cout, Cin, My, Mx) wanted complex Fourier masks; None: those of :meth:`set_masks`.
        Returns (B, Cout, th/k, tw/k) tiles (ADU) with a layout, else (B, *camera.shape).
        Input channels: one pass and one exposure each, frames summed (time multiplexing).
        """
        if masks is not None:
            self.set_masks(masks)
        if self._masks is None:
            raise ValueError("no masks: pass masks= or call set_masks first")
        xp = get_xp(images)
        images = xp.asarray(images)
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4 or images.shape[1] != len(self._masks):
            raise ValueError(f"images must be (B, Cin={len(self._masks)}, h, w), got {tuple(images.shape)}")
        rng = self.rng if rng is None else make_rng(rng, like=images)
        return self.pipeline(images, noise).run(ARRAY_OPS, lambda i: self.input_field(images[:, i]), self._passes,
                                                rng)

    def forward_wavelengths(self, images: ArrayLike, wavelengths: ArrayLike, masks: ArrayLike | None = None,
                            frame: Array | None = None, rng: Seed = None) -> Array:
        """Camera readout with the input channels on different wavelengths, in one exposure.

        images : (B, Cin, h, w) float in [0, 1] (or gray levels); wavelengths : (Cin,) metres.
        All channels go through one SLM frame: ``frame`` (gray levels), or the encoding of
        ``masks`` ((Cout, My, Mx), tiled, with a layout; (My, Mx) without), designed at the
        system's wavelength. Wavelength lambda_i sees the panel with its phase scaled by
        lambda_design / lambda_i and at the Fourier scale lambda_i f1, so channel i's kernel
        is the designed one magnified by lambda_i / lambda (and tile offsets move likewise).
        The channels are mutually incoherent: the camera adds their photoelectrons (dark
        signal once), then noise, saturation and ADC. Returns (B, Cout, th/k, tw/k) tiles
        with a layout, else (B, *camera.shape).
        """
        xp = get_xp(images)
        images = xp.asarray(images)
        lams = [physical(f"wavelengths[{i}]", float(w), "wavelength")
                for i, w in enumerate(np.atleast_1d(np.asarray(wavelengths, dtype=np.float64)))]
        if images.ndim != 4 or images.shape[1] != len(lams):
            raise ValueError(f"images must be (B, Cin, h, w) with Cin = len(wavelengths) = {len(lams)}, got "
                             f"{tuple(images.shape)}")
        if (masks is None) == (frame is None):
            raise ValueError("give exactly one of masks (complex, Fourier grid) or frame (SLM gray levels)")
        if frame is None:
            masks = as_field(masks, "masks", dtype=np.complex128)
            combined = self.tiled_mask(masks) if self.layout is not None else masks
            if combined.ndim != 2:
                raise ValueError(f"masks must be (Cout, My, Mx) with a layout or (My, Mx) without, got "
                                 f"{tuple(masks.shape)}")
            frame, _ = self.encode(combined)
        cam = self.config.camera
        rng = self.rng if rng is None else make_rng(rng, like=images)
        electrons = None
        for i, lam in enumerate(lams):
            v = self.propagate(self.input_field(images[:, i]), self.fourier_mask(frame=frame, wavelength=lam),
                               wavelength=lam)
            e = mean_electrons(cam.pixel_power(v, self.out_grid.pitch), lam, cam.exposure_time,
                               cam.quantum_efficiency)
            electrons = e if electrons is None else electrons + e
        if cam.dark_current:
            electrons = electrons + electrons.dtype.type(cam.dark_current * cam.exposure_time)
        frame_adu = cam.digitize(cam.electrons(electrons, rng))
        if self.layout is None:
            return frame_adu
        return self.layout.read_tiles(frame_adu, self.geometry.camera_factor)

    # -- signed and complex detection ---------------------------------------------------------------
    def _counts_per_irradiance(self) -> float:
        """ADU per (W/m^2) of a uniform irradiance on one pixel (linear camera)."""
        from ..devices.detector import photon_energy

        cam, kc = self.config.camera, self.geometry.camera_factor
        area = cam.fill_factor * (kc * self.out_grid.dx) * (kc * self.out_grid.dy)
        return cam.adu_per_electron * cam.quantum_efficiency * cam.exposure_time * area / \
            photon_energy(self.config.wavelength)

    def _dark_counts(self) -> float:
        cam = self.config.camera
        return cam.offset + cam.adu_per_electron * cam.dark_current * cam.exposure_time

    def detect_holographic(self, v: Array, steps: int | None = None, rng: Seed = None) -> Array:
        """Complex output field (sqrt(W)/m, pixel-averaged, camera resolution) from N phase-shifted
        camera frames of ``v`` with an on-axis plane reference of ``config.reference_amplitude``.

        Each frame goes through the full camera model (noise, saturation, ADC); the
        reference should be comparable to |v| for the best signal. Needs gamma = 1.
        """
        cfg = self.config
        if cfg.camera.gamma != 1:
            raise ValueError("holographic detection needs a linear camera (gamma=1)")
        phases = step_phases(cfg.holography_steps if steps is None else steps)
        r = cfg.reference_amplitude
        xp = get_xp(v)
        rot = xp.asarray(np.exp(1j * phases).astype(self.dtype)).reshape((-1,) + (1,) * v.ndim)
        fields = v[None] + rot * self.dtype.type(r)  # (N, ..., ny, nx): signal + stepped reference
        frames = self.camera_frame(fields, rng=rng)
        irr = frames / frames.dtype.type(self._counts_per_irradiance())
        # Pixel integration is linear in intensity, so the recovery returns the pixel-averaged field.
        return recover_field(irr, r, phases)

    def pseudo_negative(self, images: ArrayLike, kernel: ArrayLike, rng: Seed = None) -> Array:
        """Signed output sqrt(I+) - sqrt(I-) (sqrt(W)/m, camera resolution) of a real ``kernel``.

        The kernel (kh, kw) samples of the input plane; two passes with the masks of its
        positive and negative parts; each camera frame has its dark level removed and is
        converted to irradiance. For a non-negative input the result is
        (f1/f2) (u * h) at the inverted output point, i.e. -v of the ideal pass.
        """
        xp = get_xp(kernel)
        kernel = xp.asarray(kernel)
        self.check_kernel(kernel.shape[-2:])
        hp, hn = split_kernel(kernel)
        u = self.input_field(images)
        frames = []
        for part in (hp, hn):
            fm = self.fourier_mask(kernel_to_mask(part.astype(np.complex128), self.geometry.padded_shape))
            frames.append(self.camera_frame(self.propagate(u, fm), rng=rng))
        c = self._counts_per_irradiance()
        dark = self._dark_counts()
        ip, in_ = ((f - f.dtype.type(dark)) / f.dtype.type(c) for f in frames)
        return pseudo_negative_combine(ip, in_)
