"""SLM model: quantisation, gray <-> phase (linear law, LUT), wavelength scaling, flatness,
pixel rendering (fill factor, dead zone, fringing) against analytic grating results, presets, errors."""
import math

import numpy as np
import pytest
from scipy.special import erf

from optics4f import Grid
from optics4f.devices import SLM, preset_names, slm_preset
from optics4f.devices.render import (
    pitch_ratio,
    pixel_weights,
    render_pixels,
    render_pixels_adjoint,
    smooth,
)
from optics4f.devices.slm import (
    fringing,
    invert_lut,
    phase_to_gray_linear,
    quantize,
)
from optics4f.padding import pad_center

TWO_PI = 2 * np.pi


# ----------------------------------------------------------------------------- quantisation
def test_quantize_levels_floor_and_round():
    x = np.array([-3.0, 0.0, 0.49, 0.5, 1.2, 3 - 1e-9, 3 - 1e-3, 254.5, 254.6, 300.0])
    np.testing.assert_array_equal(quantize(x, 8, "round"), [0, 0, 0, 1, 1, 3, 3, 255, 255, 255])
    np.testing.assert_array_equal(quantize(x, 8, "floor"), [0, 0, 0, 0, 1, 3, 2, 254, 254, 255])
    assert quantize(x, 8).dtype == np.uint8
    assert quantize(x, 10).dtype == np.uint16
    assert quantize(np.array([5000.0]), 12)[0] == 4095
    np.testing.assert_array_equal(quantize(np.array([0.4, 0.6, 7.0]), 1, "round"), [0, 1, 1])


def test_linear_phase_to_gray_exact_levels():
    # gray_2pi = 218 (8 bit), sign -1: x = 218 * mod(-phi, 2 pi) / 2 pi
    phi = np.array([0.0, np.pi / 2, np.pi, -np.pi / 2, 3 * np.pi / 2 + 1e-12])
    x = 218 * np.mod(-phi, TWO_PI) / TWO_PI  # 0, 163.5, 109, 54.5, 54.5
    np.testing.assert_allclose(x, [0, 163.5, 109, 54.5, 54.5], atol=1e-9)
    np.testing.assert_array_equal(phase_to_gray_linear(phi, 8, 218, -1, "round"), [0, 164, 109, 55, 55])
    np.testing.assert_array_equal(phase_to_gray_linear(phi, 8, 218, -1, "floor"), [0, 163, 109, 54, 54])
    np.testing.assert_array_equal(phase_to_gray_linear(phi, 8, 218, +1, "floor"), [0, 54, 109, 163, 163])


@pytest.mark.parametrize("sign", [-1, 1])
@pytest.mark.parametrize("method", ["floor", "round"])
@pytest.mark.parametrize("gray_2pi,bits", [(255, 8), (217, 8), (1023, 10)])
def test_gray_phase_round_trip_linear(sign, method, gray_2pi, bits):
    slm = SLM(resolution=(1, 2**bits), pitch=8e-6, bit_depth=bits, gray_2pi=gray_2pi, sign=sign,
              quantization=method)
    g = np.arange(2**bits)[None, :]
    phase = slm.gray_to_phase(g)
    np.testing.assert_allclose(phase[0, :5], sign * TWO_PI * np.arange(5) / gray_2pi, rtol=0, atol=1e-15)
    back = slm.phase_to_gray(phase)
    reachable = g < gray_2pi  # gray_2pi shows 2 pi == 0, and levels above it alias below 2 pi
    np.testing.assert_array_equal(back[reachable], g[reachable])
    np.testing.assert_array_equal(back[g == gray_2pi], 0)


