"""Array operations of the hardware pipeline: the NumPy/CuPy implementation.

The stages of :mod:`optics4f.system.stages` and the SLM pixel formula of
:mod:`optics4f.devices.slm_transmission` are written once against an *ops*
object (docs/architecture.md, "One hardware pipeline"). Two implementations
exist:

* :data:`ARRAY_OPS` (this module): NumPy or CuPy arrays, the core's pure
  functions, in-place fast paths on arrays the pipeline owns;
* ``optics4f.torch.ops.TORCH_OPS``: torch tensors, the autograd Functions of
  :mod:`optics4f.torch.devices` and :mod:`optics4f.torch.functions` (the same
  core functions forward, their adjoints or surrogate gradients backward).

Arithmetic (``+ - *``, ``.real``, ``.imag``) is written directly in the
formulas: both array types support it. What an ops object supplies is what
differs between the backends: transcendental functions, the linear device
operators (pixel rendering, fringing, SLM sampling), the 4f pass, camera
detection, tile read-out, constants on the data's device, and casts.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .backend import asarray_like, get_xp
from .devices import render
from .devices.detector import Camera
from .fourf import FourF
from .operator import LinearOperator
from .typing import Array, DTypeLike, Pitch, Seed, Shape2

__all__ = ["ArrayOps", "ARRAY_OPS"]


class ArrayOps:
    """Pipeline operations on NumPy or CuPy arrays (the backend of each input)."""

    # -- elementwise -----------------------------------------------------------------------------
    def phasor(self, phi: Array) -> Array:
        """exp(i phi) of a real array (complex128 for float64)."""
        return get_xp(phi).exp(1j * phi)

    def complex(self, re: Array, im: Array) -> Array:
        """re + i im."""
        return re + 1j * im

    def cast(self, a: Array, dtype: DTypeLike) -> Array:
        """``a`` in the complex ``dtype`` (a NumPy dtype)."""
        return a.astype(dtype)

    def multiply_(self, a: Array, b: Array) -> Array:
        """a * b, written into ``a`` (the pipeline owns ``a``): saves a page-faulting allocation."""
        a *= b
        return a

    def accumulate_(self, total: Array | None, a: Array) -> Array:
        """total + a, written into ``total`` when there is one (the pipeline owns it)."""
        if total is None:
            return a
        total += a
        return total

    def constant(self, a: Array, like: Array) -> Array:
        """The constant array ``a`` on the backend of ``like`` (no copy when it is there already)."""
        return a if get_xp(a) is get_xp(like) else asarray_like(a, like)

    # -- linear device operators -----------------------------------------------------------------
    def render(self, values: Array, factor: float | tuple[float, float], shape: Shape2,
               fill_factor: float | tuple[float, float]) -> Array:
        """Pixel values drawn on a simulation grid (:func:`optics4f.devices.render.render_pixels`)."""
        return render.render_pixels(values, factor, shape, fill_factor)

    def smooth(self, a: Array, sigma: float | tuple[float, float]) -> Array:
        """Fringing: Gaussian smoothing of a real map, edges continued (:func:`render.smooth`)."""
        return render.smooth(a, sigma, mode="nearest")

    def coverage(self, resolution: Shape2, factor: float | tuple[float, float], shape: Shape2,
                 fill_factor: float | tuple[float, float], like: Array) -> Array:
        """Fraction of each simulation sample covered by the active area of the panel's pixels (float64)."""
        xp = get_xp(like)
        return render.render_pixels(xp.ones(tuple(resolution)), factor, shape, fill_factor)

    def sample(self, sampler: Any, mask: Array) -> Array:
        """``sampler.apply(mask)``: a Fourier mask at the SLM pixel centres (:class:`SLMSampler`)."""
        return sampler.apply(mask)

    def combine(self, masks: Array, ramps: Array) -> Array:
        """sum_o ramps[o] * masks[o]: per-output-channel masks (Cout, ...) tiled into one (the layout's
        phase ramps, :meth:`optics4f.system.layout.TiledLayout.combine`)."""
        r = self.constant(ramps, masks).astype(masks.dtype, copy=False)
        r = r.reshape(r.shape[:1] + (1,) * (masks.ndim - r.ndim) + r.shape[1:])
        return (masks * r).sum(axis=0)

    # -- optics ----------------------------------------------------------------------------------
    def prepare_pass(self, fourf: FourF, mask: Array) -> FourF:
        """A handle for repeated 4f passes through ``mask``: a FourF copy with the mask prepared once."""
        f = FourF(fourf.in_grid.shape, fourf.in_grid.pitch, fourf.wavelength, fourf.f1, fourf.f2,
                  pad=fourf.pad, dtype=fourf.dtype)
        return f.set_mask(mask)

    def four_f(self, u: Array, handle: Array | FourF, fourf: FourF) -> Array:
        """Output field of ``u`` (..., ny, nx) through a mask or a :meth:`prepare_pass` handle."""
        if isinstance(handle, FourF):
            return handle.apply(u)
        return fourf.apply(u, handle)

    def apply_operator(self, op: LinearOperator, v: Array) -> Array:
        """A core linear operator (e.g. the explicit camera propagation)."""
        return op.apply(v)

    # -- camera ----------------------------------------------------------------------------------
    def detect(self, v: Array, camera: Camera, sample_pitch: Pitch, wavelength: float, rng: Seed,
               noise: bool | None) -> Array:
        """Camera frame (ADU) of the field ``v``: :meth:`Camera.detect` (``noise`` None: the camera's)."""
        if noise is not None and bool(noise) != camera.noise:
            camera = dataclasses.replace(camera, noise=bool(noise))
        return camera.detect(v, sample_pitch, wavelength, rng=rng)

    def read_tiles(self, frame: Array, layout: Any, k: int | tuple[int, int]) -> Array:
        """Tiles (..., C, th/k, tw/k) of a camera frame (:meth:`TiledLayout.read_tiles`)."""
        return layout.read_tiles(frame, k)


#: The NumPy/CuPy operations (stateless, shared).
ARRAY_OPS = ArrayOps()
