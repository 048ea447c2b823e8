"""Shared helpers of the benchmark scripts: robust timings, traced peak memory, the FFT floor, JSON.

Timings on a shared machine are noisy, so every figure is a median over
repeats, and the candidates of one comparison are timed *interleaved* (one
call of each per round) so that a burst of load from elsewhere hits all of
them alike. Performance is reported as a ratio to a floor measured in the
same run (DESIGN.md): one unnormalised FFT + inverse FFT of a given shape
with the fastest engine available here.
"""
from __future__ import annotations

import gc
import json
import os
import platform
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from optics4f import fft as _fft

__all__ = ["interleaved_medians", "repeats_for", "traced_peak_bytes", "floor_pairs", "fft_floor", "field_bytes",
           "write_json", "machine_summary"]


def interleaved_medians(fns: dict, repeats: int, warmup: int = 1) -> dict:
    """Median wall time (s) of each zero-argument callable in ``fns``, timed round-robin.

    Each callable runs ``warmup`` times first (plans, caches, first-touch page faults), then
    ``repeats`` rounds of one call each, in the order given. The garbage collector is paused
    while timing so that a collection of unrelated objects does not land in one sample.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in fns}
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - t0)
    finally:
        if was_enabled:
            gc.enable()
    return {name: float(np.median(s)) for name, s in samples.items()}


def repeats_for(seconds_per_call: float, budget_s: float, lo: int = 3, hi: int = 31) -> int:
    """Number of repeats that fits ``budget_s`` seconds, clipped to [lo, hi] and made odd."""
    n = int(budget_s / max(seconds_per_call, 1e-6))
    n = min(max(n, lo), hi)
    return n if n % 2 else n + 1


def traced_peak_bytes(fn) -> int:
    """Peak bytes allocated (and traced) while ``fn()`` runs, above what was allocated before.

    NumPy registers its data allocations with :mod:`tracemalloc`, and pyfftw's aligned buffers
    are NumPy arrays, so array temporaries are counted; memory FFTW allocates internally for its
    plans is not. Call ``fn`` once before (warm) to measure the steady state of a hot path.
    """
    gc.collect()
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
        del result  # the output counts: the caller holds it after the call
    finally:
        if not tracing:
            tracemalloc.stop()
    return max(0, peak - base)


def field_bytes(shape, dtype) -> int:
    """Bytes of one array of ``shape`` and ``dtype`` (the unit of the memory figures)."""
    return int(np.prod(shape)) * np.dtype(dtype).itemsize


def floor_pairs(shape, dtype) -> dict:
    """One zero-argument callable per CPU FFT engine: an unnormalised FFT + inverse FFT of ``shape``.

    Engines are those of :mod:`optics4f.fft` (pyfftw: ``FFTW_MEASURE`` plans, in place on an
    aligned buffer; scipy: ``scipy.fft`` with ``workers``), both with the library's thread count.
    Plans are made here, so time the callables afterwards. The buffers hold zeros: FFT time does
    not depend on the data, and repeated unnormalised pairs would otherwise overflow complex64.
    """
    pairs = {}
    for engine in _fft.available_engines():
        plan = _fft.FFTPlan(shape, dtype, np, engine)
        plan.buffer[...] = 0  # FFTW_MEASURE planning leaves arbitrary values behind

        def run(plan=plan):
            plan.backward(plan.forward(plan.buffer))

        pairs[engine] = run
    return pairs


def fft_floor(shape, dtype, repeats: int = 7) -> tuple:
    """Fastest (median seconds, engine) of the :func:`floor_pairs` of ``shape`` and ``dtype``."""
    times = interleaved_medians(floor_pairs(shape, dtype), repeats)
    best = min(times, key=times.get)
    return times[best], best


def write_json(path, records) -> None:
    """Write ``records`` (JSON-serialisable) to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(records, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def machine_summary() -> str:
    """One line naming the machine and FFT setup the figures were measured with."""
    try:
        import pyfftw  # noqa: F401
        fftw = f"pyfftw {pyfftw.__version__}"
    except Exception:
        fftw = "no pyfftw"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {load:.1f}; "
            f"numpy {np.__version__}, {fftw}; optics4f FFT engine {_fft.get_fft_engine()} with "
            f"{_fft.get_fft_threads()} threads")
