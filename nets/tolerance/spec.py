"""The tolerance file: a distribution for every bench error and the target (docs/tolerance.md).

A TOML file::

    [run]
    benches = 100          # N benches drawn
    images = 200           # M test images through each
    seed = 0               # draws; bench i's camera noise seed is the bench seed (--seed) + i

    [target]
    metric = "accuracy"    # or "miou" (segmentation students)
    threshold = 0.9        # a bench passes at or above it
    yield_goal = 0.95      # the yield the suggested tolerances should reach
    confidence = 0.95      # of the yield's interval

    [errors.slm_rotation]
    dist = "uniform"       # uniform (low, high), normal (mean, sigma) or fixed (value)
    low = -0.01
    high = 0.01
    unit = "rad"           # stated for every error; m, rad accept their SI multiples (mm, um, deg ...)

Every value is the bench's *true* value in SI units (not an offset), except where the error is
an offset by nature (shifts, tilts, defocus, Zernike terms: 0 is the aligned, flat bench). Errors
the file does not name keep the bench's nominal value (the bench options on the command line).
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["ERRORS", "ErrorKind", "Distribution", "ToleranceSpec", "load_spec", "parse_spec", "error_kind"]


@dataclass(frozen=True)
class ErrorKind:
    """One bench error the simulator knows: its SI unit, whether it is an integer, its allowed
    range (draws are clipped into it) and what it is."""

    unit: str
    description: str
    low: float = -math.inf
    high: float = math.inf
    integer: bool = False


_TILT = math.pi / 4 - 1e-9  # optics4f.system.Misalignment refuses tilts of pi/4 and more

#: Every bench error a tolerance file may name (``zJ``, ANSI Zernike J >= 0, is added by :func:`error_kind`).
ERRORS = {
    "slm_bits": ErrorKind("bit", "SLM bit depth (frames exported for it)", 1, 16, True),
    "camera_bits": ErrorKind("bit", "camera ADC bit depth", 1, 16, True),
    "full_well": ErrorKind("e-", "camera full well (photon budget with auto exposure)", 1e-9),
    "read_noise": ErrorKind("e-", "camera read noise, rms", 0.0),
    "slm_shift_y": ErrorKind("m", "Fourier-plane SLM shift along y"),
    "slm_shift_x": ErrorKind("m", "Fourier-plane SLM shift along x"),
    "slm_rotation": ErrorKind("rad", "SLM rotation about the optical axis"),
    "slm_tilt_y": ErrorKind("rad", "SLM tilt about the x axis", -_TILT, _TILT),
    "slm_tilt_x": ErrorKind("rad", "SLM tilt about the y axis", -_TILT, _TILT),
    "input_tilt_y": ErrorKind("rad", "illumination tilt on the display, y", -_TILT, _TILT),
    "input_tilt_x": ErrorKind("rad", "illumination tilt on the display, x", -_TILT, _TILT),
    "fourier_defocus": ErrorKind("m", "SLM distance from the back focal plane of lens 1"),
    "camera_defocus": ErrorKind("m", "camera distance from the back focal plane of lens 2"),
    "wavelength": ErrorKind("m", "true source wavelength (frames exported for the nominal one)", 1e-8, 1e-5),
    "gray_2pi": ErrorKind("gray level", "true gray level of 2 pi at the design wavelength", 1e-9),
    "lut_gamma": ErrorKind("1", "exponent of the panel response phi = 2 pi (g / gray_2pi)^gamma", 0.2, 5.0),
    "fill_factor": ErrorKind("1", "SLM pixel fill factor", 1e-3, 1.0),
}


def error_kind(name: str, where: str = "tolerance spec") -> ErrorKind:
    """The :class:`ErrorKind` of ``name``, or an error (prefixed by ``where``) listing the known names."""
    if name in ERRORS:
        return ERRORS[name]
    if len(name) > 1 and name[0] == "z" and name[1:].isdigit():
        return ErrorKind("m", f"SLM surface error, ANSI Zernike {int(name[1:])}, RMS over the aperture")
    raise ValueError(f"{where}: unknown bench error {name!r}; use one of {', '.join(ERRORS)} or zJ (ANSI "
                     "Zernike index J, RMS metres on the SLM aperture, e.g. z4)")


_DISTS = {"uniform": ("low", "high"), "normal": ("mean", "sigma"), "fixed": ("value",)}


@dataclass(frozen=True)
class Distribution:
    """The distribution of one bench error, in SI units. ``uniform``: low..high (integers: each of
    low, ..., high equally likely); ``normal``: mean, sigma (integers: rounded); ``fixed``: value.
    Draws are clipped into the error's allowed range."""

    name: str
    dist: str
    params: tuple

    def __post_init__(self):
        from optics4f.validate import choice, finite

        choice(f"errors.{self.name}.dist", self.dist, tuple(_DISTS))
        kind = error_kind(self.name)
        p = tuple(finite(f"errors.{self.name}.{k}", v) for k, v in zip(_DISTS[self.dist], self.params))
        object.__setattr__(self, "params", p)
        if self.dist == "uniform" and not p[0] <= p[1]:
            raise ValueError(f"errors.{self.name}: uniform needs low <= high, got low={p[0]!r}, high={p[1]!r}")
        if self.dist == "normal" and p[1] < 0:
            raise ValueError(f"errors.{self.name}: normal needs sigma >= 0, got sigma={p[1]!r}")
        for v in (p if self.dist != "normal" else p[:1]):
            if not kind.low <= v <= kind.high:
                raise ValueError(f"errors.{self.name}: {v!r} {kind.unit} is outside the allowed range "
                                 f"[{kind.low:g}, {kind.high:g}] {kind.unit} ({kind.description})")
            if kind.integer and v != int(v):
                raise ValueError(f"errors.{self.name}: {v!r} is not a whole number of {kind.unit}s")

    @property
    def kind(self) -> ErrorKind:
        return error_kind(self.name)

    @property
    def center(self) -> float:
        return {"uniform": lambda p: 0.5 * (p[0] + p[1]), "normal": lambda p: p[0], "fixed": lambda p: p[0]}[
            self.dist](self.params)

    @property
    def varies(self) -> bool:
        return self.dist != "fixed" and (self.params[1] > self.params[0] if self.dist == "uniform"
                                         else self.params[1] > 0)

    def width_text(self) -> str:
        u = self.kind.unit
        if self.dist == "uniform":
            return f"uniform {self.params[0]:.4g} .. {self.params[1]:.4g} {u}"
        if self.dist == "normal":
            return f"normal {self.params[0]:.4g} +- {self.params[1]:.4g} {u} (1 sigma)"
        return f"fixed {self.params[0]:.4g} {u}"

    def sample(self, rng: np.random.Generator, size=None):
        """Draw(s) from ``rng`` (float64; whole numbers for integer errors), clipped to the allowed range."""
        kind = self.kind
        if self.dist == "fixed":
            v = np.full(size if size is not None else (), self.params[0])
        elif self.dist == "uniform":
            lo, hi = self.params
            v = rng.integers(int(lo), int(hi), size=size, endpoint=True).astype(float) if kind.integer \
                else rng.uniform(lo, hi, size=size)
        else:
            v = rng.normal(self.params[0], self.params[1], size=size)
            if kind.integer:
                v = np.round(v)
        v = np.clip(v, kind.low, kind.high)
        return float(v) if size is None else v

    def scaled(self, s: float) -> "Distribution":
        """The same distribution with its width scaled by ``s`` about its centre (integer and fixed
        errors are returned unchanged)."""
        if self.dist == "fixed" or self.kind.integer:
            return self
        if self.dist == "normal":
            return Distribution(self.name, "normal", (self.params[0], self.params[1] * s))
        c, h = self.center, 0.5 * (self.params[1] - self.params[0]) * s
        k = self.kind
        return Distribution(self.name, "uniform", (max(c - h, k.low), min(c + h, k.high)))

    def to_dict(self) -> dict:
        return {"dist": self.dist, **dict(zip(_DISTS[self.dist], self.params)), "unit": self.kind.unit}


