"""Camera model: intensity, pixel integration, photoelectrons, noise, saturation, ADC.

The chain (each step a small pure function on NumPy/CuPy arrays, so the torch
bridge can wrap them one by one)::

    field u (sqrt(W)/m) --intensity--> |u|^2 (W/m^2)
      --bin_pixels--> power per camera pixel (W): irradiance integrated over the
                      active area of each pixel (fill factor), sum I * dA
      --mean_electrons--> expected photoelectrons: QE * P t / (h c / lambda) + dark * t
      --noise--> Poisson shot noise (signal and dark) + Gaussian read noise (e- rms),
                 or the Gaussian reparameterisation mean + sqrt(mean + s_r^2) * eps
      --saturate--> clip at the full-well capacity (e-)
      --adc--> counts = clip(round(F * (g e / F)^gamma + offset), 0, 2^bits - 1), F = 2^bits - 1

Geometry: the simulated output plane has pitch d (metres); the camera pitch
must be an integer multiple k * d (the error says which pitch to use). The
camera is centred on the optical axis (pixel j of N centred at
(j - N//2) * pitch, the convention of :mod:`optics4f.devices.render`); a
camera larger than the simulated window sees no light outside it. The fill
factor is the active *area* fraction of a pixel (as camera datasheets quote
it), a centred square of side sqrt(fill) * pitch; samples straddling its
edge count with their overlap fraction.

Randomness comes only from a generator passed in (``numpy.random.Generator``,
or ``cupy.random.Generator`` for CuPy arrays; :func:`make_rng` builds one from
a seed), so every noisy frame is reproducible.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import constants

from ..backend import get_xp
from ..typing import Array, DTypeLike, Pitch, Seed, Shape2
from .shot_noise import normal_deviates, poisson_counts

__all__ = [
    "Camera",
    "make_rng",
    "intensity",
    "pixel_factor",
    "bin_pixels",
    "photon_energy",
    "mean_electrons",
    "poisson_sample",
    "standard_normal",
    "shot_noise_reparam",
    "gaussian_noise_reparam",
    "saturate",
    "adc",
]


# -- pure functions --------------------------------------------------------------------------
def make_rng(seed: Seed = None, like: Array | None = None) -> Any:
    """A random generator for the backend of ``like``: the generator itself if one is given
    (a NumPy generator meeting CuPy data seeds a CuPy one from its stream, so runs stay
    reproducible), else ``numpy.random.default_rng(seed)`` (``cupy.random.default_rng`` for CuPy)."""
    xp = get_xp(like) if like is not None else np
    if seed is not None and hasattr(seed, "standard_normal"):
        if xp is not np and isinstance(seed, np.random.Generator):
            return xp.random.default_rng(int(seed.integers(2**63 - 1)))
        return seed
    return xp.random.default_rng(seed)


def intensity(u: Array) -> Array:
    """|u|^2 (W/m^2 for a field in sqrt(W)/m); real, float32 for complex64 input."""
    xp = get_xp(u)
    if u.dtype.kind != "c":
        return xp.square(u)
    out = xp.square(u.real)  # avoids the sqrt of abs
    out += xp.square(u.imag)
    return out


def pixel_factor(camera_pitch: float, sample_pitch: float, name: str = "camera pitch") -> int | float:
    """Sampled-plane samples per camera pixel, camera_pitch / sample_pitch: an ``int`` when it is
    whole (relative tolerance 1e-6), else a ``float`` (pixels integrate any ratio by area,
    :mod:`optics4f.devices.render`)."""
    from .render import pitch_ratio

    return pitch_ratio(camera_pitch, sample_pitch, name=name)[0]


def bin_pixels(irradiance: Array, sample_pitch: Pitch, camera_shape: Shape2, k: float | tuple[float, float],
               fill_factor: float = 1.0) -> Array:
    """Power on each camera pixel, W: the irradiance (..., ny, nx) in W/m^2, sampled at
    ``sample_pitch`` (m, scalar or (dy, dx)), integrated over the active area of pixels
    of k samples (scalar or (ky, kx); any positive ratio, not only integers). Returns
    (..., *camera_shape).

    The camera is centred on the optical axis like a ``Grid`` (pixel j centred at
    (j - N//2) * pitch) and samples on a pixel edge are shared by area, the geometry
    of :mod:`optics4f.devices.render` (this is its adjoint, the pixel sum). Energy is
    conserved for a fill factor 1 when the camera covers the plane.
    """
    from .render import render_pixels_adjoint

    dy, dx = np.broadcast_to(np.asarray(sample_pitch, dtype=np.float64), (2,))
    area = irradiance.dtype.type(dy * dx)
    if np.all(np.asarray(k) == 1) and fill_factor == 1 and tuple(irradiance.shape[-2:]) == tuple(camera_shape):
        return irradiance * area
    # The render module's fill factor is linear per axis; ours is the area fraction.
    return render_pixels_adjoint(irradiance, k, camera_shape, float(np.sqrt(fill_factor))) * area


def photon_energy(wavelength: float) -> float:
    """h c / lambda, joules per photon (wavelength in metres)."""
    from ..validate import physical

    return constants.h * constants.c / physical("wavelength", wavelength)


def mean_electrons(power: Array, wavelength: float, exposure_time: float, quantum_efficiency: float = 1.0,
                   dark_current: float = 0.0) -> Array:
    """Expected photoelectrons per pixel: QE * P t / (h c / lambda) + dark_current * t.

    ``power`` in W, ``exposure_time`` in s, ``dark_current`` in e-/s.
    """
    scale = quantum_efficiency * exposure_time / photon_energy(wavelength)
    # Python-float scalars keep the array's precision (NumPy 2 and torch alike), so the torch bridge runs
    # this same formula on tensors (docs/architecture.md, "One hardware pipeline").
    out = power * scale
    if dark_current:
        out += dark_current * exposure_time  # in place: out is ours
    return out


def poisson_sample(mean: Array, rng: Any) -> Array:
    """Exact Poisson sample with the given mean (electrons; negative means give 0); float array
    of the dtype of ``mean``. NumPy arrays use the compiled sampler of
    :mod:`optics4f.devices.shot_noise`, keyed by one draw from ``rng``; CuPy arrays ``rng.poisson``."""
    xp = get_xp(mean)
    if xp is np and mean.dtype in (np.float32, np.float64):
        return poisson_counts(mean, int(rng.integers(0, 2**63)))
    lam = xp.maximum(mean, 0).astype(np.float64)
    return rng.poisson(lam).astype(mean.dtype)


def standard_normal(shape: tuple[int, ...], rng: Any, dtype: DTypeLike = np.float32) -> Array:
    """N(0, 1) samples of ``shape`` from ``rng`` (the eps of the reparameterised noise, and read
    noise). A NumPy generator gives one key to :func:`~optics4f.devices.shot_noise.normal_deviates`
    (float32/float64; faster than its own sampler: docs/results.md#measurements); a CuPy one samples itself."""
    dtype = np.dtype(dtype)
    if isinstance(rng, np.random.Generator) and dtype in (np.float32, np.float64):
        return normal_deviates(shape, int(rng.integers(0, 2**63)), dtype)
    if dtype in (np.float32, np.float64):
        return rng.standard_normal(shape, dtype=dtype)  # float32 directly: no float64 pass
    return rng.standard_normal(shape).astype(dtype)


def shot_noise_reparam(mean: Array, eps: Array) -> Array:
    """Gaussian approximation of shot noise, mean + sqrt(mean) * eps (differentiable in mean)."""
    xp = get_xp(mean)
    return mean + xp.sqrt(xp.maximum(mean, 0)) * eps


def gaussian_noise_reparam(mean: Array, read_noise: float, eps: Array) -> Array:
    """Shot + read noise as one Gaussian: mean + sqrt(mean + read_noise^2) * eps (electrons)."""
    xp = get_xp(mean)
    return mean + xp.sqrt(xp.maximum(mean, 0) + mean.dtype.type(read_noise) ** 2) * eps


def saturate(electrons: Array, full_well: float) -> Array:
    """Clip at the full-well capacity (e-); negative values (read noise) pass to the ADC."""
    xp = get_xp(electrons)
    return xp.minimum(electrons, electrons.dtype.type(full_well))


def adc(electrons: Array, gain: float, bit_depth: int | None, offset: float = 0.0, gamma: float = 1.0) -> Array:
    """Counts (ADU, float array of integer values) from electrons.

    signal = gain * e (ADU; ``gain`` in ADU/e-); with ``gamma`` != 1 the
    signal is mapped as F * (signal / F)^gamma, F = 2^bits - 1 the full scale;
    then ``offset`` (black level, ADU) is added, rounded to the nearest
    integer and clipped to [0, F]. ``bit_depth=None`` returns the analogue
    signal (no rounding, no clipping).
    """
    xp = get_xp(electrons)
    t = electrons.dtype.type
    s = electrons * t(gain)
    if bit_depth is None:
        if gamma != 1:
            s = xp.maximum(s, 0) ** t(gamma)
        return s + t(offset)
    full = float(2 ** int(bit_depth) - 1)
    if gamma != 1:
        s = t(full) * (xp.clip(s, 0, full) / t(full)) ** t(gamma)
    if not isinstance(s, xp.ndarray):  # a scalar
        return xp.clip(xp.rint(s + t(offset)), 0, t(full))
    s += t(offset)  # in place on our own array: a camera frame is 4-8 bytes a pixel per pass
    xp.rint(s, out=s)
    return xp.clip(s, 0, t(full), out=s)


# -- the camera --------------------------------------------------------------------------------
def _check(name, value, ok, hint):
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid: {hint}")


@dataclass
class Camera:
    """An image sensor. All settings are plain numbers so configurations serialise.

    Attributes
    ----------
    shape : (ny, nx)
        Pixels.
    pixel_pitch : float
        Metres (square pixels); an integer multiple of the simulated plane's pitch.
    fill_factor : float
        Active area fraction of a pixel, (0, 1].
    quantum_efficiency : float
        Electrons per photon, [0, 1].
    exposure_time : float
        Seconds.
    read_noise : float
        Electrons rms (Gaussian).
    dark_current : float
        Electrons per second per pixel (its mean is always added; its shot noise with ``noise``).
    full_well : float
        Electrons; clipped above.
    bit_depth : int or None
        ADC bits (1-16); None: analogue output (no rounding or clipping).
    gain : float or None
        ADU per electron; None: full well maps to full scale, (2^bits - 1) / full_well
        (1 ADU/e- for an analogue camera).
    offset : float
        Black level, ADU.
    gamma : float
        Response exponent (1: linear).
    noise : bool
        Shot and read noise on; False gives the expected (noise-free) signal.
    noise_model : "poisson" or "gaussian"
        Exact Poisson shot noise, or the Gaussian reparameterisation
        mean + sqrt(mean + read_noise^2) * eps (what a gradient can flow through).
    """

    shape: tuple = (512, 512)
    pixel_pitch: float = 5.0e-6
    fill_factor: float = 1.0
    quantum_efficiency: float = 1.0
    exposure_time: float = 1.0e-3
    read_noise: float = 0.0
    dark_current: float = 0.0
    full_well: float = 1.0e4
    bit_depth: int | None = 12
    gain: float | None = None
    offset: float = 0.0
    gamma: float = 1.0
    noise: bool = True
    noise_model: str = "poisson"

    def __post_init__(self):
        from ..validate import check_memory, physical, shape2

        self.shape = shape2("shape", self.shape)
        check_memory(16.0 * self.shape[0] * self.shape[1], f"a {self.shape[0]} x {self.shape[1]} pixel camera",
                     "give the sensor's real pixel count")
        self.pixel_pitch = physical("pixel_pitch", self.pixel_pitch, "pitch")
        for name in ("pixel_pitch", "exposure_time", "full_well"):
            v = getattr(self, name)
            _check(name, v, np.isfinite(v) and v > 0, "must be positive and finite (SI units)")
        _check("fill_factor", self.fill_factor, 0 < self.fill_factor <= 1, "active area fraction in (0, 1]")
        _check("quantum_efficiency", self.quantum_efficiency, 0 <= self.quantum_efficiency <= 1,
               "electrons per photon in [0, 1]")
        for name in ("read_noise", "dark_current"):
            v = getattr(self, name)
            _check(name, v, np.isfinite(v) and v >= 0, "must be >= 0")
        if self.bit_depth is not None:
            _check("bit_depth", self.bit_depth, float(self.bit_depth).is_integer() and 1 <= self.bit_depth <= 16,
                   "an integer 1-16, or None for an analogue output")
            self.bit_depth = int(self.bit_depth)
        if self.gain is not None:
            _check("gain", self.gain, np.isfinite(self.gain) and self.gain > 0, "ADU per electron, > 0 (or None)")
        _check("offset", self.offset, np.isfinite(self.offset), "black level in ADU, finite")
        _check("gamma", self.gamma, np.isfinite(self.gamma) and self.gamma > 0, "must be > 0 (1 = linear)")
        _check("noise_model", self.noise_model, self.noise_model in ("poisson", "gaussian"),
               "choose 'poisson' or 'gaussian'")

    @property
    def full_scale(self) -> float | None:
        """2^bits - 1 ADU, or None for an analogue camera."""
        return None if self.bit_depth is None else float(2 ** self.bit_depth - 1)

    @property
    def adu_per_electron(self) -> float:
        """The ADC gain in use (ADU/e-)."""
        if self.gain is not None:
            return float(self.gain)
        return 1.0 if self.bit_depth is None else self.full_scale / self.full_well

    @property
    def size(self) -> tuple:
        """Sensor extent (height, width), metres."""
        return self.shape[0] * self.pixel_pitch, self.shape[1] * self.pixel_pitch

    # -- steps ------------------------------------------------------------------------------
    def samples_per_pixel(self, sample_pitch: Pitch) -> tuple[int | float, int | float]:
        """(ky, kx) samples of a plane sampled at ``sample_pitch`` (m, scalar or (dy, dx)) per camera pixel
        (:func:`pixel_factor`: ints when whole, floats otherwise)."""
        dy, dx = np.broadcast_to(np.asarray(sample_pitch, dtype=np.float64), (2,))
        return pixel_factor(self.pixel_pitch, dy), pixel_factor(self.pixel_pitch, dx)

    def pixel_power(self, u: Array, sample_pitch: Pitch) -> Array:
        """Power per pixel (W), (..., *shape), of the field ``u`` sampled at ``sample_pitch`` (m)."""
        dy, dx = np.broadcast_to(np.asarray(sample_pitch, dtype=np.float64), (2,))
        return bin_pixels(intensity(u), (dy, dx), self.shape, self.samples_per_pixel((dy, dx)), self.fill_factor)

    def mean_electrons(self, u: Array, sample_pitch: Pitch, wavelength: float) -> Array:
        """Expected electrons per pixel (signal and dark), before noise and saturation.

        A field holding NaN or Inf is refused (it would digitise to arbitrary counts)."""
        from ..validate import finite_array

        out = mean_electrons(self.pixel_power(u, sample_pitch), wavelength, self.exposure_time,
                             self.quantum_efficiency, self.dark_current)
        return finite_array("u (the field on the camera)", out)

    def electrons(self, mean: Array, rng: Seed = None) -> Array:
        """Noisy electrons from their mean (noise off: the mean); not yet saturated."""
        if not self.noise:
            return mean
        rng = make_rng(rng, like=mean)
        if isinstance(mean, np.ndarray) and mean.dtype in (np.float32, np.float64):
            return self._noisy(mean, *self._noise_keys(rng))
        if self.noise_model == "gaussian":  # CuPy
            eps = standard_normal(mean.shape, rng, mean.dtype)
            return gaussian_noise_reparam(mean, self.read_noise, eps)
        e = poisson_sample(mean, rng)
        if self.read_noise:
            e = e + standard_normal(mean.shape, rng, mean.dtype) * mean.dtype.type(self.read_noise)
        return e

    @staticmethod
    def _noise_keys(rng):
        """The stream keys (shot noise, normal deviates) of one noisy readout, drawn from ``rng``."""
        shot, normal = rng.integers(0, 2**63, size=2)
        return int(shot), int(normal)

    def _noisy(self, mean, shot_key: int, normal_key: int, offset: int = 0):
        """Noisy electrons of NumPy means from stream keys (:mod:`.shot_noise`); ``offset``: stream
        position of the first element, so that blocks of a batch draw what the whole batch would."""
        if self.noise_model == "gaussian":
            eps = normal_deviates(mean.shape, normal_key, mean.dtype, offset)
            return gaussian_noise_reparam(mean, self.read_noise, eps)
        e = poisson_counts(mean, shot_key, offset=offset)
        if self.read_noise:
            z = normal_deviates(mean.shape, normal_key, mean.dtype, offset)
            z *= mean.dtype.type(self.read_noise)
            e += z
        return e

    def digitize(self, electrons: Array) -> Array:
        """Saturate at the full well and convert to counts (ADU)."""
        return adc(saturate(electrons, self.full_well), self.adu_per_electron, self.bit_depth, self.offset,
                   self.gamma)

    def detect(self, u: Array, sample_pitch: Pitch, wavelength: float, rng: Seed = None) -> Array:
        """Camera frame (ADU, real float array (..., *shape)) of the field ``u`` (sqrt(W)/m).

        ``rng``: a generator or a seed (None: fresh entropy; pass one for reproducible frames).
        """
        if u.dtype.kind not in "fc":
            raise TypeError(f"u must be a complex (or real) field, got dtype {u.dtype}")
        if self.noise and isinstance(u, np.ndarray) and u.ndim >= 3 and int(np.prod(u.shape[:-2])) > 1:
            return self._detect_frames(u, sample_pitch, wavelength, rng)
        mean = self.mean_electrons(u, sample_pitch, wavelength)
        return self.digitize(self.electrons(mean, rng))

    def _detect_frames(self, u, sample_pitch, wavelength, rng):
        """:meth:`detect` of a batch in blocks of frames on the FFT threads (the samplers and NumPy's
        ufuncs release the GIL). Each block draws at its own stream offset, so the frames equal
        ``digitize(electrons(mean_electrons(u), rng))`` whatever the thread count."""
        from ..fft import get_fft_threads, map_on_pool

        keys = self._noise_keys(make_rng(rng))
        flat = u.reshape((-1,) + u.shape[-2:])
        n, per_frame = flat.shape[0], int(np.prod(self.shape))
        size = -(-n // (2 * get_fft_threads()))  # two blocks per thread: a free thread takes the next
        starts = range(0, n, size)

        out = []  # the result, allocated by the first block done (its dtype and frame shape)
        lock = threading.Lock()

        def work(indices):
            for b in indices:
                f0 = starts[b]
                mean = self.mean_electrons(flat[f0:f0 + size], sample_pitch, wavelength)
                frames = self.digitize(self._noisy(mean, *keys, offset=f0 * per_frame))
                with lock:
                    if not out:
                        out.append(np.empty((n,) + frames.shape[1:], frames.dtype))
                out[0][f0:f0 + size] = frames

        map_on_pool(work, range(len(starts)), dynamic=True)  # a block does not depend on who draws it
        return out[0].reshape(u.shape[:-2] + out[0].shape[1:])

    def detect_mean(self, u: Array, sample_pitch: Pitch, wavelength: float) -> Array:
        """Noise-free frame: the expected signal digitised (ADU)."""
        return self.digitize(self.mean_electrons(u, sample_pitch, wavelength))
