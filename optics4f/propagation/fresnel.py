"""Fresnel (paraxial) transfer-function propagation.

H(fx, fy) = exp(i k z) exp(-i pi lambda z (fx^2 + fy^2)): the paraxial
expansion of the angular spectrum. Accurate where the field's angles are
small; its chirp is sampled well while lambda z <= L dx (L the padded width),
beyond which a warning is given (use the ASM with band limit instead).
"""
from __future__ import annotations

import numpy as np

from ..backend import DEFAULT_COMPLEX, as_field
from ..grid import Grid
from ..sampling import warn_sampling
from ..typing import Array, ArrayLike, DTypeLike, Pitch, Shape2
from ._transfer import TransferPropagator, band_limit_frequencies

__all__ = ["FresnelTF", "propagate_fresnel", "fresnel_transfer_function"]


def fresnel_transfer_function(grid: Grid, wavelength: float, z: float, band_limit: bool = False) -> np.ndarray:
    """Fresnel transfer function on ``grid`` (complex128, unshifted order), including exp(ikz)."""
    fy, fx = grid.freqs()
    f2 = fy[:, None] ** 2 + fx[None, :] ** 2
    # Keep exp(ikz) separate: k z can be 1e6 rad, so reduce it modulo 2 pi in float64 first.
    piston = np.exp(1j * np.mod(2 * np.pi * z / wavelength, 2 * np.pi))
    h = piston * np.exp(-1j * np.pi * wavelength * z * f2)
    if band_limit:
        fyl, fxl = band_limit_frequencies(grid, wavelength, z)
        h = h * ((np.abs(fy) <= fyl)[:, None] & (np.abs(fx) <= fxl)[None, :])
    return h


class FresnelTF(TransferPropagator):
    """Fresnel transfer-function propagation by ``z`` (parameters as :class:`AngularSpectrum`).

    ``band_limit`` defaults to False here: the paraxial transfer function is
    usually used inside its sampling limit, which is checked.
    """

    kind = "fresnel"

    def __init__(self, shape: Shape2, pitch: Pitch, wavelength: float, z: float, pad: float = 2.0,
                 band_limit: bool = False, dtype: DTypeLike = DEFAULT_COMPLEX, strict: bool = False) -> None:
        super().__init__(shape, pitch, wavelength, z, pad=pad, band_limit=band_limit, dtype=dtype,
                         strict=strict)

    def _build(self):
        return fresnel_transfer_function(self.padded_grid, self.wavelength, self.z, self.band_limit)

    def _check_sampling(self):
        if self.band_limit:
            return
        g = self.padded_grid
        for n, d in zip(g.shape, g.pitch):
            if self.wavelength * abs(self.z) > n * d * d * (1 + 1e-9):
                warn_sampling(
                    f"Fresnel transfer function is undersampled: lambda*|z| = {self.wavelength * abs(self.z):.3g} m^2 "
                    f"exceeds L*dx = {n * d * d:.3g} m^2 on the padded grid. Raise pad, use band_limit=True, "
                    "or use the band-limited ASM.",
                    strict=self.strict,
                    stacklevel=5,  # warn_sampling, _check_sampling, base __init__, FresnelTF.__init__, caller
                )
                break


def propagate_fresnel(u: ArrayLike, pitch: Pitch, wavelength: float, z: float, pad: float = 2.0,
                      band_limit: bool = False, strict: bool = False) -> Array:
    """Propagate ``u`` (..., ny, nx) by ``z`` metres with the Fresnel transfer function."""
    u = as_field(u)
    op = FresnelTF(u.shape[-2:], pitch, wavelength, z, pad=pad, band_limit=band_limit, dtype=u.dtype,
                   strict=strict)
    return op.apply(u)
