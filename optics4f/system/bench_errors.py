"""A simulated bench with errors its export does not know: a nonlinear SLM response and a panel
surface (flatness) error (``optics4f simulate --bench-errors SPEC``).

The lab's situation: frames are exported for the *nominal* SLM (linear response, 2 pi at the
preset's gray level, a flat panel), but the real panel has

* a nonlinear response, phi(g) = sign 2 pi (g / gray_2pi)^lut_gamma at the design wavelength
  (``lut_gamma``, and a 2 pi level ``gray_2pi`` that differs from the nominal one), and
* a surface (flatness) error, W = sum_j c_j Z_j(r / R) (``zj=c_j``: ANSI Zernike index j, RMS
  metres over the panel aperture of radius R, the inscribed circle of the lit part of the panel),
  which adds 2 pi W / lambda to every pixel's phase and moves with the panel (shift, rotation).

:func:`true_system` builds that bench from the nominal one. The students' comparison runs on it
(``nets.inference.calibrated``), the tolerance analysis draws its errors (``nets.tolerance``),
and ``calib.bench_errors`` measures or states the calibrations that correct it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from ..devices.slm import SLM
from ..typing import Array
from ..zernike import zernike_phase
from .config import SystemConfig
from .hardware4f import Hardware4f

__all__ = ["BenchErrors", "parse_bench_errors", "SurfaceErrorSLM", "true_lut", "true_system", "aperture_radius"]

_KEYS = ("lut_gamma", "gray_2pi")


@dataclass
class BenchErrors:
    """True errors of the simulated bench.

    lut_gamma : float
        Exponent of the panel response phi(g) = sign 2 pi (g / gray_2pi)^lut_gamma (1: linear).
    gray_2pi : float or None
        True gray level of 2 pi at the design wavelength (None: the nominal panel's).
    zernike : dict
        {ANSI j: c_j}: surface error of the panel, RMS metres over the aperture.
    """

    lut_gamma: float = 1.0
    gray_2pi: float | None = None
    zernike: dict = field(default_factory=dict)

    def __post_init__(self):
        g = float(self.lut_gamma)
        if not (math.isfinite(g) and 0.2 <= g <= 5):
            raise ValueError(f"lut_gamma must be in [0.2, 5] (exponent of the panel response), got {self.lut_gamma!r}")
        self.lut_gamma = g
        if self.gray_2pi is not None:
            v = float(self.gray_2pi)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"gray_2pi must be a positive gray level, got {self.gray_2pi!r}")
            self.gray_2pi = v
        z = {}
        for j, c in dict(self.zernike).items():
            if int(j) < 0 or not math.isfinite(float(c)):
                raise ValueError(f"zernike coefficients need an ANSI index >= 0 and a finite RMS (m), got z{j}={c}")
            z[int(j)] = float(c)
        self.zernike = z

    @property
    def lut_error(self) -> bool:
        return self.lut_gamma != 1.0 or self.gray_2pi is not None

    def to_dict(self) -> dict:
        return {"lut_gamma": self.lut_gamma, "gray_2pi": self.gray_2pi,
                "zernike": {f"z{j}": c for j, c in sorted(self.zernike.items())}}


def parse_bench_errors(spec: str) -> BenchErrors:
    """BenchErrors from ``"lut_gamma=1.3,gray_2pi=230,z4=40e-9,z5=30e-9"`` (comma-separated key=value;
    zJ: ANSI Zernike j, RMS metres). Unknown keys or bad values: ValueError naming them."""
    kw, zern = {}, {}
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--bench-errors item {item!r} is not key=value; e.g. lut_gamma=1.3,gray_2pi=230,z4=40e-9")
        try:
            v = float(val)
        except ValueError:
            raise ValueError(f"--bench-errors {key}={val!r}: the value must be a number") from None
        if key in _KEYS:
            kw[key] = v
        elif len(key) > 1 and key[0] == "z" and key[1:].isdigit():
            zern[int(key[1:])] = v
        else:
            raise ValueError(f"--bench-errors: unknown key {key!r}; use {', '.join(_KEYS)} or zJ (ANSI Zernike "
                             "index J, RMS metres on the SLM aperture, e.g. z4=40e-9)")
    if not kw and not zern:
        raise ValueError("--bench-errors needs at least one error, e.g. lut_gamma=1.3,gray_2pi=230,z4=40e-9")
    return BenchErrors(zernike=zern, **kw)


@dataclass(eq=False)
class SurfaceErrorSLM(SLM):
    """A phase SLM whose panel adds a fixed ``surface`` phase (rad at the working wavelength, panel
    shape) to every frame it shows: the true flatness error of a bench. (``SLM.flatness`` is the
    lab's *correction*, added by the encoder; this is the error the panel makes.)"""

    surface: np.ndarray | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.surface is not None:
            s = np.asarray(self.surface, dtype=np.float64)
            if s.shape != self.resolution or self.mode != "phase":
                raise ValueError(f"surface must be a phase map of the panel shape {self.resolution} on a phase SLM, "
                                 f"got shape {s.shape} (mode {self.mode!r})")
            self.surface = s

    def gray_to_phase(self, frame: Array, wavelength: float | None = None) -> Array:
        phase = super().gray_to_phase(frame, wavelength)
        return phase if self.surface is None else phase + self.surface


def aperture_radius(system: SystemConfig) -> float:
    """Radius (m) of the panel aperture the Zernike errors are defined on: the inscribed circle of
    the lit part of the panel (the panel, or the Fourier grid where the panel is larger)."""
    fg = Hardware4f(system).fourier_grid
    extent = min(*system.slm.size, fg.shape[0] * fg.pitch[0], fg.shape[1] * fg.pitch[1])
    return 0.5 * float(extent)


def true_lut(slm: SLM, errors: BenchErrors) -> np.ndarray:
    """The panel's true response (rad per gray level): sign 2 pi (g / gray_2pi)^lut_gamma."""
    g2 = float(errors.gray_2pi if errors.gray_2pi is not None else slm.gray_2pi)
    return slm.sign * 2 * np.pi * (np.arange(slm.levels, dtype=np.float64) / g2) ** errors.lut_gamma


def true_system(system: SystemConfig, errors: BenchErrors) -> SystemConfig:
    """The bench as it really is: ``system`` with the panel's true LUT and surface error."""
    slm = system.slm
    if slm.mode != "phase":
        raise ValueError(f"--bench-errors models a phase SLM; this bench's SLM is in mode {slm.mode!r}")
    kw = {f.name: getattr(slm, f.name) for f in dataclasses.fields(SLM)}
    if errors.lut_error:
        kw["lut"] = true_lut(slm, errors)
    surface = None
    if errors.zernike:
        surface = zernike_phase(slm.grid, errors.zernike, aperture_radius(system), system.wavelength)
    return system.replace(slm=SurfaceErrorSLM(**kw, surface=surface))
