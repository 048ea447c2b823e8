"""Ideal 4f system: input -> lens f1 -> Fourier-plane mask -> lens f2 -> output.

Two models that must agree (tested):

* :class:`FourF` (Fourier-lens model), the fast path: two Fourier lenses, so
  v = FL2(H * FL1(u)). With the centred-DFT lens of :mod:`optics4f.lens`
  and even grid sizes, the checkerboards of the two centred DFTs cancel and
  the whole pass is ``-(f1/f2)/M * FFT(ifftshift(H) * FFT(u))``: two FFTs,
  one multiply.
* :class:`FullWave4f`: propagate f1, thin lens f1 with pupil, propagate f1,
  mask, propagate f2, thin lens f2 with pupil, propagate f2, all with the
  angular spectrum method on one pitch.

Result (docs/architecture.md#conventions): the output is the input convolved with the kernel of H,
inverted and magnified by f2/f1, times -(f1/f2) (power is conserved; the -1
is the Gouy phase of two foci): v(x) = -(f1/f2) (u * h)(-x f1/f2).
"""
from __future__ import annotations

import numpy as np

from .backend import DEFAULT_COMPLEX, as_field, asarray_like, get_xp
from .fft import get_padded_filter
from .grid import Grid, check_padded_memory
from .lens import FourierLens, ThinLens
from .operator import LinearOperator
from .padding import crop_center, pad_center
from .propagation import AngularSpectrum
from .typing import Array, ArrayLike, DTypeLike, Pitch, Shape2
from .validate import finite, finite_array, physical

__all__ = ["FourF", "FullWave4f", "fourf"]


