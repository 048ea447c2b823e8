"""Hardware 4f system: ideal limit, tiled channels, misalignments against analytic predictions
and independent propagations, sampling checks, signed/complex detection."""
from __future__ import annotations

import numpy as np
import pytest

import optics4f as o
from optics4f.devices.detector import Camera
from optics4f.devices.display import InputDisplay
from optics4f.devices.slm import SLM
from optics4f.sampling import AliasingError, SamplingWarning
from optics4f.system.config import SystemConfig
from optics4f.system.hardware4f import Hardware4f
from optics4f.system.layout import TiledLayout
from optics4f.system.misalignment import Misalignment, rotate_mask

LAM = 532e-9
D = 8e-6  # display pitch = input sample pitch (oversample 1)
N = 64  # grid
M = 128  # padded (pad 2)
F1 = D * M * D / LAM  # one Fourier sample per 8 um SLM pixel
F2 = 2 * F1  # magnification 2: output pitch 16 um


def config(**kw):
    base = dict(
        wavelength=LAM, f1=F1, f2=F2, grid_shape=(N, N), oversample=1, pad=2.0,
        display=InputDisplay(resolution=(16, 16), pitch=D, bit_depth=16),
        slm=SLM(resolution=(M, M), pitch=D, mode="complex"),
        camera=Camera(shape=(N, N), pixel_pitch=2 * D, bit_depth=None, gain=1.0, full_well=1e15, noise=False),
    )
    base.update(kw)
    return SystemConfig(**base)


def image(rng, shape=(16, 16)):
    return rng.uniform(0.1, 1.0, shape)


def compact_mask(rng, border=12):
    """A random complex mask that is zero within ``border`` samples of the Fourier-grid edge."""
    h = np.zeros((M, M), complex)
    h[border:-border, border:-border] = rng.standard_normal((M - 2 * border,) * 2) + 1j * rng.standard_normal(
        (M - 2 * border,) * 2)
    return h


def test_aligned_complex_slm_is_the_ideal_4f(rng):
    hw = Hardware4f(config(), dtype=np.complex128)
    img = image(rng, (2, 16, 16))
    h = o.kernel_to_mask(rng.standard_normal((5, 5)), (M, M))
    u = hw.input_field(img)
    np.testing.assert_allclose(u, o.pad_center(img, (N, N)), atol=1e-4)  # 16-bit display, unit illumination
    v = hw.propagate(u, hw.fourier_mask(h))
    ideal = o.FourF((N, N), D, LAM, F1, F2, pad=2, dtype=np.complex128).apply(u, h)
    np.testing.assert_allclose(v, ideal, rtol=0, atol=1e-12 * np.abs(ideal).max())


# -- tiled output channels ------------------------------------------------------------------------
def test_tiled_channels_equal_the_separate_passes(rng):
    lay = TiledLayout(n_channels=4, tile_shape=(32, 32))
    hw = Hardware4f(config(layout=lay), dtype=np.complex128)
    kernels = rng.standard_normal((4, 5, 5))
    masks = o.kernel_to_mask(kernels, (M, M))  # (4, M, M)
    u = hw.input_field(image(rng))
    tiled = hw.propagate(u, hw.fourier_mask(hw.tiled_mask(masks)))
    tiles = lay.read_tiles(tiled)
    scale = np.abs(tiled).max()
    for c in range(4):
        alone = hw.propagate(u, hw.fourier_mask(masks[c]))
        np.testing.assert_allclose(tiles[c], o.crop_center(alone, (32, 32)), atol=1e-10 * scale)
        # nothing of channel c outside its 20 x 20 support inside its tile
        assert np.abs(alone).max() <= np.abs(o.crop_center(alone, (32, 32))).max() * (1 + 1e-12)
    # tiles hold their own channel, not a neighbour's
    assert np.linalg.norm(tiles[0] - o.crop_center(hw.propagate(u, hw.fourier_mask(masks[1])), (32, 32))) > 0.1 * \
        np.linalg.norm(tiles[0])


