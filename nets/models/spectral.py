"""The SCLC student's linear optical front end in pure torch: spectral convolutions and
spectral pooling on one padded grid, and their collapse into one Fourier mask per channel pair.

Conventions (the same as :mod:`optics4f.kernels` and :class:`optics4f.FourF`):

* A layer *convolves* (it does not cross-correlate like ``torch.nn.Conv2d``).
  A real kernel k (kh, kw) is embedded on the padded grid (My, Mx) with its
  centre pixel (kh//2, kw//2) on the optical axis (My//2, Mx//2); its mask is
  the centred DFT H = fftshift(fft2(ifftshift(k_embedded))), dimensionless
  (a centred delta kernel gives H = 1). ``optics4f.kernel_to_mask(k, (My, Mx))``
  returns the same array.
* The image enters as a real field amplitude (the display), zero-padded
  (centred) from (H, W) to (My, Mx). Every layer is a circular convolution on
  that padded grid: field -> fft2 -> times ifftshift(H) -> ifft2. Nothing is
  cropped between layers, so the whole linear stack is exactly one mask per
  (output, input) channel pair: :meth:`SpectralStack.collapse`. The padded
  grid is made large enough (My >= H + sum(kh - 1)) that the circular
  convolutions equal linear ones on the kept window.
* Spectral pooling is a low-pass aperture in the Fourier plane (a 0/1 mask,
  symmetric about the zero frequency so real fields stay real), not a change
  of grid: the grid stays (My, Mx); a camera with coarser pixels (binning,
  in :mod:`nets.models.student`) does the downsampling.
* The front end's output is the cropped (H, W) complex field. A 4f system
  with these masks (``optics4f.FourF(..., pad)`` on the same padded grid)
  gives the same field inverted about the axis and times -(f1/f2).

There is no nonlinearity anywhere in this module: the output field is linear
in the input image (tested).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

__all__ = [
    "padded_extent",
    "lowpass_aperture",
    "embed_kernels",
    "kernels_to_masks",
    "apply_masks",
    "pad_center",
    "crop_center",
    "SpectralConv2d",
    "SpectralPool2d",
    "SpectralStack",
]


def padded_extent(n: int, kernel_sizes: Sequence[int]) -> int:
    """Smallest padded length M >= n + sum(k - 1) with M - n even (so the axis stays centred).

    With it, the circular convolutions of a stack of kernels of these sizes
    never wrap around onto the kept (centred) window of n samples.
    """
    if n < 1:
        raise ValueError(f"image size must be >= 1 pixel, got {n}")
    m = n + sum(int(k) - 1 for k in kernel_sizes)
    return m + (m - n) % 2


def _pair(v, name):
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair (ny, nx), got {v!r}")
    return v


def pad_center(x: torch.Tensor, shape) -> torch.Tensor:
    """Zero-pad (..., h, w) to (..., *shape), pixel h//2 landing on shape[0]//2 (as ``optics4f.pad_center``)."""
    h, w = x.shape[-2:]
    my, mx = shape
    if my < h or mx < w:
        raise ValueError(f"cannot pad {(h, w)} to the smaller shape {tuple(shape)}")
    oy, ox = my // 2 - h // 2, mx // 2 - w // 2
    return nn.functional.pad(x, (ox, mx - w - ox, oy, my - h - oy))


def crop_center(x: torch.Tensor, shape) -> torch.Tensor:
    """Centred (..., *shape) window of (..., My, Mx) (inverse of :func:`pad_center`)."""
    my, mx = x.shape[-2:]
    h, w = shape
    oy, ox = my // 2 - h // 2, mx // 2 - w // 2
    return x[..., oy:oy + h, ox:ox + w]


