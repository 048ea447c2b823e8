"""Differentiable device effects: forward = the devices' own functions, backward = adjoints,
derivatives and surrogates checked against independent computations."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import optics4f as o4  # noqa: E402
from optics4f.devices import SLM  # noqa: E402
from optics4f.devices import detector as det  # noqa: E402
from optics4f.devices import render  # noqa: E402
import optics4f.torch.devices as od  # noqa: E402
from optics4f.torch.devices import _smooth_adjoint  # noqa: E402

pytestmark = pytest.mark.usefixtures("scipy_fft_engine")
LAM = 532e-9


def _gc(fn, *args):
    return torch.autograd.gradcheck(fn, args, fast_mode=True)


# -- SLM quantisation --------------------------------------------------------------------------------
def test_quantize_phase_hand_values_and_straight_through_gradient():
    # 2-bit panel, level 3 = 2 pi, gray up = phase up: x = 3 * mod(phi, 2 pi) / (2 pi), rounded.
    slm = SLM(resolution=(1, 6), pitch=8e-6, bit_depth=2, gray_2pi=3, sign=1)
    phi = torch.tensor([[0.1, 1.0, 1.1, 3.0, 5.5, -0.5]], dtype=torch.float64, requires_grad=True)
    q = od.quantize_phase(phi, slm)
    t = 2 * np.pi / 3
    np.testing.assert_allclose(q.detach().numpy(), [[0, 0, t, t, 3 * t, 3 * t]], rtol=1e-15)
    g = torch.arange(1.0, 7.0, dtype=torch.float64)[None]
    q.backward(g)
    np.testing.assert_array_equal(phi.grad.numpy(), g.numpy())  # straight through


@pytest.mark.parametrize("kind", ["linear", "lut", "flatness_and_wavelength"])
def test_quantize_phase_equals_panel(kind, rng):
    res = (4, 5)
    if kind == "linear":
        slm = SLM(resolution=res, pitch=8e-6, bit_depth=8, gray_2pi=218, sign=-1)
    elif kind == "lut":
        lut = 2 * np.pi * (np.arange(256) / 255.0) ** 1.3  # nonlinear, monotonic
        slm = SLM(resolution=res, pitch=8e-6, bit_depth=8, lut=lut, quantization="floor")
    else:
        slm = SLM(resolution=res, pitch=8e-6, bit_depth=10, design_wavelength=633e-9,
                  flatness=rng.uniform(-1, 1, res))
    phi = rng.uniform(-7, 7, (3,) + res)
    q = od.quantize_phase(torch.from_numpy(phi), slm, wavelength=LAM)
    frame = slm.phase_to_gray(phi, LAM)
    np.testing.assert_array_equal(q.numpy(), slm.gray_to_phase(frame, LAM))
    # float32 in, float32 out (same levels)
    q32 = od.quantize_phase(torch.from_numpy(phi.astype(np.float32)), slm, wavelength=LAM)
    assert q32.dtype == torch.float32


def _soft_slope_reference(x, offset, temperature):
    """d/dx of sum_k sigmoid((x - k - offset)/T) over many k, by torch autograd of the plain sum."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    k = torch.arange(-60, 320, dtype=torch.float64)
    torch.sigmoid((xt[:, None] - k[None] - offset) / temperature).sum().backward()
    return xt.grad.numpy()


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
def test_soft_surrogate_is_slope_of_sigmoid_staircase(temperature):
    slm = SLM(resolution=(1, 7), pitch=8e-6, bit_depth=8, gray_2pi=255, sign=1)
    x = np.array([3.0, 3.2, 3.5, 3.49, 100.75, 17.01, 200.3])  # gray values
    phi = torch.tensor(2 * np.pi * x / 255, dtype=torch.float64, requires_grad=True)[None]
    phi.retain_grad()
    od.quantize_phase(phi, slm, surrogate="soft", temperature=temperature).sum().backward()
    expected = _soft_slope_reference(x, 0.5, temperature)
    np.testing.assert_allclose(phi.grad.numpy()[0], expected, rtol=1e-6)  # x passes through 2 pi x / 255
    if temperature == 2.0:  # the straight-through limit
        np.testing.assert_allclose(phi.grad.numpy(), 1.0, rtol=1e-6)


def test_annealed_temperature_is_geometric():
    assert od.annealed_temperature(0, 10, 2.0, 0.02) == pytest.approx(2.0)
    assert od.annealed_temperature(5, 10, 2.0, 0.02) == pytest.approx(0.2)
    assert od.annealed_temperature(10, 10, 2.0, 0.02) == pytest.approx(0.02)
    assert od.annealed_temperature(99, 10, 2.0, 0.02) == pytest.approx(0.02)


def test_quantize_errors():
    cslm = SLM(resolution=(2, 2), pitch=8e-6, mode="complex")
    with pytest.raises(ValueError, match="mode 'phase'"):
        od.quantize_phase(torch.zeros(2, 2), cslm)
    slm = SLM(resolution=(2, 2), pitch=8e-6)
    with pytest.raises(ValueError, match="surrogate"):
        od.quantize_phase(torch.zeros(2, 2), slm, surrogate="magic")
    with pytest.raises(ValueError, match="temperature"):
        od.quantize_phase(torch.zeros(2, 2), slm, surrogate="soft", temperature=0)


