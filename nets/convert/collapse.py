"""Collapse a linear front end (Conv2d, folded batch norm, average pooling) into one convolution.

Notation per axis (rows and columns alike). A stack of zero-padded, stride-1 ``Conv2d`` layers
(which *correlate*), per-channel affine maps and average pools is, exactly,

    y[o, a] = sum_i sum_u K[o, i, u] x[i, s a + u - P] + b[o, a],        a = 0 .. Ho - 1,

with x zero outside the image: one correlation kernel K on the image's pixel grid, an offset P
(the paddings), a sampling step s (the pools' strides) and a bias map b = front(0). Layer by
layer (:func:`compose`): a convolution w with dilation d and top padding p turns K into the full
convolution of K with w spread out by s d, and P into P + s p; an average pool of k pixels and
stride t convolves K with a k-pixel box spread by s, then s becomes s t.

The optics *convolves* (docs/architecture.md#conventions; :mod:`nets.models.spectral`): camera pixel c sees
v[c] = sum_d k[d] x[c - d] with the kernel's centre pixel on the axis. Reading y[a] at camera
pixel c = c0 + s a asks k[d] = K[c0 + P - d]: the correlation kernel is flipped and shifted,
which :func:`optical_kernel` does. c0 centres the sampled window in the image; the camera
window must hold it (s (Ho - 1) < H), so a front end whose output is larger than its input
(padding beyond the kernel's half width) is refused.

What cannot go optical, and why:

* a nonlinearity (ReLU, max pooling, ...) inside the stack: the 4f system is linear in the
  field, so layers after it cannot merge into the same Fourier mask;
* a strided Conv2d: the optics computes the convolution at every camera pixel and a camera
  pixel integrates its light uniformly, so keeping one output in s of a general kernel is not
  a physical operation of the bench (average pooling is: its box is a coarser camera pixel);
* average pooling without its padding in the count (count_include_pad=False with padding)
  or with ceil_mode windows that hang over the edge: its weights change near the border, so it
  is not a convolution.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .graph import UnsupportedModel, describe

__all__ = ["LINEAR_OPS", "split_front", "compose", "optical_kernel", "run_layers", "dense_weight"]

#: Layers a 4f front end can hold.
LINEAR_OPS = ("conv", "affine", "avgpool")
_NONLINEAR = {"relu": "ReLU", "leaky_relu": "LeakyReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU",
              "maxpool": "MaxPool2d (a maximum is not linear)", "softmax": "Softmax", "log_softmax": "LogSoftmax"}


def split_front(layers: list, front: int | None = None) -> int:
    """Number of leading layers that go optical.

    Default: every layer up to the last convolution before the first flatten / linear / adaptive
    pool (the network's convolutional part). ``front``: that many leading layers, given by the user
    when only the first of several convolutions should go optical (the rest run electronically).
    Raises :class:`UnsupportedModel` naming a nonlinearity or a stride inside the front end.
    """
    if not layers or layers[0]["op"] != "conv":
        first = describe(layers[0]) if layers else "nothing"
        raise UnsupportedModel(f"the network must start with a Conv2d (the optical front end); it starts with {first}")
    if front is None:
        end = next((k for k, ly in enumerate(layers) if ly["op"] in ("flatten", "linear", "adaptive_avg")),
                   len(layers))
        n = 1 + max(k for k in range(end) if layers[k]["op"] in LINEAR_OPS)
    else:
        n = int(front)
        if not 1 <= n <= len(layers):
            raise UnsupportedModel(f"front={front}: the network has {len(layers)} layers; give 1..{len(layers)}")
    for k, ly in enumerate(layers[:n]):
        op = ly["op"]
        if op in _NONLINEAR:
            later = [j for j in range(k + 1, n) if layers[j]["op"] == "conv"]
            raise UnsupportedModel(
                f"layer {k}, {_NONLINEAR[op]}, sits inside the optical front end, before the convolution at layer "
                f"{later[0] if later else n - 1}: a 4f system is linear in the field, so the layers after a "
                f"nonlinearity cannot collapse into one Fourier mask. Retrain the front end without it (an SCLC "
                f"student by knowledge distillation: optics4f train student), or put only the first {k} layer(s) "
                f"in the optics (front={k}, CLI --front {k}) and run the rest electronically")
        if op not in LINEAR_OPS:
            raise UnsupportedModel(f"layer {k}, {describe(ly)}, cannot be part of the optical front end "
                                   f"(it holds {', '.join(LINEAR_OPS)} layers)")
        if op == "conv" and tuple(ly["stride"]) != (1, 1):
            raise UnsupportedModel(
                f"layer {k}, {describe(ly)}, has stride {tuple(ly['stride'])}: a 4f system convolves at every camera "
                "pixel and a camera pixel integrates its light uniformly, so it cannot keep one output in s of a "
                "general kernel. Retrain with stride 1 followed by AvgPool2d(s) (a coarser camera pixel), or end "
                f"the optical front end before this layer (front={k})")
        if op == "avgpool" and not ly["count_include_pad"] and any(ly["padding"]):
            raise UnsupportedModel(f"layer {k}, {describe(ly)}: average pooling with padding excluded from the "
                                   "count weighs border pixels differently, so it is not a convolution; use "
                                   "count_include_pad=True or no padding")
    return n


def dense_weight(ly: dict) -> torch.Tensor:
    """A conv layer's weight as a full (Co, Ci, kh, kw) matrix (groups spread block-diagonally)."""
    w, g = ly["weight"], ly["groups"]
    if g == 1:
        return w
    co, cig = w.shape[:2]
    full = w.new_zeros((co, cig * g) + tuple(w.shape[2:]))
    per = co // g
    for j in range(g):
        full[j * per:(j + 1) * per, j * cig:(j + 1) * cig] = w[j * per:(j + 1) * per]
    return full


def _spread(w: torch.Tensor, step) -> torch.Tensor:
    """Kernel (..., kh, kw) with (sy - 1, sx - 1) zeros between taps (dilation by ``step``)."""
    sy, sx = step
    kh, kw = w.shape[-2:]
    out = w.new_zeros(w.shape[:-2] + ((kh - 1) * sy + 1, (kw - 1) * sx + 1))
    out[..., ::sy, ::sx] = w
    return out


def _full_conv(w: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """sum_m w[o, m] (*) K[m, i], full 2-d convolution: (Co, Cm, a, b), (Cm, Ci, p, q) -> (Co, Ci, p+a-1, q+b-1)."""
    a, b = w.shape[-2:]
    out = F.conv2d(K.permute(1, 0, 2, 3), torch.flip(w, (-2, -1)), padding=(a - 1, b - 1))
    return out.permute(1, 0, 2, 3).contiguous()


def compose(front: list, in_channels: int):
    """(K (Co, Ci, ky, kx), P (py, px), s (sy, sx)) of a linear front end (module docstring), float64."""
    K = torch.eye(in_channels, dtype=torch.float64)[:, :, None, None]
    P, s = [0, 0], [1, 1]
    for ly in front:
        if ly["op"] == "conv":
            w = dense_weight(ly)
            if w.shape[1] != K.shape[0]:
                raise UnsupportedModel(f"{describe(ly)} takes {w.shape[1]} channels, the layer before gives "
                                       f"{K.shape[0]}")
            d = ly["dilation"]
            K = _full_conv(_spread(w, (s[0] * d[0], s[1] * d[1])), K)
            P = [P[0] + s[0] * ly["padding"][0], P[1] + s[1] * ly["padding"][2]]
        elif ly["op"] == "affine":
            K = K * ly["scale"].reshape(-1, 1, 1, 1)
        else:  # avgpool: a box low-pass, then sampling every t pixels
            (kh, kw), (ty, tx) = ly["kernel"], ly["stride"]
            box = torch.full((kh, kw), 1.0 / (ly["divisor"] or kh * kw), dtype=torch.float64)
            c = K.shape[0]
            box = torch.diag_embed(torch.ones(c, dtype=torch.float64))[:, :, None, None] * box
            K = _full_conv(_spread(box, s), K)
            P = [P[0] + s[0] * ly["padding"][0], P[1] + s[1] * ly["padding"][2]]
            s = [s[0] * ty, s[1] * tx]
    return K, tuple(P), tuple(s)


def optical_kernel(K: torch.Tensor, P, s, out_size, image_size):
    """(kernel (Co, Ci, 2Ry+1, 2Rx+1) centred convolution kernel, window (c0y, c0x, sy, sx, Ho, Wo)).

    Camera pixel c0 + s a then holds the front end's output a (module docstring).
    """
    kernel_len, c0s, radii = K.shape[-2:], [], []
    for ax in range(2):
        n, ho, st, p, k = image_size[ax], out_size[ax], s[ax], P[ax], kernel_len[ax]
        span = st * (ho - 1) + 1
        if span > n:
            raise UnsupportedModel(
                f"the front end's output ({out_size[0]} x {out_size[1]} pixels at step {st}) is larger than its "
                f"{image_size[0]} x {image_size[1]} input: the camera sees an image the size of the display. Use "
                "padding of at most half the kernel ('same' or 'valid' convolutions)")
        c0 = (n - span) // 2
        lo, hi = c0 + p - (k - 1), c0 + p  # support of d
        c0s.append(c0)
        radii.append(max(abs(lo), abs(hi)))
    ry, rx = radii
    out = K.new_zeros(K.shape[:2] + (2 * ry + 1, 2 * rx + 1))
    # k[d] = K[c0 + P - d]: index R + d of the centred array holds K flipped, ending at R + c0 + P
    ey, ex = ry + c0s[0] + P[0], rx + c0s[1] + P[1]
    out[..., ey - kernel_len[0] + 1:ey + 1, ex - kernel_len[1] + 1:ex + 1] = torch.flip(K, (-2, -1))
    return out, (c0s[0], c0s[1], s[0], s[1], out_size[0], out_size[1])


def run_layers(layers: list, x: torch.Tensor) -> torch.Tensor:
    """Reference forward pass of layer dicts (the dtype of ``x``), as torch would compute them."""
    for ly in layers:
        op = ly["op"]
        if op == "conv":
            t, b, l, r = ly["padding"]
            x = F.conv2d(F.pad(x, (l, r, t, b)), ly["weight"].to(x.dtype),
                         None if ly["bias"] is None else ly["bias"].to(x.dtype), tuple(ly["stride"]),
                         0, tuple(ly["dilation"]), ly["groups"])
        elif op == "affine":
            shape = (1, -1) + (1,) * (x.ndim - 2)
            x = x * ly["scale"].to(x.dtype).reshape(shape) + ly["shift"].to(x.dtype).reshape(shape)
        elif op in ("avgpool", "maxpool"):
            t, b, l, r = ly["padding"]
            sym = t == b and l == r
            if op == "avgpool":
                if not sym:
                    x = F.pad(x, (l, r, t, b))
                x = F.avg_pool2d(x, ly["kernel"], ly["stride"], (t, l) if sym else 0, ly["ceil_mode"],
                                 ly["count_include_pad"], ly["divisor"])
            else:
                if not sym:
                    x = F.pad(x, (l, r, t, b), value=float("-inf"))
                x = F.max_pool2d(x, ly["kernel"], ly["stride"], (t, l) if sym else 0, ly["dilation"],
                                 ly["ceil_mode"])
        elif op == "adaptive_avg":
            x = F.adaptive_avg_pool2d(x, ly["size"])
        elif op == "flatten":
            x = x.flatten(1)
        elif op == "linear":
            x = F.linear(x, ly["weight"].to(x.dtype), None if ly["bias"] is None else ly["bias"].to(x.dtype))
        elif op == "relu":
            x = F.relu(x)
        elif op == "leaky_relu":
            x = F.leaky_relu(x, ly["slope"])
        elif op in ("sigmoid", "tanh"):
            x = getattr(torch, op)(x)
        elif op == "gelu":
            x = F.gelu(x)
        elif op in ("softmax", "log_softmax"):
            x = getattr(F, op)(x, ly["dim"])
        else:
            raise UnsupportedModel(f"unknown layer {op!r}")
    return x
