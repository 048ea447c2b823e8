"""The FFT package's mutable state, in one object (:data:`STATE`), and the functions that set it.

Everything the engines change at run time lives on :data:`STATE`: the chosen engine and thread
count, the per-thread cache of plans and work buffers, the planner and pool locks, the wisdom
flags and the worker pools. Reading an attribute of it costs what a module global did; nothing
here takes a lock on a transform's path. See docs/fft.md#state.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .engines import ENGINE_CHOICES, pyfftw

__all__ = ["STATE", "FFTState", "clear_fft_cache", "get_fft_engine", "get_fft_threads", "set_fft_engine"]


def _env_threads() -> int:
    return max(1, int(os.environ.get("OPTICS4F_FFT_THREADS", os.cpu_count() or 1)))


def _env_wisdom_path() -> Path:
    return Path(os.environ.get("OPTICS4F_CACHE", Path.home() / ".cache" / "optics4f")) / "fftw_wisdom.pkl"


@dataclass
class FFTState:
    """The FFT engines' run-time state (one instance, :data:`STATE`).

    Attributes
    ----------
    engine : str
        ``"auto"``, ``"pyfftw"`` or ``"scipy"`` (``OPTICS4F_FFT_ENGINE``, default ``"auto"``).
    threads : int
        Threads of the CPU engines and of the worker pool (``OPTICS4F_FFT_THREADS``, default: all cores).
    local : threading.local
        Per-thread caches (``plans``, ``padded_filters``, ``padded_work``): plans own their work
        buffers, so each thread keeps its own.
    plan_lock : threading.RLock
        Held while FFTW plans are made or its wisdom is read or written (FFTW's planner is not
        thread-safe).
    wisdom_lock : threading.Lock
        Guards the one-time load of the wisdom file.
    wisdom_loaded : bool
        True once the wisdom file was read (or deliberately skipped) in this process.
    merge_disk_wisdom : bool
        Merge the file's wisdom before saving; False after :func:`optics4f.fft.forget_wisdom`.
    wisdom_path : pathlib.Path
        The wisdom cache file (``$OPTICS4F_CACHE/fftw_wisdom.pkl``, default ``~/.cache/optics4f``).
    pools : dict
        Worker pools (:class:`concurrent.futures.ThreadPoolExecutor`) by worker count.
    pool_lock : threading.Lock
        Guards the creation of pools.
    """

    engine: str = field(default_factory=lambda: os.environ.get("OPTICS4F_FFT_ENGINE", "auto"))
    threads: int = field(default_factory=_env_threads)
    local: threading.local = field(default_factory=threading.local)
    plan_lock: threading.RLock = field(default_factory=threading.RLock)
    wisdom_lock: threading.Lock = field(default_factory=threading.Lock)
    wisdom_loaded: bool = False
    merge_disk_wisdom: bool = True
    wisdom_path: Path = field(default_factory=_env_wisdom_path)
    pools: dict[int, ThreadPoolExecutor] = field(default_factory=dict)
    pool_lock: threading.Lock = field(default_factory=threading.Lock)

    def clear_caches(self) -> None:
        """Drop the calling thread's cached plans, filters and work buffers."""
        self.local.__dict__.clear()

    def reset_in_forked_child(self) -> None:
        """Make a forked child usable: FFTW's threads do not survive fork, so any multi-threaded
        plan, cached or new, would wait forever there (docs/fft.md#fork). The child drops its
        plans and pools, gets fresh locks and runs single-threaded, which is also what parallel
        workers (torch DataLoader workers) want."""
        self.pools.clear()
        self.pool_lock = threading.Lock()
        self.plan_lock = threading.RLock()
        self.local.__dict__.clear()
        self.threads = 1


#: The one state object of the FFT package.
STATE = FFTState()


def set_fft_engine(name: str = "auto", threads: int | None = None) -> None:
    """Choose the CPU FFT engine (``"auto"``, ``"pyfftw"`` or ``"scipy"``) and, optionally, the thread count.

    Drops the calling thread's cached plans (they belong to the previous engine or thread count).
    """
    if name not in ENGINE_CHOICES:
        raise ValueError(f"unknown FFT engine {name!r}; choose 'auto', 'pyfftw' or 'scipy'")
    if name == "pyfftw" and pyfftw is None:
        raise ImportError("FFT engine 'pyfftw' requested but pyfftw is not installed (pip install pyfftw)")
    STATE.engine = name
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        STATE.threads = int(threads)
    STATE.clear_caches()


def get_fft_engine() -> str:
    """The CPU engine in use (``"pyfftw"`` or ``"scipy"``; ``"auto"`` resolved)."""
    if STATE.engine == "auto":
        return "pyfftw" if pyfftw is not None else "scipy"
    return STATE.engine


def get_fft_threads() -> int:
    """Number of threads the CPU engines and the worker pool use (``OPTICS4F_FFT_THREADS``, default: all cores)."""
    return STATE.threads


def clear_fft_cache() -> None:
    """Drop this thread's cached plans and work buffers (frees their memory; wisdom stays on disk)."""
    STATE.clear_caches()
