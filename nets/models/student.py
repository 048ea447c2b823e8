"""SCLC students: optical front end -> detector -> electronic back end.

* :class:`SCLCClassifier`: linear spectral front end, camera (|v|^2 or the
  field), pixel binning, a fully connected back end.
* :class:`SCLCSegmenter`: the same front end with a light electronic decoder
  (``decoder_depth`` 3x3 convolutions and a 1x1 one) giving per-pixel class logits.

The front end is a swappable module, ``student.frontend``: anything mapping a
real image (N, Cin, H, W) in [0, 1] (displayed as field amplitude) to the field
(N, Cout, H, W) (complex) at the camera (any size: the back end is sized by a
dry run). The ideal digital one is
:class:`nets.models.spectral.SpectralStack`; the hardware one (phase-only SLM,
bit depth, camera) comes from the torch bridge, ``optics4f.torch``. A front
end that already returns a detected intensity (a simulated camera) sets the
attribute ``detects = True``; the student then skips its own detector.

The detector is the only nonlinearity between the display and the electronics,
and it is the physical one (the camera).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .spectral import SpectralStack

__all__ = ["Detector", "SCLCClassifier", "SCLCSegmenter", "build_frontend", "DETECTORS"]

DETECTORS = ("intensity", "field")


class Detector(nn.Module):
    """Camera model on a field (N, C, H, W) complex -> real (N, C, H/b, W/b).

    mode "intensity": |v|^2 (a camera; energy per pixel in the units of |v|^2);
    mode "field": Re(v) (coherent detection against a reference in phase with
    the ideal real output, e.g. for the fully linear digital baseline).
    ``binning`` b sums b x b pixels (a camera pixel b times the display pitch).
    """

    def __init__(self, mode: str = "intensity", binning: int = 1):
        super().__init__()
        if mode not in DETECTORS:
            raise ValueError(f"detector must be one of {DETECTORS}, got {mode!r}")
        if int(binning) < 1:
            raise ValueError(f"binning must be an integer >= 1, got {binning!r}")
        self.mode, self.binning = mode, int(binning)

    def detect(self, v: torch.Tensor) -> torch.Tensor:
        if not v.is_complex():
            return v if self.mode == "field" else v * v
        return v.real if self.mode == "field" else v.real ** 2 + v.imag ** 2

    def bin(self, i: torch.Tensor) -> torch.Tensor:
        b = self.binning
        if b == 1:
            return i
        if i.shape[-1] % b or i.shape[-2] % b:
            raise ValueError(f"camera binning {b} must divide the image size {tuple(i.shape[-2:])}")
        return nn.functional.avg_pool2d(i, b) * (b * b)  # summed energy, not the mean

    def forward(self, v: torch.Tensor, detected: bool = False) -> torch.Tensor:
        return self.bin(v if detected else self.detect(v))

    def extra_repr(self):
        return f"mode={self.mode!r}, binning={self.binning}"


def build_frontend(kind: str = "ideal", **kw) -> nn.Module:
    """Optical front end by name: "ideal" -> :class:`SpectralStack` (kw: its arguments);
    "hardware" -> the bridge's hardware 4f layer stack (``optics4f.torch``)."""
    if kind == "ideal":
        return SpectralStack(**kw)
    if kind == "hardware":
        from .hardware import HardwareFrontend

        return HardwareFrontend(**kw)
    raise ValueError(f"frontend must be 'ideal' or 'hardware', got {kind!r}")


def _optics(frontend: str, frontend_kw, detector: str, binning: int, **kw):
    """The optical front end and the camera shared by the classifier and the segmenter."""
    return build_frontend(frontend, **kw, **(frontend_kw or {})), Detector(detector, binning)


