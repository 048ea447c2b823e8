"""Multi-channel layouts of a 4f system: output channels tiled on the camera.

Several output channels share one optical pass: channel c's Fourier mask H_c
gets the linear phase exp(2 pi i (x_c u + y_c v) / (lambda f2)), which moves
its output by (y_c, x_c) in the output plane (lens convention of
:mod:`optics4f.lens`: FL2 of H(u) e^{2 pi i x_c u / (lambda f2)} is
FL2(H)(x - x_c)). The channel masks are summed into one complex mask, so the
output *field* is the sum of the shifted channel outputs; tile c of the
camera reads channel c alone as long as the channel outputs (input extent +
kernel extent) fit their tiles. Offsets are whole output samples, so the
shift is exact on the sampled grid: with dx' = dx f2/f1 and u_k = (k - M//2)
lambda f1 / (M dx), the ramp is exp(2 pi i m (k - M//2) / M), a circular shift
by m samples of the padded output.

Input channels cannot share a coherent pass (their outputs would interfere),
so :class:`optics4f.system.hardware4f.Hardware4f` either time-multiplexes
them (``forward``: one pass and one exposure per input channel with that
channel's tiled mask, the camera frames summed electronically) or puts them
on different wavelengths (``forward_wavelengths``: mutually incoherent, one
exposure, but one shared SLM frame, which each wavelength sees at its own
Fourier scale).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..backend import get_xp
from ..grid import Grid
from ..typing import Array, Pitch, Shape2

__all__ = ["TiledLayout"]


def _square_arrangement(n: int) -> tuple:
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def _odd_arrangement(n: int) -> tuple:
    """The most square (rows, cols), both odd, with rows * cols >= n."""
    best = None
    for rows in range(1, 2 * n + 2, 2):
        cols = math.ceil(n / rows)
        cols += 1 - cols % 2
        key = (max(rows, cols), rows * cols, rows)
        if best is None or key < best[0]:
            best = (key, (rows, cols))
    return best[1]


def _to_output_samples(image, k: float):
    """Camera frame (..., ny, nx) of pixels k output samples wide -> (..., ceil(n k) + 2) samples,
    centred on the same axis, counts conserved (each pixel's spread over the samples it covers)."""
    from ..devices.render import render_pixels

    ny, nx = image.shape[-2:]
    shape = (int(np.ceil(ny * k)) + 2, int(np.ceil(nx * k)) + 2)
    return render_pixels(image, k, shape, 1.0) / (k * k)


@dataclass
class TiledLayout:
    """Output channels on a (rows, cols) grid of tiles in the output plane.

    Attributes
    ----------
    n_channels : int
        Output channels.
    tile_shape : (th, tw)
        Tile size in output-plane samples (make it >= input extent + kernel extent - 1
        so neighbouring channels do not overlap, and a multiple of the camera's
        samples per pixel so tiles fall on whole camera pixels).
    arrangement : (rows, cols) or None
        None: the most square arrangement with rows * cols >= n_channels.
    gap : int
        Dark samples between neighbouring tiles.
    skip_axis : bool
        Leave the tile on the optical axis empty. A phase SLM's inactive pixel area transmits
        unmodulated light, which images the input on the axis (the zero order); a tile there
        would read it as signal. With ``arrangement`` None the arrangement is then the most
        square one with odd rows and columns and a spare centre tile.
    """

    n_channels: int = 1
    tile_shape: tuple = (64, 64)
    arrangement: tuple | None = None
    gap: int = 0
    skip_axis: bool = False

    def __post_init__(self):
        if int(self.n_channels) != self.n_channels or self.n_channels < 1:
            raise ValueError(f"n_channels must be a positive integer, got {self.n_channels!r}")
        self.n_channels = int(self.n_channels)
        from ..validate import shape2

        self.tile_shape = shape2("tile_shape", self.tile_shape)  # (4.5, 4) is refused, not truncated
        if int(self.gap) != self.gap or self.gap < 0:
            raise ValueError(f"gap must be a non-negative integer (samples), got {self.gap!r}")
        self.gap = int(self.gap)
        self.skip_axis = bool(self.skip_axis)
        slots = self.n_channels + self.skip_axis
        if self.arrangement is None:
            self.arrangement = _odd_arrangement(slots) if self.skip_axis else _square_arrangement(slots)
        else:
            self.arrangement = shape2("arrangement", self.arrangement)
            if self.arrangement[0] * self.arrangement[1] < slots:
                raise ValueError(f"arrangement (rows, cols) = {self.arrangement} holds fewer than "
                                 f"{slots} tiles (n_channels={self.n_channels}"
                                 f"{', plus the empty axis tile' if self.skip_axis else ''})")
            if self.skip_axis and not (self.arrangement[0] % 2 and self.arrangement[1] % 2):
                raise ValueError(f"skip_axis needs odd rows and columns (a tile centred on the axis), got "
                                 f"arrangement {self.arrangement}")

    @property
    def tile_pitch(self) -> tuple:
        """Centre-to-centre distance of tiles (samples)."""
        return self.tile_shape[0] + self.gap, self.tile_shape[1] + self.gap

    @property
    def extent(self) -> tuple:
        """Samples (height, width) covered by all tiles."""
        (r, c), (py, px) = self.arrangement, self.tile_pitch
        return (r - 1) * py + self.tile_shape[0], (c - 1) * px + self.tile_shape[1]

    def offsets(self) -> np.ndarray:
        """(C, 2) integer offsets (my, mx) of the tile centres from the optical axis, output samples.

        Channel c sits in row c // cols, column c % cols (row 0 at negative y).
        """
        (rows, cols), (py, px) = self.arrangement, self.tile_pitch
        c = np.arange(self.n_channels)
        if self.skip_axis:  # slots after the centre one move up by one
            c = c + (c >= (rows // 2) * cols + cols // 2)
        r, q = c // cols, c % cols
        return np.stack([r * py - ((rows - 1) * py) // 2, q * px - ((cols - 1) * px) // 2], axis=1)

    def check_fits(self, plane_shape: Shape2, name: str = "output plane") -> None:
        """Raise when the tiles do not fit in ``plane_shape`` (samples) around its axis sample."""
        ny, nx = plane_shape
        off = self.offsets()
        th, tw = self.tile_shape
        lo_y, hi_y = off[:, 0].min() - th // 2, off[:, 0].max() - th // 2 + th
        lo_x, hi_x = off[:, 1].min() - tw // 2, off[:, 1].max() - tw // 2 + tw
        if lo_y < -(ny // 2) or hi_y > ny - ny // 2 or lo_x < -(nx // 2) or hi_x > nx - nx // 2:
            raise ValueError(
                f"{self.n_channels} tiles of {self.tile_shape} samples in arrangement {self.arrangement} need "
                f"{self.extent} samples, more than the {name} ({ny}, {nx}); enlarge the simulation grid, "
                "shrink the tiles or use several passes")

    def ramps(self, fourier_grid: Grid, wavelength: float, f2: float, out_pitch: Pitch) -> np.ndarray:
        """(C, My, Mx) complex128 phase ramps on the Fourier grid moving channel c to its tile.

        ``out_pitch`` (dy', dx') is the output-plane pitch (m); tile offsets are
        converted to metres with it.
        """
        off = self.offsets().astype(np.float64) * np.asarray(out_pitch, dtype=np.float64)
        v, u = fourier_grid.y(), fourier_grid.x()
        k = 2 * np.pi / (wavelength * f2)
        ry = np.exp(1j * k * off[:, 0, None] * v[None, :])
        rx = np.exp(1j * k * off[:, 1, None] * u[None, :])
        return ry[:, :, None] * rx[:, None, :]

    def combine(self, masks: Array, ramps: Array) -> Array:
        """One Fourier mask (..., My, Mx) = sum_c ramps[c] * masks[..., c, :, :]."""
        xp = get_xp(masks)
        if masks.shape[-3] != self.n_channels:
            raise ValueError(f"masks must have the channel axis (..., C={self.n_channels}, My, Mx) third from "
                             f"last, got shape {tuple(masks.shape)}")
        r = xp.asarray(ramps).astype(masks.dtype, copy=False)
        return (masks * r).sum(axis=-3)

    def read_tiles(self, image: Array, k: float = 1) -> Array:
        """Tiles (..., C, th/k, tw/k) of a plane sampled k times coarser than the output samples
        (k = camera pixel / output sample; 1 for the field itself).

        A k that is not whole (a lab's camera pitch against the simulation's output pitch) reads
        the tiles (..., C, th, tw) from the frame redistributed onto the output samples: each
        camera pixel's counts spread over the samples it covers, in proportion to the area
        (optics4f.devices.render, docs/sampling.md), which is what a lab's registration onto the
        model's feature grid does."""
        if not float(k).is_integer():
            return self.read_tiles(_to_output_samples(image, float(k)), 1)
        k = int(k)
        th, tw = self.tile_shape
        off = self.offsets()
        if th % k or tw % k or np.any(off % k):
            raise ValueError(f"tile_shape {self.tile_shape} and the tile offsets must be multiples of the camera's "
                             f"{k} samples per pixel; choose tile_shape (and gap) as multiples of {k}")
        xp = get_xp(image)
        ny, nx = image.shape[-2:]
        h, w = th // k, tw // k
        tiles = []
        for my, mx in off // k:
            y0, x0 = ny // 2 + my - h // 2, nx // 2 + mx - w // 2
            if y0 < 0 or x0 < 0 or y0 + h > ny or x0 + w > nx:
                raise ValueError(f"tile at offset {(my, mx)} leaves the image of shape {(ny, nx)}")
            tiles.append(image[..., y0:y0 + h, x0:x0 + w])
        return xp.stack(tiles, axis=-3)