def lowpass_aperture(shape, factor: float, kind: str = "rect", dtype=torch.float32) -> torch.Tensor:
    """Spectral-pooling aperture (My, Mx) in centred order: 1 inside, 0 outside.

    Keeps the spatial frequencies a grid ``factor`` times coarser can carry:
    |j| <= M / (2 factor) for the centred frequency index j (frequency
    j / (M dx)), per axis (``kind="rect"``, like cropping the spectrum in
    Rippel et al.'s spectral pooling) or (jy/ry)^2 + (jx/rx)^2 <= 1
    (``kind="circ"``, a round iris). The aperture is symmetric in j, so a real
    field stays real. ``factor`` = 1 keeps everything.
    """
    if not factor >= 1:
        raise ValueError(f"spectral pooling factor must be >= 1 (1 = no pooling), got {factor!r}")
    my, mx = _pair(shape, "shape")
    jy = (torch.arange(my, dtype=torch.float64) - my // 2)[:, None]
    jx = (torch.arange(mx, dtype=torch.float64) - mx // 2)[None, :]
    ry, rx = my / (2.0 * factor), mx / (2.0 * factor)
    if kind == "rect":
        keep = (jy.abs() <= ry) & (jx.abs() <= rx)
    elif kind == "circ":
        keep = (jy / ry) ** 2 + (jx / rx) ** 2 <= 1.0
    else:
        raise ValueError(f"aperture kind must be 'rect' or 'circ', got {kind!r}")
    return keep.to(dtype)


def embed_kernels(kernels: torch.Tensor, shape) -> torch.Tensor:
    """Kernels (..., kh, kw) placed on a (..., My, Mx) zero grid, centre pixel on the axis (My//2, Mx//2)."""
    kh, kw = kernels.shape[-2:]
    if kh > shape[0] or kw > shape[1]:
        raise ValueError(f"kernel {(kh, kw)} does not fit the padded grid {tuple(shape)}")
    my, mx = shape
    oy, ox = my // 2 - kh // 2, mx // 2 - kw // 2
    return nn.functional.pad(kernels, (ox, mx - kw - ox, oy, my - kh - oy))


def kernels_to_masks(kernels: torch.Tensor, shape) -> torch.Tensor:
    """Centred Fourier masks (..., My, Mx) (complex) of convolution kernels (..., kh, kw); differentiable.

    Equal to ``optics4f.kernel_to_mask(kernels, shape)`` (centred DFT of the embedded kernel).
    """
    emb = embed_kernels(kernels, shape)
    if not emb.is_complex():
        emb = emb.to(torch.complex128 if emb.dtype == torch.float64 else torch.complex64)
    return torch.fft.fftshift(torch.fft.fft2(torch.fft.ifftshift(emb, dim=(-2, -1))), dim=(-2, -1))


def apply_masks(field: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Circular convolution of padded fields (N, Cin, My, Mx) by centred masks (Cout, Cin, My, Mx).

    out[n, o] = ifft2( sum_i ifftshift(masks[o, i]) * fft2(field[n, i]) ), shape (N, Cout, My, Mx).
    """
    if masks.ndim != 4 or field.ndim != 4 or masks.shape[1] != field.shape[1] \
            or masks.shape[-2:] != field.shape[-2:]:
        raise ValueError(f"masks {tuple(masks.shape)} (Cout, Cin, My, Mx) do not match the fields "
                         f"{tuple(field.shape)} (N, Cin, My, Mx)")
    spec = torch.fft.fft2(field)
    out = torch.einsum("oiyx,niyx->noyx", torch.fft.ifftshift(masks, dim=(-2, -1)), spec)
    return torch.fft.ifft2(out)


class SpectralConv2d(nn.Module):
    """One linear spectral convolution on the padded grid (a 4f pass per channel pair, summed).

    The trainable parameter is a real kernel ``weight`` (Cout, Cin, k, k), so
    each mask is the spectrum of a compact real kernel (what a Conv2d layer of
    the teacher would learn, but convolving); ``mask()`` gives its Fourier
    masks (Cout, Cin, My, Mx). Optional ``bias`` is not offered: a bias is not
    linear and has no place in a 4f system.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padded_shape):
        super().__init__()
        if kernel_size < 1 or in_channels < 1 or out_channels < 1:
            raise ValueError(f"in_channels, out_channels and kernel_size must be >= 1, got "
                             f"{in_channels}, {out_channels}, {kernel_size}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, int(kernel_size)
        self.padded_shape = _pair(padded_shape, "padded_shape")
        w = torch.empty(out_channels, in_channels, kernel_size, kernel_size)
        # Same fan-in scale as Conv2d's default, so the stack neither grows nor vanishes.
        nn.init.kaiming_uniform_(w, a=math.sqrt(5))
        self.weight = nn.Parameter(w)

    def mask(self) -> torch.Tensor:
        return kernels_to_masks(self.weight, self.padded_shape)

    def forward(self, field: torch.Tensor) -> torch.Tensor:
        return apply_masks(field, self.mask().to(field.dtype))

    def extra_repr(self):
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padded={self.padded_shape}"


class SpectralPool2d(nn.Module):
    """Spectral pooling as a Fourier-plane low-pass aperture (see :func:`lowpass_aperture`)."""

    def __init__(self, factor: float, padded_shape, kind: str = "rect"):
        super().__init__()
        self.factor, self.kind = float(factor), kind
        self.padded_shape = _pair(padded_shape, "padded_shape")
        self.register_buffer("aperture", lowpass_aperture(self.padded_shape, factor, kind), persistent=False)

    def mask(self) -> torch.Tensor:
        return self.aperture

    def forward(self, field: torch.Tensor) -> torch.Tensor:
        ap = torch.fft.ifftshift(self.aperture, dim=(-2, -1)).to(field.real.dtype)
        return torch.fft.ifft2(torch.fft.fft2(field) * ap)

    def extra_repr(self):
        return f"factor={self.factor}, kind={self.kind!r}"


class SpectralStack(nn.Module):
    """Linear stack: [spectral conv, optional spectral pooling] x L on one padded grid.

    Parameters
    ----------
    in_channels : int
        Channels of the input image (1 for grey).
    image_size : int or (H, W)
        Input image size, pixels of the display.
    channels : sequence of int
        Output channels of each spectral conv layer.
    kernel_sizes : int or sequence of int
        Kernel size (pixels, odd preferred) of each layer.
    pool : None, float or sequence of (float or None)
        Spectral pooling factor after each layer (None or 1 = none).
    pool_kind : "rect" or "circ"
        Aperture shape.
    padded_size : int or (My, Mx), optional
        The padded grid; default the smallest on which no convolution wraps
        (:func:`padded_extent`).

    ``forward(x)``: real image (N, Cin, H, W) -> complex field (N, Cout, H, W).
    ``collapse()``: masks (Cout, Cin, My, Mx) with ``forward_masks(x, collapse())`` == ``forward(x)``.
    """

    def __init__(self, in_channels: int = 1, image_size=28, channels=(8,), kernel_sizes=5, pool=None,
                 pool_kind: str = "rect", padded_size=None):
        super().__init__()
        channels = [int(c) for c in (channels if isinstance(channels, (list, tuple)) else [channels])]
        if not channels:
            raise ValueError("channels must list at least one layer, e.g. channels=(8,)")
        n = len(channels)
        ks = [int(kernel_sizes)] * n if isinstance(kernel_sizes, int) else [int(k) for k in kernel_sizes]
        pools = [pool] * n if pool is None or isinstance(pool, (int, float)) else list(pool)
        if len(ks) != n or len(pools) != n:
            raise ValueError(f"kernel_sizes {ks} and pool {pools} must have one entry per layer "
                             f"(channels={channels})")
        self.in_channels, self.out_channels = int(in_channels), channels[-1]
        self.image_size = _pair(image_size, "image_size")
        if padded_size is None:
            self.padded_shape = tuple(padded_extent(s, ks) for s in self.image_size)
        else:
            self.padded_shape = _pair(padded_size, "padded_size")
            if any(m < s for m, s in zip(self.padded_shape, self.image_size)):
                raise ValueError(f"padded_size {self.padded_shape} is smaller than image_size {self.image_size}")
        layers = []
        c = self.in_channels
        for cout, k, p in zip(channels, ks, pools):
            layers.append(SpectralConv2d(c, cout, k, self.padded_shape))
            if p is not None and p != 1:
                layers.append(SpectralPool2d(p, self.padded_shape, pool_kind))
            c = cout
        self.layers = nn.ModuleList(layers)

    def _field(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or tuple(x.shape[-2:]) != self.image_size:
            raise ValueError(f"input must be (N, {self.in_channels}, {self.image_size[0]}, {self.image_size[1]}), "
                             f"got {tuple(x.shape)}")
        if not x.is_complex():
            x = x.to(torch.complex128 if x.dtype == torch.float64 else torch.complex64)
        return pad_center(x, self.padded_shape)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        """Field on the whole padded grid (N, Cout, My, Mx), layer after layer (no crop)."""
        f = self._field(x)
        for layer in self.layers:
            f = layer(f)
        return f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return crop_center(self.forward_padded(x), self.image_size)

    def collapse(self) -> torch.Tensor:
        """One effective centred Fourier mask per (output, input) channel pair, (Cout, Cin, My, Mx).

        The product, frequency by frequency, of every layer's channel-mixing
        mask matrix and every pooling aperture; for a grey input (Cin = 1)
        ``collapse()[:, 0]`` is one mask per output channel, ready for
        ``optics4f.FourF`` on the padded grid (``pad = My / H``).
        """
        eff = None
        for layer in self.layers:
            m = layer.mask()
            if isinstance(layer, SpectralPool2d):
                eff = eff * m.to(eff.real.dtype)
            else:
                eff = m if eff is None else torch.einsum("okyx,kiyx->oiyx", m.to(eff.dtype), eff)
        return eff

    def forward_masks(self, x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Front-end output (N, Cout, H, W) of masks (Cout, Cin, My, Mx) applied in one pass."""
        f = self._field(x)
        return crop_center(apply_masks(f, masks.to(f.dtype)), self.image_size)
