"""The bench a calibration was measured on, and the differences that make it invalid elsewhere.

A calibration holds for the bench it was measured on: a LUT for its
wavelength and panel, a registration for its camera and focal lengths. Every
calibration file records that bench (:func:`describe_bench`, stored under
``/calibration/bench``); applying it to a SystemConfig compares the two
(:func:`bench_differences`) and warns, naming each difference
(:class:`BenchMismatchWarning`), so that a calibration from a 633 nm,
128-pixel bench is not silently applied to a 532 nm one.

Layout of the description (SI units)::

    wavelength            m
    slm:    name, mode, resolution (rows, cols), pitch (m), bit_depth
    camera: shape (rows, cols), pixel_pitch (m), bit_depth
    geometry: f1, f2 (m), display_pitch (m)
"""
from __future__ import annotations

import warnings

import numpy as np

__all__ = ["BenchMismatchWarning", "describe_bench", "describe_camera", "bench_differences", "warn_mismatch",
           "format_bench"]

#: Relative tolerance on lengths and the wavelength before two benches are called different.
RTOL = 1e-3


class BenchMismatchWarning(UserWarning):
    """A calibration is applied to a bench other than the one it was measured on."""


def _ints(v):
    return None if v is None else tuple(int(x) for x in v)


def _num(v, kind=float):
    return None if v is None else kind(v)


def _drop_none(d: dict) -> dict:
    """Settings left to be derived (None) are not part of the description."""
    return {k: (_drop_none(v) if isinstance(v, dict) else v) for k, v in d.items() if v is not None}


def describe_camera(camera) -> dict:
    """The ``camera`` part of a bench description (a camera calibrated on its own, without a 4f bench)."""
    return _drop_none({"shape": _ints(camera.shape), "pixel_pitch": _num(camera.pixel_pitch),
                       "bit_depth": _num(camera.bit_depth, int)})


def describe_bench(config) -> dict:
    """The bench of a SystemConfig as a nested dict of numbers and strings (see the module docstring)."""
    slm = config.slm
    return _drop_none({
        "wavelength": float(config.wavelength),
        "slm": {"name": str(slm.name), "mode": str(slm.mode), "resolution": _ints(slm.resolution),
                "pitch": _num(slm.pitch), "bit_depth": _num(slm.bit_depth, int)},
        "camera": describe_camera(config.camera),
        "geometry": {"f1": _num(config.f1), "f2": _num(config.f2), "display_pitch": _num(config.display.pitch)},
    })


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _same(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=0.0))


def _fmt(v) -> str:
    if isinstance(v, (tuple, list, np.ndarray)):
        return "x".join(str(int(x)) if float(x).is_integer() else f"{x:g}" for x in np.ravel(v))
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def bench_differences(recorded: dict, config_or_bench, scope=()) -> list:
    """Human-readable differences ("wavelength: 6.33e-07 m (calibration) vs 5.32e-07 m (this bench)") between
    a recorded description and a SystemConfig (or another description). Keys missing on either side, and
    the SLM name (a preset name says nothing the numbers do not), are not compared. ``scope``: the keys
    (or key prefixes such as "slm.", "camera.") that matter; empty: all."""
    other = config_or_bench if isinstance(config_or_bench, dict) else describe_bench(config_or_bench)
    a, b = _flat(recorded or {}), _flat(other)
    units = {"wavelength": " m", "slm.pitch": " m", "camera.pixel_pitch": " m", "geometry.f1": " m",
             "geometry.f2": " m", "geometry.display_pitch": " m"}
    out = []
    for key in sorted(set(a) & set(b)):
        if key == "slm.name" or (scope and not any(key == k or key.startswith(k) for k in scope)):
            continue
        if not _same(a[key], b[key]):
            u = units.get(key, "")
            out.append(f"{key}: {_fmt(a[key])}{u} (calibration) vs {_fmt(b[key])}{u} (this bench)")
    return out


def warn_mismatch(calibration, config, what: str = "this bench") -> list:
    """Warn (BenchMismatchWarning) when ``calibration.bench`` differs from ``config``; the differences."""
    if not calibration.bench:
        return []
    diffs = bench_differences(calibration.bench, config, getattr(type(calibration), "bench_scope", ()))
    if diffs:
        warnings.warn(f"the {calibration.kind} calibration was measured on another bench than {what}: "
                      + "; ".join(diffs) + ". Recalibrate on this bench, or check the configuration.",
                      BenchMismatchWarning, stacklevel=3)
    return diffs


def format_bench(bench: dict) -> str:
    """One line: '633 nm; SLM 128x128 px, 8 um, 8 bit; camera 128x128 px, 8 um, 12 bit; f1 12.9 mm, f2 12.9 mm'."""
    if not bench:
        return "bench not recorded"
    parts = []
    if "wavelength" in bench:
        parts.append(f"{bench['wavelength'] * 1e9:.4g} nm")
    s = bench.get("slm", {})
    if s:
        parts.append(f"SLM {s.get('name', '?')} {_fmt(s.get('resolution', ()))} px, {s.get('pitch', 0) * 1e6:.4g} um, "
                     f"{s.get('bit_depth', '?')} bit")
    c = bench.get("camera", {})
    if c:
        parts.append(f"camera {_fmt(c.get('shape', ()))} px, {c.get('pixel_pitch', 0) * 1e6:.4g} um, "
                     f"{c.get('bit_depth', '?')} bit")
    g = bench.get("geometry", {})
    if g:
        parts.append(f"f1 {g.get('f1', 0) * 1e3:.4g} mm, f2 {g.get('f2', 0) * 1e3:.4g} mm")
    return "; ".join(parts)
