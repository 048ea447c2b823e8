"""CIFAR-10 from the user's own "python version" batches (never downloaded).

Layout: ``cifar-10-batches-py/data_batch_1`` .. ``data_batch_5``, ``test_batch`` and
optionally ``batches.meta`` (with ``label_names``); ``root`` may be that folder or
its parent. Each batch is a pickled dict with ``data``, uint8 (N, 3072): 1024 red,
then 1024 green, then 1024 blue values of a 32x32 image in row-major order, and
``labels``, N ints in 0..9. Keys may be bytes (the original Python 2 pickles) or str.

The pickles are read with an unpickler that only accepts the builtins, the NumPy
array constructors and no other global, so a tampered file cannot run code.

Splits: "test" is ``test_batch``; "train" and "val" are a stratified, seeded split
of the five training batches (``val_fraction`` 0.1 by default: 45000 / 5000).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .base import ImageClassification
from .splits import check_split, stratified_split, stratified_subset

__all__ = ["CIFAR10_CLASSES", "CifarFormatError", "find_cifar_folder", "read_cifar_batch", "load_cifar10"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
TEST_BATCH = "test_batch"
FOLDER = "cifar-10-batches-py"

# Globals a CIFAR pickle may name: NumPy's array reconstruction (module moved in NumPy 2).
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"), ("codecs", "encode"),  # how protocol-2 pickles spell bytes
}


class CifarFormatError(ValueError):
    """A file is not a CIFAR batch; the message names the file and what is wrong."""


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")


def _key(d: dict, name: str):
    for k in (name, name.encode()):
        if k in d:
            return d[k]
    raise KeyError(name)


def read_cifar_batch(path) -> tuple:
    """One batch file: images uint8 (N, 3, 32, 32) and labels int64 (N,)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR batch {path} does not exist")
    try:
        with open(path, "rb") as f:
            d = _SafeUnpickler(f, encoding="latin1").load()
        data, labels = _key(d, "data"), _key(d, "labels")
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, AttributeError, ValueError) as e:
        raise CifarFormatError(f"{path}: not a CIFAR-10 python batch (a pickled dict with 'data' and "
                               f"'labels'): {type(e).__name__}: {e}") from e
    data = np.asarray(data)
    labels = np.asarray(labels)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise CifarFormatError(f"{path}: 'data' must be uint8 (N, 3072), got {data.dtype} {data.shape}")
    if labels.shape != (data.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise CifarFormatError(f"{path}: {data.shape[0]} images but 'labels' of shape {labels.shape}, "
                               f"dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise CifarFormatError(f"{path}: labels must lie in 0..9, found {labels.min()}..{labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def find_cifar_folder(root) -> Path:
    """The folder holding ``data_batch_1``: ``root`` itself or ``root/cifar-10-batches-py``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist (nothing is downloaded: "
                                "point to your own copy of cifar-10-batches-py)")
    for d in (root, root / FOLDER):
        if (d / TRAIN_BATCHES[0]).is_file():
            return d
    raise FileNotFoundError(f"no CIFAR-10 python batches under {root}: looked for {TRAIN_BATCHES[0]} "
                            f"in {root} and {root / FOLDER}")


def _class_names(folder: Path):
    meta = folder / "batches.meta"
    if not meta.is_file():
        return CIFAR10_CLASSES
    try:
        with open(meta, "rb") as f:
            names = _key(_SafeUnpickler(f, encoding="latin1").load(), "label_names")
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    except Exception as e:  # a broken meta file only costs the names
        raise CifarFormatError(f"{meta}: cannot read 'label_names' ({e}); remove the file to use the "
                               "standard CIFAR-10 class names") from e


def load_cifar10(root, split: str = "train", size=None, seed: int = 0, *, val_fraction: float = 0.1,
                 channels: int = 3, pad=None, mode: str = "bilinear", limit=None) -> ImageClassification:
    """A CIFAR-10 ``split`` ("train", "val", "test", "all") as float32 (N, C, H, W) in [0, 1].

    ``channels``: 3 (RGB) or 1 (luminance, ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B, as Pillow's
    "L" mode), for a single-channel optical input. Other arguments as
    :func:`nets.data.idx.load_idx_folder`.
    """
    check_split(split)
    if channels not in (1, 3):
        raise ValueError(f"channels={channels!r} must be 3 (RGB) or 1 (luminance)")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction!r} must lie in [0, 1)")
    folder = find_cifar_folder(root)
    names = ({"test": [TEST_BATCH], "all": list(TRAIN_BATCHES) + [TEST_BATCH]}).get(split, list(TRAIN_BATCHES))
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks the CIFAR batch file(s) {', '.join(missing)}")
    parts = [read_cifar_batch(folder / n) for n in names]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if split in ("train", "val"):
        idx = stratified_split(labels, (1.0 - val_fraction, val_fraction, 0.0), seed)[split]
        images, labels = images[idx], labels[idx]
    if limit is not None:  # before the float conversion below, to save memory
        keep = stratified_subset(labels, limit, seed)
        images, labels = images[keep], labels[keep]
    if channels == 1:
        w = (np.array([0.299, 0.587, 0.114]) / 255.0).astype(np.float32)
        images = np.concatenate([np.einsum("nchw,c->nhw", images[i:i + 4096].astype(np.float32), w)[:, None]
                                 for i in range(0, len(images), 4096)] or [np.zeros((0, 1, 32, 32), np.float32)])
    classes = _class_names(folder)
    if len(classes) != 10:
        raise CifarFormatError(f"{folder / 'batches.meta'}: expected 10 label names, got {len(classes)}")
    return ImageClassification.from_arrays(images, labels, classes, "cifar10", split, size=size, pad=pad,
                                           mode=mode)