def test_forward_tiles_and_time_multiplexes_inputs(rng):
    lay = TiledLayout(n_channels=4, tile_shape=(32, 32))
    cam = Camera(shape=(N // 2, N // 2), pixel_pitch=4 * D, bit_depth=None, gain=1.0, full_well=1e15, noise=False)
    hw = Hardware4f(config(layout=lay, camera=cam), dtype=np.complex128)
    masks = o.kernel_to_mask(rng.standard_normal((4, 2, 5, 5)), (M, M))  # (Cout, Cin, M, M)
    imgs = image(rng, (3, 2, 16, 16))  # (B, Cin, h, w)
    out = hw.forward(imgs, masks)
    assert out.shape == (3, 4, 16, 16)  # 32-sample tiles, 2 samples per camera pixel
    for c in range(4):
        expect = 0
        for i in range(2):  # one exposure per input channel, summed electronically
            v = hw.propagate(hw.input_field(imgs[:, i]), hw.fourier_mask(masks[c, i]))
            expect = expect + o.crop_center(hw.camera_frame(v), (16, 16))
        np.testing.assert_allclose(out[:, c], expect, rtol=0, atol=1e-9 * expect.max())


def test_wavelength_multiplexing_at_one_wavelength_equals_time_multiplexing(rng):
    lay = TiledLayout(4, (32, 32))
    hw = Hardware4f(config(layout=lay), dtype=np.complex128)
    masks = o.kernel_to_mask(rng.standard_normal((4, 5, 5)), (M, M))
    imgs = image(rng, (2, 3, 16, 16))
    by_wavelength = hw.forward_wavelengths(imgs, [LAM] * 3, masks)
    by_time = hw.forward(imgs, np.repeat(masks[:, None], 3, axis=1))
    np.testing.assert_allclose(by_wavelength, by_time, rtol=1e-9)


@pytest.mark.parametrize("ratio", [1.0, 1.2, 0.85])
def test_another_wavelength_sees_the_panel_at_its_own_fourier_scale(ratio):
    # A point source lights the Fourier plane uniformly, U = d^2 / (i lam f1); a Gaussian
    # transmission exp(-u^2 / w^2) (w in metres on the panel) then gives, by the lens integral,
    # v(r) = -d^2 pi w^2 / (lam^2 f1 f2) exp(-(pi w r / (lam f2))^2): wider for a longer wavelength.
    lam = LAM * ratio
    du = LAM * F1 / (M * D)
    w = 10 * du
    hw = Hardware4f(config(), dtype=np.complex128, rotation_order=3)
    fg = hw.fourier_grid
    gauss = np.exp(-(fg.y()[:, None] ** 2 + fg.x()[None, :] ** 2) / w**2) + 0j
    img = np.zeros((16, 16))
    img[8, 8] = 1.0
    v = hw.propagate(hw.input_field(img), hw.fourier_mask(gauss, wavelength=lam), wavelength=lam)
    expect = -D * D * np.pi * w**2 / (lam**2 * F1 * F2) * np.exp(-hw.out_grid.r2() * (np.pi * w / (lam * F2)) ** 2)
    assert np.abs(v - expect).max() < 1e-5 * np.abs(expect).max()  # measured 1e-6; the wrong scale: 0.3


def test_slm_target_samples_the_mask_at_pixel_centres():
    # SLM pixel = 2 Fourier samples; panel pixel j (of 64) is centred on Fourier sample (j - 32) * 2 + 64.
    slm = SLM(resolution=(64, 64), pitch=2 * D, mode="complex")
    hw = Hardware4f(config(slm=slm), dtype=np.complex128)
    h = (np.arange(M)[:, None] * 1000 + np.arange(M)[None, :]).astype(complex)
    t = hw.slm_target(h)
    assert t.shape == (64, 64)
    for j, i in [(0, 0), (32, 32), (63, 5), (7, 33)]:
        assert t[j, i] == h[(j - 32) * 2 + 64, (i - 32) * 2 + 64]
    big = Hardware4f(config(slm=SLM(resolution=(M + 10, M + 10), pitch=D, mode="complex")), dtype=np.complex128)
    tb = big.slm_target(h)  # pixels beyond the Fourier grid show 0
    assert tb[0, 0] == 0 and tb[5, 5] == h[0, 0] and tb[-6, -6] == h[-1, -1] and tb[-5, -5] == 0


def test_phase_only_double_phase_tracks_the_ideal_output(rng):
    slm = SLM(resolution=(M, M), pitch=D, mode="phase", bit_depth=8)
    hw = Hardware4f(config(slm=slm))
    assert hw.config.effective_encoding == "double_phase"
    h = o.kernel_to_mask(rng.standard_normal((5, 5)), (M, M))
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(h))
    ideal = hw.fourf.apply(u, h)
    fid = o.devices.encoding_fidelity(ideal, v)
    amax = np.abs(h).max()
    assert fid["correlation"] > 0.999  # measured 0.9998 (8-bit quantisation)
    assert abs(abs(fid["scale"]) * amax - 1) < 0.005  # the wanted term is H / amax


# -- misalignments ------------------------------------------------------------------------------
def test_integer_slm_shift_equals_a_rolled_mask(rng):
    du = LAM * F1 / (M * D)
    mis = Misalignment(slm_shift=(-2 * du, 3 * du))
    hw = Hardware4f(config(misalignment=mis), dtype=np.complex128)
    h = compact_mask(rng)
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(h))
    # H(u - s): the mask content moves by +3 samples in x and -2 in y (independent: roll the mask)
    ref = hw.fourf.apply(u, np.roll(h, (-2, 3), axis=(0, 1)))
    np.testing.assert_allclose(v, ref, atol=1e-11 * np.abs(ref).max())


