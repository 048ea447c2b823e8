"""Angular spectrum method (ASM): exact scalar free-space propagation.

H(fx, fy) = exp(+i 2 pi z sqrt(1/lambda^2 - fx^2 - fy^2)) for propagating
components; evanescent components (fx^2 + fy^2 > 1/lambda^2) are dropped.
A plane wave advancing by z gains exp(+i k_z z) (docs/architecture.md#conventions). Negative z
propagates backwards. Zero padding (``pad``, default 2) makes the
convolution linear instead of circular; the optional band limit of
Matsushima & Shimobaba (Opt. Express 17, 19662, 2009) removes the
frequencies whose transfer-function chirp the padded grid cannot sample.
"""
from __future__ import annotations

import numpy as np

from ..backend import DEFAULT_COMPLEX
from ..grid import Grid
from ..sampling import warn_sampling
from ..typing import Array, ArrayLike, Pitch
from ._transfer import TransferPropagator, band_limit_frequencies

__all__ = ["AngularSpectrum", "propagate_asm", "asm_transfer_function"]


def asm_transfer_function(grid: Grid, wavelength: float, z: float, band_limit: bool = True) -> np.ndarray:
    """Exact ASM transfer function on ``grid`` (complex128, unshifted order).

    Parameters
    ----------
    grid : Grid
        The (padded) computational grid; pitch in metres.
    wavelength : float
        Wavelength in the medium, metres.
    z : float
        Propagation distance, metres (negative: backwards).
    band_limit : bool
        Apply the Matsushima-Shimobaba rectangular band limit.
    """
    fy, fx = grid.freqs()
    arg = 1.0 / wavelength**2 - fy[:, None] ** 2 - fx[None, :] ** 2
    prop = arg > 0
    kz = np.sqrt(np.where(prop, arg, 0.0))  # cycles/m, float64 so a 1e5 rad phase keeps its digits
    h = np.where(prop, np.exp(2j * np.pi * z * kz), 0.0)
    if band_limit:
        fyl, fxl = band_limit_frequencies(grid, wavelength, z)
        h = h * ((np.abs(fy) <= fyl)[:, None] & (np.abs(fx) <= fxl)[None, :])
    return h


class AngularSpectrum(TransferPropagator):
    """Angular-spectrum propagation by ``z`` as a linear operator.

    Parameters
    ----------
    shape : (ny, nx)
        Field shape (spatial axes last; leading batch axes are allowed in ``apply``).
    pitch : float or (dy, dx)
        Sample pitch, metres.
    wavelength : float
        Metres.
    z : float
        Distance, metres; negative propagates backwards.
    pad : float
        Zero-padding factor per axis (1 = circular convolution). 2 is accurate
        to about 1e-4 against an 8x padded reference (docs/architecture.md#conventions).
    band_limit : bool
        Matsushima-Shimobaba band limit (recommended for long distances).
    dtype : complex dtype
        complex64 (default) or complex128.
    strict : bool
        Raise :class:`~optics4f.sampling.AliasingError` instead of warning.
    """

    kind = "asm"

    def _build(self):
        return asm_transfer_function(self.padded_grid, self.wavelength, self.z, self.band_limit)

    def _check_sampling(self):
        if self.band_limit:
            return
        g = self.padded_grid
        lims = band_limit_frequencies(g, self.wavelength, self.z)
        for axis, (lim, d, n) in enumerate(zip(lims, g.pitch, g.shape)):
            fmax = min(1.0 / (2 * d), 1.0 / self.wavelength)
            if lim < fmax * (1 - 1e-9):
                width = _required_width(self.z, self.wavelength, fmax)
                hint = (f"raise pad to about {width / (self.in_grid.shape[axis] * d):.3g}"
                        if np.isfinite(width) else "sample at pitch > lambda/2")
                warn_sampling(
                    f"ASM transfer function is undersampled for z={self.z:g} m on a {n}-sample "
                    f"padded axis (pitch {d:g} m): frequencies above {lim:.4g} cycles/m alias "
                    f"(wrap around the window). Use band_limit=True, or {hint}.",
                    strict=self.strict,
                    stacklevel=4,
                )
                break


def _required_width(z, wavelength, fmax):
    """Padded width (m) at which the band limit reaches ``fmax``; inf when it never does."""
    q = 1.0 / (wavelength * fmax) ** 2 - 1.0
    return 2.0 * abs(z) / np.sqrt(q) if q > 0 else np.inf


def propagate_asm(u: ArrayLike, pitch: Pitch, wavelength: float, z: float, pad: float = 2.0, band_limit: bool = True,
                  strict: bool = False) -> Array:
    """Propagate field ``u`` (..., ny, nx) by ``z`` metres with the angular spectrum method.

    The dtype follows ``u`` (float promoted to complex); the transfer function
    is cached, so repeated calls with the same geometry cost two FFTs. See
    :class:`AngularSpectrum` for the parameters.
    """
    from ..backend import as_field

    u = as_field(u)
    op = AngularSpectrum(u.shape[-2:], pitch, wavelength, z, pad=pad, band_limit=band_limit,
                         dtype=u.dtype if u.dtype.kind == "c" else DEFAULT_COMPLEX, strict=strict)
    return op.apply(u)
