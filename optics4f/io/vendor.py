"""Files labs already have: vendor correction images, LUT text tables, Santec CSV, slmsuite phase files.

**Correction images** (:func:`read_correction_image`, :func:`write_correction_image`). A vendor's
flatness (wavefront) correction is an 8- or 16-bit gray image (BMP, PNG, TIFF) at the panel's
resolution that the vendor software adds, in gray levels, to every frame. On a panel whose
``gray_2pi`` levels span 2 pi (at the vendor's wavelength ``vendor_wavelength``), gray g is the phase

    phi = sign * 2 pi g / gray_2pi     (rad at vendor_wavelength; sign -1: gray up = phase down)

and, the correction being an optical path, phi * vendor_wavelength / wavelength at another
wavelength. The default ``gray_2pi`` is 2^bits (all levels span 2 pi: Holoeye, Meadowlark, Santec,
slmsuite); Hamamatsu states its 2 pi level per wavelength (e.g. 205 at 633 nm on some X10468
heads): give it. ``convention="slmsuite"`` reads an image the way slmsuite's
``SLM.load_vendor_phase_correction`` does: phi = 2 pi (2^bits - 1 - g) / 2^bits.

**Santec CSV** (:func:`read_santec_csv_phase`): Santec's correction files hold one gray level per
pixel after a header row and column (X, Y indices), phi = -2 pi g / 2^bits (slmsuite's ``Santec``
convention; 10-bit panels: 1024 levels).

**LUT text tables** (:func:`read_lut_text`): two columns, gray -> phase (rad; ``unit`` "deg" or
"waves" also read) or gray -> gray (a linearisation table mapping an application's level to the
drive level, Meadowlark style), separated by spaces, tabs, commas or semicolons, with optional
header or ``#`` comment lines. :func:`lut_table` interpolates a gray -> phase table onto every level.

**slmsuite** (:func:`slmsuite_phase_to_gray`, :func:`slmsuite_gray_to_phase`,
:func:`read_slmsuite_phase`, :func:`write_slmsuite_phase`). slmsuite maps a phase to gray as
rint(-phi 2^bits / 2 pi) - 1 modulo 2^bits (2 pi spans all levels, phase 0 on the top level,
gray up = phase down), while an optics4f linear panel puts 2 pi at gray 2^bits - 1 by default: the
same phase gives different frames. Its phase files (``SLM.save_phase``) are HDF5 with datasets
``phase`` (float32, rad), ``display`` (the integer frame) and ``__version__``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..typing import ArrayLike, PathLike
from ..devices.slm import gray_dtype

__all__ = ["read_gray_image", "read_correction_image", "write_correction_image", "read_santec_csv_phase",
           "read_lut_text", "lut_table", "slmsuite_phase_to_gray", "slmsuite_gray_to_phase", "read_slmsuite_phase",
           "write_slmsuite_phase", "load_flatness", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".bmp", ".png", ".tif", ".tiff")
_TWO_PI = 2.0 * np.pi


def _file(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    return path


def read_gray_image(path: PathLike) -> tuple[np.ndarray, int]:
    """(gray levels (ny, nx) int64, bits of the image container: 8 or 16) of a one-channel image."""
    from PIL import Image, UnidentifiedImageError

    path = _file(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode == "P":  # palette BMPs of vendors are gray ramps: map through the palette
                pal = np.asarray(im.getpalette()[:768]).reshape(-1, 3)
                if not np.all(pal[:, 0] == pal[:, 1]) or not np.all(pal[:, 1] == pal[:, 2]):
                    raise ValueError(f"{str(path)!r} is a colour-palette image; a correction image is gray")
                return pal[np.asarray(im), 0].astype(np.int64), 8
            if mode not in ("L", "I;16", "I;16B", "I;16L", "I"):
                raise ValueError(f"{str(path)!r} is a {mode!r} image; a correction image has one gray channel "
                                 "(8-bit 'L' or 16-bit)")
            a = np.asarray(im).astype(np.int64)
    except UnidentifiedImageError:
        raise ValueError(f"{str(path)!r} is not a readable image (BMP, PNG or TIFF)") from None
    bits = 8 if mode == "L" else 16
    if mode == "I" and a.size and (a.min() < 0 or a.max() > 65535):
        raise ValueError(f"{str(path)!r} holds values outside 0..65535; not a gray-level image")
    return a, bits


def _bits_of(values, bits_container, bit_depth):
    if bit_depth is not None:
        b = int(bit_depth)
        if b < 1 or b > 16:
            raise ValueError(f"bit_depth must be 1..16, got {bit_depth!r}")
        if values.size and values.max() >= 2**b:
            raise ValueError(f"the image holds gray {int(values.max())}, above the {b}-bit range; check bit_depth")
        return b
    return bits_container


def _wavelength_scale(vendor_wavelength, wavelength) -> float:
    if vendor_wavelength is None or wavelength is None:
        return 1.0
    for name, v in (("vendor_wavelength", vendor_wavelength), ("wavelength", wavelength)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive (m), got {v!r}")
    return float(vendor_wavelength) / float(wavelength)


def read_correction_image(path: PathLike, *, gray_2pi: float | None = None, vendor_wavelength: float | None = None,
                          wavelength: float | None = None, sign: int = -1, bit_depth: int | None = None,
                          convention: str = "linear") -> np.ndarray:
    """Flatness correction (rad, (ny, nx) float64) from a vendor's gray image (see the module docstring).

    gray_2pi : gray levels spanning 2 pi at ``vendor_wavelength`` (default 2^bit_depth).
    vendor_wavelength, wavelength : m; when both are given the phase is scaled to ``wavelength``.
    sign : -1 (gray up = phase down, the optics4f default) or +1.
    bit_depth : bits of the data (default: the container's, 8 or 16).
    convention : "linear" (sign * 2 pi g / gray_2pi) or "slmsuite" (2 pi (2^b - 1 - g) / 2^b).
    """
    g, bits = read_gray_image(path)
    bits = _bits_of(g, bits, bit_depth)
    scale = _wavelength_scale(vendor_wavelength, wavelength)
    if convention == "slmsuite":
        return _TWO_PI * (2**bits - 1 - g) / 2**bits * scale
    if convention != "linear":
        raise ValueError(f"convention must be 'linear' or 'slmsuite', got {convention!r}")
    if sign not in (-1, 1):
        raise ValueError(f"sign must be -1 (gray up = phase down) or +1, got {sign!r}")
    top = float(2**bits if gray_2pi is None else gray_2pi)
    if not top > 0:
        raise ValueError(f"gray_2pi must be a positive number of gray levels, got {gray_2pi!r}")
    return sign * _TWO_PI * g / top * scale


def write_correction_image(path: PathLike, phase: ArrayLike, *, gray_2pi: float | None = None, bit_depth: int = 8,
                           sign: int = -1, overwrite: bool = False) -> Path:
    """Write a correction (rad) as a gray image (BMP for 8 bits, else PNG/TIFF by the suffix) that
    :func:`read_correction_image` with the same settings reads back within one gray level:
    g = rint(sign phi gray_2pi / 2 pi) modulo gray_2pi."""
    from PIL import Image

    from .atomic import atomic_path

    phi = np.asarray(phase, dtype=np.float64)
    if phi.ndim != 2 or not np.all(np.isfinite(phi)):
        raise ValueError(f"phase must be a finite 2-D map (rad), got shape {phi.shape}")
    b = int(bit_depth)
    top = float(2**b if gray_2pi is None else gray_2pi)
    if not 0 < top <= 2**b:
        raise ValueError(f"gray_2pi {top:g} must lie in (0, 2^{b}]")
    g = np.mod(np.rint(sign * phi * top / _TWO_PI), np.ceil(top)).astype(np.int64)
    suffix = Path(path).suffix.lower()
    if b <= 8:
        img = Image.fromarray(g.astype(np.uint8), mode="L")
    else:
        if suffix == ".bmp":
            raise ValueError("BMP holds 8-bit gray only; write a 16-bit correction as .png or .tif")
        img = Image.fromarray(g.astype(np.uint16))
    fmt = {".bmp": "BMP", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix)
    if fmt is None:
        raise ValueError(f"unknown image suffix {suffix!r}; use .bmp, .png or .tif")
    with atomic_path(path, overwrite=overwrite, suffix=suffix) as tmp:
        img.save(tmp, format=fmt)
    return Path(path)


def read_santec_csv_phase(path: PathLike, bit_depth: int = 10, wavelength_scale: float = 1.0) -> np.ndarray:
    """Santec correction CSV (header row of X indices, a Y index per row, then gray levels) -> phase (rad)
    -2 pi g / 2^bit_depth (slmsuite's Santec convention), times ``wavelength_scale``."""
    path = _file(path)
    try:
        g = np.loadtxt(path, skiprows=1, dtype=np.int64, delimiter=",", ndmin=2)[:, 1:]
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{str(path)!r} is not a Santec CSV (header row, then 'y,g0,g1,...' rows): {e}") from None
    if g.size == 0 or g.min() < 0 or g.max() >= 2 ** int(bit_depth):
        raise ValueError(f"{str(path)!r}: gray levels must lie in 0..{2 ** int(bit_depth) - 1} ({bit_depth}-bit)")
    return -_TWO_PI * g / 2 ** int(bit_depth) * float(wavelength_scale)


_SPLIT = re.compile(r"[\s,;]+")


def read_lut_text(path: PathLike, unit: str = "rad") -> dict:
    """A two-column LUT text file -> {"kind": "phase" or "gray", "gray": (n,) int, "value": (n,) float}.

    "gray": the second column is an integer drive level for every input level (a gray -> gray table);
    "phase": the second column is a phase in ``unit`` ("rad", "deg" or "waves"), returned in rad.
    Header and ``#`` / ``%`` comment lines are skipped; the first column must increase."""
    path = _file(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise ValueError(f"{str(path)!r} is not a text LUT file (binary content); for an image use --flatness, "
                         "for a .npy table save it with numpy.save") from None
    rows = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#%;":
            continue
        parts = [p for p in _SPLIT.split(s) if p]
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            if rows:
                raise ValueError(f"{str(path)!r}: line {line!r} is not two numbers") from None
            continue  # a header line
        if len(nums) != 2:
            raise ValueError(f"{str(path)!r}: line {line!r} has {len(nums)} columns; a LUT table has two "
                             "(gray, phase) or (gray, gray)")
        rows.append(nums)
    if len(rows) < 2:
        raise ValueError(f"{str(path)!r} holds {len(rows)} table rows; a LUT needs at least 2")
    a = np.asarray(rows)
    gray, val = a[:, 0], a[:, 1]
    if np.any(gray != np.round(gray)) or np.any(np.diff(gray) <= 0) or gray.min() < 0:
        raise ValueError(f"{str(path)!r}: the first column must be increasing non-negative gray levels")
    is_gray = np.all(val == np.round(val)) and val.min() >= 0 and val.max() > 2 * _TWO_PI \
        and np.array_equal(gray, np.arange(gray.size))
    if is_gray:
        return {"kind": "gray", "gray": gray.astype(np.int64), "value": val.astype(np.float64)}
    factor = {"rad": 1.0, "deg": np.pi / 180.0, "waves": _TWO_PI}.get(unit)
    if factor is None:
        raise ValueError(f"unit must be 'rad', 'deg' or 'waves', got {unit!r}")
    return {"kind": "phase", "gray": gray.astype(np.int64), "value": val * factor}


def lut_table(table: dict, levels: int) -> np.ndarray:
    """Phase (rad) for each of ``levels`` gray levels, linearly interpolated from a gray -> phase table of
    :func:`read_lut_text` (which must cover 0 and levels - 1)."""
    if table["kind"] != "phase":
        raise ValueError("this is a gray -> gray linearisation table (input level -> drive level); an SLM LUT is "
                         "the panel's gray -> phase response (rad): measure it (optics4f calibrate lut) or give "
                         "a gray -> phase table")
    g, v = table["gray"], table["value"]
    if g[0] != 0 or g[-1] != levels - 1:
        raise ValueError(f"the table covers gray {int(g[0])}..{int(g[-1])}; it must span 0..{levels - 1}")
    return np.interp(np.arange(levels), g, v)


# ------------------------------------------------------------------------------------------ slmsuite
def slmsuite_phase_to_gray(phase: ArrayLike, bit_depth: int = 8) -> np.ndarray:
    """slmsuite's linear phase -> gray map: (rint(-phase 2^b / 2 pi) - 1) mod 2^b (uint8/uint16)."""
    n = 2 ** int(bit_depth)
    idx = np.rint(-np.asarray(phase, dtype=np.float64) * n / _TWO_PI).astype(np.int64) - 1
    return np.mod(idx, n).astype(gray_dtype(bit_depth))


def slmsuite_gray_to_phase(gray: ArrayLike, bit_depth: int = 8) -> np.ndarray:
    """The phase in [0, 2 pi) that :func:`slmsuite_phase_to_gray` maps onto ``gray``: -(g + 1) 2 pi / 2^b."""
    n = 2 ** int(bit_depth)
    return np.mod(-(np.asarray(gray, dtype=np.float64) + 1) * _TWO_PI / n, _TWO_PI)


def read_slmsuite_phase(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(phase rad float64, display integer frame) of a slmsuite phase file (``SLM.save_phase``)."""
    import h5py

    path = _file(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{str(path)!r} is not a readable HDF5 file ({e})") from None
    with f:
        if "phase" not in f or "display" not in f:
            raise ValueError(f"{str(path)!r} is not a slmsuite phase file (needs datasets 'phase' and 'display')")
        return np.asarray(f["phase"][()], dtype=np.float64), np.asarray(f["display"][()])


def write_slmsuite_phase(path: PathLike, phase: ArrayLike, bit_depth: int = 8, overwrite: bool = False) -> Path:
    """A slmsuite phase file: ``phase`` (float32 rad), ``display`` (slmsuite's gray frame of it) and
    ``__version__`` (bytes, as slmsuite's save_h5 writes strings); slmsuite's ``load_phase`` reads it."""
    import h5py

    from optics4f._version import __version__

    from .atomic import atomic_path

    phi = np.asarray(phase, dtype=np.float32)
    if phi.ndim != 2:
        raise ValueError(f"phase must be one 2-D frame (rad), got shape {phi.shape}")
    with atomic_path(path, overwrite=overwrite, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f["__version__"] = bytes(f"optics4f {__version__}", "utf-8")
            f["phase"] = phi
            f["display"] = slmsuite_phase_to_gray(phi, bit_depth)
    return Path(path)


# ------------------------------------------------------------------------------------------ dispatch
def _parse_spec(spec: str) -> tuple:
    """'file.bmp:gray_2pi=205,wavelength=633e-9' -> (Path, {settings}); a plain path -> (Path, {})."""
    s = str(spec)
    if Path(s).exists() or ":" not in s:
        return Path(s), {}
    head, _, tail = s.rpartition(":")
    if "=" not in tail:
        return Path(s), {}
    out = {}
    for item in tail.split(","):
        key, eq, val = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in ("gray_2pi", "wavelength", "vendor_wavelength", "sign", "bit_depth", "convention"):
            raise ValueError(f"{spec!r}: settings after ':' are key=value among gray_2pi, wavelength (the "
                             f"vendor's, m), sign, bit_depth, convention (linear|slmsuite); got {item!r}")
        out[key] = val.strip() if key == "convention" else float(val)
    if "wavelength" in out:
        out["vendor_wavelength"] = out.pop("wavelength")
    for k in ("sign", "bit_depth"):
        if k in out:
            out[k] = int(out[k])
    return Path(head), out


def load_flatness(spec: PathLike, wavelength: float | None = None) -> np.ndarray:
    """A flatness correction (rad at ``wavelength``) from a file: a vendor gray image (.bmp/.png/.tif, settings
    as ``FILE:gray_2pi=205,wavelength=633e-9``; :func:`read_correction_image`), a Santec CSV (.csv), a
    slmsuite phase file (.h5: its ``phase``), or a phase map in rad (.npy or a text matrix)."""
    path, opts = _parse_spec(spec)
    path = _file(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return read_correction_image(path, wavelength=wavelength, **opts)
    scale = _wavelength_scale(opts.get("vendor_wavelength"), wavelength)
    if suffix == ".csv":
        return read_santec_csv_phase(path, int(opts.get("bit_depth", 10)), scale)
    if suffix in (".h5", ".hdf5"):
        return read_slmsuite_phase(path)[0] * scale
    if suffix == ".npy":
        return np.load(path, allow_pickle=False) * scale
    try:
        return np.loadtxt(path, ndmin=2) * scale
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"{str(path)!r}: unknown flatness file; use a gray image (.bmp/.png/.tif), a Santec .csv, "
                         "a slmsuite phase .h5, or a phase map in rad (.npy or text)") from None
