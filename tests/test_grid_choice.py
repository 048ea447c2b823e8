"""Grid choice for stock lenses (bench_pad) and the zero-order-free tile layout (docs/sampling.md)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import next_fast_len

from optics4f.grid import Grid, padded_size
from optics4f.system.grid_choice import bench_pad, slm_samples_needed
from optics4f.system.layout import TiledLayout


@pytest.mark.parametrize("f1", [0.05, 0.075, 0.1, 0.15, 0.2])
@pytest.mark.parametrize("lam, p_slm", [(532e-9, 8e-6), (633e-9, 9.2e-6), (780e-9, 12.5e-6)])
def test_bench_pad_gives_one_fourier_sample_per_slm_pixel_at_a_fast_length(f1, lam, p_slm):
    n, d = 96, 8e-6
    pad = bench_pad((n, n), d, lam, f1, p_slm, pad=4.0)
    m = padded_size(n, pad)
    assert next_fast_len(m) == m and (m - n) % 2 == 0
    k = p_slm / Grid((m, m), d).fourier_grid(lam, f1).dx  # SLM pitch in Fourier samples
    assert k >= 1 and m >= 4 * n
    assert m < max(4 * n, slm_samples_needed(d, lam, f1, p_slm)) * 1.1  # and not much more than needed


def test_bench_pad_refuses_nonsense():
    with pytest.raises(ValueError, match="f1 must be a positive number"):
        bench_pad((64, 64), 8e-6, 633e-9, -0.1, 8e-6)
    with pytest.raises(ValueError, match="pad must be >= 1"):
        bench_pad((64, 64), 8e-6, 633e-9, 0.1, 8e-6, pad=0.5)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 9, 16])
def test_skip_axis_layout_keeps_the_axis_tile_empty(n):
    lay = TiledLayout(n, (32, 32), skip_axis=True)
    rows, cols = lay.arrangement
    assert rows % 2 == 1 and cols % 2 == 1 and rows * cols >= n + 1
    off = lay.offsets()
    assert len({tuple(o) for o in off}) == n  # distinct tiles
    assert not np.any(np.all(off == 0, axis=1))  # none on the optical axis
    assert np.all(np.abs(off).max(axis=0) <= ((np.array([rows, cols]) - 1) // 2) * 32)


def test_skip_axis_needs_an_odd_arrangement():
    with pytest.raises(ValueError, match="odd rows and columns"):
        TiledLayout(3, (16, 16), arrangement=(2, 2), skip_axis=True)
    with pytest.raises(ValueError, match="plus the empty axis tile"):
        TiledLayout(9, (16, 16), arrangement=(3, 3), skip_axis=True)


def test_inactive_pixel_area_images_the_input_on_the_axis():
    """A phase panel of area fill a^2 showing a 4-pixel blazed grating: the active area steers its
    light away, the inactive area passes (1 - a^2) of the field unmodulated, which images the input
    on the axis with intensity (1 - a^2)^2 of the direct image (the zero order skip_axis avoids)."""
    from optics4f.devices.detector import Camera
    from optics4f.devices.display import InputDisplay
    from optics4f.devices.slm import SLM
    from optics4f.system import Hardware4f, SystemConfig

    d, n, m, lam, a = 8e-6, 64, 128, 633e-9, 0.9
    f = d * m * d / lam  # one Fourier sample per SLM pixel
    slm = SLM(resolution=(m, m), pitch=d, mode="phase", bit_depth=8, fill_factor=a)
    cfg = SystemConfig(wavelength=lam, f1=f, f2=f, grid_shape=(n, n), pad=2.0,
                       display=InputDisplay(resolution=(8, 8), pitch=d), slm=slm,
                       camera=Camera(shape=(n, n), pixel_pitch=d, noise=False, bit_depth=None))
    hw = Hardware4f(cfg, dtype=np.complex128)
    ramp = np.broadcast_to(2 * np.pi * (np.arange(m) % 4) / 4, (m, m))
    grating = hw.fourier_mask(frame=slm.phase_to_gray(ramp - np.pi, lam))
    flat = hw.fourier_mask(frame=slm.phase_to_gray(np.zeros((m, m)), lam))
    u = hw.input_field(np.ones((8, 8)))
    axis = (slice(n // 2 - 2, n // 2 + 2),) * 2
    i_grating = np.abs(hw.propagate(u, grating)[axis]) ** 2
    i_flat = np.abs(hw.propagate(u, flat)[axis]) ** 2
    np.testing.assert_allclose(i_grating / i_flat, (1 - a**2) ** 2, rtol=0.1)
