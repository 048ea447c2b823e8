"""SLM frame files: lossless images, vendor formats, LUT files; a writer and a reader for each.

Every writer takes integer gray levels (..., ny, nx) at the panel's native
resolution and writes atomically (:func:`optics4f.io.atomic.atomic_path`);
every reader returns the same integers (NumPy, uint8 or uint16), so
``read(write(frame)) == frame`` exactly.

Formats (``FORMATS``; name -> file suffix):

* ``png``: PNG, mode 'L' (8-bit) up to 8 bits, mode 'I;16' (16-bit) above;
  gray levels are stored as they are (a 10-bit frame holds 0..1023, not
  rescaled to 0..65535), which is what vendor drivers read. Optional text
  chunks carry the settings (``metadata``).
* ``bmp``: 8-bit grayscale BMP (mode 'L'), up to 8 bits (BMP has no 16-bit gray).
* ``csv``: Santec CSV: the first row holds the column (X) indices, the first
  column the row (Y) index, then one integer gray level per pixel (the layout
  Santec's software writes and reads; values 0..1023 on a 10-bit panel).
* ``bmp1``: 1-bit BMP (mode '1') of a binary (DMD) frame: 0 -> mirror off, 1 -> on.
* ``rgb24``: up to 24 binary frames packed into one 24-bit RGB BMP, the
  TI DLP (LightCrafter / DLPC900) bit-plane order: frame i goes to bit i % 8
  of green (i < 8), red (8 <= i < 16) or blue (16 <= i < 24).

LUT files (``write_lut_file`` / ``read_lut_file``): a Meadowlark-style
two-column text file, one line "input output" per input gray level (integers,
whitespace separated), mapping the gray level an application sends to the
drive level the panel gets. :func:`linearizing_lut` builds such a table from
an SLM's measured phase LUT.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from optics4f.io.atomic import atomic_path

__all__ = ["FORMATS", "write_frame", "read_frame", "write_png", "read_png", "write_bmp", "read_bmp",
           "write_santec_csv", "read_santec_csv", "write_bmp1", "read_bmp1", "pack_rgb24", "unpack_rgb24",
           "write_rgb24", "read_rgb24", "write_lut_file", "read_lut_file", "linearizing_lut", "png_metadata"]

#: Format name -> file suffix.
FORMATS = {"png": ".png", "bmp": ".bmp", "csv": ".csv", "bmp1": ".bmp", "rgb24": ".bmp"}

# Bit-plane order of the TI DLP 24-bit RGB packing: (RGB channel index, bit) of frame i.
_RGB24_ORDER = [(1, b) for b in range(8)] + [(0, b) for b in range(8)] + [(2, b) for b in range(8)]


def _pil():
    from PIL import Image, PngImagePlugin

    return Image, PngImagePlugin


def _frame2d(frame, name="frame") -> np.ndarray:
    a = np.asarray(frame.get() if hasattr(frame, "get") else frame)
    if a.ndim != 2:
        raise ValueError(f"{name} must be one 2-D frame (ny, nx) of gray levels, got shape {a.shape}; "
                         "write one file per frame")
    if a.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer gray levels, got dtype {a.dtype}; encode it with SLM.encode")
    if a.size and (int(a.min()) < 0 or int(a.max()) > 65535):
        raise ValueError(f"{name} values must be 0..65535 (at most 16 bits), got {int(a.min())}..{int(a.max())}")
    return a


def _check_bits(frame, bit_depth, fmt, max_bits):
    if bit_depth is None:
        bit_depth = 8 if (frame.size == 0 or int(frame.max()) < 256) else 16
    bit_depth = int(bit_depth)
    if not 1 <= bit_depth <= max_bits:
        raise ValueError(f"format {fmt!r} stores at most {max_bits} bits per pixel, the frame has bit_depth="
                         f"{bit_depth}; use 'png' (16-bit) or 'csv' for deeper panels")
    if frame.size and int(frame.max()) >= 2**bit_depth:
        raise ValueError(f"frame reaches gray level {int(frame.max())}, beyond bit_depth={bit_depth} "
                         f"(0..{2**bit_depth - 1})")
    return bit_depth


def _save_image(path, img, fmt, overwrite, **kw):
    with atomic_path(path, overwrite=overwrite, suffix=FORMATS.get(fmt, ".tmp")) as tmp:
        img.save(tmp, format=fmt, **kw)
    return Path(path)


# ----------------------------------------------------------------------------- PNG / BMP
def write_png(path, frame, bit_depth: int | None = None, metadata: dict | None = None, overwrite: bool = False):
    """Lossless PNG of ``frame``: 8-bit gray ('L') for bit_depth <= 8, 16-bit gray ('I;16') above.

    ``bit_depth`` (default: 8 if all values < 256, else 16) only chooses the
    container and is checked against the values. ``metadata`` (str -> JSON-able)
    goes into PNG text chunks (values JSON-encoded).
    """
    Image, PngImagePlugin = _pil()
    a = _frame2d(frame)
    bits = _check_bits(a, bit_depth, "png", 16)
    info = PngImagePlugin.PngInfo()
    for k, v in (metadata or {}).items():
        info.add_text(str(k), json.dumps(v))
    if bits <= 8:
        img = Image.fromarray(a.astype(np.uint8), mode="L")
    else:
        img = Image.fromarray(a.astype(np.uint16))  # mode 'I;16'
    return _save_image(path, img, "png", overwrite, pnginfo=info)


def _read_gray(path, modes, what):
    Image, _ = _pil()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    with Image.open(path) as img:
        mode = img.mode
        if mode not in modes:
            raise ValueError(f"{str(path)!r} is a {mode!r} image; a {what} needs mode {' or '.join(modes)}")
        a = np.array(img)
        info = dict(img.info)
    return a, mode, info


def read_png(path) -> np.ndarray:
    """Gray levels of a PNG written by :func:`write_png` (uint8 for 8-bit, uint16 for 16-bit)."""
    a, mode, _ = _read_gray(path, ("L", "I;16", "I;16B", "I"), "PNG frame")
    return a.astype(np.uint8 if mode == "L" else np.uint16)


def png_metadata(path) -> dict:
    """The text chunks of a PNG (JSON-decoded where they are JSON)."""
    _, _, info = _read_gray(path, ("L", "I;16", "I;16B", "I", "1", "RGB", "RGBA", "P"), "PNG file")
    out = {}
    for k, v in info.items():
        if isinstance(v, str):
            try:
                out[k] = json.loads(v)
            except json.JSONDecodeError:
                out[k] = v
    return out


def write_bmp(path, frame, bit_depth: int | None = None, overwrite: bool = False):
    """8-bit grayscale BMP of ``frame`` (values 0..255; up to 8 bits)."""
    Image, _ = _pil()
    a = _frame2d(frame)
    _check_bits(a, bit_depth, "bmp", 8)
    return _save_image(path, Image.fromarray(a.astype(np.uint8), mode="L"), "bmp", overwrite)


def read_bmp(path) -> np.ndarray:
    """Gray levels (uint8) of an 8-bit grayscale BMP."""
    a, _, _ = _read_gray(path, ("L",), "8-bit BMP frame")
    return a.astype(np.uint8)


# ----------------------------------------------------------------------------- Santec CSV
def write_santec_csv(path, frame, overwrite: bool = False):
    """Santec CSV: header row ``Y/X,0,1,...,nx-1``, then ``y,g(y,0),...,g(y,nx-1)`` per row."""
    a = _frame2d(frame)
    ny, nx = a.shape
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Y/X"] + list(range(nx)))
    for y in range(ny):
        w.writerow([y] + a[y].tolist())
    with atomic_path(path, overwrite=overwrite, suffix=".csv") as tmp:
        Path(tmp).write_text(buf.getvalue())
    return Path(path)


def read_santec_csv(path) -> np.ndarray:
    """Gray levels of a Santec CSV (first row and column are the X and Y indices), uint16."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    try:
        a = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64, ndmin=2)
    except ValueError as e:
        raise ValueError(f"{str(path)!r} is not a Santec CSV frame (integer gray levels after a header row): "
                         f"{e}") from e
    rows, vals = a[:, 0], a[:, 1:]
    if not np.array_equal(rows, np.arange(len(rows))):
        raise ValueError(f"{str(path)!r}: the first column must hold the row indices 0..{len(rows) - 1}")
    if vals.size and (vals.min() < 0 or vals.max() > 65535):
        raise ValueError(f"{str(path)!r}: gray levels must be 0..65535")
    return vals.astype(np.uint16)


