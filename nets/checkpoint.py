"""Model files: ``state_dict`` + JSON config, loadable with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors, numbers and strings:

    {"format": "optics4f.nets.checkpoint", "format_version": 1, "software_version": ...,
     "config": "<JSON text>", "state_dict": {...}, ...extra (optimizer state, epoch, ...)}

so that ``torch.load(path, weights_only=True)`` (no pickled code) reads it. The
same config is written next to it as ``<name>.json`` for people and other
tools. The config's ``"model"`` entry, ``{"arch": name, **kwargs}``, rebuilds
the network (:func:`build_model`). Writes are atomic (temporary file, then
rename).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from optics4f.io.atomic import atomic_write

from .models import MODELS

__all__ = ["build_model", "save_checkpoint", "load_checkpoint", "load_model", "model_config"]

FORMAT = "optics4f.nets.checkpoint"
FORMAT_VERSION = 1


def build_model(config: dict) -> nn.Module:
    """Network from ``{"arch": name, **kwargs}`` (names: ``nets.models.MODELS``)."""
    if not isinstance(config, dict) or "arch" not in config:
        raise ValueError(f"model config must be a dict with an 'arch' key (one of {sorted(MODELS)}), got {config!r}")
    kw = dict(config)
    arch = kw.pop("arch")
    if arch not in MODELS:
        raise ValueError(f"unknown model arch {arch!r}; known: {sorted(MODELS)}")
    return MODELS[arch](**kw)


def model_config(arch: str, **kwargs) -> dict:
    """The config dict of :func:`build_model` (JSON-ready: tuples become lists)."""
    return json.loads(json.dumps({"arch": arch, **kwargs}))


def save_checkpoint(path, model: nn.Module, config: dict, **extra) -> Path:
    """Write ``model``'s state_dict and ``config`` (JSON-serialisable) to ``path`` and ``path.json``.

    ``extra`` entries (optimizer state_dict, epoch, metrics...) must be
    tensors, numbers, strings, or lists/dicts of them (``weights_only`` rules).
    """
    from optics4f import __version__

    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    text = json.dumps(config, indent=2, sort_keys=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "software_version": __version__,
               "config": text, "state_dict": model.state_dict(), **extra}
    path = Path(path)
    atomic_write(path, lambda f: torch.save(payload, f))
    atomic_write(path.with_suffix(".json"), lambda f: f.write(text + "\n"), mode="w")
    return path


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``; ``"config"`` is returned parsed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, ValueError, OSError, ImportError) as e:
        why = str(e).split(". ")[0].splitlines()[0] if str(e) else type(e).__name__  # torch adds paragraphs
        raise ValueError(f"checkpoint {str(path)!r} cannot be read (truncated, corrupt or not a torch file): "
                         f"{why}") from None
    except Exception:  # pickle.UnpicklingError: not a pickle, or torch's weights_only refusal of other objects
        raise ValueError(f"checkpoint {str(path)!r} is not a torch checkpoint of tensors (a damaged file, another "
                         "format, or one holding objects that are not loaded, for safety)") from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise ValueError(f"{path} is not an optics4f nets checkpoint (no format={FORMAT!r} entry)")
    if ck.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format {ck['format_version']}, newer than this software "
                         f"({FORMAT_VERSION}); upgrade optics4f")
    try:
        ck["config"] = json.loads(ck["config"])
        ck["state_dict"]
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"checkpoint {str(path)!r} is damaged: its config or state_dict entry is missing or "
                         f"unreadable ({e})") from None
    return ck


def load_model(path, map_location="cpu", eval: bool = True):
    """(model, config) from a checkpoint: the model rebuilt from ``config["model"]``, weights loaded."""
    ck = load_checkpoint(path, map_location)
    cfg = ck["config"]
    mcfg = cfg.get("model", cfg)
    model = build_model(mcfg)
    model.load_state_dict(ck["state_dict"])
    model.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu")
    return (model.eval() if eval else model), cfg
