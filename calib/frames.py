"""Camera frames in: arrays, lists of arrays, or files (PNG, TIFF, NPY, HDF5) -> float64 (n, h, w).

Every calibration routine takes its measurements through :func:`load_frames`,
so a lab passes whatever its acquisition software wrote:

* a NumPy array (h, w) or (n, h, w) (CuPy arrays are copied to the host);
* a list/tuple of arrays or file names, one frame (or stack) each;
* a file name: ``.npy``; ``.png`` / ``.tif`` / ``.tiff`` (all pages of a
  multi-page TIFF; 16-bit images keep their values); ``.h5`` / ``.hdf5``
  with the dataset named by ``dataset=`` or ``"file.h5:/path/in/file"``
  (default: the only dataset in the file, or the NeXus signal of
  ``/entry/data`` as written by :func:`optics4f.system.save_field`).

Colour images are refused (a camera frame is one channel); the error says how
to convert.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from optics4f.backend import to_numpy

__all__ = ["load_frames", "IMAGE_SUFFIXES", "HDF5_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".tif", ".tiff")
HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs")


def _as_stack(a, where) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{where}: frames must be real numbers (camera counts), got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{where}: frames must be (h, w) or (n, h, w), got shape {a.shape}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{where}: frames contain NaN or Inf")
    return a


def _read_image(path: Path) -> np.ndarray:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            pages = []
            for page in ImageSequence.Iterator(im):
                if page.mode in ("RGB", "RGBA", "P", "CMYK", "LA", "YCbCr"):
                    raise ValueError(f"{str(path)!r} is a colour image (mode {page.mode}); a camera frame has one "
                                     "channel: save it as grayscale (e.g. Image.convert('I;16') or 'L')")
                pages.append(np.array(page))
    except UnidentifiedImageError:
        raise ValueError(f"{str(path)!r} is not a readable image (corrupt or not PNG/TIFF)") from None
    except OSError as e:
        raise ValueError(f"{str(path)!r} could not be read as an image ({e})") from None
    return np.stack(pages)


def _read_hdf5(path: Path, dataset):
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{str(path)!r} is not a readable HDF5 file ({e})") from None
    with f:
        if dataset is None:
            if "entry/data" in f and "signal" in f["entry/data"].attrs:
                sig = f["entry/data"].attrs["signal"]
                dataset = "entry/data/" + (sig.decode() if isinstance(sig, bytes) else str(sig))
            else:
                names = []
                f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
                if len(names) != 1:
                    raise ValueError(f"{str(path)!r} holds {len(names)} datasets {names[:8]}; name one with "
                                     "dataset='path' or 'file.h5:/path'")
                dataset = names[0]
        if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
            raise KeyError(f"{str(path)!r} has no dataset {dataset!r}")
        return f[dataset][()]


def _read_file(source, dataset) -> np.ndarray:
    s = str(source)
    if dataset is None and ":" in s and not Path(s).exists():
        # "file.h5:/group/dataset" (but not a Windows drive letter "C:\...")
        head, _, tail = s.rpartition(":")
        if Path(head).suffix.lower() in HDF5_SUFFIXES:
            s, dataset = head, tail.lstrip("/")
    path = Path(s)
    if not path.is_file():
        raise FileNotFoundError(f"frame file not found: {s!r}")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise ValueError(f"{s!r} is not a readable .npy file ({e})") from None
    if suffix in IMAGE_SUFFIXES:
        return _read_image(path)
    if suffix in HDF5_SUFFIXES:
        return _read_hdf5(path, dataset)
    raise ValueError(f"{s!r}: unknown frame file type {suffix!r}; use .npy, "
                     f"{'/'.join(IMAGE_SUFFIXES)} or {'/'.join(HDF5_SUFFIXES)}")


def load_frames(source, dataset: str | None = None) -> np.ndarray:
    """Camera frames as a float64 array (n, h, w) (counts, ADU, as recorded).

    Parameters
    ----------
    source : array, list/tuple of arrays or paths, str or Path
        See the module docstring.
    dataset : str, optional
        Dataset path inside an HDF5 file.
    """
    if isinstance(source, (str, Path)):
        return _as_stack(_read_file(source, dataset), str(source))
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("source is an empty list; give at least one frame")
        parts = [load_frames(s, dataset) for s in source]
        shapes = {p.shape[1:] for p in parts}
        if len(shapes) != 1:
            raise ValueError(f"frames have different shapes {sorted(shapes)}; all frames must be (h, w) alike")
        return np.concatenate(parts, axis=0)
    if hasattr(source, "shape"):
        return _as_stack(to_numpy(source), "source")
    raise TypeError(f"source must be an array, a list of arrays/paths, or a file path, got {type(source).__name__}")