# -- linear steps: rendering and fringing --------------------------------------------------------------
@pytest.mark.parametrize("k, fill", [(3, 0.7), (2, 1.0), (4, 0.55)])
def test_render_pixels_forward_and_adjoint(k, fill, rng):
    vals = torch.from_numpy(rng.standard_normal((2, 3, 4)) + 1j * rng.standard_normal((2, 3, 4))).requires_grad_()
    out = od.render_pixels(vals, k, (15, 17), fill)
    np.testing.assert_array_equal(out.detach().numpy(), render.render_pixels(vals.detach().numpy(), k, (15, 17), fill))
    assert _gc(lambda v: od.render_pixels(v, k, (15, 17), fill), vals)


def test_fringe_matches_scipy_gaussian_filter_and_its_adjoint(rng):
    from scipy.ndimage import gaussian_filter

    phi = rng.uniform(-3, 3, (2, 12, 10))
    sig = (1.3, 0.8)
    out = od.fringe(torch.from_numpy(phi), sig)
    ref = np.stack([gaussian_filter(p, sig, mode="nearest", truncate=4.0) for p in phi])
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=1e-13)
    # dot-product test of the adjoint, <S x, y> = <x, S^T y>
    x, y = rng.standard_normal((12, 10)), rng.standard_normal((12, 10))
    lhs = np.vdot(render.smooth(x, sig), y)
    rhs = np.vdot(x, _smooth_adjoint(y, sig))
    assert abs(lhs - rhs) < 1e-12 * abs(lhs)
    p = torch.from_numpy(phi).requires_grad_()
    assert _gc(lambda a: od.fringe(a, sig), p)


# -- SLM transmission -----------------------------------------------------------------------------------
SLMS = {
    "phase_fill_unmodulated": SLM(resolution=(6, 6), pitch=8e-6, bit_depth=6, fill_factor=0.8),
    "phase_fringing_zero_dead": SLM(resolution=(6, 6), pitch=8e-6, bit_depth=8, fringing_sigma=3e-6,
                                    fill_factor=0.9, dead_zone="zero"),
    "phase_lut_flatness": SLM(resolution=(6, 6), pitch=8e-6, bit_depth=8,
                              lut=-2 * np.pi * (np.arange(256) / 256.0) ** 1.2,
                              flatness=np.linspace(-1, 1, 36).reshape(6, 6), design_wavelength=633e-9),
    "complex_fill": SLM(resolution=(6, 6), pitch=8e-6, mode="complex", fill_factor=0.75),
}


SLMS_MORE = dict(SLMS, complex_fringing=SLM(resolution=(6, 6), pitch=8e-6, mode="complex", fill_factor=0.7,
                                             fringing_sigma=2e-6))
#: 4 samples a pixel (the sliced path; panel of 24 samples centred with a border), and 8 um pixels on
#: a 2.5 um grid (3.2 samples a pixel: the sparse area-weight path); both run the one formula
#: (optics4f.devices.slm_transmission).
GRIDS = {"whole": ((28, 28), 2e-6), "non_integer": ((24, 22), 2.5e-6)}


@pytest.mark.parametrize("name, ratio", [(n, "whole") for n in sorted(SLMS)]
                         + [(n, "non_integer") for n in sorted(SLMS_MORE)])
def test_slm_transmission_equals_panel(name, ratio, rng):
    slm = SLMS_MORE[name]
    grid = o4.Grid(*GRIDS[ratio])
    if slm.mode == "phase":
        vals = rng.uniform(-7, 7, (2, 6, 6))
    else:
        vals = rng.standard_normal((2, 6, 6)) + 1j * rng.standard_normal((2, 6, 6))
    t = od.slm_transmission(torch.from_numpy(vals), slm, grid, LAM, dtype=torch.complex128)
    ref = slm.transmission(slm.encode(vals, LAM), grid, LAM, dtype=np.complex128)
    if ratio == "non_integer":
        assert np.abs(ref).max() > 0.5
    np.testing.assert_allclose(t.numpy(), ref, rtol=0, atol=1e-13)


@pytest.mark.parametrize("name", ["phase_fill_unmodulated", "phase_fringing_zero_dead", "complex_fill"])
def test_slm_transmission_gradcheck(name, rng):
    slm = SLMS[name]
    grid = o4.Grid((26, 26), 2e-6)
    if slm.mode == "phase":
        v = torch.from_numpy(rng.uniform(-3, 3, (6, 6))).requires_grad_()
    else:
        v = torch.from_numpy(rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6))).requires_grad_()
    assert _gc(lambda a: od.slm_transmission(a, slm, grid, LAM, quantize=False, dtype=torch.complex128), v)


