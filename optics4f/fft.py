"""FFT engine: cached in-place plans over the last two axes.

The FFT dominates every optical pass, so hot paths ask :func:`get_plan` for a
plan bound to a persistent, aligned work buffer and transform in place
(fresh output arrays page-fault on these machines; see docs/architecture.md#conventions).

Engines (CPU): ``"pyfftw"`` (FFTW with ``FFTW_MEASURE`` plans and wisdom kept
on disk; fastest measured here) and ``"scipy"`` (``scipy.fft`` with all
cores; no planning cost). ``"auto"`` picks pyfftw when it is installed. CuPy
arrays always use cuFFT. Choose with :func:`set_fft_engine` or the
``OPTICS4F_FFT_ENGINE`` environment variable.

A forked child process (e.g. a torch DataLoader worker) runs the CPU engines single-threaded:
FFTW's threads do not survive fork, and a threaded plan there would wait forever.

Both transforms are unnormalised (forward: sum e^{-2 pi i k n / N};
backward: sum e^{+2 pi i k n / N}, no 1/N): callers fold scale factors into
their transfer functions, which saves a pass over the data.
"""
from __future__ import annotations

import os
import pickle
import threading
import itertools
import weakref
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .backend import get_xp, is_cupy
from .padding import center_offsets

__all__ = ["get_plan", "set_fft_engine", "get_fft_engine", "fft2", "ifft2", "FFTPlan", "available_engines",
           "PaddedFilter", "get_padded_filter", "clear_fft_cache", "get_fft_threads", "forget_wisdom", "planning",
           "map_on_pool"]


def _import_pyfftw():
    """pyfftw, its OpenMP threads set to sleep when idle unless the user chose OMP_WAIT_POLICY.

    pyfftw ships its own libgomp, which reads OMP_WAIT_POLICY once, when it loads with pyfftw. Left
    active, FFTW's threads spin for milliseconds after each multi-threaded transform and starve the
    pool threads that run the next step (measured on 2 cores: the pruned 4f pass of 64 images at
    256^2, 25 ms against 20 ms passive; a 4f pass followed by a camera readout, 48 ms against 35).
    The variable is set only while pyfftw loads, so other OpenMP runtimes (torch's) keep theirs."""
    chosen = "OMP_WAIT_POLICY" in os.environ
    if not chosen:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        import pyfftw  # type: ignore
    except Exception:  # pragma: no cover - pyfftw is a dependency, but keep a fallback
        return None
    finally:
        if not chosen:
            del os.environ["OMP_WAIT_POLICY"]
    return pyfftw


pyfftw = _import_pyfftw()

_engine = os.environ.get("OPTICS4F_FFT_ENGINE", "auto")
_threads = max(1, int(os.environ.get("OPTICS4F_FFT_THREADS", os.cpu_count() or 1)))
_local = threading.local()  # plans own buffers, so each thread keeps its own
_wisdom_lock = threading.Lock()
_plan_lock = threading.RLock()  # FFTW's planner is not thread-safe: every plan is made holding this
_wisdom_loaded = False
_merge_disk_wisdom = True  # False after forget_wisdom(): the file's plans are the ones to drop
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


def clear_fft_cache() -> None:
    """Drop this thread's cached plans and work buffers (frees their memory; wisdom stays on disk)."""
    _local.__dict__.clear()


def get_fft_threads() -> int:
    """Number of threads the CPU engines use (``OPTICS4F_FFT_THREADS``, default: all cores)."""
    return _threads


def get_fft_engine() -> str:
    """The CPU engine in use (``"pyfftw"`` or ``"scipy"``)."""
    if _engine == "auto":
        return "pyfftw" if pyfftw is not None else "scipy"
    return _engine


def _load_wisdom():
    global _wisdom_loaded
    with _plan_lock, _wisdom_lock:
        if _wisdom_loaded:
            return
        _wisdom_loaded = True
        try:
            pyfftw.import_wisdom(pickle.loads(_WISDOM_PATH.read_bytes()))
        except Exception:
            pass  # no cache yet, or a cache from another FFTW build: plan afresh


def _save_wisdom():
    # Merge what other processes saved since this one loaded: the file is rewritten whole, and
    # without the merge concurrent runs drop each other's plans (seen here: minutes of 8192^2
    # planning lost). Atomic write so that two processes never leave a torn file.
    with _plan_lock:  # wisdom is the planner's state
        if _merge_disk_wisdom:
            try:
                pyfftw.import_wisdom(pickle.loads(_WISDOM_PATH.read_bytes()))
            except Exception:
                pass  # no file yet, or one from another FFTW build
        try:
            from .io.atomic import atomic_write

            atomic_write(_WISDOM_PATH, lambda fh: pickle.dump(pyfftw.export_wisdom(), fh))
        except OSError:
            pass  # a read-only home only costs planning time


