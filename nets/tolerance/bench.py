"""One drawn bench simulated: the student's frames are exported once (per SLM bit depth) and the
bench they are shown on is varied (docs/tolerance.md).

The chain is :func:`nets.inference.simulate.simulate`'s: frames exported for the nominal panel
(PNG + sidecar, read back), the export's system with the bench's camera, misalignments and noise
seed (``simulate.with_settings``), auto exposure on training images, then the test images. A
bench with every error at its nominal value gives ``simulate``'s numbers exactly (tested). The
errors the export cannot know are then applied to that system: the panel's true response and
surface (``optics4f.system.bench_errors.true_system``), fill factor, tilts, camera defocus and the
true wavelength (the panel keeps the nominal one as its design wavelength, so its phases scale).
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["BenchContext", "context", "bench_system"]

#: HardwareSettings field of each error the export's system takes through ``simulate.with_settings``.
_SETTINGS = {"camera_bits": int, "full_well": float, "read_noise": float, "slm_rotation": float,
             "fourier_defocus": float}


class BenchContext:
    """Model, data and exported frames of a tolerance run, loaded once per process (worker).

    ``model``: checkpoint path (None: the embedded student); ``settings``: the nominal bench
    (HardwareSettings); ``images``: test images; ``calibration_images``: training images for the
    auto exposure; ``dataset``: name or folder (None: the model's)."""

    def __init__(self, model, settings, images: int, calibration_images: int = 64, dataset=None):
        from nets.data import model_dataset
        from nets.inference.simulate import DEFAULT_MODEL, load_student

        self.model_path = Path(model) if model is not None else DEFAULT_MODEL
        self.student, cfg = load_student(self.model_path)
        self.task = cfg.get("train", {}).get("task", "classify")
        test, _ = model_dataset(cfg, "test", images, dataset)
        calib, _ = model_dataset(cfg, "train", calibration_images, dataset)
        self.images, self.labels = test.tensors
        self.calib_images = calib.tensors[0]
        self.settings = settings
        if settings.slm_mode != "phase":
            raise ValueError("tolerance analysis runs a phase SLM (slm_mode='phase'): an ideal complex modulator "
                             "has no frames, LUT or bit depth to tolerance")
        self._bundles = {}

    def bundle(self, slm_bits):
        """The export bundle (read back) for a panel of ``slm_bits`` (None: the nominal), made once."""
        from nets.export.bundle import read_export
        from nets.inference.optical import student_system
        from nets.inference.simulate import export_student

        key = None if slm_bits is None else int(slm_bits)
        if key not in self._bundles:
            s = self.settings if key is None else self.settings.replace(slm_bits=key)
            with tempfile.TemporaryDirectory(prefix="optics4f-tolerance-") as tmp:
                self._bundles[key] = read_export(export_student(self.student, student_system(self.student, s),
                                                                Path(tmp) / "export"))
        return self._bundles[key]

    def evaluate(self, values: dict, noise_seed: int, batch_size: int = 100) -> dict:
        """Metrics of the bench with error ``values`` (SI, :mod:`.spec` names) and camera ``noise_seed``:
        ``accuracy`` (optical), ``digital_accuracy``, and for segmentation ``miou``/``digital_miou``."""
        from nets.inference.optical import OpticalStudent, auto_exposure
        from nets.inference.report import mean_iou
        from nets.inference.simulate import run_dataset

        b = self.bundle(values.get("slm_bits"))
        key = [(c["out_channel"] or 0, c["in_channel"]) for c in b.channels]
        order = sorted(range(len(key)), key=key.__getitem__)  # as simulate.optical_from_export
        system = bench_system(b.config, self.settings, values, noise_seed)
        optical = OpticalStudent(self.student, system, b.frames[order], np.abs(np.asarray(b.scale)[order]))
        auto_exposure(optical, self.calib_images, self.settings.exposure_fill)
        opt, dig, _ = run_dataset(optical, self.images, batch_size)
        p_opt, p_dig = opt.argmax(1), dig.argmax(1)
        res = {"accuracy": float((p_opt == self.labels).float().mean()),
               "digital_accuracy": float((p_dig == self.labels).float().mean())}
        if self.task == "segment":
            res["miou"] = float(mean_iou(p_opt, self.labels, int(opt.shape[1])))
            res["digital_miou"] = float(mean_iou(p_dig, self.labels, int(opt.shape[1])))
        return res


def bench_system(config, settings, values: dict, noise_seed: int):
    """The exported ``config`` as the drawn bench: nominal ``settings`` with the error ``values``
    (module docstring) and camera noise seed ``noise_seed``."""
    from optics4f.system.misalignment import Misalignment

    from optics4f.system.bench_errors import BenchErrors, true_system

    from nets.inference.simulate import with_settings

    kw = {k: conv(values[k]) for k, conv in _SETTINGS.items() if k in values}
    shift = list(settings.slm_shift)
    for i, ax in enumerate("yx"):
        if f"slm_shift_{ax}" in values:
            shift[i] = float(values[f"slm_shift_{ax}"])
    system = with_settings(config, settings.replace(slm_shift=tuple(shift), seed=int(noise_seed), **kw))
    mis = {}
    for name in ("slm_tilt", "input_tilt"):
        if f"{name}_y" in values or f"{name}_x" in values:
            old = getattr(system.misalignment, name)
            mis[name] = (float(values.get(f"{name}_y", old[0])), float(values.get(f"{name}_x", old[1])))
    if "camera_defocus" in values:
        mis["camera_defocus"] = float(values["camera_defocus"])
    if mis:
        system = system.replace(misalignment=dataclasses.replace(system.misalignment, **mis)
                                if isinstance(system.misalignment, Misalignment) else Misalignment(**mis))
    zern = {int(k[1:]): float(v) for k, v in values.items() if k[0] == "z" and k[1:].isdigit() and v != 0}
    gamma, g2 = float(values.get("lut_gamma", 1.0)), values.get("gray_2pi")
    if zern or gamma != 1.0 or g2 is not None:
        system = true_system(system, BenchErrors(lut_gamma=gamma, gray_2pi=g2, zernike=zern))
    slm = {}
    if "fill_factor" in values:
        slm["fill_factor"] = float(values["fill_factor"])
    if "wavelength" in values and float(values["wavelength"]) != system.wavelength:
        # the panel's phases were set for the nominal wavelength: it becomes the design wavelength
        slm["design_wavelength"] = float(system.slm.design_wavelength or system.wavelength)
        system = system.replace(wavelength=float(values["wavelength"]))
    if slm:
        system = system.replace(slm=dataclasses.replace(system.slm, **slm))
    return system


_CONTEXTS: dict = {}


def context(key: tuple, model, settings, images, calibration_images, dataset) -> BenchContext:
    """The process's :class:`BenchContext` for ``key`` (made on first use: a pool or Dask worker
    loads the model and data once)."""
    if key not in _CONTEXTS:
        _CONTEXTS.clear()
        _CONTEXTS[key] = BenchContext(model, settings, images, calibration_images, dataset)
    return _CONTEXTS[key]
