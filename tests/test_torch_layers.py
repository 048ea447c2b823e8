"""nn.Module layers: ideal spectral conv (convolution semantics against scipy/torch), hardware 4f layer
(against the NumPy Hardware4f, gradcheck, training smoke tests), state dicts, GPU."""
import io
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scipy.signal import fftconvolve  # noqa: E402

import optics4f.torch as ot  # noqa: E402
from optics4f.devices.detector import Camera  # noqa: E402
from optics4f.devices.display import InputDisplay  # noqa: E402
from optics4f.devices.slm import SLM  # noqa: E402
from optics4f.system import Hardware4f, Misalignment, SystemConfig, TiledLayout  # noqa: E402
from optics4f.torch.layers import Hardware4fConv, SpectralConv4f  # noqa: E402

pytestmark = pytest.mark.usefixtures("scipy_fft_engine")
LAM = 532e-9
D = 8e-6


# -- ideal spectral convolution -----------------------------------------------------------------------
def _layer(cin=2, cout=3, n=12, **kw):
    return SpectralConv4f(cin, cout, (n, n), D, LAM, 0.1, pad=2.0, dtype=torch.complex128, **kw)


def test_spectral_conv_is_an_inverted_convolution(rng):
    """out[b, o](x) = -sum_i (u[b, i] * k[o, i])(-x): scipy.signal.fftconvolve, independent of the core."""
    n, ks = 12, 5
    layer = _layer(n=n)
    k = rng.standard_normal((3, 2, ks, ks))
    layer.set_kernels(torch.from_numpy(k))
    u = rng.standard_normal((2, 2, n, n))
    with torch.no_grad():
        out = layer(torch.from_numpy(u)).numpy()
    full = np.stack([np.stack([sum(fftconvolve(u[b, i], k[o, i]) for i in range(2)) for o in range(3)])
                     for b in range(2)])  # (B, Cout, n + ks - 1, n + ks - 1), index j <-> x = j - ks//2
    idx = n - np.arange(n) + ks // 2  # inverted point -x about pixel n//2 (x_i = i - n//2)
    expected = -full[..., idx[:, None], idx[None, :]]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12 * np.abs(expected).max())


def test_correlate_kernels_match_conv2d(rng):
    """set_kernels(correlate=True) takes nn.Conv2d weights: the (inverted, negated) conv2d output."""
    n, ks = 10, 3
    layer = _layer(cin=2, cout=2, n=n)
    w = rng.standard_normal((2, 2, ks, ks))
    layer.set_kernels(torch.from_numpy(w), correlate=True)
    u = torch.from_numpy(rng.standard_normal((1, 2, n, n)))
    with torch.no_grad():
        out = layer(u).real.numpy()
        ref = torch.nn.functional.conv2d(u, torch.from_numpy(w), padding=ks // 2).numpy()
    # conv2d output pixel i is centred like the input; the 4f output at i shows the point -x, i.e. n - i
    np.testing.assert_allclose(out[..., 1:, 1:], -ref[..., ::-1, ::-1][..., :-1, :-1], atol=1e-12)


def test_phase_only_layer_masks_and_gradient(rng):
    layer = _layer(mask="phase")
    m = layer.masks()
    np.testing.assert_allclose(m.abs().detach().numpy(), 1.0, rtol=1e-14)
    op = layer.operator(np.complex128)
    u = torch.from_numpy(rng.standard_normal((1, 2, 12, 12)))
    p = layer.phase.detach().clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda ph: ot.spectral_conv(u, ot.phase_mask(ph), op), (p,), fast_mode=True)
    out = layer(u)
    out.abs().square().sum().backward()
    assert layer.phase.grad is not None and layer.phase.grad.abs().max() > 0


