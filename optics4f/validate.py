"""One validation layer for every public entry point (core, devices, torch bridge, calibration, CLI).

Every check takes the argument's name first and raises an error that names the argument, the value
and the fix::

    >>> physical("wavelength", 532)
    ValueError: wavelength=532 m is outside 100 nm-20 um: did you mean 532e-9 (532 nm)?

Errors are :class:`InputError` (a ValueError) or TypeError. Values are SI (m, s, rad); values far
outside the physical range of their quantity (:data:`RANGES`) are refused with the SI value they
most likely meant. :func:`check_memory` refuses allocations the machine cannot hold, before they
are attempted. See ``docs/validation.md``.
"""
from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from .typing import Array, ArrayLike

__all__ = ["InputError", "SizeError", "RANGES", "positive", "finite", "physical", "integer", "choice", "shape2",
           "finite_array", "unit_scale", "to_si", "available_memory", "check_memory", "format_bytes"]


class InputError(ValueError):
    """A value given to optics4f is wrong; the message names the argument, the value and the fix."""


class SizeError(InputError, MemoryError):
    """A size whose arrays cannot fit in the machine's memory (a ValueError and a MemoryError)."""


#: Physical range (low, high, unit) of each kind of SI quantity.
RANGES = {
    "wavelength": (100e-9, 20e-6, "m"),
    "pitch": (0.1e-6, 1e-3, "m"),
    "focal_length": (1e-3, 10.0, "m"),
    "distance": (0.0, 100.0, "m"),  # |z| of a propagation
    "aperture": (0.1e-6, 1.0, "m"),  # a radius or a width
    "sample_pitch": (1e-10, 0.1, "m"),  # a simulation grid's pitch (Fourier planes included)
}

#: A typical value of each kind (m): the SI suggestion for an out-of-range value is the one nearest it.
_TYPICAL = {"wavelength": 1e-6, "pitch": 1e-5, "focal_length": 0.1, "distance": 0.1, "aperture": 1e-3,
            "sample_pitch": 5e-6}

_PREFIXES = ((1e-9, "nm", -9), (1e-6, "um", -6), (1e-3, "mm", -3), (1e-2, "cm", -2))


def _fmt_len(v: float) -> str:
    if v == 0:
        return "0 m"
    for scale, unit in ((1.0, "m"), (1e-3, "mm"), (1e-6, "um")):
        if abs(v) >= scale:
            return f"{v / scale:g} {unit}"
    return f"{v / 1e-9:g} nm"


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
            return float(value)
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def finite(name: str, value: object) -> float:
    """``value`` as a float; refuse NaN, +-Inf and non-numbers."""
    v = _real(name, value)
    if not math.isfinite(v):
        raise InputError(f"{name} must be finite, got {name}={value!r}; give a finite number")
    return v


def positive(name: str, value: object, *, allow_zero: bool = False, unit: str = "") -> float:
    """``value`` as a finite float > 0 (>= 0 with ``allow_zero``)."""
    v = finite(name, value)
    if v < 0 or (v == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be {'non-negative' if allow_zero else 'positive'} ({need}), got "
                         f"{name}={value!r}{' ' + unit if unit else ''}")
    return v


def physical(name: str, value: object, kind: str | None = None, *, signed: bool = False) -> float:
    """``value`` (SI) inside the physical range of ``kind`` (default: ``name``), as a float.

    ``signed``: the sign is free (a diverging lens, a backward propagation) and only |value| is
    checked. Outside the range, the message suggests the SI value that a unit mix-up would give
    ("532 m: did you mean 532e-9 (532 nm)?").
    """
    kind = kind or name
    lo, hi, unit = RANGES[kind]
    v = _real(name, value)
    if not math.isfinite(v):
        raise InputError(f"{name} must be {'' if signed else 'positive and '}finite ({kind.replace('_', ' ')} in "
                         f"metres, {_fmt_len(lo)}-{_fmt_len(hi)}), got {name}={value!r}")
    a = abs(v) if signed else v
    if signed and v == 0 and lo > 0:
        raise InputError(f"{name}=0 {unit} is impossible; give a nonzero {kind.replace('_', ' ')} in metres "
                         f"(|{name}| within {_fmt_len(lo)}-{_fmt_len(hi)})")
    if not signed and v <= 0 and lo > 0:
        raise InputError(f"{name} must be positive (a {kind.replace('_', ' ')} in metres, {_fmt_len(lo)}-"
                         f"{_fmt_len(hi)}), got {name}={value!r}")
    if lo <= a <= hi or (a == 0 and lo == 0):
        return v
    hint = ""
    fits = [(abs(math.log10(a * scale / _TYPICAL[kind])), pre, exp) for scale, pre, exp in _PREFIXES
            if a > 0 and lo <= a * scale <= hi]
    if fits:  # the unit mix-up that lands nearest a typical value of the quantity
        _, pre, exp = min(fits)
        hint = f": did you mean {v:g}e{exp} ({v:g} {pre})?"
    if not hint:
        hint = f"; give it in metres (SI) within {_fmt_len(lo)}-{_fmt_len(hi)}"
    return _raise_range(name, value, unit, lo, hi, hint)


def _raise_range(name, value, unit, lo, hi, hint):
    rng = f"{_fmt_len(hi)} in magnitude" if lo == 0 else f"{_fmt_len(lo)}-{_fmt_len(hi)}"
    raise InputError(f"{name}={value!r} {unit} is outside {rng}{hint}")


