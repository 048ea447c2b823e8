"""Shared test fixtures: a seeded random generator and the GPU skip.

Tests that need CuPy and a CUDA device are marked ``@pytest.mark.gpu``; they
are skipped (not failed) on machines without either, so the suite passes on
a plain CPU box and runs the NumPy-vs-CuPy checks where a GPU exists.
"""
from __future__ import annotations

import numpy as np
import pytest

from optics4f.backend import has_cupy
from optics4f.fft import get_fft_engine, set_fft_engine

#: Reason shown when GPU tests are skipped.
GPU_SKIP_REASON = "needs CuPy and a visible CUDA device"

#: Decorator for GPU-only tests: ``@requires_gpu``.
requires_gpu = pytest.mark.skipif(not has_cupy(), reason=GPU_SKIP_REASON)


def pytest_collection_modifyitems(config, items):
    """Skip every test marked ``gpu`` when CuPy or a CUDA device is missing."""
    if has_cupy():
        return
    skip = pytest.mark.skip(reason=GPU_SKIP_REASON)
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def scipy_fft_engine():
    """Run a test on the ``scipy`` FFT engine, restoring the previous engine afterwards.

    The physics tests use many one-off grid shapes; with pyfftw each new shape costs an
    FFTW_MEASURE plan (measured: seconds per shape on a cold cache, 145 s for the physics
    files). Both engines are proven to give the same numbers in test_backend.py, which
    also runs every operator on pyfftw.
    """
    before = get_fft_engine()
    set_fft_engine("scipy")
    yield
    set_fft_engine(before)


@pytest.fixture
def rng():
    """A fresh, seeded NumPy Generator per test (reproducible, order-independent)."""
    return np.random.default_rng(20240611)


def crandn(rng, shape, dtype=np.complex128):
    """Complex standard-normal samples of ``shape``."""
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def rel_l2(a, b) -> float:
    """Relative L2 error ||a - b|| / ||b|| (b is the reference)."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def bars(n, seed, size=12, noise=0.3, bar=0.7):
    """A tiny classification set for training tests: 3 classes, a bright bar (+``bar``) at one of
    three heights on uniform noise (0 .. ``noise``), float32 images (n, 1, size, size) in [0, 1]."""
    import torch
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.rand(n, 1, size, size, generator=g) * noise
    for k in range(3):
        x[y == k, 0, 1 + 4 * k:3 + 4 * k, 2:10] += bar
    return TensorDataset(x.clamp(0, 1), y)
