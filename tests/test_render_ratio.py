"""Pixels at any pitch ratio: area-weighted rendering against analytic results (docs/sampling.md)."""
from __future__ import annotations

import numpy as np
import pytest

from optics4f.devices import render
from optics4f.devices.detector import Camera
from optics4f.kernels import kernel_to_mask, mask_at


def _overlap_brute(n_panel, k, m_out, a):
    """W[i, j] by direct interval arithmetic, one pair at a time (independent of render.py)."""
    w = np.zeros((m_out, n_panel))
    for j in range(n_panel):
        c = (j - n_panel // 2) * k
        lo, hi = c - a * k / 2, c + a * k / 2
        for i in range(m_out):
            x = i - m_out // 2
            w[i, j] = max(0.0, min(hi, x + 0.5) - max(lo, x - 0.5))
    return w


def _render_matrix_path(v, k, shape, a):
    """render_pixels through the dense-matrix path even for whole ratios."""
    out = render._apply_matrix_last_axis(v, render.pixel_matrix(v.shape[-1], k[1], shape[1], a), False)
    out = np.swapaxes(out, -1, -2)
    out = render._apply_matrix_last_axis(out, render.pixel_matrix(v.shape[-2], k[0], shape[0], a), False)
    return np.swapaxes(out, -1, -2)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("a", [1.0, 0.7])
def test_whole_ratios_reproduce_the_sliced_rendering_exactly(k, a, rng):
    v = rng.standard_normal((2, 7, 9)) + 1j * rng.standard_normal((2, 7, 9))
    sliced = render.render_pixels(v, k, (30, 41), a)
    np.testing.assert_array_equal(_render_matrix_path(v, (k, k), (30, 41), a), sliced)
    brute = _overlap_brute(7, k, 30, a) @ v @ _overlap_brute(9, k, 41, a).T
    np.testing.assert_allclose(sliced, brute, rtol=0, atol=1e-13)


@pytest.mark.parametrize("k", [0.45, 1.37, 2.5, 3.91])
def test_any_ratio_weights_equal_the_interval_overlaps(k):
    w = render.pixel_matrix(11, k, 29, 0.83).toarray()
    np.testing.assert_allclose(w, _overlap_brute(11, k, 29, 0.83), rtol=0, atol=1e-13)
    inside = w.sum(axis=0) > 0
    # each pixel wholly on the grid deposits its active width a k (the integral is conserved)
    full = [j for j in range(11) if abs((j - 5) * k) + 0.83 * k / 2 < 29 // 2 - 0.5]
    np.testing.assert_allclose(w[:, full].sum(axis=0), 0.83 * k, rtol=1e-13)
    assert inside.any()


@pytest.mark.parametrize("k", [(1.37, 2.5), (0.6, 3.2)])
def test_adjoint_passes_the_dot_product_test(k, rng):
    panel, shape = (13, 8), (31, 27)
    v = rng.standard_normal((3,) + panel) + 1j * rng.standard_normal((3,) + panel)
    g = rng.standard_normal((3,) + shape) + 1j * rng.standard_normal((3,) + shape)
    lhs = np.vdot(g, render.render_pixels(v, k, shape, 0.9))
    rhs = np.vdot(render.render_pixels_adjoint(g, k, panel, 0.9), v)
    assert abs(lhs - rhs) < 1e-12 * abs(lhs)


def test_pixelated_grating_has_its_orders_under_the_pixel_aperture_sinc(rng):
    """A grating of period Q pixels, pixels of fill a at k = 2.35 samples each: the DFT of the rendered
    samples equals, order by order, the continuous spectrum a k sinc(a k f) V(f) of the pixelated
    panel times the sample cell's sinc(f), summed over its aliases f + q (Poisson summation), where
    V(f) = sum_j v_j exp(-2 pi i f c_j) puts the orders at f = n / (Q k)."""
    q_period, reps, k, a, m = 4, 10, 2.35, 0.8, 120
    n = q_period * reps
    v = np.tile(rng.standard_normal(q_period) + 1j * rng.standard_normal(q_period), reps)
    rendered = render.render_pixels(v[None, :], (1, k), (1, m), a)[0] / a  # y: one pixel of k = 1 (weight a)
    x = np.arange(m) - m // 2
    f = (np.arange(m) - m // 2) / m  # cycles per sample
    got = np.exp(-2j * np.pi * f[:, None] * x[None, :]) @ rendered
    c = (np.arange(n) - n // 2) * k
    q = np.arange(-3000, 3001)
    want = np.zeros(m, complex)
    for i, fi in enumerate(f):
        ff = fi + q
        big_v = np.exp(-2j * np.pi * ff[:, None] * c[None, :]) @ v
        want[i] = np.sum(a * k * np.sinc(a * k * ff) * np.sinc(ff) * big_v)
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-4 * np.abs(want).max())
    # a wrong fill factor moves the envelope: the test above would fail for a = 1
    wrong = render.render_pixels(v[None, :], (1, k), (1, m), 1.0)[0]
    assert np.abs(np.exp(-2j * np.pi * f[:, None] * x[None, :]) @ wrong - want).max() > 0.05 * np.abs(want).max()


def test_camera_integration_conserves_power_at_any_ratio(rng):
    """A camera covering the sampled plane (fill 1) collects all its power, at 2.3 samples per pixel."""
    d = 1.0e-6
    u = rng.standard_normal((2, 46, 46)) + 1j * rng.standard_normal((2, 46, 46))
    cam = Camera(shape=(22, 22), pixel_pitch=2.3 * d)  # 50.6 um sensor on a 46 um plane
    p = cam.pixel_power(u, d)
    np.testing.assert_allclose(p.sum(axis=(-2, -1)), (np.abs(u) ** 2).sum(axis=(-2, -1)) * d * d, rtol=1e-12)


def test_mask_at_interpolates_a_mask_between_its_samples(rng):
    """Between Fourier samples the mask is its kernel's Fourier series: on a grid twice as fine the
    same kernel's mask is known exactly, and mask_at on the coarse one must reproduce it."""
    k = rng.standard_normal((2, 5, 5)) + 1j * rng.standard_normal((2, 5, 5))
    coarse, fine = kernel_to_mask(k, (32, 36)), kernel_to_mask(k, (64, 72))
    sy, sx = (np.arange(64) - 32) / 2 + 16, (np.arange(72) - 36) / 2 + 18
    np.testing.assert_allclose(mask_at(coarse, sy, sx), fine, rtol=0, atol=1e-12 * np.abs(fine).max())
    np.testing.assert_allclose(mask_at(coarse, np.arange(32), np.arange(36)), coarse, atol=1e-12)
