"""Shared machinery of transfer-function propagators: padding, caching, the hot loop."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..backend import DEFAULT_COMPLEX, get_xp, is_cupy
from ..fft import get_padded_filter
from ..grid import Grid, padded_size
from ..operator import LinearOperator
from ..typing import Array, DTypeLike, Pitch, Shape2

_CACHE: "OrderedDict" = OrderedDict()
_CACHE_SIZE = 16


def band_limit_frequencies(grid: Grid, wavelength: float, z: float) -> tuple:
    """Matsushima & Shimobaba (2009) limits (fy_lim, fx_lim), cycles/m, for a padded ``grid``.

    Beyond them the transfer-function chirp is sampled more coarsely than its
    local period and the result would alias (wrap around the window).
    """
    lims = []
    for n, d in zip(grid.shape, grid.pitch):
        df = 1.0 / (n * d)
        lims.append(1.0 / (wavelength * np.sqrt((2.0 * df * z) ** 2 + 1.0)))
    return tuple(lims)


def clear_transfer_cache() -> None:
    """Drop the cached transfer functions (frees their memory)."""
    _CACHE.clear()


def cached_transfer(key, build, dtype, like):
    """Transfer function from the cache (built in float64, cast once to ``dtype``)."""
    dev = int(like.device.id) if is_cupy(like) else -1
    full_key = key + (np.dtype(dtype).str, dev)
    h = _CACHE.get(full_key)
    if h is None:
        h64 = build()  # complex128 NumPy array
        xp = get_xp(like)
        h = xp.asarray(h64.astype(dtype))
        _CACHE[full_key] = h
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(full_key)
    return h


class TransferPropagator(LinearOperator):
    """u -> crop(IFFT(H * FFT(pad(u)))) with a cached transfer function H.

    Subclasses define :meth:`_build` (the complex128 transfer function on the
    padded grid, unshifted order). The adjoint uses conj(H), which for
    lossless propagation equals propagation by -z.
    """

    kind = "transfer"

    def __init__(self, shape: Shape2, pitch: Pitch, wavelength: float, z: float, pad: float = 2.0,
                 band_limit: bool = True, dtype: DTypeLike = DEFAULT_COMPLEX, strict: bool = False) -> None:
        from ..grid import check_padded_memory
        from ..validate import finite, physical

        self.in_grid = self.out_grid = Grid(shape, pitch)
        self.wavelength = physical("wavelength", wavelength)
        self.z = physical("z", z, "distance", signed=True)  # z < 0 propagates backwards
        self.pad = finite("pad", pad)
        check_padded_memory(self.in_grid.shape, self.pad, what="the padded propagation grid")
        self.band_limit = bool(band_limit)
        self.dtype = np.dtype(dtype)
        self.strict = strict
        self.padded_grid = Grid(tuple(padded_size(n, pad) for n in self.in_grid.shape), self.in_grid.pitch)
        self._check_sampling()

    # -- to be provided by subclasses -------------------------------------------------------
    def _build(self) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_sampling(self):
        pass

    # ----------------------------------------------------------------------------------------
    def _key(self):
        g = self.padded_grid
        return (self.kind, g.shape, g.pitch, self.wavelength, self.z, self.band_limit)

    def transfer_function(self) -> np.ndarray:
        """Transfer function H on the padded grid (complex128 NumPy, unshifted ``fftfreq`` order)."""
        return self._build()

    def _hot_transfer(self, like, conj: bool):
        # H / (My*Mx) (folds the inverse FFT's normalisation), or its conjugate for the adjoint.
        m = self.padded_grid.shape[0] * self.padded_grid.shape[1]

        def build():
            h = self._build() / m
            return np.conj(h) if conj else h

        return cached_transfer(self._key() + (conj,), build, self.dtype, like)

    def _run(self, u, conj: bool):
        h = self._hot_transfer(u, conj)
        # Pruned FFTs on persistent buffers (optics4f.fft.PaddedFilter): no transform of the padding.
        filt = get_padded_filter(u.shape[:-2] + self.padded_grid.shape, self.in_grid.shape, self.dtype,
                                 "forward", "backward", like=u)
        return filt(u, h)

    def apply(self, u: Array) -> Array:
        """Propagate ``u`` (..., ny, nx) by ``z``; returns a new array on the same grid."""
        return self._run(self._check_input(u, self.in_grid, "u"), conj=False)

    def adjoint(self, v: Array) -> Array:
        """Adjoint of :meth:`apply` (equals propagation by -z for a lossless transfer)."""
        return self._run(self._check_input(v, self.out_grid, "v"), conj=True)
