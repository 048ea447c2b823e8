"""Sampling grid: coordinates and spatial frequencies of a field (SI metres).

Convention (docs/architecture.md#conventions): x_i = (i - N//2) * dx, so the optical axis sits on
pixel N//2; frequencies come from ``fftfreq`` (unshifted order) or its
``fftshift`` (centred order, the order of a Fourier-plane image).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Grid", "as_pitch"]


def as_pitch(pitch: float | tuple[float, float], name: str = "pitch") -> tuple[float, float]:
    """(dy, dx) in metres from a scalar or a pair; refuse non-positive values."""
    from .validate import InputError, physical

    try:
        p = np.broadcast_to(np.asarray(pitch, dtype=np.float64), (2,))
    except (ValueError, TypeError):
        raise InputError(f"{name}={pitch!r} must be one pitch or a pair (dy, dx) in metres") from None
    return tuple(physical(name, float(v), "sample_pitch") for v in p)


@dataclass(frozen=True)
class Grid:
    """A sampled plane of ``shape = (ny, nx)`` pixels at ``pitch = (dy, dx)`` metres."""

    shape: tuple
    pitch: tuple

    def __init__(self, shape: tuple[int, int], pitch: float | tuple[float, float]) -> None:
        from .validate import shape2

        shape = shape2("shape", shape)  # (2.9, 5) is refused, not truncated to (2, 5)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "pitch", as_pitch(pitch))

    @property
    def ny(self) -> int:
        return self.shape[0]

    @property
    def nx(self) -> int:
        return self.shape[1]

    @property
    def dy(self) -> float:
        return self.pitch[0]

    @property
    def dx(self) -> float:
        return self.pitch[1]

    @property
    def size(self) -> tuple:
        """Physical extent (Ly, Lx) = N * pitch, metres."""
        return self.ny * self.dy, self.nx * self.dx

    def x(self) -> np.ndarray:
        """x coordinates (nx,), metres, zero at index nx//2."""
        return (np.arange(self.nx) - self.nx // 2) * self.dx

    def y(self) -> np.ndarray:
        """y coordinates (ny,), metres, zero at index ny//2."""
        return (np.arange(self.ny) - self.ny // 2) * self.dy

    def mesh(self) -> Sequence[np.ndarray]:
        """(Y, X) coordinate arrays of shape (ny, nx), metres, float64."""
        return np.meshgrid(self.y(), self.x(), indexing="ij")

    def r2(self) -> np.ndarray:
        """Squared radius x^2 + y^2 (ny, nx), m^2, float64."""
        return self.y()[:, None] ** 2 + self.x()[None, :] ** 2

    def freqs(self, centered: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(fy, fx) spatial frequencies, cycles/m; ``fftfreq`` order unless ``centered``."""
        fy = np.fft.fftfreq(self.ny, self.dy)
        fx = np.fft.fftfreq(self.nx, self.dx)
        if centered:
            fy, fx = np.fft.fftshift(fy), np.fft.fftshift(fx)
        return fy, fx

    def fourier_pitch(self, wavelength: float, focal_length: float) -> tuple:
        """Pitch (dv, du) in the back focal plane of a lens: lambda f / (N d), metres."""
        from .validate import physical

        wavelength = physical("wavelength", wavelength)
        focal_length = physical("focal_length", focal_length)
        return (wavelength * focal_length / (self.ny * self.dy),
                wavelength * focal_length / (self.nx * self.dx))

    def fourier_grid(self, wavelength: float, focal_length: float) -> Grid:
        """Grid of the back focal plane of a lens of ``focal_length`` (m)."""
        return Grid(self.shape, self.fourier_pitch(wavelength, focal_length))

    def padded(self, factor: float) -> Grid:
        """Same pitch, shape multiplied by ``factor`` and rounded up to even."""
        return Grid(tuple(padded_size(n, factor) for n in self.shape), self.pitch)

    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) in metres for ``matplotlib.imshow(origin='lower')``."""
        x, y = self.x(), self.y()
        return (x[0] - self.dx / 2, x[-1] + self.dx / 2, y[0] - self.dy / 2, y[-1] + self.dy / 2)


def padded_size(n: int, factor: float) -> int:
    """Padded length: ceil(n * factor), bumped by one so that (padded - n) is even."""
    from .validate import InputError, finite

    if not finite("pad", factor) >= 1:
        raise InputError(f"pad factor must be >= 1 (1 = no padding), got pad={factor!r}")
    m = max(n, int(np.ceil(n * factor - 1e-9)))
    return m + (m - n) % 2


def check_padded_memory(shape: tuple[int, int], factor: float, arrays: float = 4, itemsize: int = 16,
                        what: str = "the padded grid") -> tuple[int, int]:
    """Refuse a padding whose arrays cannot fit in memory (:func:`optics4f.validate.check_memory`).

    ``arrays``: how many (My, Mx) arrays of ``itemsize`` bytes the operation holds at once. Returns the
    padded shape."""
    from .validate import check_memory

    padded = tuple(padded_size(int(n), factor) for n in shape)
    check_memory(float(np.prod([float(m) for m in padded])) * itemsize * arrays,
                 f"{what} ({' x '.join(str(m) for m in padded)} samples from shape {tuple(shape)} at pad={factor:g})",
                 "use a smaller pad or grid")
    return padded


def fast_padded_size(n: int, factor: float) -> int:
    """The smallest padded length >= :func:`padded_size` (n, factor) with (padded - n) even whose FFT
    is fast: a product of 2, 3, 5, 7 and 11 (``scipy.fft.next_fast_len``). Lengths with a large prime
    factor are several times slower (204 = 2^2 3 17 against 210: docs/results.md#measurements)."""
    from scipy.fft import next_fast_len

    m = padded_size(n, factor)
    while next_fast_len(m) != m or (m - n) % 2:
        m += 1
    return m