# ----------------------------------------------------------------------------- DMD
def _binary(frame, name="frame"):
    a = _frame2d(frame, name)
    if a.size and not np.isin(a, (0, 1)).all():
        raise ValueError(f"{name} of a DMD must hold only 0 and 1 (mirror off/on), got values "
                         f"{np.unique(a)[:5].tolist()}...")
    return a.astype(np.uint8)


def write_bmp1(path, frame, overwrite: bool = False):
    """1-bit BMP (mode '1') of a binary frame (0/1)."""
    Image, _ = _pil()
    a = _binary(frame)
    return _save_image(path, Image.fromarray(a * 255, mode="L").convert("1", dither=Image.Dither.NONE), "bmp",
                       overwrite)


def read_bmp1(path) -> np.ndarray:
    """Binary frame (uint8 0/1) of a 1-bit BMP."""
    a, _, _ = _read_gray(path, ("1",), "1-bit DMD frame")
    return a.astype(np.uint8)


def pack_rgb24(frames) -> np.ndarray:
    """Up to 24 binary frames (n, ny, nx) -> one (ny, nx, 3) uint8 RGB image (TI DLP bit-plane order)."""
    f = np.asarray(frames)
    if f.ndim == 2:
        f = f[None]
    if f.ndim != 3 or not 1 <= f.shape[0] <= 24:
        raise ValueError(f"frames must be (n, ny, nx) with 1 <= n <= 24 binary frames, got shape {f.shape}; "
                         "split longer sequences over several RGB images")
    bits = [_binary(x, f"frames[{i}]") for i, x in enumerate(f)]
    rgb = np.zeros(f.shape[1:] + (3,), dtype=np.uint8)
    for i, b in enumerate(bits):
        c, bit = _RGB24_ORDER[i]
        rgb[..., c] |= (b << bit).astype(np.uint8)
    return rgb


