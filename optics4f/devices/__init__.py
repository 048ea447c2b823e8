"""Devices: the Fourier-plane SLM, the input display, and their mask encodings.

* :mod:`.slm`: :class:`SLM` and the pure gray/phase/quantisation functions.
* :mod:`.presets`: common panels (:func:`slm_preset`).
* :mod:`.render`: pixels drawn onto a simulation grid (fill factor, fringing).
* :mod:`.encoding`: complex masks on phase-only (double phase) and DMD (Lee) panels.
* :mod:`.display`: :class:`InputDisplay`, the panel that shows the input image.
"""
from .detector import Camera, make_rng  # the camera model
from .display import InputDisplay
from .encoding import (
    double_phase,
    encoding_fidelity,
    lee_hologram,
    output_window,
)
from .presets import PRESETS, preset_names, slm_preset
from .render import pitch_ratio, render_pixels, render_pixels_adjoint
from .slm import (
    MODES,
    SLM,
    check_lut,
    fringing,
    gray_to_phase,
    invert_lut,
    linear_phase_lut,
    phase_to_gray_linear,
    quantize,
)

__all__ = [
    "SLM", "MODES", "quantize", "linear_phase_lut", "gray_to_phase", "phase_to_gray_linear", "invert_lut",
    "check_lut", "fringing",
    "PRESETS", "preset_names", "slm_preset",
    "pitch_ratio", "render_pixels", "render_pixels_adjoint",
    "double_phase", "lee_hologram", "encoding_fidelity", "output_window",
    "InputDisplay", "Camera", "make_rng",
]
