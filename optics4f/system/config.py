"""Serialisable configuration of a hardware 4f system (dataclasses <-> TOML and HDF5).

:class:`SystemConfig` holds the optics (wavelength, focal lengths, Fourier
iris), the simulation sampling, the devices (input display, Fourier SLM,
camera), the misalignments and the output-channel layout. Every value is a
number, string, tuple or (for the SLM's LUT and flatness map) a NumPy array,
all in SI units (m, s, rad; camera quantities in electrons and ADU).

Files
-----
* TOML (:meth:`SystemConfig.save_toml` / :meth:`SystemConfig.load_toml`):
  one table per device. TOML has no null and no efficient arrays, so
  ``None`` values are listed by name in the table's ``_none`` key, and arrays
  (LUT, flatness map) go to side files ``<stem>.<table>.<key>.npy`` next to
  the TOML, referenced as ``key = { npy = "file name" }`` (relative to the
  TOML's folder). Side files are named by a hash of their content
  (``<stem>.<table>.<key>.<hash>.npy``) and written before the TOML, which is
  replaced last in one rename: an interrupted save leaves the previous TOML
  and the side files it names intact. Side files the previous TOML named and
  the new one does not are removed afterwards. An existing TOML is replaced
  only with ``overwrite=True``. A file written by ``save_toml`` must list
  every setting: one with missing keys is reported as truncated.
* HDF5 (:func:`optics4f.system.files.save_config`): groups and datasets, arrays
  inline, a ``units`` attribute on every physical quantity.

Sampling geometry (:meth:`SystemConfig.geometry`): the input plane is
sampled at pitch d = display pitch / oversample on ``grid_shape`` samples,
zero-padded by ``pad`` to M samples; the Fourier plane then has pitch
lambda f1 / (M d) and the output plane pitch d f2 / f1. SLM and camera
pixels are drawn on (integrated from) those grids at any pitch ratio; the
Fourier plane should have at least one sample per SLM pixel, which
:func:`optics4f.system.grid_choice.bench_pad` arranges (docs/sampling.md).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..devices.detector import Camera
from ..devices.display import InputDisplay
from ..devices.slm import SLM
from ..grid import Grid, check_padded_memory, padded_size
from ..io.atomic import atomic_open, atomic_path, check_writable
from ..sampling import AliasingError, warn_sampling
from ..typing import PathLike
from .layout import TiledLayout
from .misalignment import Misalignment

try:
    import tomllib
except ImportError:  # Python 3.10: the same parser, as the tomli package (a dependency there)
    import tomli as tomllib

__all__ = ["SystemConfig", "Geometry", "FORMAT_VERSION", "UNITS"]

#: Version of the TOML layout.
FORMAT_VERSION = "1.0"

#: Units of the settings by field name (dimensionless settings are absent).
UNITS = {
    "wavelength": "m", "f1": "m", "f2": "m", "fourier_aperture": "m",
    "pitch": "m", "pixel_pitch": "m", "design_wavelength": "m", "fringing_sigma": "m",
    "exposure_time": "s", "read_noise": "e-", "dark_current": "e-/s", "full_well": "e-",
    "gain": "ADU/e-", "offset": "ADU", "quantum_efficiency": "e-/photon",
    "slm_shift": "m", "slm_rotation": "rad", "slm_tilt": "rad", "fourier_defocus": "m",
    "camera_defocus": "m", "input_tilt": "rad", "flatness": "rad",
    "grid_shape": "samples", "resolution": "pixels", "shape": "pixels", "tile_shape": "samples",
    "gap": "samples", "gray_2pi": "gray level", "illumination": "sqrt(W)/m",
    "reference_amplitude": "sqrt(W)/m", "lee_carrier": "cycles/pixel",
}

_NESTED = {"display": InputDisplay, "slm": SLM, "camera": Camera, "misalignment": Misalignment,
           "layout": TiledLayout}

DETECTIONS = ("intensity", "holographic", "pseudo_negative")
ENCODINGS = ("auto", "direct", "double_phase", "phase", "amplitude", "lee")
_ENCODING_MODES = {"auto": ("phase", "amplitude", "binary", "complex"), "direct": ("complex",),
                   "double_phase": ("phase",), "phase": ("phase",), "amplitude": ("amplitude",), "lee": ("binary",)}
_AUTO_ENCODING = {"complex": "direct", "phase": "double_phase", "amplitude": "amplitude", "binary": "lee"}


@dataclass(frozen=True)
class Geometry:
    """Derived sampling of a configuration (all pitches in metres)."""

    in_grid: Grid  # input plane (display), grid_shape at d
    padded_shape: tuple  # (My, Mx)
    fourier_grid: Grid  # Fourier plane, padded_shape at lambda f1 / (M d)
    out_grid: Grid  # output plane, grid_shape at d f2 / f1
    display_factor: int  # simulation samples per display pixel
    slm_factor: tuple  # Fourier samples per SLM pixel (ky, kx): int where whole, else float
    camera_factor: int | float  # output samples per camera pixel (int where whole)


def _leaf(value):
    """Normalise a value read from a file: lists -> tuples, NumPy scalars -> Python."""
    if isinstance(value, list):
        return tuple(_leaf(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _build(cls, d: dict, where: str):
    if not isinstance(d, dict):
        raise TypeError(f"[{where}] must be a table of settings, got {type(d).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} in [{where}]; known settings: {sorted(names)}")
    try:
        return cls(**{k: _leaf(v) for k, v in d.items()})
    except (TypeError, ValueError) as e:
        raise type(e)(f"[{where}] {e}") from None


def _side_files(path: Path) -> set:
    """Side-file names the TOML ``path`` refers to (in its folder; empty when it cannot be read)."""
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (OSError, ValueError):
        return set()
    names = set()

    def walk(d):
        for v in d.values():
            if isinstance(v, dict) and set(v) == {"npy"} and isinstance(v["npy"], str):
                if "/" not in v["npy"] and "\\" not in v["npy"] and v["npy"].startswith(path.stem + "."):
                    names.add(v["npy"])
            elif isinstance(v, dict):
                walk(v)

    walk(doc)
    return names


def _remove_own_side_file(p: Path) -> None:
    """Delete a side file that save_toml wrote and nobody changed: its name carries the hash of its
    content. Other files a TOML names (a user's own arrays) are never deleted."""
    m = re.fullmatch(r".+\.([0-9a-f]{16})\.npy", p.name)
    try:
        if m and p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest()[:16] == m.group(1):
            p.unlink()
    except OSError:
        pass  # an orphan side file is harmless


def _load_side(p: Path, key: str, where: str) -> np.ndarray:
    if not p.is_file():
        raise FileNotFoundError(f"{where}: side file {str(p)!r} of setting {key} does not exist")
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"{where}: side file {str(p)!r} of setting {key} is truncated or not a .npy array "
                         f"({e})") from None


