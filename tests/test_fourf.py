"""The ideal 4f system: imaging, convolution, correlation, and the two models agreeing.

Convention under test (docs/architecture.md#conventions, optics4f.fourf): with mask H = kernel_to_mask(h),
    v(x) = -(f1/f2) (u * h)(-x f1/f2)
on an output grid of pitch dx f2/f1. On samples (even or odd N, input index c + k
with c = N//2) the inverted point of output index c + k is input index c - k, i.e.
v[i] = -(f1/f2) w[N - i] (even N) where w is the linear convolution in input indices;
index N lies just outside the input window (zero for imaging).
References: the flipped input, scipy.signal.fftconvolve / correlate, torch conv2d,
and the full-wave model (angular spectrum + thin lenses) of the same system.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import correlate, fftconvolve

import optics4f as o

from conftest import crandn, rel_l2

pytestmark = pytest.mark.usefixtures("scipy_fft_engine")

LAM = 0.532e-6


def inverted(w, n_out):
    """``w`` at the inverted point: out[..., i, j] = w[..., 2 cy - i, 2 cx - j], c = n // 2.

    The inversion maps c + k to c - k (even or odd sizes). ``w`` holds values at input
    indices 0..len-1 and may extend past the input window (for even n, 2c - 0 = n is
    just outside it); indices outside ``w`` give 0.
    """
    ny, nx = n_out
    iy = 2 * (ny // 2) - np.arange(ny)
    ix = 2 * (nx // 2) - np.arange(nx)
    out = np.zeros(w.shape[:-2] + (ny, nx), dtype=np.result_type(w, np.complex64))
    vy = (iy >= 0) & (iy < w.shape[-2])
    vx = (ix >= 0) & (ix < w.shape[-1])
    out[..., np.flatnonzero(vy)[:, None], np.flatnonzero(vx)[None, :]] = w[..., iy[vy][:, None], ix[vx][None, :]]
    return out


@pytest.mark.parametrize("shape,pad", [((32, 40), 1.0), ((32, 40), 2.0), ((31, 37), 1.0), ((31, 37), 1.5),
                                       ((32, 37), 1.0), ((31, 40), 1.6)])
def test_identity_mask_images_inverted_and_magnified(shape, pad, rng):
    f1, f2, pitch = 0.1, 0.25, (4e-6, 5e-6)
    sys = o.FourF(shape, pitch, LAM, f1, f2, pad=pad, dtype=np.complex128)
    m = f2 / f1
    assert sys.out_grid.pitch == pytest.approx((pitch[0] * m, pitch[1] * m), rel=1e-15)
    assert sys.out_grid.shape == shape
    u = crandn(rng, (2,) + shape)
    v = sys.apply(u)
    if pad == 1.0:
        # unpadded: circular, so index 2c - 0 = N (even N) wraps to index 0
        iy = (2 * (shape[0] // 2) - np.arange(shape[0])) % shape[0]
        ix = (2 * (shape[1] // 2) - np.arange(shape[1])) % shape[1]
        ref = -(f1 / f2) * u[..., iy[:, None], ix[None, :]]
    else:
        ref = -(f1 / f2) * inverted(u, shape)
    assert rel_l2(v, ref) < 1e-13
    if pad == 1.0:
        # power: the 1/m^2 amplitude factor and the m^2 larger output pixels cancel,
        # sum |v|^2 dA_out = sum |u|^2 dA_in (with padding, the row/column that maps
        # outside the window is lost, so only the unpadded case is exact)
        dy, dx = sys.out_grid.pitch
        np.testing.assert_allclose(np.sum(np.abs(v) ** 2) * dy * dx,
                                   np.sum(np.abs(u) ** 2) * pitch[0] * pitch[1], rtol=1e-12)
    # teeth: no inversion, or f2/f1 instead of f1/f2, or a one-pixel shift all fail
    assert rel_l2(v, -(f1 / f2) * u) > 0.5
    assert rel_l2(v, -(f2 / f1) * inverted(u, shape)) > 0.5
    assert rel_l2(np.roll(v, 1, axis=-1), ref) > 0.5


def _conv_reference(u, k, shape):
    """-(f1/f2)-free reference: linear convolution with the kernel centred at (kh//2, kw//2),
    evaluated at the inverted output points."""
    kh, kw = k.shape
    full = np.stack([fftconvolve(ui, k) for ui in u.reshape((-1,) + shape)]).reshape(u.shape[:-2] + (
        shape[0] + kh - 1, shape[1] + kw - 1))
    w = full[..., kh // 2:, kw // 2:]  # w[n] = sum_j u[j] k[n - j + kh//2], n = 0..
    return inverted(w, shape)


@pytest.mark.parametrize("kshape", [(3, 3), (5, 4), (2, 6)])
@pytest.mark.parametrize("shape", [(40, 48), (39, 45)])
def test_kernel_mask_convolves_like_fftconvolve(kshape, shape, rng):
    f1, f2 = 0.1, 0.15
    k = crandn(rng, kshape)
    pad = 1 + max(kshape) / min(shape) + 0.01  # padded grid holds the linear convolution
    sys = o.FourF(shape, 6e-6, LAM, f1, f2, pad=pad, dtype=np.complex128)
    mask = o.kernel_to_mask(k, sys.padded_shape)
    assert mask.shape == sys.padded_shape
    u = crandn(rng, (3,) + shape)
    v = sys.apply(u, mask)
    ref = -(f1 / f2) * _conv_reference(u, k, shape)
    assert rel_l2(v, ref) < 1e-12
    # the same mask as a fixed (set) mask, and the functional form
    assert rel_l2(o.FourF(shape, 6e-6, LAM, f1, f2, pad=pad, dtype=np.complex128).set_mask(mask).apply(u), ref) < 1e-12
    assert rel_l2(o.fourf(u, mask, 6e-6, LAM, f1, f2, pad=pad), ref) < 1e-12
    # teeth: the flipped kernel (a correlation) does not pass for a complex kernel
    assert rel_l2(v, -(f1 / f2) * _conv_reference(u, k[::-1, ::-1], shape)) > 0.1


def test_default_complex64_convolution(rng):
    # The default dtype (complex64) computes the same convolution to float32 rounding.
    shape, f1, f2 = (64, 48), 0.1, 0.3
    k = rng.standard_normal((5, 5))
    sys = o.FourF(shape, 6e-6, LAM, f1, f2, pad=1.2)
    assert sys.dtype == np.complex64
    u = rng.standard_normal(shape).astype(np.float32)
    v = sys.apply(u, o.kernel_to_mask(k, sys.padded_shape))
    assert v.dtype == np.complex64
    assert rel_l2(v, -(f1 / f2) * _conv_reference(u.astype(np.float64), k, shape)) < 1e-5


def test_mask_broadcasts_over_batch(rng):
    shape, f = (24, 24), 0.1
    sys = o.FourF(shape, 5e-6, LAM, f, pad=1.5, dtype=np.complex128)
    ks = crandn(rng, (4, 3, 3))
    masks = o.kernel_to_mask(ks, sys.padded_shape)  # (4, My, Mx)
    u = crandn(rng, shape)
    v = sys.apply(u, masks)  # one input, four masks
    assert v.shape == (4,) + shape
    for i in range(4):
        assert rel_l2(v[i], -_conv_reference(u, ks[i], shape)) < 1e-12


@pytest.mark.parametrize("kshape", [(3, 3), (5, 5), (4, 2)])
def test_correlate_mask_matches_scipy_correlate(kshape, rng):
    shape, f = (36, 44), 0.1
    k = crandn(rng, kshape)
    sys = o.FourF(shape, 5e-6, LAM, f, pad=1.2, dtype=np.complex128)
    mask = o.kernel_to_mask(k, sys.padded_shape, correlate=True)
    u = crandn(rng, shape)
    v = sys.apply(u, mask)
    kh, kw = kshape
    # Conv2d-style correlation about the kernel centre, no conjugation:
    # c[n] = sum_j u[n + j - kh//2] k[j]. scipy.signal.correlate conjugates its second
    # argument, so it is given conj(k): full[n'] = sum_j u[n' + j - (kh-1)] k[j].
    full = correlate(u, np.conj(k), mode="full", method="direct")
    c = full[kh - 1 - kh // 2:, kw - 1 - kw // 2:]
    ref = -inverted(c, shape)
    assert rel_l2(v, ref) < 1e-12
    if kh % 2 and kw % 2:  # odd kernels: exactly scipy's 'same' mode
        np.testing.assert_allclose(c[:shape[0], :shape[1]], correlate(u, np.conj(k), mode="same"), atol=1e-12)
    # teeth: the conjugating (Hermitian) correlation is a different operation
    c_conj = correlate(u, k, mode="full", method="direct")[kh - 1 - kh // 2:, kw - 1 - kw // 2:]
    assert rel_l2(v, -inverted(c_conj, shape)) > 0.1


def test_correlate_mask_matches_torch_conv2d(rng):
    torch = pytest.importorskip("torch")
    shape, f = (30, 34), 0.1
    k = rng.standard_normal((5, 3))
    u = rng.standard_normal(shape)
    sys = o.FourF(shape, 5e-6, LAM, f, pad=1.3, dtype=np.complex128)
    v = sys.apply(u, o.kernel_to_mask(k, sys.padded_shape, correlate=True))
    # torch.nn.functional.conv2d cross-correlates; 'same' zero padding for an odd kernel
    t = torch.nn.functional.conv2d(torch.from_numpy(u)[None, None], torch.from_numpy(k)[None, None],
                                   padding=(2, 1))[0, 0].numpy()
    # torch gives the 'same' window only: row/column 0 of v shows index N (outside it)
    assert rel_l2(v[1:, 1:], -inverted(t, shape)[1:, 1:]) < 1e-12
    assert np.abs(v.imag).max() < 1e-12 * np.abs(v).max()  # real in, real kernel: real out


def test_kernel_mask_round_trip_and_identity(rng):
    shape = (16, 20)
    k = crandn(rng, (3, 5))
    mask = o.kernel_to_mask(k, shape)
    emb = o.mask_to_kernel(mask)
    assert rel_l2(emb, o.embed_kernel(k, shape)) < 1e-14
    assert rel_l2(emb[8 - 1:8 + 2, 10 - 2:10 + 3], k) < 1e-14
    # a delta at the centre pixel is the identity mask H = 1
    delta = np.zeros((3, 3))
    delta[1, 1] = 1.0
    np.testing.assert_allclose(o.kernel_to_mask(delta, shape), np.ones(shape), atol=1e-14)
    with pytest.raises(ValueError, match="does not fit"):
        o.kernel_to_mask(np.ones((30, 3)), shape)


def test_fourier_plane_is_the_lens_transform(rng):
    # FourF's fast path and its plane-by-plane path agree: w = FL1(pad(u)), v = FL2(H w).
    shape, f1, f2 = (20, 24), 0.1, 0.2
    sys = o.FourF(shape, 5e-6, LAM, f1, f2, pad=1.5, dtype=np.complex128)
    u = crandn(rng, shape)
    H = crandn(rng, sys.padded_shape)
    w = sys.fourier_plane(u)
    lens1 = o.FourierLens(sys.padded_shape, 5e-6, LAM, f1, dtype=np.complex128)
    assert rel_l2(w, lens1.apply(o.pad_center(u, sys.padded_shape))) < 1e-14
    assert sys.fourier_grid.pitch == pytest.approx(lens1.out_grid.pitch, rel=1e-15)
    assert rel_l2(sys.from_fourier_plane(H * w), sys.apply(u, H)) < 1e-12
    with pytest.raises(ValueError, match="Fourier plane of this 4f system"):
        sys.apply(u, np.ones(shape))


def test_fourf_agrees_with_full_wave_model():
    # Same 4f system, two models. pitch^2 = lambda f / N makes the Fourier-plane pitch of
    # the lens model equal the input pitch, so both models sample the same planes and
    # the same mask. The full-wave model propagates with the exact ASM, whose phase
    # includes exp(ik z) over 4f; the lens model omits that piston, so we add it.
    # What remains is the non-paraxial part of the free-space steps, ~(pi/4) f lambda^3
    # nu^4 at the input's bandwidth: measured 1.0e-5 (identity) and 7.9e-6 (mask) for
    # f = 0.1 m, and it shrinks as 1/f (2.6e-6 at f = 0.4 m), as it should.
    lam, n, f = 0.6328e-6, 128, 0.1
    dx = np.sqrt(lam * f / n)
    grid = o.Grid((n, n), dx)
    yy, xx = grid.mesh()
    w = n * dx / 16
    u = np.exp(-((xx - 0.05 * n * dx) ** 2 + yy**2) / w**2) * (1 + 0.5j * np.sin(2 * np.pi * xx / (n * dx / 4)))
    lens_model = o.FourF((n, n), dx, lam, f, pad=1, dtype=np.complex128)
    full_wave = o.FullWave4f((n, n), dx, lam, f, dtype=np.complex128)
    assert full_wave.fourier_grid.pitch == pytest.approx(lens_model.fourier_grid.pitch, rel=1e-12)
    piston = np.exp(1j * np.mod(4 * 2 * np.pi * f / lam, 2 * np.pi))
    assert abs(piston - 1) > 0.5  # the piston matters for this f/lambda
    smooth_mask = np.exp(-grid.r2() / (n * dx / 3) ** 2) * np.exp(2j * np.pi * (3 * xx + 2 * yy) / (n * dx))
    for mask in (None, smooth_mask):
        ref = full_wave.apply(u, mask)
        assert rel_l2(lens_model.apply(u, mask) * piston, ref) < 3e-5
    # the Fourier planes agree too (piston over 2f)
    w_lens = lens_model.fourier_plane(u) * np.exp(2j * np.mod(2 * np.pi * f / lam, 2 * np.pi))
    assert rel_l2(w_lens, full_wave.fourier_plane(u)) < 1e-5
