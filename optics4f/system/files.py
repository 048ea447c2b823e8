"""HDF5 files of fields, masks and system configurations (atomic writes, SI units).

The header and the settings trees are :mod:`optics4f.io.hdf5`; these files embed a
:class:`~optics4f.system.config.SystemConfig`, so they belong to the system layer (the
configuration's TOML files are :meth:`SystemConfig.save_toml`).

Layout of a field or mask file (NeXus-style, so generic viewers such as
silx, h5web or NeXpy find and plot the data)::

    /                       format="optics4f", format_version, software_version,
                            default="entry", NX_class="NXroot"
    /entry                  NX_class="NXentry", default="data"
    /entry/data             NX_class="NXdata", signal=<kind>, axes=[".", ..., "y", "x"]
    /entry/data/<kind>      the array (..., ny, nx); attrs: units, plane, wavelength (m),
                            pixel_pitch (m, [dy, dx]), attribute_units (JSON), kind
    /entry/data/y, x        sample coordinates, units="m" (x_i = (i - N//2) dx)
    /entry/config           optional: the system configuration (see below)

<kind> is "field" (complex amplitude, sqrt(W)/m), "mask" (dimensionless
Fourier-plane transmission) or "intensity" (W/m^2) unless told otherwise.

A configuration is a tree of groups (one per dataclass) whose leaves are
scalar or array datasets, each with a ``units`` attribute where the quantity
has one; ``None`` is stored as an empty dataset. :func:`save_config` writes
it at ``/config`` of its own file, :func:`save_field` can embed one at
``/entry/config``.

Every write goes through :func:`optics4f.io.atomic.atomic_path`: a crash
never leaves half a file, and an existing file is replaced only with
``overwrite=True``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..grid import as_pitch
from ..io.atomic import atomic_path
from ..io.hdf5 import (FORMAT_VERSION, as_str, check_root, h5py_module, open_h5, read_h5, read_tree, write_root,
                       write_tree)
from ..typing import Array, PathLike, Pitch
from ..validate import unit_scale
from .config import UNITS, SystemConfig, missing_settings

__all__ = ["FieldFile", "save_field", "save_mask", "load_field", "save_config", "load_config", "config_from_tree"]

_DEFAULT_UNITS = {"field": "sqrt(W)/m", "mask": "1", "intensity": "W/m^2", "phase": "rad"}


@dataclass
class FieldFile:
    """Contents of a field/mask file read by :func:`load_field`."""

    data: np.ndarray
    pitch: tuple  # (dy, dx), metres
    wavelength: float  # metres
    plane: str
    kind: str
    units: str
    config: object = None  # a SystemConfig when the file holds one
    attrs: dict = dc_field(default_factory=dict)  # user attributes
    format_version: str = FORMAT_VERSION
    software_version: str = ""


def config_from_tree(group: Any, path: PathLike) -> SystemConfig:
    """A SystemConfig from an HDF5 group written by :func:`write_tree` (its ``units`` attributes honoured)."""
    where = f"configuration in {str(path)!r}"
    d = read_tree(group, expected_units=UNITS, where=where)
    missing = missing_settings(d)  # write_tree stores every setting (None ones as empty datasets)
    if missing:
        raise ValueError(f"{where} ({group.name}) is incomplete: setting(s) {missing} missing; save it again")
    try:
        return SystemConfig.from_dict(d)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where}: {e}") from None


def save_field(path: PathLike, data: Array, *, pitch: Pitch, wavelength: float, plane: str, kind: str = "field",
               units: str | None = None, config: SystemConfig | None = None, attrs: dict | None = None,
               overwrite: bool = False, compression: str | None = None) -> Path:
    """Save an array sampled on a plane to an HDF5 file (atomic).

    Parameters
    ----------
    path : str or Path
        Target file (``.h5``); refused if it exists unless ``overwrite``.
    data : array (..., ny, nx)
        NumPy or CuPy array (copied to the host); complex or real.
    pitch : float or (dy, dx)
        Sample pitch of the plane, metres.
    wavelength : float
        Metres.
    plane : str
        Name of the plane, e.g. "input", "fourier", "output", "camera".
    kind : str
        Name of the dataset and the NeXus signal ("field", "mask", "intensity", ...).
    units : str, optional
        Units of the data; default by kind (field sqrt(W)/m, mask 1, intensity W/m^2).
    config : SystemConfig, optional
        Embedded at ``/entry/config``.
    attrs : dict, optional
        Extra attributes (str, numbers, small arrays) stored on the dataset.
    compression : str, optional
        h5py compression filter (e.g. "gzip").
    """
    h5py = h5py_module()
    arr = to_numpy(data)
    if arr.ndim < 2:
        raise ValueError(f"data must have at least 2 dimensions (..., ny, nx), got shape {arr.shape}")
    dy, dx = as_pitch(pitch, "pitch")
    if not (np.isfinite(wavelength) and wavelength > 0):
        raise ValueError(f"wavelength must be positive (metres), got {wavelength!r}")
    if not isinstance(plane, str) or not plane:
        raise ValueError(f"plane must be a non-empty name such as 'fourier', got {plane!r}")
    if not kind.isidentifier() or kind in ("x", "y"):
        raise ValueError(f"kind must be an identifier other than 'x'/'y', got {kind!r}")
    units = units if units is not None else _DEFAULT_UNITS.get(kind, "1")
    ny, nx = arr.shape[-2:]
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            write_root(f)
            f.attrs["default"] = "entry"
            entry = f.create_group("entry")
            entry.attrs["NX_class"] = "NXentry"
            entry.attrs["default"] = "data"
            g = entry.create_group("data")
            g.attrs["NX_class"] = "NXdata"
            g.attrs["signal"] = kind
            g.attrs["axes"] = ["."] * (arr.ndim - 2) + ["y", "x"]
            g.attrs["y_indices"] = arr.ndim - 2
            g.attrs["x_indices"] = arr.ndim - 1
            d = g.create_dataset(kind, data=arr, compression=compression)
            d.attrs["units"] = units
            d.attrs["kind"] = kind
            d.attrs["plane"] = plane
            d.attrs["wavelength"] = float(wavelength)
            d.attrs["pixel_pitch"] = np.array([dy, dx])
            d.attrs["attribute_units"] = json.dumps({"wavelength": "m", "pixel_pitch": "m"})
            for k, v in (attrs or {}).items():
                if k in d.attrs:
                    raise ValueError(f"attrs key {k!r} is reserved; rename it")
                d.attrs[k] = v
            for name, n, p in (("y", ny, dy), ("x", nx, dx)):
                c = g.create_dataset(name, data=(np.arange(n) - n // 2) * p)
                c.attrs["units"] = "m"
            if config is not None:
                write_tree(entry.create_group("config"), config.to_dict(), config.units())
    return Path(path)


def save_mask(path: PathLike, mask: Array, *, pitch: Pitch, wavelength: float, plane: str = "fourier",
              **kwargs: Any) -> Path:
    """Save a Fourier-plane mask (dimensionless, centred order): :func:`save_field` with kind="mask"."""
    return save_field(path, mask, pitch=pitch, wavelength=wavelength, plane=plane, kind="mask", **kwargs)


def load_field(path: PathLike) -> FieldFile:
    """Read a file written by :func:`save_field` / :func:`save_mask`."""
    return read_h5(path, "field file", _read_field, "truncated, or not written by save_field?")


def _read_field(f, path):
    ver = check_root(f, path)
    if "entry/data" not in f:
        raise ValueError(f"{str(path)!r} holds no /entry/data group; is it a configuration file? "
                         "(use load_config)")
    g = f["entry/data"]
    kind = as_str(g.attrs["signal"])
    d = g[kind]
    reserved = {"units", "kind", "plane", "wavelength", "pixel_pitch", "attribute_units"}
    extra = {k: v for k, v in d.attrs.items() if k not in reserved}
    config = None
    if "config" in f["entry"]:
        config = config_from_tree(f["entry/config"], path)
    try:
        au = json.loads(as_str(d.attrs.get("attribute_units", "{}")))
    except ValueError:
        raise ValueError(f"{str(path)!r}: attribute_units is not JSON") from None
    pitch = tuple(float(p) * unit_scale(au.get("pixel_pitch", "m"), "m", f"{str(path)!r} pixel_pitch")
                  for p in d.attrs["pixel_pitch"])
    wavelength = float(d.attrs["wavelength"]) * unit_scale(au.get("wavelength", "m"), "m",
                                                            f"{str(path)!r} wavelength")
    return FieldFile(data=d[()], pitch=pitch, wavelength=wavelength,
                     plane=as_str(d.attrs["plane"]), kind=kind, units=as_str(d.attrs["units"]), config=config,
                     attrs=extra, format_version=ver, software_version=as_str(f.attrs["software_version"]))


def save_config(path: PathLike, config: SystemConfig, overwrite: bool = False) -> Path:
    """Save a :class:`~optics4f.system.config.SystemConfig` to HDF5 (``/config``), atomically."""
    h5py = h5py_module()
    with atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            write_root(f)
            g = f.create_group("config")
            g.attrs["NX_class"] = "NXcollection"
            write_tree(g, config.to_dict(), config.units())
    return Path(path)


def load_config(path: PathLike) -> SystemConfig:
    """Read a configuration from an HDF5 file (``/config``, or ``/entry/config`` of a field file)."""
    path = Path(path)
    with open_h5(path, "configuration file") as f:
        check_root(f, path)
        for where in ("config", "entry/config"):
            if where in f:
                return config_from_tree(f[where], path)
    raise ValueError(f"{str(path)!r} holds no configuration (/config or /entry/config)")
