"""Torch autograd bridge of optics4f (the only place optics4f imports torch).

Import it explicitly: ``import optics4f.torch as ot``. The autograd Functions
run the optics4f core on the tensors' own memory (NumPy on the CPU, CuPy
through DLPack on CUDA) and use the core's adjoints for backward, so what is
trained is exactly what the NumPy/CuPy simulation computes.

- :mod:`.functions`: ``apply_operator`` (any core linear operator), ``fourf``
  (4f pass, gradients to input and mask), ``spectral_conv`` (multi-channel 4f
  convolution), ``phase_mask``;
- :mod:`.devices`: differentiable device effects (SLM quantisation with
  straight-through or soft surrogate gradients, LUT, pixel rendering,
  fringing, detector intensity, pixel integration, reparameterised noise, ADC);
- :mod:`.layers`: ``SpectralConv4f`` (ideal) and ``Hardware4fConv`` (hardware
  4f system of a ``SystemConfig``) nn.Modules;
- :mod:`.ops`: the autograd operations with which ``Hardware4fConv`` runs the
  core's hardware stages (:mod:`optics4f.system.stages`, docs/architecture.md).

Complex gradients follow PyTorch's convention (dL/d conj z): for y = A x the
input gradient is A^H applied to the output gradient.
"""
from ._convert import from_array, to_array, torch_dtype
from .functions import apply_operator, fourf, phase_mask, spectral_conv
from .layers import Hardware4fConv, SpectralConv4f

__all__ = ["apply_operator", "fourf", "spectral_conv", "phase_mask", "SpectralConv4f", "Hardware4fConv",
           "to_array", "from_array", "torch_dtype"]
