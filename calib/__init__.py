"""calib: calibration routines for a real 4f bench (SLM LUT, registration, wavefront, detector, focus).

Builds on ``optics4f`` only; never imports ``nets``. Every routine takes camera
frames (arrays or files, :func:`load_frames`) plus the probe patterns that were
displayed, and returns a :class:`Calibration` (saved to HDF5, applied to an SLM
or a SystemConfig). :class:`SimulatedBench` stands in for the lab in the
examples and tests.
"""
from .base import CALIBRATION_VERSION, KINDS, Calibration, apply_all, load
from .bench import SimulatedBench, bench_config, default_camera
from .frames import load_frames
from .checks import FrameError
from .benchinfo import BenchMismatchWarning, describe_bench
from .crosstalk import CrosstalkCalibration, crosstalk_from_gratings
from .focus import FocusCalibration, focus_camera, focus_fourier
from .lut import LUTCalibration, lut_from_gratings, lut_from_split_screen
from .registration import FourierPlaneCalibration, RegistrationCalibration, register_fourier_plane, register_spots
from .detector import DetectorCalibration, calibrate_detector
from .kernel import KernelCalibration, calibrate_kernel
from .wavefront import WavefrontCalibration, calibrate_wavefront, calibrate_wavefront_diversity

__all__ = [
    "Calibration", "load", "apply_all", "KINDS", "CALIBRATION_VERSION",
    "load_frames", "FrameError", "BenchMismatchWarning", "describe_bench",
    "SimulatedBench", "bench_config", "default_camera",
    "LUTCalibration", "lut_from_gratings", "lut_from_split_screen",
    "RegistrationCalibration", "register_spots", "FourierPlaneCalibration", "register_fourier_plane",
    "CrosstalkCalibration", "crosstalk_from_gratings",
    "FocusCalibration", "focus_camera", "focus_fourier",
    "DetectorCalibration", "calibrate_detector", "KernelCalibration", "calibrate_kernel",
    "WavefrontCalibration", "calibrate_wavefront", "calibrate_wavefront_diversity",
]
