"""Cross-check of the angular spectrum method against an independent code: diffractsim.

Conventions reconciled (read from diffractsim/monochromatic_simulator.py and
propagation_methods/angular_spectrum_method.py, diffractsim 2.x):
- grid: MonochromaticField(wavelength, extent_x, extent_y, Nx, Ny) has pitch
  extent/N and x = dx * (arange(N) - N//2): the same samples as optics4f.Grid;
- phase: it multiplies the spectrum by exp(i kz z), kz = 2 pi sqrt(1/lambda^2 - f^2):
  the same exp(+ikz) convention, including the exp(ikz) piston;
- padding: none; its FFT convolution is circular. optics4f with pad=1 is circular too;
  to compare our default (pad=2) we zero-pad the field for diffractsim ourselves;
- evanescent waves: diffractsim keeps them (decaying, kz imaginary), optics4f drops
  them. With pitch > lambda/sqrt(2) no grid frequency is evanescent, so the two
  methods are then the same computation and must agree to rounding;
- band limit: diffractsim has none; the distances here are short enough that ours
  removes nothing (and our undersampling check stays silent).
The field comes from diffractsim's own elements (a Gaussian beam through an off-centre
rectangular slit), so it is not symmetric and not real after propagation: a flipped
axis, a conjugated phase or a one-pixel shift would all show.
"""
from __future__ import annotations

import numpy as np
import pytest

import optics4f as o

from conftest import rel_l2

ds = pytest.importorskip("diffractsim")

pytestmark = pytest.mark.usefixtures("scipy_fft_engine")

LAM, DX, N = 0.5e-6, 1e-6, 128  # pitch 2 lambda: every grid frequency propagates


@pytest.fixture(scope="module", autouse=True)
def _diffractsim_cpu():
    ds.set_backend("CPU")  # NumPy backend, so its arrays compare directly with ours


def _field(n=N):
    field = ds.MonochromaticField(wavelength=LAM, extent_x=n * DX, extent_y=n * DX, Nx=n, Ny=n, intensity=1.0)
    field.add(ds.GaussianBeam(w0=20e-6))
    field.add(ds.RectangularSlit(width=31 * DX, height=21 * DX, x0=5 * DX, y0=-3 * DX))
    return field


def test_grid_conventions_match():
    field = _field()
    grid = o.Grid((N, N), DX)
    assert field.dx == pytest.approx(DX, rel=1e-15) and field.dy == pytest.approx(DX, rel=1e-15)
    np.testing.assert_allclose(field.x, grid.x(), rtol=0, atol=1e-18)
    np.testing.assert_allclose(field.y, grid.y(), rtol=0, atol=1e-18)
    # the slit is where optics4f's coordinates say it is
    e0 = field.E
    yy, xx = grid.mesh()
    inside = (np.abs(xx - 5 * DX) < 15.5 * DX) & (np.abs(yy + 3 * DX) < 10.5 * DX)
    assert np.array_equal(e0 != 0, inside)


@pytest.mark.parametrize("z", [60e-6, 200e-6, -150e-6])
def test_unpadded_asm_equals_diffractsim(z):
    field = _field()
    e0 = np.array(field.E, dtype=np.complex128)
    field.propagate(z)
    ref = np.asarray(field.E)
    ours = o.propagate_asm(e0, DX, LAM, z, pad=1, band_limit=False)
    assert rel_l2(ours, ref) < 1e-12  # measured 2e-13: same computation, other code
    np.testing.assert_allclose(np.abs(ours) ** 2, field.get_intensity(), rtol=0,
                               atol=1e-12 * field.get_intensity().max())
    # teeth: the conjugate phase convention or a one-pixel shift are far off
    assert rel_l2(o.propagate_asm(e0, DX, LAM, -z, pad=1, band_limit=False), ref) > 0.1
    assert rel_l2(np.roll(ours, 1, axis=-2), ref) > 0.1


def test_default_padded_asm_equals_diffractsim_on_padded_field():
    # Our default: pad=2 (linear convolution) and the band limit. diffractsim on the same
    # field zero-padded to 2N, cropped back, is the same linear convolution.
    z = 200e-6
    e0 = np.array(_field().E, dtype=np.complex128)
    big = ds.MonochromaticField(wavelength=LAM, extent_x=2 * N * DX, extent_y=2 * N * DX, Nx=2 * N, Ny=2 * N,
                                intensity=1.0)
    big.E = o.pad_center(e0, (2 * N, 2 * N))
    big.propagate(z)
    ref = o.crop_center(np.asarray(big.E), (N, N))
    ours = o.propagate_asm(e0, DX, LAM, z)  # pad=2, band_limit=True
    assert rel_l2(ours, ref) < 1e-12
    # and it differs from the circular (unpadded) result by the wrapped light: padding matters
    circ = _field()
    circ.propagate(z)
    assert rel_l2(ours, np.asarray(circ.E)) > 1e-3


def test_complex64_default_is_close_to_diffractsim():
    # The default complex64 path (phases built in float64, cast once) stays at float32
    # rounding against diffractsim's float64 result.
    z = 200e-6
    field = _field()
    e0 = np.array(field.E, dtype=np.complex64)
    field.propagate(z)
    ours = o.propagate_asm(e0, DX, LAM, z, pad=1, band_limit=False)
    assert ours.dtype == np.complex64
    assert rel_l2(ours, np.asarray(field.E)) < 1e-5
