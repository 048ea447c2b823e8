"""Bring your own model: a plain PyTorch network (in memory, TorchScript or ONNX) made an optics4f
student (``optics4f convert``). See :mod:`nets.convert.convert`.

Names are imported on first use (torch is heavy; the CLI parser imports this package).
"""
from importlib import import_module

_NAMES = {"convert_module": "convert", "convert_file": "convert", "convert_layers": "convert",
          "refit_intensity": "convert", "save_student": "convert", "relative_difference": "convert",
          "UnsupportedModel": "graph", "read_model_file": "graph"}

__all__ = sorted(_NAMES)


def __getattr__(name):
    if name in _NAMES:
        return getattr(import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
