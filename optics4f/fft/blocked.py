"""Cache-blocked multi-channel 4f pass on FFTW: the CPU fast path of :class:`MultiChannel4f`.

The plain sequence (mix every (batch, output channel) spectrum into one big array, 2-D FFT it,
crop) streams ``B * Cout`` padded fields through memory three times and transforms samples that
the crop throws away. Here the work runs per batch image, on blocks of output channels small
enough to stay in a core's cache:

forward, per image:   pad u[b] -> FFT only the data columns -> FFT rows (= W[b], kept for the backward)
          per block:   mix sum_i H[o, i] W[b, i] -> FFT rows -> FFT only the kept columns -> crop
backward, per block:  pad g[b, o] -> IFFT only the data columns -> IFFT rows (= gz[b, o], in cache)
                      -> gW[b, i] += sum_o conj(H[o, i]) gz[b, o];  gH[o, i] += conj(W[b, i]) gz[b, o]
                      then per image: IFFT rows of gW[b] -> IFFT only the kept columns -> crop

The column passes skip the columns that are all zero (input side) or cropped away (output side):
at pad 2 that is a quarter of the 1-D transforms, and the transforms are exact. Batch images are
shared out to the FFT threads (pyfftw and NumPy release the GIL); each thread owns its buffers,
single-threaded plans and mask-gradient accumulator; no multi-threaded FFTW call is made, since
FFTW's OpenMP threads keep spinning after a call and starve the workers.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..padding import center_offsets
from . import padded as padded_filter
from .engines import pyfftw
from .pool import map_on_pool
from .state import get_fft_engine
from .wisdom import planning

__all__ = ["Blocked4f", "blocked_available"]


def blocked_available(a: Any) -> bool:
    """True when ``a`` is a NumPy array and the CPU engine is pyfftw (the only case this module serves)."""
    return isinstance(a, np.ndarray) and pyfftw is not None and get_fft_engine() == "pyfftw"


class _Workspace:
    """An aligned (n, My, Mx) buffer with in-place row and window-column plans, both directions.
    Made inside :func:`optics4f.fft.planning` (FFTW's planner is not thread-safe)."""

    def __init__(self, n, padded_shape, cols, dtype):
        self.buf = pyfftw.zeros_aligned((n,) + tuple(padded_shape), dtype=dtype)
        view = self.buf[:, :, cols]
        flags = ("FFTW_MEASURE", "FFTW_DESTROY_INPUT")

        def plan(a, axis, direction):
            return pyfftw.FFTW(a, a, axes=(axis,), direction=direction, threads=1, flags=flags).execute

        self.rows_f = plan(self.buf, -1, "FFTW_FORWARD")
        self.cols_f = plan(view, -2, "FFTW_FORWARD")
        self.rows_b = plan(self.buf, -1, "FFTW_BACKWARD")
        self.cols_b = plan(view, -2, "FFTW_BACKWARD")
        self.tmp = pyfftw.empty_aligned(self.buf.shape, dtype=dtype)


class Blocked4f:
    """Forward and backward of ``v[b, o] = crop(F(sum_i hs[o, i] * w[b, i]))``, ``w = F(pad(u))``
    (even padded grids).

    ``w`` (B, Cin, My, Mx) are the inputs' Fourier-plane fields (unshifted order), ``hs``
    (Cout, Cin, My, Mx) the prepared masks (unshifted, times the 4f scale), F the unnormalised
    forward DFT over the last two axes and ``crop`` the centred (ny, nx) window.
    """

    def __init__(self, padded_shape: tuple[int, int], inner_shape: tuple[int, int], dtype: Any) -> None:
        self.padded = tuple(padded_shape)
        self.inner = tuple(inner_shape)
        self.dtype = np.dtype(dtype)
        (self.oy, self.ox) = center_offsets(self.inner, self.padded)
        self._cols = slice(self.ox, self.ox + self.inner[1])
        self._rows = slice(self.oy, self.oy + self.inner[0])
        field = self.padded[0] * self.padded[1] * self.dtype.itemsize
        self._block = max(1, padded_filter.BLOCK_BYTES // field)  # output channels per cache-resident block
        self._spaces = threading.local()

    # -- workspaces ------------------------------------------------------------------------------
    def _space(self, role, n) -> _Workspace:
        spaces = self._spaces.__dict__
        ws = spaces.get((role, n))
        if ws is None:
            with planning():  # the workers plan at the same time on a first call
                ws = spaces[(role, n)] = _Workspace(n, self.padded, self._cols, self.dtype)
        return ws

    def _blocks(self, cout):
        return [(o0, min(o0 + self._block, cout)) for o0 in range(0, cout, self._block)]

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, u: np.ndarray, hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(v, w)``: cropped output fields (B, Cout, ny, nx) of the inputs ``u`` (B, Cin, ny, nx),
        and the inputs' Fourier-plane fields ``w`` = F(pad(u)) (B, Cin, My, Mx); new arrays.

        Lens 1 runs in the workers too (single-threaded plans, pruned: only the data columns are
        transformed along y): a multi-threaded FFTW call here would leave its OpenMP threads
        spinning on the cores the workers need (docs/fft.md#openmp-wait-policy).
        """
        batch, cin = u.shape[:2]
        cout = hs.shape[0]
        out = np.empty((batch, cout) + self.inner, self.dtype)
        w = np.empty((batch, cin) + self.padded, self.dtype)
        blocks = self._blocks(cout)
        rows, cols = self._rows, self._cols

        def work(images):
            lens1 = self._space("input", cin)
            for b in images:
                lens1.buf[...] = 0
                lens1.buf[:, rows, cols] = u[b]
                lens1.cols_f()  # only the data columns are nonzero
                lens1.rows_f()
                w[b] = lens1.buf
                for o0, o1 in blocks:
                    ws = self._space("main", o1 - o0)
                    buf, tmp = ws.buf, ws.tmp
                    np.multiply(hs[o0:o1, 0], w[b, 0], out=buf)
                    for i in range(1, cin):
                        np.multiply(hs[o0:o1, i], w[b, i], out=tmp)
                        buf += tmp
                    ws.rows_f()
                    ws.cols_f()  # only the columns the crop keeps
                    out[b, o0:o1] = buf[:, rows, cols]

        map_on_pool(work, range(batch), dynamic=True)  # per-image outputs: any order, same result
        return out, w

    # -- backward --------------------------------------------------------------------------------
    def backward(self, g: np.ndarray, w: np.ndarray | None, hs: np.ndarray, need_input: bool = True,
                 need_masks: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Gradients for ``g`` (B, Cout, ny, nx) of the cropped outputs.

        Returns ``(gw_cropped, ghs)``: the input adjoint crop(F^H(sum_o conj(hs[o, i]) gz[b, o]))
        (B, Cin, ny, nx), and the adjoint with respect to the prepared masks
        sum_b conj(w[b, i]) gz[b, o] (Cout, Cin, My, Mx), where gz = F^H(pad(g)); either is
        None when not needed. F^H is the unnormalised backward DFT.
        """
        batch, cout = g.shape[:2]
        cin = w.shape[1] if w is not None else hs.shape[1]
        blocks = self._blocks(cout)
        rows, cols = self._rows, self._cols
        hsc = np.conj(hs) if need_input else None
        wc = np.conj(w) if need_masks else None
        gu = np.empty((batch, cin) + self.inner, self.dtype) if need_input else None

        def work(images):
            acc = np.zeros((cout, cin) + self.padded, self.dtype) if need_masks else None
            gws = self._space("input", cin) if need_input else None
            for b in images:
                if need_input:
                    gws.buf[...] = 0
                for o0, o1 in blocks:
                    ws = self._space("main", o1 - o0)
                    buf, tmp = ws.buf, ws.tmp
                    buf[...] = 0  # the column pass reads whole columns, the row pass whole rows
                    buf[:, rows, cols] = g[b, o0:o1]
                    ws.cols_b()  # only the data columns are nonzero
                    ws.rows_b()
                    for i in range(cin):
                        if need_input:
                            np.multiply(hsc[o0:o1, i], buf, out=tmp)
                            gws.buf[i] += tmp.sum(axis=0)
                        if need_masks:
                            np.multiply(buf, wc[b, i], out=tmp)
                            acc[o0:o1, i] += tmp
                if need_input:
                    gws.rows_b()
                    gws.cols_b()
                    gu[b] = gws.buf[:, rows, cols]
            return acc

        accs = map_on_pool(work, range(batch))  # fixed split: reproducible gradient sums
        ghs = None
        if need_masks:
            ghs = accs[0]
            for a in accs[1:]:
                ghs += a
        return gu, ghs