def integer(name: str, value: object, *, min: int | None = None, max: int | None = None) -> int:
    """``value`` as an int; refuse fractions (2.9 is not silently 2), bools, NaN and values out of [min, max]."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        v = int(value)
    elif isinstance(value, (numbers.Real, np.floating)) or (isinstance(value, np.ndarray) and value.ndim == 0):
        f = float(value)
        if not math.isfinite(f) or f != int(f):
            raise InputError(f"{name}={value!r} is not a whole number; give an integer")
        v = int(f)
    elif isinstance(value, str):
        try:
            v = int(value.strip())
        except ValueError:
            raise InputError(f"{name}={value!r} is not an integer; give an integer") from None
    else:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if min is not None and v < min:
        raise InputError(f"{name}={value!r} must be >= {min}")
    if max is not None and v > max:
        raise InputError(f"{name}={value!r} must be <= {max}")
    return v


def choice(name: str, value: object, options: Iterable[object]) -> object:
    """``value`` if it is one of ``options``, else an error listing them."""
    opts = tuple(options)
    try:
        ok = value in opts
    except TypeError:
        ok = False
    if not ok:
        raise InputError(f"{name}={value!r} is not one of {', '.join(repr(o) for o in opts)}")
    return value


def shape2(name: str, value: object, *, min: int = 1) -> tuple[int, int]:
    """``value`` (an int or a pair) as a (ny, nx) tuple of ints >= ``min``; fractions are refused."""
    arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if arr.ndim == 0:
        items = [value, value]
    elif arr.ndim == 1 and arr.shape[0] == 2:
        items = list(value)
    else:
        raise InputError(f"{name}={value!r} must be one integer or a pair (ny, nx)")
    return tuple(integer(f"{name}[{i}]", v, min=min) for i, v in enumerate(items))


def finite_array(name: str, a: Array) -> Array:
    """Refuse an array (NumPy, CuPy or torch) holding NaN or Inf; returns ``a``."""
    mod = type(a).__module__
    if mod.startswith("torch"):  # the tensor's own methods: optics4f never imports torch
        ok = bool(a.detach().isfinite().all()) if a.is_floating_point() or a.is_complex() else True
    else:
        from .backend import get_xp

        xp = get_xp(a)
        arr = xp.asarray(a)
        ok = bool(xp.isfinite(arr).all()) if arr.dtype.kind in "fc" else True
    if not ok:
        raise InputError(f"{name} holds NaN or Inf values; give finite values (check the data or the step that "
                         "produced it)")
    return a


# -- units of values read from files ---------------------------------------------------------------

_LENGTH = {"m": 1.0, "meter": 1.0, "metre": 1.0, "meters": 1.0, "metres": 1.0, "cm": 1e-2, "mm": 1e-3,
           "um": 1e-6, "µm": 1e-6, "micron": 1e-6, "microns": 1e-6, "nm": 1e-9, "pm": 1e-12}
_TIME = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_ANGLE = {"rad": 1.0, "mrad": 1e-3, "urad": 1e-6, "deg": math.pi / 180, "degree": math.pi / 180,
          "degrees": math.pi / 180}
_FAMILIES = {"m": _LENGTH, "s": _TIME, "rad": _ANGLE}


def unit_scale(unit: str, expected: str, where: str = "value") -> float:
    """Factor converting a quantity in ``unit`` to the SI unit ``expected``; refuse units that do not convert.

    Units other than m, s and rad must match ``expected`` exactly."""
    u = str(unit).strip()
    if u == expected:
        return 1.0
    fam = _FAMILIES.get(expected)
    if fam is not None and u in fam:
        return fam[u]
    raise InputError(f"{where} has units {u!r}, which optics4f cannot convert to {expected!r}; store it in "
                     f"{expected!r} (SI) or in a unit of the same kind ({', '.join(fam) if fam else expected})")


def to_si(value: ArrayLike | tuple[float, ...], unit: str, expected: str, where: str = "value") -> Any:
    """``value`` given in ``unit`` converted to ``expected`` (see :func:`unit_scale`)."""
    s = unit_scale(unit, expected, where)
    if s == 1.0:
        return value
    if isinstance(value, tuple):
        return tuple(v * s for v in value)
    return value * s


# -- memory -----------------------------------------------------------------------------------------

def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if abs(n) < 1024 or unit == "EiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


def available_memory() -> int:
    """Bytes this process could still allocate: MemAvailable + free swap (Linux), else physical memory."""
    try:
        info = {}
        with open("/proc/meminfo") as fh:
            for line in fh:
                k, v = line.split(":", 1)
                info[k] = int(v.split()[0]) * 1024
        return info["MemAvailable"] + info.get("SwapFree", 0)
    except (OSError, KeyError, ValueError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def check_memory(nbytes: float, what: str, fix: str = "use a smaller size") -> None:
    """Refuse an allocation of about ``nbytes`` bytes that cannot fit in the machine's memory.

    ``what`` names the quantity and its size ("a 70000 x 70000 demo grid"), ``fix`` says what to change."""
    nbytes = float(nbytes)
    avail = available_memory()
    if not math.isfinite(nbytes) or nbytes > avail:
        raise SizeError(f"{what} needs about {format_bytes(nbytes)}, more than the {format_bytes(avail)} of memory "
                          f"available; {fix}")