@dataclass
class ToleranceSpec:
    """A parsed tolerance file (module docstring)."""

    errors: dict = field(default_factory=dict)  # name -> Distribution, in file order
    benches: int = 100
    images: int = 200
    seed: int = 0
    calibration_images: int = 64
    metric: str = "accuracy"
    threshold: float = 0.9
    yield_goal: float = 0.95
    confidence: float = 0.95

    def __post_init__(self):
        from optics4f.validate import choice, finite, integer

        self.benches = integer("run.benches", self.benches, min=1)
        self.images = integer("run.images", self.images, min=1)
        self.seed = integer("run.seed", self.seed, min=0)
        self.calibration_images = integer("run.calibration_images", self.calibration_images, min=1)
        self.metric = choice("target.metric", self.metric, ("accuracy", "miou"))
        for name in ("threshold", "yield_goal", "confidence"):
            v = finite(f"target.{name}", getattr(self, name))
            if not 0 <= v <= 1 or (name != "threshold" and not 0 < v < 1):
                raise ValueError(f"target.{name} must be a fraction in {'[0, 1]' if name == 'threshold' else '(0, 1)'}"
                                 f", got {v!r}")
            setattr(self, name, v)

    def draw(self, index: int) -> dict:
        """The error values of bench ``index`` (SI): each error from its own stream
        ``default_rng([seed, index, crc32(name)])``, so a bench's draw depends on neither the executor,
        nor the order benches run in, nor the other errors in the file."""
        return {n: d.sample(np.random.default_rng([self.seed, int(index), zlib.crc32(n.encode())]))
                for n, d in self.errors.items()}

    def draws(self) -> list:
        return [self.draw(i) for i in range(self.benches)]

    def to_dict(self) -> dict:
        return {"run": {"benches": self.benches, "images": self.images, "seed": self.seed,
                        "calibration_images": self.calibration_images},
                "target": {"metric": self.metric, "threshold": self.threshold, "yield_goal": self.yield_goal,
                           "confidence": self.confidence},
                "errors": {n: d.to_dict() for n, d in self.errors.items()}}


