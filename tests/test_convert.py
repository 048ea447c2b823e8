"""Import of plain PyTorch models (nets.convert): exact logits, clear refusals, TorchScript = ONNX."""
import io

import numpy as np
import pytest
import torch
from torch import nn

from nets.checkpoint import load_model
from nets.convert import UnsupportedModel, convert_file, convert_module, relative_difference, save_student
from nets.convert.convert import _dark_border


def _randomise_bn(model):
    g = torch.Generator().manual_seed(5)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return model.eval()


#: (name, model builder, in_channels, (H, W), expected dark border). The border is analytic: a padded
#: layer reads intermediate rows the layer before cropped. 'same' 5x5 then padded: intermediate row -1
#: reads image rows -3..1, so rows 0..1 must be dark (2); 'valid' 5x5 then padding 1: intermediate
#: row -1 reads image rows -1..3 (4).
CASES = [
    ("issue-same-same-grey", lambda: nn.Sequential(nn.Conv2d(1, 8, 5, padding=2, bias=False),
                                                   nn.Conv2d(8, 8, 5, padding=2, bias=False), nn.Flatten(),
                                                   nn.Linear(8 * 28 * 28, 10)), 1, (28, 28), 2),
    ("valid-bias-bn-pool-rgb", lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.AvgPool2d(2),
                                                     nn.Conv2d(4, 5, 3, bias=True), nn.ReLU(), nn.Flatten(),
                                                     nn.Linear(5 * 3 * 2, 3)), 3, (13, 11), 0),
    ("padded-bias-pool-relu-grey", lambda: nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.AvgPool2d(2), nn.ReLU(),
                                                         nn.Flatten(), nn.Linear(6 * 8 * 7, 4)), 1, (16, 14), 0),
    ("valid-then-padded-rgb", lambda: nn.Sequential(nn.Conv2d(3, 4, 5, bias=False), nn.Conv2d(4, 2, 3, padding=1),
                                                    nn.Tanh(), nn.Flatten(), nn.Linear(2 * 8 * 8, 3)), 3, (12, 12), 4),
]


@pytest.mark.parametrize("name,build,cin,size,border", CASES, ids=[c[0] for c in CASES])
def test_converted_logits_equal_the_pytorch_models(name, build, cin, size, border):
    torch.manual_seed(0)
    model = _randomise_bn(build())
    student, cfg = convert_module(model, size, cin)
    rep = cfg["convert"]
    assert rep["border"] == border
    x = _dark_border(torch.rand(16, cin, *size), border)
    with torch.no_grad():
        want = model(x)
        got = student(x)
    assert relative_difference(got, want) < 1e-5
    assert rep["max_rel_diff_random" if border == 0 else "max_rel_diff_random_dark_border"] < 1e-5
    if border:  # the same stack on a bright border is not one convolution: the report says so
        assert rep["max_rel_diff_random"] > 1e-3
    # the optics convolves: the front end's kernel is the flipped correlation kernel (one conv, no bias)
    if name == "issue-same-same-grey":
        one = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(2 * 28 * 28, 2))
        s1, _ = convert_module(one, size, 1)
        w = one[0].weight.detach()
        k = s1.frontend.weight.detach()
        assert torch.allclose(k, torch.flip(w, (-2, -1)), atol=1e-7) and not torch.allclose(k, w, atol=1e-3)


def test_relu_inside_the_front_is_refused_clearly():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.Flatten(), nn.Linear(4 * 8 * 8, 3))
    with pytest.raises(UnsupportedModel, match=r"layer 1, ReLU, sits inside the optical front end.*linear.*front=1"):
        convert_module(model, (12, 12), 1)
    student, cfg = convert_module(model, (12, 12), 1, front=1)  # only the first layer optical: exact
    x = torch.rand(4, 1, 12, 12)
    with torch.no_grad():
        assert relative_difference(student(x), model(x)) < 1e-5
    assert cfg["convert"]["back_layers"][0] == "relu()"


def test_stride_and_maxpool_are_refused_with_the_reason():
    strided = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Conv2d(2, 2, 3), nn.Flatten(), nn.Linear(2 * 3 * 3, 2))
    with pytest.raises(UnsupportedModel, match=r"stride \(2, 2\).*every camera pixel"):
        convert_module(strided, (11, 11), 1)
    maxp = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(UnsupportedModel, match="MaxPool2d.*not linear"):
        convert_module(maxp, (10, 10), 1)