def _camera_shape(student, in_channels, image_size):
    """(C, h, w) of the detected image, from one dry run (front ends may bin or crop)."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    with torch.no_grad():
        return tuple(student.camera(torch.zeros(1, in_channels, h, w)).shape[1:])


class SCLCClassifier(nn.Module):
    """Linear optical front end + camera + fully connected electronic back end.

    Parameters
    ----------
    in_channels, image_size, n_classes :
        Input channels, image size (pixels, int or (H, W)) and classes.
    channels, kernel_sizes, pool, pool_kind, padded_size :
        The spectral stack (see :class:`SpectralStack`).
    detector : "intensity" or "field"
    binning : int
        Camera pixel binning (sum over binning x binning display pixels).
    hidden : sequence of int
        Hidden widths of the back end (ReLU between); () = one linear layer.
    norm : bool
        BatchNorm on the detected features (no affine): camera energies drift
        by orders of magnitude while the masks train.
    frontend : "ideal" or "hardware"
    frontend_kw : dict
        Extra arguments of a hardware front end.
    """

    def __init__(self, in_channels: int = 1, image_size=28, n_classes: int = 10, channels=(8,),
                 kernel_sizes=5, pool=None, pool_kind: str = "rect", padded_size=None,
                 detector: str = "intensity", binning: int = 1, hidden: Sequence[int] = (), norm: bool = True,
                 frontend: str = "ideal", frontend_kw: dict | None = None):
        super().__init__()
        self.frontend, self.detector = _optics(frontend, frontend_kw, detector, binning, in_channels=in_channels,
                                               image_size=image_size, channels=channels, kernel_sizes=kernel_sizes,
                                               pool=pool, pool_kind=pool_kind, padded_size=padded_size)
        c, h, w = _camera_shape(self, in_channels, image_size)
        feats = c * h * w
        layers: list[nn.Module] = [nn.Flatten()]
        if norm:
            layers.append(nn.BatchNorm1d(feats, affine=False))
        for h in hidden:
            layers += [nn.Linear(feats, int(h)), nn.ReLU()]
            feats = int(h)
        layers.append(nn.Linear(feats, n_classes))
        self.backend = nn.Sequential(*layers)

    def camera(self, x: torch.Tensor) -> torch.Tensor:
        """Detected image (N, Cout, H/b, W/b): what the electronics receive."""
        out = self.detector(self.frontend(x), detected=getattr(self.frontend, "detects", False))
        # A simulated camera keeps its own precision; the electronics follow the input's.
        return out.to(x.dtype) if x.is_floating_point() else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backend(self.camera(x))


class SCLCSegmenter(nn.Module):
    """Linear optical front end + camera + light electronic decoder (per-pixel logits (N, K, H, W)).

    The decoder: [BatchNorm2d] -> (3x3 conv (``decoder_width``) -> ReLU) x
    ``decoder_depth`` -> 1x1 conv to ``n_classes``, then bilinear upsampling
    back to (H, W) if the camera bins. Each 3x3 layer widens the electronic
    receptive field by 2 camera pixels. Other parameters as :class:`SCLCClassifier`.
    """

    def __init__(self, in_channels: int = 1, image_size=32, n_classes: int = 2, channels=(8,),
                 kernel_sizes=5, pool=None, pool_kind: str = "rect", padded_size=None,
                 detector: str = "intensity", binning: int = 1, decoder_width: int = 16, decoder_depth: int = 1,
                 norm: bool = True, frontend: str = "ideal", frontend_kw: dict | None = None):
        super().__init__()
        self.frontend, self.detector = _optics(frontend, frontend_kw, detector, binning, in_channels=in_channels,
                                               image_size=image_size, channels=channels, kernel_sizes=kernel_sizes,
                                               pool=pool, pool_kind=pool_kind, padded_size=padded_size)
        c = _camera_shape(self, in_channels, image_size)[0]
        layers: list[nn.Module] = [nn.BatchNorm2d(c, affine=False)] if norm else []
        if int(decoder_depth) != decoder_depth or decoder_depth < 1 or int(decoder_width) < 1:
            raise ValueError(f"decoder_depth and decoder_width must be integers >= 1, got {decoder_depth!r}, "
                             f"{decoder_width!r}")
        for _ in range(int(decoder_depth)):
            layers += [nn.Conv2d(c, decoder_width, 3, padding=1), nn.ReLU()]
            c = decoder_width
        layers.append(nn.Conv2d(decoder_width, n_classes, 1))
        self.decoder = nn.Sequential(*layers)

    def camera(self, x: torch.Tensor) -> torch.Tensor:
        out = self.detector(self.frontend(x), detected=getattr(self.frontend, "detects", False))
        # A simulated camera keeps its own precision; the electronics follow the input's.
        return out.to(x.dtype) if x.is_floating_point() else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.decoder(self.camera(x))
        if out.shape[-2:] != x.shape[-2:]:
            out = nn.functional.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return out
