"""FFT engine: cached in-place plans over the last two axes, the padded filter and the worker pool.

The FFT dominates every optical pass, so hot paths ask :func:`get_plan` for a plan bound to a
persistent, aligned work buffer and transform in place (fresh output arrays page-fault; see
docs/architecture.md#conventions).

Engines (CPU): ``"pyfftw"`` (FFTW with ``FFTW_MEASURE`` plans and wisdom kept on disk) and
``"scipy"`` (``scipy.fft`` with all cores; no planning cost). ``"auto"`` picks pyfftw when it is
installed. CuPy arrays always use cuFFT. Choose with :func:`set_fft_engine` or the
``OPTICS4F_FFT_ENGINE`` environment variable (threads: ``OPTICS4F_FFT_THREADS``; wisdom folder:
``OPTICS4F_CACHE``).

A forked child process (e.g. a torch DataLoader worker) runs the CPU engines single-threaded:
FFTW's threads do not survive fork, and a threaded plan there would wait forever.

Both transforms are unnormalised (forward: sum e^{-2 pi i k n / N}; backward: sum e^{+2 pi i k n / N},
no 1/N): callers fold scale factors into their transfer functions, which saves a pass over the data.

Modules: :mod:`.engines` (which engines exist), :mod:`.state` (all mutable state, :data:`STATE`),
:mod:`.plans` (one plan class per engine), :mod:`.wisdom` (FFTW wisdom, fork safety),
:mod:`.pool` (worker threads), :mod:`.padded` (pruned zero-padded filter), :mod:`.blocked` and
:mod:`.multichannel` (the multi-channel 4f engine; imported on demand). See docs/fft.md.
"""
from __future__ import annotations

from . import engines, padded, plans, pool, state, wisdom  # noqa: F401  (the modules, as attributes)
from .engines import available_engines, pyfftw  # noqa: F401  (pyfftw: the module, or None)
from .padded import PaddedFilter, fill_padded, get_padded_filter
from .plans import FFTPlan, fft2, get_plan, ifft2
from .pool import map_on_pool, worker_pool
from .state import STATE, FFTState, clear_fft_cache, get_fft_engine, get_fft_threads, set_fft_engine
from .wisdom import forget_wisdom, planning

__all__ = ["FFTPlan", "FFTState", "PaddedFilter", "STATE", "available_engines", "clear_fft_cache", "fft2",
           "fill_padded", "forget_wisdom", "get_fft_engine", "get_fft_threads", "get_padded_filter", "get_plan",
           "ifft2", "map_on_pool", "planning", "set_fft_engine", "worker_pool"]