def _nonlinear_lut(bits=8, sign=1):
    g = np.arange(2**bits) / (2**bits - 1)
    return sign * 0.97 * TWO_PI * (0.6 * g + 0.4 * g**1.8)  # measured-looking, < 2 pi span


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("method", ["floor", "round"])
def test_lut_round_trip(sign, method):
    lut = _nonlinear_lut(8, sign)
    slm = SLM(resolution=(16, 16), pitch=8e-6, lut=lut, quantization=method)
    g = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_allclose(slm.gray_to_phase(g), lut[g.astype(int)], rtol=0, atol=0)
    np.testing.assert_array_equal(slm.phase_to_gray(slm.gray_to_phase(g)), g)
    # and wrapped by whole turns
    np.testing.assert_array_equal(slm.phase_to_gray(slm.gray_to_phase(g) - 3 * TWO_PI), g)


def test_invert_lut_matches_brute_force():
    rng = np.random.default_rng(1)
    for sign in (1, -1):
        lut = _nonlinear_lut(8, sign)
        phi = rng.uniform(-10, 10, 4000)
        # brute force, independent of searchsorted: circular distance to every level
        d = np.angle(np.exp(1j * (phi[:, None] - lut[None, :])))
        nearest = np.argmin(np.abs(d), axis=1)
        got = invert_lut(phi, lut, "round", period=TWO_PI)
        # ties are measure-zero for random phases
        np.testing.assert_array_equal(got, nearest)
        # floor: the last level not past the wrapped value, in the table's direction
        ts = sign * lut
        y = ts[0] + np.mod(sign * phi - ts[0], TWO_PI)
        floor = np.array([np.flatnonzero(ts <= v).max() for v in y])
        np.testing.assert_array_equal(invert_lut(phi, lut, "floor", period=TWO_PI), floor)


def test_wavelength_scaling():
    lam_d, lam = 633e-9, 532e-9
    slm = SLM(resolution=(1, 256), pitch=8e-6, design_wavelength=lam_d, sign=1)
    g = np.arange(256)[None, :]
    # optical path fixed: phase scales as lambda_d / lambda
    np.testing.assert_allclose(slm.gray_to_phase(g, lam), TWO_PI * g / 255 * lam_d / lam, rtol=1e-15)
    np.testing.assert_allclose(slm.gray_to_phase(g), TWO_PI * g / 255, rtol=1e-15)
    # 2 pi at 532 nm needs gray 255 * 532/633 = 214.3: every phase is reachable, error <= half a level
    phi = np.linspace(-7, 7, 256)[None, :]
    shown = slm.gray_to_phase(slm.phase_to_gray(phi, lam), lam)
    err = np.angle(np.exp(1j * (shown - phi)))
    step = TWO_PI / 255 * lam_d / lam
    assert np.abs(err).max() <= step / 2 + 1e-12
    assert np.abs(err).max() > step / 4  # the quantisation is really at that step
    # the gray for pi at 532 nm
    frame = slm.phase_to_gray(np.full((1, 256), np.pi), lam)
    assert int(frame[0, 0]) == round(255 * 0.5 * lam / lam_d)
    # longer working wavelength: 2 pi would need gray 303 > 255; floor clips to the top level
    slm_long = slm.replace(quantization="floor")
    frame = slm_long.phase_to_gray(np.full((1, 256), 1.9 * np.pi), 760e-9)
    assert int(frame[0, 0]) == 255
    # 'round' takes the circularly nearer of the top level (x = 255) and 2 pi == gray 0 (x = 306.2):
    # 1.9 pi -> x = 290.9 -> 0 ; 1.7 pi -> x = 260.3 -> 255
    x = lambda ph: 255 * ph / TWO_PI * 760 / 633  # noqa: E731
    assert 306 - x(1.9 * np.pi) < x(1.9 * np.pi) - 255 and x(1.7 * np.pi) - 255 < 306 - x(1.7 * np.pi)
    frame = slm.phase_to_gray(np.array([[1.9 * np.pi, 1.7 * np.pi] * 128]), 760e-9)
    np.testing.assert_array_equal(frame[0, :2], [0, 255])


def test_flatness_added_before_quantisation():
    rng = np.random.default_rng(2)
    flat = rng.uniform(-1, 1, (8, 12))
    phi = rng.uniform(-4, 4, (3, 8, 12))
    slm = SLM(resolution=(8, 12), pitch=8e-6, flatness=flat)
    plain = slm.replace(flatness=None)
    np.testing.assert_array_equal(slm.phase_to_gray(phi), plain.phase_to_gray(phi + flat))
    shown = slm.gray_to_phase(slm.phase_to_gray(phi))
    err = np.angle(np.exp(1j * (shown - phi - flat)))
    assert np.abs(err).max() <= np.pi / 255 + 1e-12


