"""Teachers and SCLC students: the spectral stack's convolution convention against scipy and the
optics4f core, collapse() against the layer-by-layer stack, linearity, spectral pooling cutoff,
detector and back ends."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve

import optics4f
from nets.models import (MODELS, Detector, SCLCClassifier, SCLCSegmenter, SpectralStack, TeacherCNN, UNet,
                         kernels_to_masks, lowpass_aperture)
from nets.models.spectral import SpectralPool2d, crop_center, padded_extent


def _set_kernels(stack, kernels):
    convs = [m for m in stack.layers if hasattr(m, "weight")]
    with torch.no_grad():
        for conv, k in zip(convs, kernels):
            conv.weight.copy_(torch.as_tensor(k))


def test_masks_match_optics4f_kernel_to_mask(rng):
    k = rng.standard_normal((3, 2, 5, 3))
    for shape in [(16, 16), (15, 17)]:
        ours = kernels_to_masks(torch.from_numpy(k), shape).numpy()
        ref = optics4f.kernel_to_mask(k, shape)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    # a centred delta kernel is the identity mask
    delta = torch.zeros(3, 3, dtype=torch.float64)
    delta[1, 1] = 1
    np.testing.assert_allclose(kernels_to_masks(delta, (8, 10)).numpy(), np.ones((8, 10)), atol=1e-15)


def test_padded_extent():
    assert padded_extent(28, [5]) == 32
    assert padded_extent(28, [5, 3]) == 34
    assert padded_extent(27, [4]) == 31  # m - n even keeps the axis centred
    assert padded_extent(12, []) == 12


def test_single_layer_is_a_convolution_not_a_correlation(rng):
    """forward == scipy 'same' convolution with an asymmetric kernel (a flip or one-pixel shift fails)."""
    x = rng.random((2, 1, 12, 11))
    k = rng.standard_normal((3, 1, 5, 5))
    k[:, :, 0, :] += 3.0  # strongly asymmetric
    s = SpectralStack(1, (12, 11), channels=(3,), kernel_sizes=5).double()
    _set_kernels(s, [k])
    y = s(torch.from_numpy(x)).detach().numpy()
    assert y.shape == (2, 3, 12, 11)
    for n in range(2):
        for o in range(3):
            ref = fftconvolve(x[n, 0], k[o, 0], mode="same")
            np.testing.assert_allclose(y[n, o].real, ref, rtol=0, atol=1e-12)
            wrong = fftconvolve(x[n, 0], k[o, 0, ::-1, ::-1], mode="same")  # what Conv2d would do
            assert np.abs(y[n, o].real - wrong).max() > 0.1
    assert np.abs(y.imag).max() < 1e-12


def test_two_layer_stack_with_channel_mixing_matches_scipy(rng):
    """Two layers (2 -> 3 -> 2 channels): the stack is the linear convolution with the composed kernels."""
    x = rng.random((1, 2, 10, 10))
    k1 = rng.standard_normal((3, 2, 3, 3))
    k2 = rng.standard_normal((2, 3, 5, 5))
    s = SpectralStack(2, 10, channels=(3, 2), kernel_sizes=(3, 5)).double()
    _set_kernels(s, [k1, k2])
    y = s(torch.from_numpy(x)).detach().numpy()[0].real
    for o in range(2):
        ref = sum(fftconvolve(x[0, i], fftconvolve(k1[j, i], k2[o, j], mode="full"), mode="same")
                  for i in range(2) for j in range(3))
        np.testing.assert_allclose(y[o], ref, rtol=0, atol=1e-11)


def test_spectral_pooling_cutoff():
    """A cosine of index j on the padded grid passes the factor-f aperture iff |j| <= M / (2 f)."""
    m, f = 32, 2.0
    pool = SpectralPool2d(f, (m, m)).double()
    xs = torch.arange(m, dtype=torch.float64)
    for j, passes in [(0, True), (5, True), (8, True), (9, False), (12, False)]:
        wave = torch.cos(2 * np.pi * j * xs / m)[None, :].expand(m, m).to(torch.complex128)[None, None]
        out = pool(wave)
        expected = wave if passes else torch.zeros_like(wave)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
    ap = lowpass_aperture((m, m), f)
    assert ap[m // 2, m // 2] == 1 and ap.sum() == 17 * 17
    circ = lowpass_aperture((m, m), f, "circ")
    assert circ[m // 2, m // 2 + 8] == 1 and circ[m // 2 + 6, m // 2 + 6] == 0  # 6^2+6^2 > 8^2
    with pytest.raises(ValueError, match="factor"):
        lowpass_aperture((m, m), 0.5)


@pytest.mark.parametrize("pool", [None, 2, (2, 1.5)])
def test_collapse_equals_layer_by_layer_stack(pool):
    torch.manual_seed(0)
    s = SpectralStack(2, 16, channels=(4, 3), kernel_sizes=(5, 3), pool=pool, pool_kind="circ")
    x = torch.rand(3, 2, 16, 16)
    y = s(x)
    masks = s.collapse()
    assert masks.shape == (3, 2) + s.padded_shape and masks.dtype == torch.complex64
    y1 = s.forward_masks(x, masks)
    scale = y.abs().max()
    assert (y1 - y).abs().max() / scale < 1e-5
    # the collapse is not trivially the identity: dropping a layer changes the result
    assert (s.forward_masks(x, s.layers[0].mask()[:3]) - y).abs().max() / scale > 0.1


def test_collapsed_masks_drive_the_optics4f_4f_system(rng):
    """The collapsed masks through optics4f.FourF (complex128) give the student's field, inverted about the
    axis and times -(f1/f2) = -1 (the convention in optics4f.fourf)."""
    s = SpectralStack(1, 14, channels=(2, 2), kernel_sizes=(3, 5), pool=(None, 2)).double()
    assert all(m % 2 == 0 for m in s.padded_shape)
    x = torch.from_numpy(rng.random((1, 1, 14, 14)))
    field = s.forward_padded(x)[0].detach().numpy()  # (2, My, Mx)
    masks = s.collapse().detach().numpy()[:, 0]
    sys4f = optics4f.FourF(s.padded_shape, 8e-6, 532e-9, 0.1, pad=1.0, dtype=np.complex128)
    # the documented pad factor puts the display (14, 14) on the same Fourier grid
    assert optics4f.FourF((14, 14), 8e-6, 532e-9, 0.1, pad=s.padded_shape[0] / 14).padded_shape == s.padded_shape
    u = optics4f.pad_center(x[0, 0].numpy().astype(np.complex128), s.padded_shape)
    for o in range(2):
        v = sys4f.apply(u, masks[o])
        inverted = np.roll(field[o][::-1, ::-1], 1, axis=(0, 1))  # index p -> M - p about M//2 (M even)
        np.testing.assert_allclose(v, -inverted, rtol=0, atol=1e-10 * np.abs(field[o]).max())


def test_front_end_is_linear(rng):
    torch.manual_seed(1)
    st = SCLCClassifier(1, 12, 3, channels=(3, 2), kernel_sizes=(3, 3), pool=(2, None))
    f = st.frontend.double()
    a, b = 0.7, -1.9
    x, y = (torch.from_numpy(rng.random((2, 1, 12, 12))) for _ in range(2))
    lhs = f(a * x + b * y)
    rhs = a * f(x) + b * f(y)
    torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-12)
    # complex scalars too (a field, not only an image)
    z = 0.3 - 1.1j
    torch.testing.assert_close(f(z * x.to(torch.complex128)), z * f(x), rtol=0, atol=1e-12)
    # the detector is the nonlinearity: the camera image is quadratic in the display amplitude
    st = st.double()
    cam = st.camera
    assert (cam(2 * x) - 4 * cam(x)).abs().max() < 1e-10 * cam(x).abs().max()


def test_real_images_and_real_kernels_give_real_fields_with_pooling(rng):
    s = SpectralStack(1, 15, channels=(2,), kernel_sizes=5, pool=3, pool_kind="rect").double()
    y = s(torch.from_numpy(rng.random((2, 1, 15, 15))))
    assert y.imag.abs().max() < 1e-12 * y.real.abs().max()


def test_detector_intensity_field_and_binning():
    torch.manual_seed(2)
    v = torch.randn(2, 3, 8, 8, dtype=torch.complex128)
    d = Detector("intensity", binning=2)
    i = d(v)
    assert i.shape == (2, 3, 4, 4)
    torch.testing.assert_close(i[0, 0, 1, 2], (v[0, 0, 2:4, 4:6].abs() ** 2).sum())
    torch.testing.assert_close(i.sum(), (v.abs() ** 2).sum())  # energy is conserved by binning
    torch.testing.assert_close(Detector("field")(v), v.real)
    with pytest.raises(ValueError, match="binning 3 must divide"):
        Detector("intensity", 3)(v)
    with pytest.raises(ValueError, match="detector"):
        Detector("phase")


def test_student_classifier_and_swappable_frontend():
    torch.manual_seed(3)
    st = SCLCClassifier(1, 12, 4, channels=(3,), kernel_sizes=5, pool=2, binning=2, hidden=(16,))
    x = torch.rand(5, 1, 12, 12)
    assert st(x).shape == (5, 4)
    assert st.backend[1].num_features == 3 * 6 * 6

    class Ideal(torch.nn.Module):  # any image -> field module can be the front end
        out_channels, image_size = 3, (12, 12)

        def forward(self, x):
            return x.expand(-1, 3, -1, -1).to(torch.complex64)

    st.frontend = Ideal()
    st.eval()
    expected = st.backend(torch.nn.functional.avg_pool2d(x.expand(-1, 3, -1, -1) ** 2, 2) * 4)
    torch.testing.assert_close(st(x), expected)

    class Camera(Ideal):  # a front end that detects itself: the student must not square again
        detects = True

        def forward(self, x):
            return x.expand(-1, 3, -1, -1)

    st.frontend = Camera()
    torch.testing.assert_close(st(x), st.backend(torch.nn.functional.avg_pool2d(x.expand(-1, 3, -1, -1), 2) * 4))


def test_student_segmenter_shapes_and_gradients():
    torch.manual_seed(4)
    st = SCLCSegmenter(1, 16, 3, channels=(4,), binning=2, decoder_width=8)
    x = torch.rand(2, 1, 16, 16)
    out = st(x)
    assert out.shape == (2, 3, 16, 16)
    out.sum().backward()
    assert st.frontend.layers[0].weight.grad.abs().sum() > 0


def test_teachers():
    torch.manual_seed(5)
    t = TeacherCNN(1, (12, 16), 7, widths=(4, 8), hidden=16)
    assert t(torch.rand(3, 1, 12, 16)).shape == (3, 7)
    assert any(isinstance(m, torch.nn.ReLU) for m in t.modules())
    u = UNet(2, 3, base=4, depth=2)
    assert u(torch.rand(2, 2, 16, 12)).shape == (2, 3, 16, 12)
    with pytest.raises(ValueError, match="divisible by 4"):
        u(torch.rand(1, 2, 10, 12))
    with pytest.raises(ValueError, match="odd"):
        TeacherCNN(kernel_size=4)
    with pytest.raises(ValueError, match="too small"):
        TeacherCNN(image_size=4, widths=(4, 4, 4))
    assert set(MODELS) == {"teacher_cnn", "unet", "sclc_classifier", "sclc_segmenter", "imported_classifier"}


def test_stack_input_errors():
    s = SpectralStack(1, 12, channels=(2,))
    with pytest.raises(ValueError, match=r"\(N, 1, 12, 12\)"):
        s(torch.rand(2, 1, 10, 12))
    with pytest.raises(ValueError, match="one entry per layer"):
        SpectralStack(1, 12, channels=(2, 3), kernel_sizes=(3,))
    with pytest.raises(ValueError, match="smaller than image_size"):
        SpectralStack(1, 12, channels=(2,), padded_size=10)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA build of torch and a GPU")
def test_student_on_cuda_matches_cpu():
    torch.manual_seed(6)
    st = SCLCClassifier(1, 16, 5, channels=(4, 3), kernel_sizes=(5, 3), pool=(2, None), binning=2).double().eval()
    x = torch.rand(4, 1, 16, 16, dtype=torch.float64)
    ref = st(x)
    torch.testing.assert_close(st.cuda()(x.cuda()).cpu(), ref, rtol=1e-10, atol=1e-10)


def test_hardware_front_end_with_ideal_masks_gives_the_ideal_camera_image():
    """The ideal stack's collapsed mask on a complex-SLM hardware 4f system (no quantisation, no noise):
    the camera frame is the ideal intensity, inverted about the axis, times one constant."""
    from nets.models.hardware import HardwareFrontend, default_system

    torch.manual_seed(7)
    sysd = default_system(12, 1, 5)
    sysd["slm"]["mode"] = "complex"
    hw = HardwareFrontend(1, 12, 1, 5, system=sysd, quantize=False)
    grid = hw.layer.hw.geometry.padded_shape
    st = SpectralStack(1, 12, channels=(1,), kernel_sizes=5, padded_size=grid).double()
    hw.set_masks(st.collapse().detach())
    x = torch.randint(0, 256, (2, 1, 12, 12)).double() / 255  # on the display's 8-bit levels
    cam = hw(x.float()).detach().double()
    field = st.forward_padded(x).detach()
    inverted = torch.roll(field.abs().flip(-2, -1) ** 2, (1, 1), (-2, -1))  # index p -> M - p about M//2
    ref = crop_center(inverted, cam.shape[-2:])
    scale = (cam * ref).sum() / (ref * ref).sum()
    assert scale > 0
    assert (cam - scale * ref).norm() / cam.norm() < 1e-5
    unflipped = crop_center(field.abs() ** 2, cam.shape[-2:])
    assert (cam - scale * unflipped).norm() / cam.norm() > 0.1


def test_hardware_student_trains_through_the_phase_slm():
    from nets.checkpoint import build_model

    torch.manual_seed(8)
    cfg = {"arch": "sclc_classifier", "in_channels": 1, "image_size": [8, 8], "n_classes": 3, "channels": [2],
           "kernel_sizes": 3, "frontend": "hardware"}
    st = build_model(cfg)
    assert st.frontend.detects and st.frontend.layer.config.slm.mode == "phase"
    assert st.frontend.layer.config.slm.bit_depth == 8
    x, y = torch.rand(6, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1, 2])
    assert st(x).shape == (6, 3)
    torch.nn.functional.cross_entropy(st(x), y).backward()
    assert st.frontend.layer.phase.grad.abs().sum() > 0  # gradient reaches the SLM phase
    st.eval()
    ref = st(x).detach().double()
    torch.testing.assert_close(st.double()(x.double()), ref, rtol=1e-4, atol=1e-4)  # a float64 back end works
    # the config rebuilds the same system (what a checkpoint relies on)
    again = build_model(dict(cfg, frontend_kw={"system": st.frontend.system}))
    assert again.frontend.system == st.frontend.system
    with pytest.raises(ValueError, match="n_channels"):
        build_model(dict(cfg, channels=[3], frontend_kw={"system": st.frontend.system}))


def test_default_hardware_system_pads_to_a_fast_length():
    from nets.models.hardware import default_system
    from optics4f.system import Hardware4f, SystemConfig

    d = default_system(28, 8, 7)  # 3 x 3 tiles of 34: a 102 grid
    hw = Hardware4f(SystemConfig.from_dict(d))
    assert d["grid_shape"] == [102, 102] and hw.geometry.padded_shape == (210, 210)
    assert d["slm"]["resolution"] == [210, 210]  # one SLM pixel per Fourier sample
    assert d["f1"] == pytest.approx(8e-6 * 210 * 8e-6 / 532e-9)
