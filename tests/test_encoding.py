"""Complex masks on real panels: double phase (phase-only LCoS) and Lee (binary DMD), checked by
passing a test input through optics4f.FourF with the encoded mask and with the ideal complex mask.

Fidelity metric (optics4f.devices.encoding_fidelity): inside the aperture that selects the wanted
term, the normalised correlation |<r, t>| / (|r| |t|) and the relative L2 error |t - a r| / |a r|
after fitting the global complex scale a = <r, t> / <r, r>; a itself must match the encoding's
analytic scale (1/amax for double phase, 1/(pi amax) for Lee).
"""
import numpy as np
import pytest

import optics4f as o
from optics4f.devices import SLM, double_phase, encoding_fidelity, lee_hologram, output_window
from optics4f.devices.encoding import order_shift

LAM, F, PITCH = 532e-9, 0.1, 8e-6


def _scene(m, n_img):
    """Asymmetric test input (an L-shaped bar and an off-centre blob) of n_img pixels, centred in m."""
    y, x = np.mgrid[:n_img, :n_img] - n_img // 2
    img = ((np.abs(x + n_img // 4) < 2) & (np.abs(y) < n_img // 3)).astype(float)
    img += ((np.abs(y - n_img // 3 + 2) < 2) & (x > -n_img // 4) & (x < n_img // 5)).astype(float)
    img += 0.7 * np.exp(-((x - n_img // 5) ** 2 + (y + n_img // 5) ** 2) / (2 * (n_img / 10) ** 2))
    u = np.zeros((m, m), complex)
    u[m // 2 - n_img // 2:m // 2 + n_img - n_img // 2, m // 2 - n_img // 2:m // 2 + n_img - n_img // 2] = img
    return u


def _kernel():
    """A complex, asymmetric 9 x 9 kernel (two Gaussian lobes with different phases)."""
    yy, xx = np.mgrid[-4:5, -4:5]
    return np.exp(-((xx - 1.5) ** 2 + yy**2) / 2.0) - 0.6j * np.exp(-((xx + 1) ** 2 + (yy - 2) ** 2) / 3.0)


def _system(m):
    # pad=1 with an input that is mostly zeros: the whole output plane (field of view lambda f / p) is kept
    return o.FourF((m, m), PITCH, LAM, F, F, pad=1, dtype=np.complex128)


@pytest.fixture(scope="module")
def dp_case():
    m = 256
    sys4f = _system(m)
    u = _scene(m, 64)
    h = o.kernel_to_mask(_kernel(), (m, m))
    ref = sys4f.apply(u, h)
    # SLM pixel = Fourier-plane sample (k = 1); the aperture: half-width lambda f / (4 p) per axis
    p = sys4f.fourier_grid.dx
    aperture = output_window(sys4f.out_grid, (0.0, 0.0), LAM * F / (4 * p))
    np.testing.assert_array_equal(double_phase(h).aperture(sys4f.out_grid, p, LAM, F), aperture)
    return sys4f, u, h, ref, aperture, p


def test_double_phase_pattern_identity():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(6, 8)) + 1j * rng.normal(size=(6, 8))
    enc = double_phase(h)
    amax = np.abs(h).max()
    assert enc.scale == pytest.approx(1 / amax)
    # each pixel holds arg H +- arccos(|H|/amax): (exp(i t1) + exp(i t2)) / 2 = H / amax
    delta = np.arccos(np.abs(h) / amax)
    t1, t2 = np.angle(h) + delta, np.angle(h) - delta
    parity = (np.add.outer(np.arange(6) - 3, np.arange(8) - 4) % 2) == 0
    np.testing.assert_allclose(enc.pattern, np.where(parity, t1, t2), atol=1e-12)
    np.testing.assert_allclose((np.exp(1j * t1) + np.exp(1j * t2)) / 2, h / amax, atol=1e-12)


def test_double_phase_reproduces_convolution(dp_case):
    sys4f, u, h, ref, aperture, p = dp_case
    enc = double_phase(h)
    # ideal phase-only panel (16 bits: quantisation negligible)
    fine = SLM(resolution=h.shape, pitch=p, bit_depth=16)
    v = sys4f.apply(u, fine.mask(enc.pattern, sys4f.fourier_grid, dtype=np.complex128))
    fid = encoding_fidelity(ref, v, aperture)
    assert fid["correlation"] > 1 - 1e-6
    assert fid["relative_error"] < 1e-3  # measured 4.3e-4: tails of the far term leaking into the aperture
    assert abs(fid["scale"] - enc.scale) < 1e-5 * enc.scale
    # a real 8-bit panel
    slm8 = SLM(resolution=h.shape, pitch=p, bit_depth=8)
    v8 = sys4f.apply(u, slm8.mask(enc.pattern, sys4f.fourier_grid, dtype=np.complex128))
    fid8 = encoding_fidelity(ref, v8, aperture)
    assert fid8["correlation"] > 0.9999
    assert fid8["relative_error"] < 1e-2  # measured 5.6e-3
    assert abs(fid8["scale"] - enc.scale) < 3e-3 * enc.scale


def test_double_phase_needs_its_aperture(dp_case):
    """The checkerboard term lands at (lambda f/2p, lambda f/2p): without the aperture the output is wrong,
    and the power outside the aperture sits around that corner."""
    sys4f, u, h, ref, aperture, p = dp_case
    enc = double_phase(h)
    v = sys4f.apply(u, np.exp(1j * enc.pattern))
    assert encoding_fidelity(ref, v)["correlation"] < 0.9
    og = sys4f.out_grid
    corner = LAM * F / (2 * p)
    assert og.x()[0] == pytest.approx(-corner)  # the field of view is lambda f / p
    # the four corners of the periodic output plane: |x| and |y| both beyond lambda f / (4 p)
    near_corner = (np.abs(og.y())[:, None] >= corner / 2) & (np.abs(og.x())[None, :] >= corner / 2)
    outside = np.sum(np.abs(v * (1 - aperture)) ** 2)
    assert np.sum(np.abs(v * near_corner) ** 2) > 0.99 * outside
    # the far term is the input filtered by i sqrt(1 - |H|^2/amax^2) exp(i arg H), shifted by half the plane:
    # compare its power with that prediction (the checkerboard moves it to the corner)
    d = 1j * np.sqrt(np.clip(1 - (np.abs(h) / np.abs(h).max()) ** 2, 0, 1)) * np.exp(1j * np.angle(h))
    far = sys4f.apply(u, d)
    assert outside == pytest.approx(np.sum(np.abs(far) ** 2), rel=1e-3)


@pytest.fixture(scope="module")
def lee_case():
    m = 512
    sys4f = _system(m)
    u = _scene(m, 32)
    h = o.kernel_to_mask(_kernel(), (m, m))
    return sys4f, u, h, sys4f.apply(u, h)


@pytest.mark.parametrize("carrier", [(0.0, 0.125), (0.125, 0.125)])
def test_lee_hologram_reproduces_convolution(lee_case, carrier):
    sys4f, u, h, ref = lee_case
    enc = lee_hologram(h, carrier)
    assert set(np.unique(enc.pattern)) == {0.0, 1.0}
    dmd = SLM(resolution=h.shape, pitch=sys4f.fourier_grid.dx, mode="binary", bit_depth=1)
    frame = dmd.encode(enc.pattern)
    assert frame.dtype == np.uint8 and set(np.unique(frame)) == {0, 1}
    v = sys4f.apply(u, dmd.transmission(frame, sys4f.fourier_grid, dtype=np.complex128))
    # first order at +lambda f nu / p in the output plane: 64 samples here
    p, og = sys4f.fourier_grid.dx, sys4f.out_grid
    sy, sx = order_shift(carrier, p, LAM, F)
    shift = (round(sy / og.dy), round(sx / og.dx))
    assert shift == tuple(round(c * 512) for c in carrier)
    half = [LAM * F / p * (abs(c) / 2 if c else 0.5) for c in carrier]
    aperture = output_window(og, (sy, sx), half)
    np.testing.assert_array_equal(enc.aperture(og, p, LAM, F), aperture)
    ref_there = np.roll(ref, shift, axis=(0, 1))
    fid = encoding_fidelity(ref_there, v, aperture)
    # measured: correlation 0.968 / 0.978, relative error 0.26 / 0.21 (binary, 8 pixels per carrier period)
    assert fid["correlation"] > 0.96
    assert fid["relative_error"] < 0.3
    assert abs(fid["scale"] - enc.scale) < 0.05 * enc.scale  # 1 / (pi amax)
    assert abs(fid["scale"] - enc.scale * np.pi) > 0.5 * enc.scale  # (the 1/pi is really there)
    # the -1 order (opposite side) carries the conjugate mask, not the wanted convolution
    mirror = output_window(og, (-sy, -sx), half)
    fid_m = encoding_fidelity(np.roll(ref, (-shift[0], -shift[1]), axis=(0, 1)), v, mirror)
    assert fid_m["correlation"] < fid["correlation"] - 0.1  # measured 0.79 / 0.80


def test_encoding_errors():
    with pytest.raises(ValueError, match="all-zero target"):
        double_phase(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="amax"):
        double_phase(np.ones((4, 4)), amax=0.5)
    with pytest.raises(ValueError, match="carrier must be non-zero"):
        lee_hologram(np.ones((4, 4)), (0.0, 0.0))
    with pytest.raises(ValueError, match="carrier"):
        lee_hologram(np.ones((4, 4)), (0.0, 0.7))
    with pytest.raises(ValueError, match="NaN"):
        double_phase(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="same shape"):
        encoding_fidelity(np.ones((4, 4)), np.ones((4, 5)))
