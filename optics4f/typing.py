"""Type aliases of the public API's annotations.

optics4f runs on NumPy or CuPy, chosen by the array passed in (docs/architecture.md), and CuPy is
optional, so arrays are annotated with :data:`Array`, which names "a NumPy or CuPy ndarray" for the
reader and is :data:`typing.Any` for a type checker. Inputs that also take nested sequences or
scalars are :data:`ArrayLike`. Annotations are never checked at run time (docs/contributing.md).
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

#: A NumPy or CuPy ndarray (``numpy.ndarray`` or ``cupy.ndarray``); the backend follows the array. Code
#: that runs on an :data:`Ops` object also passes ``torch.Tensor`` s through it.
Array: TypeAlias = Any
#: The array namespace of an array: the ``numpy`` or the ``cupy`` module.
ArrayModule: TypeAlias = ModuleType
#: The operations a hardware stage runs on (:mod:`optics4f.system.stages`): ``optics4f.ops.ARRAY_OPS``
#: for NumPy or CuPy, ``optics4f.torch.ops.TORCH_OPS`` for torch tensors.
Ops: TypeAlias = Any
#: A grid or panel shape (ny, nx), in samples or pixels.
Shape2: TypeAlias = tuple[int, int]
#: A sampling pitch in metres: one value for both axes, or (dy, dx).
Pitch: TypeAlias = float | tuple[float, float]
#: A file-system path: ``str`` or ``os.PathLike`` (``pathlib.Path``).
PathLike: TypeAlias = str | os.PathLike[str]
#: A seed or generator for random draws: ``None`` (fresh entropy), an int, or a ``numpy.random.Generator``
#: (a ``cupy.random.Generator`` also serves for CuPy data).
Seed: TypeAlias = int | np.random.Generator | None

__all__ = ["Array", "ArrayModule", "ArrayLike", "DTypeLike", "Ops", "PathLike", "Pitch", "Seed", "Shape2"]
