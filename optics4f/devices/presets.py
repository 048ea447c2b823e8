"""Presets of common SLM panels: native resolution, pixel pitch, bit depth (vendor data sheets).

``slm_preset(name, **overrides)`` returns an :class:`~optics4f.devices.slm.SLM`;
names are case-insensitive; an unknown name raises an error listing the known
ones. Numbers are from the vendors' published specifications (see the comment
on each entry). Fill factors are vendor *area* fill factors converted to the
model's linear, per-axis fill factor (sqrt); where the summary spec we used
gives none, the preset keeps 1.0 and says so: set it when you know your panel.
gray_2pi defaults to the top gray level (a panel calibrated for 2 pi over its
full range at its design wavelength); override it with your calibration.
"""
from __future__ import annotations

import math
from typing import Any

from .slm import SLM

__all__ = ["PRESETS", "slm_preset", "preset_names"]

PRESETS = {
    # Holoeye PLUTO-2 (LCoS, phase only): 1920 x 1080, 8.0 um, 8-bit, fill factor 93 % (area),
    # per the Holoeye PLUTO-2 data sheet.
    "holoeye-pluto-2": dict(resolution=(1080, 1920), pitch=8.0e-6, bit_depth=8, mode="phase",
                            fill_factor=math.sqrt(0.93)),
    # Meadowlark Optics 1920 x 1152 (LCoS): 9.2 um, 12-bit addressing over its PCIe driver
    # (8-bit over HDMI: use bit_depth=8), fill factor 95.6 % (area), per the Meadowlark data sheet.
    "meadowlark-1920x1152": dict(resolution=(1152, 1920), pitch=9.2e-6, bit_depth=12, mode="phase",
                                 fill_factor=math.sqrt(0.956)),
    # Hamamatsu LCOS-SLM X15213 series: 1272 x 1024, 12.5 um, 8-bit input, fill factor 96 % (area),
    # per the Hamamatsu X15213 data sheet.
    "hamamatsu-x15213": dict(resolution=(1024, 1272), pitch=12.5e-6, bit_depth=8, mode="phase",
                             fill_factor=math.sqrt(0.96)),
    # Santec SLM-200: 1920 x 1200, 8.0 um, 10-bit, per the Santec SLM-200 data sheet
    # (fill factor not in the spec summary used: left at 1.0).
    "santec-slm-200": dict(resolution=(1200, 1920), pitch=8.0e-6, bit_depth=10, mode="phase"),
    # Thorlabs Exulus-HD (EXULUS-HD1/HD2/HD3): 1920 x 1080, 6.4 um, 8-bit, per the Thorlabs
    # Exulus product pages (fill factor not in the spec summary used: left at 1.0).
    "thorlabs-exulus-hd": dict(resolution=(1080, 1920), pitch=6.4e-6, bit_depth=8, mode="phase"),
    # Texas Instruments DLP6500 (0.65" 1080p DMD): 1920 x 1080 micromirrors, 7.56 um pitch,
    # binary patterns, per the TI DLP6500 data sheet (mirror gaps: fill factor not modelled, 1.0).
    "ti-dlp6500": dict(resolution=(1080, 1920), pitch=7.56e-6, bit_depth=1, mode="binary"),
}


def preset_names() -> list:
    """Known preset names."""
    return sorted(PRESETS)


def slm_preset(name: str, **overrides: Any) -> SLM:
    """SLM with the native settings of panel ``name`` (case-insensitive), with ``overrides`` applied."""
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise KeyError(f"unknown SLM preset {name!r}; known presets: {', '.join(preset_names())}")
    kw = dict(PRESETS[key], name=key)
    kw.update(overrides)
    return SLM(**kw)