def forget_wisdom() -> None:
    """Forget FFTW's accumulated plans (its wisdom) and this thread's cached plans; plan afresh.

    ``FFTW_MEASURE`` picks algorithms by timing them, so plans made while the machine was busy
    can be slow (measured here: a wisdom column plan 2x slower than the same one planned again).
    The cache file (``~/.cache/optics4f/fftw_wisdom.pkl``) is not read again in this process and
    is overwritten with the new plans as they are made.
    """
    global _wisdom_loaded, _merge_disk_wisdom
    if pyfftw is not None:
        with _plan_lock, _wisdom_lock:
            pyfftw.forget_wisdom()
            _wisdom_loaded = True
            _merge_disk_wisdom = False
    _local.__dict__.clear()


def _save_wisdom_if_changed(before):
    with _plan_lock:
        if pyfftw.export_wisdom() != before:
            _save_wisdom()


@contextmanager
def planning():
    """Context for making FFTW plans: loads the wisdom cache, holds the plan lock (FFTW's planner
    is not thread-safe) and saves the cache if the plans made inside added wisdom."""
    _load_wisdom()
    with _plan_lock:
        before = pyfftw.export_wisdom()
        yield
        _save_wisdom_if_changed(before)


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
            self.buffer = pyfftw.empty_aligned(self.shape, dtype=self.dtype)
            self.buffer[...] = 0
            flags = ("FFTW_MEASURE", "FFTW_DESTROY_INPUT")
            with planning():  # FFTW_MEASURE overwrites the buffer while planning, which is fine here.
                self._fw = pyfftw.FFTW(self.buffer, self.buffer, axes=(-2, -1), direction="FFTW_FORWARD",
                                       threads=_threads, flags=flags)
                self._bw = pyfftw.FFTW(self.buffer, self.buffer, axes=(-2, -1), direction="FFTW_BACKWARD",
                                       threads=_threads, flags=flags, normalise_idft=False)
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


# -- zero-padded filtering: crop(T2(h * T1(pad(u)))) ------------------------------------------------
#
# Both the angular spectrum method (T1 forward, T2 backward) and the 4f pass (T1 = T2) transform a
# field that is zero outside its centred (ny, nx) window and keep only that window of the result.
# Done as two full 2-D FFTs, a quarter of the 1-D transforms at pad 2 act on zeros or produce
# samples that are thrown away. With FFTW the 2-D transforms are split into 1-D passes:
#
#   columns A[:, cols] (in place, only the nx data columns)
#   per block of rows: rows A -> B (out of place), B *= h, rows of B (in place)
#   columns B[:, cols] (in place, only the kept columns)
#
# A is zero outside its data columns at all times (only those columns are ever written), so a
# call zeroes just the top and bottom of the data columns instead of a whole padded field. The
# row pass runs block by block (blocks that stay in a core's cache, shared out to the FFT
# threads), which fuses the multiply into it instead of streaming B through memory three times
# (measured here: 10-25% off a whole ASM call at N = 512..1024). All plans are forward; see
# PaddedFilter for how backward transforms reuse them.

_BLOCK_BYTES = 1 << 19  # bytes of rows per block: 512 KiB was best of 256 KiB..2 MiB (1 MiB L2 per core)
_pools: dict = {}
_pool_lock = threading.Lock()


def _pool(workers: int):
    with _pool_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="optics4f-fft")
        return pool


def map_on_pool(work, indices, dynamic: bool = False) -> list:
    """Run ``work(iterable of indices)`` on the FFT threads; returns the workers' results.

    Static (default): ``indices`` (a range) dealt round-robin, the same split every run, so
    reductions add up in a fixed order. ``dynamic``: each worker takes the next index when it
    is free, which keeps the cores busy when other threads (torch's spinning OpenMP workers)
    slow one down; for work whose result does not depend on which worker does an index. Runs
    inline with one thread or one index, and inside a pool thread (never waits on its own pool).
    """
    workers = min(_threads, len(indices))
    if workers <= 1 or threading.current_thread().name.startswith("optics4f-fft"):
        return [work(indices)]
    if dynamic:
        counter = itertools.count()  # next() on it is atomic under the GIL

        def claim():
            while (k := next(counter)) < len(indices):
                yield indices[k]

        shares = [claim() for _ in range(workers)]
    else:
        shares = [indices[t::workers] for t in range(workers)]
    return list(_pool(workers).map(work, shares))


