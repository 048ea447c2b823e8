"""Tensor <-> array without copies: NumPy for CPU tensors, CuPy (DLPack) for CUDA tensors.

The bridge hands the core the tensor's own memory: ``Tensor.numpy()`` on a
CPU tensor and ``cupy.from_dlpack`` on a CUDA tensor are views, not copies.
The core's outputs are fresh arrays (it copies out of its FFT work buffers),
so wrapping them back with ``torch.from_numpy`` / ``torch.from_dlpack`` is
safe.

On a GPU the core must run on the stream PyTorch is using, otherwise a
CuPy kernel could read a tensor before the PyTorch kernel that writes it has
finished: :func:`core_context` makes PyTorch's current stream CuPy's current
stream for the duration of a core call.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

from ..backend import complex_dtype, is_cupy
from ..operator import LinearOperator
from ..typing import Array, DTypeLike

__all__ = ["to_array", "from_array", "core_context", "numpy_dtype", "torch_dtype", "check_precision"]

_TO_NUMPY = {
    torch.float32: np.float32,
    torch.float64: np.float64,
    torch.complex64: np.complex64,
    torch.complex128: np.complex128,
}
_TO_TORCH = {np.dtype(v): k for k, v in _TO_NUMPY.items()}


def _cupy():
    try:
        import cupy  # type: ignore
    except Exception as exc:  # ImportError or a broken CUDA runtime
        raise RuntimeError(
            "a CUDA tensor reached the optics4f core but CuPy is not importable; "
            "install it (pip install -c constraints.txt -e '.[gpu]') or move the tensor to the CPU"
        ) from exc
    return cupy


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    """NumPy dtype of a torch floating or complex dtype."""
    try:
        return np.dtype(_TO_NUMPY[dtype])
    except KeyError:
        raise TypeError(
            f"the optics4f core works on float32/float64/complex64/complex128 tensors, got {dtype}; "
            "convert with tensor.to(torch.complex64) (or float32 for a real field)"
        ) from None


def torch_dtype(dtype: DTypeLike) -> torch.dtype:
    """Torch dtype of a NumPy dtype (float32/float64/complex64/complex128)."""
    return _TO_TORCH[np.dtype(dtype)]


def check_precision(t: torch.Tensor, op: LinearOperator, name: str = "u") -> None:
    """Refuse a tensor whose precision differs from the operator's (a silent cast would copy)."""
    want = np.dtype(op.dtype)
    got = complex_dtype(numpy_dtype(t.dtype))
    if got != want:
        raise TypeError(
            f"{name} is {t.dtype} but the operator {type(op).__name__} was built for {want}; "
            f"build it with dtype=numpy.{got} or convert {name} with .to(optics4f.torch.torch_dtype(numpy.{want}))"
        )


def to_array(t: torch.Tensor) -> Array:
    """The data of ``t`` as a NumPy (CPU) or CuPy (CUDA) array sharing its memory.

    Conjugate and negative views are resolved first (that materialises them);
    a plain tensor, contiguous or strided, is never copied.
    """
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(t).__name__}")
    t = t.detach()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    numpy_dtype(t.dtype)  # refuse integer/bool/half tensors with a clear message
    if t.device.type == "cpu":
        return t.numpy()
    if t.device.type == "cuda":
        return _cupy().from_dlpack(t)
    raise TypeError(f"tensors on device {t.device} are not supported by the optics4f core; use cpu or cuda")


def from_array(a: Array) -> torch.Tensor:
    """A tensor sharing the memory of the NumPy or CuPy array ``a``."""
    if is_cupy(a):
        return torch.from_dlpack(a)
    a = np.asarray(a)
    if any(s < 0 for s in a.strides) or not a.flags.writeable:
        a = np.array(a)  # torch cannot view negative strides or read-only memory
    return torch.from_numpy(a)


@contextlib.contextmanager
def core_context(t: torch.Tensor) -> Iterator[None]:
    """Run core calls for tensor ``t``: on CUDA, on its device and on PyTorch's current stream."""
    if t.device.type != "cuda":
        yield
        return
    cupy = _cupy()
    stream = torch.cuda.current_stream(t.device)
    with cupy.cuda.Device(t.device.index), cupy.cuda.ExternalStream(stream.cuda_stream, t.device.index):
        yield