def test_sign_convention():
    phi = np.full((2, 2), TWO_PI * 10 / 255)
    assert int(SLM(resolution=(2, 2), sign=-1).phase_to_gray(phi)[0, 0]) == 245
    assert int(SLM(resolution=(2, 2), sign=+1).phase_to_gray(phi)[0, 0]) == 10


def test_amplitude_and_binary_modes():
    amp = SLM(resolution=(1, 5), mode="amplitude", bit_depth=2)
    a = np.array([[0.0, 0.2, 0.5, 0.8, 1.0]])  # x 3 = 0, 0.6, 1.5, 2.4, 3
    np.testing.assert_array_equal(amp.encode(a), [[0, 1, 2, 2, 3]])
    np.testing.assert_allclose(amp.gray_to_amplitude(amp.encode(a)), [[0, 1 / 3, 2 / 3, 2 / 3, 1]])
    lut = np.array([0.0, 0.1, 0.5, 1.0])
    amp_lut = amp.replace(lut=lut)
    np.testing.assert_array_equal(amp_lut.encode(a), [[0, 1, 2, 3, 3]])  # nearest entries (0.8 -> 1.0)
    np.testing.assert_allclose(amp_lut.modulation(np.array([[0, 1, 2, 3, 3]])).real, [[0, 0.1, 0.5, 1, 1]])
    dmd = SLM(resolution=(1, 5), mode="binary", bit_depth=1)
    np.testing.assert_array_equal(dmd.encode(a), [[0, 0, 1, 1, 1]])
    with pytest.raises(ValueError, match="amplitude must lie in"):
        amp.encode(a * 2)


def test_complex_mode_is_ideal_and_equality():
    rng = np.random.default_rng(5)
    h = rng.normal(size=(2, 6, 8)) + 1j * rng.normal(size=(2, 6, 8))
    ideal = SLM(resolution=(6, 8), pitch=4e-6, mode="complex")
    t = ideal.mask(h, Grid((10, 12), 4e-6), dtype=np.complex128)  # batch axis kept
    np.testing.assert_array_equal(t, pad_center(h, (10, 12)))
    a = SLM(resolution=(16, 16), lut=_nonlinear_lut(), flatness=np.ones((16, 16)))
    assert a == a.replace() and a != a.replace(flatness=np.zeros((16, 16))) and a != a.replace(lut=None)
    assert a != a.replace(fill_factor=0.9)


# ----------------------------------------------------------------------------- rendering
def test_pixel_weights_are_cell_overlaps():
    np.testing.assert_allclose(pixel_weights(3, 1.0)[1], [1, 1, 1])
    np.testing.assert_allclose(pixel_weights(2, 1.0)[1], [0.5, 1, 0.5])
    np.testing.assert_allclose(pixel_weights(5, 0.6)[1], [1, 1, 1])
    m, w = pixel_weights(4, 0.7)  # active [-1.4, 1.4]: cells +-1 are 0.9 covered
    np.testing.assert_array_equal(m, [-1, 0, 1])
    np.testing.assert_allclose(w, [0.9, 1, 0.9])
    m, w = pixel_weights(6, 0.5)  # active [-1.5, 1.5]
    np.testing.assert_array_equal(m, [-1, 0, 1])
    np.testing.assert_allclose(w, [1, 1, 1])
    assert math.isclose(w.sum(), 0.5 * 6)


