"""Input display: the SLM, DMD or microdisplay that shows the input image of the 4f system.

``InputDisplay.field(image, grid)`` turns an image into the complex field just
after the display, on a simulation grid:

1. ``frame(image)``: a float image in [0, 1] (the wanted amplitude or intensity) becomes
   integer gray levels, pre-compensated for the display gamma when ``compensate_gamma``
   (g = (2^bits - 1) * image^(1/gamma), what a lab's driver does), then quantised;
   an integer image is taken as gray levels as they are.
2. ``amplitude(frame)``: the display shows s = (g / (2^bits - 1))^gamma, which is the
   field amplitude in mode ``'amplitude'`` and the intensity in mode ``'intensity'``
   (amplitude sqrt(s)). The field is real and non-negative (flat phase).
3. pixels drawn on the grid (:mod:`.render`): pitch = k * grid pitch, linear fill
   factor, dead area dark (0), panel centred on the optical axis.

The field is the dimensionless transmission of the display for a unit plane wave;
scale it by the illumination amplitude (sqrt(W)/m) if you need absolute power.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backend import DEFAULT_COMPLEX, get_xp
from ..grid import Grid
from ..padding import pad_center
from ..typing import Array, ArrayLike, DTypeLike
from . import render
from .slm import check_bits, check_quantization, check_resolution, gray_dtype, quantize

__all__ = ["InputDisplay", "DISPLAY_MODES"]

DISPLAY_MODES = ("amplitude", "intensity")


@dataclass(eq=False)
class InputDisplay:
    """The display of the input image.

    Parameters (SI)
    ---------------
    resolution : (ny, nx)
        Display pixels.
    pitch : float
        Pixel pitch, m.
    mode : 'amplitude' | 'intensity'
        What the gray level controls (after gamma).
    bit_depth : int
        1..16.
    gamma : float
        Displayed value = (g / max)^gamma, gamma > 0 (1: linear).
    compensate_gamma : bool
        Pre-distort float images by the inverse gamma (default True).
    fill_factor : float
        Linear active fraction per axis, (0, 1]; the dead area is dark.
    quantization : 'floor' | 'round'
    name : str
    """

    resolution: tuple = (28, 28)
    pitch: float = 8.0e-6
    mode: str = "amplitude"
    bit_depth: int = 8
    gamma: float = 1.0
    compensate_gamma: bool = True
    fill_factor: float = 1.0
    quantization: str = "round"
    name: str = "display"

    def __post_init__(self):
        self.resolution = check_resolution(self.resolution)
        from ..validate import physical

        self.pitch = physical("pitch", self.pitch)
        if self.mode not in DISPLAY_MODES:
            raise ValueError(f"mode must be one of {DISPLAY_MODES}, got {self.mode!r}")
        self.bit_depth = check_bits(self.bit_depth)
        g = float(self.gamma)
        if not (np.isfinite(g) and g > 0):
            raise ValueError(f"gamma must be positive and finite, got {self.gamma!r}")
        self.gamma = g
        self.compensate_gamma = bool(self.compensate_gamma)
        ff = float(self.fill_factor)
        if not (np.isfinite(ff) and 0 < ff <= 1):
            raise ValueError(f"fill_factor must be in (0, 1] (linear active fraction per axis), "
                             f"got {self.fill_factor!r}")
        self.fill_factor = ff
        check_quantization(self.quantization)
        self.name = str(self.name)

    @property
    def max_gray(self) -> int:
        return 2**self.bit_depth - 1

    @property
    def grid(self) -> Grid:
        """The display as a :class:`Grid` (one sample per pixel)."""
        return Grid(self.resolution, self.pitch)

    def replace(self, **changes: Any) -> InputDisplay:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def embed(self, image: ArrayLike) -> Array:
        """Centre a smaller image (..., h, w) in a zero frame of the display resolution (same dtype)."""
        xp = get_xp(image)
        image = xp.asarray(image)
        if image.ndim < 2:
            raise ValueError(f"image must have at least 2 dimensions (..., h, w), got shape {tuple(image.shape)}")
        h, w = image.shape[-2:]
        if h > self.resolution[0] or w > self.resolution[1]:
            raise ValueError(f"image of {(h, w)} pixels does not fit the display {self.resolution}; resize it first")
        return pad_center(image, self.resolution)

    def frame(self, image: ArrayLike) -> Array:
        """Gray levels (uint8/uint16, (..., ny, nx)) that show ``image``.

        Float (or bool) images must lie in [0, 1]: the wanted amplitude
        (mode 'amplitude') or intensity ('intensity'). Integer images are gray
        levels 0..2^bits-1 and pass unchanged.
        """
        xp = get_xp(image)
        image = xp.asarray(image)
        self._check_shape(image)
        if image.dtype.kind in "iu":
            if image.size and (int(image.min()) < 0 or int(image.max()) > self.max_gray):
                raise ValueError(f"integer image values are gray levels and must be 0..{self.max_gray} for a "
                                 f"{self.bit_depth}-bit display, got {int(image.min())}..{int(image.max())}")
            return image.astype(gray_dtype(self.bit_depth))
        if image.dtype.kind not in "fb":
            raise TypeError(f"image must be real (float in [0, 1] or integer gray levels), got dtype {image.dtype}")
        image = image.astype(np.float64)
        if not bool(xp.isfinite(image).all()):
            raise ValueError("image contains NaN or Inf; clean it first (e.g. numpy.nan_to_num)")
        if bool((image < 0).any()) or bool((image > 1).any()):
            raise ValueError(f"float image values must lie in [0, 1], got {float(image.min()):.4g}.."
                             f"{float(image.max()):.4g}; normalise it (e.g. image / image.max())")
        s = image ** (1.0 / self.gamma) if self.compensate_gamma else image
        return quantize(s * self.max_gray, self.bit_depth, self.quantization)

    def amplitude(self, frame: ArrayLike) -> Array:
        """Field amplitude (float64, 0..1) of each display pixel for gray levels ``frame``."""
        xp = get_xp(frame)
        frame = xp.asarray(frame)
        if frame.dtype.kind not in "iu":
            raise TypeError(f"frame must hold integer gray levels, got dtype {frame.dtype}; use InputDisplay.frame")
        s = (frame.astype(np.float64) / self.max_gray) ** self.gamma
        return s if self.mode == "amplitude" else xp.sqrt(s)

    def field(self, image: ArrayLike, grid: Grid, dtype: DTypeLike = DEFAULT_COMPLEX) -> Array:
        """Complex field (..., My, Mx) just after the display on ``grid`` (float image, or gray levels)."""
        if not isinstance(grid, Grid):
            raise TypeError(f"grid must be an optics4f.Grid, got {type(grid).__name__}")
        k = render.pitch_ratio(self.pitch, grid.pitch, name=f"display {self.name!r} on the simulation grid")
        a = self.amplitude(self.frame(image))
        return render.render_pixels(a, k, grid.shape, self.fill_factor).astype(dtype)

    def _check_shape(self, image):
        if image.ndim < 2 or tuple(image.shape[-2:]) != self.resolution:
            raise ValueError(f"image must have the display shape (..., {self.resolution[0]}, {self.resolution[1]}), "
                             f"got {tuple(image.shape)}; resize it, or centre a smaller one with InputDisplay.embed")
