"""Autograd Functions that run the optics4f core on a tensor's own memory.

Forward hands the tensor's data to the core (NumPy on the CPU, CuPy through
DLPack on CUDA; no copy for a tensor of the operator's precision); backward
calls the core's adjoint operators. There is no second implementation in
torch: what is trained is what the NumPy path validates.

Gradient convention (PyTorch's): for a real loss L the gradient of a complex
z is dL/d(conj z) (up to a factor 2), so for y = A x the input gradient is
A^H grad_y, and for y = A(u, mask), bilinear, the mask gradient is the
adjoint of mask -> A(u, mask) applied to grad_y, summed over the batch axes
the mask was broadcast along. A real input receives the real part of its
complex gradient (the derivative with respect to a real variable).

Public functions
----------------
``apply_operator(op, u)``
    Any core :class:`~optics4f.LinearOperator` (``AngularSpectrum``,
    ``FresnelTF``, ``FourierLens``, ``ThinLens``, ``FourF``, ``FullWave4f``).
``fourf(u, mask, op)``
    :class:`~optics4f.FourF` with a Fourier-plane mask, differentiable in both.
``spectral_conv(u, masks, op)``
    The multi-channel 4f convolution ``v[b, o] = sum_i 4f(u[b, i], masks[o, i])``.
``phase_mask(phase, amplitude=None)``
    ``amplitude * exp(i phase)``: a phase-only (or amplitude) mask from real parameters.
"""
from __future__ import annotations

import weakref

import torch
from torch.autograd.function import once_differentiable

from ..fourf import FourF
from ..operator import LinearOperator
from ..validate import finite_array
from ._convert import check_precision, core_context, from_array, to_array
from ..fft.multichannel import MultiChannel4f

__all__ = ["apply_operator", "fourf", "spectral_conv", "phase_mask", "multichannel_engine"]


def _real_if(grad, real: bool):
    return grad.real.contiguous() if real and grad is not None else grad


