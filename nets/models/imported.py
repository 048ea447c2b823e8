"""A user's model made optical (``optics4f convert``): :class:`ImportedClassifier`.

Its electronic layers are rebuilt from a JSON description (no pickled code): :func:`layer_spec`
turns a layer dict (:mod:`nets.convert.graph`) into its JSON-ready settings,
:func:`build_layers` rebuilds the ``nn.Module`` s from those settings (weights come from the
checkpoint's state_dict), :func:`with_weights` copies a layer dict's tensors into them.
"""
from __future__ import annotations

import torch
from torch import nn

from .spectral import SpectralStack, apply_masks, kernels_to_masks
from .student import Detector

__all__ = ["Affine", "layer_spec", "build_layers", "with_weights", "ImportedFront", "Readout", "ImportedClassifier"]


class Affine(nn.Module):
    """Per-channel ``x * scale + shift`` (a batch norm in eval mode), on (N, C, ...) tensors."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))
        self.shift = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x * self.scale.reshape(shape) + self.shift.reshape(shape)


def layer_spec(ly: dict) -> dict:
    """JSON settings of a layer dict (its tensors' shapes instead of the tensors)."""
    op = ly["op"]
    if op == "conv":
        w = ly["weight"]
        return {"op": op, "in": int(w.shape[1] * ly["groups"]), "out": int(w.shape[0]),
                "kernel": [int(k) for k in w.shape[2:]], "stride": list(ly["stride"]),
                "padding": list(ly["padding"]), "dilation": list(ly["dilation"]), "groups": int(ly["groups"]),
                "bias": ly["bias"] is not None}
    if op == "linear":
        w = ly["weight"]
        return {"op": op, "in": int(w.shape[1]), "out": int(w.shape[0]), "bias": ly["bias"] is not None}
    if op == "affine":
        return {"op": op, "channels": int(ly["scale"].numel())}
    out = {k: (list(v) if isinstance(v, tuple) else v) for k, v in ly.items()}
    return out


def _pad(p, value=0.0):
    t, b, l, r = p
    return nn.ConstantPad2d((l, r, t, b), value)


def build_layers(spec: list) -> list:
    """``nn.Module`` s of JSON layer settings (each entry may give two modules: a padding, then the layer)."""
    mods = []
    for s in spec:
        op = s["op"]
        p = s.get("padding", [0, 0, 0, 0])
        sym = p[0] == p[1] and p[2] == p[3]
        if op == "conv":
            if not sym:
                mods.append(_pad(p))
            mods.append(nn.Conv2d(s["in"], s["out"], tuple(s["kernel"]), tuple(s["stride"]),
                                  (p[0], p[2]) if sym else 0, tuple(s["dilation"]), s["groups"], s["bias"]))
        elif op == "linear":
            mods.append(nn.Linear(s["in"], s["out"], s["bias"]))
        elif op == "affine":
            mods.append(Affine(s["channels"]))
        elif op == "avgpool":
            if not sym:
                mods.append(_pad(p))
            mods.append(nn.AvgPool2d(tuple(s["kernel"]), tuple(s["stride"]), (p[0], p[2]) if sym else 0,
                                     s["ceil_mode"], s["count_include_pad"], s["divisor"]))
        elif op == "maxpool":
            if not sym:
                mods.append(_pad(p, float("-inf")))
            mods.append(nn.MaxPool2d(tuple(s["kernel"]), tuple(s["stride"]), (p[0], p[2]) if sym else 0,
                                     tuple(s["dilation"]), ceil_mode=s["ceil_mode"]))
        elif op == "adaptive_avg":
            mods.append(nn.AdaptiveAvgPool2d(tuple(s["size"])))
        elif op == "flatten":
            mods.append(nn.Flatten())
        elif op == "relu":
            mods.append(nn.ReLU())
        elif op == "leaky_relu":
            mods.append(nn.LeakyReLU(s["slope"]))
        elif op == "sigmoid":
            mods.append(nn.Sigmoid())
        elif op == "tanh":
            mods.append(nn.Tanh())
        elif op == "gelu":
            mods.append(nn.GELU())
        elif op == "softmax":
            mods.append(nn.Softmax(s["dim"]))
        elif op == "log_softmax":
            mods.append(nn.LogSoftmax(s["dim"]))
        else:
            raise ValueError(f"unknown layer {op!r} in the model config")
    return mods


def with_weights(layers: list) -> list:
    """Modules of layer dicts with their weights copied in (float32)."""
    mods = []
    for ly in layers:
        built = build_layers([layer_spec(ly)])
        m = built[-1]
        with torch.no_grad():
            if ly["op"] in ("conv", "linear"):
                m.weight.copy_(ly["weight"])
                if ly["bias"] is not None:
                    m.bias.copy_(ly["bias"])
            elif ly["op"] == "affine":
                m.scale.copy_(ly["scale"])
                m.shift.copy_(ly["shift"])
        mods += built
    return mods


# -- the imported student -------------------------------------------------------------------------

class ImportedFront(SpectralStack):
    """The collapsed front end of an imported model: one real convolution kernel per (output, input)
    channel pair, (Cout, Cin, ky, kx), centred, *convolving* on the padded grid (as
    :class:`~nets.models.spectral.SpectralStack`, whose interface it keeps: ``collapse()`` gives
    the Fourier masks (Cout, Cin, My, Mx), ``forward`` the complex field (N, Cout, H, W))."""

    def __init__(self, in_channels: int, out_channels: int, image_size, kernel_shape, padded_size):
        nn.Module.__init__(self)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.image_size = tuple(int(a) for a in image_size)
        self.padded_shape = tuple(int(a) for a in padded_size)
        ky, kx = (int(a) for a in kernel_shape)
        if ky > self.padded_shape[0] or kx > self.padded_shape[1]:
            raise ValueError(f"kernel {(ky, kx)} does not fit the padded grid {self.padded_shape}")
        self.weight = nn.Parameter(torch.zeros(self.out_channels, self.in_channels, ky, kx))
        self.layers = nn.ModuleList()

    def collapse(self) -> torch.Tensor:
        return kernels_to_masks(self.weight, self.padded_shape)

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        f = self._field(x)
        return apply_masks(f, self.collapse().to(f.dtype))

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel={tuple(self.weight.shape[2:])}, "
                f"image={self.image_size}, padded={self.padded_shape}")


