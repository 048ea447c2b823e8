"""Simulated optical inference of a saved student: ``optics4f simulate MODEL``.

:func:`simulate` runs a test set through the hardware 4f simulator using SLM frames *read back
from exported files* (``nets.export.read_export``), never the float weights:

* given an export folder (``frames=DIR``, from ``optics4f export``), its frames, panel, geometry
  and layout are used, with the camera, noise and misalignments of ``settings``;
* given only the model, the student's collapsed masks are first exported (tiled, double phase,
  PNG + HDF5 sidecar, ``nets.export.write_export``) into a temporary folder for the system of
  :func:`~nets.inference.optical.student_system`, then read back the same way. (An ideal complex
  SLM, ``slm_mode="complex"``, the reference without panel errors, has no frame files: its
  masks are used in memory.)

The camera exposure is set on calibration images from the *training* split (auto exposure,
``settings.exposure_fill`` of the full well on the brightest pixel), as a lab does; the test
images are used only for the accuracy. The digital (ideal) accuracy is the student's own
forward pass on the same images. Segmentation students report mean IoU alongside pixel accuracy.
"""
from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
import time
from pathlib import Path

import numpy as np

from optics4f.system.calibration import apply_calibrations, check_calibrations

from .optical import HardwareSettings, OpticalStudent, auto_exposure, student_frames, student_system
from .results import SimulationResult

__all__ = ["simulate", "load_student", "export_student", "optical_from_export", "with_settings", "DEFAULT_MODEL",
           "DEFAULT_TEACHER", "run_dataset"]

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"
#: The embedded default student (MNIST-5k) and its teacher.
DEFAULT_MODEL = PRETRAINED / "student.pt"
DEFAULT_TEACHER = PRETRAINED / "teacher.pt"


def load_student(path):
    """(model, config) of a student checkpoint, with a clear error for anything else."""
    from nets.checkpoint import load_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist; give a student checkpoint (model.pt from "
                                "`optics4f train student`), or no MODEL for the embedded default")
    try:
        model, cfg = load_model(path)
    except Exception as e:  # noqa: BLE001 - torch/pickle/JSON errors all mean "not a model file"
        raise ValueError(f"{str(path)!r} is not a readable optics4f model checkpoint: {e}") from None
    return model, cfg


def export_student(model, system, out_dir, force: bool = False):
    """Export the student's tiled, encoded frames for ``system`` into ``out_dir`` (PNG + sidecar);
    returns the manifest path. Used when :func:`simulate` is given a model only."""
    from nets.export.bundle import write_export

    frames, scale = student_frames(model, system)
    enc = system.effective_encoding
    phase = None
    if system.slm.mode == "phase":
        phase = system.slm.gray_to_phase(frames, system.wavelength)
    channels = [{"out_channel": None, "in_channel": i} for i in range(frames.shape[0])]
    return write_export(out_dir, frames=frames, config=system, scale=scale.astype(np.complex128), channels=channels,
                        tiled=True, encoding=enc, phase=phase, settings={"source": "nets.inference.simulate"},
                        force=force)


def with_settings(config, settings: HardwareSettings):
    """The exported system with the simulated camera, misalignments and seed of ``settings``."""
    from optics4f.system import SystemConfig

    d = config.to_dict()
    n = tuple(d["grid_shape"])
    d["camera"] = settings.bench_camera(n, d["display"]["pitch"] / d.get("oversample", 1) * d["f2"] / d["f1"])
    d["misalignment"] = dict(d.get("misalignment") or {}, slm_shift=tuple(settings.slm_shift),
                             slm_rotation=float(settings.slm_rotation),
                             fourier_defocus=float(settings.fourier_defocus))
    d["seed"] = int(settings.seed)
    return SystemConfig.from_dict(d)


def optical_from_export(model, bundle, settings: HardwareSettings, calibrations=()) -> OpticalStudent:
    """An :class:`OpticalStudent` running the frames of an export bundle (``read_export``), on its
    system with the camera and misalignments of ``settings`` and the ``calibrations`` applied."""
    # tiled: one frame per input channel; per channel: one per (output, input) pair, in that order
    key = [(c["out_channel"] or 0, c["in_channel"]) for c in bundle.channels]
    order = sorted(range(len(key)), key=key.__getitem__)
    system = with_settings(bundle.config, settings)
    if calibrations:
        system = apply_calibrations(system, calibrations)
    return OpticalStudent(model, system, bundle.frames[order], np.abs(np.asarray(bundle.scale)[order]))



def run_dataset(optical: OpticalStudent, images, batch_size: int = 100, progress: bool = False):
    """(optical logits, digital logits, first batch's camera tiles) over a dataset (torch tensors)."""
    import torch
    from tqdm.auto import tqdm

    opt, dig, first = [], [], None
    for s in tqdm(range(0, len(images), batch_size), disable=not progress, desc="optical inference", leave=False):
        x = images[s:s + batch_size]
        logits, tiles = optical(x)
        with torch.no_grad():
            dig.append(optical.model(x))
        opt.append(logits)
        if first is None:
            first = tiles
    return torch.cat(opt), torch.cat(dig), first


