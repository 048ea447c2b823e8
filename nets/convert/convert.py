"""Turn a user's PyTorch model into an optics4f student (``optics4f convert``).

:func:`convert_module` (an in-memory ``nn.Module``) and :func:`convert_file` (TorchScript or
ONNX) read the network as a chain of layers (:mod:`nets.convert.graph`), collapse its linear
front end into one convolution kernel per (output, input) channel pair
(:mod:`nets.convert.collapse`: the Conv2d correlation flipped into the optics' convolution),
and build an :class:`~nets.models.imported.ImportedClassifier` that ``export``, ``simulate``
and ``finetune`` load. The original back end (everything after the front end) runs
electronically, as it was.

Readout. The front end's output is a *field*; the original model computed on it directly, so
the faithful optical twin reads the field (coherent detection, ``readout="field"``) and adds
the bias map electronically: the conversion is exact, and proved on random and real images
(report ``max_rel_diff_*``). A camera measures intensity |v|^2 instead; :func:`refit_intensity`
(``--readout intensity --refit EPOCHS --dataset DIR``) refits the electronic back end on
camera-intensity features (distilled from the exact field model, on the dataset's labels), which
is the step a lab takes before the model runs on its bench.

Borders. Stacked convolutions whose zero padding crops an intermediate result (two 'same'
convolutions) differ from one convolution only near the image border: the cropped values are
not seen by the next layer. The conversion is then exact for images that are dark within
``border`` pixels of their edge (reported; MNIST-like digits are), and the random-image check
is made on such images too (``max_rel_diff_random_dark_border``).
"""
from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from optics4f.io.atomic import atomic_dir

from nets.models.imported import ImportedClassifier, layer_spec, with_weights
from nets.models.spectral import padded_extent

from .collapse import compose, optical_kernel, run_layers, split_front
from .graph import UnsupportedModel, describe, module_layers, read_model_file

__all__ = ["convert_module", "convert_file", "convert_layers", "refit_intensity", "save_student", "relative_difference"]


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    """max over samples of max|a - b| / max|b| (logits (N, K); b the reference)."""
    a, b = a.detach().double().reshape(len(a), -1), b.detach().double().reshape(len(b), -1)
    return float(((a - b).abs().amax(1) / b.abs().amax(1).clamp_min(1e-300)).max())


def _dark_border(x: torch.Tensor, m: int) -> torch.Tensor:
    if m <= 0:
        return x
    x = x.clone()
    x[..., :m, :] = 0
    x[..., -m:, :] = 0
    x[..., :, :m] = 0
    x[..., :, -m:] = 0
    return x


