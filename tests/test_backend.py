"""Backend behaviour: input validation, dtypes, NumPy in/out, batch axes, FFT engines."""
from __future__ import annotations

import numpy as np
import pytest

import optics4f as o
from optics4f.backend import as_field, as_real, complex_dtype, get_xp, to_numpy
from optics4f.fft import available_engines, fft2, get_fft_engine, ifft2, set_fft_engine

from conftest import crandn, rel_l2

# scipy by default (no planning cost); the engine tests below switch to pyfftw themselves
pytestmark = pytest.mark.usefixtures("scipy_fft_engine")

LAM = 0.532e-6
SHAPE, PITCH = (24, 32), (3e-6, 4e-6)


def _operators(dtype=np.complex128):
    """One of each operator (name -> callable u -> output) on SHAPE; built per call."""
    fourf = o.FourF(SHAPE, PITCH, LAM, 0.1, 0.2, pad=1.5, dtype=dtype)
    mask = o.kernel_to_mask(np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0.5j]]), fourf.padded_shape).astype(dtype)
    odd = o.FourF((23, 31), PITCH, LAM, 0.1, pad=1.0, dtype=dtype)
    asm = o.AngularSpectrum(SHAPE, PITCH, LAM, 300e-6, dtype=dtype)
    fres = o.FresnelTF(SHAPE, PITCH, LAM, 100e-6, dtype=dtype)
    lens = o.FourierLens(SHAPE, PITCH, LAM, 0.1, dtype=dtype)
    lens_odd = o.FourierLens((23, 31), PITCH, LAM, 0.1, dtype=dtype)
    return {
        "asm": (SHAPE, asm.apply),
        "asm_adjoint": (SHAPE, asm.adjoint),
        "fresnel": (SHAPE, fres.apply),
        "lens": (SHAPE, lens.apply),
        "lens_adjoint": (SHAPE, lens.adjoint),
        "lens_odd": ((23, 31), lens_odd.apply),
        "fourf": (SHAPE, lambda u: fourf.apply(u, mask)),
        "fourf_adjoint": (SHAPE, lambda u: fourf.adjoint(u, mask)),
        "fourf_mask_adjoint": (SHAPE, lambda u: fourf.mask_adjoint(u, u[..., ::-1, :])),
        "fourf_odd": ((23, 31), odd.apply),
    }


NAMES = list(_operators().keys())


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------
def test_float_promoted_complex_kept():
    u32 = np.ones((4, 4), np.float32)
    u64 = np.ones((4, 4), np.float64)
    assert as_field(u32).dtype == np.complex64
    assert as_field(u64).dtype == np.complex128
    c128 = np.ones((4, 4), np.complex128)
    assert as_field(c128) is c128  # no copy when the dtype is already right
    assert as_field(np.ones((4, 4), np.complex64)).dtype == np.complex64
    assert as_field(u64, dtype=np.complex64).dtype == np.complex64
    assert complex_dtype(np.float32) == np.complex64 and complex_dtype(np.float64) == np.complex128
    # the public functions follow the input precision
    assert o.propagate_asm(u64, 1e-6, LAM, 1e-5).dtype == np.complex128
    assert o.propagate_asm(u32, 1e-6, LAM, 1e-5).dtype == np.complex64
    assert o.propagate_fresnel(u32, 1e-6, LAM, 1e-6).dtype == np.complex64
    assert o.fourf(u64, None, 1e-6, LAM, 0.1).dtype == np.complex128


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
def test_integer_and_bool_refused_with_the_argument_name(dtype):
    u = np.ones((8, 8), dtype=dtype)
    with pytest.raises(TypeError, match="u has .*dtype"):
        o.propagate_asm(u, 1e-6, LAM, 1e-5)
    with pytest.raises(TypeError, match="u has .*dtype"):
        o.FourierLens((8, 8), 1e-6, LAM, 0.1).apply(u)
    sys = o.FourF((8, 8), 1e-6, LAM, 0.1)
    with pytest.raises(TypeError, match="mask has .*dtype"):
        sys.apply(np.ones((8, 8)), np.ones((8, 8), dtype=dtype))
    with pytest.raises(TypeError, match="v has .*dtype"):
        sys.adjoint(u)