def simulate(model: str | Path | None = None, *, frames: str | Path | None = None,
             settings: HardwareSettings | None = None, dataset: str | Path | None = None, split: str = "test",
             limit: int | None = None, calibration_images: int = 64, batch_size: int = 100,
             calibrations: Sequence = (), progress: bool = False) -> SimulationResult:
    """Digital vs simulated optical accuracy of a student on a dataset split.

    Parameters
    ----------
    model : path of a student checkpoint (default: the embedded MNIST-5k student)
    frames : export folder or manifest (``optics4f export``); None: export the model to a temporary folder
    settings : HardwareSettings (camera, noise, SLM bits, misalignments)
    dataset : dataset name or folder (default: the one the model was trained on)
    split, limit : evaluation split and number of images (None: all)
    calibration_images : training images used for the auto exposure
    calibrations : calibration objects (:class:`optics4f.system.calibration.Calibration`, e.g. read by
        ``calib.load``) applied in order to the system
        (SLM LUT, flatness, ...) before the frames are made and rendered

    Returns a :class:`~nets.inference.results.SimulationResult` (``to_json()``: the report): the
    accuracies, their difference (optical - digital), the confusion matrices (classification) or mean
    IoU (segmentation), the fidelity of the masks, ``config`` (everything used), and for the figures
    the OpticalStudent that ran, the images, labels and the first batch's camera tiles.
    """
    from nets.data import model_dataset
    from nets.export.bundle import read_export

    from .report import confusion_matrix, mean_iou

    t0 = time.perf_counter()
    settings = settings or HardwareSettings()
    model_path = Path(model) if model is not None else DEFAULT_MODEL
    student, cfg = load_student(model_path)
    task = cfg.get("train", {}).get("task", "classify")
    test, ds_name = model_dataset(cfg, split, limit, dataset)
    calib, _ = model_dataset(cfg, "train", calibration_images, dataset)
    cals = check_calibrations(calibrations)
    if frames is None:
        system = student_system(student, settings)
        if cals:
            system = apply_calibrations(system, cals)
        if system.slm.mode == "complex":  # the ideal reference modulator has no frame files
            optical = OpticalStudent(student, system, *student_frames(student, system))
            frames_source, encoding, export_settings = "in memory (an ideal complex SLM has no frame files)", \
                "direct", {}
        else:
            with tempfile.TemporaryDirectory(prefix="optics4f-export-") as tmp:
                manifest = export_student(student, system, Path(tmp) / "export")
                bundle = read_export(manifest)
            frames_source = "exported to a temporary folder and read back"
    else:
        bundle = read_export(frames)
        frames_source = str(frames)
        _check_source(bundle, model_path)
    if frames is not None or system.slm.mode != "complex":
        optical = optical_from_export(student, bundle, settings, cals)
        encoding, export_settings = bundle.encoding, bundle.settings
    exposure = auto_exposure(optical, calib.tensors[0], settings.exposure_fill)
    images, labels = test.tensors
    opt, dig, tiles = run_dataset(optical, images, batch_size, progress)
    n_classes = int(opt.shape[1])
    p_opt, p_dig = opt.argmax(1), dig.argmax(1)
    if task == "segment":
        by_task = {"digital_miou": mean_iou(p_dig, labels, n_classes),
                   "optical_miou": mean_iou(p_opt, labels, n_classes)}
    else:
        by_task = {"confusion": confusion_matrix(labels, p_opt, n_classes).tolist(),
                   "confusion_digital": confusion_matrix(labels, p_dig, n_classes).tolist()}
    fidelity = fidelity_report(optical, student, tiles)
    sysd = optical.system.to_dict()
    config = {"model": str(model_path), "frames": frames_source, "hardware": settings.to_dict(),
              "calibrations": [str(getattr(c, "kind", c)) for c in cals],
              "exposure_time": exposure, "calibration_images": int(len(calib)),
              "encoding": encoding, "export_settings": _jsonable(export_settings),
              "system": _jsonable(sysd), "model_config": cfg}
    return SimulationResult(
        task=task, n_images=int(len(images)), dataset=ds_name, split=split,
        digital_accuracy=float((p_dig == labels).float().mean()),
        optical_accuracy=float((p_opt == labels).float().mean()),
        agreement=float((p_opt == p_dig).float().mean()),
        classes=list(getattr(test, "classes", [str(k) for k in range(n_classes)])),
        fidelity=fidelity, config=config, seconds=time.perf_counter() - t0,
        optical=optical, images=images, labels=labels, tiles=tiles, **by_task)


#: Correlation of realised and wanted kernels (in every tile) from which a mask counts as well
#: represented: the stock benches of tests/test_stock_benches.py reach 0.99 and stay within 1.5
#: accuracy points of the digital student; a 2-bit panel or a 2 degree rotation falls below.
WELL_REPRESENTED = 0.97


def fidelity_report(optical: OpticalStudent, student, tiles) -> dict:
    """The ``fidelity`` entry of a simulate result (:mod:`nets.inference.fidelity`)."""
    from .fidelity import camera_snr, mask_fidelity, well_represented
    from .optical import masks_on_grid, student_masks

    wanted = masks_on_grid(student_masks(student), optical.hw.geometry.padded_shape)
    rows = mask_fidelity(optical, wanted)
    return {"channels": rows, "camera_snr": camera_snr(optical, tiles), "threshold": WELL_REPRESENTED,
            "well_represented": well_represented(rows, WELL_REPRESENTED),
            "slm_samples_per_pixel": [float(k) for k in optical.hw.geometry.slm_factor]}


def _check_source(bundle, model_path: Path):
    """Refuse frames exported from another model file (the manifest records its sha256)."""
    from nets.export.sidecar import sha256

    want = (bundle.settings or {}).get("model_sha256")
    if want and sha256(model_path) != want:
        raise ValueError(f"the frames in {str(bundle.folder)!r} were exported from {bundle.settings.get('model')!r}, "
                         f"not from {str(model_path)!r} (sha256 differs); give the model they came from")


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return f"array{list(v.shape)}" if v.size > 16 else v.tolist()
    if isinstance(v, (np.generic,)):
        return v.item()
    if dataclasses.is_dataclass(v):
        return _jsonable(dataclasses.asdict(v))
    if isinstance(v, Path):
        return str(v)
    return v
