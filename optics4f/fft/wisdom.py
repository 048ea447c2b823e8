"""FFTW wisdom (the planner's accumulated plans) kept on disk, and FFTW's safety across threads and fork.

``FFTW_MEASURE`` plans are chosen by timing candidate algorithms, which costs seconds for large
shapes; the results (wisdom) are saved to ``STATE.wisdom_path`` and loaded once per process.
FFTW's planner is not thread-safe: every plan is made inside :func:`planning`, which holds
``STATE.plan_lock``. A forked child resets the state (:meth:`FFTState.reset_in_forked_child`).
See docs/fft.md#wisdom.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager

from .engines import pyfftw
from .state import STATE

__all__ = ["forget_wisdom", "load_wisdom", "planning", "save_wisdom"]


def load_wisdom() -> None:
    """Import the wisdom file into FFTW, once per process (a missing or foreign file is ignored)."""
    with STATE.plan_lock, STATE.wisdom_lock:
        if STATE.wisdom_loaded:
            return
        STATE.wisdom_loaded = True
        try:
            pyfftw.import_wisdom(pickle.loads(STATE.wisdom_path.read_bytes()))
        except Exception:
            pass  # no cache yet, or a cache from another FFTW build: plan afresh


def save_wisdom() -> None:
    """Write FFTW's wisdom to ``STATE.wisdom_path``, merged with what the file holds now.

    The file is rewritten whole, so without the merge concurrent runs would drop each other's plans.
    The write is atomic, so two processes never leave a torn file; a read-only home is ignored (it
    only costs planning time). After :func:`forget_wisdom` the file's plans are not merged back.
    """
    with STATE.plan_lock:  # wisdom is the planner's state
        if STATE.merge_disk_wisdom:
            try:
                pyfftw.import_wisdom(pickle.loads(STATE.wisdom_path.read_bytes()))
            except Exception:
                pass  # no file yet, or one from another FFTW build
        try:
            from ..io.atomic import atomic_write

            atomic_write(STATE.wisdom_path, lambda fh: pickle.dump(pyfftw.export_wisdom(), fh))
        except OSError:
            pass  # a read-only home only costs planning time


def forget_wisdom() -> None:
    """Forget FFTW's accumulated plans (its wisdom) and this thread's cached plans; plan afresh.

    ``FFTW_MEASURE`` picks algorithms by timing them, so plans made while the machine was busy
    can be slow (docs/fft.md#wisdom). The cache file (``~/.cache/optics4f/fftw_wisdom.pkl``) is
    not read again in this process and is overwritten with the new plans as they are made.
    """
    if pyfftw is not None:
        with STATE.plan_lock, STATE.wisdom_lock:
            pyfftw.forget_wisdom()
            STATE.wisdom_loaded = True
            STATE.merge_disk_wisdom = False
    STATE.clear_caches()


@contextmanager
def planning() -> Iterator[None]:
    """Context for making FFTW plans: loads the wisdom cache, holds the plan lock (FFTW's planner
    is not thread-safe) and saves the cache if the plans made inside added wisdom."""
    load_wisdom()
    with STATE.plan_lock:
        before = pyfftw.export_wisdom()
        yield
        if pyfftw.export_wisdom() != before:
            save_wisdom()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=STATE.reset_in_forked_child)
