"""A bench with errors the export does not know, with and without calibration (``optics4f simulate
--bench-errors SPEC [--calibration FILE... | --calibrate]``).

The errors (a nonlinear SLM response, a panel surface error) and the erroneous bench are
:mod:`optics4f.system.bench_errors`. :func:`compare` runs the same test images (same noise seed)
through

1. the error-free bench, nominal export (the best a calibration can give back);
2. the erroneous bench, nominal export (uncalibrated);
3. the erroneous bench, frames exported with the calibrations applied to the *export's* SLM (its
   LUT and flatness correction, :func:`optics4f.system.calibration.apply_calibrations` on the
   export configuration), as a lab loads a measured LUT and a wavefront-correction map into its
   encoder;

and reports ``recovered_fraction`` = (calibrated - uncalibrated) / (error-free - uncalibrated): the
share of the accuracy lost to the injected errors that calibrating gives back.

The calibrations are objects with the :class:`optics4f.system.calibration.Calibration` protocol:
read from files, the known truth or measured on the simulated erroneous panel
(``calib.bench_errors``: ``truth_calibrations``, ``measure_calibrations``). This module never
imports ``calib``: the command line (``nets.cli``) loads or measures them and passes them in.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

import numpy as np

from optics4f.system.bench_errors import BenchErrors, parse_bench_errors, true_system
from optics4f.system.calibration import apply_calibrations, check_calibrations

from .optical import HardwareSettings, OpticalStudent, auto_exposure, student_system
from .results import ComparisonResult

__all__ = ["bench_optical", "compare", "format_comparison"]


def bench_optical(student, export_system, bench_system, settings: HardwareSettings) -> OpticalStudent:
    """The student's frames exported (PNG + sidecar, read back) for ``export_system``'s SLM model,
    shown on ``bench_system`` (the true panel)."""
    from nets.export.bundle import read_export

    from .simulate import export_student

    with tempfile.TemporaryDirectory(prefix="optics4f-export-") as tmp:
        bundle = read_export(export_student(student, export_system, Path(tmp) / "export"))
    order = np.argsort([c["in_channel"] for c in bundle.channels])
    return OpticalStudent(student, bench_system, bundle.frames[order], np.abs(np.asarray(bundle.scale)[order]))


def _accuracy(optical, calib_images, images, labels, settings, batch_size):
    from .simulate import run_dataset

    auto_exposure(optical, calib_images, settings.exposure_fill)
    opt, dig, _ = run_dataset(optical, images, batch_size)
    return float((opt.argmax(1) == labels).float().mean()), float((dig.argmax(1) == labels).float().mean())


def compare(model: str | Path | None = None, errors: BenchErrors | str = "", *, calibrations: Sequence | None = None,
            measure: Callable | None = None, settings: HardwareSettings | None = None,
            dataset: str | Path | None = None, limit: int | None = None, calibration_images: int = 64,
            batch_size: int = 100) -> ComparisonResult:
    """Accuracy of a student on the error-free bench, on the erroneous bench uncalibrated, and
    calibrated (module docstring).

    Parameters
    ----------
    model : student checkpoint path (None: the embedded MNIST-5k student)
    errors : BenchErrors or a SPEC string (:func:`parse_bench_errors`)
    calibrations : calibration objects (:class:`optics4f.system.calibration.Calibration`, e.g. read by
        ``calib.load``) applied to the export's SLM; None: measured by ``measure`` or none (no
        calibrated row)
    measure : ``measure(nominal_system, errors, seed=...) -> calibrations`` run on the erroneous bench
        when ``calibrations`` is None (``calib.bench_errors.measure_calibrations``: what ``--calibrate``
        passes); ``seed`` is the settings' camera noise seed
    settings : HardwareSettings of the bench (camera, noise, misalignment); a phase SLM
    limit, dataset, calibration_images, batch_size : as :func:`nets.inference.simulate.simulate`

    Returns a :class:`~nets.inference.results.ComparisonResult` (``to_json()``: the report):
    ``digital_accuracy``, ``error_free_accuracy``, ``uncalibrated_accuracy``, ``calibrated_accuracy``
    and ``recovered_fraction`` (None without calibrations, or when the errors cost less than one
    image), ``bench_errors``, ``calibrations`` (kinds), ``n_images``.
    """
    from nets.data import model_dataset

    from .simulate import DEFAULT_MODEL, load_student

    errors = errors if isinstance(errors, BenchErrors) else parse_bench_errors(errors)
    settings = settings or HardwareSettings()
    if settings.slm_mode != "phase":
        raise ValueError("--bench-errors needs a phase SLM (slm_mode='phase'); an ideal complex SLM has no LUT")
    model_path = Path(model) if model is not None else DEFAULT_MODEL
    student, cfg = load_student(model_path)
    test, ds_name = model_dataset(cfg, "test", limit, dataset)
    calib_set, _ = model_dataset(cfg, "train", calibration_images, dataset)
    images, labels = test.tensors
    nominal = student_system(student, settings)
    bench = true_system(nominal, errors)
    if calibrations is None and measure is not None:
        calibrations = measure(nominal, errors, seed=settings.seed)
    cals = check_calibrations(calibrations or [])

    def run(export_system, bench_system):
        return _accuracy(bench_optical(student, export_system, bench_system, settings), calib_set.tensors[0],
                         images, labels, settings, batch_size)

    error_free, digital = run(nominal, nominal)
    uncal, _ = run(nominal, bench)
    calibrated = recovered = None
    if cals:
        calibrated, _ = run(apply_calibrations(nominal, cals), bench)
        gap = error_free - uncal
        # no fraction when the errors cost no accuracy (gap below one image): it would be noise
        recovered = (calibrated - uncal) / gap if gap > 0.5 / len(images) else None
    return ComparisonResult(n_images=int(len(images)), dataset=ds_name, digital_accuracy=digital,
                            error_free_accuracy=error_free, uncalibrated_accuracy=uncal,
                            calibrated_accuracy=calibrated, recovered_fraction=recovered,
                            bench_errors=errors.to_dict(), calibrations=[c.kind for c in cals],
                            calibration_methods=[str(getattr(c, "metadata", {}).get("method", "file")) for c in cals],
                            model=str(model_path), hardware=settings.to_dict())


def format_comparison(res: ComparisonResult) -> str:
    """The printed table of :func:`compare`."""
    e = res.bench_errors
    desc = ", ".join(([f"lut_gamma={e['lut_gamma']:g}"] if e["lut_gamma"] != 1 else [])
                     + ([f"gray_2pi={e['gray_2pi']:g}"] if e["gray_2pi"] else [])
                     + [f"{k}={v:g} m" for k, v in e["zernike"].items()])
    rows = [("digital (ideal)", res.digital_accuracy), ("optical, error-free bench", res.error_free_accuracy),
            ("optical, uncalibrated", res.uncalibrated_accuracy)]
    if res.calibrated_accuracy is not None:
        rows.append((f"optical, calibrated ({'+'.join(res.calibrations)})", res.calibrated_accuracy))
    lines = [f"{res.n_images} {res.dataset} test images; bench errors: {desc}", f"{'':38s} {'accuracy':>9s}"]
    lines += [f"{name:38s} {v:9.4f}" for name, v in rows]
    if res.calibrated_accuracy is not None and res.recovered_fraction is None:
        lines.append(f"{'recovered by calibrating':38s}       n/a  (the errors cost no accuracy here)")
    elif res.recovered_fraction is not None:
        lines.append(f"{'recovered by calibrating':38s} {100 * res.recovered_fraction:8.0f} %"
                     "  (of the error-free - uncalibrated gap)")
    return "\n".join(lines)
