"""Batch data augmentation for training: random affine views and mixup.

Used by :func:`nets.train.train` (config key ``augment``) on each training batch,
*before* the network and the teacher see it, so a KD teacher labels exactly the
view the student is trained on ("consistent" teaching, Beyer et al. 2022,
"Knowledge distillation: a good teacher is patient and consistent").

* Affine view: each image is rotated by an angle uniform in
  [-rotate, rotate] degrees, scaled by a factor uniform in [1 - scale, 1 + scale]
  and shifted by (dy, dx) uniform in [-shift, shift] pixels, about its centre;
  bilinear interpolation, dark (zero) outside the image, so values in [0, 1]
  stay in [0, 1].
* Mixup (Zhang et al. 2018): image i becomes lam_i x_i + (1 - lam_i) x_p(i), p a
  random permutation of the batch, lam_i ~ Beta(mixup, mixup); its target is the
  same mixture of the one-hot labels (a probability vector), which cross-entropy
  with a hard-label network can use, and a teacher's soft label replaces.

Random numbers come from torch's global CPU generator (``nets.train`` reseeds it
every epoch), so runs are reproducible and resume exactly.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch.nn import functional as F

__all__ = ["Augment", "DihedralViews", "affine_view", "warp", "mixup"]


@dataclass(frozen=True)
class Augment:
    """Augmentation settings.

    shift : float
        Largest translation, pixels (each axis, uniform).
    rotate : float
        Largest rotation, degrees (uniform, either sense).
    scale : float
        Largest relative change of size (factor uniform in [1 - scale, 1 + scale]).
    mixup : float
        Beta(mixup, mixup) parameter of the mixing weight; 0 = no mixup.
    """

    shift: float = 0.0
    rotate: float = 0.0
    scale: float = 0.0
    mixup: float = 0.0

    def __post_init__(self):
        for name in ("shift", "rotate", "scale", "mixup"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0):
                raise ValueError(f"augment {name} must be a finite number >= 0, got {v!r}")
        if self.scale >= 1:
            raise ValueError(f"augment scale must be < 1 (a factor in [1 - scale, 1 + scale]), got {self.scale!r}")

    @classmethod
    def from_any(cls, spec) -> "Augment | None":
        """``None`` or ``{}`` -> None (no augmentation); a dict of the fields -> Augment."""
        if spec is None:
            return None
        if isinstance(spec, cls):
            return spec if spec.geometric or spec.mixup else None
        if not isinstance(spec, dict):
            raise TypeError(f"augment must be a dict with keys {sorted(asdict(cls()))} or None, "
                            f"got {type(spec).__name__}")
        unknown = set(spec) - set(asdict(cls()))
        if unknown:
            raise ValueError(f"unknown augment keys {sorted(unknown)}; known: {sorted(asdict(cls()))}")
        aug = cls(**spec)
        return aug if aug.geometric or aug.mixup else None

    @property
    def geometric(self) -> bool:
        return bool(self.shift or self.rotate or self.scale)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, n_classes: int):
        """Augmented batch: (x', target'), target' the int labels, or (N, K) probabilities with mixup."""
        if x.ndim != 4:
            raise ValueError(f"augment works on image batches (N, C, H, W), got shape {tuple(x.shape)}")
        if y.ndim != 1:
            raise ValueError("augment is for classification (labels of shape (N,)): a segmentation mask "
                             "would need the same transform; remove 'augment' from the config")
        if self.geometric:
            x = affine_view(x, self.shift, self.rotate, self.scale)
        if self.mixup:
            x, y = mixup(x, y, n_classes, self.mixup)
        return x, y


def affine_view(x: torch.Tensor, shift: float = 0.0, rotate: float = 0.0, scale: float = 0.0) -> torch.Tensor:
    """Each image of ``x`` (N, C, H, W) randomly rotated (deg), scaled and shifted (pixels); see the module."""
    u = torch.rand(x.shape[0], 4, dtype=torch.float64) * 2 - 1  # on the CPU generator, whatever x's device
    return warp(x, u[:, 0] * rotate, 1 + u[:, 1] * scale, u[:, 2] * shift, u[:, 3] * shift)


def warp(x: torch.Tensor, angle, factor, dy, dx) -> torch.Tensor:
    """Images ``x`` (N, C, H, W) rotated by ``angle`` (deg, counter-clockwise as displayed with row 0 at the
    top), scaled by ``factor`` about the centre, then shifted by ``dy`` rows down and ``dx`` columns right
    (pixels); each argument a scalar or one value per image. Bilinear, zero outside."""
    n, _, h, w = x.shape
    t = torch.deg2rad(torch.as_tensor(angle, dtype=torch.float64)).expand(n)
    s, dy, dx = (torch.as_tensor(v, dtype=torch.float64).expand(n) for v in (factor, dy, dx))
    # Output pixel P (centred pixel coordinates, x right, y down) samples the input at A (P - d),
    # A = R(theta) / s; R(theta) with y down turns the content counter-clockwise on screen.
    # affine_grid works in normalised coordinates (X = x * 2 / W, align_corners=False).
    c, sn = torch.cos(t) / s, torch.sin(t) / s
    a = torch.zeros(n, 2, 3, dtype=torch.float64)
    a[:, 0, 0], a[:, 0, 1] = c, -sn * h / w
    a[:, 1, 0], a[:, 1, 1] = sn * w / h, c
    a[:, 0, 2] = -(c * dx - sn * dy) * 2 / w
    a[:, 1, 2] = -(sn * dx + c * dy) * 2 / h
    grid = F.affine_grid(a.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def mixup(x: torch.Tensor, y: torch.Tensor, n_classes: int, alpha: float):
    """(lam x + (1 - lam) x[p], lam onehot(y) + (1 - lam) onehot(y[p])), lam ~ Beta(alpha, alpha) per image."""
    n = x.shape[0]
    lam = torch.distributions.Beta(float(alpha), float(alpha)).sample((n,))
    perm = torch.randperm(n)
    lam_x = lam.to(x.device, x.dtype).view(n, *([1] * (x.ndim - 1)))
    p = perm.to(x.device)
    onehot = F.one_hot(y, n_classes).to(x.dtype)
    lam_y = lam.to(x.device, x.dtype)[:, None]
    return lam_x * x + (1 - lam_x) * x[p], lam_y * onehot + (1 - lam_y) * onehot[p]


class DihedralViews:
    """Training views of a segmentation set (a Dataset of (image, mask) pairs): each item drawn under a
    random one of the 8 flips / 90-degree rotations of the square, the same one for image and mask.

    For data whose law has that symmetry, as ``synthetic-seg`` (shapes at uniform random angles, centres
    in [0.2, 0.8]^2), the views add no label noise. The draw uses torch's global generator, which
    ``nets.train`` reseeds every epoch: runs are reproducible. Wrap the training set only. With KD the
    teacher labels the very view the student sees.
    """

    def __init__(self, base):
        self.base = base
        self.classes = base.classes

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        k, flip = int(torch.randint(0, 4, ())), bool(torch.randint(0, 2, ()))
        x, y = torch.rot90(x, k, (-2, -1)), torch.rot90(y, k, (-2, -1))
        if flip:
            x, y = x.flip(-1), y.flip(-1)
        return x.contiguous(), y.contiguous()
