"""The pruned zero-padded filter of optics4f.fft against NumPy's FFT, and its use in ASM and 4f.

The reference is always the unpruned computation with numpy.fft (an independent FFT):
crop(T2(h * T1(pad(u)))) with unnormalised transforms.
"""
from __future__ import annotations

import multiprocessing
import pickle
import os
import tracemalloc

import numpy as np
import pytest

from conftest import crandn
from optics4f import fft as offt
from optics4f.fourf import FourF
from optics4f.padding import crop_center, pad_center
from optics4f.propagation import AngularSpectrum, asm_transfer_function

TOL = {np.complex64: 3e-6, np.complex128: 1e-13}  # max |error| / max |reference|


def _unnormalised(direction):
    if direction == "forward":
        return lambda a: np.fft.fft2(a)
    return lambda a: np.fft.ifft2(a) * (a.shape[-2] * a.shape[-1])


def _reference(u, h, shape, first, second, scale=None):
    up = pad_center(np.asarray(u, dtype=np.complex128), shape[-2:])
    w = _unnormalised(first)(up)
    if h is not None:
        w = w * h
    out = crop_center(_unnormalised(second)(w), u.shape[-2:])
    return out if scale is None else out * scale


def _err(got, ref):
    return float(np.abs(got - ref).max() / np.abs(ref).max())


@pytest.fixture(params=offt.available_engines())
def engine(request):
    old_engine = offt.get_fft_engine()
    offt.set_fft_engine(request.param)
    yield request.param
    offt.set_fft_engine(old_engine)


@pytest.fixture(params=["one_block", "many_blocks"])
def row_blocks(request, monkeypatch):
    """Run the fused row pass as one block, or as many small blocks (3 rows of 64 complex128,
    with a partial last block) shared out to the worker threads."""
    if request.param == "many_blocks":
        monkeypatch.setattr(offt.padded, "BLOCK_BYTES", 3 * 64 * 16)
    offt.clear_fft_cache()
    yield request.param
    offt.clear_fft_cache()


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("first,second", [("forward", "backward"), ("forward", "forward"),
                                          ("backward", "backward"), ("backward", "forward")])
@pytest.mark.parametrize("inner,padded", [((32, 32), (64, 64)),   # pad 2, even offsets
                                          ((24, 40), (50, 64)),   # non-square, odd row offset
                                          ((33, 31), (53, 51))])  # odd sizes, odd offsets
def test_filter_matches_numpy(engine, row_blocks, rng, dtype, first, second, inner, padded):
    u = crandn(rng, inner, dtype)
    h = crandn(rng, padded, dtype)
    filt = offt.get_padded_filter(padded, inner, dtype, first, second)
    assert filt.pruned == (engine == "pyfftw")
    if filt.pruned and row_blocks == "many_blocks":
        assert len(filt._blocks) > offt.get_fft_threads()
    got = filt(u, h)
    assert got.dtype == dtype and got.shape == inner
    assert _err(got, _reference(u, h, padded, first, second)) < TOL[dtype]


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_batches_broadcast_against_the_spectrum(engine, row_blocks, rng, dtype):
    # u (2, 1, ny, nx) against h (3, My, Mx): output batch (2, 3), as numpy broadcasting
    inner, padded = (16, 24), (32, 48)
    u = crandn(rng, (2, 1) + inner, dtype)
    h = crandn(rng, (3,) + padded, dtype)
    filt = offt.get_padded_filter((2, 3) + padded, inner, dtype, "forward", "forward")
    got = filt(u, h)
    assert got.shape == (2, 3) + inner
    assert _err(got, _reference(u, h, (2, 3) + padded, "forward", "forward")) < TOL[dtype]


def test_scale_without_spectrum(engine, rng):
    u = crandn(rng, (20, 20), np.complex128)
    filt = offt.get_padded_filter((40, 40), (20, 20), np.complex128, "forward", "forward")
    got = filt(u, scale=-0.25)
    assert _err(got, _reference(u, None, (40, 40), "forward", "forward", -0.25)) < 1e-13