def unpack_rgb24(rgb, n: int = 24) -> np.ndarray:
    """Inverse of :func:`pack_rgb24`: the first ``n`` binary frames (n, ny, nx) uint8."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb must be (ny, nx, 3), got shape {rgb.shape}")
    if not 1 <= int(n) <= 24:
        raise ValueError(f"n must be 1..24 frames, got {n!r}")
    return np.stack([(rgb[..., c] >> bit) & 1 for c, bit in _RGB24_ORDER[:int(n)]]).astype(np.uint8)


def write_rgb24(path, frames, overwrite: bool = False):
    """24-bit RGB BMP packing up to 24 binary frames (see :func:`pack_rgb24`)."""
    Image, _ = _pil()
    return _save_image(path, Image.fromarray(pack_rgb24(frames), mode="RGB"), "bmp", overwrite)


def read_rgb24(path, n: int = 24) -> np.ndarray:
    """The first ``n`` binary frames (n, ny, nx) of a packed 24-bit RGB image."""
    a, _, _ = _read_gray(path, ("RGB",), "24-bit RGB packed DMD image")
    return unpack_rgb24(a, n)


# ----------------------------------------------------------------------------- dispatch
def write_frame(path, frame, fmt: str, bit_depth: int | None = None, metadata: dict | None = None,
                overwrite: bool = False):
    """Write one frame in format ``fmt`` (one of ``FORMATS``; 'rgb24' takes (n, ny, nx) frames)."""
    if fmt == "png":
        return write_png(path, frame, bit_depth, metadata, overwrite)
    if fmt == "bmp":
        return write_bmp(path, frame, bit_depth, overwrite)
    if fmt == "csv":
        return write_santec_csv(path, frame, overwrite)
    if fmt == "bmp1":
        return write_bmp1(path, frame, overwrite)
    if fmt == "rgb24":
        return write_rgb24(path, frame, overwrite)
    raise ValueError(f"unknown frame format {fmt!r}; known: {sorted(FORMATS)}")


def read_frame(path, fmt: str, n: int = 24) -> np.ndarray:
    """Read a frame written by :func:`write_frame` in format ``fmt`` ('rgb24': the first ``n`` frames)."""
    readers = {"png": read_png, "bmp": read_bmp, "csv": read_santec_csv, "bmp1": read_bmp1}
    if fmt == "rgb24":
        return read_rgb24(path, n)
    if fmt not in readers:
        raise ValueError(f"unknown frame format {fmt!r}; known: {sorted(FORMATS)}")
    try:
        return readers[fmt](path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as e:  # PIL and numpy name neither the file nor the cause
        if str(path) in str(e):
            raise
        raise ValueError(f"frame file {str(path)!r} cannot be read as {fmt} (truncated or damaged?): {e}") from None


# ----------------------------------------------------------------------------- LUT files
def write_lut_file(path, table, overwrite: bool = False):
    """Two-column LUT file: line i is ``i table[i]`` (integers: input gray level, output drive level)."""
    t = np.asarray(table)
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"table must be 1-D with one output level per input level, got shape {t.shape}")
    if t.dtype.kind not in "iu" or t.min() < 0:
        raise ValueError("table must hold non-negative integer drive levels (e.g. from linearizing_lut)")
    text = "".join(f"{i} {int(v)}\n" for i, v in enumerate(t))
    with atomic_path(path, overwrite=overwrite, suffix=".lut") as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def read_lut_file(path) -> np.ndarray:
    """Output column (int64) of a two-column LUT file; the input column must be 0, 1, 2, ..."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    try:
        a = np.loadtxt(path, dtype=np.int64, ndmin=2)
    except ValueError as e:
        raise ValueError(f"{str(path)!r} is not a two-column integer LUT file: {e}") from e
    if a.shape[1] != 2:
        raise ValueError(f"{str(path)!r} must have two columns (input, output), got {a.shape[1]}")
    if not np.array_equal(a[:, 0], np.arange(len(a))):
        raise ValueError(f"{str(path)!r}: the first column must count the input levels 0..{len(a) - 1}")
    return a[:, 1]


