"""A trained SCLC student run on the simulated hardware: SLM frames -> 4f -> camera -> electronics.

:class:`OpticalStudent` is the inference chain a lab builds after training:

1. the input image is shown on the display (``Hardware4f.input_field``: gray levels, pixels);
2. each input channel's SLM frame (integer gray levels, panel resolution, output channels tiled
   by the layout's phase ramps) is rendered on the Fourier grid (``Hardware4f.fourier_mask``:
   LUT, bit depth, fill factor, fringing, misalignment) and the field goes through the 4f pass
   (``Hardware4f.propagate``); input channels are time-multiplexed, their camera frames summed;
3. the camera (``Camera.detect``: pixel integration, shot and read noise, saturation, ADC)
   gives counts, and the layout's tiles are read out;
4. the electronics turn counts back into the student's detector units and run the student's
   own back end (the trained fully connected layer or decoder):

       feature = flip( (counts - dark) / K )  cropped to the image, binned like the student,
       K = counts per |v|^2 = ADU/(W/m^2) * illumination^2 * (f1/f2)^2 * s^2,

   where v is the student's ideal output field (dimensionless, unit input amplitude), s the
   encoding's scale (the wanted term of the panel's transmission is s * H; 1/max|H| for double
   phase), and the flip undoes the 4f image inversion x -> -x (docs/architecture.md#conventions). With an ideal
   complex SLM and a noiseless analogue camera the features equal the student's own
   (``student.camera(x)``) to float precision (tested), so every difference in accuracy comes
   from the hardware.

The system is built by :func:`student_system` from the student's geometry and the hardware
settings (:class:`HardwareSettings`): one Fourier sample per SLM pixel (f1 = p_slm M d /
lambda), output tiles of the student's padded size, camera pixel = display pixel.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["HardwareSettings", "OpticalStudent", "student_system", "student_masks", "masks_on_grid",
           "student_frames", "auto_exposure", "student_geometry"]


@dataclass
class HardwareSettings:
    """What the simulated bench has (SI units). Defaults: a good lab bench.

    slm_preset : str or None
        SLM panel preset (``optics4f.devices.slm_preset``) whose pitch, fill factor and bit
        depth are used; None: a square phase panel covering the Fourier grid exactly, at
        ``pitch``. The panel's native resolution is kept (pixels off the simulated grid see no light).
    slm_bits : int or None
        SLM bit depth (None: the preset's, 8 without one).
    slm_mode : "phase" or "complex"
        "phase": phase-only panel with double-phase encoding; "complex": an ideal complex
        modulator (no quantisation; for reference).
    pitch : float
        Display pixel pitch and (without a preset) SLM pitch, m.
    wavelength : float
        m.
    camera_bits : int or None
        Camera ADC bits (None: analogue, no rounding or clipping).
    noise : bool
        Shot and read noise.
    full_well : float
        Electrons at full scale; with :func:`auto_exposure` the brightest pixel of the
        calibration images gets ``exposure_fill`` of it, so this sets the photon budget.
    read_noise : float
        Electrons rms.
    black_level : float
        Camera offset as a fraction of full scale. Read noise on a dark pixel is symmetric, and
        an ADC without an offset clips its negative half at 0, which biases every dark pixel
        (measured on the embedded student at a 300 e- full well: 35 % accuracy without an
        offset, 51 % with 100 ADU); the electronics subtract the known level.
    exposure_fill : float
        Fraction of the full well the brightest calibration pixel reaches (auto exposure).
    slm_shift : (dy, dx)
        Fourier-plane SLM shift, m.
    slm_rotation : float
        SLM rotation about the optical axis, rad.
    fourier_defocus : float
        SLM distance from the back focal plane of lens 1, m.
    camera_pitch : float or None
        Camera pixel pitch, m (a lab's camera); None: the imaged display pixel, display pitch *
        f2/f1. Finer cameras are read out onto the display-pixel grid by area (the electronics'
        registration); coarser ones cannot resolve the output and are refused.
    f1, f2 : float or None
        Focal lengths of the Fourier and imaging lenses, m: any stock lens. None: f1 gives one
        Fourier sample per SLM pixel on the padded grid; f2 = f1. With a given f1 the grid is
        padded further where needed for at least one Fourier sample per SLM pixel
        (:func:`optics4f.system.grid_choice.bench_pad`).
    pad : float
        Zero padding of the simulation grid (Fourier grid M = pad * grid). Double phase puts
        its unwanted term M/2 output samples off axis and spreads it (it is not a compact
        kernel); at pad 2 it reaches the tiles (measured on the embedded student: 33 % feature
        error), at pad 4 it does not (1.2 %, from 8-bit phase and the remaining tails).
    seed : int
        Camera noise seed.
    """

    slm_preset: str | None = None
    slm_bits: int | None = None
    slm_mode: str = "phase"
    pitch: float = 8e-6
    wavelength: float = 532e-9
    camera_bits: int | None = 12
    noise: bool = True
    full_well: float = 2.0e4
    read_noise: float = 5.0
    black_level: float = 0.025
    exposure_fill: float = 0.8
    slm_shift: tuple = (0.0, 0.0)
    slm_rotation: float = 0.0
    fourier_defocus: float = 0.0
    f1: float | None = None
    f2: float | None = None
    camera_pitch: float | None = None
    pad: float = 4.0
    seed: int = 0

    def __post_init__(self):
        from optics4f.validate import finite, integer, physical, positive

        if self.slm_mode not in ("phase", "complex"):
            raise ValueError(f"slm_mode must be 'phase' or 'complex', got {self.slm_mode!r}")
        if self.slm_bits is not None:
            self.slm_bits = integer("slm_bits", self.slm_bits, min=1, max=16)
        if self.camera_bits is not None:
            self.camera_bits = integer("camera_bits", self.camera_bits, min=1, max=16)
        self.pitch = physical("pitch", self.pitch)
        self.wavelength = physical("wavelength", self.wavelength)
        self.full_well = positive("full_well", self.full_well, unit="e-")
        self.read_noise = positive("read_noise", self.read_noise, allow_zero=True, unit="e- rms")
        self.slm_rotation = finite("slm_rotation", self.slm_rotation)
        self.fourier_defocus = physical("fourier_defocus", self.fourier_defocus, "distance", signed=True)
        self.pad = finite("pad", self.pad)
        if self.pad < 1:
            raise ValueError(f"pad must be >= 1 (zero-padding factor), got pad={self.pad!r}")
        self.seed = integer("seed", self.seed)
        if not 0 <= self.black_level < 0.5:
            raise ValueError(f"black_level must be in [0, 0.5) (fraction of the camera's full scale), got "
                             f"{self.black_level!r}")
        if not 0 < self.exposure_fill <= 1:
            raise ValueError(f"exposure_fill must be in (0, 1] (fraction of the full well), got {self.exposure_fill!r}")
        for name in ("f1", "f2"):
            if getattr(self, name) is not None:
                setattr(self, name, physical(name, getattr(self, name), "focal_length"))
        if self.camera_pitch is not None:
            self.camera_pitch = physical("camera_pitch", self.camera_pitch, "pitch")
        self.slm_shift = tuple(finite(f"slm_shift[{i}]", float(s))
                               for i, s in enumerate(np.broadcast_to(np.asarray(self.slm_shift, float), (2,))))

    def camera_dict(self, shape, pixel_pitch) -> dict:
        """The Camera settings (dict) of this bench for a sensor of ``shape`` pixels at ``pixel_pitch`` m;
        exposure 1 s until :func:`auto_exposure` sets it."""
        full_scale = float(self.full_well) if self.camera_bits is None else float(2 ** int(self.camera_bits) - 1)
        return {"shape": list(shape), "pixel_pitch": float(pixel_pitch), "bit_depth": self.camera_bits,
                "full_well": float(self.full_well), "read_noise": float(self.read_noise), "noise": bool(self.noise),
                "offset": float(self.black_level) * full_scale, "exposure_time": 1.0}

    def bench_camera(self, plane_shape, out_pitch: float) -> dict:
        """The Camera settings (dict) for an output plane of ``plane_shape`` samples at ``out_pitch`` m:
        one pixel per sample without ``camera_pitch``, else the lab's pixels covering the plane."""
        if self.camera_pitch is None:
            return self.camera_dict(tuple(plane_shape), out_pitch)
        shape = []
        for n in plane_shape:
            nc = int(np.ceil(n * out_pitch / self.camera_pitch))
            shape.append(nc + nc % 2)
        return self.camera_dict(tuple(shape), float(self.camera_pitch))

    def replace(self, **changes) -> "HardwareSettings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["slm_shift"] = list(d["slm_shift"])
        return d


# -- the student's side --------------------------------------------------------------------------

def student_geometry(model) -> dict:
    """Image size, channels, padded grid and binning of an SCLC student with the ideal front end."""
    from nets.models.spectral import SpectralStack

    fe = getattr(model, "frontend", None)
    if not isinstance(fe, SpectralStack):
        raise ValueError("optical simulation needs an SCLC student with the ideal spectral front end "
                         f"(nets.models.SCLCClassifier/SCLCSegmenter, frontend='ideal'); got front end "
                         f"{type(fe).__name__}. Teachers are not optical; hardware students already "
                         "simulate their hardware in their forward pass")
    if model.detector.mode != "intensity":
        raise ValueError("optical simulation needs a student with an intensity detector (a camera); this one "
                         f"uses detector={model.detector.mode!r}. A model converted with a field readout is refitted "
                         "for a camera by: optics4f convert FILE --image-size H W --readout intensity --refit EPOCHS "
                         "--dataset DIR --out DIR2")
    return {"image_size": tuple(fe.image_size), "in_channels": fe.in_channels, "out_channels": fe.out_channels,
            "padded_shape": tuple(fe.padded_shape), "binning": model.detector.binning}


def student_masks(model) -> np.ndarray:
    """Collapsed Fourier masks (Cout, Cin, My, Mx), complex128, centred, on the student's padded grid."""
    import torch

    student_geometry(model)
    with torch.no_grad():
        return model.frontend.collapse().detach().cpu().numpy().astype(np.complex128)


def masks_on_grid(masks, padded_shape) -> np.ndarray:
    """The student's masks (..., my, mx) moved to a larger Fourier grid (..., My, Mx).

    The student convolves circularly on its (my, mx) grid by the kernel k = mask_to_kernel(mask)
    (centred); the same kernel, embedded on the bigger grid, has the mask kernel_to_mask(k). The
    student's grid is wrap-free on its image window (``padded_extent``), so the convolution on
    the kept window is the same (exact for stacks without spectral pooling, whose kernels are
    compact; with pooling the kernel's periodic tails are cut at the student's grid).
    """
    from optics4f.kernels import kernel_to_mask, mask_to_kernel

    masks = np.asarray(masks, dtype=np.complex128)
    if tuple(masks.shape[-2:]) == tuple(padded_shape):
        return masks
    return kernel_to_mask(mask_to_kernel(masks), tuple(padded_shape))


def _tile_size(geom) -> int:
    s = max(geom["padded_shape"])
    return s + s % 2


def student_system(model, settings: HardwareSettings | None = None):
    """The hardware :class:`~optics4f.system.SystemConfig` that runs ``model`` optically.

    Display of the student's image size at ``settings.pitch``; output channels on tiles of the
    student's padded size (no overlap); simulation grid holding the tiles, padded by
    ``settings.pad``; SLM with one Fourier sample per pixel (f1 = f2 = p_slm M d / lambda);
    camera pixel = display pixel,
    ``camera_bits`` ADC with the full well at full scale; misalignments from ``settings``.
    The exposure is set later (:func:`auto_exposure`).
    """
    from optics4f.devices import slm_preset
    from optics4f.grid import padded_size
    from optics4f.system import SystemConfig
    from optics4f.system.grid_choice import bench_pad
    from optics4f.system.layout import TiledLayout

    s = settings or HardwareSettings()
    geom = student_geometry(model)
    h, w = geom["image_size"]
    tile = _tile_size(geom)
    panel = None
    if s.slm_preset is not None:
        panel = slm_preset(s.slm_preset)
    skip = panel is not None and s.slm_mode == "phase" and panel.unmodulated_fraction > 0
    layout = TiledLayout(n_channels=geom["out_channels"], tile_shape=(tile, tile), skip_axis=skip)
    n = max(layout.arrangement) * tile
    m = padded_size(n, s.pad)
    if panel is not None:
        kw = {} if s.slm_bits is None else {"bit_depth": int(s.slm_bits), "gray_2pi": 2 ** int(s.slm_bits) - 1}
        panel = panel.replace(**kw)
        if s.slm_mode == "complex":
            panel = panel.replace(mode="complex")
        elif panel.mode != "phase":
            raise ValueError(f"SLM preset {s.slm_preset!r} is a {panel.mode} panel; the simulator encodes masks "
                             "for phase panels (double phase); pick a phase preset")
        slm = {f.name: getattr(panel, f.name) for f in dataclasses.fields(panel)}
        p_slm = panel.pitch
        if s.f1 is not None:
            from nets.export.masks import check_panel_geometry

            # the panel must hold the display's whole spectrum, or the bench cannot compute the convolution
            check_panel_geometry(extent=n * s.pitch, kernel_pitch=s.pitch, panel_shape=panel.resolution,
                                 panel_pitch=panel.pitch, wavelength=s.wavelength, f1=float(s.f1), strict=True)
    else:
        bits = 8 if s.slm_bits is None else int(s.slm_bits)
        slm = {"resolution": [m, m], "pitch": s.pitch, "mode": s.slm_mode, "bit_depth": bits}
        p_slm = s.pitch
    pad = float(s.pad)
    if s.f1 is None:
        f1 = p_slm * m * s.pitch / s.wavelength
    else:
        f1 = float(s.f1)
        pad = bench_pad((n, n), s.pitch, s.wavelength, f1, p_slm, pad)
        if panel is None:  # the square panel covers the (larger) Fourier grid
            m = padded_size(n, pad)
            slm["resolution"] = [m, m]
    f2 = f1 if s.f2 is None else float(s.f2)
    cam = s.bench_camera((n, n), s.pitch * f2 / f1)
    d = {"wavelength": s.wavelength, "f1": f1, "f2": f2, "grid_shape": [n, n], "pad": pad,
         "display": {"resolution": [h, w], "pitch": s.pitch}, "slm": slm, "camera": cam,
         "layout": {"n_channels": geom["out_channels"], "tile_shape": [tile, tile], "skip_axis": skip},
         "misalignment": {"slm_shift": list(s.slm_shift), "slm_rotation": float(s.slm_rotation),
                          "fourier_defocus": float(s.fourier_defocus)},
         "seed": int(s.seed)}
    return SystemConfig.from_dict(d)


def student_frames(model, system):
    """(frames, scale): the SLM frames (Cin, *slm.resolution) that show the student's masks on
    ``system`` (tiled, encoded by :meth:`Hardware4f.encode`), and the encoding scale of each."""
    from optics4f.system import Hardware4f

    hw = Hardware4f(system)
    masks = masks_on_grid(student_masks(model), hw.geometry.padded_shape)
    combined = hw.channel_masks(masks)  # (Cin, My, Mx): the layout's tiling, as Hardware4f.set_masks
    enc = [hw.encode(c) for c in combined]
    return np.stack([e[0] for e in enc]), np.array([e[1] for e in enc], dtype=np.float64)


def auto_exposure(optical: "OpticalStudent", images, fill: float = 0.8) -> float:
    """Set the camera exposure (s) so that the brightest pixel of ``images`` (B, Cin, h, w) reaches
    ``fill`` of the full well, as a lab sets its exposure on sample images; returns it."""
    cam = optical.system.camera
    peak = 0.0
    for v in optical.fields(images):
        e = dataclasses.replace(cam, exposure_time=1.0, dark_current=0.0)
        peak = max(peak, float(e.mean_electrons(v, optical.hw.out_grid.pitch, optical.system.wavelength).max()))
    if not peak > 0:
        raise ValueError("the calibration images give no light on the camera; check the frames and images")
    t = fill * cam.full_well / peak
    optical.set_exposure(t)
    return t


class OpticalStudent:
    """A student's inference through the simulated hardware (module docstring).

    Parameters
    ----------
    model : SCLCClassifier or SCLCSegmenter
        Trained student with the ideal spectral front end; its back end is used as is.
    system : SystemConfig
        The hardware (e.g. :func:`student_system`). With a layout (one tile per output channel) the
        frames are tiled, one per input channel. Without one the frames are per channel pair
        (``optics4f export --per-channel``): every output channel is its own set of exposures,
        one per input channel, read on the whole camera (time multiplexing in both channels).
    frames : array (Cin, *slm.resolution) tiled, or (Cout, Cin, *slm.resolution) per channel
        SLM frames (integer gray levels; complex values for a 'complex' panel), e.g. read back
        from exported files.
    scale : float or sequence
        Encoding scale s of each frame (see the module docstring).
    """

    def __init__(self, model, system, frames, scale=1.0):
        from optics4f.system import Hardware4f

        self.model = model
        self.geom = g = student_geometry(model)
        self.system = system
        self.hw = hw = Hardware4f(system)
        self.per_channel = system.layout is None
        if not self.per_channel and system.layout.n_channels != g["out_channels"]:
            raise ValueError(f"the system must tile the student's {g['out_channels']} output channels "
                             f"(system.layout.n_channels = {system.layout.n_channels}), or have no layout for "
                             "per-channel frames")
        if tuple(system.display.resolution) != g["image_size"]:
            raise ValueError(f"the display resolution {system.display.resolution} must equal the student's image "
                             f"size {g['image_size']}")
        if hw.geometry.display_factor != 1:
            raise ValueError("the electronics read one feature per display pixel: use oversample 1")
        if float(hw.geometry.camera_factor) > 1 + 1e-6:
            raise ValueError(f"the camera pixels ({system.camera.pixel_pitch:.4g} m) are larger than the imaged "
                             f"display "
                             f"pixel (display pitch * f2/f1 = {hw.out_grid.dx:.4g} m): the camera cannot resolve the "
                             f"output tiles. Use f2/f1 >= {system.camera.pixel_pitch / system.display.pitch:.4g} or a "
                             "camera with finer pixels")
        th, tw = system.grid_shape if self.per_channel else system.layout.tile_shape
        h, w = g["image_size"]
        # feature index a <- tile index th//2 + h//2 - a (image inversion about the tile centre)
        self._iy = th // 2 + h // 2 - np.arange(h)
        self._ix = tw // 2 + w // 2 - np.arange(w)
        if self._iy.min() < 0 or self._iy.max() >= th or self._ix.min() < 0 or self._ix.max() >= tw:
            raise ValueError(f"tiles {(th, tw)} are smaller than the image {(h, w)}")
        frames = np.asarray(frames)
        lead = (g["out_channels"], g["in_channels"]) if self.per_channel else (g["in_channels"],)
        if frames.ndim == 2:
            frames = frames[None]
        if self.per_channel and frames.ndim == 3 and frames.shape[0] == lead[0] * lead[1]:
            frames = frames.reshape(lead + frames.shape[-2:])
        if tuple(frames.shape[:-2]) != lead:
            raise ValueError(f"frames must be {'(Cout, Cin' if self.per_channel else '(Cin'}, *panel) = "
                             f"{lead} leading, got {tuple(frames.shape[:-2])}")
        self.frames = frames.reshape((-1,) + frames.shape[-2:])  # flat: (Cin,) or (Cout * Cin,)
        self.scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (self.frames.shape[0],)).copy()
        self.fourier_masks = [hw.fourier_mask(frame=f) for f in self.frames]
        self.rng = np.random.default_rng(system.seed)

    # -- optics ------------------------------------------------------------------------------------
    def set_exposure(self, seconds: float):
        self.system.camera = dataclasses.replace(self.system.camera, exposure_time=float(seconds))

    def _input_channel(self, k: int) -> int:
        return k % self.geom["in_channels"]

    def fields(self, images):
        """Output fields, one (B, ny, nx) array per frame (input channel; per channel: (out, in) pair),
        of images (B, Cin, h, w) in [0, 1]."""
        images = _as_images(images, self.geom["in_channels"])
        u = [self.hw.input_field(images[:, i]) for i in range(images.shape[1])]
        return [self.hw.propagate(u[self._input_channel(k)], fm) for k, fm in enumerate(self.fourier_masks)]

    def camera_frame(self, images, noise: bool | None = None):
        """Camera frames, ADU, the input channels' exposures summed: (B, ny, nx) tiled, or
        (B, Cout, ny, nx) per channel (one set of exposures per output channel)."""
        cam = self.system.camera
        if noise is not None:
            cam = dataclasses.replace(cam, noise=bool(noise))
        cin = self.geom["in_channels"]
        sums = {}
        for k, v in enumerate(self.fields(images)):
            fr = cam.detect(v, self.hw.out_grid.pitch, self.system.wavelength, rng=self.rng)
            sums[k // cin] = fr if k // cin not in sums else sums[k // cin] + fr
        if not self.per_channel:
            return sums[0]
        return np.stack([sums[o] for o in sorted(sums)], axis=-3)

    def tiles(self, frame):
        """Channel tiles (B, Cout, th, tw) of camera frames (tiled: the layout's tiles; per channel:
        the frames themselves)."""
        k = self.hw.geometry.camera_factor
        if self.per_channel:
            from optics4f.system.layout import TiledLayout

            return frame if k == 1 else TiledLayout(1, self.system.grid_shape).read_tiles(frame, k)[..., 0, :, :]
        return self.system.layout.read_tiles(frame, k)

    # -- electronics --------------------------------------------------------------------------------
    @property
    def feature_index(self) -> tuple:
        """(rows, columns): the tile pixels read as features 0..h-1, 0..w-1 (th//2 + h//2 - a: the 4f
        image is inverted about the tile centre)."""
        return self._iy, self._ix

    def counts_per_unit(self) -> np.ndarray:
        """K (ADU per unit of the student's |v|^2) for each input channel's frame."""
        cam, cfg = self.system.camera, self.system
        from optics4f.devices.detector import photon_energy

        area = cam.fill_factor * self.hw.out_grid.dx * self.hw.out_grid.dy
        cpi = cam.adu_per_electron * cam.quantum_efficiency * cam.exposure_time * area / photon_energy(cfg.wavelength)
        return cpi * cfg.illumination ** 2 * (cfg.f1 / cfg.f2) ** 2 * self.scale ** 2

    def dark_counts(self) -> float:
        """Black level plus dark signal of the summed frames, ADU."""
        cam = self.system.camera
        n = self.geom["in_channels"]  # exposures summed per tile
        k = float(self.hw.geometry.camera_factor)
        # a finer camera's counts are gathered onto output samples by area (TiledLayout.read_tiles):
        # 1/k^2 pixels, and their dark levels, per sample
        return n * (cam.offset + cam.adu_per_electron * cam.dark_current * cam.exposure_time) / (k * k)

    def features(self, tiles):
        """Student detector features (B, Cout, h/b, w/b) (torch float32) from camera tiles (ADU)."""
        import torch

        k = self.counts_per_unit()
        if not np.allclose(k, k[0]):
            raise ValueError("input channels with different encoding scales cannot share one electronic gain; "
                             "encode them with a common scale")
        t = (np.asarray(tiles, dtype=np.float64) - self.dark_counts()) / k[0]
        f = t[..., self._iy[:, None], self._ix[None, :]]
        f = torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32))
        return self.model.detector.bin(f)

    def backend(self, features):
        """Logits of the student's electronic back end on detector features (torch)."""
        import torch
        from torch import nn

        m = self.model
        with torch.no_grad():
            if hasattr(m, "backend"):
                return m.backend(features)
            out = m.decoder(features)
            h, w = self.geom["image_size"]
            if out.shape[-2:] != (h, w):
                out = nn.functional.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
            return out

    def __call__(self, images, noise: bool | None = None):
        """(logits, tiles): the back end's logits (torch) and the camera tiles (ADU) of images."""
        tiles = self.tiles(self.camera_frame(images, noise))
        return self.backend(self.features(tiles)), tiles


def _as_images(images, cin):
    a = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] != cin:
        raise ValueError(f"images must be (B, {cin}, h, w), got {a.shape}")
    return np.clip(a.astype(np.float64), 0.0, 1.0)
