"""Zernike polynomials: ANSI indexing, normalisation, and the defocus coefficient."""
from __future__ import annotations

import numpy as np
import pytest

import optics4f as o
from optics4f.zernike import defocus_coefficient

# ANSI Z80.28 / OSA single index j -> (n, m), first 15 terms (Thibos et al., JOSA A 2002)
ANSI_TABLE = [(0, 0), (1, -1), (1, 1), (2, -2), (2, 0), (2, 2), (3, -3), (3, -1), (3, 1), (3, 3),
              (4, -4), (4, -2), (4, 0), (4, 2), (4, 4)]


def polar_quadrature(n_rho=24, n_theta=64):
    """Nodes and weights that integrate polynomials of degree <= 2 n_rho - 2 in rho (times rho)
    and trigonometric terms of order < n_theta exactly over the unit disk; weights sum to pi."""
    x, w = np.polynomial.legendre.leggauss(n_rho)
    rho = (x + 1) / 2
    w_rho = w / 2 * rho  # d(area) = rho drho dtheta
    theta = np.arange(n_theta) * 2 * np.pi / n_theta
    r, t = np.meshgrid(rho, theta, indexing="ij")
    weights = np.outer(w_rho, np.full(n_theta, 2 * np.pi / n_theta))
    return r, t, weights


@pytest.mark.parametrize("j,nm", list(enumerate(ANSI_TABLE)))
def test_ansi_index_table(j, nm):
    assert o.ansi_to_nm(j) == nm
    assert o.nm_to_ansi(*nm) == j


def test_ansi_round_trip_and_errors():
    for j in range(200):
        assert o.nm_to_ansi(*o.ansi_to_nm(j)) == j
    with pytest.raises(ValueError, match="non-negative integer"):
        o.ansi_to_nm(-1)
    with pytest.raises(ValueError, match="n - \\|m\\| even"):
        o.nm_to_ansi(3, 0)


def test_closed_forms_of_low_orders():
    # signs and normalisations of the published table: Z1 = 2 rho sin, Z2 = 2 rho cos,
    # Z3 = sqrt6 rho^2 sin 2t, Z4 = sqrt3 (2 rho^2 - 1), Z5 = sqrt6 rho^2 cos 2t,
    # Z7 = sqrt8 (3 rho^3 - 2 rho) sin t, Z12 = sqrt5 (6 rho^4 - 6 rho^2 + 1)
    r, t, _ = polar_quadrature(5, 7)
    expected = {
        0: np.ones_like(r),
        1: 2 * r * np.sin(t),
        2: 2 * r * np.cos(t),
        3: np.sqrt(6) * r**2 * np.sin(2 * t),
        4: np.sqrt(3) * (2 * r**2 - 1),
        5: np.sqrt(6) * r**2 * np.cos(2 * t),
        7: np.sqrt(8) * (3 * r**3 - 2 * r) * np.sin(t),
        12: np.sqrt(5) * (6 * r**4 - 6 * r**2 + 1),
        14: np.sqrt(10) * r**4 * np.cos(4 * t),
    }
    for j, ref in expected.items():
        np.testing.assert_allclose(o.zernike(j, r, t), ref, rtol=0, atol=1e-13, err_msg=f"Z{j}")


def test_orthonormal_on_the_unit_disk():
    # Gauss-Legendre in rho, uniform in theta: exact for these polynomials, so the Gram
    # matrix must be the identity to rounding: unit RMS and zero cross-products.
    r, t, w = polar_quadrature()
    z = np.stack([o.zernike(j, r, t) for j in range(28)])  # up to n = 6
    gram = np.einsum("iab,jab,ab->ij", z, z, w) / np.pi
    np.testing.assert_allclose(gram, np.eye(28), rtol=0, atol=1e-12)


def test_orthonormal_on_a_fine_cartesian_disk_grid():
    # zernike_opd on a 401^2 grid: sampled RMS and cross-products to the disk-sampling accuracy.
    n = 401
    grid = o.Grid((n, n), 1.0 / 200)
    radius = 1.0
    inside = grid.r2() <= radius**2
    cols = []
    for j in range(15):
        coeffs = np.zeros(15)
        coeffs[j] = 1.0
        cols.append(o.zernike_opd(grid, coeffs, radius)[inside])
    a = np.stack(cols)
    gram = a @ a.T / inside.sum()
    np.testing.assert_allclose(gram, np.eye(15), rtol=0, atol=5e-3)
    # and zero outside the disk
    assert np.all(o.zernike_opd(grid, {4: 1.0, 11: 2.0}, radius)[~inside] == 0)


def test_zernike_opd_and_phase_units():
    grid = o.Grid((65, 65), 1e-4)
    radius, lam = 3e-3, 0.5e-6
    opd = o.zernike_opd(grid, {4: 50e-9, 2: -20e-9}, radius, center=(1e-4, -2e-4))
    yy, xx = grid.mesh()
    y, x = (yy - 1e-4) / radius, (xx + 2e-4) / radius
    rho2 = x**2 + y**2
    # inside test with hypot like the library: some samples sit exactly on rho = 1
    ref = np.where(np.hypot(x, y) <= 1, 50e-9 * np.sqrt(3) * (2 * rho2 - 1) - 20e-9 * 2 * x, 0.0)
    np.testing.assert_allclose(opd, ref, rtol=0, atol=1e-20)
    np.testing.assert_allclose(o.zernike_phase(grid, {4: 50e-9, 2: -20e-9}, radius, lam, center=(1e-4, -2e-4)),
                               2 * np.pi * ref / lam, rtol=0, atol=1e-12)


def test_defocus_coefficient_matches_least_squares_fit():
    # Paraxial OPD of a focus error dz for a beam of radius R converging at f:
    # W(r) = dz r^2 / (2 f^2). Fit the first 15 Zernike terms by least squares on the
    # disk (Gaussian quadrature weights) and compare the Z4 coefficient.
    dz, radius, f = 25e-6, 2e-3, 0.08
    r, t, w = polar_quadrature()
    opd = dz * (r * radius) ** 2 / (2 * f**2)
    basis = np.stack([o.zernike(j, r, t).ravel() for j in range(15)], axis=1)
    sw = np.sqrt(w.ravel())
    coeffs, *_ = np.linalg.lstsq(basis * sw[:, None], opd.ravel() * sw, rcond=None)
    assert coeffs[4] == pytest.approx(defocus_coefficient(dz, radius, f), rel=1e-12)
    # the fit is piston + defocus only (W is rotationally symmetric and quadratic)
    others = np.delete(coeffs, [0, 4])
    assert np.abs(others).max() < 1e-12 * abs(coeffs[4])
    assert defocus_coefficient(-dz, radius, f) == -defocus_coefficient(dz, radius, f)
