"""Nonlinear CNN teacher for classification: [conv -> ReLU -> max-pool] x L -> MLP head.

The digital network whose soft labels the linear optical student learns by
knowledge distillation (Xiang et al. 2022). Convolutions are
``torch.nn.Conv2d`` (cross-correlations; the optics convolves, which only
matters when kernels are moved between the two).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = ["TeacherCNN"]


class TeacherCNN(nn.Module):
    """Classification CNN.

    Parameters
    ----------
    in_channels : int
    image_size : int or (H, W)
        Pixels; each block halves it (floor).
    n_classes : int
    widths : sequence of int
        Channels of each conv block.
    kernel_size : int
        Odd; 'same' padding.
    hidden : int
        Width of the hidden fully connected layer (0 = none).
    dropout : float
        Dropout before the last layer.
    """

    def __init__(self, in_channels: int = 1, image_size=28, n_classes: int = 10,
                 widths: Sequence[int] = (16, 32), kernel_size: int = 3, hidden: int = 64, dropout: float = 0.0):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (for 'same' padding), got {kernel_size}")
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        blocks: list[nn.Module] = []
        c = in_channels
        for width in widths:
            blocks += [nn.Conv2d(c, width, kernel_size, padding=kernel_size // 2), nn.ReLU(), nn.MaxPool2d(2)]
            c, h, w = width, h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"image_size {image_size} is too small for {len(widths)} pooling blocks; "
                             f"use fewer widths")
        self.features = nn.Sequential(*blocks)
        head: list[nn.Module] = [nn.Flatten()]
        feats = c * h * w
        if hidden:
            head += [nn.Linear(feats, hidden), nn.ReLU()]
            feats = hidden
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(feats, n_classes))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
