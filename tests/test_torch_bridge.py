"""Torch autograd bridge: gradients (gradcheck), agreement with the NumPy core, zero copy, GPU."""
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import optics4f as o4  # noqa: E402
import optics4f.torch as ot  # noqa: E402
from optics4f.torch._convert import from_array, to_array  # noqa: E402
from optics4f.fft.multichannel import MultiChannel4f  # noqa: E402

pytestmark = pytest.mark.usefixtures("scipy_fft_engine")  # one-off shapes: no FFTW planning cost
WL = 5e-7  # m
C128 = np.complex128


def _cuda_ready():
    try:
        import cupy  # noqa: F401

        return torch.cuda.is_available() and cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


gpu = pytest.mark.skipif(not _cuda_ready(), reason="needs a CUDA build of torch, CuPy and a GPU")


def _crand(*shape, seed=0, dtype=torch.complex128, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    re = torch.randn(*shape, generator=g, dtype=torch.float64)
    im = torch.randn(*shape, generator=g, dtype=torch.float64)
    return torch.complex(re, im).to(dtype).requires_grad_(requires_grad)


def _operators(dtype=C128):
    """Small, well-sampled instances of every core linear operator (8x8 grids)."""
    return {
        "asm": o4.AngularSpectrum((8, 8), 2e-6, WL, 1e-4, dtype=dtype),
        "fresnel": o4.FresnelTF((8, 8), 2e-6, WL, 1e-4, dtype=dtype),
        "fourier_lens": o4.FourierLens((8, 8), 1e-5, WL, 0.1, dtype=dtype),
        "thin_lens": o4.ThinLens((8, 8), 2e-6, WL, 1e-3, dtype=dtype),
        "fourf": o4.FourF((8, 8), 1e-5, WL, 0.1, 0.2, pad=1.5, dtype=dtype),
    }


def test_import_optics4f_does_not_import_torch():
    code = "import sys, optics4f; assert 'torch' not in sys.modules, 'optics4f imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- gradcheck: every differentiable path, double precision ------------------------------------
@pytest.mark.parametrize("name", ["asm", "fresnel", "fourier_lens", "thin_lens", "fourf"])
def test_gradcheck_linear_operators(name):
    op = _operators()[name]
    u = _crand(2, 8, 8)
    assert torch.autograd.gradcheck(lambda a: ot.apply_operator(op, a), (u,), fast_mode=True)


def test_gradcheck_real_input():
    op = _operators()["asm"]
    u = torch.randn(8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: ot.apply_operator(op, a), (u,), fast_mode=True)
    ot.apply_operator(op, u).abs().square().sum().backward()
    assert u.grad.dtype == torch.float64


@pytest.mark.parametrize("pad", [2.0, 1.9])  # even (16, FFT fast path) and odd (15, lens path) grids
def test_gradcheck_fourf_input_and_mask(pad):
    op = o4.FourF((8, 8), 1e-5, WL, 0.1, pad=pad, dtype=C128)
    u = _crand(2, 8, 8, seed=1)
    mask = _crand(*op.padded_shape, seed=2)
    assert torch.autograd.gradcheck(lambda a, m: ot.fourf(a, m, op), (u, mask), fast_mode=True)
    # a stack of masks broadcast against a batch of inputs: gradients are summed over the broadcast
    masks = _crand(3, 1, *op.padded_shape, seed=3)
    assert torch.autograd.gradcheck(lambda a, m: ot.fourf(a, m, op), (u, masks), fast_mode=True)


def test_gradcheck_amplitude_and_phase_masks():
    op = o4.FourF((6, 6), 1e-5, WL, 0.1, pad=2.0, dtype=C128)
    u = _crand(6, 6, seed=4)
    amp = torch.rand(*op.padded_shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, m: ot.fourf(a, m, op), (u, amp), fast_mode=True)
    phase = (torch.rand(*op.padded_shape, dtype=torch.float64) * 6.28).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, p: ot.fourf(a, ot.phase_mask(p), op), (u, phase), fast_mode=True)