def _after_fork_in_child():
    # FFTW's threads do not survive fork: in a forked child (e.g. a torch DataLoader worker) any
    # multi-threaded plan, cached or new, waits forever (measured here). So the child drops its
    # plans and pools and runs single-threaded, which is also what parallel workers want.
    global _pool_lock, _plan_lock, _threads
    _pools.clear()
    _pool_lock = threading.Lock()
    _plan_lock = threading.RLock()
    _local.__dict__.clear()
    _threads = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _WorkPair:
    """The two persistent, aligned padded buffers shared by the filters of one shape and dtype."""

    __slots__ = ("a", "b", "__weakref__")

    def __init__(self, shape, dtype):
        self.a = pyfftw.zeros_aligned(shape, dtype=dtype)
        self.b = pyfftw.zeros_aligned(shape, dtype=dtype)


class PaddedFilter:
    """``crop(T2(h * T1(pad(u))))`` over the last two axes, without transforming the padding.

    ``pad`` places ``u`` (..., ny, nx) centred in zeros of the padded shape (My, Mx) (pixel n//2
    on pixel M//2, as :func:`optics4f.padding.pad_center`), ``crop`` takes the same centred
    window back, and T1, T2 are unnormalised 2-D DFTs, each ``"forward"`` (sum e^{-2 pi i k n/M})
    or ``"backward"`` (sum e^{+2 pi i k n/M}, no 1/M). ``h`` (broadcastable to (..., My, Mx),
    unshifted order) multiplies the spectrum in place; a scalar ``scale`` instead multiplies the
    cropped output. The result is a new array.

    With the pyfftw engine and padding along x, the column passes run over the nx data columns
    only, which at pad 2 is 3/4 of the work of two full 2-D FFTs (the transforms are exact, not
    approximated). Only forward FFTW plans are made: a backward transform is computed as
    conj(F(conj(.))), with the conjugations folded into the copies and the cache-resident row
    blocks, so every direction pair shares one set of plans (half the planning, and one plan
    quality for the ASM and the 4f pass). Otherwise (scipy engine, CuPy, no padding) it runs
    the plain two-FFT sequence on the cached :func:`get_plan` buffer. Use
    :func:`get_padded_filter` to get a cached instance.
    """

    def __init__(self, shape, inner, dtype, first="forward", second="backward", like=None):
        for name, d in (("first", first), ("second", second)):
            if d not in ("forward", "backward"):
                raise ValueError(f"{name} must be 'forward' or 'backward', got {d!r}")
        self.shape = tuple(shape)
        self.inner = tuple(inner)
        self.dtype = np.dtype(dtype)
        self.first, self.second = first, second
        self.engine = "cupy" if like is not None and is_cupy(like) else get_fft_engine()
        if self.inner[0] > self.shape[-2] or self.inner[1] > self.shape[-1]:
            raise ValueError(f"inner shape {self.inner} is larger than the padded shape {self.shape[-2:]}")
        self.offsets = center_offsets(self.inner, self.shape[-2:])
        self.pruned = self.engine == "pyfftw" and self.inner[1] < self.shape[-1]
        if self.pruned:
            self._plan_fftw()
        else:
            self._plan = get_plan(self.shape, self.dtype, like=like)

    def _plan_fftw(self):
        with planning():
            self._plan_fftw_locked()

    def _plan_fftw_locked(self):
        works = _local.__dict__.setdefault("padded_work", weakref.WeakValueDictionary())
        key = (self.shape, self.inner, self.dtype.str)
        self._work = works.get(key)
        if self._work is None:
            self._work = works[key] = _WorkPair(self.shape, self.dtype)
        a, b = self._work.a, self._work.b
        ox, nx = self.offsets[1], self.inner[1]
        # B(y) = conj(F(conj y)): conjugate the input for a backward first transform, the output for
        # a backward second one, and in between as _rows says. One set of forward plans serves all.
        self._conj_in, self._conj_out = self.first == "backward", self.second == "backward"
        inplace = ("FFTW_MEASURE", "FFTW_DESTROY_INPUT")

        def plan(src, dst, axis, flags, threads=_threads):
            return pyfftw.FFTW(src, dst, axes=(axis,), direction="FFTW_FORWARD", threads=threads, flags=flags)

        cols_a, cols_b = a[..., :, ox:ox + nx], b[..., :, ox:ox + nx]
        self._cols1 = plan(cols_a, cols_a, -2, inplace).execute
        self._cols2 = plan(cols_b, cols_b, -2, inplace).execute
        my, mx = self.shape[-2:]
        rows = max(1, _BLOCK_BYTES // (mx * self.dtype.itemsize))
        self._blocks = []
        for idx in np.ndindex(*self.shape[:-2]):
            for r0 in range(0, my, rows):
                sl = idx + (slice(r0, min(r0 + rows, my)),)
                # Out of place, and FFTW must not scribble on A: its zero columns make the pruning exact.
                first = plan(a[sl], b[sl], -1, ("FFTW_MEASURE",), threads=1)
                second = plan(b[sl], b[sl], -1, inplace, threads=1)
                self._blocks.append((sl, first.execute, second.execute))
        self._workers = min(_threads, len(self._blocks))
        self._shares = [self._blocks[t::self._workers] for t in range(self._workers)]
        a[...] = 0  # FFTW_MEASURE planning overwrote the buffers: restore the zero invariant of A

    def _rows(self, h):
        # Each block: X = F(rows); y = h * T1 (T1 = X or conj X); feed conj(y) to F if T2 is backward.
        b = self._work.b
        hb = None if h is None else np.broadcast_to(h, b.shape)
        pre, post = self._conj_in, self._conj_out
        if hb is None:
            pre, post = pre != post, False  # conj(conj X) = X

        def run(blocks):
            for sl, first, second in blocks:
                first()
                if pre or post or hb is not None:
                    blk = b[sl]
                    if pre:
                        np.conjugate(blk, out=blk)
                    if hb is not None:
                        np.multiply(blk, hb[sl], out=blk)
                    if post:
                        np.conjugate(blk, out=blk)
                second()

        if self._workers == 1:
            run(self._blocks)
        else:  # pyfftw and NumPy release the GIL, so the workers run in parallel
            for _ in _pool(self._workers).map(run, self._shares):
                pass

    def __call__(self, u, h=None, scale=None):
        """Filtered, cropped field (..., ny, nx) of ``u`` (broadcastable to (..., ny, nx)); a new array."""
        out = self._pruned(u, h) if self.pruned else self._plain(u, h)
        if scale is not None:
            out *= self.dtype.type(scale)
        return out

    def _pruned(self, u, h):
        (oy, ox), (ny, nx) = self.offsets, self.inner
        cols = self._work.a[..., :, ox:ox + nx]
        cols[..., :oy, :] = 0  # the in-place column pass of the previous call left data here
        cols[..., oy + ny:, :] = 0
        if self._conj_in:
            np.conjugate(u, out=cols[..., oy:oy + ny, :])
        else:
            cols[..., oy:oy + ny, :] = u
        self._cols1()
        self._rows(h)
        self._cols2()
        out = self._work.b[..., oy:oy + ny, ox:ox + nx]
        return np.conjugate(out) if self._conj_out else out.copy()

    def _plain(self, u, h):
        (oy, ox), (ny, nx) = self.offsets, self.inner
        plan = self._plan
        b = plan.buffer
        my, mx = self.shape[-2:]
        if (my, mx) != (ny, nx):  # zero only the border; the window is overwritten below
            b[..., :oy, :] = 0
            b[..., oy + ny:, :] = 0
            b[..., oy:oy + ny, :ox] = 0
            b[..., oy:oy + ny, ox + nx:] = 0
        b[..., oy:oy + ny, ox:ox + nx] = u
        b = plan.forward(b) if self.first == "forward" else plan.backward(b)
        if h is not None:
            b *= h
        b = plan.forward(b) if self.second == "forward" else plan.backward(b)
        return b[..., oy:oy + ny, ox:ox + nx].copy()


def get_padded_filter(shape, inner, dtype, first="forward", second="backward", like=None) -> PaddedFilter:
    """Cached :class:`PaddedFilter` for padded ``shape`` (..., My, Mx) and data window ``inner`` (ny, nx).

    ``like`` selects the backend as in :func:`get_plan`. Filters of one shape and dtype share their
    work buffers, so the result of a call is only valid until the next call (it is returned as a copy).
    """
    cupy_backend = like is not None and is_cupy(like)
    engine = "cupy" if cupy_backend else get_fft_engine()
    dev = int(like.device.id) if cupy_backend else -1
    key = (tuple(shape), tuple(inner), np.dtype(dtype).str, first, second, engine, dev)
    cache = _local.__dict__.setdefault("padded_filters", {})
    filt = cache.get(key)
    if filt is None:
        filt = PaddedFilter(shape, inner, dtype, first, second, like=like)
        if len(cache) > 32:  # bound memory held by work buffers
            cache.pop(next(iter(cache)))
        cache[key] = filt
    return filt
