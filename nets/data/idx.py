"""MNIST, Fashion-MNIST and Kuzushiji-MNIST from the user's own IDX files (never downloaded).

IDX format (LeCun): big-endian; 2 zero bytes, a type byte (0x08 uint8, 0x09 int8,
0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions,
one uint32 per dimension, then the data in C order. Files may be gzip-compressed
(recognised by content, not by name).

Folder layouts found (``<Name>`` is MNIST, FashionMNIST or KMNIST, as torchvision
writes them)::

    root/train-images-idx3-ubyte[.gz]          root/<Name>/raw/train-images-idx3-ubyte[.gz]
    root/train-labels-idx1-ubyte[.gz]          root/raw/...   root/<Name>/...
    root/t10k-images-idx3-ubyte[.gz]
    root/t10k-labels-idx1-ubyte[.gz]

and the dotted spelling ``train-images.idx3-ubyte`` of each name.

Splits: "test" is the t10k files; "train" and "val" are a stratified, seeded split
of the training files (``val_fraction`` 0.1 by default: 54000 / 6000 for MNIST).
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .base import ImageClassification
from .splits import check_split, stratified_split

__all__ = ["IdxFormatError", "read_idx", "find_idx_files", "detect_idx_flavour", "load_idx_folder",
           "FLAVOURS"]

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: Class names of each dataset, label k is ``FLAVOURS[name][k]``.
FLAVOURS = {
    "MNIST": [str(k) for k in range(10)],
    "FashionMNIST": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                     "Bag", "Ankle boot"],
    "KMNIST": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],
}

_STEMS = {("train", "images"): ("train-images", 3), ("train", "labels"): ("train-labels", 1),
          ("test", "images"): ("t10k-images", 3), ("test", "labels"): ("t10k-labels", 1)}


class IdxFormatError(ValueError):
    """A file is not a valid IDX file; the message names the file and what is wrong."""


def _open(path: Path):
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")  # gzip magic


def _read_exactly(f, n: int) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = f.readinto(view[got:])
        if not k:
            break
        got += k
    return buf[:got] if got < n else buf


def read_idx(path) -> np.ndarray:
    """Read an IDX file (plain or gzip) into a native-endian NumPy array of its shape and type.

    The header is read first and the data size it declares is checked against the machine's memory
    before the data is read, and never more than that size is inflated (a gzip bomb is refused)."""
    from optics4f.validate import check_memory

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist")
    try:
        with _open(path) as f:
            raw = _read_exactly(f, 4)
            if len(raw) < 4:
                raise IdxFormatError(f"{path}: {len(raw)} bytes is too short for an IDX header")
            if raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
                raise IdxFormatError(
                    f"{path}: bad magic number 0x{bytes(raw[:4]).hex()} (expected 0x0000TTDD with type TT in "
                    f"{{{', '.join(f'{k:02x}' for k in _DTYPES)}}}); is this an IDX file?")
            ndim = raw[3]
            dims = _read_exactly(f, 4 * ndim)
            if ndim == 0 or len(dims) < 4 * ndim:
                raise IdxFormatError(f"{path}: header declares {ndim} dimensions but the file ends before them")
            shape = tuple(int(d) for d in np.frombuffer(bytes(dims), ">u4", ndim))
            dtype = np.dtype(_DTYPES[raw[2]])
            expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            check_memory(expected * (1 if dtype.itemsize == 1 else 2), f"IDX file {path} (shape {shape} of "
                         f"{dtype.name})", "check the file: its header may be damaged")
            data = _read_exactly(f, expected)
            extra = len(f.read(1))
    except (OSError, EOFError) as e:
        raise IdxFormatError(f"{path}: unreadable or corrupt gzip stream ({e})") from e
    if len(data) != expected or extra:
        got = f"{len(data)}" if len(data) != expected else f"more than {expected}"
        raise IdxFormatError(f"{path}: shape {shape} of {dtype.name} needs {expected} data bytes, "
                             f"the file has {got} (truncated or wrong file)")
    return np.frombuffer(data, dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _candidates(part: str, kind: str):
    stem, d = _STEMS[(part, kind)]
    for name in (f"{stem}-idx{d}-ubyte", f"{stem}.idx{d}-ubyte"):
        yield name
        yield name + ".gz"


def _search_dirs(root: Path, flavour=None):
    """Folders to look in, grouped: a group's hits are ambiguous with each other."""
    if flavour is not None:
        return [[root / flavour / "raw", root / flavour, root, root / "raw"]]
    return [[root, root / "raw"], [d for n in FLAVOURS for d in (root / n / "raw", root / n)]]


def _files_in(d: Path):
    found = {}
    for key in _STEMS:
        hit = next((d / n for n in _candidates(*key) if (d / n).is_file()), None)
        if hit is not None:
            found[key] = hit
    if ("train", "images") not in found:
        return None
    missing = [f"{next(_candidates(*k))}[.gz]" for k in _STEMS if k not in found]
    if missing:
        raise FileNotFoundError(f"{d} holds MNIST-style training images but not: {', '.join(missing)}")
    return found


