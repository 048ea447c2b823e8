"""Misalignments of a 4f system and the phase factors that model them.

Every misalignment but the SLM rotation is modelled *exactly* (within the
sampled Fourier-lens model) by elementwise phase factors on the input, the
Fourier plane or the output, so a misaligned pass costs the same two FFTs as
an aligned one. With U = FL1(u), the ideal pass is v = FL2(H U) (lens
convention of :mod:`optics4f.lens`), and:

* **Lateral shift s of the Fourier SLM**, H(u) -> H(u - s). Substituting
  u = u' + s: FL1 of u(x) exp(-2 pi i s.x / (lambda f1)) is U(u' + s), and
  FL2 of a function shifted by s is exp(-2 pi i s.x' / (lambda f2)) times
  FL2 of the unshifted one. So v = R2(x') FourF(R1(x) u, H) with the two
  linear phase ramps below; the SLM pixels stay on their own lattice (no
  interpolation of a pixelated mask).
* **Axial defocus dz of the Fourier SLM** (SLM at f1 + dz, lenses fixed):
  v = FL2(P_{-dz}(H P_dz(U))) with P the angular-spectrum propagator. A
  propagation in the back focal plane is a multiplication in the front
  focal plane: P_dz(FL1 u) = FL1(T1 u), T1(x) = exp(2 pi i dz
  (sqrt(1/lambda^2 - r^2/(lambda f1)^2) - 1/lambda)), and FL2(P_{-dz} w) =
  T2(x') FL2(w) with the same form for -dz and f2 (the pistons cancel). This
  equals the circular angular-spectrum propagation on the Fourier grid.
* **Camera defocus dz** (camera at f2 + dz): P_dz(FL2 w) = FL2(C w), with
  C(u) = exp(2 pi i dz (sqrt(1/lambda^2 - |u|^2/(lambda f2)^2) - 1/lambda)) in
  the Fourier plane. (With a Fourier defocus too, T2 does not commute with
  P_dz, and the hardware model propagates the output explicitly instead.)
* **Tilt of the illumination** (angles (ty, tx)): exp(i k (x sin tx + y sin ty))
  on the input; the spectrum moves by f1 sin t in the Fourier plane.
* **Tilt of a reflective SLM** by (ty, tx): the reflected beam turns by twice
  the angle, exp(2 i k u sin t) in the Fourier plane, moving the output by
  f2 sin(2t) (approximately 2 f2 t); the path difference across the tilted
  panel (a defocus that varies across it) is neglected.
* **Rotation of the SLM** about the optical axis: the mask is resampled,
  H(R(-a) u), by :func:`rotate_mask` (spline interpolation, order 1 by
  default; order 0 is point sampling of the rotated pixels).

Phases are built in float64 and cast once (docs/architecture.md#conventions).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backend import get_xp, is_cupy
from ..grid import Grid
from ..typing import Array, ArrayLike, DTypeLike

__all__ = [
    "Misalignment",
    "linear_phase",
    "slm_shift_ramps",
    "defocus_phase",
    "fourier_defocus_factors",
    "camera_defocus_factor",
    "rotate_mask",
    "resample_mask",
]


def _pair(value, name):
    p = tuple(float(v) for v in np.broadcast_to(np.asarray(value, dtype=np.float64), (2,)))
    if not all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return p


@dataclass
class Misalignment:
    """Misalignments of the hardware 4f system (all zero: aligned).

    Attributes
    ----------
    slm_shift : (dy, dx)
        Lateral shift of the Fourier-plane SLM, metres.
    slm_rotation : float
        Rotation of the SLM about the optical axis, rad (counter-clockwise in (x, y)).
    slm_tilt : (ty, tx)
        Tilt of a reflective SLM about the x and y axes, rad (deflects the output by about 2 f2 t).
    fourier_defocus : float
        Axial displacement of the SLM from the back focal plane of lens 1, metres (+: away from lens 1).
    camera_defocus : float
        Axial displacement of the camera from the back focal plane of lens 2, metres.
    input_tilt : (ty, tx)
        Tilt of the illuminating beam on the input display, rad.
    """

    slm_shift: tuple = (0.0, 0.0)
    slm_rotation: float = 0.0
    slm_tilt: tuple = (0.0, 0.0)
    fourier_defocus: float = 0.0
    camera_defocus: float = 0.0
    input_tilt: tuple = (0.0, 0.0)

    def __post_init__(self):
        for name in ("slm_shift", "slm_tilt", "input_tilt"):
            setattr(self, name, _pair(getattr(self, name), name))
        for name in ("slm_rotation", "fourier_defocus", "camera_defocus"):
            v = getattr(self, name)
            if not np.isfinite(v):
                raise ValueError(f"{name} must be finite, got {v!r}")
            setattr(self, name, float(v))
        for name in ("slm_tilt", "input_tilt"):
            if max(abs(t) for t in getattr(self, name)) >= np.pi / 4:
                raise ValueError(f"{name} = {getattr(self, name)} rad is not a small misalignment (< pi/4)")

    @property
    def is_aligned(self) -> bool:
        return not any((any(self.slm_shift), self.slm_rotation, any(self.slm_tilt), self.fourier_defocus,
                        self.camera_defocus, any(self.input_tilt)))


def linear_phase(grid: Grid, ky: float, kx: float, dtype: DTypeLike = np.complex128) -> np.ndarray:
    """exp(i (ky y + kx x)) on ``grid`` (ky, kx in rad/m), NumPy (ny, nx)."""
    y, x = grid.y(), grid.x()
    return (np.exp(1j * ky * y)[:, None] * np.exp(1j * kx * x)[None, :]).astype(dtype)


def slm_shift_ramps(in_grid: Grid, out_grid: Grid, wavelength: float, f1: float, f2: float,
                    shift: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(R1 on the input grid, R2 on the output grid) for an SLM shifted by ``shift`` = (dy, dx) m.

    R1 = exp(-2 pi i s.x / (lambda f1)), R2 = exp(-2 pi i s.x' / (lambda f2)); complex128 NumPy.
    """
    sy, sx = shift
    c1 = -2 * np.pi / (wavelength * f1)
    c2 = -2 * np.pi / (wavelength * f2)
    return linear_phase(in_grid, c1 * sy, c1 * sx), linear_phase(out_grid, c2 * sy, c2 * sx)