def test_subpixel_slm_shift_equals_the_analytically_shifted_mask(rng):
    du = LAM * F1 / (M * D)
    s = (0.61 * du, 2.37 * du)
    hw = Hardware4f(config(misalignment=Misalignment(slm_shift=s)), dtype=np.complex128)
    fg = hw.fourier_grid
    w = 15 * du

    def gauss(sy, sx):
        return np.exp(-((fg.y()[:, None] - sy) ** 2 + (fg.x()[None, :] - sx) ** 2) / w**2) + 0j

    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(gauss(0, 0)))
    ref = hw.fourf.apply(u, gauss(*s))
    # measured ~4e-10; the opposite shift direction is off by ~0.14
    assert np.linalg.norm(v - ref) / np.linalg.norm(ref) < 1e-8


def test_slm_shift_gives_the_predicted_output_phase_tilt():
    # A point source on the axis: every Fourier sample lit equally, so the output is FL2 of the
    # mask; shifting the SLM by s multiplies it by exp(-2 pi i s x' / (lambda f2)).
    du = LAM * F1 / (M * D)
    s = (0.0, 1.7 * du)
    img = np.zeros((16, 16))
    img[8, 8] = 1.0
    grid_y = o.Grid((M, M), du).y()
    gauss = np.exp(-(grid_y[:, None] ** 2 + grid_y[None, :] ** 2) / (10 * du) ** 2) + 0j
    base = Hardware4f(config(), dtype=np.complex128)
    v0 = base.propagate(base.input_field(img), base.fourier_mask(gauss))
    hw = Hardware4f(config(misalignment=Misalignment(slm_shift=s)), dtype=np.complex128)
    v1 = hw.propagate(hw.input_field(img), hw.fourier_mask(gauss))
    x = hw.out_grid.x()
    central = np.abs(v0) > 1e-3 * np.abs(v0).max()
    ratio = (v1 / np.where(central, v0, 1))[central]
    expect = np.broadcast_to(np.exp(-2j * np.pi * s[1] * x / (LAM * F2))[None, :], v0.shape)[central]
    np.testing.assert_allclose(ratio, expect, atol=1e-9)
    # the slope, read off the field: d phase / dx' = -2 pi s / (lambda f2)
    row = v1[N // 2] / v0[N // 2]
    slope = np.angle(row[N // 2 + 1] / row[N // 2]) / hw.out_grid.dx
    np.testing.assert_allclose(slope, -2 * np.pi * s[1] / (LAM * F2), rtol=1e-9)


def test_fourier_defocus_equals_angular_spectrum_in_the_fourier_plane(rng):
    dz = 1.5e-3
    hw = Hardware4f(config(misalignment=Misalignment(fourier_defocus=dz)), dtype=np.complex128)
    h = np.exp(1j * rng.uniform(0, 2 * np.pi, (M, M)))  # a random phase mask scatters everywhere
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(h))
    # Independent route: field at the focal plane -> ASM by dz to the SLM -> mask -> ASM by -dz back.
    fg = hw.fourier_grid
    kw = dict(pad=1.0, band_limit=False, dtype=np.complex128)
    w = o.AngularSpectrum((M, M), fg.pitch, LAM, dz, **kw).apply(hw.fourf.fourier_plane(u))
    w = o.AngularSpectrum((M, M), fg.pitch, LAM, -dz, **kw).apply(w * h)
    ref = hw.fourf.from_fourier_plane(w)
    np.testing.assert_allclose(v, ref, atol=1e-10 * np.abs(ref).max())
    # and the defocus matters: it is not the aligned result
    assert np.linalg.norm(v - hw.fourf.apply(u, h)) > 0.1 * np.linalg.norm(ref)


def test_fourier_defocus_without_a_mask_changes_nothing(rng):
    hw = Hardware4f(config(misalignment=Misalignment(fourier_defocus=2e-3)), dtype=np.complex128)
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(np.ones((M, M), complex)))
    np.testing.assert_allclose(v, hw.fourf.apply(u), atol=1e-12)


def test_camera_defocus_blurs_a_gaussian_as_predicted():
    # Gaussian waist w0 on the input; the 4f images it to -(f1/f2) g(-x f1/f2) (waist 2 w0 here);
    # a camera dz behind focus sees the paraxial Gaussian beam at z = dz.
    dz, w0 = 0.03, 6 * D
    hw = Hardware4f(config(misalignment=Misalignment(camera_defocus=dz)), dtype=np.complex128)
    r2_in = hw.in_grid.r2()
    u = np.exp(-r2_in / w0**2).astype(np.complex128)
    v = hw.propagate(u, hw.fourier_mask(np.ones((M, M), complex)))
    w1 = w0 * F2 / F1
    zr = np.pi * w1**2 / LAM
    k = 2 * np.pi / LAM
    q = dz - 1j * zr
    expect = -(F1 / F2) / (1 + 1j * dz / zr) * np.exp(1j * k * hw.out_grid.r2() / (2 * q))
    # measured ~5e-7 (exact ASM vs paraxial closed form); a defocus of the wrong sign is off by ~0.7
    assert np.linalg.norm(v - expect) / np.linalg.norm(expect) < 1e-5
    # the beam really spread: 1/e^2 radius grows by sqrt(1 + (dz/zR)^2)
    assert abs(np.abs(v).max() / (F1 / F2) - 1 / np.sqrt(1 + (dz / zr) ** 2)) < 1e-4


def test_camera_and_fourier_defocus_together_use_explicit_propagation(rng):
    mis = Misalignment(camera_defocus=0.02, fourier_defocus=1e-3)
    hw = Hardware4f(config(misalignment=mis), dtype=np.complex128)
    h = o.kernel_to_mask(rng.standard_normal((3, 3)), (M, M))
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(h))
    only_f = Hardware4f(config(misalignment=Misalignment(fourier_defocus=1e-3)), dtype=np.complex128)
    ref = o.propagate_asm(only_f.propagate(u, only_f.fourier_mask(h)), hw.out_grid.pitch, LAM, 0.02, pad=2.0)
    np.testing.assert_allclose(v, ref, atol=1e-10 * np.abs(ref).max())