def test_render_small_case_by_hand():
    v = np.array([[1.0, 2.0], [3.0, 4.0]])
    # k = 3: pixel j centred on sample (j - 1) * 3 + M//2; M = 8 -> centres 1 and 4
    out = render_pixels(v, 3, (8, 8))
    exp = np.zeros((8, 8))
    exp[0:3, 0:3], exp[0:3, 3:6], exp[3:6, 0:3], exp[3:6, 3:6] = 1, 2, 3, 4
    np.testing.assert_array_equal(out, exp)
    # k = 1 is the panel itself on a Grid: matches the core's centred padding
    rng = np.random.default_rng(3)
    p = rng.normal(size=(5, 6)) + 1j * rng.normal(size=(5, 6))
    np.testing.assert_array_equal(render_pixels(p, 1, (9, 12)), pad_center(p, (9, 12)))
    # a centred delta pixel lands centred on the axis sample for odd and even k
    d = np.zeros((4, 4))
    d[2, 2] = 1
    for k in (2, 3, 4, 5):
        out = render_pixels(d, k, (4 * k + 2, 4 * k + 2))
        c = (4 * k + 2) // 2
        assert np.isclose((out.sum(0) * np.arange(out.shape[1])).sum() / out.sum(), c)
        assert np.isclose((out.sum(1) * np.arange(out.shape[0])).sum() / out.sum(), c)
        assert np.isclose(out.sum(), k * k)


def test_render_adjoint_dot_product():
    rng = np.random.default_rng(4)
    for k, fill, m in ((2, 1.0, (13, 14)), (3, 0.7, (20, 18)), (4, 0.55, (9, 30)), ((1, 3), 0.8, (7, 20))):
        v = rng.normal(size=(2, 5, 6)) + 1j * rng.normal(size=(2, 5, 6))
        u = rng.normal(size=(2,) + m) + 1j * rng.normal(size=(2,) + m)
        lhs = np.vdot(u, render_pixels(v, k, m, fill))
        rhs = np.vdot(render_pixels_adjoint(u, k, (5, 6), fill), v)
        assert abs(lhs - rhs) < 1e-12 * abs(lhs)


def test_anisotropic_rendering():
    v = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(render_pixels(v, (2, 1), (3, 2)), [[0.5, 1.0], [1.0, 2.0], [0.5, 1.0]])


