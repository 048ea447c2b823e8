"""Labelled images from one NumPy ``.npz`` file (``numpy.savez``), read without pickles.

Keys: ``x`` (images) and ``y`` (integer labels 0..K-1); optional ``x_val``/``y_val`` and
``x_test``/``y_test`` for the user's own splits; optional ``classes`` (K names, strings).
Images: (N, H, W) grey, (N, C, H, W) or (N, H, W, C) with C = 1 or 3 (channels-last is
recognised when the last axis is 1 or 3 and the second is not); uint8 (0..255 -> [0, 1]),
uint16 (/65535) or float in [0, 1]. The number of classes is ``len(classes)`` when given, else
the largest label + 1. Missing splits are split off ``x``/``y``, stratified and seeded, as the
class-folder sets (:mod:`nets.data.folders`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import ImageClassification
from .splits import check_split, stratified_split

__all__ = ["load_npz"]


def _images(a: np.ndarray, path, key) -> np.ndarray:
    if a.ndim == 3:
        a = a[:, None]
    elif a.ndim == 4 and a.shape[-1] in (1, 3) and a.shape[1] not in (1, 3):
        a = a.transpose(0, 3, 1, 2)
    elif not (a.ndim == 4 and a.shape[1] in (1, 3)):
        raise ValueError(f"{path}: {key!r} has shape {a.shape}; expected (N, H, W), (N, C, H, W) or (N, H, W, C) "
                         "with C = 1 (grey) or 3 (RGB)")
    if a.dtype == np.uint16:
        a = a.astype(np.float32) / np.float32(65535.0)
    elif a.dtype != np.uint8 and not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{path}: {key!r} has dtype {a.dtype}; store uint8, uint16 or float in [0, 1]")
    if np.issubdtype(a.dtype, np.floating) and a.size and (a.min() < 0 or a.max() > 1):
        raise ValueError(f"{path}: {key!r} holds floats in [{a.min():g}, {a.max():g}]; scale them to [0, 1]")
    return np.ascontiguousarray(a)


def _labels(y: np.ndarray, n: int, path, key) -> np.ndarray:
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or len(y) != n:
        raise ValueError(f"{path}: {key!r} must hold {n} integer labels (N,), got {y.dtype} {y.shape}")
    if y.size and y.min() < 0:
        raise ValueError(f"{path}: {key!r} has negative labels ({y.min()}); labels are 0..K-1")
    return y.astype(np.int64)


def load_npz(path, split: str = "train", size=None, seed: int = 0, *, val_fraction: float = 0.1, pad=None,
             mode: str = "bilinear", limit=None) -> ImageClassification:
    """A ``split`` of the ``.npz`` dataset ``path`` (module docstring); ``size``, ``pad``, ``mode``,
    ``limit`` as :func:`nets.data.load_mnist5k`."""
    check_split(split)
    path = Path(path)
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    if "x" not in data or "y" not in data:
        raise ValueError(f"{path} holds keys {sorted(data)}; a dataset needs 'x' (images) and 'y' (labels)")
    parts = {"train": ("x", "y"), "val": ("x_val", "y_val"), "test": ("x_test", "y_test")}
    pools = {}
    for name, (kx, ky) in parts.items():
        if (kx in data) != (ky in data):
            raise ValueError(f"{path} has {kx if kx in data else ky!r} without {ky if kx in data else kx!r}")
        if kx in data:
            x = _images(data[kx], path, kx)
            pools[name] = (x, _labels(data[ky], len(x), path, ky))
    k_max = max(int(y.max()) + 1 if y.size else 0 for _, y in pools.values())
    if "classes" in data:
        classes = [str(c) for c in np.asarray(data["classes"]).ravel()]
        if len(classes) < k_max:
            raise ValueError(f"{path}: {len(classes)} class names but labels up to {k_max - 1}")
    else:
        classes = [str(k) for k in range(k_max)]
    missing = [s for s in ("val", "test") if s not in pools]
    if missing:
        x, y = pools["train"]
        fr = {("val",): (1 - val_fraction, val_fraction, 0.0), ("test",): (0.8, 0.0, 0.2),
              ("val", "test"): (0.7, 0.1, 0.2)}[tuple(missing)]
        idx = stratified_split(y, fr, seed)
        pools.update({s: (x[idx[s]], y[idx[s]]) for s in ["train"] + missing})
    if split == "all":
        x = np.concatenate([pools[s][0] for s in ("train", "val", "test")])
        y = np.concatenate([pools[s][1] for s in ("train", "val", "test")])
    else:
        x, y = pools[split]
    return ImageClassification.from_arrays(x, y, classes, path.stem, split, size=size, pad=pad, mode=mode,
                                           limit=limit, seed=seed)
