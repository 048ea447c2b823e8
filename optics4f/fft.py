"""FFT engine: cached in-place plans over the last two axes.

The FFT dominates every optical pass, so hot paths ask :func:`get_plan` for a
plan bound to a persistent, aligned work buffer and transform in place
(fresh output arrays page-fault on these machines; see DESIGN.md).

Engines (CPU): ``"pyfftw"`` (FFTW with ``FFTW_MEASURE`` plans and wisdom kept
on disk; fastest measured here) and ``"scipy"`` (``scipy.fft`` with all
cores; no planning cost). ``"auto"`` picks pyfftw when it is installed. CuPy
arrays always use cuFFT. Choose with :func:`set_fft_engine` or the
``OPTICS4F_FFT_ENGINE`` environment variable.

Both transforms are unnormalised (forward: sum e^{-2 pi i k n / N};
backward: sum e^{+2 pi i k n / N}, no 1/N): callers fold scale factors into
their transfer functions, which saves a pass over the data.
"""
from __future__ import annotations

import os
import pickle
import tempfile
import threading
from pathlib import Path

import numpy as np

from .backend import get_xp, is_cupy

__all__ = ["get_plan", "set_fft_engine", "get_fft_engine", "fft2", "ifft2", "FFTPlan", "available_engines"]

try:
    import pyfftw  # type: ignore
except Exception:  # pragma: no cover - pyfftw is a dependency, but keep a fallback
    pyfftw = None

_engine = os.environ.get("OPTICS4F_FFT_ENGINE", "auto")
_threads = max(1, int(os.environ.get("OPTICS4F_FFT_THREADS", os.cpu_count() or 1)))
_local = threading.local()  # plans own buffers, so each thread keeps its own
_wisdom_lock = threading.Lock()
_wisdom_loaded = False
_WISDOM_PATH = Path(os.environ.get("OPTICS4F_CACHE", Path.home() / ".cache" / "optics4f")) / "fftw_wisdom.pkl"


def available_engines() -> list:
    """Names of the CPU FFT engines importable here."""
    return (["pyfftw"] if pyfftw is not None else []) + ["scipy"]


def set_fft_engine(name: str = "auto", threads: int | None = None) -> None:
    """Choose the CPU FFT engine (``"auto"``, ``"pyfftw"`` or ``"scipy"``) and thread count."""
    global _engine, _threads
    if name not in ("auto", "pyfftw", "scipy"):
        raise ValueError(f"unknown FFT engine {name!r}; choose 'auto', 'pyfftw' or 'scipy'")
    if name == "pyfftw" and pyfftw is None:
        raise ImportError("FFT engine 'pyfftw' requested but pyfftw is not installed (pip install pyfftw)")
    _engine = name
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        _threads = int(threads)
    _local.__dict__.clear()


def get_fft_engine() -> str:
    """The CPU engine in use (``"pyfftw"`` or ``"scipy"``)."""
    if _engine == "auto":
        return "pyfftw" if pyfftw is not None else "scipy"
    return _engine


def _load_wisdom():
    global _wisdom_loaded
    with _wisdom_lock:
        if _wisdom_loaded:
            return
        _wisdom_loaded = True
        try:
            pyfftw.import_wisdom(pickle.loads(_WISDOM_PATH.read_bytes()))
        except Exception:
            pass  # no cache yet, or a cache from another FFTW build: plan afresh


def _save_wisdom():
    # Atomic write so that two processes never leave a torn file.
    try:
        _WISDOM_PATH.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=_WISDOM_PATH.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(pyfftw.export_wisdom(), fh)
        os.replace(tmp, _WISDOM_PATH)
    except OSError:
        pass  # a read-only home only costs planning time


class FFTPlan:
    """An in-place 2-D FFT over the last two axes of ``buffer``.

    Use ``x = plan.forward(plan.buffer)``: with FFTW the result is the
    buffer itself; other engines may return a new array, so always use the
    returned value.
    """

    def __init__(self, shape, dtype, xp, engine):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.xp = xp
        self.engine = engine
        if engine == "pyfftw":
            _load_wisdom()
            self.buffer = pyfftw.empty_aligned(self.shape, dtype=self.dtype)
            self.buffer[...] = 0
            flags = ("FFTW_MEASURE", "FFTW_DESTROY_INPUT")
            before = pyfftw.export_wisdom()
            # FFTW_MEASURE overwrites the buffer while planning, which is fine here.
            self._fw = pyfftw.FFTW(self.buffer, self.buffer, axes=(-2, -1), direction="FFTW_FORWARD",
                                   threads=_threads, flags=flags)
            self._bw = pyfftw.FFTW(self.buffer, self.buffer, axes=(-2, -1), direction="FFTW_BACKWARD",
                                   threads=_threads, flags=flags, normalise_idft=False)
            if pyfftw.export_wisdom() != before:
                _save_wisdom()
        else:
            self.buffer = xp.zeros(self.shape, dtype=self.dtype)

    def forward(self, a):
        """Unnormalised forward transform of ``a`` (in place when ``a`` is the buffer)."""
        if self.engine == "pyfftw":
            if a is not self.buffer:
                self.buffer[...] = a
            self._fw.execute()
            return self.buffer
        if self.engine == "cupy":
            import cupyx.scipy.fft as cfft  # type: ignore

            return cfft.fft2(a, overwrite_x=True)
        import scipy.fft as sfft

        return sfft.fft2(a, overwrite_x=True, workers=_threads)

    def backward(self, a):
        """Unnormalised inverse transform of ``a`` (no 1/N factor)."""
        if self.engine == "pyfftw":
            if a is not self.buffer:
                self.buffer[...] = a
            self._bw.execute()
            return self.buffer
        if self.engine == "cupy":
            import cupyx.scipy.fft as cfft  # type: ignore

            return cfft.ifft2(a, overwrite_x=True, norm="forward")
        import scipy.fft as sfft

        return sfft.ifft2(a, overwrite_x=True, workers=_threads, norm="forward")


def get_plan(shape, dtype, like=None) -> FFTPlan:
    """Cached :class:`FFTPlan` for arrays of ``shape`` and complex ``dtype``.

    ``like`` selects the backend (a CuPy array gives a cuFFT plan on its device).
    """
    cupy_backend = like is not None and is_cupy(like)
    if cupy_backend:
        engine = "cupy"
        key = (tuple(shape), np.dtype(dtype).str, "cupy", int(like.device.id))
    else:
        engine = get_fft_engine()
        key = (tuple(shape), np.dtype(dtype).str, engine)
    cache = _local.__dict__.setdefault("plans", {})
    plan = cache.get(key)
    if plan is None:
        plan = FFTPlan(shape, dtype, get_xp(like) if like is not None else np, engine)
        if len(cache) > 32:  # bound memory held by work buffers
            cache.pop(next(iter(cache)))
        cache[key] = plan
    return plan


def fft2(a):
    """Unnormalised forward 2-D FFT over the last two axes; returns a new array."""
    plan = get_plan(a.shape, a.dtype, like=a)
    out = plan.forward(_load(plan, a))
    return out.copy() if out is plan.buffer else out


def ifft2(a):
    """Unnormalised inverse 2-D FFT (no 1/N) over the last two axes; returns a new array."""
    plan = get_plan(a.shape, a.dtype, like=a)
    out = plan.backward(_load(plan, a))
    return out.copy() if out is plan.buffer else out


def _load(plan, a):
    if plan.engine == "pyfftw":
        plan.buffer[...] = a
        return plan.buffer
    return a.copy()  # other engines may overwrite their input