@pytest.mark.parametrize("pad", [2.0, 1.9])
def test_gradcheck_spectral_conv(pad):
    op = o4.FourF((6, 6), 1e-5, WL, 0.1, pad=pad, dtype=C128)
    u = _crand(2, 3, 6, 6, seed=5)
    masks = _crand(2, 3, *op.padded_shape, seed=6)
    assert torch.autograd.gradcheck(lambda a, m: ot.spectral_conv(a, m, op), (u, masks), fast_mode=True)
    ur = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, m: ot.spectral_conv(a, m, op), (ur, masks), fast_mode=True)


# -- the gradient convention, pinned exactly ------------------------------------------------------
def test_gradient_is_adjoint_applied_to_cotangent():
    """For L = Re <c, A u> torch's u.grad is A^H c (conj, order and scale all matter)."""
    op = _operators()["fourf"]
    u = _crand(8, 8, seed=7)
    c = _crand(8, 8, seed=8, requires_grad=False)
    v = ot.apply_operator(op, u)
    torch.real(torch.sum(torch.conj(c) * v)).backward()
    expected = op.adjoint(c.numpy())
    np.testing.assert_allclose(u.grad.numpy(), expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


def test_mask_gradient_is_mask_adjoint_summed_over_batch():
    op = o4.FourF((8, 8), 1e-5, WL, 0.1, pad=2.0, dtype=C128)
    u = _crand(3, 8, 8, seed=9, requires_grad=False)
    mask = _crand(*op.padded_shape, seed=10)
    c = _crand(3, 8, 8, seed=11, requires_grad=False)
    torch.real(torch.sum(torch.conj(c) * ot.fourf(u, mask, op))).backward()
    expected = op.mask_adjoint(u.numpy(), c.numpy()).sum(axis=0)
    np.testing.assert_allclose(mask.grad.numpy(), expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())


# -- same numbers as the NumPy core ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["asm", "fresnel", "fourier_lens", "thin_lens", "fourf"])
def test_matches_numpy_core_complex64(name):
    op = _operators(np.complex64)[name]
    u = _crand(3, 8, 8, seed=12, dtype=torch.complex64, requires_grad=False)
    out = ot.apply_operator(op, u)
    assert out.dtype == torch.complex64
    np.testing.assert_array_equal(out.numpy(), op.apply(u.numpy().copy()))


def test_fourf_matches_numpy_core():
    op = o4.FourF((16, 16), 1e-5, WL, 0.1, pad=2.0)
    u = _crand(2, 16, 16, seed=13, dtype=torch.complex64, requires_grad=False)
    m = _crand(*op.padded_shape, seed=14, dtype=torch.complex64, requires_grad=False)
    np.testing.assert_array_equal(ot.fourf(u, m, op).numpy(), op.apply(u.numpy(), m.numpy()))


@pytest.mark.parametrize("pad", [2.0, 1.9])
def test_spectral_conv_equals_sum_of_single_passes(pad):
    """v[b, o] = sum_i FourF.apply(u[b, i], H[o, i]): the Fourier-plane channel sum is exact."""
    op = o4.FourF((12, 12), 1e-5, WL, 0.1, pad=pad, dtype=C128)
    u = _crand(2, 3, 12, 12, seed=15, requires_grad=False).numpy()
    h = _crand(4, 3, *op.padded_shape, seed=16, requires_grad=False).numpy()
    ref = sum(op.apply(u[:, None, i], h[None, :, i]) for i in range(3))
    out = ot.spectral_conv(torch.from_numpy(u), torch.from_numpy(h), op).numpy()
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize("engine", o4.fft.available_engines())
def test_spectral_conv_on_each_fft_engine(engine):
    """The engine's in-place FFTW buffers and scipy's fresh arrays give the same layer and gradients."""
    o4.set_fft_engine(engine)
    op = o4.FourF((8, 8), 1e-5, WL, 0.1, pad=2.0, dtype=C128)
    u = _crand(2, 2, 8, 8, seed=24)
    for cout in (3, 2):  # Cin == Cout: both lens stages share one FFT work buffer
        h = _crand(cout, 2, *op.padded_shape, seed=25)
        v = ot.spectral_conv(u, h, op)
        ref = sum(op.apply(u.detach().numpy()[:, None, i], h.detach().numpy()[None, :, i]) for i in range(2))
        np.testing.assert_allclose(v.detach().numpy(), ref, rtol=0, atol=1e-13 * np.abs(ref).max())
        assert torch.autograd.gradcheck(lambda a, m: ot.spectral_conv(a, m, op), (u, h), fast_mode=True)


@pytest.mark.parametrize("pad", [2.0, 1.9])
def test_multichannel_adjoints_match_fourf_adjoints(pad):
    op = o4.FourF((10, 10), 1e-5, WL, 0.1, pad=pad, dtype=C128)
    eng = MultiChannel4f(op)
    u = _crand(2, 3, 10, 10, seed=17, requires_grad=False).numpy()
    h = _crand(4, 3, *op.padded_shape, seed=18, requires_grad=False).numpy()
    g = _crand(2, 4, 10, 10, seed=19, requires_grad=False).numpy()
    gu_ref = op.adjoint(g[:, :, None], h[None]).sum(axis=1)  # (2, 4, 3, ...) summed over outputs
    gh_ref = op.mask_adjoint(u[:, None], g[:, :, None]).sum(axis=0)
    _, w = eng.apply(u, h, keep_spectrum=True)
    gz = eng.lens2_adjoint(g)
    tol = 1e-13
    np.testing.assert_allclose(eng.adjoint(g, h), gu_ref, rtol=0, atol=tol * np.abs(gu_ref).max())
    np.testing.assert_allclose(eng.mask_adjoint(w, gz), gh_ref, rtol=0, atol=tol * np.abs(gh_ref).max())


# -- no copy --------------------------------------------------------------------------------------
class _Recording(o4.FourierLens):
    """A Fourier lens that records where the arrays it receives and returns live."""

    def apply(self, u):
        self.seen = u
        self.out = super().apply(u)
        return self.out


class _RecordingFourF(o4.FourF):
    def apply(self, u, mask=None):
        self.seen = (u, mask)
        return super().apply(u, mask)


def _ptr(a):
    return a.__array_interface__["data"][0]


def test_forward_shares_memory_with_core_arrays():
    op = _Recording((8, 8), 1e-5, WL, 0.1)
    u = _crand(2, 8, 8, seed=20, dtype=torch.complex64)
    v = ot.apply_operator(op, u)
    assert _ptr(op.seen) == u.data_ptr()
    assert np.shares_memory(op.seen, u.detach().numpy())
    assert v.data_ptr() == _ptr(op.out)  # the core's output is wrapped, not copied

    op4 = _RecordingFourF((8, 8), 1e-5, WL, 0.1, pad=2.0)
    m = _crand(*op4.padded_shape, seed=21, dtype=torch.complex64)
    ot.fourf(u, m, op4)
    assert _ptr(op4.seen[0]) == u.data_ptr() and _ptr(op4.seen[1]) == m.data_ptr()


def test_spectral_conv_core_sees_the_tensors_memory(monkeypatch):
    op = o4.FourF((8, 8), 1e-5, WL, 0.1, pad=2.0)
    seen = {}
    original = MultiChannel4f.apply

    def spy(self, u, masks, keep_spectrum=False):
        seen["u"], seen["masks"] = _ptr(u), _ptr(masks)
        return original(self, u, masks, keep_spectrum)

    monkeypatch.setattr(MultiChannel4f, "apply", spy)
    u = _crand(2, 1, 8, 8, seed=26, dtype=torch.complex64)
    h = _crand(3, 1, *op.padded_shape, seed=27, dtype=torch.complex64)
    ot.spectral_conv(u, h, op)
    assert seen == {"u": u.data_ptr(), "masks": h.data_ptr()}


def test_to_array_views_strided_and_resolves_conj():
    t = torch.arange(24, dtype=torch.float32).reshape(4, 6)[:, ::2]
    a = to_array(t)
    assert _ptr(a) == t.data_ptr() and a.strides == (24, 8)
    c = torch.complex(torch.ones(3), torch.arange(3.0)).conj()
    np.testing.assert_array_equal(to_array(c), np.ones(3) - 1j * np.arange(3))
    b = np.arange(6.0)
    assert from_array(b).data_ptr() == _ptr(b)


# -- errors ---------------------------------------------------------------------------------------
def test_errors_name_the_argument():
    op = o4.FourF((8, 8), 1e-5, WL, 0.1, pad=2.0)  # complex64
    u64 = torch.zeros(8, 8, dtype=torch.complex128)
    with pytest.raises(TypeError, match=r"u is torch.complex128 .*complex64"):
        ot.fourf(u64, torch.ones(16, 16, dtype=torch.complex64), op)
    with pytest.raises(ValueError, match=r"mask has shape \(8, 8\)"):
        ot.fourf(torch.zeros(8, 8, dtype=torch.complex64), torch.ones(8, 8, dtype=torch.complex64), op)
    with pytest.raises(TypeError, match="int64"):
        ot.apply_operator(op, torch.zeros(8, 8, dtype=torch.int64))
    with pytest.raises(TypeError, match="masks must be complex"):
        ot.spectral_conv(torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 16, 16), op)
    with pytest.raises(ValueError, match="channels"):
        ot.spectral_conv(torch.zeros(1, 2, 8, 8), torch.ones(1, 1, 16, 16, dtype=torch.complex64), op)
    with pytest.raises(TypeError, match="LinearOperator"):
        ot.apply_operator(np.eye(8), torch.zeros(8, 8))


