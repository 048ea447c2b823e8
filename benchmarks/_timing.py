"""Shared helpers of the benchmark scripts: robust timings, traced peak memory, the FFT floor, JSON.

Timings on a shared machine are noisy, so every figure is a median over
repeats, and the candidates of one comparison are timed *interleaved* (one
call of each per round) so that a burst of load from elsewhere hits all of
them alike. Performance is reported as a ratio to a floor measured in the
same run (docs/architecture.md#conventions): one unnormalised FFT + inverse FFT of a given shape
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
           "write_json", "machine_summary", "cpu_model", "simd_level"]

# SIMD levels, best first, each with the names NumPy's __cpu_features__ may give it (NumPy 2.4 groups the
# x86 levels as X86_V4 / X86_V3 / X86_V2; older NumPy names the features themselves)
_SIMD_LEVELS = (("AVX-512", ("X86_V4", "AVX512_SKX", "AVX512F")), ("AVX2", ("X86_V3", "AVX2")), ("AVX", ("AVX",)),
                ("SSE4.2", ("X86_V2", "SSE42")), ("SSE2", ("SSE2",)), ("SVE", ("SVE",)), ("ASIMD", ("ASIMD",)),
                ("NEON", ("NEON",)), ("VSX", ("VSX",)))


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


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "cpu model", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def simd_level() -> str:
    """The widest SIMD level NumPy dispatches to here ("AVX-512", "AVX2", ...), plus the target numba compiles for.

    Vectorised NumPy ufuncs (float64 ``log`` among them on x86) and the numba kernels of the camera noise run
    at very different speeds with and without AVX-512, so benchmark figures name it. It follows
    ``NPY_DISABLE_CPU_FEATURES`` and ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``, which can emulate an older CPU.
    """
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    level = "baseline"
    for name, keys in _SIMD_LEVELS:
        key = next((k for k in keys if k in features), None)
        if key is not None and features[key]:
            level = name
            break
    try:
        from numba.core import config
        from llvmlite import binding

        target = config.CPU_NAME or binding.get_host_cpu_name()
        feats = config.CPU_FEATURES if config.CPU_FEATURES is not None else binding.get_host_cpu_features().flatten()
        wide = "AVX-512" if "+avx512f" in feats.split(",") else "no AVX-512"
        return f"{level} (NumPy), numba target {target} ({wide})"
    except ImportError:
        return f"{level} (NumPy)"


def machine_summary() -> str:
    """One line naming the machine (CPU model, SIMD level) and FFT setup the figures were measured with."""
    try:
        import pyfftw  # noqa: F401
        fftw = f"pyfftw {pyfftw.__version__}"
    except Exception:
        fftw = "no pyfftw"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu_model()}, {os.cpu_count()} cores, SIMD {simd_level()}, load {load:.1f}; "
            f"numpy {np.__version__}, {fftw}; optics4f FFT engine {_fft.get_fft_engine()} with "
            f"{_fft.get_fft_threads()} threads")
