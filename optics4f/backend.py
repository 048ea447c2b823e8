"""Array backend: NumPy or CuPy, chosen by the array that comes in.

This is the only module that knows which array library is behind ``xp``.
Everything else asks :func:`get_xp` for the namespace of its inputs, so NumPy
in gives NumPy out and CuPy in gives CuPy out. CuPy is optional: without it,
every array is a NumPy array.
"""
from __future__ import annotations

import numbers

import numpy as np

from .typing import Array, ArrayLike, ArrayModule, DTypeLike

try:  # optional GPU backend
    import cupy as _cupy  # type: ignore
except Exception:  # ImportError, or a CUDA runtime that fails to load
    _cupy = None

__all__ = [
    "get_xp",
    "is_cupy",
    "has_cupy",
    "to_numpy",
    "asarray_like",
    "as_field",
    "as_real",
    "complex_dtype",
    "real_dtype",
    "DEFAULT_COMPLEX",
]

#: Default complex dtype of fields (complex128 is available for validation).
DEFAULT_COMPLEX = np.complex64


def has_cupy() -> bool:
    """True when CuPy imported and at least one CUDA device is visible."""
    if _cupy is None:
        return False
    try:
        return _cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def is_cupy(a: object) -> bool:
    """True when ``a`` is a CuPy array."""
    return _cupy is not None and isinstance(a, _cupy.ndarray)


def get_xp(*arrays: object) -> ArrayModule:
    """Array namespace (``numpy`` or ``cupy``) of the given arrays.

    Mixing NumPy and CuPy arrays is refused: a silent host/device copy on a
    hot path is a bug the caller wants to hear about.
    """
    found = {is_cupy(a) for a in arrays if a is not None and not isinstance(a, numbers.Number)}
    if len(found) > 1:
        raise TypeError(
            "mixed NumPy and CuPy arrays; move them to one device first "
            "(cupy.asarray(...) or optics4f.to_numpy(...))"
        )
    return _cupy if found == {True} else np


def to_numpy(a: ArrayLike) -> np.ndarray:
    """Host copy of ``a`` as a NumPy array (no copy when it already is one)."""
    if is_cupy(a):
        return a.get()
    return np.asarray(a)


def asarray_like(a: ArrayLike, like: Array) -> Array:
    """``a`` as an array of the same library (and device) as ``like``."""
    xp = get_xp(like)
    if xp is np:
        return np.asarray(to_numpy(a))
    return xp.asarray(a)


def complex_dtype(dtype: DTypeLike) -> np.dtype:
    """Complex dtype matching the precision of ``dtype`` (float32 -> complex64)."""
    dtype = np.dtype(dtype)
    if dtype in (np.float64, np.complex128):
        return np.dtype(np.complex128)
    return np.dtype(np.complex64)


def real_dtype(dtype: DTypeLike) -> np.dtype:
    """Real dtype matching the precision of ``dtype`` (complex64 -> float32)."""
    dtype = np.dtype(dtype)
    if dtype in (np.float64, np.complex128):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def _check_kind(a, name: str):
    kind = a.dtype.kind
    if kind in "biu":
        raise TypeError(
            f"{name} has integer dtype {a.dtype}; fields are complex or float. "
            f"Convert explicitly, e.g. {name}.astype(numpy.float32) / full_scale, "
            "so the scaling of the gray levels is your decision"
        )
    if kind not in "fc":
        raise TypeError(f"{name} has unsupported dtype {a.dtype}; expected float or complex")


def _check_finite(a, xp, name: str):
    if not bool(xp.isfinite(a).all()):
        raise ValueError(f"{name} contains NaN or Inf; clean the input (e.g. numpy.nan_to_num) first")


def as_field(u: ArrayLike, name: str = "u", dtype: DTypeLike | None = None, min_ndim: int = 2,
             check_finite: bool = True) -> Array:
    """Validate a complex field and return it as an array of a complex dtype.

    Parameters
    ----------
    u : array_like, shape (..., ny, nx)
        Field samples (complex amplitude, sqrt(W)/m). Float inputs are promoted
        to complex; integer, boolean, NaN or Inf inputs are refused.
    name : str
        Argument name used in error messages.
    dtype : complex dtype, optional
        Target dtype. Default: complex128 for float64/complex128 input,
        otherwise complex64.
    min_ndim : int
        Minimum number of dimensions (2: spatial axes last).
    check_finite : bool
        Refuse NaN and Inf (a pass over the data). False only where the caller hands the field to
        an operator that checks it anyway.

    Returns
    -------
    array (NumPy or CuPy, same library as ``u``), no copy when ``u`` already
    has the target dtype.
    """
    xp = get_xp(u)
    if not hasattr(u, "dtype"):
        u = np.asarray(u)
    _check_kind(u, name)
    if u.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions (..., ny, nx), got shape {tuple(u.shape)}"
        )
    target = np.dtype(dtype) if dtype is not None else complex_dtype(u.dtype)
    if target.kind != "c":
        raise TypeError(f"dtype for {name} must be complex64 or complex128, got {target}")
    u = xp.asarray(u, dtype=target)
    if check_finite:
        _check_finite(u, xp, name)
    return u


def as_real(a: ArrayLike, name: str, dtype: DTypeLike | None = None, min_ndim: int = 0,
            like: Array | None = None) -> Array:
    """Validate a real array (a phase, an amplitude, a pupil); refuse complex, integer-free."""
    xp = get_xp(a if like is None else like)
    if not hasattr(a, "dtype"):
        a = np.asarray(a, dtype=np.float64)
    if a.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {a.dtype}")
    if a.dtype.kind not in "fbiu":
        raise TypeError(f"{name} has unsupported dtype {a.dtype}")
    if a.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(a.shape)}")
    a = xp.asarray(a, dtype=dtype or (np.float64 if a.dtype.kind in "biu" else a.dtype))
    _check_finite(a, xp, name)
    return a
