"""optics4f: physical-optics simulation of 4f optical convolutional networks.

Units are SI (m, rad); fields are complex arrays with spatial axes last,
(..., ny, nx), on NumPy or CuPy (the backend follows the input array).
``import optics4f`` loads the core only and never imports torch; the
subpackages ``devices``, ``io`` and ``system`` load on first use, the torch
bridge with ``import optics4f.torch`` (docs/architecture.md#layers).
"""
from ._version import __version__
from .backend import as_field, get_xp, has_cupy, is_cupy, to_numpy
from .fft import get_fft_engine, set_fft_engine
from .fourf import FourF, FullWave4f, fourf
from .grid import Grid
from .kernels import embed_kernel, kernel_to_mask, mask_to_kernel
from .lens import FourierLens, ThinLens, centered_dft, centered_idft, thin_lens_phase
from .operator import LinearOperator
from .padding import crop_center, pad_center
from .propagation import AngularSpectrum, FresnelTF, propagate_asm, propagate_fresnel
from .pupil import circular_pupil, rectangular_pupil
from .sampling import AliasingError, SamplingWarning
from .zernike import ansi_to_nm, nm_to_ansi, zernike, zernike_opd, zernike_phase

#: Subpackages loaded on first use (PEP 562), so that ``import optics4f`` loads the core only:
#: devices (SLM, display, camera), io (files), system (the hardware 4f system). The torch bridge is
#: imported by name (``import optics4f.torch``): an attribute lookup never imports torch.
_SUBPACKAGES = ("devices", "io", "system")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")  # also binds it as an attribute
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBPACKAGES))

__all__ = [
    "__version__",
    "devices", "io", "system",
    "as_field", "get_xp", "has_cupy", "is_cupy", "to_numpy",
    "get_fft_engine", "set_fft_engine",
    "FourF", "FullWave4f", "fourf",
    "Grid",
    "embed_kernel", "kernel_to_mask", "mask_to_kernel",
    "FourierLens", "ThinLens", "centered_dft", "centered_idft", "thin_lens_phase",
    "LinearOperator",
    "crop_center", "pad_center",
    "AngularSpectrum", "FresnelTF", "propagate_asm", "propagate_fresnel",
    "circular_pupil", "rectangular_pupil",
    "AliasingError", "SamplingWarning",
    "ansi_to_nm", "nm_to_ansi", "zernike", "zernike_opd", "zernike_phase",
]