def test_slm_tilt_moves_the_output_by_2_f2_sin_t(rng):
    dxo = 2 * D
    t = np.arcsin(5 * dxo / (2 * F2))  # chosen so the output moves by 5 output samples
    hw = Hardware4f(config(misalignment=Misalignment(slm_tilt=(0.0, t))), dtype=np.complex128)
    base = Hardware4f(config(), dtype=np.complex128)
    h = o.kernel_to_mask(rng.standard_normal((3, 3)), (M, M))
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(h))
    ref = np.roll(base.propagate(u, base.fourier_mask(h)), 5, axis=-1)
    np.testing.assert_allclose(v, ref, atol=1e-10 * np.abs(ref).max())


def test_input_tilt_is_imaged_with_inversion_and_magnification(rng):
    t = 2e-3
    hw = Hardware4f(config(misalignment=Misalignment(input_tilt=(0.0, t))), dtype=np.complex128)
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(np.ones((M, M), complex)))
    k = 2 * np.pi / LAM
    ideal = hw.fourf.apply(u)  # -(f1/f2) u(-x f1/f2)
    expect = ideal * np.exp(-1j * k * np.sin(t) * hw.out_grid.x() * F1 / F2)[None, :]
    np.testing.assert_allclose(v, expect, atol=1e-10 * np.abs(ideal).max())


