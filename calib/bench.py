"""A simulated bench: a small hardware 4f system with injected errors that renders camera frames.

The calibration examples and tests use it in place of a lab: it builds an
:class:`optics4f.system.SystemConfig` (display -> lens f1 -> Fourier SLM ->
lens f2 -> camera) whose devices carry *true* errors (a nonlinear LUT, a
rotation, a shift, fringing, defocus, ...), and records the frames a camera
would for the probe patterns a calibration routine asks for: SLM frames
(gray levels), input images, or both. Frames include shot and read noise from
a seeded generator, so every run is reproducible.

Geometry of :func:`bench_config` (chosen so that every pitch is a whole
number of simulation samples): input pitch d = display pitch, ``n`` x ``n``
samples padded by ``pad`` to M; the Fourier samples have pitch
lambda f1 / (M d) and one SLM pixel spans ``slm_samples`` of them
(f1 = p_slm M d / (slm_samples lambda)); f2 = f1 (unit magnification); one
camera pixel per output sample (pitch d). A grating of nu cycles per SLM pixel
sends its first order to nu * M / slm_samples output samples from the axis.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from optics4f.devices.detector import Camera
from optics4f.devices.display import InputDisplay
from optics4f.devices.slm import SLM, gray_dtype
from optics4f.system import Hardware4f, Misalignment, SystemConfig
from optics4f.grid import padded_size

__all__ = ["bench_config", "default_camera", "SimulatedBench"]


def default_camera(n: int, pitch: float, **changes) -> Camera:
    """A 12-bit scientific camera: 20 000 e- full well, 4 e- read noise, QE 0.7, 100 ADU black level,
    Poisson shot noise (``changes`` override any setting)."""
    settings = dict(shape=(n, n), pixel_pitch=pitch, quantum_efficiency=0.7, exposure_time=1e-3, read_noise=4.0,
                    dark_current=0.0, full_well=2.0e4, bit_depth=12, offset=100.0, noise=True,
                    noise_model="poisson")
    settings.update(changes)
    return Camera(**settings)


def bench_config(n: int = 64, *, pad: float = 2.0, slm_samples: int = 2, wavelength: float = 633e-9,
                 pitch: float = 8e-6, slm: SLM | dict | None = None, camera: Camera | dict | None = None,
                 misalignment: Misalignment | dict | None = None, display_pixels: int | None = None,
                 **changes) -> SystemConfig:
    """SystemConfig of a small 4f bench (see the module docstring for its geometry).

    Parameters
    ----------
    n : int
        Samples per side of the input/output plane (and camera pixels).
    pad : float
        Zero padding; the Fourier plane has M = padded_size(n, pad) samples.
    slm_samples : int
        Fourier samples per SLM pixel (2 or more to render fill factor and fringing).
    wavelength, pitch : float
        Metres; ``pitch`` is the display, SLM and camera pixel pitch.
    slm, camera, misalignment : objects or dicts of settings overriding the defaults
        (the SLM defaults to a phase panel covering the Fourier plane, 8 bits).
    display_pixels : int, optional
        Display side in pixels (default: what the SLM pixel replicas leave free, min(n, M/slm_samples)).
    changes : other SystemConfig settings.
    """
    n, k = int(n), int(slm_samples)
    if n < 8 or n % 2:
        raise ValueError(f"n must be an even number of samples >= 8, got {n!r}")
    if k < 1:
        raise ValueError(f"slm_samples must be a positive integer (Fourier samples per SLM pixel), got {slm_samples!r}")
    m = padded_size(n, pad)
    if m % k:
        raise ValueError(f"the padded size {m} is not a multiple of slm_samples={k}; change n, pad or slm_samples")
    f1 = pitch * m * pitch / (k * wavelength)
    res = (m // k, m // k)
    if not isinstance(slm, SLM):
        slm = SLM(**(dict(resolution=res, pitch=pitch, mode="phase", bit_depth=8) | dict(slm or {})))
    cam = camera if isinstance(camera, Camera) else default_camera(n, pitch, **(camera or {}))
    mis = misalignment if isinstance(misalignment, Misalignment) else Misalignment(**(misalignment or {}))
    dp = int(display_pixels) if display_pixels is not None else min(n, m // k)
    display = InputDisplay(resolution=(dp, dp), pitch=pitch, bit_depth=8)
    return SystemConfig(wavelength=wavelength, f1=f1, f2=f1, grid_shape=(n, n), oversample=1, pad=pad,
                        display=display, slm=slm, camera=cam, misalignment=mis,
                        encoding="phase", **changes)


class SimulatedBench:
    """Renders the camera frames of a :class:`SystemConfig` for displayed probe patterns.

    Parameters
    ----------
    config : SystemConfig
        The *true* system (with its errors); see :func:`bench_config`.
    seed : int
        Seed of the camera noise.
    """

    def __init__(self, config: SystemConfig, seed: int = 0):
        if not isinstance(config, SystemConfig):
            raise TypeError(f"config must be a SystemConfig (see calib.bench.bench_config), got "
                            f"{type(config).__name__}")
        self.config = config
        self.system = Hardware4f(config)
        self.rng = np.random.default_rng(seed)

    # -- geometry helpers --------------------------------------------------------------------------
    @property
    def slm(self) -> SLM:
        return self.config.slm

    @property
    def camera(self) -> Camera:
        return self.config.camera

    @property
    def slm_samples(self) -> int:
        """Fourier samples per SLM pixel (x)."""
        return self.system.geometry.slm_factor[1]

    @property
    def order_spacing(self) -> float:
        """Camera pixels per (cycle per SLM pixel) of a grating: lambda f2 / (p_slm * camera pitch)."""
        c = self.config
        return c.wavelength * c.f2 / (c.slm.pitch * c.camera.pixel_pitch)

    @property
    def camera_center(self) -> tuple:
        """(row, col) of the optical axis on the camera (pixel N//2, the Grid convention)."""
        return tuple(float(s // 2) for s in self.camera.shape)

    def replace(self, seed: int | None = None, **changes) -> "SimulatedBench":
        """A bench with some SystemConfig settings changed (same noise generator unless ``seed``)."""
        b = SimulatedBench(self.config.replace(**changes))
        b.rng = self.rng if seed is None else np.random.default_rng(seed)
        return b

    def with_misalignment(self, **changes) -> "SimulatedBench":
        """A bench with misalignment settings changed (e.g. a camera moved by a stage: camera_defocus)."""
        return self.replace(misalignment=dataclasses.replace(self.config.misalignment, **changes))

    # -- probe images on the input display --------------------------------------------------------------
    def point_image(self, offset=(0, 0)):
        """Display image (float, display shape) with one lit pixel ``offset`` (rows, cols) from the centre:
        it lights the SLM with an almost plane wave (the Fourier probe of gratings)."""
        img = np.zeros(self.config.display.resolution)
        cy, cx = (r // 2 for r in img.shape)
        img[cy + int(offset[0]), cx + int(offset[1])] = 1.0
        return img

    def gaussian_image(self, sigma: float = 1.2):
        """Display image with a centred Gaussian spot of ``sigma`` display pixels (peak 1): lights the SLM
        with a Gaussian of sigma = M / (2 pi sigma k) SLM pixels that the panel does not clip, so that
        the camera images of grating orders are Gaussians without ringing even at sub-pixel positions
        (a one-pixel point images to a sinc whose tails from neighbouring orders interfere)."""
        ny, nx = self.config.display.resolution
        y = (np.arange(ny) - ny // 2)[:, None]
        x = (np.arange(nx) - nx // 2)[None, :]
        return np.exp(-(x**2 + y**2) / (2.0 * float(sigma) ** 2))

    def window_image(self, size: int, pattern=None):
        """Display image with a lit centred square of ``size`` pixels (times ``pattern`` (size, size) in
        [0, 1] if given): focuses to a spot of about M/size Fourier samples on the SLM."""
        img = np.zeros(self.config.display.resolution)
        cy, cx = (r // 2 for r in img.shape)
        h = int(size) // 2
        img[cy - h:cy - h + int(size), cx - h:cx - h + int(size)] = 1.0 if pattern is None else pattern
        return img

    def uniform_frame(self, gray: int = 0):
        """SLM frame (panel shape) of one gray level."""
        return np.full(self.slm.resolution, int(gray), dtype=gray_dtype(self.slm.bit_depth))

    # -- rendering -------------------------------------------------------------------------------------
    def fields(self, slm_frames, images):
        """Output fields (n, ny, nx) (sqrt(W)/m, output plane) of SLM frames (n, *panel) and display
        images ((h, w) for all frames or (n, h, w), float in [0, 1])."""
        frames = np.asarray(slm_frames)
        if frames.ndim == 2:
            frames = frames[None]
        imgs = np.asarray(images, dtype=np.float64)
        if imgs.ndim == 2:
            u = self.system.input_field(imgs)
            fields = [self.system.propagate(u, self.system.fourier_mask(frame=f)) for f in frames]
        else:
            if imgs.shape[0] != frames.shape[0]:
                raise ValueError(f"give one image, or one per SLM frame: {imgs.shape[0]} images for "
                                 f"{frames.shape[0]} frames")
            fields = [self.system.propagate(self.system.input_field(i), self.system.fourier_mask(frame=f))
                      for f, i in zip(frames, imgs)]
        return np.stack(fields)

    def record(self, slm_frames, images, noise: bool = True) -> np.ndarray:
        """Camera frames (n, h, w), float64 ADU, with shot and read noise (``noise=False``: the mean)."""
        v = self.fields(slm_frames, images)
        cam = self.camera
        g = self.system.out_grid.pitch
        out = cam.detect(v, g, self.config.wavelength, rng=self.rng) if noise else \
            cam.detect_mean(v, g, self.config.wavelength)
        return np.asarray(out, dtype=np.float64)

    def dark_frame(self, n_average: int = 8) -> np.ndarray:
        """Mean of ``n_average`` frames with the display dark (h, w), ADU: the black level to subtract."""
        e = np.full((int(n_average),) + tuple(self.camera.shape),
                    self.camera.dark_current * self.camera.exposure_time, dtype=np.float32)
        frames = self.camera.digitize(self.camera.electrons(e, self.rng))  # read (and dark shot) noise
        return np.asarray(frames, dtype=np.float64).mean(axis=0)

    def set_exposure(self, slm_frame, image, peak: float = 0.6) -> "SimulatedBench":
        """Set the exposure time so that the brightest pixel of the noise-free frame of this probe
        collects ``peak`` x full well (what a lab does before a calibration run). Returns self."""
        if not 0 < peak < 1:
            raise ValueError(f"peak must be a fraction of the full well in (0, 1), got {peak!r}")
        cam = self.camera
        v = self.fields(slm_frame, image)
        e = cam.mean_electrons(v, self.system.out_grid.pitch, self.config.wavelength)
        top = float(np.max(e)) - cam.dark_current * cam.exposure_time
        if top <= 0:
            raise ValueError("the probe puts no light on the camera; cannot set an exposure")
        t = cam.exposure_time * peak * cam.full_well / top
        self.config = self.config.replace(camera=dataclasses.replace(cam, exposure_time=t))
        self.system = Hardware4f(self.config)
        return self