def linearizing_lut(slm, n_in: int = 256, wavelength: float | None = None) -> np.ndarray:
    """Drive level of ``slm`` (phase mode) for each of ``n_in`` evenly spaced phases over one period.

    Input level i asks for the phase of gray level 0 advanced by 2 pi i / n_in
    (rad, at ``wavelength``) in the panel's own direction (the sign of its law
    or LUT), which is what a vendor linearisation table maps; the output is the
    panel gray level that shows it (its LUT or linear law, quantised as the
    panel quantises; flatness not included). The table is monotonic. Returns
    int64 (n_in,).
    """
    if slm.mode != "phase":
        raise ValueError(f"a linearising LUT needs a phase SLM, {slm.name!r} is in mode {slm.mode!r}")
    if int(n_in) < 2:
        raise ValueError(f"n_in must be >= 2 input levels, got {n_in!r}")
    lut = slm.phase_lut() * slm.wavelength_scale(wavelength)
    direction = 1.0 if lut[-1] > lut[0] else -1.0
    phase = lut[0] + direction * 2 * np.pi * np.arange(int(n_in), dtype=np.float64) / int(n_in)
    flat = slm.replace(flatness=None, resolution=(1, int(n_in)))
    return flat.phase_to_gray(phase[None, :], wavelength)[0].astype(np.int64)