def test_rotation_by_90_degrees_matches_index_rotation(rng):
    h = rng.standard_normal((M, M)) + 1j * rng.standard_normal((M, M))
    r = rotate_mask(h, np.pi / 2)
    # out(x, y) = h(R(-90)(x, y)) = h(y, -x): out[c + y, c + x] = h[c - x, c + y]
    c = M // 2
    for (yy, xx) in [(0, 1), (3, -5), (-7, 2), (10, 10)]:
        np.testing.assert_allclose(r[c + yy, c + xx], h[c - xx, c + yy], atol=1e-12)
    hw = Hardware4f(config(misalignment=Misalignment(slm_rotation=np.pi / 2)), dtype=np.complex128)
    u = hw.input_field(image(rng))
    hm = compact_mask(rng)
    v = hw.propagate(u, hw.fourier_mask(hm))
    np.testing.assert_allclose(v, hw.fourf.apply(u, rotate_mask(hm, np.pi / 2)), atol=1e-10 * np.abs(v).max())


def test_small_rotation_moves_an_off_axis_mask_counter_clockwise(rng):
    # A Gaussian mask centred at (y, x) = (0, a) on an SLM rotated by +t sits at (a sin t, a cos t).
    du = LAM * F1 / (M * D)
    t, a, w = 0.3, 20 * du, 6 * du
    fg = o.Grid((M, M), du)

    def gauss(y0, x0):
        return np.exp(-((fg.y()[:, None] - y0) ** 2 + (fg.x()[None, :] - x0) ** 2) / w**2) + 0j

    hw = Hardware4f(config(misalignment=Misalignment(slm_rotation=t)), dtype=np.complex128, rotation_order=3)
    got = hw.fourier_mask(gauss(0, a))
    want = gauss(a * np.sin(t), a * np.cos(t))
    assert np.abs(got - want).max() < 2e-4  # cubic spline (measured 4e-5; linear gives 1e-2)
    assert np.abs(hw.fourier_mask(gauss(0, a)) - gauss(-a * np.sin(t), a * np.cos(t))).max() > 0.5  # not clockwise
    u = hw.input_field(image(rng))
    np.testing.assert_allclose(hw.propagate(u, got), hw.fourf.apply(u, got), atol=1e-12)


def test_iris_blocks_high_frequencies(rng):
    du = LAM * F1 / (M * D)
    hw = Hardware4f(config(fourier_aperture=20 * du), dtype=np.complex128)
    h = np.ones((M, M), complex)
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(h))
    ref = hw.fourf.apply(u, o.circular_pupil(hw.fourier_grid, 20 * du) + 0j)
    np.testing.assert_allclose(v, ref, atol=1e-12)


