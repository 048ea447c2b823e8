"""Lenses: the Fourier lens against analytic transforms, the thin lens against focusing.

Convention under test (optics4f.lens):
    U(u) = 1/(i lambda f) * integral u(x) exp(-2 pi i x.u / (lambda f)) d^2x,
sampled on an output grid of pitch lambda f / (N dx).
Grids are deliberately rectangular with different pitches along y and x, so that a
swapped axis or pitch cannot pass.
"""
from __future__ import annotations

import numpy as np
import pytest

import optics4f as o
from optics4f.sampling import AliasingError, SamplingWarning

from conftest import crandn, rel_l2

pytestmark = pytest.mark.usefixtures("scipy_fft_engine")

LAM, F = 0.6328e-6, 0.15


def _gaussian_ft(uy, ux, w, y0, x0, wavelength, f):
    """Analytic Fourier-lens image of exp(-((x-x0)^2 + (y-y0)^2)/w^2), (uy, ux) in metres."""
    s = wavelength * f
    return (np.pi * w**2 / (1j * s) * np.exp(-np.pi**2 * w**2 * (ux**2 + uy**2) / s**2)
            * np.exp(-2j * np.pi * (x0 * ux + y0 * uy) / s))


@pytest.mark.parametrize("shape", [(64, 72), (63, 75)])  # even: checkerboard path, odd: shift path
def test_fourier_lens_gaussian(shape):
    pitch = (6e-6, 8e-6)
    lens = o.FourierLens(shape, pitch, LAM, F, dtype=np.complex128)
    g = lens.in_grid
    # output pitch lambda f / (N d) per axis
    assert lens.out_grid.pitch == pytest.approx((LAM * F / (shape[0] * pitch[0]), LAM * F / (shape[1] * pitch[1])),
                                                rel=1e-15)
    w, y0, x0 = 30e-6, -13e-6, 21.7e-6  # off-axis by a non-integer number of pixels
    yy, xx = g.mesh()
    u = np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / w**2)
    uy, ux = lens.out_grid.mesh()
    ref = _gaussian_ft(uy, ux, w, y0, x0, LAM, F)
    U = lens.apply(u)
    # residual: the Gaussian's aliased spectrum and truncated tails, both < 1e-12
    assert rel_l2(U, ref) < 1e-10
    # teeth: a pitch off by one sample in N, the other sign of the kernel, a one-pixel shift
    uy2, ux2 = np.meshgrid(lens.out_grid.y() * shape[0] / (shape[0] + 1),
                           lens.out_grid.x() * shape[1] / (shape[1] + 1), indexing="ij")
    assert rel_l2(U, _gaussian_ft(uy2, ux2, w, y0, x0, LAM, F)) > 1e-3
    assert rel_l2(U, _gaussian_ft(uy, ux, w, -y0, -x0, LAM, F)) > 1e-1
    assert rel_l2(np.roll(U, 1, axis=-1), ref) > 1e-2


def test_fourier_lens_rect_dirichlet_and_sinc():
    # The centred DFT of a sampled rect of (2m+1) pixels is exactly the Dirichlet kernel
    # D(nu) = sin(pi (2m+1) d nu) / sin(pi d nu) at nu = u / (lambda f): the analytic
    # transform of the sampled aperture. Near the axis it tends to the continuous
    # sinc transform of a (2m+1) d wide rect, off by (pi d nu)^2 / 6.
    shape, pitch = (64, 80), (5e-6, 7e-6)
    my, mx = 4, 6
    lens = o.FourierLens(shape, pitch, LAM, F, dtype=np.complex128)
    u = np.zeros(shape)
    cy, cx = shape[0] // 2, shape[1] // 2
    u[cy - my:cy + my + 1, cx - mx:cx + mx + 1] = 1.0
    U = lens.apply(u)

    def dirichlet(nu, m, d):
        t = np.pi * d * nu
        with np.errstate(invalid="ignore", divide="ignore"):
            val = np.sin((2 * m + 1) * t) / np.sin(t)
        return np.where(np.abs(np.sin(t)) < 1e-14, 2 * m + 1, val)

    nuy = lens.out_grid.y() / (LAM * F)
    nux = lens.out_grid.x() / (LAM * F)
    ref = pitch[0] * pitch[1] / (1j * LAM * F) * np.outer(dirichlet(nuy, my, pitch[0]), dirichlet(nux, mx, pitch[1]))
    assert rel_l2(U, ref) < 1e-12
    assert U[cy, cx] == pytest.approx((2 * my + 1) * (2 * mx + 1) * pitch[0] * pitch[1] / (1j * LAM * F), rel=1e-12)
    # continuous sinc on the central lobe (|d nu| <= 1/8): sampled-vs-continuous <= 2.6%
    wy, wx = (2 * my + 1) * pitch[0], (2 * mx + 1) * pitch[1]
    sinc = wy * wx / (1j * LAM * F) * np.outer(np.sinc(wy * nuy), np.sinc(wx * nux))
    cy_ok = np.abs(pitch[0] * nuy) <= 1 / 8
    cx_ok = np.abs(pitch[1] * nux) <= 1 / 8
    central = np.ix_(cy_ok, cx_ok)
    assert cy_ok.sum() > 3 and cx_ok.sum() > 3
    np.testing.assert_allclose(U[central], sinc[central], rtol=0, atol=0.03 * np.abs(sinc).max())


