"""HDF5 files: the optics4f file header and nested settings trees (SI units, units attributes).

Every optics4f HDF5 file carries, at its root, ``format="optics4f"``,
``format_version``, ``software_version`` and ``NX_class="NXroot"``
(:func:`write_root`, checked by :func:`check_root`). Settings are stored as a
tree of groups (one per dict) whose leaves are scalar or array datasets, each
with a ``units`` attribute where the quantity has one; ``None`` is stored as
an empty dataset (:func:`write_tree` / :func:`read_tree`).

The files built on these (fields, masks and system configurations) are
:mod:`optics4f.system.files`; calibration files are :mod:`calib.base`.
This module sits in the io layer, below ``optics4f.system``: it never imports it.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .._version import __version__
from ..typing import PathLike
from ..validate import to_si

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "h5py_module",
    "open_h5",
    "read_h5",
    "write_root",
    "check_root",
    "as_str",
    "write_tree",
    "read_tree",
]

FORMAT_NAME = "optics4f"
#: Version of the file layout; bump the major number on incompatible changes.
FORMAT_VERSION = "1.0"


def h5py_module() -> ModuleType:
    """The h5py module, or an ImportError saying how to install it."""
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a dependency
        raise ImportError("HDF5 files need h5py (pip install h5py)") from e
    return h5py


def open_h5(path: PathLike, what: str = "file") -> Any:
    """Open an HDF5 file for reading; a missing, truncated or non-HDF5 file raises an error naming it."""
    h5py = h5py_module()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such {what}: {str(path)!r}")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{what} {str(path)!r} is not a readable HDF5 file (truncated or damaged?): "
                         f"{str(e).splitlines()[0]}") from None


def read_h5(path: PathLike, what: str, reader: Callable[[Any, Path], Any],
            hint: str = "truncated or damaged?") -> Any:
    """``reader(h5file, path)`` on the HDF5 file ``path``; a missing dataset or unreadable data
    raises a ValueError naming the file, ``what`` it should be and ``hint``."""
    path = Path(path)
    with open_h5(path, what) as f:
        try:
            return reader(f, path)
        except (KeyError, OSError) as e:
            raise ValueError(f"{what} {str(path)!r} is incomplete or damaged: {e.args[0] if e.args else e} "
                             f"({hint})") from None


def write_root(f: Any) -> None:
    """Write the optics4f header attributes on the root of the open HDF5 file ``f``."""
    f.attrs["format"] = FORMAT_NAME
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["software_version"] = __version__
    f.attrs["NX_class"] = "NXroot"


def check_root(f: Any, path: PathLike) -> str:
    """Refuse a file without the optics4f header or of another major format version; returns the version."""
    fmt = as_str(f.attrs.get("format", ""))
    if fmt != FORMAT_NAME:
        raise ValueError(f"{str(path)!r} is not an optics4f file (format attribute {fmt!r})")
    ver = as_str(f.attrs.get("format_version", ""))
    if ver.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise ValueError(f"{str(path)!r} has format_version {ver!r}; this optics4f reads {FORMAT_VERSION}.x")
    return ver


def as_str(v: Any) -> str:
    """An HDF5 string attribute (bytes or str) as str."""
    return v.decode() if isinstance(v, bytes) else str(v)


# -- generic nested dict <-> HDF5 ----------------------------------------------------------------
def write_tree(group: Any, tree: dict, units: dict | None = None, prefix: str = "") -> None:
    """Write a nested dict: dicts become groups, leaves scalar/array datasets.

    ``units`` maps dotted paths ("slm.pixel_pitch") to unit strings stored
    as the ``units`` attribute. ``None`` leaves become empty datasets.
    """
    h5py = h5py_module()
    units = units or {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            write_tree(group.create_group(key), value, units, prefix=path + ".")
            continue
        if value is None:
            d = group.create_dataset(key, data=h5py.Empty("f8"))
        elif isinstance(value, str):
            d = group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        else:
            arr = np.asarray(value)
            if arr.dtype.kind not in "biufc":
                raise TypeError(f"cannot store {path}={value!r} in HDF5: numbers, strings or arrays only")
            d = group.create_dataset(key, data=arr)
            if isinstance(value, (tuple, list)):
                d.attrs["sequence"] = True  # read back as a tuple, not an array
        if path in units:
            d.attrs["units"] = units[path]


def read_tree(group: Any, expected_units: dict | None = None, where: str = "file") -> dict:
    """Inverse of :func:`write_tree`: nested dict of Python scalars, tuples, strings and arrays.

    ``expected_units``: leaf name -> SI unit. A leaf whose ``units`` attribute differs is converted
    when the unit converts (nm -> m, deg -> rad, ...) and refused otherwise, so that a value written
    in other units is never read as SI."""
    h5py = h5py_module()
    out = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = read_tree(item, expected_units, where)
            continue
        if item.shape is None:
            out[key] = None
            continue
        v = item[()]
        if isinstance(v, bytes):
            v = v.decode()
        elif isinstance(v, np.ndarray) and item.attrs.get("sequence", False):
            v = tuple(x.item() if isinstance(x, np.generic) else x for x in v.tolist())
        elif isinstance(v, np.generic):
            v = v.item()
        unit = item.attrs.get("units", None)
        if expected_units is not None and unit is not None and key in expected_units and v is not None:
            v = to_si(v, as_str(unit), expected_units[key], f"{where}: {item.name}")
        out[key] = v
    return out
