"""NumPy vs CuPy: the same numbers from the same core (skipped without CuPy and a GPU).

CuPy in gives CuPy out; cuFFT and FFTW/pocketfft differ only by rounding, so
complex128 results agree to ~1e-13 and complex64 ones to float32 rounding.
"""
from __future__ import annotations

import numpy as np
import pytest

import optics4f as o

from conftest import crandn, rel_l2

pytestmark = pytest.mark.gpu

LAM = 0.532e-6
TOL = {np.complex128: 1e-12, np.complex64: 2e-6}


@pytest.fixture
def cp():
    cupy = pytest.importorskip("cupy")
    if not o.has_cupy():
        pytest.skip("no CUDA device visible")
    return cupy


def _check(cp, out_gpu, out_cpu, dtype):
    assert isinstance(out_gpu, cp.ndarray), type(out_gpu)
    assert out_gpu.dtype == out_cpu.dtype == dtype
    assert rel_l2(o.to_numpy(out_gpu), out_cpu) < TOL[dtype]


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("band_limit", [True, False])
def test_propagate_asm_numpy_vs_cupy(cp, dtype, band_limit, rng):
    u = crandn(rng, (2, 64, 80), dtype)
    kw = dict(pitch=(2e-6, 3e-6), wavelength=LAM, z=40e-6, pad=2, band_limit=band_limit)
    _check(cp, o.propagate_asm(cp.asarray(u), **kw), o.propagate_asm(u, **kw), dtype)
    # the adjoint too, through the operator (its transfer function is cached per device)
    op = o.AngularSpectrum((64, 80), (2e-6, 3e-6), LAM, 40e-6, dtype=dtype)
    _check(cp, op.adjoint(cp.asarray(u)), op.adjoint(u), dtype)


@pytest.mark.parametrize("shape", [(64, 80), (63, 81)])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_fourier_lens_numpy_vs_cupy(cp, shape, dtype, rng):
    lens = o.FourierLens(shape, (4e-6, 5e-6), LAM, 0.1, dtype=dtype)
    u = crandn(rng, (3,) + shape, dtype)
    _check(cp, lens.apply(cp.asarray(u)), lens.apply(u), dtype)
    _check(cp, lens.adjoint(cp.asarray(u)), lens.adjoint(u), dtype)


@pytest.mark.parametrize("shape,pad", [((48, 64), 1.5), ((47, 63), 1.0)])
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
def test_fourf_numpy_vs_cupy(cp, shape, pad, dtype, rng):
    sys = o.FourF(shape, 5e-6, LAM, 0.1, 0.2, pad=pad, dtype=dtype)
    u = crandn(rng, (2,) + shape, dtype)
    k = crandn(rng, (3, 3))
    mask = o.kernel_to_mask(k, sys.padded_shape).astype(dtype)
    _check(cp, sys.apply(cp.asarray(u), cp.asarray(mask)), sys.apply(u, mask), dtype)
    _check(cp, sys.adjoint(cp.asarray(u), cp.asarray(mask)), sys.adjoint(u, mask), dtype)
    _check(cp, sys.mask_adjoint(cp.asarray(u), cp.asarray(u)), sys.mask_adjoint(u, u), dtype)
    _check(cp, sys.apply(cp.asarray(u)), sys.apply(u), dtype)  # identity mask
    # a NumPy mask set once is moved to the device of the input
    sys.set_mask(mask)
    _check(cp, sys.apply(cp.asarray(u)), sys.apply(u), dtype)


def test_mixing_numpy_and_cupy_is_refused(cp):
    with pytest.raises(TypeError, match="mixed NumPy and CuPy"):
        o.get_xp(np.ones(2), cp.ones(2))
