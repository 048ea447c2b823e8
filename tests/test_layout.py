"""Tiled output layout: tile geometry, exact sample shifts of the ramps, tile readout."""
from __future__ import annotations

import numpy as np
import pytest

import optics4f as o
from optics4f.system.layout import TiledLayout


def test_default_arrangement_is_near_square():
    assert TiledLayout(16, (8, 8)).arrangement == (4, 4)
    assert TiledLayout(5, (8, 8)).arrangement == (2, 3)
    assert TiledLayout(1, (8, 8)).arrangement == (1, 1)


def test_offsets_by_hand():
    lay = TiledLayout(4, (32, 32))
    np.testing.assert_array_equal(lay.offsets(), [[-16, -16], [-16, 16], [16, -16], [16, 16]])
    lay = TiledLayout(3, (10, 20), arrangement=(1, 3), gap=2)
    np.testing.assert_array_equal(lay.offsets(), [[0, -22], [0, 0], [0, 22]])
    assert lay.extent == (10, 64)


@pytest.mark.parametrize("f2_over_f1", [1.0, 1.5])
def test_ramps_shift_the_lens_output_by_whole_samples(f2_over_f1, rng):
    # The second lens maps the Fourier plane to the output; ramp c must move the output by offsets[c].
    lam, f1, dx, n = 633e-9, 0.05, 10e-6, 64
    f2 = f1 * f2_over_f1
    fourier = o.Grid((n, n), dx).fourier_grid(lam, f1)
    out_pitch = (dx * f2 / f1,) * 2
    lens2 = o.FourierLens((n, n), fourier.pitch, lam, f2, dtype=np.complex128)
    np.testing.assert_allclose(lens2.out_grid.pitch, out_pitch)  # the output plane of the 4f system
    lay = TiledLayout(4, (16, 16), gap=4)
    w = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    base = lens2.apply(w)
    ramps = lay.ramps(fourier, lam, f2, out_pitch)
    for c, (my, mx) in enumerate(lay.offsets()):
        np.testing.assert_allclose(lens2.apply(w * ramps[c]), np.roll(base, (my, mx), axis=(0, 1)),
                                   atol=1e-10 * np.abs(base).max())


def test_combine_sums_ramped_masks(rng):
    lay = TiledLayout(2, (4, 4), arrangement=(1, 2))
    masks = rng.standard_normal((3, 2, 8, 8)) + 0j
    ramps = np.exp(1j * rng.uniform(0, 6, (2, 8, 8)))
    np.testing.assert_allclose(lay.combine(masks, ramps), masks[:, 0] * ramps[0] + masks[:, 1] * ramps[1])
    with pytest.raises(ValueError, match="channel axis"):
        lay.combine(masks[:, :1], ramps)


def test_read_tiles_picks_the_right_windows():
    lay = TiledLayout(4, (4, 6))
    img = np.arange(20 * 24).reshape(20, 24)
    tiles = lay.read_tiles(img)
    assert tiles.shape == (4, 4, 6)
    for c, (my, mx) in enumerate(lay.offsets()):
        y0, x0 = 10 + my - 2, 12 + mx - 3
        np.testing.assert_array_equal(tiles[c], img[y0:y0 + 4, x0:x0 + 6])
    # on a camera with 2 samples per pixel the tiles are half the size, at half the offsets
    lay2 = TiledLayout(4, (4, 8))
    np.testing.assert_array_equal(lay2.offsets(), [[-2, -4], [-2, 4], [2, -4], [2, 4]])
    cam_img = np.arange(10 * 12).reshape(10, 12)
    cam = lay2.read_tiles(cam_img, k=2)
    assert cam.shape == (4, 2, 4)
    np.testing.assert_array_equal(cam[0], cam_img[3:5, 2:6])  # centre (5, 6) + (-1, -2), minus half a tile
    np.testing.assert_array_equal(cam[3], cam_img[5:7, 6:10])


def test_layout_errors():
    with pytest.raises(ValueError, match="n_channels"):
        TiledLayout(0, (8, 8))
    with pytest.raises(ValueError, match="fewer than"):
        TiledLayout(5, (8, 8), arrangement=(2, 2))
    with pytest.raises(ValueError, match="enlarge the simulation grid"):
        TiledLayout(16, (32, 32)).check_fits((64, 64))
    TiledLayout(4, (32, 32)).check_fits((64, 64))
    with pytest.raises(ValueError, match="multiples"):
        TiledLayout(4, (6, 6)).read_tiles(np.zeros((24, 24)), k=4)
