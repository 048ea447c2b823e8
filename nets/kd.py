"""Knowledge-distillation losses (Hinton et al. 2015), as used by Xiang et al. 2022 for SCLC students.

    L = alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, y)

with teacher logits t, student logits s, labels y, temperature T. The T^2
keeps the soft-target gradients on the scale of the hard-label ones as T
grows. Defaults T = 10, alpha = 0.5 (the reference implementation's values).

KL is the true per-sample divergence (summed over classes, averaged over
samples, i.e. ``reduction="batchmean"``); note that ``nn.KLDivLoss()`` with its
default ``reduction="mean"`` would further divide by the number of classes.
For segmentation the logits are (N, K, H, W) and both terms are per pixel,
averaged over all N*H*W pixels (pixel-wise KD).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["kd_loss", "soft_kl", "pseudo_labels", "DEFAULT_T", "DEFAULT_ALPHA"]

DEFAULT_T = 10.0
DEFAULT_ALPHA = 0.5


def soft_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float = DEFAULT_T) -> torch.Tensor:
    """KL(softmax(t/T) || softmax(s/T)) over the class axis 1, averaged over samples (and pixels)."""
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape (N, K[, H, W])")
    log_s = F.log_softmax(student_logits / T, dim=1)
    log_t = F.log_softmax(teacher_logits.detach() / T, dim=1)
    kl = F.kl_div(log_s, log_t, log_target=True, reduction="none").sum(dim=1)
    return kl.mean()


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor | None, target: torch.Tensor,
            T: float = DEFAULT_T, alpha: float = DEFAULT_ALPHA) -> torch.Tensor:
    """KD loss (module docstring). Logits (N, K) or (N, K, H, W); ``target`` int64 (N) or (N, H, W), or
    class probabilities shaped like the logits (e.g. mixup's mixed one-hot labels).

    ``alpha = 0`` (or ``teacher_logits=None``) gives plain cross-entropy: the
    linear baseline trained without KD. The teacher gets no gradient.
    """
    if not T > 0:
        raise ValueError(f"temperature T must be > 0, got {T!r}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    ce = F.cross_entropy(student_logits, target)
    if teacher_logits is None or alpha == 0:
        if teacher_logits is None and alpha != 0:
            raise ValueError("kd_loss with alpha > 0 needs teacher_logits; pass alpha=0 for cross-entropy only")
        return ce
    return alpha * T * T * soft_kl(student_logits, teacher_logits, T) + (1.0 - alpha) * ce


@torch.no_grad()
def pseudo_labels(teacher: torch.nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """The teacher's hard labels (argmax over classes, int64 (N) or (N, H, W)) of unlabelled ``images``
    (N, C, H, W), computed in eval mode on the teacher's device: the targets of the cross-entropy term
    of :func:`kd_loss` for images without ground truth (the KL term sees the teacher's logits anyway)."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, C, H, W) batch, got shape {tuple(images.shape)}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    was_training = teacher.training
    teacher.eval()
    dev = next(teacher.parameters()).device
    try:
        return torch.cat([teacher(images[i:i + batch_size].to(dev)).argmax(1).cpu()
                          for i in range(0, len(images), int(batch_size))])
    finally:
        teacher.train(was_training)
