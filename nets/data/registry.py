"""``load_dataset``: one entry point for built-in names and the user's folders."""
from __future__ import annotations

import os
from pathlib import Path

from .cifar import find_cifar_folder, load_cifar10
from .digits import load_digits
from .folders import find_class_folders, load_class_folders
from .idx import find_idx_files, load_idx_folder
from .mnist5k import load_mnist5k
from .npz import load_npz
from .segmentation import load_image_mask_folder, load_synthetic_segmentation

__all__ = ["BUILTIN", "FOLDER_FORMATS", "FILE_FORMATS",
           "dataset_reference", "available_datasets", "detect_format", "load_dataset", "model_dataset"]

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
    "class-folders": load_class_folders,
}

#: Single-file formats: suffix -> loader(path, split, size, seed, **kw).
FILE_FORMATS = {".npz": load_npz}


def available_datasets() -> list:
    """Names accepted by :func:`load_dataset` besides folder paths."""
    return sorted(BUILTIN)


def detect_format(path) -> str:
    """Which of :data:`FOLDER_FORMATS` the folder ``path`` holds: "idx" (MNIST-style IDX files),
    "cifar10" (CIFAR-10 python batches), "image-mask" (``images/`` and ``masks/`` folders) or
    "class-folders" (``train/<class>/*.png`` or ``<class>/*.png``, :mod:`nets.data.folders`)."""
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
    try:
        find_class_folders(path)
        return "class-folders"
    except FileNotFoundError:
        pass
    raise FileNotFoundError(
        f"{path} holds no dataset this loader knows: expected MNIST-style IDX files "
        "(train-images-idx3-ubyte[.gz], ... in the folder, raw/ or <Name>/raw/), CIFAR-10 python batches "
        "(data_batch_1..5 and test_batch, or a cifar-10-batches-py/ folder), images/ and masks/ folders, "
        "or class folders of images (train/<class>/*.png, or <class>/*.png); or give a .npz file (x, y)")


def dataset_reference(name_or_path) -> str:
    """What a config records for a dataset: a built-in name as it is, a path made absolute (so a
    saved model finds its data from any working folder)."""
    if isinstance(name_or_path, str) and name_or_path.strip().lower().replace("_", "-") in BUILTIN:
        return name_or_path
    path = Path(os.fspath(name_or_path)).expanduser()
    return str(path.resolve()) if path.exists() else str(name_or_path)


def load_dataset(name_or_path, split: str = "train", size=None, seed: int = 0, **kw):
    """Load a dataset split by built-in name or from a folder.

    ``name_or_path``: "mnist5k", "digits", "synthetic-seg", a folder holding MNIST-style IDX files,
    CIFAR-10 python batches, an images/ + masks/ pair or class folders of images (detected), or a
    ``.npz`` file (``x``, ``y``; :mod:`nets.data.npz`).
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
    if path.is_file():
        if path.suffix.lower() not in FILE_FORMATS:
            raise ValueError(f"dataset file {str(path)!r} has suffix {path.suffix!r}; files of "
                             f"{', '.join(FILE_FORMATS)} are datasets, or give a folder")
        return FILE_FORMATS[path.suffix.lower()](path, split, size, seed, **kw)
    return FOLDER_FORMATS[detect_format(path)](path, split, size, seed, **kw)


def model_dataset(cfg: dict, split: str, limit=None, dataset=None):
    """(dataset, name): split ``split`` of the dataset a model was trained on, as it was trained.

    ``cfg``: the model's checkpoint configuration (its ``train`` section gives the dataset name,
    image size, pad and seed); ``dataset``: another name or folder, loaded alike; ``limit``: a
    stratified subset of that many images (None: all)."""
    tr = cfg.get("train", {})
    name = dataset or tr.get("dataset", "mnist5k")
    kw = {"size": tr.get("image_size"), "seed": tr.get("seed", 0)}
    if tr.get("pad") is not None:
        kw["pad"] = tr["pad"]
    if limit is not None:
        kw["limit"] = int(limit)
    return load_dataset(name, split, **kw), name
