"""The worker pool: threads that share out blocks of FFT and NumPy work (both release the GIL).

The padded filter's row blocks, the blocked multi-channel pass and the camera's noise sampling
(:mod:`optics4f.devices.detector`) run on it. Its size follows the FFT thread count
(:func:`optics4f.fft.get_fft_threads`). See docs/fft.md#pool.
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .state import STATE

__all__ = ["POOL_THREAD_PREFIX", "map_on_pool", "worker_pool"]

#: Name prefix of the pool's threads (work submitted from one of them runs inline).
POOL_THREAD_PREFIX = "optics4f-fft"


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """The shared pool of ``workers`` threads (made on first use, one per worker count)."""
    with STATE.pool_lock:
        pool = STATE.pools.get(workers)
        if pool is None:
            pool = STATE.pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix=POOL_THREAD_PREFIX)
        return pool


def map_on_pool(work: Callable[[Iterable[Any]], Any], indices: Sequence[Any], dynamic: bool = False) -> list:
    """Run ``work(iterable of indices)`` on the FFT threads; returns the workers' results (a list).

    Static (default): ``indices`` (a range) dealt round-robin, the same split every run, so
    reductions add up in a fixed order. ``dynamic``: each worker takes the next index when it
    is free, which keeps the cores busy when other threads (torch's spinning OpenMP workers)
    slow one down; for work whose result does not depend on which worker does an index. Runs
    inline with one thread or one index, and inside a pool thread (never waits on its own pool).
    """
    workers = min(STATE.threads, len(indices))
    if workers <= 1 or threading.current_thread().name.startswith(POOL_THREAD_PREFIX):
        return [work(indices)]
    if dynamic:
        counter = itertools.count()  # next() on it is atomic under the GIL

        def claim() -> Iterator[Any]:
            while (k := next(counter)) < len(indices):
                yield indices[k]

        shares: list = [claim() for _ in range(workers)]
    else:
        shares = [indices[t::workers] for t in range(workers)]
    return list(worker_pool(workers).map(work, shares))