class FourF(LinearOperator):
    """Ideal 4f system in the Fourier-lens model.

    Parameters
    ----------
    shape : (ny, nx)
        Input field shape (the display).
    pitch : float or (dy, dx)
        Input pitch, metres.
    wavelength : float
        Metres.
    f1, f2 : float
        Focal lengths of the first and second lens, metres (f2 defaults to f1).
        The output pitch is pitch * f2 / f1 (magnification f2/f1, inverted).
    pad : float
        Zero-padding factor of the input plane (>= 1). The Fourier plane then
        has ``padded_shape`` samples at pitch lambda f1 / (M dx); masks are
        defined there. Use pad >= 1 + (kernel size)/(input size) for a linear
        (non-circular) convolution.
    dtype : complex dtype

    ``apply(u, mask)`` is linear in ``u`` and in ``mask`` (centred order,
    shape (..., My, Mx), broadcast against the batch axes of ``u``).
    """

    def __init__(self, shape: Shape2, pitch: Pitch, wavelength: float, f1: float, f2: float | None = None,
                 pad: float = 1.0, dtype: DTypeLike = DEFAULT_COMPLEX) -> None:
        f2 = f1 if f2 is None else f2
        self.in_grid = Grid(shape, pitch)
        self.wavelength = physical("wavelength", wavelength)
        self.f1, self.f2 = physical("f1", f1, "focal_length"), physical("f2", f2, "focal_length")
        self.pad = finite("pad", pad)
        self.dtype = np.dtype(dtype)
        self.padded_shape = check_padded_memory(self.in_grid.shape, self.pad, what="the 4f Fourier plane")
        self.padded_grid = Grid(self.padded_shape, self.in_grid.pitch)
        self.fourier_grid = self.padded_grid.fourier_grid(self.wavelength, self.f1)
        m = self.f2 / self.f1
        self.out_grid = Grid(self.in_grid.shape, (self.in_grid.dy * m, self.in_grid.dx * m))
        self.lens1 = FourierLens(self.padded_shape, self.in_grid.pitch, wavelength, f1, dtype)
        self.lens2 = FourierLens(self.padded_shape, self.fourier_grid.pitch, wavelength, f2, dtype)
        my, mx = self.padded_shape
        self.scale = -(self.f1 / self.f2) / (my * mx)
        self._fast = my % 2 == 0 and mx % 2 == 0
        self._mask = None
        self._prepared = None

    # -- masks ---------------------------------------------------------------------------------
    def _check_mask(self, mask, name="mask"):
        mask = finite_array(name, as_field(mask, name=name, dtype=self.dtype))
        if tuple(mask.shape[-2:]) != self.padded_shape:
            raise ValueError(
                f"{name} has shape {tuple(mask.shape[-2:])}; the Fourier plane of this 4f system has "
                f"{self.padded_shape} samples at pitch {self.fourier_grid.pitch} m (centred order)"
            )
        return mask

    def set_mask(self, mask: ArrayLike | None) -> FourF:
        """Fix the Fourier-plane mask used when ``apply`` gets no mask (precomputes its FFT order)."""
        self._mask = None if mask is None else self._check_mask(mask)
        self._prepared = None if mask is None else self._prepare(self._mask)
        return self

    def _prepare(self, mask):
        xp = get_xp(mask)
        return xp.fft.ifftshift(mask, axes=(-2, -1)) * self.dtype.type(self.scale)

    def _mask_for(self, mask, like):
        if mask is None:
            if self._mask is None:
                return None
            if get_xp(self._prepared) is not get_xp(like):
                self.set_mask(asarray_like(self._mask, like))  # move the set mask to the input's device
            return self._prepared
        return self._prepare(self._check_mask(mask))

    # -- planes --------------------------------------------------------------------------------
    def fourier_plane(self, u: Array) -> Array:
        """Field in the Fourier plane (..., My, Mx), centred order, pitch ``fourier_grid.pitch``."""
        u = self._check_input(u, self.in_grid, "u")
        return self.lens1.apply(pad_center(u, self.padded_shape))

    def from_fourier_plane(self, w: Array) -> Array:
        """Output field (..., ny, nx) from the field ``w`` just after the Fourier-plane mask."""
        w = self._check_input(w, self.fourier_grid, "w")
        return crop_center(self.lens2.apply(w), self.in_grid.shape).copy()

    # -- the pass ----------------------------------------------------------------------------
    def apply(self, u: Array, mask: ArrayLike | None = None) -> Array:
        """Output field of input ``u`` (..., ny, nx) through mask (default: the set mask, else identity)."""
        u = self._check_input(u, self.in_grid, "u")
        if not self._fast:
            w = self.fourier_plane(u)
            m = mask if mask is not None else None if self._mask is None else asarray_like(self._mask, u)
            return self.from_fourier_plane(w if m is None else w * self._check_mask(m))
        hs = self._mask_for(mask, u)
        return self._two_ffts(u, hs, inverse=False)

    def adjoint(self, v: Array, mask: ArrayLike | None = None) -> Array:
        """Adjoint with respect to the input: A^H v (..., ny, nx); broadcast axes of the mask are kept."""
        v = self._check_input(v, self.out_grid, "v")
        if not self._fast:
            m = mask if mask is not None else None if self._mask is None else asarray_like(self._mask, v)
            w = self.lens2.adjoint(pad_center(v, self.padded_shape))
            if m is not None:
                w = w * get_xp(w).conj(self._check_mask(m))
            return crop_center(self.lens1.adjoint(w), self.in_grid.shape).copy()
        hs = self._mask_for(mask, v)
        return self._two_ffts(v, None if hs is None else get_xp(hs).conj(hs), inverse=True)

    def _two_ffts(self, u, hs, inverse: bool):
        # Both lenses as one pruned, zero-padded filter (optics4f.fft.PaddedFilter); the identity
        # mask only scales, which is applied to the small cropped output.
        batch = u.shape[:-2] if hs is None else np.broadcast_shapes(u.shape[:-2], hs.shape[:-2])
        step = "backward" if inverse else "forward"
        filt = get_padded_filter(tuple(batch) + self.padded_shape, self.in_grid.shape, self.dtype, step, step,
                                 like=u)
        if hs is None:
            return filt(u, scale=self.scale)  # real, so also its own conjugate for the adjoint
        return filt(u, hs)

    def mask_adjoint(self, u: Array, g: Array) -> Array:
        """Adjoint of the map mask -> apply(u, mask) for fixed ``u``, applied to ``g``.

        Returns (..., My, Mx) in centred order: conj(FL1 u) * FL2^H(g). Leading
        axes are those of the broadcast of ``u`` and ``g``; sum them to get the
        gradient of a mask shared across a batch.
        """
        u = self._check_input(u, self.in_grid, "u")
        g = self._check_input(g, self.out_grid, "g")
        w = self.fourier_plane(u)
        back = self.lens2.adjoint(pad_center(g, self.padded_shape))
        return get_xp(w).conj(w) * back