# -- signed and complex detection ------------------------------------------------------------------
def test_holographic_detection_recovers_the_output_field(rng):
    cam = Camera(shape=(N, N), pixel_pitch=2 * D, bit_depth=None, gain=1.0, full_well=1e15, noise=False,
                 offset=3.0, dark_current=50.0)
    hw = Hardware4f(config(camera=cam, holography_steps=5), dtype=np.complex128)
    u = hw.input_field(image(rng))
    v = hw.propagate(u, hw.fourier_mask(o.kernel_to_mask(rng.standard_normal((5, 5)), (M, M))))
    got = hw.detect_holographic(v)
    np.testing.assert_allclose(got, v, atol=1e-9 * np.abs(v).max())


def test_holographic_detection_with_a_noisy_12_bit_camera(rng):
    hw0 = Hardware4f(config(), dtype=np.complex128)
    u = hw0.input_field(image(rng))
    v = hw0.propagate(u, hw0.fourier_mask(o.kernel_to_mask(rng.standard_normal((5, 5)), (M, M))))
    vmax = float(np.abs(v).max())
    # Exposure so that the brightest interferogram |v + R|^2 <= 4 vmax^2 fills 70 % of the full well.
    h_nu = 6.62607015e-34 * 299792458.0 / LAM
    t = 0.7 * 2e4 * h_nu / (4 * vmax**2 * (2 * D) ** 2)
    cam = Camera(shape=(N, N), pixel_pitch=2 * D, bit_depth=12, full_well=2e4, read_noise=3.0, exposure_time=t)
    hw = Hardware4f(config(camera=cam, reference_amplitude=vmax, seed=1), dtype=np.complex128)
    got = hw.detect_holographic(v)
    # Predicted error: the recovered field is sum_n I_n e^{i theta_n} / (N R); with independent frame
    # noise of variance s2 (irradiance units) per pixel its variance is s2 / (N R^2). In electrons:
    # shot noise (mean e-), read noise 3 e-, and the ADC step (1/gain e-) uniform -> step^2 / 12.
    s_e = t * (2 * D) ** 2 / h_nu  # electrons per W/m^2 (QE 1)
    step = 2e4 / 4095
    s2 = (np.abs(v) ** 2 + vmax**2) / s_e + (3.0**2 + step**2 / 12) / s_e**2
    predicted = np.sqrt(np.sum(s2 / (4 * vmax**2))) / np.linalg.norm(v)
    err = np.linalg.norm(got - v) / np.linalg.norm(v)
    assert 0.85 < err / predicted < 1.15, (err, predicted)
    noiseless = Hardware4f(config(camera=cam.__class__(**{**cam.__dict__, "noise": False}), reference_amplitude=vmax),
                           dtype=np.complex128).detect_holographic(v)
    assert np.linalg.norm(noiseless - v) / np.linalg.norm(v) < 5e-3  # 12-bit quantisation only


def test_pseudo_negative_equals_the_signed_result(rng):
    cam = Camera(shape=(N, N), pixel_pitch=2 * D, bit_depth=None, gain=1.0, full_well=1e15, noise=False,
                 offset=10.0, dark_current=1e3)
    hw = Hardware4f(config(camera=cam), dtype=np.complex128)
    img = image(rng)
    kern = rng.standard_normal((5, 5))
    signed = hw.pseudo_negative(img, kern)
    ideal = hw.fourf.apply(hw.input_field(img), o.kernel_to_mask(kern, (M, M)))  # -(f1/f2) (u * h)(-x f1/f2)
    assert np.abs(ideal.imag).max() < 1e-12 * np.abs(ideal).max()
    np.testing.assert_allclose(signed, -ideal.real, atol=1e-7 * np.abs(ideal).max())
    assert signed.min() < 0 < signed.max()  # a signed result