class Readout(nn.Module):
    """First electronic step of an imported student: the camera pixels c0 + s a that hold the
    original front end's outputs a (``window`` = (c0y, c0x, sy, sx, Ho, Wo)), then

    * readout "field": + the front end's bias map (Cout, Ho, Wo) (its response to a dark image,
      biases and batch-norm shifts carried through the stack): the original model exactly;
    * readout "intensity": a batch norm (camera energies have no fixed scale), fitted by refit.
    """

    def __init__(self, channels: int, window, readout: str = "field"):
        super().__init__()
        self.window = tuple(int(a) for a in window)
        self.readout = readout
        c0y, c0x, sy, sx, ho, wo = self.window
        if readout == "field":
            self.bias = nn.Parameter(torch.zeros(channels, ho, wo))
        elif readout == "intensity":
            self.norm = nn.BatchNorm2d(channels)
        else:
            raise ValueError(f"readout must be 'field' or 'intensity', got {readout!r}")

    def forward(self, v):
        c0y, c0x, sy, sx, ho, wo = self.window
        v = v[..., c0y:c0y + sy * (ho - 1) + 1:sy, c0x:c0x + sx * (wo - 1) + 1:sx]
        return v + self.bias if self.readout == "field" else self.norm(v)

    def extra_repr(self):
        return f"window={self.window}, readout={self.readout!r}"


class ImportedClassifier(nn.Module):
    """A user's model made optical (:mod:`nets.convert`): collapsed front end -> camera -> electronics.

    Parameters
    ----------
    in_channels, image_size, n_classes : input channels, (H, W) pixels, classes
    out_channels : channels of the front end's output
    kernel_shape, padded_size : (ky, kx) of the collapsed kernels, (My, Mx) of the padded grid
    window : (c0y, c0x, sy, sx, Ho, Wo), camera pixels read (:class:`Readout`)
    readout : "field" (coherent detection, Re(v): the original model exactly) or "intensity" (a camera)
    backend : JSON layer settings of the original back end (:func:`build_layers`)

    The interface of :class:`~nets.models.student.SCLCClassifier`: ``frontend``, ``detector``,
    ``backend``, ``camera(x)``; ``export``, ``simulate`` and ``finetune`` take it as they are.
    """

    def __init__(self, in_channels: int, image_size, n_classes: int, out_channels: int, kernel_shape,
                 padded_size, window, readout: str = "field", backend=()):
        super().__init__()
        self.frontend = ImportedFront(in_channels, out_channels, image_size, kernel_shape, padded_size)
        self.detector = Detector(readout, 1)
        self.n_classes = int(n_classes)
        self.backend = nn.Sequential(Readout(out_channels, window, readout), *build_layers(list(backend)))

    def camera(self, x: torch.Tensor) -> torch.Tensor:
        out = self.detector(self.frontend(x))
        return out.to(x.dtype) if x.is_floating_point() else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backend(self.camera(x))
