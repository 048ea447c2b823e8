"""Centred zero padding and cropping over the last two axes.

The pad places pixel N//2 (the optical axis) on pixel M//2 of the padded
array when M - N is even, so the axis stays on the axis.
"""
from __future__ import annotations

from .backend import get_xp
from .typing import Array

__all__ = ["pad_center", "crop_center", "center_offsets"]


def center_offsets(small: tuple[int, int], big: tuple[int, int]) -> tuple[int, int]:
    """Offsets (oy, ox) of a centred ``small`` window inside ``big`` (both (ny, nx))."""
    return tuple(b // 2 - s // 2 for s, b in zip(small, big))


def pad_center(u: Array, shape: tuple[int, int], out: Array | None = None) -> Array:
    """Zero-pad ``u`` (..., ny, nx) to (..., *shape), centred; writes into ``out`` if given."""
    xp = get_xp(u)
    ny, nx = u.shape[-2:]
    if shape[0] < ny or shape[1] < nx:
        raise ValueError(f"cannot pad shape {(ny, nx)} to the smaller shape {tuple(shape)}")
    if out is None:
        out = xp.zeros(u.shape[:-2] + tuple(shape), dtype=u.dtype)
    else:
        out[...] = 0
    oy, ox = center_offsets((ny, nx), shape)
    out[..., oy:oy + ny, ox:ox + nx] = u
    return out


def crop_center(u: Array, shape: tuple[int, int]) -> Array:
    """Centred (..., *shape) window of ``u`` (a view)."""
    ny, nx = u.shape[-2:]
    if shape[0] > ny or shape[1] > nx:
        raise ValueError(f"cannot crop shape {(ny, nx)} to the larger shape {tuple(shape)}")
    oy, ox = center_offsets(shape, (ny, nx))
    return u[..., oy:oy + shape[0], ox:ox + shape[1]]