def test_integer_message_says_how_to_fix():
    with pytest.raises(TypeError, match=r"astype\(numpy.float32\)"):
        as_field(np.ones((4, 4), np.int64), name="image")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_refused(bad):
    u = np.ones((8, 8))
    u[3, 4] = bad
    with pytest.raises(ValueError, match="u contains NaN or Inf"):
        o.propagate_asm(u, 1e-6, LAM, 1e-5)
    with pytest.raises(ValueError, match="mask contains NaN or Inf"):
        o.FourF((8, 8), 1e-6, LAM, 0.1).apply(np.ones((8, 8)), u)
    with pytest.raises(ValueError, match="phase contains NaN or Inf"):
        as_real(u, "phase")


def test_shape_and_kind_errors():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        as_field(np.ones(8))
    with pytest.raises(TypeError, match="must be real"):
        as_real(np.ones(3, complex), "amplitude")
    with pytest.raises(TypeError, match="dtype for u must be complex"):
        as_field(np.ones((4, 4)), dtype=np.float32)
    with pytest.raises(ValueError, match="unknown FFT engine"):
        set_fft_engine("fftpack")


def test_lists_are_accepted():
    lens = o.FourierLens((2, 2), 1e-6, LAM, 0.1)  # operators compute in their own dtype
    out = lens.apply([[1.0, 0.0], [0.0, 0.0]])
    assert isinstance(out, np.ndarray) and out.dtype == np.complex64
    assert np.array_equal(out, lens.apply(np.array([[1.0, 0.0], [0.0, 0.0]], np.complex64)))


# --------------------------------------------------------------------------------------
# NumPy in, NumPy out; batch axes
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_numpy_out_and_batch_axes_pass_through(name, rng):
    shape, fn = _operators()[name]
    u = crandn(rng, (2, 3) + shape)
    out = fn(u)
    assert type(out) is np.ndarray and get_xp(out) is np
    assert out.shape[:2] == (2, 3)
    for i in range(2):
        for j in range(3):
            single = fn(u[i, j])
            assert single.shape == out.shape[2:]
            assert rel_l2(out[i, j], single) < 1e-13
    assert to_numpy(out) is out


def test_complex64_phases_built_in_float64(rng):
    # k z = 2.4e6 rad: a transfer function built in float32 would be off by ~0.1 rad;
    # built in float64 and cast, complex64 stays at float32 rounding of the complex128 result.
    n, dx, z = 64, 4e-6, 0.2
    u = crandn(rng, (n, n))
    ref = o.propagate_asm(u, dx, LAM, z, pad=2)
    single = o.propagate_asm(u.astype(np.complex64), dx, LAM, z, pad=2)
    assert single.dtype == np.complex64
    assert rel_l2(single, ref) < 1e-5


# --------------------------------------------------------------------------------------
# FFT engines
# --------------------------------------------------------------------------------------
@pytest.fixture
def restore_engine():
    before = get_fft_engine()
    yield
    set_fft_engine(before)


def test_fft2_is_unnormalised_numpy_fft(rng, restore_engine):
    a = crandn(rng, (2, 12, 10))
    for engine in available_engines():
        set_fft_engine(engine)
        assert rel_l2(fft2(a), np.fft.fft2(a)) < 1e-14
        assert rel_l2(ifft2(a), np.fft.ifft2(a) * 120) < 1e-14


