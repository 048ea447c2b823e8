"""The segmentation student's electronic decoder (SCLCSegmenter decoder_width / decoder_depth)."""
import pytest
import torch

from nets.models.student import SCLCSegmenter


def _positive_linear_decoder(model):
    """Positive weights and large positive biases: every ReLU passes, no cancellations, so the decoder is a
    linear map whose support is exactly its receptive field."""
    with torch.no_grad():
        for m in model.decoder:
            if isinstance(m, torch.nn.Conv2d):
                m.weight.uniform_(0.1, 1.0)
                m.bias.fill_(100.0)
    return model.eval()


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_decoder_receptive_field_is_2_depth_plus_1(depth):
    torch.manual_seed(0)
    m = _positive_linear_decoder(SCLCSegmenter(1, 16, 3, channels=[2], kernel_sizes=3, decoder_width=4,
                                               decoder_depth=depth, norm=False))
    cam = torch.rand(1, 2, 16, 16, dtype=torch.float64)
    m.double()
    bumped = cam.clone()
    bumped[0, 1, 7, 9] += 1.0
    changed = (m.decoder(bumped) - m.decoder(cam)).abs().amax(1)[0] > 1e-9
    want = torch.zeros(16, 16, dtype=torch.bool)
    want[7 - depth:8 + depth, 9 - depth:10 + depth] = True  # (2 depth + 1)^2 camera pixels, centred
    assert torch.equal(changed, want)


def test_parameter_count_matches_the_formula():
    c, w, k = 8, 32, 4
    m = SCLCSegmenter(1, 32, k, channels=[c], kernel_sizes=7, decoder_width=w, decoder_depth=2)
    optics = c * 1 * 7 * 7
    decoder = (c * w * 9 + w) + (w * w * 9 + w) + (w * k + k)
    assert sum(p.numel() for p in m.parameters()) == optics + decoder
    assert m(torch.rand(2, 1, 32, 32)).shape == (2, k, 32, 32)


def test_depth_1_keeps_the_original_layout():
    """Checkpoints of the one-layer decoder (BatchNorm, 3x3 conv, ReLU, 1x1 conv) still load."""
    m = SCLCSegmenter(1, 32, 4, channels=[8], kernel_sizes=7, decoder_width=16)
    keys = [k for k in m.state_dict() if k.startswith("decoder.")]
    assert keys == ["decoder.0.running_mean", "decoder.0.running_var", "decoder.0.num_batches_tracked",
                    "decoder.1.weight", "decoder.1.bias", "decoder.3.weight", "decoder.3.bias"]
    assert m.decoder[1].weight.shape == (16, 8, 3, 3) and m.decoder[3].weight.shape == (4, 16, 1, 1)


@pytest.mark.parametrize("kw", [{"decoder_depth": 0}, {"decoder_depth": 1.5}, {"decoder_width": 0}])
def test_bad_decoder_arguments_are_refused(kw):
    with pytest.raises(ValueError, match="decoder_depth and decoder_width"):
        SCLCSegmenter(1, 16, 2, channels=[2], kernel_sizes=3, **kw)


# ---------------------------------------------------------------- KD on unlabelled scenes
class Threshold(torch.nn.Module):
    """Toy teacher: logits (x - 0.5, 0.5 - x, 0) per pixel, so its label is 1 where x < 0.5, else 0."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([1.0, -1.0, 0.0]))

    def forward(self, x):
        return self.w[None, :, None, None] * (x - 0.5)


def test_pseudo_labels_are_the_teachers_argmax_in_eval_mode():
    from nets.kd import pseudo_labels

    x = torch.rand(5, 1, 6, 7, generator=torch.Generator().manual_seed(1))
    t = Threshold().train()
    y = pseudo_labels(t, x, batch_size=2)  # three chunks
    assert y.dtype == torch.int64 and y.shape == (5, 6, 7)
    assert torch.equal(y, (x[:, 0] < 0.5).long())
    assert t.training  # the caller's mode is restored
    with pytest.raises(ValueError, match="images must be"):
        pseudo_labels(t, x[0])


def _kd_table():
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    return importlib.import_module("kd_table")


def test_teacher_labelled_sets_add_new_scenes_labelled_by_the_teacher_only(tmp_path):
    from nets.checkpoint import load_model, save_checkpoint
    from nets.data import load_dataset
    from nets.kd import pseudo_labels
    from nets.models.unet import UNet

    kd_table = _kd_table()
    torch.manual_seed(0)
    path = save_checkpoint(tmp_path / "t.pt", UNet(1, 4, base=2, depth=1),
                           {"model": {"arch": "unet", "in_channels": 1, "n_classes": 4, "base": 2, "depth": 1}})
    cfg = {"dataset": "synthetic-seg", "image_size": 16, "split_seed": 0, "train_limit": 6, "eval_limit": 3,
           "eval_split": "val", "test_split": "test"}
    sets = kd_table.teacher_labelled_sets(cfg, str(path), 5)
    x, y = sets["train_set"].tensors
    assert x.shape == (11, 1, 16, 16) and y.shape == (11, 16, 16) and len(sets["train_set"].classes) == 4
    lab = load_dataset("synthetic-seg", "train", size=16, seed=0, limit=6)
    assert torch.equal(x[:6], lab.tensors[0]) and torch.equal(y[:6], lab.tensors[1])  # the baseline's data
    teacher, _ = load_model(path)
    assert torch.equal(y[6:], pseudo_labels(teacher, x[6:]))  # no ground truth for the extra scenes
    every = load_dataset("synthetic-seg", "all", size=16, seed=0).tensors[0]  # train, val and test scenes
    assert not (x[6:, None] == every[None]).flatten(2).all(-1).any()  # none of the extra scenes is one of them
    for k, split in (("eval_set", "val"), ("test_set", "test")):
        want = load_dataset("synthetic-seg", split, size=16, seed=0, limit=3).tensors[0]
        assert torch.equal(sets[k].tensors[0], want)
    base = kd_table.teacher_labelled_sets(cfg, None, 5)["train_set"].tensors  # the baseline: no labeller
    assert torch.equal(base[0], lab.tensors[0][[0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4]])  # same steps, own data
    assert torch.equal(base[1], lab.tensors[1][[0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4]])
    with pytest.raises(ValueError, match="synthetic-seg"):
        kd_table.teacher_labelled_sets(dict(cfg, dataset="mnist5k"), str(path), 5)
