"""Zero-padded filtering, crop(T2(h * T1(pad(u)))), without transforming the padding.

Both the angular spectrum method (T1 forward, T2 backward) and the 4f pass (T1 = T2) transform a
field that is zero outside its centred (ny, nx) window and keep only that window of the result.
Done as two full 2-D FFTs, a quarter of the 1-D transforms at pad 2 act on zeros or produce
samples that are thrown away. With FFTW the 2-D transforms are split into 1-D passes:

  columns A[:, cols] (in place, only the nx data columns)
  per block of rows: rows A -> B (out of place), B *= h, rows of B (in place)
  columns B[:, cols] (in place, only the kept columns)

A is zero outside its data columns at all times (only those columns are ever written), so a
call zeroes just the top and bottom of the data columns instead of a whole padded field. The
row pass runs block by block (blocks of :data:`BLOCK_BYTES` that stay in a core's cache, shared
out to the worker pool), which fuses the multiply into it instead of streaming B through memory
three times. All plans are forward; see :class:`PaddedFilter` for how backward transforms reuse
them, and docs/fft.md#padded-filter for the measurements behind the block size.
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from ..backend import is_cupy
from ..padding import center_offsets
from .engines import pyfftw
from .plans import MAX_CACHED, PLAN_CLASSES, engine_for, get_plan
from .pool import worker_pool
from .state import STATE, get_fft_engine
from .wisdom import planning

__all__ = ["BLOCK_BYTES", "PaddedFilter", "fill_padded", "get_padded_filter"]

#: Bytes of rows (or of whole fields) per cache-resident block of the pruned passes
#: (about half a core's L2 cache; docs/fft.md#block-size).
BLOCK_BYTES = 1 << 19

DIRECTIONS = ("forward", "backward")


def fill_padded(buf: Any, u: Any) -> Any:
    """Write ``u`` (..., ny, nx) centred into ``buf`` (..., My, Mx) and zero only the border around it.

    Centred as :func:`optics4f.padding.pad_center` (pixel n//2 on pixel M//2). Returns ``buf``.
    """
    ny, nx = u.shape[-2:]
    my, mx = buf.shape[-2:]
    oy, ox = center_offsets((ny, nx), (my, mx))
    if (my, mx) != (ny, nx):
        buf[..., :oy, :] = 0
        buf[..., oy + ny:, :] = 0
        buf[..., oy:oy + ny, :ox] = 0
        buf[..., oy:oy + ny, ox + nx:] = 0
    buf[..., oy:oy + ny, ox:ox + nx] = u
    return buf


class _WorkPair:
    """The two persistent, aligned padded buffers shared by the filters of one shape and dtype."""

    __slots__ = ("a", "b", "__weakref__")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
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

    Parameters
    ----------
    shape : tuple of int
        Padded shape (..., My, Mx).
    inner : tuple of int
        Data window (ny, nx), at most (My, Mx).
    dtype : complex dtype
    first, second : {"forward", "backward"}
        Directions of T1 and T2.
    like : array, optional
        Selects the backend as in :func:`get_plan`.
    """

    def __init__(self, shape: tuple[int, ...], inner: tuple[int, int], dtype: Any, first: str = "forward",
                 second: str = "backward", like: Any = None) -> None:
        for name, d in (("first", first), ("second", second)):
            if d not in DIRECTIONS:
                raise ValueError(f"{name} must be 'forward' or 'backward', got {d!r}")
        self.shape = tuple(shape)
        self.inner = tuple(inner)
        self.dtype = np.dtype(dtype)
        self.first, self.second = first, second
        self.engine = engine_for(like)
        if self.inner[0] > self.shape[-2] or self.inner[1] > self.shape[-1]:
            raise ValueError(f"inner shape {self.inner} is larger than the padded shape {self.shape[-2:]}")
        self.offsets = center_offsets(self.inner, self.shape[-2:])
        self.pruned = PLAN_CLASSES[self.engine].prunes and self.inner[1] < self.shape[-1]
        if self.pruned:
            with planning():
                self._plan_fftw()
        else:
            self._plan = get_plan(self.shape, self.dtype, like=like)

    def _plan_fftw(self) -> None:
        works = STATE.local.__dict__.setdefault("padded_work", weakref.WeakValueDictionary())
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

        def plan(src, dst, axis, flags, threads=STATE.threads):
            return pyfftw.FFTW(src, dst, axes=(axis,), direction="FFTW_FORWARD", threads=threads, flags=flags)

        cols_a, cols_b = a[..., :, ox:ox + nx], b[..., :, ox:ox + nx]
        self._cols1 = plan(cols_a, cols_a, -2, inplace).execute
        self._cols2 = plan(cols_b, cols_b, -2, inplace).execute
        my, mx = self.shape[-2:]
        rows = max(1, BLOCK_BYTES // (mx * self.dtype.itemsize))
        self._blocks = []
        for idx in np.ndindex(*self.shape[:-2]):
            for r0 in range(0, my, rows):
                sl = idx + (slice(r0, min(r0 + rows, my)),)
                # Out of place, and FFTW must not scribble on A: its zero columns make the pruning exact.
                first = plan(a[sl], b[sl], -1, ("FFTW_MEASURE",), threads=1)
                second = plan(b[sl], b[sl], -1, inplace, threads=1)
                self._blocks.append((sl, first.execute, second.execute))
        self._workers = min(STATE.threads, len(self._blocks))
        self._shares = [self._blocks[t::self._workers] for t in range(self._workers)]
        a[...] = 0  # FFTW_MEASURE planning overwrote the buffers: restore the zero invariant of A

    def _rows(self, h: Any) -> None:
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
            for _ in worker_pool(self._workers).map(run, self._shares):
                pass

    def __call__(self, u: Any, h: Any = None, scale: complex | None = None) -> Any:
        """Filtered, cropped field (..., ny, nx) of ``u`` (broadcastable to (..., ny, nx)); a new array.

        ``h``: spectrum multiplier broadcastable to (..., My, Mx), unshifted order (None: no
        multiply); ``scale``: scalar factor applied to the output (None: none).
        """
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


def get_padded_filter(shape: tuple[int, ...], inner: tuple[int, int], dtype: Any, first: str = "forward",
                      second: str = "backward", like: Any = None) -> PaddedFilter:
    """Cached :class:`PaddedFilter` for padded ``shape`` (..., My, Mx) and data window ``inner`` (ny, nx).

    ``like`` selects the backend as in :func:`get_plan`. Filters of one shape and dtype share their
    work buffers, so the result of a call is only valid until the next call (it is returned as a copy).
    """
    cupy_backend = like is not None and is_cupy(like)
    engine = "cupy" if cupy_backend else get_fft_engine()
    dev = int(like.device.id) if cupy_backend else -1
    key = (tuple(shape), tuple(inner), np.dtype(dtype).str, first, second, engine, dev)
    cache = STATE.local.__dict__.setdefault("padded_filters", {})
    filt = cache.get(key)
    if filt is None:
        filt = PaddedFilter(shape, inner, dtype, first, second, like=like)
        if len(cache) > MAX_CACHED:
            cache.pop(next(iter(cache)))
        cache[key] = filt
    return filt
