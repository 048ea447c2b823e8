"""Networks: nonlinear teachers (CNN, U-Net) and SCLC linear optical students.

``MODELS`` maps the architecture names used in configs and checkpoints to classes;
:func:`nets.checkpoint.build_model` builds one from ``{"arch": name, **kwargs}``.
"""
from .hardware import HardwareFrontend, default_system
from .imported import ImportedClassifier
from .spectral import SpectralConv2d, SpectralPool2d, SpectralStack, kernels_to_masks, lowpass_aperture
from .student import Detector, SCLCClassifier, SCLCSegmenter
from .teacher import TeacherCNN
from .unet import UNet

MODELS = {
    "teacher_cnn": TeacherCNN,
    "unet": UNet,
    "sclc_classifier": SCLCClassifier,
    "sclc_segmenter": SCLCSegmenter,
    "imported_classifier": ImportedClassifier,
}

__all__ = ["MODELS", "TeacherCNN", "UNet", "SCLCClassifier", "SCLCSegmenter", "Detector", "ImportedClassifier",
           "HardwareFrontend", "default_system",
           "SpectralStack", "SpectralConv2d", "SpectralPool2d", "kernels_to_masks", "lowpass_aperture"]
