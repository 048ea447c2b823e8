"""The wanted Fourier mask at the SLM pixel centres, as a linear operator with its adjoint.

Pixel j (of N) of the panel has its centre at Fourier sample
s_j = (j - N//2) k + M//2 (k = SLM pitch / Fourier pitch, any positive ratio;
the geometry of :mod:`optics4f.devices.render`, docs/sampling.md). Pixels whose
centre lies off the grid (outside [-1/2, M - 1/2)) show 0.

* Integer k: the centres are samples, and sampling is a strided slice.
* Any other k: the mask is the centred DFT of a kernel on the grid, so its value
  between samples is the kernel's Fourier series,
  H(s) = sum_n h_n exp(-2 pi i (s - M//2)(n - M//2) / M), h = centred IDFT(H) / M
  per axis (:func:`optics4f.kernels.mask_at`, which sums over the kernel's
  support only: the terms it drops are below 1e-13 of the peak).

:meth:`SLMSampler.adjoint` is the exact adjoint of that linear map (the full
sum): the torch bridge's backward for a learnable complex SLM. A dot-product
test proves it (tests/test_stages.py).
"""
from __future__ import annotations

import numpy as np

from ..backend import get_xp
from ..devices.render import is_integer_ratio
from ..kernels import mask_at
from ..lens import centered_dft
from ..typing import Array, Shape2

__all__ = ["SLMSampler", "pixel_centres"]


def pixel_centres(n: int, k: float, m: int) -> np.ndarray:
    """Fourier-sample positions (float64) of the centres of ``n`` panel pixels of ``k`` samples on ``m``."""
    return (np.arange(n) - n // 2) * float(k) + m // 2


class SLMSampler:
    """Linear operator: Fourier mask (..., My, Mx) -> its values at the SLM pixel centres (..., Ny, Nx).

    Parameters
    ----------
    resolution : (Ny, Nx)
        SLM pixels.
    factor : (ky, kx)
        Fourier samples per SLM pixel (SLM pitch / Fourier pitch), any positive numbers.
    mask_shape : (My, Mx)
        Fourier-grid samples.
    """

    def __init__(self, resolution: Shape2, factor: float | tuple[float, float], mask_shape: Shape2) -> None:
        self.resolution = tuple(int(n) for n in resolution)
        self.factor = tuple(np.broadcast_to(np.asarray(factor, dtype=object), (2,)))
        self.mask_shape = tuple(int(m) for m in mask_shape)
        self.integer = is_integer_ratio(self.factor)
        self._centres = [pixel_centres(n, k, m) for n, k, m in zip(self.resolution, self.factor, self.mask_shape)]
        valid = [(s >= -0.5) & (s < m - 0.5) for s, m in zip(self._centres, self.mask_shape)]
        self._pixels = [np.nonzero(v)[0] for v in valid]  # panel pixels whose centre is on the grid
        self.empty = any(p.size == 0 for p in self._pixels)
        self._phasors = {}

    def _panel_window(self):
        (jy, jx) = self._pixels
        return slice(int(jy[0]), int(jy[-1]) + 1), slice(int(jx[0]), int(jx[-1]) + 1)

    def _grid_window(self):
        """Strided slices of the grid samples under the pixel centres (integer ratios)."""
        out = []
        for s, j, k in zip(self._centres, self._pixels, self.factor):
            i = np.rint(s[j]).astype(np.int64)
            out.append(slice(int(i[0]), int(i[-1]) + 1, int(k)))
        return tuple(out)

    def apply(self, mask: Array) -> Array:
        """Values (..., Ny, Nx), complex128, of ``mask`` (..., My, Mx) at the pixel centres."""
        xp = get_xp(mask)
        out = xp.zeros(mask.shape[:-2] + self.resolution, dtype=np.complex128)
        if self.empty:
            return out
        wy, wx = self._panel_window()
        if self.integer:
            gy, gx = self._grid_window()
            out[..., wy, wx] = mask[..., gy, gx]
        else:
            (jy, jx), (sy, sx) = self._pixels, self._centres
            out[..., wy, wx] = mask_at(mask, sy[jy], sx[jx])
        return out

    def _phasor(self, axis: int, xp):
        """(pixels on the grid, M) matrix exp(-2 pi i (s - M//2)(n - M//2) / M) / M of one axis."""
        key = (axis, id(xp))
        e = self._phasors.get(key)
        if e is None:
            m = self.mask_shape[axis]
            s = self._centres[axis][self._pixels[axis]] - m // 2
            n = np.arange(m) - m // 2
            e = xp.asarray(np.exp(-2j * np.pi * s[:, None] * n[None, :] / m) / m)
            self._phasors[key] = e
        return e

    def adjoint(self, values: Array) -> Array:
        """Adjoint (..., My, Mx), complex128, of :meth:`apply` for pixel values (..., Ny, Nx)."""
        xp = get_xp(values)
        out = xp.zeros(values.shape[:-2] + self.mask_shape, dtype=np.complex128)
        if self.empty:
            return out
        wy, wx = self._panel_window()
        g = values[..., wy, wx].astype(np.complex128)
        if self.integer:
            gy, gx = self._grid_window()
            out[..., gy, gx] = g
            return out
        # apply = window o (Ey @ h @ Ex^T) with h = centred IDFT(H) (1/M folded into E); the adjoint of the
        # unnormalised centred IDFT is the centred DFT.
        ey, ex = self._phasor(0, xp), self._phasor(1, xp)
        return centered_dft(xp.conj(ey).T @ g @ xp.conj(ex))
