"""Multi-channel 4f convolution on arrays (NumPy or CuPy): the engine behind the spectral layers.

For input channels ``u[b, i]`` and Fourier-plane masks ``H[o, i]`` the layer
output is ``v[b, o] = sum_i FourF.apply(u[b, i], H[o, i])``: one optical pass
per (o, i) pair whose results the electronics sum (time multiplexing of the
input channels). Because the 4f system is linear, the sum can be taken in the
Fourier plane: ``v[b, o] = lens2(sum_i H[o, i] * lens1(u[b, i]))``, which needs
one lens-1 transform per input channel and one lens-2 transform per output
channel instead of one pair per (o, i). :class:`MultiChannel4f` computes
exactly that with the stages of :class:`optics4f.FourF`:

* even padded grids: the FourF fast path (two plain FFTs from the core's FFT
  plans, mask in unshifted order times ``FourF.scale``);
* odd padded grids: ``FourF.fourier_plane`` and ``FourF.from_fourier_plane``
  (the centred Fourier-lens model) and the lens adjoints;
* NumPy arrays with the pyfftw engine (even grids): the mixing and the lens-2
  transforms run cache-blocked with pruned column passes (:mod:`optics4f.fft.blocked`),
  and the backward never builds the (B, Cout) gradient spectra.

The adjoints (for the input and for the masks) use the conjugate stages in
reverse order; tests prove them against ``FourF.adjoint``/``FourF.mask_adjoint``.
This module does not import torch.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import get_xp
from ..fourf import FourF
from ..padding import crop_center, pad_center
from .blocked import Blocked4f, blocked_available
from .padded import fill_padded
from .plans import get_plan

__all__ = ["MultiChannel4f"]


class MultiChannel4f:
    """Channel-mixing wrapper of a :class:`~optics4f.FourF` (arrays ``(B, C, ny, nx)``).

    Parameters
    ----------
    op : FourF
        The 4f geometry; masks live on ``op.fourier_grid`` (shape ``op.padded_shape``, centred order).
    """

    def __init__(self, op: FourF) -> None:
        if not isinstance(op, FourF):
            raise TypeError(f"op must be an optics4f.FourF, got {type(op).__name__}")
        self.op = op
        self.dtype = op.dtype
        self.fast = all(m % 2 == 0 for m in op.padded_shape)
        # FFTW on NumPy arrays: the cache-blocked, pruned passes of optics4f.fft.blocked
        self._blocked = (Blocked4f(op.padded_shape, op.in_grid.shape, self.dtype)
                         if self.fast and tuple(op.in_grid.shape) == tuple(op.out_grid.shape) else None)

    def _use_blocked(self, a) -> bool:
        return self._blocked is not None and blocked_available(a)

    # -- checks --------------------------------------------------------------------------------
    def _check(self, u, masks, grid_shape, uname):
        if u.ndim != 4:
            raise ValueError(f"{uname} must have shape (batch, channels, ny, nx), got {tuple(u.shape)}")
        if masks.ndim != 4:
            raise ValueError(f"masks must have shape (out_channels, in_channels, My, Mx), got {tuple(masks.shape)}")
        if tuple(u.shape[-2:]) != tuple(grid_shape):
            raise ValueError(f"{uname} has spatial shape {tuple(u.shape[-2:])}, expected {tuple(grid_shape)}")
        if tuple(masks.shape[-2:]) != self.op.padded_shape:
            raise ValueError(
                f"masks have shape {tuple(masks.shape[-2:])}; the Fourier plane has {self.op.padded_shape} "
                f"samples at pitch {self.op.fourier_grid.pitch} m (centred order)"
            )
        for a, name in ((u, uname), (masks, "masks")):
            if np.dtype(a.dtype) != self.dtype:
                raise TypeError(f"{name} has dtype {a.dtype}; this engine works in {self.dtype}")

    # -- stages --------------------------------------------------------------------------------
    def prepare(self, masks: Any) -> Any:
        """Masks (Cout, Cin, My, Mx, centred order) in the order and scale the Fourier-plane stage multiplies by."""
        if not self.fast:
            return masks
        xp = get_xp(masks)
        return xp.fft.ifftshift(masks, axes=(-2, -1)) * self.dtype.type(self.op.scale)

    def _unprepare_adjoint(self, g):
        """Adjoint of :meth:`prepare` (fast path: fftshift times conj(scale))."""
        if not self.fast:
            return g
        xp = get_xp(g)
        return xp.fft.fftshift(g, axes=(-2, -1)) * self.dtype.type(np.conj(self.op.scale))

    def _lens1(self, u):
        """Input plane -> Fourier plane (a fresh array)."""
        if not self.fast:
            return self.op.fourier_plane(u)
        plan = get_plan(u.shape[:-2] + self.op.padded_shape, self.dtype, like=u)
        return plan.forward(fill_padded(plan.buffer, u)).copy()

    def _lens2(self, z, plan=None):
        """Fourier plane (after the mask) -> cropped output plane."""
        if not self.fast:
            return self.op.from_fourier_plane(z)
        return crop_center(plan.forward(z), self.op.in_grid.shape).copy()

    def _lens2_adjoint(self, g):
        if not self.fast:
            return self.op.lens2.adjoint(pad_center(g, self.op.padded_shape))
        plan = get_plan(g.shape[:-2] + self.op.padded_shape, self.dtype, like=g)
        return plan.backward(fill_padded(plan.buffer, g)).copy()

    @staticmethod
    def _mix(w, h, out, conj_h=False):
        """out[b, o] = sum_i h[o, i] * w[b, i] (conj(h) with ``conj_h``), written into ``out``."""
        xp = get_xp(w)
        hh = xp.conj(h) if conj_h else h
        xp.multiply(w[:, None, 0], hh[None, :, 0], out=out)
        for i in range(1, w.shape[1]):
            out += w[:, None, i] * hh[None, :, i]
        return out

    # -- public --------------------------------------------------------------------------------
    def apply(self, u: Any, masks: Any, keep_spectrum: bool = False) -> Any:
        """Output fields (B, Cout, ny, nx) of inputs ``u`` (B, Cin, ny, nx) through ``masks`` (Cout, Cin, My, Mx).

        With ``keep_spectrum`` also returns the Fourier-plane fields of the
        inputs (B, Cin, My, Mx, in the stage's order), which :meth:`mask_adjoint`
        needs.
        """
        xp = get_xp(u, masks)
        self._check(u, masks, self.op.in_grid.shape, "u")
        if u.shape[1] != masks.shape[1]:
            raise ValueError(f"u has {u.shape[1]} channels but masks expect {masks.shape[1]} input channels")
        hs = self.prepare(masks)
        if self._use_blocked(u):
            v, w = self._blocked.forward(u, hs)
            return (v, w) if keep_spectrum else v
        w = self._lens1(u)
        shape = (u.shape[0], masks.shape[0]) + self.op.padded_shape
        if self.fast:
            plan = get_plan(shape, self.dtype, like=u)
            z = self._mix(w, hs, plan.buffer)
            v = self._lens2(z, plan)
        else:
            v = self._lens2(self._mix(w, hs, xp.empty(shape, self.dtype)))
        return (v, w) if keep_spectrum else v

    def adjoint(self, g: Any, masks: Any) -> Any:
        """Adjoint with respect to the inputs: (B, Cin, ny, nx) from output gradients ``g`` (B, Cout, ny, nx)."""
        return self.backward(g, masks, need_masks=False)[0]

    def backward(self, g: Any, masks: Any, spectrum: Any = None, need_input: bool = True,
                 need_masks: bool = True) -> tuple[Any, Any]:
        """Both adjoints at once for output gradients ``g`` (B, Cout, ny, nx).

        Returns ``(gu, gmasks)``: :meth:`adjoint` of ``g`` (B, Cin, ny, nx) and
        :meth:`mask_adjoint` (Cout, Cin, My, Mx, centred order) with ``spectrum`` the
        inputs' Fourier-plane fields from ``apply(..., keep_spectrum=True)``; either is
        None when not asked for. On NumPy with FFTW this never builds the (B, Cout) padded
        gradient spectra (cache-blocked passes); otherwise it runs the stages one by one.
        """
        xp = get_xp(g, masks)
        self._check(g, masks, self.op.out_grid.shape, "g")
        if need_masks and spectrum is None:
            raise ValueError("the mask gradient needs spectrum=, from apply(..., keep_spectrum=True)")
        if self._use_blocked(g):
            gu, ghs = self._blocked.backward(g, spectrum, self.prepare(masks), need_input, need_masks)
            return gu, (self._unprepare_adjoint(ghs) if need_masks else None)
        gz = self._lens2_adjoint(g)
        gu = self.adjoint_from_fourier(gz, masks, xp) if need_input else None
        gm = self.mask_adjoint(spectrum, gz) if need_masks else None
        return gu, gm

    def adjoint_from_fourier(self, gz: Any, masks: Any, xp: Any = None) -> Any:
        """Input adjoint (B, Cin, ny, nx) given ``gz`` (B, Cout, My, Mx) = adjoint of lens 2 applied to the
        output gradients; ``masks`` (Cout, Cin, My, Mx), centred order."""
        xp = xp or get_xp(gz)
        # gw[b, i] = sum_o conj(hs[o, i]) gz[b, o]: the mix with the roles of o and i swapped.
        hs_t = xp.swapaxes(self.prepare(masks), 0, 1)
        shape = (gz.shape[0], masks.shape[1]) + self.op.padded_shape
        if self.fast:  # mix straight into the FFT buffer (gz is a copy, never that buffer)
            plan = get_plan(shape, self.dtype, like=gz)
            gw = self._mix(gz, hs_t, plan.buffer, conj_h=True)
            return crop_center(plan.backward(gw), self.op.in_grid.shape).copy()
        gw = self._mix(gz, hs_t, xp.empty(shape, self.dtype), conj_h=True)
        return crop_center(self.op.lens1.adjoint(gw), self.op.in_grid.shape).copy()

    def mask_adjoint(self, w: Any, gz: Any) -> Any:
        """Adjoint with respect to the masks (Cout, Cin, My, Mx), centred order.

        ``w`` are the inputs' Fourier-plane fields from ``apply(..., keep_spectrum=True)``;
        ``gz`` is the adjoint of lens 2 applied to the output gradients (:meth:`lens2_adjoint`).
        The batch axis is summed: the masks are shared by the batch.
        """
        xp = get_xp(w, gz)
        out = xp.empty((gz.shape[1], w.shape[1]) + self.op.padded_shape, self.dtype)
        wc = xp.conj(w)
        for i in range(w.shape[1]):
            out[:, i] = (wc[:, None, i] * gz).sum(axis=0)
        return self._unprepare_adjoint(out)

    def lens2_adjoint(self, g: Any) -> Any:
        """Adjoint of the lens-2 stage applied to output gradients ``g`` (B, Cout, ny, nx)."""
        return self._lens2_adjoint(g)
