"""2-D FFT plans over the last two axes: one interface (:class:`FFTPlan`), one class per engine.

* :class:`FFTWPlan` (``"pyfftw"``): ``FFTW_MEASURE`` plans made once, in place on an aligned buffer.
* :class:`SciPyPlan` (``"scipy"``): ``scipy.fft`` with the FFT threads as workers; no planning cost.
* :class:`CuPyPlan` (``"cupy"``): cuFFT through ``cupyx.scipy.fft``, for CuPy arrays.

Both transforms are unnormalised (forward: sum e^{-2 pi i k n / N}; backward: sum e^{+2 pi i k n / N},
no 1/N). See docs/fft.md#plans.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from ..backend import get_xp, is_cupy
from .engines import pyfftw
from .state import STATE, get_fft_engine
from .wisdom import planning

__all__ = ["MAX_CACHED", "PLAN_CLASSES", "CuPyPlan", "FFTPlan", "FFTWPlan", "SciPyPlan", "engine_for", "fft2",
           "get_plan", "ifft2"]

#: Plans kept per thread before the oldest is dropped (bounds the memory held by work buffers).
MAX_CACHED = 32


class FFTPlan:
    """An in-place 2-D FFT over the last two axes of ``buffer`` (shape ``shape``, complex ``dtype``).

    Use ``x = plan.forward(plan.buffer)``: with FFTW the result is the buffer itself; other engines
    may return a new array, so always use the returned value. ``FFTPlan(shape, dtype, xp, engine)``
    makes the plan of the named engine (one of :data:`PLAN_CLASSES`); each engine is a subclass
    implementing :meth:`forward`, :meth:`backward` and :meth:`load`.
    """

    #: Engine name (``"pyfftw"``, ``"scipy"`` or ``"cupy"``).
    engine: ClassVar[str] = ""
    #: True when the engine's plans can be cut into 1-D passes over parts of an array
    #: (what :class:`optics4f.fft.PaddedFilter` needs to skip the padding).
    prunes: ClassVar[bool] = False

    def __new__(cls, shape: tuple[int, ...] = (), dtype: Any = None, xp: Any = np,
                engine: str | None = None) -> FFTPlan:
        """``FFTPlan(...)`` makes the named engine's subclass; a subclass makes itself (so copy and
        pickle, which call ``__new__`` without arguments, work as for any class)."""
        if cls is not FFTPlan:
            return super().__new__(cls)
        name = engine or get_fft_engine()
        if name not in PLAN_CLASSES:
            raise ValueError(f"unknown FFT engine {name!r}; choose one of {sorted(PLAN_CLASSES)}")
        return super().__new__(PLAN_CLASSES[name])

    def __init__(self, shape: tuple[int, ...], dtype: Any, xp: Any = np, engine: str | None = None) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.xp = xp
        self.buffer = self._make_buffer()

    def _make_buffer(self) -> Any:
        return self.xp.zeros(self.shape, dtype=self.dtype)

    def forward(self, a: Any) -> Any:
        """Unnormalised forward transform of ``a`` (shape ``shape``; in place when ``a`` is the buffer)."""
        raise NotImplementedError

    def backward(self, a: Any) -> Any:
        """Unnormalised inverse transform of ``a`` (shape ``shape``; no 1/N factor)."""
        raise NotImplementedError

    def load(self, a: Any) -> Any:
        """``a`` copied where this plan may overwrite it (the buffer, or a fresh copy)."""
        return a.copy()


class FFTWPlan(FFTPlan):
    """FFTW (pyfftw): ``FFTW_MEASURE`` plans, in place on an aligned buffer, made under :func:`planning`."""

    engine = "pyfftw"
    prunes = True

    def __init__(self, shape: tuple[int, ...], dtype: Any, xp: Any = np, engine: str | None = None) -> None:
        super().__init__(shape, dtype, xp, engine)
        flags = ("FFTW_MEASURE", "FFTW_DESTROY_INPUT")
        with planning():  # FFTW_MEASURE overwrites the buffer while planning, which is fine here.
            self._fw = pyfftw.FFTW(self.buffer, self.buffer, axes=(-2, -1), direction="FFTW_FORWARD",
                                   threads=STATE.threads, flags=flags)
            self._bw = pyfftw.FFTW(self.buffer, self.buffer, axes=(-2, -1), direction="FFTW_BACKWARD",
                                   threads=STATE.threads, flags=flags, normalise_idft=False)

    def _make_buffer(self) -> np.ndarray:
        buffer = pyfftw.empty_aligned(self.shape, dtype=self.dtype)
        buffer[...] = 0
        return buffer

    def forward(self, a: np.ndarray) -> np.ndarray:
        """Unnormalised forward transform of ``a``; returns the buffer (``a`` is copied in unless it is the buffer)."""
        if a is not self.buffer:
            self.buffer[...] = a
        self._fw.execute()
        return self.buffer

    def backward(self, a: np.ndarray) -> np.ndarray:
        """Unnormalised inverse transform of ``a`` (no 1/N); returns the buffer."""
        if a is not self.buffer:
            self.buffer[...] = a
        self._bw.execute()
        return self.buffer

    def load(self, a: np.ndarray) -> np.ndarray:
        """``a`` copied into the buffer; returns the buffer."""
        self.buffer[...] = a
        return self.buffer


class SciPyPlan(FFTPlan):
    """``scipy.fft`` (pocketfft) with ``STATE.threads`` workers; may overwrite its input."""

    engine = "scipy"

    def __init__(self, shape: tuple[int, ...], dtype: Any, xp: Any = np, engine: str | None = None) -> None:
        import scipy.fft as sfft

        super().__init__(shape, dtype, xp, engine)
        self._fft2, self._ifft2 = sfft.fft2, sfft.ifft2

    def forward(self, a: np.ndarray) -> np.ndarray:
        """Unnormalised forward transform of ``a`` (a new array or ``a`` overwritten)."""
        return self._fft2(a, overwrite_x=True, workers=STATE.threads)

    def backward(self, a: np.ndarray) -> np.ndarray:
        """Unnormalised inverse transform of ``a`` (no 1/N; a new array or ``a`` overwritten)."""
        return self._ifft2(a, overwrite_x=True, workers=STATE.threads, norm="forward")


class CuPyPlan(FFTPlan):
    """cuFFT through ``cupyx.scipy.fft`` on the device of the CuPy arrays; may overwrite its input."""

    engine = "cupy"

    def __init__(self, shape: tuple[int, ...], dtype: Any, xp: Any = np, engine: str | None = None) -> None:
        import cupyx.scipy.fft as cfft  # type: ignore

        super().__init__(shape, dtype, xp, engine)
        self._fft2, self._ifft2 = cfft.fft2, cfft.ifft2

    def forward(self, a: Any) -> Any:
        """Unnormalised forward transform of the CuPy array ``a``."""
        return self._fft2(a, overwrite_x=True)

    def backward(self, a: Any) -> Any:
        """Unnormalised inverse transform of the CuPy array ``a`` (no 1/N)."""
        return self._ifft2(a, overwrite_x=True, norm="forward")


#: The plan class of each engine name.
PLAN_CLASSES: Mapping[str, type[FFTPlan]] = MappingProxyType(
    {cls.engine: cls for cls in (FFTWPlan, SciPyPlan, CuPyPlan)})


def engine_for(like: Any = None) -> str:
    """The engine for arrays like ``like``: ``"cupy"`` for a CuPy array, else the CPU engine in use."""
    return "cupy" if like is not None and is_cupy(like) else get_fft_engine()


def get_plan(shape: tuple[int, ...], dtype: Any, like: Any = None) -> FFTPlan:
    """Cached :class:`FFTPlan` for arrays of ``shape`` (..., ny, nx) and complex ``dtype``.

    ``like`` selects the backend (a CuPy array gives a cuFFT plan on its device). Plans are cached
    per thread; the buffer of a plan is shared by every caller of the same shape in that thread.
    """
    cupy_backend = like is not None and is_cupy(like)
    if cupy_backend:
        engine = "cupy"
        key = (tuple(shape), np.dtype(dtype).str, "cupy", int(like.device.id))
    else:
        engine = get_fft_engine()
        key = (tuple(shape), np.dtype(dtype).str, engine)
    cache = STATE.local.__dict__.setdefault("plans", {})
    plan = cache.get(key)
    if plan is None:
        plan = PLAN_CLASSES[engine](shape, dtype, get_xp(like) if like is not None else np)
        if len(cache) > MAX_CACHED:
            cache.pop(next(iter(cache)))
        cache[key] = plan
    return plan


def fft2(a: Any) -> Any:
    """Unnormalised forward 2-D FFT over the last two axes of ``a`` (..., ny, nx); returns a new array."""
    plan = get_plan(a.shape, a.dtype, like=a)
    out = plan.forward(plan.load(a))
    return out.copy() if out is plan.buffer else out


def ifft2(a: Any) -> Any:
    """Unnormalised inverse 2-D FFT (no 1/N) over the last two axes of ``a`` (..., ny, nx); returns a new array."""
    plan = get_plan(a.shape, a.dtype, like=a)
    out = plan.backward(plan.load(a))
    return out.copy() if out is plan.buffer else out
