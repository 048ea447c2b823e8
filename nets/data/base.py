"""Dataset containers shared by every loader.

Both are ``torch.utils.data.TensorDataset`` s, so ``DataLoader`` takes them as they
are; ``ds[i]`` is ``(x_i, y_i)``. They also carry what a training script needs
to know about the data (class names, the split, the source).

- :class:`ImageClassification`: ``x`` float32 (N, C, H, W) in [0, 1], ``y`` int64 (N,).
- :class:`ImageSegmentation`: ``x`` float32 (N, C, H, W) in [0, 1], ``mask`` int64 (N, H, W).
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from .splits import check_split, stratified_split, stratified_subset
from .transforms import pad_to, resize, resize_mask

__all__ = ["ImageClassification", "ImageSegmentation", "prepare_images"]


def prepare_images(images, size=None, pad=None, mode: str = "bilinear") -> torch.Tensor:
    """uint8 (N, C, H, W) or float (N, C, H, W) in [0, 1] -> float32 tensor, resized to ``size``
    and centred on a ``pad`` canvas when given (see :mod:`nets.data.transforms`)."""
    a = np.asarray(images)
    if a.ndim != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {a.shape}")
    if a.dtype == np.uint8:
        x = torch.from_numpy(a.astype(np.float32) / np.float32(255.0))
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ValueError("images hold NaN or Inf values")
        x = torch.from_numpy(np.array(a, dtype=np.float32))  # a copy: clamp_ below must not touch the caller's array
    else:
        raise TypeError(f"images must be uint8 (0..255) or float in [0, 1], got dtype {a.dtype}")
    if size is not None:
        x = resize(x, size, mode)
    if pad is not None:
        x = pad_to(x, pad)
    return x.clamp_(0.0, 1.0).contiguous()


def _check_images(x: torch.Tensor):
    if not isinstance(x, torch.Tensor) or x.dtype != torch.float32 or x.ndim != 4:
        raise TypeError(f"x must be a float32 tensor (N, C, H, W), got "
                        f"{getattr(x, 'dtype', type(x))} {tuple(getattr(x, 'shape', ()))}")
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(f"x must lie in [0, 1], found [{float(x.min())}, {float(x.max())}]")


class ImageClassification(TensorDataset):
    """Images with integer class labels.

    Attributes: ``x`` float32 (N, C, H, W) in [0, 1]; ``y`` int64 (N,) in [0, num_classes);
    ``classes`` (names, ``classes[k]`` is label k); ``name``; ``split``.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, classes, name: str = "", split: str = ""):
        _check_images(x)
        if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or y.shape != (x.shape[0],):
            raise TypeError(f"y must be an int64 tensor of shape ({x.shape[0]},), got "
                            f"{getattr(y, 'dtype', type(y))} {tuple(getattr(y, 'shape', ()))}")
        self.classes = [str(c) for c in classes]
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= len(self.classes)):
            raise ValueError(f"labels must lie in [0, {len(self.classes)}), found [{int(y.min())}, {int(y.max())}]")
        super().__init__(x, y)
        self.name, self.split = name, split

    x = property(lambda self: self.tensors[0], doc="images, float32 (N, C, H, W) in [0, 1]")
    y = property(lambda self: self.tensors[1], doc="labels, int64 (N,)")
    num_classes = property(lambda self: len(self.classes), doc="number of classes")
    image_shape = property(lambda self: tuple(self.x.shape[1:]), doc="(C, H, W)")

    @classmethod
    def from_arrays(cls, images, labels, classes, name="", split="", size=None, pad=None,
                    mode="bilinear", limit=None, seed=0):
        """Build from NumPy ``images`` (N, C, H, W) uint8 or float in [0, 1] and ``labels`` (N,):
        take a stratified subset of ``limit`` samples if given, then resize and pad."""
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"{len(images)} images but labels of shape {labels.shape}")
        if limit is not None:
            keep = stratified_subset(labels, limit, seed)
            images, labels = images[keep], labels[keep]
        x = prepare_images(images, size, pad, mode)
        return cls(x, torch.from_numpy(labels.astype(np.int64)), classes, name, split)

    @classmethod
    def split_digits(cls, images, labels, name, split, fractions, seed, **kw):
        """A built-in digit set (classes "0".."9"): its stratified ``split`` ("all": every image)."""
        check_split(split)
        if split != "all":
            idx = stratified_split(labels, fractions, seed)[split]
            images, labels = images[idx], labels[idx]
        return cls.from_arrays(images, labels, [str(k) for k in range(10)], name, split, seed=seed, **kw)

    def __repr__(self):
        return (f"ImageClassification({self.name!r}, split={self.split!r}, n={len(self)}, "
                f"image_shape={self.image_shape}, classes={self.num_classes})")


class ImageSegmentation(TensorDataset):
    """Images with per-pixel class masks.

    Attributes: ``x`` float32 (N, C, H, W) in [0, 1]; ``mask`` int64 (N, H, W) in
    [0, num_classes); ``classes`` (names, label 0 is the background); ``name``; ``split``.
    """

    def __init__(self, x: torch.Tensor, mask: torch.Tensor, classes, name: str = "", split: str = ""):
        _check_images(x)
        if (not isinstance(mask, torch.Tensor) or mask.dtype != torch.int64
                or mask.shape != (x.shape[0],) + tuple(x.shape[2:])):
            raise TypeError(f"mask must be an int64 tensor of shape {(x.shape[0],) + tuple(x.shape[2:])}, "
                            f"got {getattr(mask, 'dtype', type(mask))} {tuple(getattr(mask, 'shape', ()))}")
        self.classes = [str(c) for c in classes]
        if mask.numel() and (int(mask.min()) < 0 or int(mask.max()) >= len(self.classes)):
            raise ValueError(f"mask labels must lie in [0, {len(self.classes)}), "
                             f"found [{int(mask.min())}, {int(mask.max())}]")
        super().__init__(x, mask)
        self.name, self.split = name, split

    x = property(lambda self: self.tensors[0], doc="images, float32 (N, C, H, W) in [0, 1]")
    mask = property(lambda self: self.tensors[1], doc="class masks, int64 (N, H, W)")
    num_classes = property(lambda self: len(self.classes), doc="number of classes (background included)")
    image_shape = property(lambda self: tuple(self.x.shape[1:]), doc="(C, H, W)")

    @classmethod
    def from_arrays(cls, images, masks, classes, name="", split="", size=None, pad=None, mode="bilinear"):
        """Build from NumPy ``images`` (N, C, H, W) and integer ``masks`` (N, H, W); resize (masks by
        nearest pixel) and pad (masks with background 0) when asked."""
        x = prepare_images(images, size, pad, mode)
        m = torch.from_numpy(np.asarray(masks).astype(np.int64))
        if size is not None:
            m = resize_mask(m, size)
        if pad is not None:
            m = pad_to(m, pad, 0)
        return cls(x, m, classes, name, split)

    def __repr__(self):
        return (f"ImageSegmentation({self.name!r}, split={self.split!r}, n={len(self)}, "
                f"image_shape={self.image_shape}, classes={self.num_classes})")
