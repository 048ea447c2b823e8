"""What an export file holds (``optics4f inspect``): frames, sidecars, manifests, LUT files.

:func:`inspect_path` returns a dict (JSON-ready) and :func:`format_report`
renders it as text. For a frame that belongs to an export folder (a
``manifest.json`` next to it) the report also reads the sidecar and states
how well the file reproduces the float phase: the largest difference, in
gray levels (the panel's largest phase step), between the phase the panel
shows for the file (flatness removed) and the wanted phase, circularly (at
most 0.5 for a rounding panel, < 1 for a flooring one).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import formats as fmts
from .sidecar import MANIFEST_NAME, SIDECAR_NAME, read_manifest, read_sidecar

__all__ = ["inspect_path", "format_report", "phase_error_gray_levels"]


def phase_error_gray_levels(frames, phase, slm, wavelength) -> float:
    """Largest circular difference, in gray levels, between the phase ``slm`` shows for ``frames``
    (flatness removed) and the wanted ``phase`` (rad). One gray level is the largest phase step
    between neighbouring levels of the panel's law at ``wavelength`` (2 pi / gray_2pi for a linear
    panel, times the wavelength scale), so a rounding panel gives at most 0.5, a flooring one < 1."""
    shown = slm.gray_to_phase(np.asarray(frames), wavelength)
    if slm.flatness is not None:
        shown = shown - slm.flatness
    diff = np.angle(np.exp(1j * (shown - np.asarray(phase, dtype=np.float64))))
    lut = slm.phase_lut() * slm.wavelength_scale(wavelength)
    step = float(np.abs(np.diff(lut)).max())
    return float(np.abs(diff).max() / step)


def _stats(a: np.ndarray) -> dict:
    return {"shape": list(a.shape), "dtype": str(a.dtype), "min": int(a.min()) if a.size else None,
            "max": int(a.max()) if a.size else None, "distinct_levels": int(np.unique(a).size)}


def _frame_report(path: Path) -> dict:
    from PIL import Image

    suffix = path.suffix.lower()
    if suffix == ".csv":
        a = fmts.read_santec_csv(path)
        rep = {"kind": "frame", "format": "csv (Santec)", **_stats(a)}
    else:
        with Image.open(path) as img:
            mode = img.mode
        fmt = {"1": "bmp1", "RGB": "rgb24"}.get(mode, "png" if suffix == ".png" else "bmp")
        a = fmts.read_frame(path, fmt)
        rep = {"kind": "frame", "format": f"{fmt} (mode {mode!r})", **_stats(a)}
        if fmt == "rgb24":
            rep["note"] = "24 binary frames packed in TI DLP order (G0-7, R0-7, B0-7)"
        if suffix == ".png":
            meta = fmts.png_metadata(path)
            if meta:
                rep["metadata"] = meta
    manifest_path = path.parent / MANIFEST_NAME
    if manifest_path.is_file():
        try:
            man = read_manifest(manifest_path)
        except ValueError:
            return rep
        idx = [e["index"] for e in man.get("frames", []) if path.name in e.get("files", {}).values()]
        if idx and (path.parent / man["sidecar"]).is_file():
            side = read_sidecar(path.parent / man["sidecar"])
            cfg, i = side["config"], idx[0]
            entry = man["frames"][i]
            rep["export"] = {"frame": i, "out_channel": entry.get("out_channel"), "in_channel": entry.get("in_channel"),
                             "matches_sidecar_frame": bool(np.array_equal(a, side["frames"][i]))}
            if side["phase"] is not None and cfg.slm.mode == "phase":
                rep["export"]["max_phase_error_gray_levels"] = phase_error_gray_levels(
                    a, side["phase"][i], cfg.slm, cfg.wavelength)
    return rep


def _sidecar_report(path: Path) -> dict:
    side = read_sidecar(path)
    cfg = side["config"]
    slm = cfg.slm
    rep = {"kind": "sidecar", "software_version": side["software_version"],
           "frames": _stats(side["frames"]),
           "float_pattern": "phase (rad)" if side["phase"] is not None else "amplitude (0..1)",
           "slm": {k: getattr(slm, k) for k in ("name", "resolution", "pitch", "mode", "bit_depth", "gray_2pi", "sign",
                                                "quantization", "design_wavelength")},
           "lut": None if slm.lut is None else f"{slm.lut.size} values",
           "flatness": None if slm.flatness is None else "map of the panel shape",
           "system": {"wavelength_m": cfg.wavelength, "f1_m": cfg.f1, "f2_m": cfg.f2,
                      "display_pitch_m": cfg.display.pitch, "encoding": cfg.encoding},
           "channels": [{"out_channel": None if o < 0 else int(o), "in_channel": int(i)}
                        for o, i in zip(side["out_channel"], side["in_channel"])],
           "settings": side["settings"]}
    if side["phase"] is not None and slm.mode == "phase":
        rep["max_phase_error_gray_levels"] = phase_error_gray_levels(side["frames"], side["phase"], slm, cfg.wavelength)
    return rep


def inspect_path(path, h5_reports=()) -> dict:
    """Report (dict) on a frame (.png/.bmp/.csv), a sidecar (.h5), a LUT file (.txt/.lut), a
    manifest.json or an export folder.

    ``h5_reports``: functions ``(path) -> report dict or None`` tried first on an HDF5 file, for
    files of the layers above nets (the command line passes ``calib.report.calibration_report``)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {str(path)!r}")
    if path.is_dir() or path.name == MANIFEST_NAME:
        from .bundle import read_export

        b = read_export(path)  # verifies the checksums
        rep = {"kind": "export", "folder": str(b.folder), "checksums": "ok", "encoding": b.encoding,
               "n_frames": b.n_frames, "tiled": b.tiled, "formats": b.manifest["formats"],
               "frames": _stats(b.frames), "channels": b.channels, "slm": b.manifest["slm"],
               "system": b.manifest["system"], "files": sorted(b.manifest["files"])}
        if b.phase is not None:
            rep["max_phase_error_gray_levels"] = phase_error_gray_levels(b.frames, b.phase, b.slm, b.config.wavelength)
        return rep
    suffix = path.suffix.lower()
    from .inspect_more import flatness_report, h5_report, lut_text_report

    if suffix in (".h5", ".hdf5"):
        other = None
        for report in (*h5_reports, h5_report):  # h5_report: a slmsuite phase file
            other = report(path)
            if other is not None:
                break
        return {"file": str(path), **(other if other is not None else _sidecar_report(path))}
    if suffix == ".npy":
        return {"file": str(path), **flatness_report(path)}
    if suffix in (".txt", ".lut", ".dat"):
        try:
            t = fmts.read_lut_file(path)
        except ValueError:  # not an integer gray -> gray table: a gray -> phase table
            return {"file": str(path), **lut_text_report(path)}
        return {"file": str(path), "kind": "lut", "entries": int(t.size), "output_min": int(t.min()),
                "output_max": int(t.max()), "monotonic": bool(np.all(np.diff(t) >= 0) or np.all(np.diff(t) <= 0))}
    if suffix in (".png", ".bmp", ".csv"):
        rep = {"file": str(path), **_frame_report(path)}
        if suffix != ".csv" and rep.get("format", "").startswith(("png", "bmp ")):
            rep.update(flatness_report(path))
        return rep
    raise ValueError(f"cannot inspect {str(path)!r}: expected an export folder, {MANIFEST_NAME}, {SIDECAR_NAME} (or "
                     "another .h5 sidecar), a frame (.png, .bmp, .csv) or a LUT file (.txt, .lut)")


def format_report(rep: dict, indent: int = 0) -> str:
    """Plain-text rendering of an :func:`inspect_path` report."""
    lines = []
    pad = "  " * indent
    for k, v in rep.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            lines.append(format_report(v, indent + 1))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f"{pad}{k}:")
            lines += [f"{pad}  - {json.dumps(x)}" for x in v]
        elif isinstance(v, float):
            lines.append(f"{pad}{k}: {v:.6g}")
        else:
            lines.append(f"{pad}{k}: {v}")
    return "\n".join(lines)