def test_intensity_detection_and_float32_defaults(rng):
    layer = SpectralConv4f(1, 2, (8, 8), D, LAM, 0.1, detect="intensity")
    u = torch.from_numpy(rng.uniform(0, 1, (3, 1, 8, 8)).astype(np.float32))
    out = layer(u)
    assert out.dtype == torch.float32 and out.shape == (3, 2, 8, 8)
    field = ot.spectral_conv(u, layer.masks(), layer.operator(np.complex64))
    np.testing.assert_allclose(out.detach().numpy(), (field.abs() ** 2).detach().numpy(), rtol=1e-5, atol=1e-12)


def test_state_dict_round_trip_weights_only(rng):
    layer = _layer(mask="phase")
    buf = io.BytesIO()
    torch.save(layer.state_dict(), buf)
    buf.seek(0)
    other = _layer(mask="phase")
    other.load_state_dict(torch.load(buf, weights_only=True))
    u = torch.from_numpy(rng.standard_normal((1, 2, 12, 12)))
    with torch.no_grad():
        np.testing.assert_array_equal(layer(u).numpy(), other(u).numpy())


def test_training_ideal_layer_recovers_a_kernel(rng):
    torch.manual_seed(0)
    teacher = _layer(cin=1, cout=2, n=8)
    student = _layer(cin=1, cout=2, n=8)
    x = torch.from_numpy(rng.standard_normal((8, 1, 8, 8)))
    with torch.no_grad():
        y = teacher(x)
    opt = torch.optim.Adam(student.parameters(), lr=0.05)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = (student(x) - y).abs().square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_spectral_layer_errors():
    with pytest.raises(ValueError, match="mask must be one of"):
        _layer(mask="amplitude")
    with pytest.raises(ValueError, match="detect must be one of"):
        _layer(detect="phase")
    with pytest.raises(ValueError, match=r"input must have shape \(B, 2, 12, 12\)"):
        _layer()(torch.zeros(1, 3, 12, 12, dtype=torch.complex128))


# -- hardware 4f layer -----------------------------------------------------------------------------------
N, M = 16, 32
F1 = D * M * D / LAM  # one Fourier sample per 8 um SLM pixel


def _config(slm, **kw):
    base = dict(
        wavelength=LAM, f1=F1, f2=F1, grid_shape=(N, N), pad=2.0,
        display=InputDisplay(resolution=(4, 4), pitch=D, bit_depth=8),
        slm=slm,
        camera=Camera(shape=(8, 8), pixel_pitch=2 * D, bit_depth=None, gain=1e-3, full_well=1e12, noise=False),
        layout=TiledLayout(n_channels=4, tile_shape=(8, 8)),
        misalignment=Misalignment(slm_shift=(3e-6, -2e-6)),
        illumination=0.5,
    )
    base.update(kw)
    with warnings.catch_warnings():  # the tiny test geometry low-passes the display: fine here
        warnings.simplefilter("ignore")
        return SystemConfig(**base)


