"""Free-space propagation: angular spectrum (exact) and Fresnel transfer function."""
from .angular_spectrum import AngularSpectrum, propagate_asm, asm_transfer_function
from .fresnel import FresnelTF, propagate_fresnel, fresnel_transfer_function

__all__ = [
    "AngularSpectrum",
    "propagate_asm",
    "asm_transfer_function",
    "FresnelTF",
    "propagate_fresnel",
    "fresnel_transfer_function",
]