def test_fourier_lens_power_inverse_and_adjoint(rng):
    shape, pitch = (32, 40), (3e-6, 4e-6)
    lens = o.FourierLens(shape, pitch, LAM, F, dtype=np.complex128)
    u = crandn(rng, (2,) + shape)
    U = lens.apply(u)
    dv, du = lens.out_grid.pitch
    np.testing.assert_allclose(np.sum(np.abs(U) ** 2, axis=(-2, -1)) * du * dv,
                               np.sum(np.abs(u) ** 2, axis=(-2, -1)) * pitch[0] * pitch[1], rtol=1e-12)
    assert rel_l2(lens.inverse(U), u) < 1e-13
    # the sample arrays are related by a scaled unitary map: A^H A = |scale|^2 N
    n = shape[0] * shape[1]
    assert rel_l2(lens.adjoint(U), abs(lens.scale) ** 2 * n * u) < 1e-13


def test_fourier_lens_rejects_bad_arguments():
    with pytest.raises(ValueError, match="focal_length"):
        o.FourierLens((8, 8), 1e-6, LAM, -0.1)
    lens = o.FourierLens((8, 8), 1e-6, LAM, F)
    with pytest.raises(ValueError, match="u has spatial shape"):
        lens.apply(np.ones((8, 9)))
    with pytest.raises(TypeError, match="u has integer dtype"):
        lens.apply(np.ones((8, 8), dtype=np.int32))


def test_thin_lens_transmission_closed_form():
    shape, pitch, f = (16, 20), (2e-6, 3e-6), 0.05
    grid = o.Grid(shape, pitch)
    pupil = o.circular_pupil(grid, 20e-6)
    lens = o.ThinLens(shape, pitch, LAM, f, pupil=pupil, dtype=np.complex128)
    t = lens.transmission()
    yy, xx = grid.mesh()
    ref = np.where(xx**2 + yy**2 <= (20e-6) ** 2, np.exp(-1j * np.pi * (xx**2 + yy**2) / (LAM * f)), 0)
    np.testing.assert_allclose(t, ref, rtol=0, atol=1e-14)


def test_thin_lens_focuses_gaussian_to_its_fourier_transform():
    # Plane-ish Gaussian -> thin lens f -> Fresnel propagation by f. Paraxial theory:
    # U(r) = exp(ikf)/(i lambda f) exp(i pi r^2/(lambda f)) * FT[u](r/(lambda f)).
    # pitch^2 = lambda f / N samples the lens chirp at Nyquist at the window edge and
    # makes the lens phase and the Fresnel chirp exact (lambda f = L dx / 2 with pad 2).
    # A diverging lens (f -> -f) must fail.
    n, f, lam = 128, 0.05, 0.5e-6
    dx = np.sqrt(lam * f / n)
    grid = o.Grid((n, n), dx)
    w = n * dx / 8
    u = np.exp(-grid.r2() / w**2)
    focus = o.FresnelTF((n, n), dx, lam, f, pad=2, dtype=np.complex128)
    piston = np.exp(1j * np.mod(2 * np.pi * f / lam, 2 * np.pi))
    ref = (piston / (1j * lam * f) * np.exp(1j * np.pi * grid.r2() / (lam * f))
           * np.pi * w**2 * np.exp(-np.pi**2 * w**2 * grid.r2() / (lam * f) ** 2))
    v = focus.apply(o.ThinLens((n, n), dx, lam, f, dtype=np.complex128).apply(u))
    assert rel_l2(v, ref) < 1e-6  # measured 7e-8 (input tails at the window edge)
    v_div = focus.apply(o.ThinLens((n, n), dx, lam, -f, dtype=np.complex128).apply(u))
    assert rel_l2(v_div, ref) > 0.5


def test_thin_lens_aliasing_warns():
    n, dx, f = 64, 10e-6, 0.01  # edge frequency 0.32 mm / (lambda f) >> Nyquist
    with pytest.warns(SamplingWarning, match="thin lens phase aliases"):
        o.ThinLens((n, n), dx, LAM, f)
    with pytest.raises(AliasingError, match="pupil of radius"):
        o.ThinLens((n, n), dx, LAM, f, strict=True)
    # a pupil inside the Nyquist radius lambda f / (2 dx) silences it
    r_ok = 0.9 * LAM * f / (2 * dx)
    o.ThinLens((n, n), dx, LAM, f, pupil=o.circular_pupil(o.Grid((n, n), dx), r_ok))
    with pytest.raises(ValueError, match="pupil has shape"):
        o.ThinLens((n, n), dx, LAM, f, pupil=np.ones((n, n + 1)))
