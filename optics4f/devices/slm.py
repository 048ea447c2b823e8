"""Spatial light modulator (SLM) model: gray levels <-> phase or amplitude, and the rendered mask.

API summary
-----------
Pure functions (arrays in, arrays out; NumPy or CuPy; the torch bridge wraps them):

* ``quantize(x, bit_depth, method)``: real gray values -> integer levels 0..2^bits-1.
* ``linear_phase_lut(bit_depth, gray_2pi, sign)``: phase (rad) of every gray level of a linear panel.
* ``gray_to_phase(gray, lut, scale)``: lookup, times the wavelength scale lambda_design/lambda.
* ``phase_to_gray_linear(phase, bit_depth, gray_2pi, sign, method, scale)``: the inverse of a linear
  panel, wrapped to one period, quantised (floor or round) and clipped to the bit depth.
* ``invert_lut(values, lut, method, period)``: inverse of any strictly monotonic table (phase
  LUTs with ``period``, amplitude LUTs without).
* ``check_lut(lut, bit_depth, name)``: validation of a measured table.
* ``fringing(phase, sigma_px)``: Gaussian smoothing of a phase map (fringing-field crosstalk).

Device class (a plain dataclass of numbers, strings, tuples and optional arrays, so that
``dataclasses.fields`` can serialise it):

* ``SLM(resolution, pitch, mode, bit_depth, gray_2pi, sign, quantization, lut, design_wavelength,
  flatness, fill_factor, dead_zone, fringing_sigma, name)``
* ``slm.encode(target, wavelength)`` -> frame (uint8/uint16 gray levels, the panel's resolution);
  ``phase_to_gray`` / ``amplitude_to_gray`` are the mode-specific forms.
* ``slm.modulation(frame, wavelength)`` -> complex value of each pixel (panel resolution).
* ``slm.transmission(frame, grid, wavelength)`` -> complex mask on a simulation grid (pixel
  rendering, fill factor, dead zone, fringing), e.g. on ``FourF.fourier_grid``.
* ``slm.mask(target, grid, wavelength)`` = ``transmission(encode(target))``.

Conventions
-----------
* Modes: ``'phase'`` (LCoS, phase-only), ``'amplitude'`` (amplitude in [0, 1]), ``'binary'``
  (DMD, 1 bit, amplitude 0 or 1), ``'complex'`` (ideal complex modulator, no quantisation:
  its "frame" is the complex array itself; for comparison).
* Phase is that of the field exp(+i phi) (docs/architecture.md#conventions). A linear panel shows
  phi(g) = sign * 2 pi g / gray_2pi at ``design_wavelength``; ``sign = -1`` means gray up = phase
  down (what a nematic LC does as the voltage rises, and the default), ``+1`` the reverse.
  A measured ``lut`` (length 2^bits, rad at the design wavelength, strictly monotonic)
  replaces the linear law (then ``gray_2pi`` and ``sign`` are not used).
* Wavelength scaling: at a working wavelength lambda the phase is phi(g) * lambda_d / lambda
  (optical path fixed; LC dispersion is neglected). ``design_wavelength=None`` means the panel
  is calibrated at whatever wavelength it is used at (scale 1).
* ``flatness`` (rad, panel shape) is the lab's wavefront-correction map, added to the requested
  phase *before* wrapping and quantisation, exactly as a lab adds it to its frames.
* Quantisation: ``'floor'`` takes the highest level not above the value, ``'round'`` the nearest
  (halves up; circularly nearest for phase). Phases a panel cannot reach at a long working
  wavelength (the gray for 2 pi beyond the top level) go to the top level ('floor') or to the
  circularly nearer of the top level and 0 ('round').
* Rendering (:mod:`optics4f.devices.render`): panel pixel pitch p = k * (simulation pitch), k
  an integer per axis; the panel is centred on the optical axis like a ``Grid`` of its own
  (pixel N//2 on the axis); samples outside the panel transmit 0. ``fill_factor`` is the
  *linear* active fraction of a pixel per axis (area fill factor = fill_factor^2). The dead
  zone between active areas is either ``'zero'`` (transmits nothing: DMD gaps, LCD black
  matrix) or ``'unmodulated'`` (reflects with unit amplitude and zero phase: the aluminium
  between LCoS pixels); ``'auto'`` picks 'unmodulated' for phase panels, 'zero' otherwise.
* Fringing: the LC director is continuous, so the displayed phase is smoothed by a Gaussian of
  standard deviation ``fringing_sigma`` (m) on the simulation grid before exp(i phi); for the
  amplitude and complex modes the modulated value is smoothed; a DMD (binary) has none.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import DEFAULT_COMPLEX, get_xp
from ..grid import Grid
from ..typing import Array, ArrayLike, DTypeLike, Shape2
from . import render
from ..validate import physical

__all__ = [
    "SLM",
    "MODES",
    "quantize",
    "gray_dtype",
    "check_bits",
    "check_quantization",
    "check_resolution",
    "linear_phase_lut",
    "gray_to_phase",
    "phase_to_gray_linear",
    "invert_lut",
    "check_lut",
    "fringing",
]

MODES = ("phase", "amplitude", "binary", "complex")
QUANTIZATION = ("floor", "round")
DEAD_ZONES = ("auto", "zero", "unmodulated")
_TWO_PI = 2.0 * np.pi
_EPS = 1e-6  # gray values within 1e-6 of a level count as that level (float round-off)


# ----------------------------------------------------------------------------- pure functions
def check_resolution(resolution: Shape2) -> tuple[int, int]:
    """(ny, nx) panel resolution in pixels as two positive ints; a clear error otherwise."""
    try:
        res = tuple(int(r) for r in resolution)
        ok = len(res) == 2 and min(res) >= 1 and all(float(r) == int(r) for r in resolution)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"resolution must be two positive integers (ny, nx) in pixels, got {resolution!r}")
    from ..validate import check_memory

    check_memory(16.0 * res[0] * res[1], f"a {res[0]} x {res[1]} pixel panel", "give the panel's real resolution")
    return res


def check_bits(bit_depth: int, name: str = "bit_depth") -> int:
    """``bit_depth`` as an int from 1 to 16; a ValueError naming ``name`` otherwise."""
    try:
        ok = not isinstance(bit_depth, (bool, str)) and float(bit_depth).is_integer() and 1 <= int(bit_depth) <= 16
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer from 1 to 16, got {bit_depth!r}")
    return int(bit_depth)


def gray_dtype(bit_depth: int) -> type[np.unsignedinteger]:
    """uint8 for up to 8 bits, uint16 up to 16 bits."""
    return np.uint8 if check_bits(bit_depth) <= 8 else np.uint16


def check_quantization(method: str) -> str:
    """Refuse a quantization method other than those of ``QUANTIZATION`` ('floor', 'round')."""
    if method not in QUANTIZATION:
        raise ValueError(f"quantization method must be one of {QUANTIZATION}, got {method!r}")


def _finite(a, name):
    xp = get_xp(a)
    if not bool(xp.isfinite(a).all()):
        raise ValueError(f"{name} contains NaN or Inf; clean it first (e.g. numpy.nan_to_num)")


def quantize(x: Array, bit_depth: int, method: str = "round") -> Array:
    """Integer gray levels of real gray values ``x`` (in units of one level), clipped to 0..2^bits-1.

    ``'floor'``: floor(x); ``'round'``: floor(x + 1/2) (halves go up). Values
    within 1e-6 (of one level) below a level or a half-way point count as on
    it, so exact levels and halves that went through float arithmetic keep
    their intended result. Returns uint8/uint16.
    """
    bits = check_bits(bit_depth)
    check_quantization(method)
    xp = get_xp(x)
    x = xp.asarray(x, dtype=np.float64)
    _finite(x, "x")
    g = xp.floor(x + (0.5 if method == "round" else 0.0) + _EPS)
    return xp.clip(g, 0, 2**bits - 1).astype(gray_dtype(bits))


def linear_phase_lut(bit_depth: int, gray_2pi: float, sign: int = -1) -> np.ndarray:
    """Phase (rad, float64) of every gray level 0..2^bits-1 of a linear panel: sign * 2 pi g / gray_2pi."""
    bits = check_bits(bit_depth)
    return sign * _TWO_PI * np.arange(2**bits, dtype=np.float64) / float(gray_2pi)


def gray_to_phase(gray: Array, lut: ArrayLike, scale: float = 1.0) -> Array:
    """Phase (rad, float64) shown by gray levels ``gray`` (integers) with table ``lut``, times ``scale``.

    ``scale`` = design_wavelength / wavelength.
    """
    xp = get_xp(gray)
    lut = xp.asarray(lut, dtype=np.float64)
    return lut[xp.asarray(gray).astype(np.intp)] * float(scale)


def phase_to_gray_linear(phase: Array, bit_depth: int, gray_2pi: float, sign: int = -1, method: str = "round",
                         scale: float = 1.0) -> Array:
    """Gray levels that show ``phase`` (rad, at the working wavelength) on a linear panel.

    x = gray_2pi * mod(sign * phase, 2 pi) / (2 pi * scale), quantised; levels
    above 2^bits-1 (only when scale < 1) go to the top level ('floor') or to
    the circularly nearer of the top level and 0 ('round').
    """
    bits = check_bits(bit_depth)
    check_quantization(method)
    xp = get_xp(phase)
    phase = xp.asarray(phase, dtype=np.float64)
    _finite(phase, "phase")
    top = 2**bits - 1
    x = float(gray_2pi) * xp.mod(sign * phase, _TWO_PI) / (_TWO_PI * float(scale))
    g = xp.floor(x + (0.5 if method == "round" else 0.0) + _EPS)
    if method == "round":
        period = float(gray_2pi) / float(scale)  # gray value equivalent to 2 pi at this wavelength
        g = xp.where((g > top) & (period - x < x - top), 0.0, g)
    return xp.clip(g, 0, top).astype(gray_dtype(bits))


def check_lut(lut: ArrayLike, bit_depth: int, name: str = "lut") -> np.ndarray:
    """Validate a gray-level table: 1-D, length 2^bit_depth, finite, strictly monotonic. Returns float64."""
    bits = check_bits(bit_depth)
    a = np.asarray(lut, dtype=np.float64) if not hasattr(lut, "get") else np.asarray(lut.get(), dtype=np.float64)
    if a.ndim != 1 or a.size != 2**bits:
        raise ValueError(f"{name} must be a 1-D table of 2^bit_depth = {2**bits} values (one per gray level), "
                         f"got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or Inf")
    d = np.diff(a)
    if not (np.all(d > 0) or np.all(d < 0)):
        bad = int(np.argmax(d <= 0) if d[0] > 0 else np.argmax(d >= 0))
        raise ValueError(f"{name} must be strictly monotonic (increasing or decreasing) to be invertible; it "
                         f"turns at gray level {bad + 1}. Smooth or fit the measured curve first")
    return a


def invert_lut(values: Array, lut: ArrayLike, method: str = "round", period: float | None = None) -> Array:
    """Gray levels whose table entries best match ``values`` (inverse of a strictly monotonic ``lut``).

    Parameters
    ----------
    values : array, float
        Wanted table values (rad for a phase table, in the table's units).
    lut : 1-D array (L,)
        Strictly monotonic table (increasing or decreasing).
    method : 'floor' | 'round'
        'floor': the level whose entry is the last one not past the value
        (in the table's direction); 'round': the nearest entry.
    period : float, optional
        For a phase table: values are first wrapped into [lut[0], lut[0] + period)
        (in the table's direction) and 'round' also considers level 0 one period up.
        Without it, values beyond the table go to its end levels.

    Returns uint8/uint16 levels (uint16 when L > 256).
    """
    check_quantization(method)
    xp = get_xp(values)
    values = xp.asarray(values, dtype=np.float64)
    _finite(values, "values")
    t = np.asarray(lut, dtype=np.float64)
    s = 1.0 if t[-1] > t[0] else -1.0
    ts = xp.asarray(s * t)  # increasing
    n = t.size
    if n > 2**16:
        raise ValueError(f"lut has {n} entries; gray levels are at most 16 bits (65536 entries)")
    y = s * values
    if period is not None:
        y = ts[0] + xp.mod(y - ts[0], float(period))
    tol = _EPS * float(abs(t[-1] - t[0])) / max(n - 1, 1)  # round-off guard, 1e-6 of a mean step
    idx = xp.searchsorted(ts, y + tol, side="right")
    lo = xp.clip(idx - 1, 0, n - 1)
    if method == "floor":
        g = lo
    else:
        hi = xp.clip(idx, 0, n - 1)
        d_lo = xp.abs(y - ts[lo])
        d_hi = xp.abs(ts[hi] - y)
        g = xp.where(d_hi < d_lo - tol, hi, lo)
        if period is not None:
            d_wrap = ts[0] + float(period) - y
            g = xp.where(d_wrap < xp.minimum(d_lo, d_hi) - tol, 0, g)
    return g.astype(gray_dtype(max(1, (n - 1).bit_length())))  # the bits that number n levels


def fringing(phase: Array, sigma_px: float | tuple[float, float], mode: str = "nearest") -> Array:
    """Fringing-field crosstalk: Gaussian smoothing of a phase map (rad) with ``sigma_px`` = (sy, sx) samples."""
    return render.smooth(phase, sigma_px, mode=mode)


# ----------------------------------------------------------------------------- device class
@dataclass(eq=False)
class SLM:
    """A pixelated spatial light modulator.

    Parameters (all SI)
    -------------------
    resolution : (ny, nx)
        Panel pixels (rows, columns).
    pitch : float
        Pixel pitch, m (square pixels).
    mode : 'phase' | 'amplitude' | 'binary' | 'complex'
    bit_depth : int
        1..16 bits (binary: 1).
    gray_2pi : float
        Gray level that gives 2 pi at the design wavelength (linear phase panels);
        0 < gray_2pi <= 2^bits - 1. Default: the top level.
    sign : -1 | +1
        -1: gray up = phase down (default); +1: gray up = phase up.
    quantization : 'floor' | 'round'
    lut : array (2^bits,) or None
        Measured table, strictly monotonic: phase (rad, design wavelength) per gray
        level in phase mode, amplitude (0..1) per gray level in amplitude mode.
    design_wavelength : float or None
        Wavelength (m) at which ``gray_2pi`` / ``lut`` hold; None: the working wavelength.
    flatness : array (ny, nx) or None
        Wavefront-correction phase (rad, working wavelength) added before quantisation.
    fill_factor : float
        Linear active fraction of a pixel per axis, (0, 1]; area fill factor = fill_factor^2.
    dead_zone : 'auto' | 'zero' | 'unmodulated'
        What the inactive area transmits (see the module docstring).
    fringing_sigma : float
        Standard deviation (m) of the fringing-field smoothing; 0 = none.
    name : str
        Label (preset name).
    """

    resolution: tuple = (1080, 1920)
    pitch: float = 8.0e-6
    mode: str = "phase"
    bit_depth: int = 8
    gray_2pi: float | None = None
    sign: int = -1
    quantization: str = "round"
    lut: np.ndarray | None = None
    design_wavelength: float | None = None
    flatness: np.ndarray | None = None
    fill_factor: float = 1.0
    dead_zone: str = "auto"
    fringing_sigma: float = 0.0
    name: str = "custom"

    def __post_init__(self):
        self.resolution = check_resolution(self.resolution)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        self.bit_depth = check_bits(self.bit_depth)
        if self.mode == "binary" and self.bit_depth != 1:
            raise ValueError(f"mode 'binary' (DMD) needs bit_depth=1, got {self.bit_depth}; use mode 'amplitude' "
                             "for a gray-level amplitude panel")
        self.pitch = physical("pitch", _positive(self.pitch, "pitch", "m"))
        top = 2**self.bit_depth - 1
        if self.gray_2pi is None:
            self.gray_2pi = top
        g2 = float(self.gray_2pi)
        if not np.isfinite(g2) or not 0 < g2 <= top:
            raise ValueError(f"gray_2pi must be in (0, 2^bit_depth - 1 = {top}] (the gray level of a 2 pi phase), "
                             f"got {self.gray_2pi!r}; raise bit_depth or lower gray_2pi")
        self.gray_2pi = int(g2) if g2.is_integer() else g2
        if self.sign not in (1, -1):
            raise ValueError(f"sign must be -1 (gray up = phase down) or +1 (gray up = phase up), got {self.sign!r}")
        self.sign = int(self.sign)
        check_quantization(self.quantization)
        if self.lut is not None:
            if self.mode not in ("phase", "amplitude"):
                raise ValueError(f"lut is only used in modes 'phase' and 'amplitude', not {self.mode!r}; set lut=None")
            self.lut = check_lut(self.lut, self.bit_depth, "lut")
            if self.mode == "amplitude" and (self.lut.min() < 0 or self.lut.max() > 1):
                raise ValueError("lut of an amplitude panel must hold amplitudes in [0, 1]")
        if self.design_wavelength is not None:
            self.design_wavelength = physical("design_wavelength", _positive(self.design_wavelength,
                                                                              "design_wavelength", "m"), "wavelength")
        if self.flatness is not None:
            f = np.asarray(self.flatness.get() if hasattr(self.flatness, "get") else self.flatness, dtype=np.float64)
            if f.shape != self.resolution:
                raise ValueError(f"flatness must have the panel shape {self.resolution} (rad per pixel), got {f.shape}")
            if not np.all(np.isfinite(f)):
                raise ValueError("flatness contains NaN or Inf")
            if self.mode != "phase":
                raise ValueError(f"flatness (a phase correction) needs mode 'phase', not {self.mode!r}")
            self.flatness = f
        ff = float(self.fill_factor)
        if not (np.isfinite(ff) and 0 < ff <= 1):
            raise ValueError(f"fill_factor must be in (0, 1] (linear active fraction per axis; area = fill_factor^2), "
                             f"got {self.fill_factor!r}")
        self.fill_factor = ff
        if self.dead_zone not in DEAD_ZONES:
            raise ValueError(f"dead_zone must be one of {DEAD_ZONES}, got {self.dead_zone!r}")
        fs = float(self.fringing_sigma)
        if not (np.isfinite(fs) and fs >= 0):
            raise ValueError(f"fringing_sigma must be >= 0 and finite (m), got {self.fringing_sigma!r}")
        if fs > 0 and self.mode == "binary":
            raise ValueError("a DMD (mode 'binary') has no fringing field; set fringing_sigma=0")
        self.fringing_sigma = fs
        self.name = str(self.name)

    def __eq__(self, other):
        """Field-by-field equality (arrays compared by value), for configuration round trips."""
        if type(other) is not type(self):
            return NotImplemented
        for f in dataclasses.fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # mutable, compared by value

    # -- derived properties -------------------------------------------------------------------
    @property
    def levels(self) -> int:
        """Number of gray levels, 2^bit_depth."""
        return 2**self.bit_depth

    @property
    def max_gray(self) -> int:
        return self.levels - 1

    @property
    def size(self) -> tuple:
        """Active panel extent (Ly, Lx), m."""
        return self.resolution[0] * self.pitch, self.resolution[1] * self.pitch

    @property
    def grid(self) -> Grid:
        """The panel as a :class:`Grid` (one sample per pixel)."""
        return Grid(self.resolution, self.pitch)

    @property
    def effective_dead_zone(self) -> str:
        if self.dead_zone != "auto":
            return self.dead_zone
        return "unmodulated" if self.mode == "phase" else "zero"

    @property
    def unmodulated_fraction(self) -> float:
        """Area fraction of the panel that transmits unmodulated light (1 - fill_factor^2 with an
        'unmodulated' dead zone, else 0): it images the input on the optical axis (zero order)."""
        return 1.0 - self.fill_factor ** 2 if self.effective_dead_zone == "unmodulated" else 0.0

    def replace(self, **changes: Any) -> SLM:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def wavelength_scale(self, wavelength: float | None = None) -> float:
        """lambda_design / lambda (1 without a design wavelength or a working wavelength)."""
        if wavelength is None or self.design_wavelength is None:
            return 1.0
        return self.design_wavelength / physical("wavelength", _positive(wavelength, "wavelength", "m"))

    def phase_lut(self) -> np.ndarray:
        """Phase (rad, design wavelength) of each gray level: the measured LUT or the linear law."""
        self._need("phase")
        return self.lut if self.lut is not None else linear_phase_lut(self.bit_depth, self.gray_2pi, self.sign)

    # -- frames ------------------------------------------------------------------------------
    def phase_to_gray(self, phase: Array, wavelength: float | None = None) -> Array:
        """Frame (uint8/uint16, panel shape, leading axes kept) that shows ``phase`` (rad) at ``wavelength``.

        The flatness correction is added first, then the phase is wrapped, converted
        (linear law or inverse LUT) and quantised.
        """
        self._need("phase")
        xp = get_xp(phase)
        phase = self._check_target(phase, "phase", real=True)
        if self.flatness is not None:
            phase = phase + xp.asarray(self.flatness)
        scale = self.wavelength_scale(wavelength)
        if self.lut is None:
            return phase_to_gray_linear(phase, self.bit_depth, self.gray_2pi, self.sign, self.quantization, scale)
        # table in working-wavelength units; one period is 2 pi there
        return invert_lut(phase, self.lut * scale, self.quantization, period=_TWO_PI)

    def gray_to_phase(self, frame: Array, wavelength: float | None = None) -> Array:
        """Phase (rad, float64) that the panel shows for ``frame`` at ``wavelength``."""
        self._need("phase")
        frame = self._check_frame(frame)
        return gray_to_phase(frame, self.phase_lut(), self.wavelength_scale(wavelength))

    def amplitude_to_gray(self, amplitude: Array) -> Array:
        """Frame for an amplitude target in [0, 1] (modes 'amplitude' and 'binary')."""
        if self.mode not in ("amplitude", "binary"):
            raise ValueError(f"amplitude_to_gray needs mode 'amplitude' or 'binary', this SLM is {self.mode!r}")
        xp = get_xp(amplitude)
        a = self._check_target(amplitude, "amplitude", real=True)
        if bool((a < -1e-12).any()) or bool((a > 1 + 1e-12).any()):
            raise ValueError("amplitude must lie in [0, 1]; normalise the target (e.g. a / a.max())")
        a = xp.clip(a, 0.0, 1.0)
        if self.lut is None:
            return quantize(a * self.max_gray, self.bit_depth, self.quantization)
        return invert_lut(a, self.lut, self.quantization).astype(gray_dtype(self.bit_depth))

    def gray_to_amplitude(self, frame: Array) -> Array:
        """Amplitude (float64, 0..1) of ``frame`` (modes 'amplitude' and 'binary')."""
        if self.mode not in ("amplitude", "binary"):
            raise ValueError(f"gray_to_amplitude needs mode 'amplitude' or 'binary', this SLM is {self.mode!r}")
        frame = self._check_frame(frame)
        xp = get_xp(frame)
        if self.lut is not None:
            return xp.asarray(self.lut)[frame.astype(np.intp)]
        return frame.astype(np.float64) / self.max_gray

    def encode(self, target: Array, wavelength: float | None = None) -> Array:
        """Frame for ``target``: a phase (rad) in mode 'phase', an amplitude (0..1) in 'amplitude'/'binary',
        a complex array (returned as complex128, no quantisation) in 'complex'."""
        if self.mode == "phase":
            return self.phase_to_gray(target, wavelength)
        if self.mode in ("amplitude", "binary"):
            return self.amplitude_to_gray(target)
        t = self._check_target(target, "target", real=False)
        return t.astype(np.complex128)

    def modulation(self, frame: Array, wavelength: float | None = None) -> Array:
        """Complex value (complex128) of each pixel for ``frame`` at ``wavelength`` (panel shape)."""
        xp = get_xp(frame)
        if self.mode == "phase":
            return xp.exp(1j * self.gray_to_phase(frame, wavelength))
        if self.mode in ("amplitude", "binary"):
            return self.gray_to_amplitude(frame).astype(np.complex128)
        return self._check_target(frame, "frame", real=False).astype(np.complex128)

    # -- rendering ---------------------------------------------------------------------------
    def samples_per_pixel(self, grid: Grid) -> tuple:
        """(ky, kx) simulation samples per panel pixel on ``grid`` (error unless integers)."""
        return render.pitch_ratio(self.pitch, grid.pitch, name=f"SLM {self.name!r} on the simulation grid")

    def transmission(self, frame: Array, grid: Grid, wavelength: float | None = None,
                     dtype: DTypeLike = DEFAULT_COMPLEX) -> Array:
        """Complex transmission (..., My, Mx) of ``frame`` on the simulation ``grid`` (centred order).

        Without fringing, each sample is the exact area average of the panel
        over its cell: t = dead * footprint + render(value - dead, fill_factor),
        dead = 1 ('unmodulated') or 0 ('zero'). With fringing in phase mode the
        *phase* is drawn on the grid (full pixels; for even k a sample on a pixel
        boundary takes the mean of the two phases), smoothed, then
        t = dead * footprint + coverage * (exp(i phi_s) - dead). The phase is
        smoothed as displayed, i.e. wrapped: a 2 pi jump between neighbours gives
        the fly-back region that real panels show. Leading axes of ``frame``
        are batch axes. ``wavelength`` (m) only matters with a design wavelength.
        """
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an optics4f.Grid, got {type(grid).__name__}")
        from ..ops import ARRAY_OPS
        from .slm_transmission import pixel_transmission

        return pixel_transmission(ARRAY_OPS, self, grid, self.shown(frame, wavelength), dtype)

    def shown(self, frame: Array, wavelength: float | None = None) -> Array:
        """What each pixel shows for ``frame`` (panel shape): the phase (rad, float64) of a phase panel,
        the complex value (complex128) otherwise; :func:`~optics4f.devices.slm_transmission.pixel_transmission`
        draws it on a simulation grid."""
        if self.mode == "phase":
            return self.gray_to_phase(frame, wavelength)
        return self.modulation(frame, wavelength)

    def mask(self, target: Array, grid: Grid, wavelength: float | None = None,
             dtype: DTypeLike = DEFAULT_COMPLEX) -> Array:
        """Rendered transmission of ``target`` (see :meth:`encode`) on ``grid``."""
        return self.transmission(self.encode(target, wavelength), grid, wavelength, dtype)

    # -- checks ------------------------------------------------------------------------------
    def _need(self, mode):
        if self.mode != mode:
            raise ValueError(f"this operation needs an SLM in mode {mode!r}; {self.name!r} is in mode {self.mode!r}")

    def _check_shape(self, a, name):
        if a.ndim < 2 or tuple(a.shape[-2:]) != self.resolution:
            raise ValueError(f"{name} must have the panel shape (..., {self.resolution[0]}, {self.resolution[1]}), "
                             f"got {tuple(a.shape)}; resample or pad it to the SLM resolution")

    def _check_target(self, a, name, real):
        xp = get_xp(a)
        a = xp.asarray(a)
        if real and a.dtype.kind == "c":
            raise TypeError(f"{name} must be real for an SLM in mode {self.mode!r}; encode a complex mask with "
                            "optics4f.devices.encoding (double_phase, lee_hologram)")
        self._check_shape(a, name)
        a = a.astype(np.float64 if real else np.complex128)
        _finite(a, name)
        return a

    def _check_frame(self, frame):
        xp = get_xp(frame)
        frame = xp.asarray(frame)
        if frame.dtype.kind not in "iub":
            raise TypeError(f"frame must hold integer gray levels (uint8/uint16), got dtype {frame.dtype}; "
                            "make one with SLM.encode")
        self._check_shape(frame, "frame")
        if frame.size and (int(frame.min()) < 0 or int(frame.max()) > self.max_gray):
            raise ValueError(f"frame values must be 0..{self.max_gray} for a {self.bit_depth}-bit panel, got "
                             f"{int(frame.min())}..{int(frame.max())}")
        return frame


def _positive(v, name, unit):
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number ({unit}), got {v!r}") from None
    if not (np.isfinite(f) and f > 0):
        raise ValueError(f"{name} must be positive and finite ({unit}), got {v!r}")
    return f