def parse_spec(data: dict, where: str = "tolerance spec") -> ToleranceSpec:
    """A :class:`ToleranceSpec` from the TOML tables (a dict); unknown keys are refused by name."""
    from optics4f.validate import to_si

    unknown = set(data) - {"run", "target", "errors"}
    if unknown:
        raise ValueError(f"{where}: unknown table(s) {sorted(unknown)}; use [run], [target] and [errors.NAME]")
    run, target = dict(data.get("run", {})), dict(data.get("target", {}))
    for tab, keys in (("run", {"benches", "images", "seed", "calibration_images"}),
                      ("target", {"metric", "threshold", "yield_goal", "confidence"})):
        bad = set(locals()[tab]) - keys
        if bad:
            raise ValueError(f"{where}: unknown key(s) {sorted(bad)} in [{tab}]; use {sorted(keys)}")
    errors = {}
    for name, entry in dict(data.get("errors", {})).items():
        kind = error_kind(name)
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: errors.{name} must be a table with dist, its parameters and unit")
        dist = entry.get("dist")
        if dist not in _DISTS:
            raise ValueError(f"{where}: errors.{name}.dist must be one of {list(_DISTS)}, got {dist!r}")
        if "unit" not in entry:
            raise ValueError(f"{where}: errors.{name} needs unit = {kind.unit!r} (the SI unit of {kind.description})")
        keys = set(_DISTS[dist]) | {"dist", "unit"}
        if set(entry) != keys:
            raise ValueError(f"{where}: errors.{name} ({dist}) takes exactly {sorted(keys)}, got {sorted(entry)}")
        params = tuple(to_si(entry[k], entry["unit"], kind.unit, f"errors.{name}.{k}") for k in _DISTS[dist])
        errors[name] = Distribution(name, dist, params)
    if not errors:
        raise ValueError(f"{where}: no [errors.NAME] table; give at least one bench error, e.g. [errors.slm_rotation]")
    return ToleranceSpec(errors=errors, **run, **target)


def load_spec(path) -> ToleranceSpec:
    """Read a tolerance TOML file (module docstring)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the tomli package has the same API
        import tomli as tomllib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--spec {str(path)!r} does not exist; write a tolerance TOML file (docs/tolerance.md)")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"--spec {str(path)!r} is not valid TOML: {e}") from None
    return parse_spec(data, where=f"--spec {str(path)!r}")
