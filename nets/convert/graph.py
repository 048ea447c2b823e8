"""A user's network read as a chain of layers, from TorchScript (or an in-memory module) or ONNX.

Both readers give the same list of layer dicts, ``{"op": name, ...attributes, tensors}``:

=================  ==========================================================================
``conv``           weight (Co, Ci/g, kh, kw), bias or None, stride (sy, sx), padding
                   (top, bottom, left, right), dilation (dy, dx), groups; *correlates*, as
                   ``torch.nn.Conv2d``
``affine``         per-channel scale and shift (C,) (batch norm in eval mode, folded)
``avgpool``        kernel, stride, padding (t, b, l, r), ceil_mode, count_include_pad, divisor
``maxpool``        kernel, stride, padding, dilation, ceil_mode
``adaptive_avg``   output size (h, w)
``relu`` ``sigmoid`` ``tanh`` ``gelu``, ``leaky_relu`` (slope), ``softmax`` ``log_softmax`` (dim)
``flatten``        (N, ...) -> (N, -1)
``linear``         weight (out, in), bias or None
=================  ==========================================================================

The network must be a chain (each layer takes the previous one's output): the front end a
stack of linear layers, the back end anything this table holds. TorchScript files are
frozen (``torch.jit.freeze``: parameters become constants, batch norms fold into the
convolutions) and read without running Python code of the user's; ONNX graphs are read with
the ``onnx`` package (``pip install onnx``). Pickled modules are not read.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

__all__ = ["UnsupportedModel", "read_model_file", "module_layers", "torchscript_layers", "onnx_layers",
           "describe"]


class UnsupportedModel(ValueError):
    """The network cannot be read or cannot go optical; the message says which layer and why."""


def _pad4(p):
    """(top, bottom, left, right) from an int, (py, px) or 4 values."""
    if isinstance(p, int):
        return (p, p, p, p)
    p = [int(a) for a in p]
    return (p[0], p[0], p[1], p[1]) if len(p) == 2 else tuple(p)


def _pair(v):
    if isinstance(v, int):
        return (v, v)
    v = [int(a) for a in v]
    return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])


def _same_pad(kernel, dilation):
    """torch's padding='same': total d (k - 1) per axis, the extra pixel at the end."""
    out = []
    for k, d in zip(kernel, dilation):
        tot = d * (k - 1)
        out += [tot // 2, tot - tot // 2]
    return (out[0], out[1], out[2], out[3])


def describe(layer: dict) -> str:
    """One line naming a layer and its settings (for messages and reports)."""
    op = layer["op"]
    if op == "conv":
        w = layer["weight"]
        return (f"Conv2d({w.shape[1] * layer['groups']}, {w.shape[0]}, kernel={tuple(w.shape[2:])}, "
                f"stride={layer['stride']}, padding={layer['padding']}, bias={layer['bias'] is not None})")
    if op == "linear":
        return f"Linear({layer['weight'].shape[1]}, {layer['weight'].shape[0]})"
    keys = [k for k in layer if k not in ("op", "weight", "bias", "scale", "shift", "source")]
    return f"{op}(" + ", ".join(f"{k}={layer[k]}" for k in keys) + ")"


# -- TorchScript -----------------------------------------------------------------------------------

def _const(v):
    """Python value of a constant graph value (prim::Constant, or a ListConstruct of constants)."""
    node = v.node()
    if node.kind() == "prim::Constant":
        return v.toIValue()
    if node.kind() == "prim::ListConstruct":
        return [_const(i) for i in node.inputs()]
    return _DYNAMIC


class _Dynamic:
    def __repr__(self):
        return "<dynamic>"


_DYNAMIC = _Dynamic()


def _ts_layer(kind: str, args: list, where: str):
    t = lambda a: None if a is None else a.detach().to(torch.float64)  # noqa: E731
    if kind in ("aten::_convolution", "aten::conv2d"):
        x, w, b, stride, pad, dil = args[:6]
        if kind == "aten::_convolution":
            transposed, groups = args[6], args[8]
            if transposed:
                raise UnsupportedModel(f"{where}: a transposed convolution is not supported")
        else:
            groups = args[6]
        if w.ndim != 4:
            raise UnsupportedModel(f"{where}: only 2-d convolutions are supported (weight {tuple(w.shape)})")
        dil = _pair(dil)
        pad = _same_pad(w.shape[2:], dil) if pad == "same" else (0, 0, 0, 0) if pad == "valid" else _pad4(pad)
        return {"op": "conv", "weight": t(w), "bias": t(b), "stride": _pair(stride), "padding": pad,
                "dilation": dil, "groups": int(groups)}
    if kind == "aten::batch_norm":
        _, g, b, mean, var, training, _, eps = args[:8]
        scale = (t(g) if g is not None else 1.0) / torch.sqrt(t(var) + eps)
        shift = (t(b) if b is not None else 0.0) - t(mean) * scale
        return {"op": "affine", "scale": scale, "shift": shift}
    if kind == "aten::avg_pool2d":
        _, k, s, pad, ceil, cip, div = args[:7]
        k = _pair(k)
        return {"op": "avgpool", "kernel": k, "stride": _pair(s) if s else k, "padding": _pad4(pad),
                "ceil_mode": bool(ceil), "count_include_pad": bool(cip), "divisor": div}
    if kind == "aten::max_pool2d":
        _, k, s, pad, dil, ceil = args[:6]
        k = _pair(k)
        return {"op": "maxpool", "kernel": k, "stride": _pair(s) if s else k, "padding": _pad4(pad),
                "dilation": _pair(dil), "ceil_mode": bool(ceil)}
    if kind == "aten::adaptive_avg_pool2d":
        return {"op": "adaptive_avg", "size": _pair(args[1])}
    if kind in ("aten::relu", "aten::relu_"):
        return {"op": "relu"}
    if kind in ("aten::leaky_relu", "aten::leaky_relu_"):
        return {"op": "leaky_relu", "slope": float(args[1])}
    if kind in ("aten::sigmoid", "aten::sigmoid_"):
        return {"op": "sigmoid"}
    if kind in ("aten::tanh", "aten::tanh_"):
        return {"op": "tanh"}
    if kind == "aten::gelu":
        return {"op": "gelu"}
    if kind in ("aten::softmax", "aten::log_softmax"):
        return {"op": kind[6:], "dim": int(args[1])}
    if kind == "aten::flatten":
        if int(args[1]) != 1 or int(args[2]) != -1:
            raise UnsupportedModel(f"{where}: flatten(start_dim={args[1]}, end_dim={args[2]}); only (1, -1) is read")
        return {"op": "flatten"}
    if kind in ("aten::view", "aten::reshape"):
        shape = args[1]
        if isinstance(shape, list) and len(shape) == 2 and shape[1] == -1:
            return {"op": "flatten"}
        raise UnsupportedModel(f"{where}: reshape to {shape}; only x.view(N, -1) (a flatten) is read")
    if kind == "aten::linear":
        return {"op": "linear", "weight": t(args[1]), "bias": t(args[2])}
    if kind == "aten::addmm":  # bias + x @ W^T, as traced linears sometimes appear
        return {"op": "linear", "weight": t(args[2]).t().contiguous(), "bias": t(args[0])}
    if kind in ("aten::dropout", "aten::dropout_", "aten::feature_dropout", "aten::contiguous", "aten::detach"):
        return {"op": "identity"}
    raise UnsupportedModel(f"{where}: operation {kind} is not supported (supported: Conv2d, BatchNorm, "
                           "AvgPool2d, MaxPool2d, AdaptiveAvgPool2d, ReLU, LeakyReLU, Sigmoid, Tanh, GELU, "
                           "Softmax, Flatten/view(N, -1), Linear, Dropout)")


def torchscript_layers(module) -> list:
    """Layers of a TorchScript module (``torch.jit.load``), frozen in eval mode."""
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated in torch, still the format users save
            warnings.simplefilter("ignore", DeprecationWarning)
            frozen = torch.jit.freeze(module.eval())
    except Exception as e:  # noqa: BLE001 - torch raises assorted types on modules it cannot freeze
        raise UnsupportedModel(f"cannot freeze the TorchScript module ({type(e).__name__}: {e})") from None
    graph = frozen.graph
    inputs = [i for i in graph.inputs()][1:]  # the first is self
    if len(inputs) != 1:
        raise UnsupportedModel(f"the model takes {len(inputs)} inputs; one image batch (N, C, H, W) is expected")
    current, side, layers = inputs[0], set(), []
    for node in graph.nodes():
        kind = node.kind()
        ins = list(node.inputs())
        if kind in ("prim::Constant", "prim::ListConstruct") or not ins:
            continue
        uses = [v is current or v.debugName() == current.debugName() for v in ins]
        if kind == "aten::size" or (not uses[0] and not any(uses)):
            side.update(o.debugName() for o in node.outputs())
            continue
        where = f"layer {len(layers)} ({kind})"
        if not uses[0] or sum(uses) > 1 or any(
                v.debugName() in side and kind not in ("aten::view", "aten::reshape") for v in ins[1:]):
            raise UnsupportedModel(f"{where}: the network is not a chain of layers (an operation combines "
                                   "several intermediate results, e.g. a skip connection); not supported")
        args = [None if i == 0 else _const(v) for i, v in enumerate(ins)]
        if kind == "aten::addmm":
            args = [_const(ins[0]), None, _const(ins[2])]
            if not uses[1]:
                raise UnsupportedModel(f"{where}: unsupported matrix product")
        elif kind in ("aten::view", "aten::reshape"):
            shape = args[1]
            args[1] = [-1 if a is _DYNAMIC else a for a in shape] if isinstance(shape, list) else shape
            if isinstance(args[1], list) and len(args[1]) == 2:
                args[1] = [args[1][0], -1] if args[1][1] == -1 or args[1][0] == -1 else args[1]
        if any(a is _DYNAMIC for a in args[1:]):
            raise UnsupportedModel(f"{where}: an argument is computed at run time; not supported")
        layers.append(_ts_layer(kind, args, where))
        outs = list(node.outputs())
        current = outs[0]
    return [ly for ly in layers if ly["op"] != "identity"]


def module_layers(module: torch.nn.Module, example: torch.Tensor) -> list:
    """Layers of an in-memory ``nn.Module``: traced on ``example`` (N, C, H, W), then read as TorchScript."""
    module = module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            traced = torch.jit.trace(module, example, check_trace=False)
    except Exception as e:  # noqa: BLE001
        raise UnsupportedModel(f"cannot trace the module on an input of shape {tuple(example.shape)} "
                               f"({type(e).__name__}: {e})") from None
    return torchscript_layers(traced)


# -- ONNX ------------------------------------------------------------------------------------------

def _onnx_attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def onnx_layers(path) -> list:
    """Layers of an ONNX graph file (needs the ``onnx`` package: ``pip install onnx``)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise UnsupportedModel("reading ONNX needs the onnx package: pip install onnx (or optics4f[onnx])") from None
    model = onnx.load(str(path))
    g = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    inputs = [i.name for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        raise UnsupportedModel(f"the ONNX graph takes {len(inputs)} inputs ({inputs}); one image batch is expected")
    current, side, layers = inputs[0], set(), []
    t = lambda name: None if not name else torch.from_numpy(np.array(consts[name], dtype=np.float64))  # noqa: E731
    for node in g.node:
        op, ins, a = node.op_type, list(node.input), _onnx_attrs(node)
        if op == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(a["value"])
            continue
        if current not in ins:
            if all(i in consts for i in ins if i):  # constant folding the exporter left behind
                side.update(node.output)
                continue
            side.update(node.output)
            continue
        if op == "Shape":
            side.update(node.output)
            continue
        where = f"layer {len(layers)} ({op} {node.name})"
        if ins[0] != current or ins.count(current) > 1:
            raise UnsupportedModel(f"{where}: the network is not a chain of layers; not supported")
        if op == "Conv":
            w = t(ins[1])
            if w.ndim != 4:
                raise UnsupportedModel(f"{where}: only 2-d convolutions are supported")
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise UnsupportedModel(f"{where}: auto_pad is not supported; export with explicit pads")
            p = list(a.get("pads", [0, 0, 0, 0]))
            layers.append({"op": "conv", "weight": w, "bias": t(ins[2]) if len(ins) > 2 else None,
                           "stride": _pair(list(a.get("strides", [1, 1]))), "padding": (p[0], p[2], p[1], p[3]),
                           "dilation": _pair(list(a.get("dilations", [1, 1]))), "groups": int(a.get("group", 1))})
        elif op == "BatchNormalization":
            g_, b_, m_, v_ = (t(n) for n in ins[1:5])
            scale = g_ / torch.sqrt(v_ + float(a.get("epsilon", 1e-5)))
            layers.append({"op": "affine", "scale": scale, "shift": b_ - m_ * scale})
        elif op in ("AveragePool", "MaxPool"):
            k = _pair(list(a["kernel_shape"]))
            p = list(a.get("pads", [0, 0, 0, 0]))
            d = {"kernel": k, "stride": _pair(list(a.get("strides", k))), "padding": (p[0], p[2], p[1], p[3]),
                 "ceil_mode": bool(a.get("ceil_mode", 0))}
            if op == "AveragePool":
                layers.append(dict(d, op="avgpool", count_include_pad=bool(a.get("count_include_pad", 0)),
                                   divisor=None))
            else:
                layers.append(dict(d, op="maxpool", dilation=_pair(list(a.get("dilations", [1, 1])))))
        elif op == "GlobalAveragePool":
            layers.append({"op": "adaptive_avg", "size": (1, 1)})
        elif op in ("Relu", "Sigmoid", "Tanh", "Gelu"):
            layers.append({"op": op.lower()})
        elif op == "LeakyRelu":
            layers.append({"op": "leaky_relu", "slope": float(a.get("alpha", 0.01))})
        elif op in ("Softmax", "LogSoftmax"):
            layers.append({"op": "softmax" if op == "Softmax" else "log_softmax", "dim": int(a.get("axis", -1))})
        elif op == "Flatten":
            if int(a.get("axis", 1)) != 1:
                raise UnsupportedModel(f"{where}: Flatten(axis={a['axis']}); only axis 1 is read")
            layers.append({"op": "flatten"})
        elif op == "Reshape":
            shape = consts.get(ins[1])
            if shape is None or len(shape) != 2 or shape[1] != -1 and shape[0] not in (-1, 0, 1):
                raise UnsupportedModel(f"{where}: Reshape to {shape}; only a flatten (N, -1) is read")
            layers.append({"op": "flatten"})
        elif op == "Gemm":
            if a.get("transA", 0) or not a.get("transB", 0):
                raise UnsupportedModel(f"{where}: Gemm must be x @ W^T (transA 0, transB 1), as torch exports Linear")
            w = t(ins[1]) * float(a.get("alpha", 1.0))
            b = t(ins[2]) * float(a.get("beta", 1.0)) if len(ins) > 2 and ins[2] else None
            layers.append({"op": "linear", "weight": w, "bias": b})
        elif op == "MatMul" and ins[1] in consts:
            layers.append({"op": "linear", "weight": t(ins[1]).t().contiguous(), "bias": None})
        elif op == "Add" and layers and layers[-1]["op"] == "linear" and layers[-1]["bias"] is None \
                and ins[1] in consts:
            layers[-1]["bias"] = t(ins[1]).reshape(-1)
            current = node.output[0]
            continue
        elif op in ("Identity", "Dropout"):
            pass
        else:
            raise UnsupportedModel(f"{where}: ONNX operator {op} is not supported (supported: Conv, "
                                   "BatchNormalization, AveragePool, MaxPool, GlobalAveragePool, Relu, LeakyRelu, "
                                   "Sigmoid, Tanh, Gelu, Softmax, Flatten, Reshape (N, -1), Gemm, MatMul + Add)")
        current = node.output[0]
    outs = [o.name for o in g.output]
    if outs != [current]:
        raise UnsupportedModel(f"the ONNX graph's output {outs} is not the end of its chain of layers ({current})")
    return layers


def read_model_file(path) -> list:
    """Layers of a TorchScript (``.pt``, ``.pth``, ``.ts``, ``.torchscript``) or ONNX (``.onnx``) file.

    A pickled module or a bare ``state_dict`` is refused with what to do instead: they hold the
    weights without the network's structure (a state_dict) or need the user's Python classes to
    be trusted and imported (a pickle).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    if path.suffix.lower() == ".onnx":
        return onnx_layers(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception:  # noqa: BLE001 - not TorchScript
        raise UnsupportedModel(
            f"{str(path)!r} is neither a TorchScript nor an ONNX file. A state_dict or a pickled module cannot be "
            "read safely (no structure / arbitrary code). Save the model as TorchScript, "
            "torch.jit.trace(model, example).save('model.ts'), or as ONNX (torch.onnx.export), or pass the "
            "nn.Module itself to nets.convert.convert_module in Python") from None
    return torchscript_layers(module)