def _hw_layer(cfg, cin=2, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Hardware4fConv(cfg, in_channels=cin, dtype=torch.complex128, **kw), Hardware4f(cfg, dtype=np.complex128)


# A lab's SLM pitch need not divide the Fourier pitch (8 um here): 9.3 um is 1.1625 samples a pixel, 6.4 um
# is 0.8; the panels of 28 and 40 pixels still cover the 32-sample Fourier grid.
P93, P64 = 9.3e-6, 6.4e-6
CASES = {
    "complex": (SLM(resolution=(M, M), pitch=D, mode="complex"), "auto"),
    "phase_fill": (SLM(resolution=(M, M), pitch=D, bit_depth=6, fill_factor=0.9), "phase"),
    "double_phase_fringing": (SLM(resolution=(M, M), pitch=D, bit_depth=6, fringing_sigma=4e-6), "double_phase"),
    "complex_fringing_fill": (SLM(resolution=(M, M), pitch=D, mode="complex", fill_factor=0.8, fringing_sigma=3e-6),
                              "auto"),
    "complex_9.3um": (SLM(resolution=(28, 28), pitch=P93, mode="complex"), "auto"),
    "phase_fill_9.3um": (SLM(resolution=(28, 28), pitch=P93, bit_depth=6, fill_factor=0.9), "phase"),
    "double_phase_fringing_9.3um": (SLM(resolution=(28, 28), pitch=P93, bit_depth=6, fringing_sigma=4e-6),
                                    "double_phase"),
    "phase_fill_6.4um": (SLM(resolution=(40, 40), pitch=P64, bit_depth=8, fill_factor=0.85), "phase"),
}
# Features beyond the SLM of CASES (a phase panel with fill factor, phase encoding, unless set): tilts, the
# iris, camera with Fourier defocus (an explicit camera propagation after the output factor), a measured LUT
# with flatness and a design wavelength, a camera with gamma, dark current, fill factor and black level.
_LUT = -2 * np.pi * (np.arange(64) / 64.0) ** 1.1
MISALIGNED = {
    "tilts_iris": dict(misalignment=Misalignment(slm_shift=(3e-6, -2e-6), slm_tilt=(1e-3, -2e-3),
                                                 input_tilt=(5e-4, 0.0)), fourier_aperture=100e-6),
    "both_defocus": dict(misalignment=Misalignment(slm_shift=(3e-6, -2e-6), fourier_defocus=2e-4,
                                                   camera_defocus=1e-4)),
    "lut_flatness_design_wavelength_9.3um": dict(
        slm=SLM(resolution=(28, 28), pitch=P93, bit_depth=6, lut=_LUT, design_wavelength=633e-9,
                flatness=np.linspace(-1, 1, 28 * 28).reshape(28, 28), fill_factor=0.95),
        encoding="double_phase"),
    "camera_gamma_dark_fill": dict(camera=Camera(shape=(8, 8), pixel_pitch=2 * D, bit_depth=None, gain=1e-3,
                                                 full_well=1e12, gamma=0.8, dark_current=2e4, fill_factor=0.6,
                                                 offset=0.05, noise=False)),
}


@pytest.mark.parametrize("cin", [1, 2])  # one input channel runs the multi-channel engine's blocked pass
@pytest.mark.parametrize("case", sorted(CASES) + sorted(MISALIGNED))
def test_hardware_layer_equals_numpy_hardware4f(case, cin, rng):
    """The torch layer and Hardware4f run the same stages (optics4f.system.stages): equal to round-off,
    at integer and non-integer SLM pitch ratios, for every device feature the layer supports."""
    if case in MISALIGNED:
        cfg = _config(**{"slm": CASES["phase_fill"][0], "encoding": "phase", **MISALIGNED[case]})
    else:
        slm, enc = CASES[case]
        cfg = _config(slm, encoding=enc)
    layer, hw = _hw_layer(cfg, cin=cin)
    images = rng.uniform(0, 1, (3, cin, 4, 4))
    masks = (rng.standard_normal((4, cin, M, M)) + 1j * rng.standard_normal((4, cin, M, M))) * 0.3
    ref = hw.forward(images, masks, noise=False)
    layer.set_masks(masks)
    with torch.no_grad():
        out = layer(torch.from_numpy(images)).numpy()
    assert out.shape == ref.shape == (3, 4, 4, 4)
    assert ref.min() > 0 and ref.max() > 5 * ref.min()  # light in every tile, with structure
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=0)


