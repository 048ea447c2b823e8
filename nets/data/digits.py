"""scikit-learn's 8x8 handwritten digits (1797 images, 17 gray levels), no download.

``sklearn.datasets.load_digits`` ships the images inside scikit-learn. Values 0..16
are scaled to [0, 1] by dividing by 16.

Split (stratified, seeded; :mod:`nets.data.splits`): 70 / 10 / 20 %,
1258 / 180 / 359 images (each class within one image of its share).
"""
from __future__ import annotations

import numpy as np

from .base import ImageClassification
from .splits import DEFAULT_FRACTIONS

__all__ = ["read_digits", "load_digits"]


def read_digits():
    """All 1797 images, float32 (1797, 1, 8, 8) in [0, 1], and labels, int64 (1797,)."""
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    images = (np.asarray(bunch.images, dtype=np.float64) / 16.0).astype(np.float32)[:, None]
    return images, np.asarray(bunch.target, dtype=np.int64)


def load_digits(split: str = "train", size=None, seed: int = 0, *, fractions=DEFAULT_FRACTIONS,
                pad=None, mode: str = "bilinear", limit=None) -> ImageClassification:
    """The digits ``split`` ("train", "val", "test" or "all") as float32 (N, 1, H, W) in [0, 1].

    Arguments as :func:`nets.data.mnist5k.load_mnist5k`.
    """
    images, labels = read_digits()
    return ImageClassification.split_digits(images, labels, "digits", split, fractions, seed,
                                            size=size, pad=pad, mode=mode, limit=limit)
