"""The shared hardware stages: the SLM sampler (against a direct Fourier-series sum, adjoint by a dot
product), the stage sequence against the plain chain of core calls, and the layering (no torch)."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

from optics4f.devices.detector import Camera
from optics4f.devices.display import InputDisplay
from optics4f.devices.slm import SLM
from optics4f.ops import ARRAY_OPS
from optics4f.system import Hardware4f, Misalignment, SystemConfig, TiledLayout
from optics4f.system.slm_sampler import SLMSampler

SAMPLERS = {
    "integer": ((10, 12), (2, 3), (32, 30)),
    "one": ((40, 40), (1, 1), (32, 30)),  # a panel larger than the grid: outer pixels show 0
    "9.3um_on_8um": ((28, 26), (1.1625, 1.1625), (32, 30)),
    "finer_than_grid": ((50, 44), (0.8, 0.7), (24, 26)),
}


def _direct(mask, sy, sx):
    """H(s) = sum_n h_n exp(-2 pi i (s - M//2)(n - M//2) / M) with h the centred IDFT of H / M, by loops
    over numpy.fft (independent of optics4f.lens and optics4f.kernels); 0 for centres off the grid."""
    my, mx = mask.shape
    h = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(mask)))  # kernel, centred at M//2, includes 1/M
    ny, nx = np.arange(my) - my // 2, np.arange(mx) - mx // 2
    out = np.zeros((len(sy), len(sx)), complex)
    for a, s in enumerate(sy):
        if not -0.5 <= s < my - 0.5:
            continue
        ey = np.exp(-2j * np.pi * (s - my // 2) * ny / my)
        for b, t in enumerate(sx):
            if -0.5 <= t < mx - 0.5:
                ex = np.exp(-2j * np.pi * (t - mx // 2) * nx / mx)
                out[a, b] = ey @ h @ ex
    return out


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_slm_sampler_is_the_masks_fourier_series_at_pixel_centres(name, rng):
    res, k, ms = SAMPLERS[name]
    s = SLMSampler(res, k, ms)
    mask = rng.standard_normal(ms) + 1j * rng.standard_normal(ms)
    sy = (np.arange(res[0]) - res[0] // 2) * k[0] + ms[0] // 2
    sx = (np.arange(res[1]) - res[1] // 2) * k[1] + ms[1] // 2
    ref = _direct(mask, sy, sx)
    assert np.count_nonzero(ref) > 0.5 * ref.size or name == "one"
    np.testing.assert_allclose(s.apply(mask), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_slm_sampler_adjoint_dot_product(name, rng):
    res, k, ms = SAMPLERS[name]
    s = SLMSampler(res, k, ms)
    x = rng.standard_normal((2,) + ms) + 1j * rng.standard_normal((2,) + ms)
    y = rng.standard_normal((2,) + res) + 1j * rng.standard_normal((2,) + res)
    lhs, rhs = np.vdot(y, s.apply(x)), np.vdot(s.adjoint(y), x)
    assert abs(lhs - rhs) < 1e-12 * abs(lhs)


def test_slm_sampler_with_a_panel_off_the_grid_is_zero():
    s = SLMSampler((4, 4), (50.5, 50.5), (16, 16))  # only the centre pixel row/column lands on the grid
    assert not s.empty
    far = SLMSampler((2, 2), (40.0, 40.0), (8, 8))
    m = np.ones((8, 8), complex)
    assert far.apply(m).shape == (2, 2)
    assert np.count_nonzero(far.apply(m)) == 1  # pixel (1, 1) is on the axis sample, the others far off it


# -- the stage sequence -----------------------------------------------------------------------------------
LAM, D = 532e-9, 8e-6
N, M = 16, 32


def _hardware(slm, encoding="phase", **kw):
    base = dict(wavelength=LAM, f1=D * M * D / LAM, f2=D * M * D / LAM, grid_shape=(N, N), pad=2.0,
                display=InputDisplay(resolution=(4, 4), pitch=D, bit_depth=8), slm=slm, encoding=encoding,
                camera=Camera(shape=(8, 8), pixel_pitch=2 * D, bit_depth=None, gain=1e-3, full_well=1e12,
                              noise=False),
                layout=TiledLayout(n_channels=4, tile_shape=(8, 8)), illumination=0.5,
                misalignment=Misalignment(slm_shift=(3e-6, -2e-6), slm_tilt=(1e-3, 0.0)))
    base.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Hardware4f(SystemConfig(**base), dtype=np.complex128)


@pytest.mark.parametrize("pitch", [D, 9.3e-6])
def test_forward_is_the_chain_of_core_calls(pitch, rng):
    """Hardware4f.forward (the stages) equals the chain written out with the devices' own methods:
    slm.transmission, the factors, FourF, camera.detect_mean per input channel, frames summed, tiles."""
    res = M if pitch == D else 28
    hw = _hardware(SLM(resolution=(res, res), pitch=pitch, bit_depth=8, fill_factor=0.9))
    cfg = hw.config
    images = rng.uniform(0, 1, (2, 2, 4, 4))
    masks = (rng.standard_normal((4, 2, M, M)) + 1j * rng.standard_normal((4, 2, M, M))) * 0.3
    out = hw.forward(images, masks, noise=False)
    fin, fout = hw.phase_factors()
    ffou = hw.fourier_factor(np.empty(0))
    assert fin is not None and fout is not None and ffou is not None
    total = 0
    for i in range(2):
        combined = sum(cfg.layout.ramps(hw.fourier_grid, LAM, cfg.f2, hw.out_grid.pitch)[o] * masks[o, i]
                       for o in range(4))
        frame = cfg.slm.encode(np.angle(hw.slm_target(combined)), LAM)
        t = cfg.slm.transmission(frame, hw.fourier_grid, LAM, dtype=np.complex128) * ffou
        u = cfg.display.field(images[:, i], hw.in_grid, dtype=np.complex128) * 0.5
        v = hw.fourf.apply(u * fin, t) * fout
        total = total + cfg.camera.detect_mean(v, hw.out_grid.pitch, LAM)
    ref = cfg.layout.read_tiles(total, 2)  # 16 um camera pixels on the 8 um output samples
    assert ref.std() > 0.1 * ref.mean()
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=0)


def test_array_ops_in_place_paths_leave_inputs_alone(rng):
    """The in-place fast paths write only into arrays the pipeline made."""
    hw = _hardware(SLM(resolution=(M, M), pitch=D, bit_depth=8))
    u = rng.standard_normal((2, N, N)) + 0j
    keep = u.copy()
    fm = hw.fourier_mask(np.ones((M, M), complex))
    hw.optical_stage(u)(ARRAY_OPS, u, fm)
    np.testing.assert_array_equal(u, keep)


def test_core_stages_do_not_import_torch():
    code = ("import sys, optics4f, optics4f.ops, optics4f.system.stages, optics4f.system.slm_sampler, "
            "optics4f.devices.slm_transmission; assert 'torch' not in sys.modules, 'the core imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True)