def test_hardware_layer_without_layout_equals_numpy_hardware4f(rng):
    """One output channel, the whole camera frame: (B, 1, *camera.shape) against Hardware4f's (B, *camera.shape)."""
    cfg = _config(CASES["phase_fill_9.3um"][0], encoding="phase", layout=None)
    layer, hw = _hw_layer(cfg, cin=2)
    images = rng.uniform(0, 1, (2, 2, 4, 4))
    masks = (rng.standard_normal((2, M, M)) + 1j * rng.standard_normal((2, M, M))) * 0.3
    ref = hw.forward(images, masks, noise=False)
    layer.set_masks(masks[None])
    with torch.no_grad():
        out = layer(torch.from_numpy(images)).numpy()
    assert out.shape == (2, 1, 8, 8) and ref.shape == (2, 8, 8) and ref.max() > 5 * ref.mean() / 2
    np.testing.assert_allclose(out[:, 0], ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", ["phase_fill", "phase_fill_9.3um"])
def test_hardware_layer_counts_equal_with_adc(case, rng):
    cam = Camera(shape=(8, 8), pixel_pitch=2 * D, bit_depth=12, full_well=1e6, noise=False)
    cfg = _config(CASES[case][0], encoding="phase", camera=cam)
    layer, hw = _hw_layer(cfg)
    images = rng.uniform(0, 1, (2, 2, 4, 4))
    masks = (rng.standard_normal((4, 2, M, M)) + 1j * rng.standard_normal((4, 2, M, M))) * 0.3
    ref = hw.forward(images, masks, noise=False)
    layer.set_masks(masks)
    with torch.no_grad():
        np.testing.assert_array_equal(layer(torch.from_numpy(images)).numpy(), ref)
    assert 0 < ref.max() < 2 * 4095


@pytest.mark.parametrize("case", ["complex", "phase_fringing", "complex_9.3um", "phase_fringing_9.3um"])
def test_hardware_layer_gradcheck_without_noise(case, rng):
    """Gradients to the SLM and to the input field; at 9.3 um the complex mask reaches the pixels through
    the SLMSampler's adjoint and the pixels reach the grid through the sparse area-weight matrices."""
    complex_case = case.startswith("complex")
    if case == "complex":
        cfg = _config(CASES["complex"][0])
    elif case == "complex_9.3um":
        cfg = _config(SLM(resolution=(28, 28), pitch=P93, mode="complex", fill_factor=0.9))
    else:
        pitch, res = (D, M) if case == "phase_fringing" else (P93, 28)
        cfg = _config(SLM(resolution=(res, res), pitch=pitch, bit_depth=8, fill_factor=0.8, fringing_sigma=3e-6),
                      encoding="phase")
    layer, _ = _hw_layer(cfg, cin=1, quantize=False)
    images = torch.from_numpy(rng.uniform(0, 1, (2, 1, 4, 4)))
    name = "mask" if complex_case else "phase"
    p0 = getattr(layer, name)
    with torch.no_grad():
        if complex_case:
            p0.copy_(torch.from_numpy((rng.standard_normal(p0.shape) + 1j * rng.standard_normal(p0.shape)) * 0.3))
        else:
            p0.copy_(torch.from_numpy(rng.uniform(-3, 3, p0.shape)))

    p = p0.detach().clone().requires_grad_()
    u = layer.input_field(images).detach().requires_grad_()  # the display field, sqrt(W)/m
    run = lambda q, f: _call_from_field(layer, name, q, f)  # noqa: E731
    assert torch.autograd.gradcheck(run, (p, u), fast_mode=True)


def _call_from_field(layer, name, param, field):
    """layer.from_field(field) with the parameter ``name`` replaced by the tensor ``param``."""
    saved = layer._parameters[name]
    layer._parameters[name] = param
    try:
        return layer.from_field(field)
    finally:
        layer._parameters[name] = saved


def test_training_hardware_layer_with_quantisation_and_noise(rng):
    """A few Adam steps through the 8-bit phase SLM (straight-through) and a noisy 10-bit camera."""
    cam = Camera(shape=(8, 8), pixel_pitch=2 * D, bit_depth=10, full_well=2e4, read_noise=3.0, noise=True,
                 noise_model="gaussian")
    cfg = _config(SLM(resolution=(M, M), pitch=D, bit_depth=8, fill_factor=0.95), encoding="phase",
                  camera=cam, illumination=0.5, seed=1)
    teacher, _ = _hw_layer(cfg, cin=1, noise=False)
    student, _ = _hw_layer(cfg, cin=1, seed=2)
    masks = (rng.standard_normal((4, 1, M, M)) + 1j * rng.standard_normal((4, 1, M, M)))
    teacher.set_masks(masks)
    with torch.no_grad():
        student.phase.copy_(torch.from_numpy(rng.uniform(-np.pi, np.pi, student.phase.shape)))
    images = torch.from_numpy(rng.uniform(0, 1, (8, 1, 4, 4)))
    with torch.no_grad():
        target = teacher(images)
    assert 20 < target.max() < 1023
    opt = torch.optim.Adam(student.parameters(), lr=0.1)
    losses = []
    for _ in range(12):
        opt.zero_grad()
        loss = (student(images) - target).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < 0.5 * losses[0]


def test_hardware_noise_is_seeded(rng):
    cam = Camera(shape=(8, 8), pixel_pitch=2 * D, bit_depth=None, gain=1e-3, full_well=1e12, read_noise=5.0,
                 noise=True)
    cfg = _config(CASES["complex"][0], camera=cam)
    masks = (rng.standard_normal((4, 1, M, M)) + 1j * rng.standard_normal((4, 1, M, M)))
    images = torch.from_numpy(rng.uniform(0, 1, (2, 1, 4, 4)))
    outs = []
    for seed in (5, 5, 6):
        layer, _ = _hw_layer(cfg, cin=1, seed=seed)
        layer.set_masks(masks)
        with torch.no_grad():
            outs.append(layer(images).numpy())
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.abs(outs[0] - outs[2]).max() > 0


def test_hardware_state_dict_round_trip_weights_only(rng):
    cfg = _config(CASES["phase_fill"][0], encoding="phase")
    torch.manual_seed(3)
    layer, _ = _hw_layer(cfg)  # random compact kernels through the encoding
    other, _ = _hw_layer(cfg, kernel_size=None)  # flat SLM
    buf = io.BytesIO()
    torch.save(layer.state_dict(), buf)
    buf.seek(0)
    other.load_state_dict(torch.load(buf, weights_only=True))
    images = torch.from_numpy(rng.uniform(0, 1, (2, 2, 4, 4)))
    with torch.no_grad():
        a, b = layer(images).numpy(), other(images).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.std() > 0


def test_hardware_layer_errors():
    with pytest.raises(NotImplementedError, match="slm_rotation"):
        _hw_layer(_config(CASES["complex"][0], misalignment=Misalignment(slm_rotation=0.01)))
    with pytest.raises(ValueError, match="phase or complex"):
        _hw_layer(_config(SLM(resolution=(M, M), pitch=D, mode="amplitude")))
    layer, _ = _hw_layer(_config(CASES["complex"][0]), cin=1)
    with pytest.raises(ValueError, match=r"images must have shape \(B, 1, h, w\)"):
        layer(torch.zeros(2, 2, 4, 4))


# -- GPU ---------------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA build of torch")
def test_layers_on_cuda_match_cpu(rng):
    layer = _layer()
    u = torch.from_numpy(rng.standard_normal((2, 2, 12, 12)))
    with torch.no_grad():
        ref = layer(u).numpy()
        out = layer.to("cuda")(u.to("cuda")).cpu().numpy()
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    cfg = _config(CASES["phase_fill"][0], encoding="phase")
    hl, _ = _hw_layer(cfg)
    images = torch.from_numpy(rng.uniform(0, 1, (2, 2, 4, 4)))
    with torch.no_grad():
        ref = hl(images).numpy()
        out = hl.to("cuda")(images.to("cuda")).cpu().numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-10)


def test_bench_autograd_tiny_run_writes_records(tmp_path):
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_autograd

    path = tmp_path / "autograd.json"
    bench_autograd.main(["--quick", "--batch", "2", "--channels", "4", "--json", str(path)])
    records = json.loads(path.read_text())
    cases = {(r["case"], r["layer"]) for r in records}
    assert cases == {("backward_over_forward", "ideal"), ("bridge_over_torch", "ideal"),
                     ("backward_over_forward", "hardware")}
    assert all(np.isfinite(r["ratio"]) for r in records)  # timings of a tiny run are noise; the keys matter