@pytest.mark.skipif("pyfftw" not in available_engines(), reason="pyfftw not installed")
@pytest.mark.parametrize("dtype,tol", [(np.complex128, 1e-13), (np.complex64, 2e-6)])
def test_fft_engines_agree_for_every_operator(dtype, tol, rng, restore_engine):
    u = crandn(rng, (2,) + SHAPE).astype(dtype)
    u_odd = crandn(rng, (2, 23, 31)).astype(dtype)
    results = {}
    for engine in ("pyfftw", "scipy"):
        set_fft_engine(engine)
        assert get_fft_engine() == engine
        ops = _operators(dtype)
        results[engine] = {}
        for name, (shape, fn) in ops.items():
            out = fn(u if shape == SHAPE else u_odd)
            assert out.dtype == dtype
            results[engine][name] = out
    for name in NAMES:
        assert rel_l2(results["pyfftw"][name], results["scipy"][name]) < tol, name


@pytest.mark.skipif("pyfftw" not in available_engines(), reason="pyfftw not installed")
def test_results_do_not_alias_the_fft_work_buffer(rng, restore_engine):
    # pyfftw transforms in place in a cached buffer: a result handed to the caller must
    # not change when the next call reuses that buffer.
    set_fft_engine("pyfftw")
    for name, (shape, fn) in _operators().items():
        a, b = crandn(rng, (2,) + shape), crandn(rng, (2,) + shape)  # shapes planned above
        out_a = fn(a)
        keep = out_a.copy()
        fn(b)
        assert np.array_equal(out_a, keep), name


@pytest.mark.skipif("pyfftw" not in available_engines(), reason="pyfftw not installed")
def test_fft_engines_agree_for_a_mask_batch_on_one_input(rng, restore_engine):
    # One input, three masks: the batch comes from the mask (broadcast inside the pass).
    u = crandn(rng, SHAPE)
    out = {}
    for engine in ("pyfftw", "scipy"):
        set_fft_engine(engine)
        sys = o.FourF(SHAPE, PITCH, LAM, 0.1, pad=1.5, dtype=np.complex128)
        masks = o.kernel_to_mask(crandn(np.random.default_rng(1), (3, 3, 3)), sys.padded_shape)
        out[engine] = (sys.apply(u, masks), sys.adjoint(u, masks))
        assert out[engine][0].shape == (3,) + SHAPE
    for a, b in zip(out["pyfftw"], out["scipy"]):
        assert rel_l2(a, b) < 1e-13


# --------------------------------------------------------------------------------------
# grid and padding conventions the operators rely on
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [8, 9])
def test_grid_axis_and_padding_keep_the_optical_axis(n, rng):
    g = o.Grid((n, n + 2), (1e-6, 2e-6))
    assert g.x()[(n + 2) // 2] == 0 and g.y()[n // 2] == 0
    assert g.x()[1] - g.x()[0] == pytest.approx(2e-6, rel=1e-15)
    np.testing.assert_allclose(g.freqs()[1], np.fft.fftfreq(n + 2, 2e-6))
    assert g.fourier_pitch(LAM, 0.1) == pytest.approx((LAM * 0.1 / (n * 1e-6), LAM * 0.1 / ((n + 2) * 2e-6)))
    big = g.padded(2.3)
    assert all((b - s) % 2 == 0 and b >= 2.3 * s for b, s in zip(big.shape, g.shape))
    u = crandn(rng, (2,) + g.shape)
    p = o.pad_center(u, big.shape)
    # the axis pixel (n//2) lands on the padded axis pixel (M//2), and cropping undoes it
    assert p[1, big.ny // 2, big.nx // 2] == u[1, n // 2, (n + 2) // 2]
    assert np.array_equal(o.crop_center(p, g.shape), u)
    assert np.sum(np.abs(p) ** 2) == pytest.approx(np.sum(np.abs(u) ** 2), rel=1e-14)
    with pytest.raises(ValueError, match="pad factor"):
        g.padded(0.5)
    with pytest.raises(ValueError, match="pitch must be positive"):
        o.Grid((4, 4), -1e-6)
