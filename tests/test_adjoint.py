"""Adjoint dot-product tests: <A u, v> = <u, A^H v> for every linear operator.

Complex128, random complex fields (so a missing conjugate cannot hide), with and
without leading batch axes. The relative tolerance 1e-10 is far above rounding
(~1e-15) and far below what a wrong conjugation, flip or scale produces (~1).
"""
from __future__ import annotations

import numpy as np
import pytest

import optics4f as o

from conftest import crandn

pytestmark = pytest.mark.usefixtures("scipy_fft_engine")

LAM = 0.6328e-6
TOL = 1e-10


def vdot(a, b):
    """<a, b> = sum conj(a) b over all axes."""
    return np.vdot(np.asarray(a).ravel(), np.asarray(b).ravel())


def assert_adjoint(apply, adjoint, u, v):
    lhs = vdot(apply(u), v)
    rhs = vdot(u, adjoint(v))
    scale = np.linalg.norm(apply(u)) * np.linalg.norm(v)
    assert abs(lhs - rhs) <= TOL * scale, (lhs, rhs)
    # the test is not vacuous: the inner product is of the order of the norms
    assert abs(lhs) > 1e-3 * scale


def _build(name):
    """Operator ``name`` on a rectangular grid with unequal pitches."""
    shape, pitch = (24, 30), (2e-6, 3e-6)
    c = np.complex128
    if name == "asm":
        return o.AngularSpectrum(shape, pitch, LAM, 200e-6, pad=2, dtype=c)
    if name == "asm_unpadded_exact":
        return o.AngularSpectrum(shape, pitch, LAM, -30e-6, pad=1, band_limit=False, dtype=c)
    if name == "asm_evanescent":  # pitch < lambda/2: evanescent corners dropped
        return o.AngularSpectrum(shape, 0.3e-6, LAM, 2e-6, pad=1.5, dtype=c)
    if name == "fresnel":
        return o.FresnelTF(shape, pitch, LAM, 1e-4, pad=2, dtype=c)
    if name == "fourier_lens_even":
        return o.FourierLens(shape, pitch, LAM, 0.1, dtype=c)
    if name == "fourier_lens_odd":
        return o.FourierLens((23, 31), pitch, LAM, 0.1, dtype=c)
    if name == "thin_lens":
        return o.ThinLens(shape, pitch, LAM, 0.5, pupil=o.circular_pupil(o.Grid(shape, pitch), 25e-6), dtype=c)
    if name == "fourf_identity":
        return o.FourF(shape, pitch, LAM, 0.1, 0.3, pad=1.5, dtype=c)
    if name == "fourf_odd":
        return o.FourF((23, 31), pitch, LAM, 0.1, 0.2, pad=1.0, dtype=c)
    raise KeyError(name)


OPERATORS = ["asm", "asm_unpadded_exact", "asm_evanescent", "fresnel", "fourier_lens_even",
             "fourier_lens_odd", "thin_lens", "fourf_identity", "fourf_odd"]


@pytest.mark.parametrize("batch", [(), (2, 3)])
@pytest.mark.parametrize("name", OPERATORS)
def test_operator_adjoint(name, batch, rng):
    op = _build(name)
    u = crandn(rng, batch + op.in_grid.shape)
    v = crandn(rng, batch + op.out_grid.shape)
    assert_adjoint(op.apply, op.adjoint, u, v)


@pytest.mark.parametrize("shape,pad", [((24, 30), 1.5), ((23, 31), 1.0), ((23, 31), 1.4)])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_fourf_adjoint_with_mask(shape, pad, batch, rng):
    op = o.FourF(shape, 4e-6, LAM, 0.1, 0.15, pad=pad, dtype=np.complex128)
    mask = crandn(rng, op.padded_shape)
    u = crandn(rng, batch + shape)
    v = crandn(rng, batch + shape)
    assert_adjoint(lambda x: op.apply(x, mask), lambda y: op.adjoint(y, mask), u, v)
    # a set mask behaves the same as a passed one
    op.set_mask(mask)
    assert_adjoint(op.apply, op.adjoint, u, v)


@pytest.mark.parametrize("shape,pad", [((24, 30), 1.5), ((23, 31), 1.0)])
def test_fourf_mask_adjoint(shape, pad, rng):
    # map: mask -> apply(u, mask) for a fixed u; adjoint: g -> mask_adjoint(u, g)
    op = o.FourF(shape, 4e-6, LAM, 0.1, 0.2, pad=pad, dtype=np.complex128)
    u = crandn(rng, shape)
    mask = crandn(rng, op.padded_shape)
    g = crandn(rng, shape)
    assert_adjoint(lambda m: op.apply(u, m), lambda y: op.mask_adjoint(u, y), mask, g)


def test_fourf_mask_adjoint_batch_sums_to_shared_mask_gradient(rng):
    # With a batch of inputs sharing one mask, the adjoint of mask -> apply(u_batch, mask)
    # is the batch sum of mask_adjoint (as its docstring says).
    shape = (20, 24)
    op = o.FourF(shape, 4e-6, LAM, 0.1, pad=1.5, dtype=np.complex128)
    u = crandn(rng, (4,) + shape)
    g = crandn(rng, (4,) + shape)
    mask = crandn(rng, op.padded_shape)
    per_item = op.mask_adjoint(u, g)
    assert per_item.shape == (4,) + op.padded_shape
    assert_adjoint(lambda m: op.apply(u, m), lambda y: op.mask_adjoint(u, y).sum(axis=0), mask, g)


@pytest.mark.parametrize("batch", [(), (2,)])
def test_full_wave_4f_adjoint(batch, rng):
    n, lam, f = 32, LAM, 0.05
    dx = np.sqrt(lam * f / n)
    grid = o.Grid((n, n), dx)
    op = o.FullWave4f((n, n), dx, lam, f, pupil1=o.circular_pupil(grid, 0.4 * n * dx),
                      dtype=np.complex128)
    mask = crandn(rng, (n, n))
    u = crandn(rng, batch + (n, n))
    v = crandn(rng, batch + (n, n))
    assert_adjoint(op.apply, op.adjoint, u, v)
    assert_adjoint(lambda x: op.apply(x, mask), lambda y: op.adjoint(y, mask), u, v)


def test_dot_test_detects_a_wrong_adjoint(rng):
    # The harness has teeth: the forward map used as its own adjoint fails for the ASM
    # (whose adjoint is propagation by -z, not +z).
    op = o.AngularSpectrum((16, 16), 2e-6, LAM, 50e-6, pad=2, dtype=np.complex128)
    u, v = crandn(rng, (16, 16)), crandn(rng, (16, 16))
    with pytest.raises(AssertionError):
        assert_adjoint(op.apply, op.apply, u, v)