def _check_tensor(t, name):
    """A tensor of finite values (NaN or Inf fields and masks are refused, as the core refuses them)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    finite_array(name, t)


class _LinearOp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, op):
        ctx.op = op
        ctx.real_input = not u.is_complex()
        with core_context(u):
            return from_array(op.apply(to_array(u)))

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        with core_context(g):
            gu = from_array(ctx.op.adjoint(to_array(g)))
        return _real_if(gu, ctx.real_input), None


def apply_operator(op: LinearOperator, u: torch.Tensor) -> torch.Tensor:
    """Differentiable ``op.apply(u)`` for a core linear operator; backward is ``op.adjoint``.

    Parameters
    ----------
    op : LinearOperator
        Built for the spatial shape of ``u`` and its precision (complex64 for
        float32/complex64 tensors, complex128 for float64/complex128).
    u : Tensor (..., ny, nx)
        Field, sqrt(W)/m; real tensors are promoted to complex by the core.
    """
    if not isinstance(op, LinearOperator):
        raise TypeError(f"op must be an optics4f LinearOperator, got {type(op).__name__}")
    _check_tensor(u, "u")
    check_precision(u, op, "u")
    return _LinearOp.apply(u, op)


class _FourFMasked(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, mask, op):
        ctx.op = op
        ctx.real = (not u.is_complex(), not mask.is_complex())
        ctx.save_for_backward(u, mask)
        with core_context(u):
            return from_array(op.apply(to_array(u), to_array(mask)))

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        u, mask = ctx.saved_tensors
        op = ctx.op
        gu = gm = None
        with core_context(g):
            ga = to_array(g)
            if ctx.needs_input_grad[0]:
                gu = from_array(op.adjoint(ga, to_array(mask))).sum_to_size(u.shape)
            if ctx.needs_input_grad[1]:
                gm = from_array(op.mask_adjoint(to_array(u), ga)).sum_to_size(mask.shape)
        return _real_if(gu, ctx.real[0]), _real_if(gm, ctx.real[1]), None


def fourf(u: torch.Tensor, mask: torch.Tensor, op: FourF) -> torch.Tensor:
    """Differentiable 4f pass ``op.apply(u, mask)``, gradients to ``u`` and to ``mask``.

    Parameters
    ----------
    u : Tensor (..., ny, nx)
        Input field on ``op.in_grid``.
    mask : Tensor (..., My, Mx)
        Fourier-plane mask (dimensionless), centred order on ``op.fourier_grid``;
        broadcast against the batch axes of ``u``. Complex, or real (an
        amplitude mask); for a phase-only mask pass :func:`phase_mask` (phase).
    op : FourF

    Returns
    -------
    Tensor (broadcast batch, ny, nx): the output field, inverted and scaled by
    -(f1/f2) as :class:`~optics4f.FourF` documents.
    """
    if not isinstance(op, FourF):
        raise TypeError(f"op must be an optics4f.FourF, got {type(op).__name__}")
    _check_tensor(u, "u")
    _check_tensor(mask, "mask")
    check_precision(u, op, "u")
    check_precision(mask, op, "mask")
    if u.device != mask.device:
        raise ValueError(f"u is on {u.device} but mask is on {mask.device}; move them to one device")
    return _FourFMasked.apply(u, mask, op)


class _SpectralConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, masks, engine):
        ctx.engine = engine
        ctx.real_input = not u.is_complex()
        with core_context(u):
            ua = to_array(u)
            if ctx.real_input:
                ua = ua.astype(engine.dtype)  # the core promotes real fields to complex anyway
            if ctx.needs_input_grad[1]:
                v, w = engine.apply(ua, to_array(masks), keep_spectrum=True)
                ctx.spectrum = w  # the inputs' Fourier-plane fields, reused by the mask gradient
            else:
                v, ctx.spectrum = engine.apply(ua, to_array(masks)), None
        ctx.save_for_backward(masks)
        return from_array(v)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (masks,) = ctx.saved_tensors
        eng = ctx.engine
        gu = gm = None
        with core_context(g):
            ga = to_array(g.contiguous())
            if ga.dtype != eng.dtype:
                ga = ga.astype(eng.dtype)
            gua, gma = eng.backward(ga, to_array(masks), ctx.spectrum, need_input=ctx.needs_input_grad[0],
                                    need_masks=ctx.needs_input_grad[1])
            gu = None if gua is None else from_array(gua)
            gm = None if gma is None else from_array(gma)
        return _real_if(gu, ctx.real_input), gm, None


_ENGINES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def multichannel_engine(op: FourF) -> MultiChannel4f:
    """The channel-mixing engine of ``op`` (cached for as long as the operator lives)."""
    eng = _ENGINES.get(op)
    if eng is None:
        eng = _ENGINES[op] = MultiChannel4f(op)
    return eng


def spectral_conv(u: torch.Tensor, masks: torch.Tensor, op: FourF) -> torch.Tensor:
    """Multi-channel 4f convolution: ``v[b, o] = sum_i op.apply(u[b, i], masks[o, i])``.

    Each (output, input) channel pair is one optical pass through the 4f
    system ``op`` (a convolution, not a correlation: see :mod:`optics4f.kernels`);
    the input channels are summed electronically (time multiplexing). The
    sum is taken in the Fourier plane, which is exact because the optics is
    linear, so the cost is one lens-1 transform per input channel and one
    lens-2 transform per output channel.

    Parameters
    ----------
    u : Tensor (B, Cin, ny, nx)
        Input fields (real or complex) on ``op.in_grid``.
    masks : Tensor (Cout, Cin, My, Mx), complex
        Fourier-plane masks, centred order on ``op.fourier_grid``.
    op : FourF
        Geometry; its dtype sets the precision (complex64 or complex128).

    Returns
    -------
    Tensor (B, Cout, ny, nx), complex: output fields on ``op.out_grid``.
    """
    if not isinstance(op, FourF):
        raise TypeError(f"op must be an optics4f.FourF, got {type(op).__name__}")
    _check_tensor(u, "u")
    _check_tensor(masks, "masks")
    check_precision(u, op, "u")
    if not masks.is_complex():
        raise TypeError("masks must be complex; build phase-only masks with optics4f.torch.phase_mask(phase)")
    check_precision(masks, op, "masks")
    if u.device != masks.device:
        raise ValueError(f"u is on {u.device} but masks are on {masks.device}; move them to one device")
    return _SpectralConv.apply(u, masks, multichannel_engine(op))


def phase_mask(phase: torch.Tensor, amplitude: torch.Tensor | float | None = None) -> torch.Tensor:
    """Mask ``amplitude * exp(i phase)`` (phase in rad) with torch autograd through the phase.

    float32 phases give complex64 masks, float64 phases complex128.
    """
    _check_tensor(phase, "phase")
    if phase.is_complex():
        raise TypeError("phase must be real (radians)")
    amp = torch.ones_like(phase) if amplitude is None else torch.as_tensor(amplitude, dtype=phase.dtype,
                                                                           device=phase.device)
    return torch.polar(amp.expand_as(phase) if amp.shape != phase.shape else amp, phase)
