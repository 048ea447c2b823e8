"""Small U-Net segmentation teacher (Ronneberger et al. 2015, shrunk): per-pixel class logits."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["UNet"]


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class UNet(nn.Module):
    """Encoder-decoder with skip connections.

    Parameters
    ----------
    in_channels, n_classes : int
    base : int
        Channels of the first level; doubled at each level down.
    depth : int
        Number of 2x downsamplings; H and W must be divisible by 2**depth.

    ``forward``: (N, Cin, H, W) -> logits (N, n_classes, H, W).
    """

    def __init__(self, in_channels: int = 1, n_classes: int = 2, base: int = 16, depth: int = 2):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.depth = depth
        chans = [base * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        c = in_channels
        for ch in chans[:-1]:
            self.down.append(_block(c, ch))
            c = ch
        self.bottom = _block(c, chans[-1])
        self.up = nn.ModuleList(nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(depth)))
        self.dec = nn.ModuleList(_block(2 * chans[i], chans[i]) for i in reversed(range(depth)))
        self.out = nn.Conv2d(chans[0], n_classes, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = 2 ** self.depth
        if x.shape[-1] % k or x.shape[-2] % k:
            raise ValueError(f"UNet of depth {self.depth} needs H and W divisible by {k}, got "
                             f"{tuple(x.shape[-2:])}; resize/pad the images or lower depth")
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.out(x)