def test_repeated_and_interleaved_calls_stay_exact(engine, row_blocks, rng):
    # Filters of one shape share work buffers; each call must see zeros outside its data, even
    # after another direction pair or a field of very different size ran in between.
    inner, padded, dt = (30, 30), (60, 60), np.complex128
    asm_like = offt.get_padded_filter(padded, inner, dt, "forward", "backward")
    fourf_like = offt.get_padded_filter(padded, inner, dt, "backward", "backward")
    h = crandn(rng, padded, dt)
    big = 1e6 * crandn(rng, inner, dt)
    small = crandn(rng, inner, dt)
    asm_like(big, h)
    kept = fourf_like(big, h)
    kept_copy = kept.copy()
    for filt, (d1, d2) in ((asm_like, ("forward", "backward")), (fourf_like, ("backward", "backward")),
                           (asm_like, ("forward", "backward"))):
        got = filt(small, h)
        assert _err(got, _reference(small, h, padded, d1, d2)) < 1e-13
    np.testing.assert_array_equal(kept, kept_copy)  # results are copies, not views of the buffers


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="first"):
        offt.PaddedFilter((8, 8), (4, 4), np.complex64, first="sideways")
    with pytest.raises(ValueError, match="inner shape"):
        offt.PaddedFilter((8, 8), (10, 4), np.complex64)


# -- the hot paths that use it ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_asm_apply_and_adjoint_match_numpy(engine, rng, dtype):
    shape, pitch, wl, z = (48, 64), 2e-6, 633e-9, 2e-4
    op = AngularSpectrum(shape, pitch, wl, z, dtype=dtype)
    m = op.padded_grid.shape
    h = asm_transfer_function(op.padded_grid, wl, z) / (m[0] * m[1])
    u = crandn(rng, (2,) + shape, dtype)
    assert _err(op.apply(u), _reference(u, h, m, "forward", "backward")) < TOL[dtype]
    assert _err(op.adjoint(u), _reference(u, np.conj(h), m, "forward", "backward")) < TOL[dtype]


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_fourf_apply_and_adjoint_match_numpy(engine, rng, dtype):
    shape = (32, 32)
    f4 = FourF(shape, 8e-6, 633e-9, 0.1, f2=0.2, pad=2, dtype=dtype)
    mask = crandn(rng, f4.padded_shape, dtype)
    hs = np.fft.ifftshift(mask) * f4.scale
    u = crandn(rng, shape, dtype)
    assert _err(f4.apply(u, mask), _reference(u, hs, f4.padded_shape, "forward", "forward")) < TOL[dtype]
    assert _err(f4.adjoint(u, mask),
                _reference(u, np.conj(hs), f4.padded_shape, "backward", "backward")) < TOL[dtype]
    assert _err(f4.apply(u), _reference(u, None, f4.padded_shape, "forward", "forward", f4.scale)) < TOL[dtype]


def test_warm_asm_call_allocates_only_its_output(rng):
    # The hot path works in persistent buffers: a warm call allocates the cropped output (1/4 of
    # a padded field at pad 2) plus at most NumPy's constant ufunc buffer (64 KiB) for strided
    # copies, and no temporary the size of a field.
    n = 256
    op = AngularSpectrum((n, n), 4e-6, 633e-9, 1e-3, dtype=np.complex64)
    u = crandn(rng, (n, n), np.complex64)
    op.apply(u)
    output = n * n * 8
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        op.apply(u)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert output <= peak - before < output + 128 * 1024


