"""The cache-blocked FFTW path of the multi-channel 4f engine against the FourF core, pass by pass."""
import numpy as np
import pytest

import optics4f as o4
from optics4f import fft as _fft
from optics4f.fft import blocked as _blocked4f
from optics4f.fft.multichannel import MultiChannel4f

pytestmark = pytest.mark.skipif(_fft.pyfftw is None, reason="the blocked path needs pyfftw")
WL = 633e-9
C128 = np.complex128


def _crand(*shape, seed):
    r = np.random.default_rng(seed)
    return (r.standard_normal(shape) + 1j * r.standard_normal(shape)).astype(C128)


@pytest.fixture
def fftw_threads():
    """Run with the pyfftw engine and a given thread count; restore the defaults after."""
    engine, threads = _fft.get_fft_engine(), _fft.get_fft_threads()

    def use(n):
        _fft.set_fft_engine("pyfftw", threads=n)

    yield use
    _fft.set_fft_engine(engine, threads=threads)


def _case(cin, cout, batch=3, n=(10, 12)):
    op = o4.FourF(n, 1e-5, WL, 0.1, pad=2.0, dtype=C128)
    u = _crand(batch, cin, *n, seed=1)
    h = _crand(cout, cin, *op.padded_shape, seed=2)
    g = _crand(batch, cout, *n, seed=3)
    return op, u, h, g


# block of 1 and 2 output channels (a remainder block when cout = 3) and one block of all 5
@pytest.mark.parametrize("block_fields", [1, 2, 64])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cin,cout", [(1, 5), (2, 3)])
def test_blocked_pass_equals_sum_of_fourf_passes(monkeypatch, fftw_threads, block_fields, threads, cin, cout):
    fftw_threads(threads)
    op, u, h, g = _case(cin, cout)
    monkeypatch.setattr(_fft.padded, "BLOCK_BYTES", block_fields * int(np.prod(op.padded_shape)) * 16)
    eng = MultiChannel4f(op)
    assert eng._use_blocked(u)
    # independent reference: one FourF pass (its own FFT pair, centred masks) per (output, input) pair
    v_ref = sum(op.apply(u[:, None, i], h[None, :, i]) for i in range(cin))
    gu_ref = op.adjoint(g[:, :, None], h[None]).sum(axis=1)
    gh_ref = op.mask_adjoint(u[:, None], g[:, :, None]).sum(axis=0)

    v, w = eng.apply(u, h, keep_spectrum=True)
    gu, gh = eng.backward(g, h, w)
    for got, ref in ((v, v_ref), (gu, gu_ref), (gh, gh_ref)):
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    # each half alone
    assert eng.backward(g, h, w, need_masks=False)[1] is None
    np.testing.assert_allclose(eng.backward(g, h, w, need_input=False)[1], gh_ref, rtol=0,
                               atol=1e-12 * np.abs(gh_ref).max())


def test_blocked_forward_and_backward_are_adjoint(fftw_threads):
    fftw_threads(2)
    op, u, h, g = _case(2, 3, batch=4)
    eng = MultiChannel4f(op)
    v, w = eng.apply(u, h, keep_spectrum=True)
    gu, gh = eng.backward(g, h, w)
    # <A u, g> = <u, A^H g> for the input and, at fixed u, for the masks
    np.testing.assert_allclose(np.vdot(g, v), np.vdot(gu, u), rtol=1e-12)
    np.testing.assert_allclose(np.vdot(g, v), np.vdot(gh, h), rtol=1e-12)


def test_blocked_results_survive_the_next_call(fftw_threads):
    """Outputs are fresh arrays, not views of the reused work buffers."""
    fftw_threads(1)
    op, u, h, g = _case(1, 2)
    eng = MultiChannel4f(op)
    v1 = eng.apply(u, h)
    keep = v1.copy()
    eng.apply(2 * u, h)
    np.testing.assert_array_equal(v1, keep)


def test_blocked_path_not_used_off_fftw(fftw_threads):
    fftw_threads(1)
    op, u, h, _ = _case(1, 2)
    eng = MultiChannel4f(op)
    _fft.set_fft_engine("scipy")
    assert not _blocked4f.blocked_available(u) and not eng._use_blocked(u)
    v = eng.apply(u, h)
    np.testing.assert_allclose(v, op.apply(u, h[None, :, 0]), rtol=0, atol=1e-12 * np.abs(v).max())


def test_workers_plan_safely_on_a_cold_cache(tmp_path):
    """Regression: on a first call the pool workers each make their FFTW plans; FFTW's planner is
    not thread-safe, and without the plan lock a fresh process with no wisdom aborted (seen in
    CI). A subprocess with an empty cache plans several shapes on 2 workers at once."""
    import subprocess
    import sys

    code = """
import numpy as np, optics4f as o4
from optics4f.fft.multichannel import MultiChannel4f
o4.set_fft_engine("pyfftw", threads=2)
for n in (6, 10, 12, 14, 18, 20):
    op = o4.FourF((n, n), 1e-5, 633e-9, 0.1, pad=2.0)
    r = np.random.default_rng(n)
    u = r.standard_normal((6, 2, n, n)).astype(np.complex64)
    h = r.standard_normal((3, 2) + op.padded_shape).astype(np.complex64)
    eng = MultiChannel4f(op)
    v, w = eng.apply(u, h, keep_spectrum=True)
    gu, gh = eng.backward(v, h, w)
    ref = sum(op.apply(u[:, None, i], h[None, :, i]) for i in range(2))
    assert np.abs(v - ref).max() <= 1e-4 * np.abs(ref).max(), n
print("ok")
"""
    env = {**__import__("os").environ, "OPTICS4F_CACHE": str(tmp_path), "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