# -- sampling checks ------------------------------------------------------------------------------
def test_slm_coarser_than_the_fourier_grid_is_fine_and_finer_warns():
    """Any SLM pitch renders; a panel finer than the Fourier samples (pitch 7 um < 8 um) cannot be
    represented, which the check says with the padding that would fix it."""
    hw = Hardware4f(config(slm=SLM(resolution=(M, M), pitch=9.3e-6, mode="complex")))
    assert hw.geometry.slm_factor[0] == pytest.approx(9.3 / 8)
    with pytest.raises(AliasingError, match=r"samples the SLM 0.875 times per pixel.*Raise pad to at least"):
        Hardware4f(config(slm=SLM(resolution=(M, M), pitch=7e-6, mode="complex")), strict=True)


def test_camera_pitch_not_a_multiple_is_integrated_and_tiles_read_on_output_samples():
    """A camera of any pitch: its frame is redistributed onto the output samples for the tiles, so a
    uniform output plane gives uniform tiles with each sample's share of the power."""
    cam = Camera(shape=(N // 2, N // 2), pixel_pitch=10e-6, bit_depth=None, gain=1.0, full_well=1e15, noise=False)
    hw = Hardware4f(config(camera=cam))
    k = hw.geometry.camera_factor
    assert k == pytest.approx(10e-6 / hw.out_grid.dx) and k % 1
    lay = TiledLayout(2, (8, 8))
    hw = Hardware4f(config(camera=cam, layout=lay))
    v = np.ones((1, N, N), np.complex128)
    frame = hw.camera_frame(v)
    tiles = lay.read_tiles(frame, k)
    assert tiles.shape == (1, 2, 8, 8)
    per_sample = frame[0, N // 4, N // 4] / k ** 2  # a pixel inside the plane, shared over k^2 samples
    np.testing.assert_allclose(tiles, per_sample, rtol=1e-9)


def test_display_must_fit_the_grid():
    with pytest.raises(ValueError, match="does not fit grid_shape"):
        Hardware4f(config(display=InputDisplay(resolution=(80, 80), pitch=D)))


def test_small_slm_panel_warns_that_it_low_passes():
    with pytest.warns(SamplingWarning, match="low-passes"):
        Hardware4f(config(slm=SLM(resolution=(8, 8), pitch=D, mode="complex")))


def test_tiles_beyond_the_slm_steering_range_are_refused():
    # SLM pixel = 4 Fourier samples: it can steer light only +-lambda f2/(2 p) = +-16 output samples.
    slm = SLM(resolution=(M // 4, M // 4), pitch=4 * D, mode="complex")
    with pytest.raises(AliasingError, match="steer"):
        Hardware4f(config(slm=slm, layout=TiledLayout(4, (32, 32))))


def test_tiles_must_fit_the_camera():
    cam = Camera(shape=(16, 16), pixel_pitch=2 * D, bit_depth=None)
    with pytest.raises(ValueError, match="camera"):
        Hardware4f(config(camera=cam, layout=TiledLayout(4, (32, 32))))


def test_tiles_must_fall_on_whole_camera_pixels():
    cam = Camera(shape=(N // 4, N // 4), pixel_pitch=8 * D, bit_depth=None)  # 4 output samples per pixel
    with pytest.raises(ValueError, match="whole camera pixels"):
        Hardware4f(config(camera=cam, layout=TiledLayout(4, (30, 30))))


def test_kernel_checks():
    hw = Hardware4f(config(layout=TiledLayout(4, (32, 32))))
    hw.check_kernel((5, 5))  # 16 + 5 - 1 = 20 <= 32: fine
    with pytest.raises(ValueError, match="neighbouring channels would overlap"):
        hw.check_kernel((20, 5))
    with pytest.raises(ValueError, match="wrap around"):
        Hardware4f(config()).check_kernel((120, 5))
    # SLM pixel = 4 Fourier samples: replicas every 128/4 = 32 output samples
    coarse = Hardware4f(config(slm=SLM(resolution=(M // 4, M // 4), pitch=4 * D, mode="complex")))
    coarse.check_kernel((9, 9))  # 24 samples
    with pytest.warns(SamplingWarning, match="replicas"):
        coarse.check_kernel((21, 21))  # 36 samples > 32


def test_slm_replicas_closer_than_the_image_warn():
    # SLM pixel = 16 Fourier samples: the output repeats every lambda f2 / p = 128 um, but the image of the
    # 16-pixel display is 16 * 8 um * f2/f1 = 256 um wide. (With 8 samples per pixel it just fits: no warning.)
    Hardware4f(config(slm=SLM(resolution=(M // 8, M // 8), pitch=8 * D, mode="complex")))
    slm = SLM(resolution=(M // 16, M // 16), pitch=16 * D, mode="complex")
    with pytest.warns(SamplingWarning, match="replicate the output"):
        Hardware4f(config(slm=slm))


def test_double_phase_unwanted_term_on_the_camera_warns():
    # SLM pixel = 2 Fourier samples: the checkerboard term lands at M/4 = 32 samples, on a 64-pixel camera.
    slm = SLM(resolution=(M // 2, M // 2), pitch=2 * D, mode="phase")
    with pytest.warns(SamplingWarning, match="unwanted term"):
        Hardware4f(config(slm=slm))


def test_fourier_defocus_beyond_the_input_sampling_warns():
    with pytest.warns(SamplingWarning, match="raise oversample"):
        Hardware4f(config(misalignment=Misalignment(fourier_defocus=0.1)))


def test_bad_masks_and_images_get_clear_errors(rng):
    hw = Hardware4f(config(layout=TiledLayout(4, (32, 32))))
    with pytest.raises(ValueError, match="Cout=4"):
        hw.forward(image(rng, (1, 1, 16, 16)), np.ones((3, 1, M, M), complex))
    with pytest.raises(ValueError, match="Fourier plane has"):
        hw.fourier_mask(np.ones((M - 2, M), complex))
    with pytest.raises(ValueError, match="exactly one"):
        hw.fourier_mask()
    hw.set_masks(np.ones((4, 1, M, M), complex))
    with pytest.raises(ValueError, match="Cin=1"):
        hw.forward(image(rng, (1, 2, 16, 16)))


@pytest.mark.gpu
def test_cupy_arrays_give_the_numpy_result(rng):
    cp = pytest.importorskip("cupy")
    mis = Misalignment(slm_shift=(1e-6, -3e-6), camera_defocus=0.01, slm_rotation=0.01)
    hw = Hardware4f(config(misalignment=mis, layout=TiledLayout(4, (32, 32))), dtype=np.complex128)
    masks = o.kernel_to_mask(rng.standard_normal((4, 5, 5)), (M, M))
    img = image(rng)
    v_np = hw.propagate(hw.input_field(img), hw.fourier_mask(hw.tiled_mask(masks)))
    v_cp = hw.propagate(hw.input_field(cp.asarray(img)), hw.fourier_mask(hw.tiled_mask(cp.asarray(masks))))
    assert isinstance(v_cp, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(v_cp), v_np, atol=1e-9 * np.abs(v_np).max())
    frame = hw.camera_frame(v_cp, rng=3)
    assert isinstance(frame, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(frame), hw.camera_frame(v_np), rtol=1e-9)  # noise off


def test_benchmark_records_mean_what_they_say(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_hardware4f

    recs = bench_hardware4f.main(["--quick", "--batches", "2", "--json", str(tmp_path / "b.json")])
    assert json.loads((tmp_path / "b.json").read_text()) == recs
    assert {r["noise_model"] for r in recs} == {"poisson", "gaussian"}
    for r in recs:
        assert {"case", "batch", "images_per_second", "ratio_to_ideal"} <= set(r)
        assert r["case"] == "hardware4f" and r["batch"] == 2
        np.testing.assert_allclose(r["images_per_second"], 2 / r["seconds"])
        np.testing.assert_allclose(r["ratio_to_ideal"], r["seconds"] / r["ideal_seconds"])
