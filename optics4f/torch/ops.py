"""Pipeline operations on torch tensors: the autograd twin of :mod:`optics4f.ops`.

The hardware stages (:mod:`optics4f.system.stages`) and the SLM pixel formula
(:mod:`optics4f.devices.slm_transmission`) run unchanged on tensors with these
operations (docs/architecture.md, "One hardware pipeline"). Each one is an
autograd Function of the bridge running the core's function forward and its
adjoint (linear steps), exact derivative (smooth steps) or surrogate
(quantisation, ADC rounding) backward; nothing is re-implemented here.
"""
from __future__ import annotations

import numpy as np
import torch

from ..devices import render as _render
from ..devices.detector import Camera
from ..fourf import FourF
from ..operator import LinearOperator
from ..system.layout import TiledLayout
from ..system.slm_sampler import SLMSampler
from ..typing import Pitch, Seed, Shape2
from . import devices as _dev
from .functions import apply_operator, spectral_conv

__all__ = ["TorchOps", "TORCH_OPS"]

_CACHE_LIMIT = 32


def _real_dtype(t: torch.Tensor):
    return t.real.dtype if t.is_complex() else t.dtype


class TorchOps:
    """Pipeline operations on torch tensors (CPU or CUDA), differentiable."""

    def __init__(self) -> None:
        self._constants = {}

    # -- elementwise -----------------------------------------------------------------------------
    def phasor(self, phi: torch.Tensor) -> torch.Tensor:
        """exp(i phi) of a real tensor (autograd through cos and sin)."""
        return torch.complex(torch.cos(phi), torch.sin(phi))

    def complex(self, re: torch.Tensor, im: torch.Tensor) -> torch.Tensor:
        return torch.complex(re, im)

    def cast(self, a: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return a.to(dtype)

    def multiply_(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b  # autograd: no in-place writes into tensors the graph saved

    def accumulate_(self, total: torch.Tensor | None, a: torch.Tensor) -> torch.Tensor:
        return a if total is None else total + a

    def constant(self, a: torch.Tensor | np.ndarray, like: torch.Tensor) -> torch.Tensor:
        """``a`` (a tensor or a NumPy array) on the device of ``like``."""
        if isinstance(a, torch.Tensor):
            return a if a.device == like.device else a.to(like.device)
        return torch.as_tensor(np.asarray(a), device=like.device)

    # -- linear device operators -----------------------------------------------------------------
    def render(self, values: torch.Tensor, factor: float | tuple[float, float], shape: Shape2,
               fill_factor: float) -> torch.Tensor:
        return _dev.render_pixels(values, factor, shape, fill_factor)

    def smooth(self, a: torch.Tensor, sigma: float | tuple[float, float]) -> torch.Tensor:
        return _dev.fringe(a, sigma)

    def coverage(self, resolution: Shape2, factor: float | tuple[float, float], shape: Shape2, fill_factor: float,
                 like: torch.Tensor) -> torch.Tensor:
        """Active-area coverage of the panel's samples (a cached constant in ``like``'s real precision)."""
        dtype = _real_dtype(like)
        key = ("cover", tuple(resolution), tuple(np.broadcast_to(np.asarray(factor, dtype=object), (2,))),
               tuple(shape), float(fill_factor), dtype, str(like.device))
        t = self._constants.get(key)
        if t is None:
            a = _render.render_pixels(np.ones(tuple(resolution)), factor, shape, fill_factor)
            t = torch.as_tensor(a, dtype=dtype, device=like.device)
            if len(self._constants) > _CACHE_LIMIT:
                self._constants.clear()
            self._constants[key] = t
        return t

    def sample(self, sampler: SLMSampler, mask: torch.Tensor) -> torch.Tensor:
        return _dev.sample_slm(mask, sampler)

    def combine(self, masks: torch.Tensor, ramps: torch.Tensor | np.ndarray) -> torch.Tensor:
        r = self.constant(ramps, masks).to(masks.dtype)
        r = r.reshape(r.shape[:1] + (1,) * (masks.dim() - r.dim()) + r.shape[1:])
        return (masks * r).sum(0)

    # -- optics ----------------------------------------------------------------------------------
    def prepare_pass(self, fourf: FourF, mask: torch.Tensor) -> torch.Tensor:
        """A (My, Mx) transmission as the (1, 1, My, Mx) masks of one pass of :func:`spectral_conv`."""
        return mask[None, None]

    def four_f(self, u: torch.Tensor, handle: torch.Tensor, fourf: FourF) -> torch.Tensor:
        """Output field (B, ny, nx) of ``u`` (B, ny, nx) through the multi-channel engine (blocked,
        pruned FFTs; the mask gradient reuses the forward's Fourier-plane fields)."""
        if handle.dim() == 2:
            handle = handle[None, None]
        return spectral_conv(u[:, None], handle, fourf)[:, 0]

    def apply_operator(self, op: LinearOperator, v: torch.Tensor) -> torch.Tensor:
        return apply_operator(op, v)

    # -- camera ----------------------------------------------------------------------------------
    def detect(self, v: torch.Tensor, camera: Camera, sample_pitch: Pitch, wavelength: float, rng: Seed,
               noise: bool | None) -> torch.Tensor:
        return _dev.camera_detect(v, camera, sample_pitch, wavelength, rng=rng, noise=noise)

    def read_tiles(self, frame: torch.Tensor, layout: TiledLayout, k: int | tuple[int, int]) -> torch.Tensor:
        """The layout's tiles, gathered with the flat indices the core's ``read_tiles`` picks."""
        cam = tuple(frame.shape[-2:])
        key = ("tiles", layout.n_channels, layout.tile_shape, layout.offsets().tobytes(), k, cam, str(frame.device))
        idx = self._constants.get(key)
        if idx is None:
            flat = np.arange(cam[0] * cam[1], dtype=np.int64).reshape(cam)
            tiles = layout.read_tiles(flat, k)  # (C, h, w) flat indices
            idx = (torch.from_numpy(np.ascontiguousarray(tiles).reshape(-1)).to(frame.device), tiles.shape)
            if len(self._constants) > _CACHE_LIMIT:
                self._constants.clear()
            self._constants[key] = idx
        index, shape = idx
        lead = tuple(frame.shape[:-2])
        return frame.reshape(lead + (-1,))[..., index].reshape(lead + tuple(shape))


#: The torch operations (caches constants per geometry and device).
TORCH_OPS = TorchOps()