def defocus_phase(grid: Grid, wavelength: float, focal_length: float, dz: float,
                  center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """exp(2 pi i dz (sqrt(1/lambda^2 - r^2/(lambda f)^2) - 1/lambda)) on ``grid`` (complex128).

    The angular-spectrum transfer function of a propagation by ``dz`` in the
    conjugate plane of a lens of focal length ``f``, at the frequency r/(lambda f);
    r is measured from ``center`` = (y0, x0) (m); the piston exp(2 pi i dz / lambda)
    is left out.
    """
    y = grid.y()[:, None] - center[0]
    x = grid.x()[None, :] - center[1]
    rho2 = (y**2 + x**2) / (wavelength * focal_length) ** 2
    arg = 1.0 / wavelength**2 - rho2
    if np.any(arg <= 0):
        raise ValueError("the grid reaches beyond the focal length; a defocus phase is not defined there")
    # sqrt(a^2 - b) - a = -b / (sqrt(a^2 - b) + a): no cancellation in float64.
    dphi = -rho2 / (np.sqrt(arg) + 1.0 / wavelength)
    return np.exp(2j * np.pi * dz * dphi)


def fourier_defocus_factors(in_grid: Grid, out_grid: Grid, wavelength: float, f1: float, f2: float,
                            dz: float) -> tuple[np.ndarray, np.ndarray]:
    """(T1 on the input grid, T2 on the output grid) for an SLM displaced by ``dz`` (m) from focus."""
    return defocus_phase(in_grid, wavelength, f1, dz), defocus_phase(out_grid, wavelength, f2, -dz)


def camera_defocus_factor(fourier_grid: Grid, wavelength: float, f2: float, dz: float,
                          center: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """C(u) on the Fourier grid: FL2(C w) is the output propagated by ``dz`` (m) to a defocused camera.

    ``center`` (m): where the optical axis falls on the grid (minus the SLM shift
    when the grid moves with a shifted SLM)."""
    return defocus_phase(fourier_grid, wavelength, f2, dz, center)


def resample_mask(mask: Array, matrix: ArrayLike, order: int = 1, fill: complex = 0.0) -> Array:
    """out(u) = mask(A u) on the same grid, A = ``matrix`` (2 x 2, acting on centred (y, x) sample
    coordinates about pixel (M//2, M//2)), by spline interpolation of the real and imaginary
    parts (order 0: nearest sample, 1: linear, 3: cubic); points outside the grid get ``fill``.
    Works on (..., My, Mx) NumPy or CuPy arrays."""
    xp = get_xp(mask)
    if is_cupy(mask):
        from cupyx.scipy.ndimage import map_coordinates  # type: ignore
    else:
        from scipy.ndimage import map_coordinates
    a = np.asarray(matrix, dtype=np.float64)
    my, mx = mask.shape[-2:]
    yy, xx = np.meshgrid(np.arange(my) - my // 2, np.arange(mx) - mx // 2, indexing="ij")
    src_y = a[0, 0] * yy + a[0, 1] * xx + my // 2
    src_x = a[1, 0] * yy + a[1, 1] * xx + mx // 2
    coords = xp.asarray(np.stack([src_y, src_x]))
    flat = mask.reshape((-1, my, mx))
    out = xp.empty_like(flat)
    for i in range(flat.shape[0]):
        re = map_coordinates(xp.ascontiguousarray(flat[i].real), coords, order=order, mode="constant",
                             cval=float(np.real(fill)))
        im = map_coordinates(xp.ascontiguousarray(flat[i].imag), coords, order=order, mode="constant",
                             cval=float(np.imag(fill)))
        out[i] = re + 1j * im
    return out.reshape(mask.shape)


def rotate_mask(mask: Array, angle: float, order: int = 1, fill: complex = 0.0) -> Array:
    """Mask rotated by ``angle`` (rad, counter-clockwise in (x, y)) about pixel (M//2, M//2).

    out(u) = mask(R(-angle) u) (:func:`resample_mask`); samples from outside the
    grid get ``fill`` (the model knows nothing of the panel beyond the grid).
    """
    c, s = np.cos(angle), np.sin(angle)
    # (y, x) -> R(-angle): x' = c x + s y, y' = -s x + c y
    return resample_mask(mask, [[c, -s], [s, c]], order=order, fill=fill)