def test_amplitude_fringing_is_an_erf_edge():
    """An amplitude step (0 | 1 between two pixel columns) smoothed by sigma becomes
    (1 + erf(x / (sqrt 2 sigma))) / 2."""
    k, n, s_rel = 15, 8, 0.2
    grid = Grid((n * k + k, n * k + k), 1e-6)
    slm = SLM(resolution=(n, n), pitch=k * 1e-6, mode="amplitude", fringing_sigma=s_rel * k * 1e-6)
    target = (np.arange(n) >= n // 2)[None, :].repeat(n, 0).astype(float)
    t = slm.mask(target, grid, dtype=np.complex128)
    row = t[grid.ny // 2].real
    # the step sits on the boundary between pixels n//2 - 1 and n//2: x = -p/2 from the axis
    x = (np.arange(grid.nx) - grid.nx // 2) * 1e-6 + k * 1e-6 / 2
    model = 0.5 * (1 + erf(x / (np.sqrt(2) * s_rel * k * 1e-6)))
    inside = np.abs(x) < 3 * k * 1e-6
    assert np.abs(row[inside] - model[inside]).max() < 5e-3
    assert np.abs(row[inside] - (x[inside] >= 0)).max() > 0.3  # a real blur, not the bare step
    assert np.abs(t.imag).max() == 0


def test_pitch_ratio_is_any_positive_ratio():
    assert pitch_ratio(8e-6, 2e-6) == (4, 4)
    assert pitch_ratio(8e-6, (8e-6, 4e-6)) == (1, 2)
    k = pitch_ratio(8e-6, 3e-6)
    assert k == pytest.approx((8 / 3, 8 / 3)) and isinstance(k[0], float)
    with pytest.raises(ValueError, match="positive and finite"):
        pitch_ratio(8e-6, 0.0)


def _uniform_frame(slm, phase):
    return slm.phase_to_gray(np.full(slm.resolution, phase))


@pytest.mark.parametrize("fill", [0.6, 0.83, 1.0])
def test_fill_factor_zero_order_is_area(fill):
    """Uniform phase panel filling the grid: zero order = a^2 exp(i phi0) (+ (1 - a^2) if the dead zone reflects)."""
    k, n = 5, 9  # odd n: pixel n//2 on the axis sample and the panel fills the n k samples exactly
    grid = Grid((n * k, n * k), 2e-6)
    slm = SLM(resolution=(n, n), pitch=k * 2e-6, fill_factor=fill, dead_zone="zero")
    frame = _uniform_frame(slm, 1.0)
    phi0 = float(slm.gray_to_phase(frame)[0, 0])
    t = slm.transmission(frame, grid, dtype=np.complex128)
    zero = np.fft.fft2(t)[0, 0] / t.size
    assert abs(zero - fill**2 * np.exp(1j * phi0)) < 1e-12
    t_u = slm.replace(dead_zone="unmodulated").transmission(frame, grid, dtype=np.complex128)
    zero_u = np.fft.fft2(t_u)[0, 0] / t.size
    assert abs(zero_u - (fill**2 * np.exp(1j * phi0) + 1 - fill**2)) < 1e-12
    if fill == 0.6:  # 3 of 5 samples active exactly: power is the area fill factor
        assert math.isclose(np.sum(np.abs(t) ** 2) / t.size, fill**2, rel_tol=1e-12)


def _binary_grating(k, fill, dead="zero", sigma=0.0, n=16):
    """0/pi grating along x (pi on odd columns), period 2 pixels, k samples per pixel. Returns the
    transmission on a grid that holds the whole panel, and the 2-D spectrum of a window inside the
    panel spanning whole pixels in y and whole periods in x, starting >= 3 pixels from the edges."""
    m = n * k + 2 * k
    grid = Grid((m, m), 1e-6)
    slm = SLM(resolution=(n, n), pitch=k * 1e-6, fill_factor=fill, dead_zone=dead,
              gray_2pi=254, sign=1, fringing_sigma=sigma * k * 1e-6)
    phase = np.where(np.arange(n) % 2 == 0, 0.0, np.pi)[None, :].repeat(n, 0)
    frame = slm.phase_to_gray(phase)
    np.testing.assert_array_equal(np.unique(frame), [0, 127])  # exactly 0 and pi
    t = slm.transmission(frame, grid, dtype=np.complex128)
    # pixel j covers samples centred on (j - n//2) k + m//2; start the window on a pixel boundary
    start = (3 - n // 2) * k + m // 2 - k // 2
    periods = (n - 6) // 2
    win = t[start:start + 2 * periods * k, start:start + 2 * periods * k]
    spec = np.fft.fft2(win) / win.size
    return t, spec, periods  # the first order along x is at index `periods`


def test_smooth_sinusoid_attenuation():
    """A Gaussian of sigma attenuates a sinusoid of period L by exp(-2 pi^2 sigma^2 / L^2)."""
    n, period, sigma = 240, 24.0, 3.0
    x = np.arange(n)
    s = np.cos(TWO_PI * x / period)[None, :].repeat(4, 0)
    out = smooth(s, (0, sigma), mode="wrap")
    c1 = 2 * abs(np.fft.fft(out[0])[n // int(period)]) / n
    # 2e-4: the kernel is truncated at 4 sigma and renormalised (as scipy.ndimage does)
    assert math.isclose(c1, np.exp(-2 * np.pi**2 * sigma**2 / period**2), rel_tol=2e-4)
    assert not math.isclose(c1, np.exp(-2 * np.pi**2 * (1.1 * sigma) ** 2 / period**2), rel_tol=2e-3)
    np.testing.assert_allclose(fringing(s, (0, 0)), s)  # sigma 0: untouched


def test_fringing_lowers_grating_efficiency_as_predicted():
    """Binary 0/pi grating (period 2 p) with fringing sigma: the phase becomes the square wave blurred
    by a Gaussian (erf edges); its first-order efficiency from a dense 1-D quadrature of the continuous
    model must match the rendered panel's spectrum."""
    k, s_rel = 15, 0.2  # sigma = 0.2 pixel pitch
    t, spec, m1 = _binary_grating(k, 1.0, sigma=s_rel, n=24)
    # continuous model, x in pixel units, pixel j centred at j: pi on odd pixels
    x = np.linspace(0, 2, 20000, endpoint=False)
    phi = np.zeros_like(x)
    for j in range(-6, 8):  # odd pixel [j - 1/2, j + 1/2] blurred: erf edges
        if j % 2:
            phi += np.pi / 2 * (erf((x - j + 0.5) / (np.sqrt(2) * s_rel)) - erf((x - j - 0.5) / (np.sqrt(2) * s_rel)))
    c1 = np.mean(np.exp(1j * phi) * np.exp(-1j * np.pi * x))
    c0 = np.mean(np.exp(1j * phi))
    eta_sim = abs(spec[0, m1]) ** 2
    assert abs(c1) ** 2 < 0.9 * 4 / np.pi**2  # fringing matters here (a real change)...
    assert math.isclose(eta_sim, abs(c1) ** 2, rel_tol=5e-3)  # ...and matches the model
    assert math.isclose(abs(spec[0, 0]), abs(c0), rel_tol=1e-2)  # light goes back to the zero order
    assert abs(c0) > 0.1
    assert math.isclose(np.sum(np.abs(t) ** 2), (24 * k) ** 2, rel_tol=1e-12)  # still lossless on the panel


# ----------------------------------------------------------------------------- presets
NATIVE = {  # vendors' specs (resolution (ny, nx), pitch m, bits)
    "holoeye-pluto-2": ((1080, 1920), 8.0e-6, 8),
    "meadowlark-1920x1152": ((1152, 1920), 9.2e-6, 12),
    "hamamatsu-x15213": ((1024, 1272), 12.5e-6, 8),
    "santec-slm-200": ((1200, 1920), 8.0e-6, 10),
    "thorlabs-exulus-hd": ((1080, 1920), 6.4e-6, 8),
    "ti-dlp6500": ((1080, 1920), 7.56e-6, 1),
}


@pytest.mark.parametrize("name", sorted(NATIVE))
def test_presets_native(name):
    slm = slm_preset(name.upper())
    res, pitch, bits = NATIVE[name]
    assert slm.resolution == res and slm.pitch == pitch and slm.bit_depth == bits
    assert slm.mode == ("binary" if name == "ti-dlp6500" else "phase")
    assert slm.gray_2pi == 2**bits - 1
    frame = slm.encode(np.zeros(res))
    assert frame.shape == res and frame.dtype == (np.uint8 if bits <= 8 else np.uint16)


def test_preset_unknown_and_overrides():
    assert set(preset_names()) == set(NATIVE)
    with pytest.raises(KeyError, match="known presets: .*holoeye-pluto-2.*ti-dlp6500"):
        slm_preset("pluto-3")
    s = slm_preset("meadowlark-1920x1152", bit_depth=8)
    assert s.bit_depth == 8 and s.gray_2pi == 255


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kw,match", [
    (dict(bit_depth=0), "bit_depth must be an integer from 1 to 16"),
    (dict(bit_depth=17), "bit_depth must be an integer from 1 to 16"),
    (dict(bit_depth=8.5), "bit_depth"),
    (dict(fill_factor=1.2), "fill_factor must be in"),
    (dict(fill_factor=0.0), "fill_factor must be in"),
    (dict(fill_factor=float("nan")), "fill_factor"),
    (dict(gray_2pi=256), r"gray_2pi must be in \(0, 2\^bit_depth - 1 = 255\]"),
    (dict(gray_2pi=0), "gray_2pi"),
    (dict(gray_2pi=float("nan")), "gray_2pi"),
    (dict(lut=np.r_[np.linspace(0, 3, 200), np.linspace(2.9, 6, 56)]), "lut must be strictly monotonic"),
    (dict(lut=np.linspace(0, 6, 255)), "lut must be a 1-D table of 2"),
    (dict(lut=np.r_[np.nan, np.linspace(0, 6, 255)]), "lut contains NaN"),
    (dict(pitch=float("nan")), "pitch must be positive"),
    (dict(pitch=-1e-6), "pitch must be positive"),
    (dict(mode="holographic"), "mode must be one of"),
    (dict(sign=0), "sign must be -1"),
    (dict(quantization="ceil"), "quantization method must be one of"),
    (dict(dead_zone="black"), "dead_zone must be one of"),
    (dict(resolution=(0, 4)), "resolution must be two positive integers"),
    (dict(fringing_sigma=-1e-6), "fringing_sigma"),
    (dict(flatness=np.zeros((3, 3))), "flatness must have the panel shape"),
    (dict(flatness=np.full((4, 4), np.nan)), "flatness contains NaN"),
    (dict(design_wavelength=0.0), "design_wavelength"),
    (dict(mode="binary", bit_depth=8), "mode 'binary' .* needs bit_depth=1"),
    (dict(mode="binary", bit_depth=1, fringing_sigma=1e-6), "no fringing"),
])
def test_bad_settings(kw, match):
    base = dict(resolution=(4, 4), pitch=8e-6)
    base.update(kw)
    with pytest.raises(ValueError, match=match):
        SLM(**base)


def test_bad_inputs():
    slm = SLM(resolution=(4, 4))
    with pytest.raises(ValueError, match=r"panel shape \(\.\.\., 4, 4\)"):
        slm.encode(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        slm.encode(np.full((4, 4), np.nan))
    with pytest.raises(TypeError, match="must be real"):
        slm.encode(np.ones((4, 4), complex))
    with pytest.raises(TypeError, match="integer gray levels"):
        slm.gray_to_phase(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"frame values must be 0\.\.255"):
        slm.gray_to_phase(np.full((4, 4), 300, np.uint16))
    with pytest.raises(ValueError, match="needs an SLM in mode 'phase'"):
        SLM(resolution=(4, 4), mode="amplitude").gray_to_phase(np.zeros((4, 4), np.uint8))


# ----------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_cupy_matches_numpy():
    """The same SLM, display and encoding pipeline on CuPy arrays gives CuPy results equal to NumPy's."""
    cp = pytest.importorskip("cupy")
    from optics4f.devices import InputDisplay, double_phase

    rng = np.random.default_rng(6)
    slm = SLM(resolution=(16, 16), pitch=6e-6, lut=_nonlinear_lut(), fill_factor=0.8,
              fringing_sigma=1e-6, flatness=rng.uniform(-1, 1, (16, 16)))
    grid = Grid((40, 40), 2e-6)
    phi = rng.uniform(-4, 4, (2, 16, 16))
    f_np, f_cp = slm.phase_to_gray(phi), slm.phase_to_gray(cp.asarray(phi))
    assert isinstance(f_cp, cp.ndarray)
    np.testing.assert_array_equal(f_cp.get(), f_np)
    t_np = slm.transmission(f_np, grid, dtype=np.complex128)
    t_cp = slm.transmission(f_cp, grid, dtype=np.complex128)
    assert isinstance(t_cp, cp.ndarray)
    np.testing.assert_allclose(t_cp.get(), t_np, rtol=0, atol=1e-12)
    lin = SLM(resolution=(16, 16), pitch=6e-6, gray_2pi=217, dead_zone="zero", fill_factor=0.7)
    np.testing.assert_allclose(lin.mask(cp.asarray(phi), grid, dtype=np.complex128).get(),
                               lin.mask(phi, grid, dtype=np.complex128), rtol=0, atol=1e-12)
    disp = InputDisplay(resolution=(16, 16), pitch=6e-6, gamma=2.2, mode="intensity", fill_factor=0.9)
    img = rng.uniform(size=(16, 16))
    np.testing.assert_allclose(disp.field(cp.asarray(img), grid).get(), disp.field(img, grid), rtol=0, atol=1e-6)
    h = rng.normal(size=(16, 16)) + 1j * rng.normal(size=(16, 16))
    np.testing.assert_allclose(double_phase(cp.asarray(h)).pattern.get(), double_phase(h).pattern, atol=1e-12)
