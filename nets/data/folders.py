"""Class-folder image datasets (the torchvision ``ImageFolder`` layout), read with Pillow.

Layouts found (``<class>`` is any folder name; its images are ``*.png``, ``*.jpg``, ``*.jpeg``,
``*.tif``, ``*.tiff``, ``*.bmp``, case-insensitive)::

    root/train/<class>/*.png   root/val/<class>/... (optional)   root/test/<class>/... (optional)
    root/<class>/*.png                                  (one pool, split here)

Labels: the class folders of the training pool in sorted order (``ImageFolder``'s rule), so
label k is ``classes[k]``; a val/test folder may lack a class but not add one.

Splits: "train", "val", "test", "all". Missing ``val/`` or ``test/`` folders are split off the
training pool, stratified and seeded: ``val_fraction`` (0.1) when only val is missing, else
(0.7, 0.1, 0.2) of the pool as for the built-in sets.

Pixels: 8-bit images map to [0, 1] by /255, 16-bit (TIFF, PNG) by /65535, float TIFF must
already lie in [0, 1]. Grey images give 1 channel; when any image of the set has colour
(RGB, RGBA, palette) every image is read as RGB: 3 channels, each shown through the optics
as its own input channel. Alpha is dropped. Images of different sizes need ``size`` (the
``--resize H W`` option).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import ImageClassification
from .splits import check_split, stratified_split

__all__ = ["IMAGE_SUFFIXES", "find_class_folders", "load_class_folders", "read_image"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_GREY_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _class_dirs(folder: Path) -> dict:
    """{class name: sorted image paths} of the sub-folders of ``folder`` that hold images."""
    out = {}
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(f for f in d.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            out[d.name] = files
    return out


def find_class_folders(root) -> dict:
    """``{"train": {class: [paths]}, "val": ..., "test": ...}`` of the folders found under ``root``
    (only the parts present). Raises FileNotFoundError when ``root`` holds no class folders."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {str(root)!r} does not exist")
    if (root / "train").is_dir():
        parts = {p: _class_dirs(root / p) for p in ("train", "val", "test") if (root / p).is_dir()}
        if not parts["train"]:
            raise FileNotFoundError(f"{root / 'train'} holds no class folders with images "
                                    f"({', '.join(IMAGE_SUFFIXES)})")
        return {k: v for k, v in parts.items() if v}
    pool = _class_dirs(root)
    if not pool:
        raise FileNotFoundError(f"{root} holds no class folders with images (root/train/<class>/*.png or "
                                f"root/<class>/*.png; suffixes {', '.join(IMAGE_SUFFIXES)})")
    return {"train": pool}


def read_image(path, rgb: bool) -> np.ndarray:
    """One image as float32 (C, H, W) in [0, 1] (C = 3 when ``rgb``, else 1)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if rgb:
                a = np.asarray(im.convert("RGB"), dtype=np.float32) / np.float32(255.0)
                return np.ascontiguousarray(a.transpose(2, 0, 1))
            if mode in ("1", "L", "P", "LA", "RGB", "RGBA"):
                a = np.asarray(im.convert("L"), dtype=np.float32) / np.float32(255.0)
            elif mode.startswith("I;16") or mode == "I":
                a = np.asarray(im, dtype=np.float32) / np.float32(65535.0)
            elif mode == "F":
                a = np.asarray(im, dtype=np.float32)
            else:
                a = np.asarray(im.convert("L"), dtype=np.float32) / np.float32(255.0)
    except OSError as e:
        raise ValueError(f"cannot read image {str(path)!r}: {e}") from None
    if not (np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0):
        raise ValueError(f"image {str(path)!r} (mode {mode}) has values outside [0, 1] after scaling "
                         f"([{a.min():g}, {a.max():g}]); store 8- or 16-bit images, or floats in [0, 1]")
    return a[None]


def _is_colour(path) -> bool:
    from PIL import Image

    with Image.open(path) as im:
        if im.mode in _GREY_MODES or im.mode == "LA":
            return False
        a = np.asarray(im.convert("RGB"))
    # a grey picture saved as RGB (or a palette of greys) stays one channel
    return not ((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())


def _stack(paths, rgb: bool, size):
    from .base import prepare_images

    imgs = [read_image(p, rgb) for p in paths]
    shapes = {a.shape[1:] for a in imgs}
    if len(shapes) > 1 and size is None:
        raise ValueError(f"the images have different sizes ({', '.join(f'{h}x{w}' for h, w in sorted(shapes)[:4])}"
                         f"{', ...' if len(shapes) > 4 else ''}); give a common size: --resize H W (size=(H, W))")
    if size is None:
        return prepare_images(np.stack(imgs))
    return np.concatenate([prepare_images(a[None], size).numpy() for a in imgs]) if imgs else None


def load_class_folders(root, split: str = "train", size=None, seed: int = 0, *, val_fraction: float = 0.1,
                       pad=None, mode: str = "bilinear", limit=None) -> ImageClassification:
    """A ``split`` of a class-folder dataset under ``root`` (module docstring).

    ``size``: resize every image to (H, W) (int or pair) -- required when sizes differ;
    ``pad``, ``mode``, ``limit`` as :func:`nets.data.load_mnist5k`. Returns float32 (N, C, H, W)
    in [0, 1], C = 1 (grey) or 3 (RGB).
    """
    check_split(split)
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction={val_fraction!r} must lie in [0, 1)")
    root = Path(root)
    parts = find_class_folders(root)
    classes = sorted(parts["train"])
    index = {c: k for k, c in enumerate(classes)}
    for name, part in parts.items():
        extra = sorted(set(part) - set(classes))
        if extra:
            raise ValueError(f"{root / name} has class folders {extra} that {root / 'train'} lacks; every class "
                             "needs training images")

    def listing(part):
        pairs = [(p, index[c]) for c, ps in sorted(parts[part].items()) for p in ps]
        return [p for p, _ in pairs], np.array([y for _, y in pairs], dtype=np.int64)

    every = [p for part in parts.values() for ps in part.values() for p in ps]
    rgb = any(_is_colour(p) for p in every)
    files, labels = listing("train")
    if "val" in parts and "test" in parts:
        pools = {"train": (files, labels), "val": listing("val"), "test": listing("test")}
    else:
        fr = (1.0 - val_fraction, val_fraction, 0.0) if "test" in parts else (0.7, 0.1, 0.2)
        if "val" in parts:
            fr = (0.8, 0.0, 0.2)
        idx = stratified_split(labels, fr, seed)
        pools = {s: ([files[i] for i in idx[s]], labels[idx[s]]) for s in ("train", "val", "test")}
        for s in ("val", "test"):
            if s in parts:
                pools[s] = listing(s)
    if split == "all":
        files = [p for s in ("train", "val", "test") for p in pools[s][0]]
        labels = np.concatenate([pools[s][1] for s in ("train", "val", "test")])
    else:
        files, labels = pools[split]
    if limit is not None:
        from .splits import stratified_subset

        keep = stratified_subset(labels, limit, seed)
        files, labels = [files[i] for i in keep], labels[keep]
    if not files:
        raise ValueError(f"split {split!r} of {root} holds no images; add images or pick another split")
    x = _stack(files, rgb, size)
    return ImageClassification.from_arrays(np.asarray(x), labels, classes, root.name, split, pad=pad, mode=mode)