def fourf(u: ArrayLike, mask: ArrayLike | None, pitch: Pitch, wavelength: float, f1: float, f2: float | None = None,
          pad: float = 1.0) -> Array:
    """Functional form of :class:`FourF`: output of ``u`` through ``mask`` (or None = identity)."""
    u = as_field(u)
    return FourF(u.shape[-2:], pitch, wavelength, f1, f2, pad=pad, dtype=u.dtype).apply(u, mask)


class FullWave4f(LinearOperator):
    """4f system by full wave propagation on one pitch (independent check of :class:`FourF`).

    propagate f1 -> thin lens f1 (pupil1) -> propagate f1 -> mask -> propagate f2
    -> thin lens f2 (pupil2) -> propagate f2, each propagation by the
    band-limited angular spectrum method with padding ``asm_pad``.

    Parameters
    ----------
    shape, pitch, wavelength, f1, f2 :
        As :class:`FourF`; every plane is sampled at ``pitch``. The Fourier
        plane agrees with the Fourier-lens model when pitch^2 = lambda f1 / N.
    pupil1, pupil2 : array (ny, nx), optional
        Lens apertures.
    asm_pad : float
        Padding of each angular-spectrum step.
    """

    def __init__(self, shape: Shape2, pitch: Pitch, wavelength: float, f1: float, f2: float | None = None,
                 pupil1: ArrayLike | None = None, pupil2: ArrayLike | None = None, asm_pad: float = 2.0,
                 dtype: DTypeLike = DEFAULT_COMPLEX) -> None:
        f2 = f1 if f2 is None else f2
        # A 4f system's lenses converge: a negative focal length is refused here (ThinLens alone accepts one).
        f1, f2 = physical("f1", f1, "focal_length"), physical("f2", f2, "focal_length")
        self.in_grid = self.out_grid = self.fourier_grid = Grid(shape, pitch)
        self.dtype = np.dtype(dtype)
        kw = dict(pad=asm_pad, band_limit=True, dtype=dtype)
        self.p1 = AngularSpectrum(shape, pitch, wavelength, f1, **kw)
        self.p2 = AngularSpectrum(shape, pitch, wavelength, f2, **kw)
        self.l1 = ThinLens(shape, pitch, wavelength, f1, pupil1, dtype)
        self.l2 = ThinLens(shape, pitch, wavelength, f2, pupil2, dtype)

    def fourier_plane(self, u: Array) -> Array:
        """Field arriving at the Fourier plane (..., ny, nx)."""
        return self.p1.apply(self.l1.apply(self.p1.apply(u)))

    def apply(self, u: Array, mask: ArrayLike | None = None) -> Array:
        w = self.fourier_plane(u)
        if mask is not None:
            w = w * finite_array("mask", as_field(mask, "mask", dtype=self.dtype))
        return self.p2.apply(self.l2.apply(self.p2.apply(w)))

    def adjoint(self, v: Array, mask: ArrayLike | None = None) -> Array:
        w = self.p2.adjoint(self.l2.adjoint(self.p2.adjoint(v)))
        if mask is not None:
            w = w * get_xp(w).conj(as_field(mask, "mask", dtype=self.dtype))
        return self.p1.adjoint(self.l1.adjoint(self.p1.adjoint(w)))