def find_idx_files(root, flavour=None) -> dict:
    """Locate the four IDX files under ``root``.

    Returns ``{("train"|"test", "images"|"labels"): Path}``. Looks in ``root`` and ``root/raw``,
    then in ``root/<Name>/raw`` and ``root/<Name>`` for each dataset name; ``flavour`` ("MNIST",
    "FashionMNIST", "KMNIST") looks in ``root/<flavour>/`` first. Raises FileNotFoundError listing
    what was looked for, or ValueError when several datasets sit under ``root`` and ``flavour``
    does not say which.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist (nothing is downloaded: "
                                "point to your own copy of the IDX files)")
    if flavour is not None and flavour not in FLAVOURS:
        raise ValueError(f"flavour={flavour!r} is not one of {list(FLAVOURS)}")
    groups = _search_dirs(root, flavour)
    for group in groups:
        hits = {}
        for d in group:
            found = _files_in(d) if d.is_dir() else None
            if found is not None:
                hits.setdefault(d.parent if d.name == "raw" and d.parent != root else d, found)
        if len(hits) > 1 and flavour is None:
            raise ValueError(f"several IDX datasets under {root} ({', '.join(str(k) for k in hits)}); "
                             f"pass flavour= one of {list(FLAVOURS)}")
        if hits:
            return next(iter(hits.values()))
    looked = ", ".join(str(d) for g in groups for d in g)
    raise FileNotFoundError(
        f"no MNIST-style IDX files under {root}: looked for train-images-idx3-ubyte[.gz] (or "
        f"train-images.idx3-ubyte) in {looked}")


def detect_idx_flavour(path) -> str:
    """"FashionMNIST" or "KMNIST" when a folder of that name is in ``path``, else "MNIST"."""
    parts = [p.lower() for p in Path(path).resolve().parts]
    for name in ("FashionMNIST", "KMNIST"):
        if any(name.lower() in p.replace("-", "").replace("_", "") for p in parts):
            return name
    return "MNIST"


def _read_pair(images_path: Path, labels_path: Path):
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IdxFormatError(f"{images_path}: expected uint8 images (N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise IdxFormatError(f"{labels_path}: expected integer labels (N,), got {labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise IdxFormatError(f"{images_path.name} holds {images.shape[0]} images but {labels_path.name} "
                             f"holds {labels.shape[0]} labels")
    if labels.size and labels.min() < 0:
        raise IdxFormatError(f"{labels_path}: labels must be >= 0 (classes 0..K-1), found {labels.min()}")
    return images[:, None], labels.astype(np.int64)


#: Class-name files looked for next to the IDX files, then in the dataset folder (one name a line).
CLASS_FILES = ("classes.txt", "class_names.txt")


def _class_names(files: dict, root: Path, n_classes: int, flavour, named: bool, classes_file=None) -> list:
    """Names of the ``n_classes`` labels: a class-names file (one a line), else the flavour's names
    when the flavour is known (named or found in the path), else "0".."K-1"."""
    paths = [Path(classes_file)] if classes_file is not None else \
        [d / n for d in (files[("train", "images")].parent, Path(root)) for n in CLASS_FILES]
    for p in paths:
        if p.is_file():
            names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
            if len(names) < n_classes:
                raise ValueError(f"{p} names {len(names)} classes but the labels go up to {n_classes - 1}; "
                                 "give one name per line for every class")
            return names
        if classes_file is not None:
            raise FileNotFoundError(f"class-names file {str(p)!r} does not exist")
    if named:
        if n_classes > len(FLAVOURS[flavour]):
            raise IdxFormatError(f"{files[('train', 'labels')]}: {flavour} labels lie in "
                                 f"0..{len(FLAVOURS[flavour]) - 1}, "
                                 f"found labels up to {n_classes - 1}; for another dataset drop flavour= and "
                                 "give a classes.txt")
        return FLAVOURS[flavour][:n_classes]
    return [str(k) for k in range(n_classes)]


def load_idx_folder(root, split: str = "train", size=None, seed: int = 0, *, flavour=None,
                    val_fraction: float = 0.1, pad=None, mode: str = "bilinear", limit=None,
                    classes_file=None) -> ImageClassification:
    """An MNIST / FashionMNIST / KMNIST ``split`` from IDX files under ``root``.

    ``split``: "train" / "val" (a stratified, ``seed``-ed split of the training files with
    ``val_fraction`` in val), "test" (the t10k files) or "all" (training files then test files).
    ``flavour``: the dataset's name, for its class names and to pick a sub-folder; guessed from the
    path when None. ``size``, ``pad``, ``mode``, ``limit`` as :func:`nets.data.load_mnist5k`.
    The number of classes is the largest label of the training and test files + 1 (a 3-class set
    is 3-class, not MNIST's 10); their names come from ``classes_file`` or a ``classes.txt``
    beside the files (one name a line), else from the flavour (named, or found in the path),
    else "0".."K-1". Returns float32 (N, 1, H, W) in [0, 1].
    """
    check_split(split)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction!r} must lie in [0, 1)")
    files = find_idx_files(root, flavour)
    named = flavour is not None
    flavour = flavour or detect_idx_flavour(files[("train", "images")].parent)
    named = named or flavour != "MNIST"
    every = {p: _read_pair(files[(p, "images")], files[(p, "labels")]) for p in ("train", "test")}
    n_classes = max(int(d[1].max()) + 1 if d[1].size else 0 for d in every.values())
    classes = _class_names(files, root, n_classes, flavour, named, classes_file)
    parts = ["test"] if split == "test" else ["train", "test"] if split == "all" else ["train"]
    data = [every[p] for p in parts]
    shapes = {d[0].shape[1:] for d in data}
    if len(shapes) > 1:
        raise IdxFormatError(f"training and test images differ in size: {sorted(shapes)}")
    images = np.concatenate([d[0] for d in data])
    labels = np.concatenate([d[1] for d in data])
    if split in ("train", "val"):
        idx = stratified_split(labels, (1.0 - val_fraction, val_fraction, 0.0), seed)[split]
        images, labels = images[idx], labels[idx]
    name = flavour if named or n_classes == len(FLAVOURS[flavour]) else Path(root).name
    return ImageClassification.from_arrays(images, labels, classes, name, split, size=size, pad=pad,
                                           mode=mode, limit=limit, seed=seed)
