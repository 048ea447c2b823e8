"""``load_dataset``: one entry point for built-in names and the user's folders."""
from __future__ import annotations

import os
from pathlib import Path

from .cifar import find_cifar_folder, load_cifar10
from .digits import load_digits
from .idx import find_idx_files, load_idx_folder
from .mnist5k import load_mnist5k
from .segmentation import load_image_mask_folder, load_synthetic_segmentation

__all__ = ["BUILTIN", "FOLDER_FORMATS", "available_datasets", "detect_format", "load_dataset"]

#: Built-in datasets (nothing is downloaded): name -> loader(split, size, seed, **kw).
BUILTIN = {
    "mnist5k": load_mnist5k,
    "digits": load_digits,
    "synthetic-seg": load_synthetic_segmentation,
}

#: Folder formats recognised by :func:`detect_format`: name -> loader(root, split, size, seed, **kw).
FOLDER_FORMATS = {
    "idx": load_idx_folder,
    "cifar10": load_cifar10,
    "image-mask": load_image_mask_folder,
}


def available_datasets() -> list:
    """Names accepted by :func:`load_dataset` besides folder paths."""
    return sorted(BUILTIN)


def detect_format(path) -> str:
    """Which of :data:`FOLDER_FORMATS` the folder ``path`` holds: "idx" (MNIST-style IDX files),
    "cifar10" (CIFAR-10 python batches) or "image-mask" (``images/`` and ``masks/`` folders)."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"dataset folder {path} does not exist")
    if (path / "images").is_dir() and (path / "masks").is_dir():
        return "image-mask"
    try:
        find_cifar_folder(path)
        return "cifar10"
    except FileNotFoundError:
        pass
    try:
        find_idx_files(path)
        return "idx"
    except FileNotFoundError:
        pass
    raise FileNotFoundError(
        f"{path} holds no dataset this loader knows: expected MNIST-style IDX files "
        "(train-images-idx3-ubyte[.gz], ... in the folder, raw/ or <Name>/raw/), CIFAR-10 python batches "
        "(data_batch_1..5 and test_batch, or a cifar-10-batches-py/ folder) or images/ and masks/ folders")


def load_dataset(name_or_path, split: str = "train", size=None, seed: int = 0, **kw):
    """Load a dataset split by built-in name or from a folder.

    ``name_or_path``: "mnist5k", "digits", "synthetic-seg", or a folder holding MNIST / FashionMNIST /
    KMNIST IDX files, CIFAR-10 python batches or an images/ + masks/ pair (detected).
    ``split``: "train", "val", "test" or "all". ``size``: resize to this many pixels (int or (h, w));
    for "synthetic-seg" the rendering size (default 64). ``seed``: the split (and synthetic scenes).
    ``kw``: passed to the loader (e.g. ``pad``, ``mode``, ``limit``, ``fractions``, ``val_fraction``,
    ``flavour``, ``channels``, ``counts``). Returns an :class:`~nets.data.base.ImageClassification`
    or :class:`~nets.data.base.ImageSegmentation` (both torch TensorDatasets).
    """
    if isinstance(name_or_path, str):
        key = name_or_path.strip().lower().replace("_", "-")
        if key in BUILTIN:
            return BUILTIN[key](split, size, seed, **kw)
    path = Path(os.fspath(name_or_path)).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{name_or_path!r} is neither a built-in dataset ({', '.join(available_datasets())}) "
                                "nor an existing folder (nothing is downloaded)")
    return FOLDER_FORMATS[detect_format(path)](path, split, size, seed, **kw)
