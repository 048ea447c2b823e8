"""Input display: gray levels with gamma, amplitude/intensity modes, rendering on the grid, errors."""
import numpy as np
import pytest

from optics4f import Grid
from optics4f.devices import InputDisplay
from optics4f.padding import pad_center


def test_frame_levels_amplitude_mode():
    d = InputDisplay(resolution=(1, 6), bit_depth=2)
    img = np.array([[0.0, 0.3, 0.5, 0.5 / 3, 0.95, 1.0]])  # x 3 = 0, 0.9, 1.5, 0.5, 2.85, 3
    frame = d.frame(img)
    np.testing.assert_array_equal(frame, [[0, 1, 2, 1, 3, 3]])  # halves go up
    assert frame.dtype == np.uint8
    np.testing.assert_allclose(d.amplitude(frame), [[0, 1 / 3, 2 / 3, 1 / 3, 1, 1]], rtol=1e-15)
    np.testing.assert_array_equal(d.replace(quantization="floor").frame(img), [[0, 0, 1, 0, 2, 3]])
    assert InputDisplay(resolution=(1, 6), bit_depth=12).frame(img).dtype == np.uint16


def test_gamma_and_intensity_mode():
    gamma = 2.2
    d = InputDisplay(resolution=(1, 256), mode="intensity", gamma=gamma)
    want = np.linspace(0, 1, 256)[None, :]  # wanted intensity
    frame = d.frame(want)
    np.testing.assert_array_equal(frame, np.floor(255 * want ** (1 / gamma) + 0.5).astype(np.uint8))
    shown_intensity = d.amplitude(frame) ** 2
    np.testing.assert_allclose(shown_intensity, (frame / 255.0) ** gamma, rtol=1e-14)
    # the pre-compensated frame shows the wanted intensity to within the local gray step
    step = gamma * np.maximum(want, 1 / 255) ** (1 - 1 / gamma) / 255
    assert np.all(np.abs(shown_intensity - want) <= step)
    # without compensation the display applies its gamma to the image
    raw = d.replace(compensate_gamma=False)
    np.testing.assert_allclose(raw.amplitude(raw.frame(np.full((1, 256), 0.5))) ** 2,
                               (128 / 255) ** gamma, rtol=1e-14)
    # integer images are gray levels and pass unchanged
    g = np.arange(256, dtype=np.uint8)[None, :]
    np.testing.assert_array_equal(d.frame(g), g)


def test_field_rendering_and_power():
    rng = np.random.default_rng(0)
    img = rng.uniform(size=(6, 7))
    d = InputDisplay(resolution=(6, 7), pitch=9e-6)
    amp = d.amplitude(d.frame(img))
    # one sample per pixel: the image on the core's centred grid
    u1 = d.field(img, Grid((10, 12), 9e-6), dtype=np.complex128)
    np.testing.assert_array_equal(u1, pad_center(amp.astype(complex), (10, 12)))
    # 3 samples per pixel: energy sum |u|^2 dA is that of the pixels, sum amp^2 p^2
    g3 = Grid((24, 24), 3e-6)
    u3 = d.field(img, g3, dtype=np.complex128)
    assert np.sum(np.abs(u3) ** 2) * 9e-12 == pytest.approx(np.sum(amp**2) * 81e-12, rel=1e-12)
    # pixel (ny//2, nx//2) = (3, 3) is centred on the axis sample (12, 12): a 3 x 3 block there
    np.testing.assert_allclose(u3[11:14, 11:14], amp[3, 3])
    # fill factor 1/3 (one of three samples per axis): power times 1/9, dead area dark
    u_f = d.replace(fill_factor=1 / 3).field(img, g3, dtype=np.complex128)
    assert np.sum(np.abs(u_f) ** 2) == pytest.approx(np.sum(np.abs(u3) ** 2) / 9, rel=1e-12)
    assert u_f[11, 11] == 0 and u_f[12, 12] == pytest.approx(amp[3, 3])
    assert d.field(img, g3).dtype == np.complex64


def test_embed_centres_a_small_image():
    d = InputDisplay(resolution=(8, 8))
    small = np.ones((2, 3))
    e = d.embed(small)
    assert e.shape == (8, 8) and e.sum() == 6
    np.testing.assert_array_equal(np.argwhere(e)[0], [3, 3])  # rows 3-4, columns 3-5 around pixel (4, 4)
    with pytest.raises(ValueError, match="does not fit the display"):
        d.embed(np.ones((9, 2)))


@pytest.mark.parametrize("kw,match", [
    (dict(bit_depth=0), "bit_depth must be an integer from 1 to 16"),
    (dict(bit_depth=17), "bit_depth must be an integer from 1 to 16"),
    (dict(gamma=0.0), "gamma must be positive"),
    (dict(gamma=float("nan")), "gamma must be positive"),
    (dict(fill_factor=1.5), "fill_factor must be in"),
    (dict(mode="phase"), "mode must be one of"),
    (dict(pitch=float("nan")), "pitch must be positive"),
    (dict(resolution=(4,)), "resolution must be two positive integers"),
    (dict(quantization="ceil"), "quantization method"),
])
def test_bad_settings(kw, match):
    base = dict(resolution=(4, 4))
    base.update(kw)
    with pytest.raises(ValueError, match=match):
        InputDisplay(**base)


def test_bad_images():
    d = InputDisplay(resolution=(4, 4), pitch=8e-6)
    g = Grid((8, 8), 8e-6)
    with pytest.raises(ValueError, match=r"display shape \(\.\.\., 4, 4\).*InputDisplay.embed"):
        d.field(np.zeros((5, 4)), g)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\].*normalise"):
        d.field(np.full((4, 4), 1.5), g)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        d.field(np.full((4, 4), -0.1), g)
    with pytest.raises(ValueError, match="NaN"):
        d.field(np.full((4, 4), np.nan), g)
    with pytest.raises(ValueError, match=r"gray levels and must be 0\.\.255"):
        d.field(np.full((4, 4), 300, np.int32), g)
    with pytest.raises(TypeError, match="must be real"):
        d.field(np.ones((4, 4), complex), g)
    with pytest.raises(TypeError, match="optics4f.Grid"):
        d.field(np.zeros((4, 4)), (8, 8))