# -- GPU: the CuPy core under CUDA tensors ----------------------------------------------------------
@pytest.mark.gpu
@gpu
def test_cuda_matches_cpu():
    dev = torch.device("cuda")
    op = o4.FourF((16, 16), 1e-5, WL, 0.1, pad=2.0, dtype=C128)
    u = _crand(2, 3, 16, 16, seed=22)
    h = _crand(4, 3, *op.padded_shape, seed=23)
    uc = u.detach().to(dev).requires_grad_()
    hc = h.detach().to(dev).requires_grad_()
    for args_cpu, args_gpu, fn in (((u, h), (uc, hc), lambda a, m: ot.spectral_conv(a, m, op)),
                                   ((u, h[0, 0]), (uc, hc[0, 0]), lambda a, m: ot.fourf(a, m, op))):
        for t in (u, h, uc, hc):
            t.grad = None
        vc, vg = fn(*args_cpu), fn(*args_gpu)
        assert vg.is_cuda
        np.testing.assert_allclose(vg.detach().cpu().numpy(), vc.detach().numpy(), rtol=0,
                                   atol=1e-12 * vc.abs().max().item())
        vc.abs().square().sum().backward()
        vg.abs().square().sum().backward()
        for a, b in ((uc, u), (hc, h)):
            np.testing.assert_allclose(a.grad.cpu().numpy(), b.grad.numpy(), rtol=0,
                                       atol=1e-12 * b.grad.abs().max().item())
    asm = o4.AngularSpectrum((16, 16), 2e-6, WL, 1e-4, dtype=C128)
    np.testing.assert_allclose(ot.apply_operator(asm, uc).detach().cpu().numpy(),
                               ot.apply_operator(asm, u).detach().numpy(), atol=1e-12)


@pytest.mark.gpu
@gpu
def test_cuda_forward_shares_memory():
    import cupy

    t = torch.ones(4, 8, 8, dtype=torch.complex64, device="cuda")
    a = to_array(t)
    assert isinstance(a, cupy.ndarray) and a.data.ptr == t.data_ptr()
    assert from_array(a).data_ptr() == a.data.ptr