@pytest.mark.skipif("pyfftw" not in offt.available_engines(), reason="needs pyfftw")
def test_forget_wisdom_replans_and_rewrites_the_cache(rng, monkeypatch, tmp_path):
    import pyfftw

    cache = tmp_path / "fftw_wisdom.pkl"
    monkeypatch.setattr(offt.STATE, "wisdom_path", cache)  # keep the user's cache file out of this
    old_engine = offt.get_fft_engine()
    offt.set_fft_engine("pyfftw")
    saved = pyfftw.export_wisdom()  # put it back afterwards, so later plans and saves keep it
    monkeypatch.setattr(offt.STATE, "merge_disk_wisdom", True)  # restored after the test
    try:
        offt.get_padded_filter((40, 40), (20, 20), np.complex128)
        offt.forget_wisdom()
        assert offt.STATE.local.__dict__ == {}  # cached plans were dropped with the wisdom
        empty = pyfftw.export_wisdom()
        u, h = crandn(rng, (20, 20)), crandn(rng, (40, 40))
        got = offt.get_padded_filter((40, 40), (20, 20), np.complex128)(u, h)
        assert _err(got, _reference(u, h, (40, 40), "forward", "backward")) < 1e-13
        assert pyfftw.export_wisdom() != empty and cache.exists()
    finally:
        pyfftw.import_wisdom(saved)
        offt.set_fft_engine(old_engine)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_computes_instead_of_hanging():
    # FFTW's threads do not survive fork; the child must fall back to one thread, not wait forever.
    n = 64
    op = AngularSpectrum((n, n), 4e-6, 633e-9, 1e-3, dtype=np.complex128)
    u = np.ones((n, n), np.complex128)
    ref = op.apply(u)  # the parent has threaded plans and worker threads now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child():
        queue.put(float(np.abs(op.apply(u) - ref).max()))

    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    try:
        assert queue.get(timeout=30) < 1e-12
    finally:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()


@pytest.mark.skipif("pyfftw" not in offt.available_engines(), reason="needs pyfftw")
def test_saving_wisdom_keeps_plans_another_process_saved(monkeypatch, tmp_path):
    # Two processes share the cache file; each rewrites it whole, so a save must merge the file.
    import pyfftw

    monkeypatch.setattr(offt.STATE, "wisdom_path", tmp_path / "fftw_wisdom.pkl")
    monkeypatch.setattr(offt.STATE, "merge_disk_wisdom", True)
    saved = pyfftw.export_wisdom()

    def plan(n, flags=("FFTW_MEASURE",)):
        a = pyfftw.empty_aligned((n, 6), dtype=np.complex128)
        return pyfftw.FFTW(a, a, axes=(0,), flags=flags)

    try:
        pyfftw.forget_wisdom()
        plan(10)
        offt.wisdom.save_wisdom()  # "process 1" saves a plan for n = 10
        pyfftw.forget_wisdom()
        plan(14)
        offt.wisdom.save_wisdom()  # "process 2", which never had n = 10, saves after it
        pyfftw.forget_wisdom()
        with pytest.raises(RuntimeError):
            plan(10, ("FFTW_MEASURE", "FFTW_WISDOM_ONLY"))  # sanity: no wisdom in memory now
        pyfftw.import_wisdom(pickle.loads(offt.STATE.wisdom_path.read_bytes()))
        plan(10, ("FFTW_MEASURE", "FFTW_WISDOM_ONLY"))
        plan(14, ("FFTW_MEASURE", "FFTW_WISDOM_ONLY"))
    finally:
        pyfftw.forget_wisdom()
        pyfftw.import_wisdom(saved)


def test_fast_padded_size():
    """At least the plain padded length, (m - n) even, and only the factors 2, 3, 5, 7, 11."""
    from optics4f.grid import fast_padded_size, padded_size

    def factors_ok(m):
        for p in (2, 3, 5, 7, 11):
            while m % p == 0:
                m //= p
        return m == 1

    assert fast_padded_size(102, 2.0) == 210  # 204 = 2^2 3 17 and 206, 208 = 2^4 13 are passed over
    assert fast_padded_size(114, 2.0) == 240  # 228 = 2^2 3 19
    assert fast_padded_size(128, 2.0) == 256 == padded_size(128, 2.0)  # already fast: unchanged
    for n in range(1, 400):
        for factor in (1.0, 1.5, 2.0, 4.0):
            m = fast_padded_size(n, factor)
            assert m >= padded_size(n, factor) and (m - n) % 2 == 0 and factors_ok(m)
            # the smallest such length
            assert not any(factors_ok(k) and (k - n) % 2 == 0 for k in range(padded_size(n, factor), m))
