"""What a calibration is to the system layer: a small protocol, and applying several in order.

The calibration routines (the ``calib`` package) measure a bench and return objects that
correct a :class:`~optics4f.system.config.SystemConfig` (a measured LUT, a flatness map, ...).
The students' simulation and export (``nets``) apply such objects without importing ``calib``
(docs/architecture.md#layers): they take anything with this protocol, which
``calib.Calibration`` implements. Reading a calibration file is ``calib.load``.
"""
from __future__ import annotations

from typing import Iterable, Protocol, runtime_checkable

from .config import SystemConfig

__all__ = ["Calibration", "check_calibrations", "apply_calibrations"]


@runtime_checkable
class Calibration(Protocol):
    """A correction of a bench's configuration.

    kind : str
        Name of the calibration ("lut", "wavefront", ...), reported with results.
    apply_to_config(config) -> SystemConfig
        A corrected copy of ``config`` (the argument itself when nothing changes).
    check_bench(config, what) -> list
        Differences (str) between the bench the calibration was measured on and ``config``
        (warning about each); empty when it matches or is unknown.
    """

    kind: str

    def apply_to_config(self, config: SystemConfig) -> SystemConfig: ...

    def check_bench(self, config: SystemConfig, what: str = "this bench") -> list: ...


def check_calibrations(calibrations: Iterable) -> list:
    """``calibrations`` as a list; a TypeError names any item that is not a :class:`Calibration`."""
    out = list(calibrations)
    for c in out:
        if not isinstance(c, Calibration):
            raise TypeError(f"calibrations must be Calibration objects (kind, apply_to_config, check_bench; "
                            f"calib.load(path) reads a calibration file), got {type(c).__name__}")
    return out


def apply_calibrations(config: SystemConfig, calibrations: Iterable, check_bench: bool = True) -> SystemConfig:
    """Apply several calibrations in order to ``config``; returns the corrected copy.

    With ``check_bench``, a calibration measured on a different bench (wavelength, SLM, camera,
    geometry) warns, naming the differences (:meth:`Calibration.check_bench`)."""
    for c in check_calibrations(calibrations):
        if check_bench:
            c.check_bench(config)
        config = c.apply_to_config(config)
    return config