def _border(front, student, in_channels, image_size, gen) -> int:
    """Smallest dark margin (pixels) on which the collapsed front end equals the original exactly."""
    h, w = image_size
    x = torch.rand(4, in_channels, h, w, dtype=torch.float64, generator=gen)
    fe = copy.deepcopy(student).double()
    with torch.no_grad():
        for m in range(0, (min(h, w) + 1) // 2):
            xm = _dark_border(x, m)
            ref = run_layers(front, xm) - run_layers(front, torch.zeros_like(xm))
            got = fe.backend[0](fe.camera(xm)) - fe.backend[0].bias
            if relative_difference(got, ref) < 1e-5:  # float32 weights: ~1e-7; a cropped border: O(1)
                return m
    return (min(h, w) + 1) // 2


def convert_layers(layers, image_size, in_channels: int = 1, *, front: int | None = None) -> tuple:
    """(student ImportedClassifier in eval mode, model config dict, info dict) from layer dicts."""
    h, w = (int(a) for a in image_size)
    if h < 1 or w < 1 or in_channels < 1:
        raise ValueError(f"image_size must be (H, W) >= 1 pixel and in_channels >= 1, got {image_size}, {in_channels}")
    n = split_front(layers, front)
    fr, back = layers[:n], layers[n:]
    probe = torch.zeros(1, in_channels, h, w, dtype=torch.float64)
    try:
        with torch.no_grad():
            y0 = run_layers(fr, probe)[0]
            logits = run_layers(layers, probe)
    except RuntimeError as e:
        raise UnsupportedModel(f"the network does not run on (N, {in_channels}, {h}, {w}) images ({e}); check "
                               "--image-size and --in-channels") from None
    if logits.ndim != 2:
        raise UnsupportedModel(f"the network's output has shape {tuple(logits.shape)}; a classifier's logits "
                               "(N, classes) are expected")
    K, P, s = compose(fr, in_channels)
    kernel, window = optical_kernel(K, P, s, tuple(y0.shape[-2:]), (h, w))
    ky, kx = kernel.shape[-2:]
    padded = (padded_extent(h, [ky]), padded_extent(w, [kx]))
    mcfg = {"arch": "imported_classifier", "in_channels": int(in_channels), "image_size": [h, w],
            "n_classes": int(logits.shape[1]), "out_channels": int(kernel.shape[0]), "kernel_shape": [ky, kx],
            "padded_size": list(padded), "window": list(window), "readout": "field",
            "backend": [layer_spec(ly) for ly in back]}
    mcfg = json.loads(json.dumps(mcfg))
    student = ImportedClassifier(**{k: v for k, v in mcfg.items() if k != "arch"})
    with torch.no_grad():
        student.frontend.weight.copy_(kernel)
        student.backend[0].bias.copy_(y0)
        for dst, src in zip(student.backend[1:], with_weights(back)):
            dst.load_state_dict(src.state_dict())
    student.eval()
    info = {"front_layers": [describe(ly) for ly in fr], "back_layers": [describe(ly) for ly in back],
            "collapsed_kernel": [ky, kx], "padded_grid": list(padded), "sampling_step": list(s)}
    return student, mcfg, info


def _check(student, reference, layers, info, in_channels, image_size, real_images=None, seed: int = 0) -> dict:
    """Max relative logit differences student (float64) vs the original ``reference`` (report dict)."""
    gen = torch.Generator().manual_seed(seed)
    fr = layers[:len(info["front_layers"])]
    border = _border(fr, student, in_channels, image_size, gen)
    s64 = copy.deepcopy(student).double()
    x = torch.rand(8, in_channels, *image_size, generator=gen)
    out = {"border": border}
    with torch.no_grad():
        out["max_rel_diff_random"] = relative_difference(s64(x.double()), reference(x))
        if border:
            xd = _dark_border(x, border)
            out["max_rel_diff_random_dark_border"] = relative_difference(s64(xd.double()), reference(xd))
        if real_images is not None and len(real_images):
            xr = real_images[:64].float()
            out["max_rel_diff_real"] = relative_difference(s64(xr.double()), reference(xr))
            out["n_real_images"] = int(len(xr))
    return out


def _dataset(dataset, split, image_size, limit=None, seed=0):
    from nets.data import load_dataset

    kw = {"size": tuple(image_size), "seed": seed}
    if limit is not None:
        kw["limit"] = int(limit)
    return load_dataset(dataset, split, **kw)


def _finish(student, mcfg, info, reference, layers, image_size, in_channels, source, dataset, front, seed):
    from nets.data import dataset_reference

    real = None
    if dataset is not None:
        ds = _dataset(dataset, "test", image_size, 64, seed)
        if ds.image_shape[0] != in_channels:
            raise ValueError(f"the dataset {dataset!r} has {ds.image_shape[0]} channel(s), the model takes "
                             f"{in_channels}; set --in-channels {ds.image_shape[0]} or use matching data")
        if ds.num_classes != mcfg["n_classes"]:
            raise ValueError(f"the dataset {dataset!r} has {ds.num_classes} classes, the model gives "
                             f"{mcfg['n_classes']} logits")
        real = ds.x
    info.update(_check(student, reference, layers, info, in_channels, image_size, real, seed))
    info.update(source=str(source), readout="field", front=front)
    cfg = {"model": mcfg, "train": {"task": "classify", "dataset": None if dataset is None else
                                    dataset_reference(dataset), "image_size": list(image_size), "seed": seed},
           "convert": info}
    return student, cfg


def convert_module(module: torch.nn.Module, image_size, in_channels: int = 1, *, front: int | None = None,
                   dataset=None, seed: int = 0):
    """(student, config) of an in-memory ``nn.Module`` taking (N, ``in_channels``, H, W) images.

    ``image_size``: (H, W) pixels of the display; ``front``: number of leading layers that go
    optical (default: the whole convolutional part, see :func:`nets.convert.collapse.split_front`);
    ``dataset``: name or folder whose test images prove the conversion (and that simulate and
    finetune use). ``config["convert"]`` reports the checks (module docstring).
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
    h, w = (int(a) for a in image_size)
    module = module.eval()
    dtype = next((p.dtype for p in module.parameters()), torch.float32)
    layers = module_layers(copy.deepcopy(module).to(torch.float64),
                           torch.zeros(1, in_channels, h, w, dtype=torch.float64))
    student, mcfg, info = convert_layers(layers, (h, w), in_channels, front=front)

    def reference(x):
        with torch.no_grad():
            return module(x.to(dtype))

    return _finish(student, mcfg, info, reference, layers, (h, w), in_channels, type(module).__name__, dataset,
                   front, seed)


def _onnx_reference(path):
    from onnx.reference import ReferenceEvaluator

    ev = ReferenceEvaluator(str(path))

    def reference(x):  # one image at a time: exported graphs often fix the batch at 1
        a = x.float().numpy()
        return torch.cat([torch.from_numpy(np.asarray(ev.run(None, {ev.input_names[0]: a[i:i + 1]})[0]))
                          for i in range(len(a))])

    return reference


def convert_file(path, image_size, in_channels: int = 1, *, front: int | None = None, dataset=None, seed: int = 0):
    """(student, config) of a TorchScript or ONNX file (:func:`nets.convert.graph.read_model_file`);
    the checks run the file itself (TorchScript) or ONNX's reference evaluator."""
    path = Path(path)
    layers = read_model_file(path)
    student, mcfg, info = convert_layers(layers, image_size, in_channels, front=front)
    if path.suffix.lower() == ".onnx":
        reference = _onnx_reference(path)
    else:
        with warnings.catch_warnings():  # TorchScript is deprecated in torch, still the format users save
            warnings.simplefilter("ignore", DeprecationWarning)
            ts = torch.jit.load(str(path), map_location="cpu").eval()

        def reference(x):
            with torch.no_grad():
                return ts(x.float())

    return _finish(student, mcfg, info, reference, layers, tuple(int(a) for a in image_size), in_channels,
                   path.resolve(), dataset, front, seed)


def refit_intensity(student, cfg: dict, dataset, epochs: int, *, lr: float = 1e-3, batch_size: int = 64,
                    limit: int | None = None, seed: int = 0, T: float = 1.0, alpha: float = 0.5):
    """(intensity student, config): the back end refitted on camera-intensity features |v|^2.

    The front end stays as converted; the electronics (a batch norm on the camera features, then
    the original back end, starting from its weights) learn from the dataset's training split by
    knowledge distillation from the exact field-readout model (``alpha`` weight at temperature
    ``T``) plus the labels; the epoch best on the validation split is kept. Reports
    ``refit`` (validation accuracy of the field model and of the refitted one, per epoch).
    """
    from nets.kd import kd_loss

    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"refit epochs must be an integer >= 1, got {epochs!r}")
    if not lr > 0:
        raise ValueError(f"refit lr must be > 0, got {lr!r}")
    mcfg = dict(cfg["model"], readout="intensity")
    new = ImportedClassifier(**{k: v for k, v in mcfg.items() if k != "arch"})
    with torch.no_grad():
        new.frontend.weight.copy_(student.frontend.weight)
        for dst, src in zip(new.backend[1:], student.backend[1:]):
            dst.load_state_dict(src.state_dict())
    size = cfg["model"]["image_size"]
    tr, va = (_dataset(dataset, s, size, limit, seed) for s in ("train", "val"))
    if tr.num_classes != mcfg["n_classes"]:
        raise ValueError(f"the dataset {dataset!r} has {tr.num_classes} classes, the model {mcfg['n_classes']}")
    torch.manual_seed(seed)
    with torch.no_grad():
        feats = {n: torch.cat([new.camera(d.x[i:i + 256]) for i in range(0, len(d), 256)]) for n, d in
                 (("train", tr), ("val", va))}
        teach = torch.cat([student(tr.x[i:i + 256]) for i in range(0, len(tr), 256)])
        field_val = float((torch.cat([student(va.x[i:i + 256]) for i in range(0, len(va), 256)]).argmax(1)
                           == va.y).float().mean())

    def val_acc():
        new.backend.eval()
        with torch.no_grad():
            return float((new.backend(feats["val"]).argmax(1) == va.y).float().mean())

    opt = torch.optim.Adam(new.backend.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    best, best_state, history = -1.0, None, []
    for _ in range(epochs):
        new.backend.train()
        perm = torch.randperm(len(tr), generator=g)
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            if len(idx) < 2:
                continue  # batch norm needs two samples
            loss = kd_loss(new.backend(feats["train"][idx]), teach[idx], tr.y[idx], T=T, alpha=alpha)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        acc = val_acc()
        history.append(acc)
        if acc > best:
            best, best_state = acc, copy.deepcopy(new.state_dict())
    new.load_state_dict(best_state)
    new.eval()
    out = copy.deepcopy(cfg)
    out["model"] = mcfg
    out["convert"] = dict(cfg["convert"], readout="intensity",
                          refit={"epochs": epochs, "lr": lr, "T": T, "alpha": alpha, "val_images": int(len(va)),
                                 "field_val_accuracy": field_val, "intensity_val_accuracy": best,
                                 "history": history, "selected_epoch": 1 + history.index(best)})
    from nets.data import dataset_reference

    out["train"]["dataset"] = dataset_reference(dataset)
    return new, out


def save_student(student, cfg: dict, out, *, force: bool = False, inputs=(), extra_files=None) -> Path:
    """Write ``out/model.pt`` (+ ``model.json``, + ``extra_files`` {name: text}) as one set: into a
    new folder, switched in with one rename. An existing ``out`` is replaced only with ``force``,
    and never when it holds one of ``inputs`` (the converted file). Files get the user's umask.
    Returns the model path."""
    from nets.checkpoint import save_checkpoint

    out = Path(out)
    for p in inputs:
        if p is not None and Path(p).exists() and (out.resolve() == Path(p).resolve().parent or
                                                   out.resolve() == Path(p).resolve()):
            raise ValueError(f"--out {str(out)!r} holds the input {str(p)!r}; it is never replaced, give another "
                             "folder (--force does not override this)")
    if out.exists() and not force:
        raise FileExistsError(f"{str(out)!r} already exists; give a new folder or --force to replace it")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file; give a folder")
    with atomic_dir(out, overwrite=force, what="--out") as tmp:
        save_checkpoint(tmp / "model.pt", student, cfg)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
    return out / "model.pt"
