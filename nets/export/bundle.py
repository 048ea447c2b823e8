"""An export folder as a whole: write it atomically, read it back (``read_export``).

Folder layout (names fixed so that tools can find them)::

    DIR/manifest.json          files, channels, settings, sha256 checksums (written last)
    DIR/sidecar.h5             float phase / amplitude, integer frames, every setting
    DIR/frame_000.png ...      one file per frame and format (png, bmp, csv, bmp1)
    DIR/dmd_rgb24_000.bmp ...  DMD frames packed 24 per RGB image (format rgb24)
    DIR/lut.txt                optional: the linearising LUT (two-column file)

The whole export is written into a new hidden folder next to DIR and switched
in with one rename (:func:`optics4f.io.atomic.atomic_dir`), so an error, a
full disk or a kill leaves the previous export complete; an existing non-empty
DIR is refused unless ``force=True``, and then only when DIR holds an earlier
export (a ``manifest.json``). Files of DIR that are not part of its previous
export (the user's own notes) are carried over into the new folder.
DIR never contains one of the export's inputs (``inputs``).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optics4f.io.atomic import atomic_dir, check_disk_space

from . import formats as fmts
from .sidecar import (MANIFEST_NAME, SIDECAR_NAME, read_manifest, read_sidecar, sha256, verify_checksums,
                      write_manifest, write_sidecar)

__all__ = ["ExportBundle", "write_export", "read_export", "FRAME_FORMATS_BY_MODE"]

#: Frame formats allowed per SLM mode (the first is the default and the one read back).
FRAME_FORMATS_BY_MODE = {"phase": ("png", "bmp", "csv"), "amplitude": ("png", "bmp", "csv"),
                         "binary": ("bmp1", "png", "rgb24")}


@dataclass
class ExportBundle:
    """What an export folder holds, as read back by :func:`read_export`.

    frames : (F, ny, nx) uint8/uint16
        Integer frames read from the image files (primary format), panel resolution.
    phase : (F, ny, nx) float32 or None
        Wanted phase (rad, working wavelength, before flatness/LUT/quantisation) for phase panels.
    amplitude : (F, ny, nx) float32 or None
        Wanted amplitude (0..1) for amplitude and binary (DMD) panels.
    slm : optics4f.devices.SLM
        The panel with every setting used (bit depth, 2 pi level, sign, LUT, flatness, wavelength scaling).
    config : optics4f.system.SystemConfig
        The 4f system the frames were made for (wavelength, f1, f2, display, SLM, layout, encoding).
    channels : list of dict
        Per frame: {"out_channel": int or None (None: all output channels tiled), "in_channel": int}.
    tiled : bool
        True: one frame per input channel with the output channels tiled (config.layout);
        False: one frame per (output, input) channel pair.
    scale : (F,) complex128
        The wanted term of frame f's transmission equals scale[f] times the model's mask.
    encoding : str
        "double_phase", "phase", "amplitude" or "lee".
    settings : dict
        Export settings (fill, amax, lee carrier, source model and its sha256, ...).
    manifest : dict
        The parsed manifest.json.
    folder : Path
    """

    frames: np.ndarray
    phase: np.ndarray | None
    amplitude: np.ndarray | None
    slm: object
    config: object
    channels: list
    tiled: bool
    scale: np.ndarray
    encoding: str
    settings: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    folder: Path | None = None

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def layout(self):
        """The TiledLayout of the output channels (None for one channel or per-channel frames)."""
        return self.config.layout

    def displayed_phase(self, wavelength: float | None = None) -> np.ndarray:
        """Phase (rad, float64) the panel shows for the frames (LUT, sign, wavelength scaling; includes
        the flatness correction the frames carry). Phase panels only."""
        return self.slm.gray_to_phase(self.frames, wavelength if wavelength is not None else self.config.wavelength)


def _slm_summary(slm) -> dict:
    """SLM settings for the manifest (arrays summarised; they are in the sidecar)."""
    out = {}
    for k in ("name", "resolution", "pitch", "mode", "bit_depth", "gray_2pi", "sign", "quantization",
              "design_wavelength", "fill_factor", "dead_zone", "fringing_sigma"):
        out[k] = getattr(slm, k)
    out["lut"] = None if slm.lut is None else f"{slm.lut.size} values in {SIDECAR_NAME}:/config/slm/lut"
    out["flatness"] = None if slm.flatness is None else f"{SIDECAR_NAME}:/config/slm/flatness"
    return out


def _carry_user_files(old: Path, new: Path) -> None:
    """Hard-link (or copy) into ``new`` the entries of the folder ``old`` that its export did not write."""
    if not old.is_dir():
        return
    try:
        exported = set(read_manifest(old).get("files", {})) | {MANIFEST_NAME}
    except (FileNotFoundError, ValueError, OSError):
        exported = {MANIFEST_NAME, SIDECAR_NAME}
    for p in old.iterdir():
        if p.name in exported or (new / p.name).exists():
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.copytree(p, new / p.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(p, new / p.name)


def _link_or_copy(src, dst):
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)
    return dst


def write_export(out, *, frames, config, scale, channels, tiled: bool, encoding: str, phase=None,
                 amplitude=None, formats=None, settings: dict | None = None, lut_table=None,
                 force: bool = False, inputs=()) -> Path:
    """Write an export folder from arrays (see the module docstring); returns the manifest path.

    frames : (F, ny, nx) integer, the panel resolution of ``config.slm``; channels : list of
    {"out_channel": int or None, "in_channel": int}; formats : frame formats (default: the first
    of ``FRAME_FORMATS_BY_MODE[slm.mode]``; the first listed is the one :func:`read_export` reads);
    lut_table : optional int table written as ``lut.txt`` (two-column LUT file); inputs : paths the
    export was made from (model, LUT, calibration files), which ``out`` must not contain.
    """
    out = Path(out)
    slm = config.slm
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or tuple(frames.shape[1:]) != tuple(slm.resolution):
        raise ValueError(f"frames must be (F, {slm.resolution[0]}, {slm.resolution[1]}) at the panel's native "
                         f"resolution, got {frames.shape}")
    if len(channels) != frames.shape[0]:
        raise ValueError(f"channels must describe each of the {frames.shape[0]} frames, got {len(channels)}")
    allowed = FRAME_FORMATS_BY_MODE.get(slm.mode)
    if allowed is None:
        raise ValueError(f"an SLM in mode {slm.mode!r} has no frame files (an ideal complex modulator); export "
                         "for a real panel (phase, amplitude or binary)")
    formats = list(formats) if formats else [allowed[0]]
    bad = [f for f in formats if f not in allowed]
    if bad:
        raise ValueError(f"format(s) {bad} do not suit an SLM in mode {slm.mode!r}; use {list(allowed)}")
    if formats[0] == "rgb24":
        raise ValueError("'rgb24' packs frames for a DMD controller; list 'bmp1' or 'png' first to read back from")
    if "bmp" in formats and slm.bit_depth > 8:
        raise ValueError(f"'bmp' stores 8 bits; the {slm.bit_depth}-bit panel needs 'png' (16-bit) or 'csv'")
    if force and out.is_dir() and any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        # --force replaces an earlier export as a whole; a folder of other files is never swapped out
        raise FileExistsError(f"export folder {str(out)!r} holds files but no {MANIFEST_NAME}: it is not an earlier "
                              "export, and --force only replaces one; choose another (or an empty) folder")
    # frames in every format (CSV text is the largest, ~4 bytes a pixel), the sidecar's copies, the phase
    extra = sum(np.asarray(a).nbytes for a in (phase, amplitude) if a is not None)
    check_disk_space(out.parent if out.parent.exists() else Path("."), frames.size * (4 * len(formats) + 8) + extra,
                     f"the export to {str(out)!r}")
    with atomic_dir(out, overwrite=force, inputs=inputs, what="export folder") as tmp:
        names, entries, packed = [], [], []
        meta = {"slm": slm.name, "bit_depth": slm.bit_depth, "gray_2pi": slm.gray_2pi, "sign": slm.sign,
                "wavelength": config.wavelength, "encoding": encoding}
        for i, fr in enumerate(frames):
            files = {}
            for fmt in formats:
                if fmt == "rgb24":
                    continue
                name = f"frame_{i:03d}{fmts.FORMATS[fmt]}" if fmt != "bmp1" else f"frame_{i:03d}_1bit.bmp"
                m = dict(meta, frame=i, **{k: v for k, v in channels[i].items()})
                fmts.write_frame(tmp / name, fr, fmt, bit_depth=slm.bit_depth, metadata=m)
                files[fmt] = name
                names.append(name)
            entries.append({"index": i, **channels[i], "files": files})
        if "rgb24" in formats:
            for j, start in enumerate(range(0, frames.shape[0], 24)):
                name = f"dmd_rgb24_{j:03d}.bmp"
                idx = list(range(start, min(start + 24, frames.shape[0])))
                fmts.write_rgb24(tmp / name, frames[idx])
                packed.append({"file": name, "format": "rgb24", "frames": idx})
                names.append(name)
        write_sidecar(tmp / SIDECAR_NAME, frames=frames, config=config, scale=scale,
                      out_channel=[-1 if c["out_channel"] is None else c["out_channel"] for c in channels],
                      in_channel=[c["in_channel"] for c in channels], phase=phase, amplitude=amplitude,
                      settings=dict(settings or {}, encoding=encoding, tiled=bool(tiled)))
        names.append(SIDECAR_NAME)
        if lut_table is not None:
            fmts.write_lut_file(tmp / "lut.txt", np.asarray(lut_table))
            names.append("lut.txt")
        layout = config.layout
        manifest = {
            "slm": _slm_summary(slm),
            "system": {"wavelength": config.wavelength, "f1": config.f1, "f2": config.f2,
                       "display_pitch": config.display.pitch, "display_resolution": config.display.resolution,
                       "units": "m"},
            "encoding": encoding,
            "formats": formats,
            "channels": {"tiled": bool(tiled), "n_frames": int(frames.shape[0]),
                         "layout": None if layout is None else {
                             "n_channels": layout.n_channels, "tile_shape": layout.tile_shape,
                             "arrangement": layout.arrangement, "gap": layout.gap,
                             "offsets_samples": layout.offsets().tolist()}},
            "frames": entries,
            "packed": packed,
            "sidecar": SIDECAR_NAME,
            "lut_file": "lut.txt" if lut_table is not None else None,
            "settings": settings or {},
            "files": {n: {"sha256": sha256(tmp / n), "bytes": (tmp / n).stat().st_size} for n in names},
        }
        write_manifest(tmp / MANIFEST_NAME, manifest)
        names.append(MANIFEST_NAME)
        _carry_user_files(out, tmp)
    return out / MANIFEST_NAME


def read_export(dir_or_manifest, verify: bool = True) -> ExportBundle:
    """Read an export folder (or its manifest.json) back: frames from the image files, the rest
    from the sidecar. ``verify``: check every file's sha256 against the manifest first."""
    manifest = read_manifest(dir_or_manifest)
    try:
        return _read_export(manifest, verify)
    except (KeyError, TypeError, IndexError) as e:
        raise ValueError(f"export manifest {manifest['_path']!r} is incomplete or damaged: entry "
                         f"{e.args[0] if e.args else e!r} is missing or malformed; export again") from None


def _read_export(manifest: dict, verify: bool) -> ExportBundle:
    folder = Path(manifest["_path"]).parent
    if verify:
        verify_checksums(folder, manifest)
    side = read_sidecar(folder / manifest["sidecar"])
    primary = manifest["formats"][0]
    frames = np.stack([fmts.read_frame(folder / e["files"][primary], primary) for e in manifest["frames"]])
    if verify and not np.array_equal(frames, side["frames"]):
        raise ValueError(f"the {primary} frames in {str(folder)!r} differ from the sidecar's integer frames")
    config = side["config"]
    channels = [{"out_channel": e.get("out_channel"), "in_channel": e.get("in_channel")} for e in manifest["frames"]]
    settings = dict(side["settings"])
    return ExportBundle(frames=frames, phase=side["phase"], amplitude=side["amplitude"], slm=config.slm,
                        config=config, channels=channels, tiled=bool(manifest["channels"]["tiled"]),
                        scale=np.asarray(side["scale"]), encoding=manifest["encoding"], settings=settings,
                        manifest=manifest, folder=folder)