def test_slm_transmission_gradcheck_non_integer_complex_fringing(rng):
    slm = SLMS_MORE["complex_fringing"]
    v = torch.from_numpy(rng.standard_normal((6, 6)) + 1j * rng.standard_normal((6, 6))).requires_grad_()
    grid = o4.Grid((24, 22), 2.5e-6)
    assert _gc(lambda a: od.slm_transmission(a, slm, grid, LAM, quantize=False, dtype=torch.complex128), v)


def test_sample_slm_gradcheck_and_forward(rng):
    from optics4f.system.slm_sampler import SLMSampler

    s = SLMSampler((7, 6), (1.3, 1.7), (10, 12))
    m = torch.from_numpy(rng.standard_normal((2, 10, 12)) + 1j * rng.standard_normal((2, 10, 12)))
    np.testing.assert_array_equal(od.sample_slm(m, s).numpy(), s.apply(m.numpy()))
    assert _gc(lambda a: od.sample_slm(a, s), m.requires_grad_())


# -- camera ------------------------------------------------------------------------------------------------
def _field(rng, shape=(2, 12, 12), scale=1.0):
    return torch.from_numpy((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale)


def test_camera_detect_without_noise_equals_camera(rng):
    cam = det.Camera(shape=(5, 5), pixel_pitch=4e-6, fill_factor=0.64, quantum_efficiency=0.7,
                     exposure_time=1e-3, dark_current=200.0, full_well=2e4, bit_depth=10, offset=3.0, gamma=0.8,
                     noise=False)
    v = _field(rng, scale=0.35)
    out = od.camera_detect(v, cam, 2e-6, LAM)
    ref = cam.detect_mean(v.numpy(), 2e-6, LAM)
    np.testing.assert_array_equal(out.numpy(), ref)
    assert 0 < ref.max() < 1023  # unsaturated and not all dark: the comparison means something


@pytest.mark.parametrize("gamma", [1.0, 0.7])
def test_camera_gradcheck_analogue(gamma, rng):
    cam = det.Camera(shape=(6, 6), pixel_pitch=4e-6, fill_factor=0.5, exposure_time=1e-3, dark_current=1e3,
                     full_well=1e12, bit_depth=None, gamma=gamma, noise=False)
    v = _field(rng, scale=0.3).requires_grad_()
    assert _gc(lambda a: od.camera_detect(a, cam, 2e-6, LAM), v)


def test_intensity_gradient_is_2v(rng):
    v = _field(rng).requires_grad_()
    assert _gc(od.intensity, v)
    od.intensity(v).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), 2 * v.detach().numpy(), rtol=1e-15)


def test_digitize_gradient_straight_through_and_zero_when_clipped():
    cam = det.Camera(shape=(1, 5), pixel_pitch=4e-6, full_well=1000.0, bit_depth=8, gain=0.5, offset=-10.0,
                     noise=False)
    e = torch.tensor([[5.0, 100.0, 300.5, 520.0, 1500.0]], dtype=torch.float64, requires_grad=True)
    counts = od.digitize(e, cam)
    # 0.5 e - 10, rounded, clipped to 0..255; the full well clips at 1000 e- (= 490 ADU -> 255)
    np.testing.assert_array_equal(counts.detach().numpy(), [[0, 40, 140, 250, 255]])
    counts.sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), [[0, 0.5, 0.5, 0.5, 0]])


@pytest.mark.parametrize("model", ["gaussian", "poisson"])
def test_noise_is_the_cores_seeded_sample_with_reparameterised_gradient(model, rng):
    cam = det.Camera(shape=(4, 4), pixel_pitch=4e-6, read_noise=2.5, noise=True, noise_model=model)
    mean = torch.from_numpy(rng.uniform(5, 500, (3, 4, 4))).requires_grad_()
    e = od.noisy_electrons(mean, cam, np.random.default_rng(7))
    m = mean.detach().numpy()
    g = np.random.default_rng(7)
    if model == "gaussian":
        ref = det.gaussian_noise_reparam(m, 2.5, det.standard_normal(m.shape, g, m.dtype))
    else:
        ref = det.poisson_sample(m, g) + det.standard_normal(m.shape, g, m.dtype) * 2.5
    np.testing.assert_array_equal(e.detach().numpy(), ref)
    e.sum().backward()
    sd = np.sqrt(m + 2.5**2)
    np.testing.assert_allclose(mean.grad.numpy(), 1 + (ref - m) / (2 * sd**2), rtol=1e-12)


def test_reparameterised_noise_statistics():
    cam = det.Camera(shape=(1, 1), pixel_pitch=4e-6, read_noise=4.0, noise=True, noise_model="gaussian")
    n = 40000
    mean = torch.full((n,), 50.0, dtype=torch.float64)
    e = od.noisy_electrons(mean, cam, np.random.default_rng(3)).numpy()
    var = 50.0 + 16.0
    assert abs(e.mean() - 50.0) < 5 * np.sqrt(var / n)
    assert abs(e.var() - var) < 5 * var * np.sqrt(2 / n)