def missing_settings(d: dict) -> list:
    """Dotted names of the settings a complete configuration dict lacks."""
    missing = [f.name for f in dataclasses.fields(SystemConfig) if f.name not in d]
    for name, cls in _NESTED.items():
        sub = d.get(name)
        if isinstance(sub, dict):
            missing += [f"{name}.{f.name}" for f in dataclasses.fields(cls) if f.name not in sub]
    return missing


def _plain(obj) -> dict:
    """Dataclass -> dict of its fields (shallow; arrays kept)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, np.ndarray):
            v = v.copy()
        elif isinstance(v, np.generic):
            v = v.item()
        out[f.name] = v
    return out


def _equal(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype.kind == b.dtype.kind and bool(np.array_equal(a, b)))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@dataclass(eq=False)
class SystemConfig:
    """Hardware 4f system: lenses, sampling, devices, misalignments and layout.

    Attributes
    ----------
    wavelength : float
        Metres.
    f1, f2 : float
        Focal lengths of the Fourier lens and the imaging lens, metres.
    grid_shape : (ny, nx)
        Simulation samples of the input (and output) plane; the display sits centred in it.
    oversample : int
        Simulation samples per display pixel (input pitch = display pitch / oversample).
    pad : float
        Zero-padding factor of the input plane (>= 1): the Fourier plane has
        ``padded_size(grid_shape, pad)`` samples.
    fourier_aperture : float or None
        Radius of an iris in the Fourier plane, metres (None: no iris; the SLM
        panel's own extent always limits the plane).
    display, slm, camera : InputDisplay, SLM, Camera
        The devices.
    misalignment : Misalignment
    encoding : str
        How a complex Fourier mask goes on the SLM: "direct" (complex SLM),
        "double_phase" or "phase" (phase-only SLM: arg H, amplitude dropped),
        "amplitude" (|H|, phase dropped), "lee" (binary DMD); "auto" picks
        direct / double_phase / amplitude / lee by the SLM mode.
    lee_carrier : (nu_y, nu_x)
        Carrier of the Lee hologram, cycles per SLM pixel.
    illumination : float
        Amplitude of the plane wave lighting the display, sqrt(W)/m.
    layout : TiledLayout or None
        Output channels tiled on the camera; None: one channel on the axis.
    detection : "intensity" | "holographic" | "pseudo_negative"
        Default detection scheme of :meth:`Hardware4f.detect`.
    holography_steps : int
        Phase steps of holographic detection (>= 3).
    reference_amplitude : float
        Reference-beam amplitude at the camera, sqrt(W)/m (holographic detection).
    seed : int or None
        Seed of the camera noise (None: fresh entropy on every run).
    """

    wavelength: float = 532e-9
    # Default focal length: p_slm * M * d / lambda with p_slm = d = 8 um and M = 256, so one
    # Fourier-plane sample per SLM pixel.
    f1: float = 8e-6 * 256 * 8e-6 / 532e-9
    f2: float = 8e-6 * 256 * 8e-6 / 532e-9
    grid_shape: tuple = (128, 128)
    oversample: int = 1
    pad: float = 2.0
    fourier_aperture: float | None = None
    display: InputDisplay = field(default_factory=InputDisplay)
    slm: SLM = field(default_factory=SLM)
    camera: Camera = field(default_factory=lambda: Camera(shape=(128, 128), pixel_pitch=8e-6))
    misalignment: Misalignment = field(default_factory=Misalignment)
    layout: TiledLayout | None = None
    encoding: str = "auto"
    lee_carrier: tuple = (0.0, 0.25)
    illumination: float = 1.0
    detection: str = "intensity"
    holography_steps: int = 4
    reference_amplitude: float = 1.0
    seed: int | None = None

    def __post_init__(self):
        from ..validate import physical

        self.wavelength = physical("wavelength", self.wavelength)
        for name in ("f1", "f2"):
            setattr(self, name, physical(name, getattr(self, name), "focal_length"))
        from ..validate import finite, shape2

        self.grid_shape = shape2("grid_shape", self.grid_shape, min=2)
        if isinstance(self.oversample, bool) or int(self.oversample) != self.oversample or self.oversample < 1:
            raise ValueError(f"oversample must be a positive integer (samples per display pixel), got "
                             f"{self.oversample!r}")
        self.oversample = int(self.oversample)
        if isinstance(self.pad, bool) or not (isinstance(self.pad, (int, float)) and finite("pad", self.pad) >= 1):
            raise ValueError(f"pad must be >= 1 (zero-padding factor), got {self.pad!r}")
        self.pad = float(self.pad)
        check_padded_memory(self.grid_shape, self.pad, what="the system's Fourier plane")
        if self.fourier_aperture is not None and not self.fourier_aperture > 0:
            raise ValueError(f"fourier_aperture must be a positive radius in metres or None, got "
                             f"{self.fourier_aperture!r}")
        for name, cls in _NESTED.items():
            v = getattr(self, name)
            if v is None and name == "layout":
                continue
            if isinstance(v, dict):
                setattr(self, name, _build(cls, v, name))
            elif not isinstance(v, cls):
                raise TypeError(f"{name} must be a {cls.__name__} (or a dict of its settings), got "
                                f"{type(v).__name__}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {self.encoding!r}")
        allowed = _ENCODING_MODES[self.encoding]
        if self.slm.mode not in allowed:
            raise ValueError(f"encoding {self.encoding!r} does not work on an SLM in mode {self.slm.mode!r}; "
                             f"it needs mode {' or '.join(allowed)} (or use encoding='auto')")
        self.lee_carrier = tuple(finite(f"lee_carrier[{i}]", float(c))
                                 for i, c in enumerate(np.broadcast_to(np.asarray(self.lee_carrier), (2,))))
        if not (finite("illumination", self.illumination) > 0):
            raise ValueError(f"illumination must be > 0 (sqrt(W)/m), got {self.illumination!r}")
        self.illumination = float(self.illumination)
        if self.detection not in DETECTIONS:
            raise ValueError(f"detection must be one of {DETECTIONS}, got {self.detection!r}")
        if int(self.holography_steps) != self.holography_steps or self.holography_steps < 3:
            raise ValueError(f"holography_steps must be an integer >= 3, got {self.holography_steps!r}")
        self.holography_steps = int(self.holography_steps)
        if not (finite("reference_amplitude", self.reference_amplitude) > 0):
            raise ValueError(f"reference_amplitude must be > 0 (sqrt(W)/m), got {self.reference_amplitude!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or int(self.seed) != self.seed):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")

    # -- equality and plain data -------------------------------------------------------------
    def to_dict(self) -> dict:
        """Nested dict of plain values (devices as sub-dicts; arrays kept as NumPy arrays)."""
        out = _plain(self)
        for name in _NESTED:
            if out[name] is not None:
                out[name] = _plain(out[name])
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "SystemConfig":
        """Inverse of :meth:`to_dict` (unknown keys are refused with the list of known ones)."""
        d = dict(d)
        for k in ("format", "format_version", "units"):
            d.pop(k, None)
        return _build(cls, d, "system")

    def units(self) -> dict:
        """Dotted path -> unit of every physical setting present (for file attributes)."""
        out = {}
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                for k in value:
                    if k in UNITS:
                        out[f"{key}.{k}"] = UNITS[k]
                if key == "slm" and self.slm.lut is not None:
                    out["slm.lut"] = "rad" if self.slm.mode == "phase" else "1"
            elif key in UNITS:
                out[key] = UNITS[key]
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, SystemConfig) and _equal(self.to_dict(), other.to_dict())

    @property
    def effective_encoding(self) -> str:
        """The encoding in use (``encoding``, with "auto" resolved by the SLM mode)."""
        return _AUTO_ENCODING[self.slm.mode] if self.encoding == "auto" else self.encoding

    def replace(self, **changes: Any) -> "SystemConfig":
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- TOML ------------------------------------------------------------------------------------
    def save_toml(self, path: PathLike, overwrite: bool = False) -> Path:
        """Write a TOML file (and side .npy files for arrays) as one set (see the module docstring)."""
        import tomli_w

        path = check_writable(path, overwrite)
        side = {}

        def table(d: dict, prefix: str) -> dict:
            out, nones = {}, []
            for k, v in d.items():
                if v is None:
                    nones.append(k)
                elif isinstance(v, dict):
                    out[k] = table(v, f"{prefix}{k}.")
                elif isinstance(v, np.ndarray):
                    buf = io.BytesIO()
                    np.save(buf, v, allow_pickle=False)
                    data = buf.getvalue()
                    fname = f"{path.stem}.{prefix}{k}.{hashlib.sha256(data).hexdigest()[:16]}.npy"
                    side[fname] = data
                    out[k] = {"npy": fname}
                else:
                    out[k] = list(v) if isinstance(v, tuple) else v
            if nones:
                out["_none"] = nones
            return out

        doc = {"format": "optics4f.system", "format_version": FORMAT_VERSION,
               "units": "SI: m, s, rad; camera in e- and ADU", **table(self.to_dict(), "")}
        old_side = _side_files(path) if path.exists() else set()
        for fname, data in side.items():  # content-named: an existing one already holds these bytes
            target = path.parent / fname
            if target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data:
                continue
            with atomic_path(target, overwrite=True) as tmp:
                tmp.write_bytes(data)
        with atomic_open(path, "wb", overwrite=overwrite) as fh:  # the commit: one rename
            tomli_w.dump(doc, fh)
        for fname in old_side - set(side):
            _remove_own_side_file(path.parent / fname)
        return path

    @classmethod
    def load_toml(cls, path: PathLike) -> "SystemConfig":
        """Read a TOML file written by :meth:`save_toml` (or by hand).

        Errors name the file and what is wrong: missing, unreadable, not TOML, empty, truncated (a file
        written by ``save_toml`` lacks settings), a missing or corrupt side file, a bad value."""
        path = Path(path)
        where = f"configuration {str(path)!r}"
        if not path.is_file():
            raise FileNotFoundError(f"{where} does not exist" if not path.exists() else f"{where} is not a file")
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{where} is not valid TOML (truncated or damaged?): {e}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{where} is not a text (TOML) file") from None
        if not doc:
            raise ValueError(f"{where} is empty: it holds no settings")
        fmt = doc.pop("format", "optics4f.system")
        if fmt != "optics4f.system":
            raise ValueError(f"{str(path)!r} is not an optics4f system configuration (format = {fmt!r})")
        written = "format_version" in doc  # by save_toml, which lists every setting
        ver = str(doc.pop("format_version", FORMAT_VERSION))
        if ver.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            raise ValueError(f"{str(path)!r} has format_version {ver!r}; this optics4f reads {FORMAT_VERSION}.x")
        units = doc.pop("units", None)
        if units is not None and not str(units).startswith("SI"):
            raise ValueError(f"{where} declares units = {units!r}; optics4f reads SI values only (m, s, rad): "
                             "convert the values and set units = \"SI\"")

        def untable(d: dict, where_: str) -> dict:
            out = {}
            nones = d.pop("_none", [])
            if not isinstance(nones, list):
                raise ValueError(f"{where}: [{where_}] _none must be a list of setting names")
            for k in nones:
                out[k] = None
            for k, v in d.items():
                if isinstance(v, dict) and set(v) == {"npy"}:
                    out[k] = _load_side(path.parent / str(v["npy"]), f"{where_}.{k}", where)
                elif isinstance(v, dict):
                    out[k] = untable(v, f"{where_}.{k}")
                else:
                    out[k] = v
            return out

        d = untable(doc, "system")
        if written:
            missing = missing_settings(d)
            if missing:
                raise ValueError(f"{where} is truncated or incomplete: setting(s) {missing} missing (a file "
                                 "written by save_toml lists every setting); restore it or save it again")
        try:
            return cls.from_dict(d)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{where}: {e}") from None

    # -- sampling ----------------------------------------------------------------------------------
    def geometry(self) -> Geometry:
        """Derived grids and pixel ratios (samples per display, SLM and camera pixel)."""
        from ..devices.render import pitch_ratio

        d = self.display.pitch / self.oversample
        in_grid = Grid(self.grid_shape, d)
        dny, dnx = (r * self.oversample for r in self.display.resolution)
        if dny > in_grid.ny or dnx > in_grid.nx:
            raise ValueError(
                f"the display ({self.display.resolution} pixels x oversample {self.oversample} = {(dny, dnx)} samples) "
                f"does not fit grid_shape {self.grid_shape}; enlarge grid_shape")
        padded = tuple(padded_size(n, self.pad) for n in self.grid_shape)
        fourier = Grid(padded, d).fourier_grid(self.wavelength, self.f1)
        # Any pitch ratio renders (optics4f.devices.render); check() judges whether it is fine enough.
        kf = pitch_ratio(self.slm.pitch, fourier.pitch, name="SLM pixels on the Fourier grid")
        out_grid = Grid(self.grid_shape, d * self.f2 / self.f1)
        ky, kx = pitch_ratio(self.camera.pixel_pitch, out_grid.pitch, name="camera pixels on the output grid")
        kc = ky if ky == kx else (ky, kx)
        return Geometry(in_grid, padded, fourier, out_grid, self.oversample, tuple(kf), kc)

    def check(self, strict: bool = False) -> Geometry:
        """Sampling consistency: errors where the system cannot be simulated, warnings
        (:class:`~optics4f.sampling.SamplingWarning`, or errors with ``strict``) where it cannot
        represent the intended image or mask. Returns the geometry."""
        g = self.geometry()
        lam, f1, f2 = self.wavelength, self.f1, self.f2
        # Fewer than one Fourier sample per SLM pixel: the box average of the panel over a sample
        # aliases the pixel structure (a double-phase checkerboard, say) into the image.
        kmin = min(float(k) for k in g.slm_factor)
        if kmin < 1 - 1e-9:
            warn_sampling(
                f"the Fourier grid samples the SLM {kmin:.3g} times per pixel (pitch {g.fourier_grid.dx:.4g} m against "
                f"the SLM's {self.slm.pitch:.4g} m): it cannot represent the panel. Raise pad to at least "
                f"{self.pad / kmin:.4g} (or use optics4f.system.bench_grid to choose the grid)", strict=strict)
        # The SLM panel must pass the display's spectrum up to its first diffraction order.
        half_panel = min(self.slm.size) / 2
        need = lam * f1 / (2 * self.display.pitch)
        if half_panel < need * (1 - 1e-9):
            warn_sampling(
                f"the SLM panel (half-width {half_panel:.4g} m) is smaller than the display's spectrum "
                f"(lambda*f1/(2*p_display) = {need:.4g} m): the 4f system low-passes the input image. Use a "
                f"shorter f1 (<= {f1 * half_panel / need:.4g} m) or a larger panel", strict=strict)
        # The SLM's pixel grid replicates the output every lambda*f2/p_slm; the image must fit between.
        spacing = lam * f2 / self.slm.pitch
        image = np.asarray(self.display.resolution) * self.display.pitch * f2 / f1
        if np.any(spacing < image * (1 - 1e-9)):
            warn_sampling(
                f"the SLM pixels ({self.slm.pitch:.4g} m) replicate the output every lambda*f2/p_slm = "
                f"{spacing:.4g} m, "
                f"closer than the image extent {image.max():.4g} m: the replicas overlap the image. Use a finer SLM "
                "pitch or a longer f2 relative to f1", strict=strict)
        # Tiles must fit the output plane and the camera, and their ramps must be sampled by the SLM.
        lay = self.layout
        if lay is not None:
            lay.check_fits(self.grid_shape, "output plane (grid_shape)")
            kc = g.camera_factor
            # a whole number of samples per camera pixel: tiles must fall on whole pixels; any other
            # ratio reads the tiles from the frame redistributed onto the output samples (layout.py)
            whole = float(kc).is_integer()
            if whole and (any(t % kc for t in lay.tile_shape) or np.any(lay.offsets() % kc)):
                raise ValueError(f"layout tile_shape {lay.tile_shape} (and gap {lay.gap}) must be multiples of the "
                                 f"{kc:.6g} output samples per camera pixel, so that tiles fall on whole camera "
                                 f"pixels; a tiled camera needs a whole number of output samples (pitch "
                                 f"{g.out_grid.dx:.6g} m = display pitch * f2/f1) per camera pixel")
            cam_samples = tuple(int(s * kc) for s in self.camera.shape)
            lay.check_fits(cam_samples, f"camera ({self.camera.shape} pixels = {cam_samples} samples)")
            reach = lam * f2 / (2 * self.slm.pitch)  # output period of the SLM pixel grid / 2
            off = np.abs(lay.offsets()).max(axis=0) * np.asarray(g.out_grid.pitch)
            far = off + np.asarray(lay.tile_shape) / 2 * np.asarray(g.out_grid.pitch)
            if np.any(far > reach * (1 + 1e-9)):
                raise AliasingError(
                    f"tiles reach {far.max():.4g} m from the axis, beyond lambda*f2/(2*p_slm) = {reach:.4g} m where "
                    "the SLM pixels can steer light (the tile ramps alias); use fewer/smaller tiles or a longer f2")
        # Fourier-plane defocus: its input-plane chirp must be sampled.
        dz = self.misalignment.fourier_defocus
        if dz:
            r = np.hypot(*(np.asarray(self.display.resolution) * self.display.pitch / 2))
            fl = abs(dz) * r / (lam * f1**2)
            if fl > 1 / (2 * g.in_grid.dx):
                warn_sampling(
                    f"fourier_defocus {dz:g} m: its phase on the input plane reaches {fl:.4g} cycles/m, above the "
                    f"Nyquist frequency {1 / (2 * g.in_grid.dx):.4g}; raise oversample", strict=strict)
        return g
