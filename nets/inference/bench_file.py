"""A bench description file (TOML): the lab's lenses, wavelength, panel, camera and misalignments.

The same keys as :class:`nets.inference.optical.HardwareSettings` (and as the bench options of
``optics4f export / simulate / finetune``), in SI units::

    format = "optics4f.bench"
    wavelength = 633e-9        # m
    f1 = 0.1                   # m, a stock lens
    f2 = 0.2                   # m
    display_pitch = 8e-6       # m (HardwareSettings.pitch)
    camera_pitch = 5.86e-6     # m
    slm_preset = "holoeye-pluto-2"
    camera_bits = 12
    slm_rotation = 0.0         # rad

Given with ``--bench FILE``, it sits between the defaults (or the bench an export recorded)
and the command-line flags, which win (docs/sampling.md).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

__all__ = ["load_bench", "FORMAT"]

FORMAT = "optics4f.bench"
#: File keys that differ from the HardwareSettings field names.
_ALIASES = {"display_pitch": "pitch"}


def load_bench(path) -> dict:
    """HardwareSettings fields (a dict) from a bench TOML file; unknown keys and other formats are refused
    with the file named. Values are validated when the settings are built."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib

    from .optical import HardwareSettings

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"bench file {str(path)!r} does not exist")
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"bench file {str(path)!r} is not valid TOML: {e}") from None
    fmt = doc.pop("format", FORMAT)
    if fmt != FORMAT:
        raise ValueError(f"bench file {str(path)!r} has format {fmt!r}, not {FORMAT!r} (a SystemConfig TOML goes to "
                         "export --system)")
    doc.pop("units", None)
    known = {f.name for f in dataclasses.fields(HardwareSettings)}
    out = {}
    for key, value in doc.items():
        field = _ALIASES.get(key, key)
        if field not in known:
            names = sorted((known - {"pitch"}) | set(_ALIASES))
            raise ValueError(f"bench file {str(path)!r}: unknown key {key!r}; known keys: {', '.join(names)}")
        out[field] = tuple(value) if isinstance(value, list) else value
    return out
