"""Image transforms: resize to the optical resolution, centred padding, normalisation.

The optics gains by raising resolution (a 4f system convolves at any number of
pixels for the same cost), so a 28x28 digit is usually resized to the input
display's resolution and then placed, centred, on a larger dark canvas that
leaves room for the convolution's support.

Images are (..., H, W) arrays (leading batch and channel axes), NumPy arrays or
torch tensors; the result has the input's type. Sizes are pixels, ``int`` for a
square or ``(h, w)``.

- ``resize(x, size, "bilinear")``: bilinear interpolation at pixel centres
  (``align_corners=False``: output pixel j samples input coordinate
  (j + 1/2) H_in / H_out - 1/2), with a triangle anti-aliasing filter when
  shrinking. ``"area"``: the mean over each output pixel's footprint (exact
  block means for integer factors). ``"nearest"``: the input pixel whose centre
  is nearest, the later one on a tie (for label masks; a 2x shrink keeps the
  odd pixels). All three are convex combinations of input
  pixels, so values in [0, 1] stay in [0, 1].
- ``pad_to(x, size)``: zero (dark) padding with pixel H//2 of the image on pixel
  size//2 of the canvas (the optical axis convention of ``optics4f``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optics4f.padding import center_offsets

__all__ = ["as_size", "resize", "resize_mask", "pad_to", "to_optical", "ToOptical",
           "channel_stats", "normalize"]

RESIZE_MODES = ("bilinear", "area", "nearest")


def as_size(size, name: str = "size") -> tuple:
    """``size`` as a (h, w) tuple of positive ints; ``int`` means square."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    try:
        h, w = size
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in (h, w))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name}={size!r} must be a positive int or a (height, width) pair of positive ints")
    return int(h), int(w)


def _as_tensor(x):
    import torch

    if isinstance(x, torch.Tensor):
        return x, False
    return torch.from_numpy(np.ascontiguousarray(x)), True


def _lead(t, fn):
    """Apply ``fn`` to ``t`` reshaped (B, 1, H, W) and restore the leading axes."""
    lead = t.shape[:-2]
    out = fn(t.reshape((-1, 1) + tuple(t.shape[-2:])))
    return out.reshape(tuple(lead) + tuple(out.shape[-2:]))


def resize(x, size, mode: str = "bilinear"):
    """Resize the last two axes of float image ``x`` (..., H, W) to ``size`` pixels.

    ``mode``: "bilinear" (anti-aliased when shrinking), "area" or "nearest"; see the module
    docstring for the exact sampling. Returns the input's type and float dtype.
    """
    import torch.nn.functional as F

    h, w = as_size(size)
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode={mode!r} is not one of {RESIZE_MODES}")
    t, was_numpy = _as_tensor(x)
    if t.ndim < 2:
        raise ValueError(f"x must have at least 2 axes (..., H, W), got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        raise TypeError(f"x must be a float image (values in [0, 1]), got dtype {t.dtype}; "
                        "use resize_mask for integer label masks")
    if tuple(t.shape[-2:]) == (h, w):
        out = t.clone()
    elif mode == "bilinear":
        shrink = h < t.shape[-2] or w < t.shape[-1]
        out = _lead(t, lambda b: F.interpolate(b, size=(h, w), mode="bilinear", align_corners=False,
                                               antialias=shrink))
    elif mode == "area":
        out = _lead(t, lambda b: F.adaptive_avg_pool2d(b, (h, w)))
    else:
        out = _lead(t, lambda b: F.interpolate(b, size=(h, w), mode="nearest-exact"))
    return out.numpy() if was_numpy else out


def resize_mask(mask, size):
    """Resize integer label mask(s) ``mask`` (..., H, W) by nearest pixel centre; labels are kept."""
    import torch

    t, was_numpy = _as_tensor(mask)
    if t.is_floating_point() or t.is_complex():
        raise TypeError(f"mask must hold integer class labels, got dtype {t.dtype}")
    if t.numel() and int(t.abs().max()) >= 2 ** 24:  # exact in float32 below 2**24
        raise ValueError("mask labels must be below 2**24")
    out = resize(t.to(torch.float32), size, "nearest").round().to(t.dtype)
    return out.numpy() if was_numpy else out


def pad_to(x, size, value: float = 0.0):
    """Centre ``x`` (..., H, W) on a (..., h, w) canvas filled with ``value`` (0: dark).

    Pixel (H//2, W//2) of the image lands on pixel (h//2, w//2) of the canvas, the optical
    axis of ``optics4f``. ``size`` must be at least the image size.
    """
    h, w = as_size(size, "pad")
    t, was_numpy = _as_tensor(x)
    ny, nx = t.shape[-2:]
    if h < ny or w < nx:
        raise ValueError(f"pad={(h, w)} is smaller than the image ({ny}, {nx}); "
                         "resize to a smaller size or pad to a larger canvas")
    oy, ox = center_offsets((ny, nx), (h, w))
    out = t.new_full(tuple(t.shape[:-2]) + (h, w), value)
    out[..., oy:oy + ny, ox:ox + nx] = t
    return out.numpy() if was_numpy else out


def to_optical(x, size=None, pad=None, mode: str = "bilinear"):
    """Resize ``x`` to ``size`` (if given), then centre it on a ``pad`` canvas (if given)."""
    if size is not None:
        x = resize(x, size, mode)
    if pad is not None:
        x = pad_to(x, pad)
    return x


@dataclass(frozen=True)
class ToOptical:
    """Callable form of :func:`to_optical` (for images) that also handles a mask with ``mask=True``.

    Example: ``ToOptical(size=112, pad=224)(x)`` resizes 28x28 digits to 112x112 and centres them
    on a 224x224 dark canvas.
    """

    size: object = None
    pad: object = None
    mode: str = "bilinear"

    def __call__(self, x, mask: bool = False):
        if not mask:
            return to_optical(x, self.size, self.pad, self.mode)
        if self.size is not None:
            x = resize_mask(x, self.size)
        return pad_to(x, self.pad) if self.pad is not None else x


def channel_stats(x) -> tuple:
    """Per-channel mean and standard deviation of images ``x`` (N, C, H, W), as float64 NumPy arrays."""
    a = np.asarray(x.numpy() if hasattr(x, "numpy") else x, dtype=np.float64)
    if a.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {a.shape}")
    return a.mean(axis=(0, 2, 3)), a.std(axis=(0, 2, 3))


def normalize(x, mean, std):
    """``(x - mean) / std`` per channel of ``x`` (N, C, H, W) (for electronic teacher networks; the
    optical input stays in [0, 1])."""
    t, was_numpy = _as_tensor(x)
    m = np.asarray(mean, dtype=np.float64).reshape(-1)
    s = np.asarray(std, dtype=np.float64).reshape(-1)
    if t.ndim != 4 or m.size not in (1, t.shape[1]) or s.size not in (1, t.shape[1]):
        raise ValueError(f"mean/std need 1 or C values for x (N, C, H, W); got {m.size}, {s.size} "
                         f"for shape {tuple(t.shape)}")
    if np.any(s <= 0):
        raise ValueError(f"std={s.tolist()} must be positive")
    import torch

    mt = torch.as_tensor(m, dtype=t.dtype).reshape(1, -1, 1, 1)
    st = torch.as_tensor(s, dtype=t.dtype).reshape(1, -1, 1, 1)
    out = (t - mt) / st
    return out.numpy() if was_numpy else out
