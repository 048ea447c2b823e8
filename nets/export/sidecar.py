"""The HDF5 sidecar and the JSON manifest of an SLM export.

Sidecar (``sidecar.h5``; the optics4f HDF5 root attributes ``format``,
``format_version``, ``software_version``, plus ``kind = "slm_export"``)::

    /frames      (F, ny, nx) uint8/uint16   the integer frames, as written to the image files
                                            (units "gray level")
    /phase       (F, ny, nx) float32        phase encodings: the wanted phase (rad) at the working
                                            wavelength, wrapped to [-pi, pi), before the flatness
                                            correction, LUT and quantisation (float32: < 3e-7 rad
                                            error, far below one gray level)
    /amplitude   (F, ny, nx) float32        amplitude / binary encodings: the wanted amplitude (0..1)
    /scale       (F,) complex128            the wanted term of frame f's transmission is
                                            scale[f] * (the model's mask on the panel)
    /out_channel, /in_channel (F,) int64    which mask pair each frame shows (out_channel -1: all
                                            output channels, tiled)
    /config                                 the SystemConfig (geometry, devices, layout), as
                                            optics4f.system.files.save_config writes it, units attached
    /settings                               the export settings (encoding, amax, fill, source model...)

Manifest (``manifest.json``): format, versions, the SLM settings (LUT and
flatness arrays are in the sidecar only), the channel layout, one entry per
frame with its file in every format, packed files (DMD RGB), the sidecar,
and a sha256 checksum and size of every file.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from optics4f import __version__
from optics4f.io.atomic import atomic_path
from optics4f.io.hdf5 import FORMAT_NAME, FORMAT_VERSION, read_h5, read_tree, write_tree
from optics4f.system.files import config_from_tree

__all__ = ["SIDECAR_NAME", "MANIFEST_NAME", "MANIFEST_FORMAT", "MANIFEST_VERSION", "sha256", "write_sidecar",
           "read_sidecar", "write_manifest", "read_manifest", "verify_checksums"]

SIDECAR_NAME = "sidecar.h5"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "optics4f.slm_export"
MANIFEST_VERSION = "1.0"
_KIND = "slm_export"


def sha256(path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _jsonable(v):
    """Settings values -> JSON (tuples to lists, NumPy scalars to Python, complex to [re, im])."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, complex):
        return [v.real, v.imag]
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def write_sidecar(path, *, frames, config, scale, out_channel, in_channel, phase=None, amplitude=None,
                  settings: dict | None = None, overwrite: bool = False) -> Path:
    """Write the HDF5 sidecar (see the module docstring), atomically.

    frames : (F, ny, nx) integer; phase / amplitude : (F, ny, nx) float (one of them, or neither);
    config : SystemConfig; scale : (F,) complex; out_channel, in_channel : (F,) int;
    settings : flat or nested dict of numbers, strings, tuples (None allowed).
    """
    import h5py

    frames = np.asarray(frames)
    if frames.ndim != 3 or frames.dtype.kind not in "iu":
        raise ValueError(f"frames must be (F, ny, nx) integer gray levels, got {frames.shape} {frames.dtype}")
    n = frames.shape[0]
    scale = np.asarray(scale, dtype=np.complex128).reshape(-1)
    oc, ic = (np.asarray(c, dtype=np.int64).reshape(-1) for c in (out_channel, in_channel))
    if not scale.size == oc.size == ic.size == n:
        raise ValueError(f"scale, out_channel and in_channel need one entry per frame ({n})")
    comp = dict(compression="gzip", compression_opts=4, chunks=(1,) + frames.shape[1:])
    with atomic_path(path, overwrite=overwrite, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["software_version"] = __version__
            f.attrs["kind"] = _KIND
            d = f.create_dataset("frames", data=frames, **comp)
            d.attrs["units"] = "gray level"
            for name, arr, units in (("phase", phase, "rad"), ("amplitude", amplitude, "1")):
                if arr is not None:
                    arr = np.asarray(arr, dtype=np.float32)
                    if arr.shape != frames.shape:
                        raise ValueError(f"{name} must have the frames' shape {frames.shape}, got {arr.shape}")
                    d = f.create_dataset(name, data=arr, **comp)
                    d.attrs["units"] = units
            f.create_dataset("scale", data=scale).attrs["units"] = "1"
            f.create_dataset("out_channel", data=oc)
            f.create_dataset("in_channel", data=ic)
            g = f.create_group("config")
            g.attrs["NX_class"] = "NXcollection"
            write_tree(g, config.to_dict(), config.units())
            write_tree(f.create_group("settings"), _settings_tree(settings or {}))
    return Path(path)


def _settings_tree(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = _settings_tree(v)
        elif isinstance(v, complex):
            out[k] = np.complex128(v)
        elif isinstance(v, list):
            out[k] = tuple(v)
        else:
            out[k] = v
    return out


def read_sidecar(path) -> dict:
    """Contents of a sidecar: dict(frames, phase, amplitude, scale, out_channel, in_channel, config, settings,
    software_version). Missing datasets are None."""
    return read_h5(path, "sidecar", _read_sidecar)


def _read_sidecar(f, path) -> dict:
    kind = f.attrs.get("kind", b"")
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if f.attrs.get("format", None) not in (FORMAT_NAME, FORMAT_NAME.encode()) or kind != _KIND:
        raise ValueError(f"{str(path)!r} is not an optics4f SLM-export sidecar (kind={kind!r})")
    ver = str(f.attrs["format_version"])
    if ver.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise ValueError(f"{str(path)!r} has format_version {ver!r}; this optics4f reads {FORMAT_VERSION}.x")
    out = {k: (f[k][()] if k in f else None) for k in ("frames", "phase", "amplitude", "scale", "out_channel",
                                                        "in_channel")}
    out["config"] = config_from_tree(f["config"], path)
    out["settings"] = read_tree(f["settings"])
    out["software_version"] = str(f.attrs["software_version"])
    return out


def write_manifest(path, manifest: dict, overwrite: bool = False) -> Path:
    """Write ``manifest`` (JSON-able after tuple/NumPy conversion) atomically, with format and versions."""
    doc = {"format": MANIFEST_FORMAT, "format_version": MANIFEST_VERSION, "software_version": __version__,
           **_jsonable(manifest)}
    with atomic_path(path, overwrite=overwrite, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return Path(path)


def read_manifest(path) -> dict:
    """Parse and check a manifest (``manifest.json`` or the export folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no export manifest at {str(path)!r}; give an export folder or its "
                                f"{MANIFEST_NAME}")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{str(path)!r} is not valid JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{str(path)!r} is not an optics4f SLM-export manifest (format {MANIFEST_FORMAT!r})")
    if str(doc.get("format_version", "")).split(".")[0] != MANIFEST_VERSION.split(".")[0]:
        raise ValueError(f"{str(path)!r} has format_version {doc.get('format_version')!r}; this optics4f reads "
                         f"{MANIFEST_VERSION}.x")
    doc["_path"] = str(path)
    return doc


def verify_checksums(folder, manifest: dict) -> None:
    """Raise ValueError naming the first file whose sha256 or size differs from the manifest."""
    folder = Path(folder)
    for name, entry in manifest.get("files", {}).items():
        p = folder / name
        if not p.is_file():
            raise FileNotFoundError(f"export file {name!r} listed in the manifest is missing from {str(folder)!r}")
        if p.stat().st_size != entry["bytes"] or sha256(p) != entry["sha256"]:
            raise ValueError(f"export file {name!r} does not match its manifest checksum: it was modified or "
                             "damaged; export again")
