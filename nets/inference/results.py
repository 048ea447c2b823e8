"""Typed results of ``optics4f simulate``, ``optics4f finetune`` and ``simulate --bench-errors``.

Each is a dataclass: the figures a user reads as typed fields, the live objects the figures and the
saved model need (the simulated student, the images, the kept network) as fields that ``to_json``
leaves out. ``to_json()`` gives the JSON report (``report.json``), key for key as it has always been
written; ``from_json`` reads one back (its live objects are then None).

Accuracies are fractions of the split's images in [0, 1] (pixels for segmentation); times are
seconds of wall clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the results module itself needs neither torch nor the simulator
    import torch
    from torch import nn

    from .optical import OpticalStudent

__all__ = ["SimulationResult", "ModeResult", "FinetuneResult", "ComparisonResult"]


@dataclass
class SimulationResult:
    """Digital vs simulated optical accuracy of a student on a dataset split
    (:func:`nets.inference.simulate.simulate`).

    task : "classify" or "segment"
    n_images : images evaluated
    dataset, split : dataset name (or folder) and split evaluated
    digital_accuracy : accuracy of the student's own forward pass, fraction in [0, 1] (pixel accuracy
        for segmentation)
    optical_accuracy : accuracy on the simulated hardware, fraction in [0, 1]
    agreement : fraction of predictions (images, or pixels) on which optical and digital agree
    classes : class names, in label order
    fidelity : how well the SLM represents the masks (:func:`nets.inference.simulate.fidelity_report`)
    config : everything used (model, frames, hardware, calibrations, exposure time in s, system, ...)
    seconds : wall-clock time of the run (s)
    confusion, confusion_digital : classification only: counts, rows true class, columns predicted
        (optical; digital)
    digital_miou, optical_miou : segmentation only: mean intersection over union, in [0, 1]
    optical : the :class:`~nets.inference.optical.OpticalStudent` that ran (not in the report)
    images, labels : the evaluated images (N, C, H, W) and labels (not in the report)
    tiles : camera tiles of the first batch (not in the report)
    """

    task: str
    n_images: int
    dataset: str
    split: str
    digital_accuracy: float
    optical_accuracy: float
    agreement: float
    classes: list[str]
    fidelity: dict
    config: dict
    seconds: float
    confusion: list[list[int]] | None = None
    confusion_digital: list[list[int]] | None = None
    digital_miou: float | None = None
    optical_miou: float | None = None
    optical: OpticalStudent | None = field(default=None, repr=False, compare=False)
    images: torch.Tensor | None = field(default=None, repr=False, compare=False)
    labels: torch.Tensor | None = field(default=None, repr=False, compare=False)
    tiles: Any = field(default=None, repr=False, compare=False)

    @property
    def difference(self) -> float:
        """optical_accuracy - digital_accuracy (fraction; negative: the hardware loses accuracy)."""
        return self.optical_accuracy - self.digital_accuracy

    def to_json(self) -> dict:
        """The JSON report: the keys above (``difference`` included), segmentation's mIoU or
        classification's confusion matrices, no live objects."""
        out = {"task": self.task, "n_images": self.n_images, "dataset": self.dataset, "split": self.split,
               "digital_accuracy": self.digital_accuracy, "optical_accuracy": self.optical_accuracy,
               "difference": self.difference, "agreement": self.agreement}
        if self.task == "segment":
            out.update(digital_miou=self.digital_miou, optical_miou=self.optical_miou)
        else:
            out.update(confusion=self.confusion, confusion_digital=self.confusion_digital)
        out.update(classes=self.classes, fidelity=self.fidelity, config=self.config, seconds=self.seconds)
        return out

    @classmethod
    def from_json(cls, d: dict) -> SimulationResult:
        """A result from its report (``to_json``); the live objects are None."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class ModeResult:
    """One fine-tuning mode ("frontend" or "backend") of :class:`FinetuneResult`.

    accuracy : simulated optical accuracy on the test split after fine-tuning, fraction in [0, 1]
    val_accuracy : the same on the validation split (what the epoch was selected on)
    epoch : the epoch kept (0: the start, no epoch did better on validation)
    recovered : share of the test split's digital - optical gap recovered, (after - before) /
        (digital - before); None when that gap is not larger than one test image
    optical : the fine-tuned :class:`~nets.inference.optical.OpticalStudent` (not in the report)
    """

    accuracy: float
    val_accuracy: float
    epoch: int
    recovered: float | None
    optical: OpticalStudent | None = field(default=None, repr=False, compare=False)


#: The per-mode keys of a fine-tuning report, ``<mode>_<suffix>``, in the report's order.
_MODE_KEYS = ("val_accuracy", "epoch", "accuracy", "recovered")


@dataclass
class FinetuneResult:
    """Hardware-aware fine-tuning of a student (:func:`nets.inference.finetune.finetune`).

    digital_accuracy, optical_accuracy : the student before fine-tuning on the test split, digital
        and simulated optical, fractions in [0, 1]
    val_digital_accuracy, val_optical_accuracy : the same on the validation split
    n_images, n_val_images, n_train_images : images of the test, validation and training splits used
    dataset : dataset name (or folder)
    teacher : path of the KD teacher (None: cross-entropy on the labels)
    kept : the model kept, "start" or "backend" (the best on validation of the two)
    modes : the modes run, {"backend" | "frontend": :class:`ModeResult`}, in the order they ran
    config : the run's settings (model, modes, hardware, epochs, learning rates, exposure time in s, ...)
    seconds : wall-clock time of the run (s)
    student : the kept network, an ``nn.Module`` (not in the report)
    model_config : the kept network's model config, to save it with (not in the report)
    """

    digital_accuracy: float
    optical_accuracy: float
    val_digital_accuracy: float
    val_optical_accuracy: float
    n_images: int
    n_val_images: int
    n_train_images: int
    dataset: str
    teacher: str | None
    kept: str
    modes: dict[str, ModeResult]
    config: dict
    seconds: float
    student: nn.Module | None = field(default=None, repr=False, compare=False)
    model_config: dict | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict:
        """The JSON report: the figures above with each mode's as ``<mode>_accuracy``,
        ``<mode>_val_accuracy``, ``<mode>_epoch`` and ``<mode>_recovered``; no live objects."""
        out = {"digital_accuracy": self.digital_accuracy, "optical_accuracy": self.optical_accuracy,
               "val_digital_accuracy": self.val_digital_accuracy, "val_optical_accuracy": self.val_optical_accuracy,
               "n_images": self.n_images, "n_val_images": self.n_val_images, "n_train_images": self.n_train_images,
               "dataset": self.dataset, "teacher": self.teacher, "kept": self.kept}
        for name, mode in self.modes.items():
            out.update({f"{name}_{key}": getattr(mode, key) for key in _MODE_KEYS})
        out.update(config=self.config, seconds=self.seconds)
        return out

    @classmethod
    def from_json(cls, d: dict) -> FinetuneResult:
        """A result from its report (``to_json``); the live objects are None."""
        names = [k[:-len("_val_accuracy")] for k in d if k.endswith("_val_accuracy") and not k.startswith("val_")]
        modes = {m: ModeResult(**{key: d[f"{m}_{key}"] for key in _MODE_KEYS}) for m in names}
        return cls(modes=modes, **{f.name: d[f.name] for f in fields(cls) if f.name in d and f.name != "modes"})


@dataclass
class ComparisonResult:
    """A bench with errors the export does not know, with and without calibration
    (:func:`nets.inference.calibrated.compare`).

    n_images : test images evaluated
    dataset : dataset name (or folder)
    digital_accuracy : the student's own forward pass, fraction in [0, 1]
    error_free_accuracy : simulated optical accuracy on the error-free bench, nominal export
    uncalibrated_accuracy : on the erroneous bench, nominal export
    calibrated_accuracy : on the erroneous bench, frames exported with the calibrations (None: no
        calibration given)
    recovered_fraction : (calibrated - uncalibrated) / (error-free - uncalibrated); None without
        calibrations or when the errors cost less than half an image
    bench_errors : the injected errors (``BenchErrors.to_dict``: lut_gamma, gray_2pi in gray levels,
        zernike {"zJ": RMS m})
    calibrations : kinds of the calibrations applied, in order
    calibration_methods : how each was obtained ("injected truth", a measurement method, "file")
    model : student checkpoint path
    hardware : the bench's HardwareSettings, as a dict
    """

    n_images: int
    dataset: str
    digital_accuracy: float
    error_free_accuracy: float
    uncalibrated_accuracy: float
    calibrated_accuracy: float | None
    recovered_fraction: float | None
    bench_errors: dict
    calibrations: list[str]
    calibration_methods: list[str]
    model: str
    hardware: dict

    def to_json(self) -> dict:
        """The JSON report, one key per field."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, d: dict) -> ComparisonResult:
        """A result from its report (``to_json``)."""
        return cls(**{f.name: d[f.name] for f in fields(cls)})