def _onnx_bytes(model, x):
    pytest.importorskip("onnx")
    buf = io.BytesIO()
    torch.onnx.export(model, (x,), buf, dynamo=False, input_names=["x"], output_names=["logits"])
    return buf.getvalue()


def test_onnx_and_torchscript_give_the_same_student(tmp_path):
    torch.manual_seed(1)
    model = _randomise_bn(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Conv2d(4, 3, 3),
                                        nn.ReLU(), nn.Flatten(), nn.Linear(3 * 10 * 8, 5)))
    x = torch.rand(1, 3, 12, 10)
    torch.jit.trace(model, x).save(str(tmp_path / "m.ts"))
    (tmp_path / "m.onnx").write_bytes(_onnx_bytes(model, x))
    a, ca = convert_file(tmp_path / "m.ts", (12, 10), 3)
    b, cb = convert_file(tmp_path / "m.onnx", (12, 10), 3)
    assert ca["model"] == cb["model"]
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.allclose(sa[k], sb[k], rtol=1e-5, atol=1e-6), k
    assert cb["convert"]["max_rel_diff_random"] < 1e-5  # against ONNX's own reference evaluator


def test_state_dict_and_pickles_are_refused_with_what_to_do(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 2))
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    torch.save(model, tmp_path / "pickle.pt")
    for f in ("sd.pt", "pickle.pt"):
        with pytest.raises(UnsupportedModel, match="TorchScript.*torch.jit.trace"):
            convert_file(tmp_path / f, (8, 8), 1)


def test_saved_student_loads_exports_and_refuses_overwrite(tmp_path):
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 3, 5, padding=2), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 12 * 12, 3))
    student, cfg = convert_module(model, (12, 12), 1)
    path = save_student(student, cfg, tmp_path / "s")
    loaded, lcfg = load_model(path)
    x = torch.rand(3, 1, 12, 12)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), rtol=1e-5, atol=1e-6)
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with pytest.raises(FileExistsError):
        save_student(student, cfg, tmp_path / "s")
    from nets.export.model import model_masks

    masks, image_size = model_masks(path)
    assert masks.shape == (3, 1, 16, 16) and image_size == (12, 12)
    # the masks are the Fourier transforms of the flipped kernels (centred DFT of the embedded kernel)
    from optics4f.kernels import kernel_to_mask

    k = np.flip(model[0].weight.detach().double().numpy(), (-2, -1))
    np.testing.assert_allclose(masks, kernel_to_mask(k, (16, 16)), atol=1e-6)


def _umask():
    import os

    m = os.umask(0)
    os.umask(m)
    return m


def test_cli_convert_refuses_overwrites_and_a_readout_without_refit(tmp_path, capsys):
    from nets.cli import main

    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 8 * 8, 3))
    torch.jit.trace(model.eval(), torch.zeros(1, 1, 8, 8)).save(str(tmp_path / "m.ts"))
    out = tmp_path / "s"
    assert main(["convert", str(tmp_path / "m.ts"), "--image-size", "8", "8", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "max relative logit difference" in text and "--readout intensity --refit" in text
    first = (out / "model.pt").read_bytes()
    with pytest.raises(SystemExit, match="already exists.*--force"):
        main(["convert", str(tmp_path / "m.ts"), "--image-size", "8", "8", "--out", str(out)])
    assert (out / "model.pt").read_bytes() == first
    with pytest.raises(SystemExit, match="needs --refit"):
        main(["convert", str(tmp_path / "m.ts"), "--image-size", "8", "8", "--readout", "intensity",
              "--out", str(tmp_path / "i")])
    with pytest.raises(SystemExit, match="never replaced"):  # the input's own folder, even with --force
        main(["convert", str(tmp_path / "m.ts"), "--image-size", "8", "8", "--out", str(tmp_path), "--force"])
    assert (tmp_path / "m.ts").is_file()
    with pytest.raises(SystemExit, match="does not run on"):
        main(["convert", str(tmp_path / "m.ts"), "--image-size", "9", "8", "--out", str(tmp_path / "x")])
