"""A bench with errors the export does not know, with and without calibration (``optics4f simulate
--bench-errors SPEC [--calibration FILE... | --calibrate]``).

The lab's situation: the student's frames are exported for the *nominal* SLM (linear response,
2 pi at the preset's gray level, a flat panel), but the real panel has

* a nonlinear response, phi(g) = sign 2 pi (g / gray_2pi)^lut_gamma at the design wavelength
  (``lut_gamma``, and a 2 pi level ``gray_2pi`` that differs from the nominal one), and
* a surface (flatness) error, W = sum_j c_j Z_j(r / R) (``zj=c_j``: ANSI Zernike index j, RMS
  metres over the panel aperture of radius R, the inscribed circle of the lit part of the panel),
  which adds 2 pi W / lambda to every pixel's phase and moves with the panel (shift, rotation).

:func:`compare` runs the same test images (same noise seed) through

1. the error-free bench, nominal export (the best a calibration can give back);
2. the erroneous bench, nominal export (uncalibrated);
3. the erroneous bench, frames exported with the calibrations applied to the *export's* SLM (its
   LUT and flatness correction, ``calib.base.apply_all`` on the export configuration), as a lab
   loads a measured LUT and a wavefront-correction map into its encoder;

and reports ``recovered_fraction`` = (calibrated - uncalibrated) / (error-free - uncalibrated): the
share of the accuracy lost to the injected errors that calibrating gives back.

The calibrations come from files, from the known truth (:func:`truth_calibrations`), or are
measured on the simulated erroneous panel by the real routines (:func:`measure_calibrations`:
split-screen LUT, ``calib.lut.lut_from_split_screen``; Zernike sweep, ``calib.wavefront``).
"""
from __future__ import annotations

import dataclasses
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optics4f.devices.slm import SLM

from .optical import HardwareSettings, OpticalStudent, auto_exposure, student_system
from .results import ComparisonResult

__all__ = ["BenchErrors", "parse_bench_errors", "SurfaceErrorSLM", "true_system", "aperture_radius",
           "truth_calibrations", "measure_calibrations", "bench_optical", "compare", "format_comparison"]

_KEYS = ("lut_gamma", "gray_2pi")


@dataclass
class BenchErrors:
    """True errors of the simulated bench.

    lut_gamma : float
        Exponent of the panel response phi(g) = sign 2 pi (g / gray_2pi)^lut_gamma (1: linear).
    gray_2pi : float or None
        True gray level of 2 pi at the design wavelength (None: the nominal panel's).
    zernike : dict
        {ANSI j: c_j}: surface error of the panel, RMS metres over the aperture.
    """

    lut_gamma: float = 1.0
    gray_2pi: float | None = None
    zernike: dict = field(default_factory=dict)

    def __post_init__(self):
        g = float(self.lut_gamma)
        if not (math.isfinite(g) and 0.2 <= g <= 5):
            raise ValueError(f"lut_gamma must be in [0.2, 5] (exponent of the panel response), got {self.lut_gamma!r}")
        self.lut_gamma = g
        if self.gray_2pi is not None:
            v = float(self.gray_2pi)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"gray_2pi must be a positive gray level, got {self.gray_2pi!r}")
            self.gray_2pi = v
        z = {}
        for j, c in dict(self.zernike).items():
            if int(j) < 0 or not math.isfinite(float(c)):
                raise ValueError(f"zernike coefficients need an ANSI index >= 0 and a finite RMS (m), got z{j}={c}")
            z[int(j)] = float(c)
        self.zernike = z

    @property
    def lut_error(self) -> bool:
        return self.lut_gamma != 1.0 or self.gray_2pi is not None

    def to_dict(self) -> dict:
        return {"lut_gamma": self.lut_gamma, "gray_2pi": self.gray_2pi,
                "zernike": {f"z{j}": c for j, c in sorted(self.zernike.items())}}


def parse_bench_errors(spec: str) -> BenchErrors:
    """BenchErrors from ``"lut_gamma=1.3,gray_2pi=230,z4=40e-9,z5=30e-9"`` (comma-separated key=value;
    zJ: ANSI Zernike j, RMS metres). Unknown keys or bad values: ValueError naming them."""
    kw, zern = {}, {}
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        key, sep, val = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"--bench-errors item {item!r} is not key=value; e.g. lut_gamma=1.3,gray_2pi=230,z4=40e-9")
        try:
            v = float(val)
        except ValueError:
            raise ValueError(f"--bench-errors {key}={val!r}: the value must be a number") from None
        if key in _KEYS:
            kw[key] = v
        elif len(key) > 1 and key[0] == "z" and key[1:].isdigit():
            zern[int(key[1:])] = v
        else:
            raise ValueError(f"--bench-errors: unknown key {key!r}; use {', '.join(_KEYS)} or zJ (ANSI Zernike "
                             "index J, RMS metres on the SLM aperture, e.g. z4=40e-9)")
    if not kw and not zern:
        raise ValueError("--bench-errors needs at least one error, e.g. lut_gamma=1.3,gray_2pi=230,z4=40e-9")
    return BenchErrors(zernike=zern, **kw)


@dataclass(eq=False)
class SurfaceErrorSLM(SLM):
    """A phase SLM whose panel adds a fixed ``surface`` phase (rad at the working wavelength, panel
    shape) to every frame it shows: the true flatness error of a bench. (``SLM.flatness`` is the
    lab's *correction*, added by the encoder; this is the error the panel makes.)"""

    surface: np.ndarray | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.surface is not None:
            s = np.asarray(self.surface, dtype=np.float64)
            if s.shape != self.resolution or self.mode != "phase":
                raise ValueError(f"surface must be a phase map of the panel shape {self.resolution} on a phase SLM, "
                                 f"got shape {s.shape} (mode {self.mode!r})")
            self.surface = s

    def gray_to_phase(self, frame, wavelength=None):
        phase = super().gray_to_phase(frame, wavelength)
        return phase if self.surface is None else phase + self.surface


def aperture_radius(system) -> float:
    """Radius (m) of the panel aperture the Zernike errors are defined on: the inscribed circle of
    the lit part of the panel (the panel, or the Fourier grid where the panel is larger)."""
    from optics4f.system import Hardware4f

    fg = Hardware4f(system).fourier_grid
    extent = min(*system.slm.size, fg.shape[0] * fg.pitch[0], fg.shape[1] * fg.pitch[1])
    return 0.5 * float(extent)


def _true_lut(slm: SLM, errors: BenchErrors) -> np.ndarray:
    g2 = float(errors.gray_2pi if errors.gray_2pi is not None else slm.gray_2pi)
    return slm.sign * 2 * np.pi * (np.arange(slm.levels, dtype=np.float64) / g2) ** errors.lut_gamma


def true_system(system, errors: BenchErrors):
    """The bench as it really is: ``system`` with the panel's true LUT and surface error."""
    from optics4f.zernike import zernike_phase

    slm = system.slm
    if slm.mode != "phase":
        raise ValueError(f"--bench-errors models a phase SLM; this bench's SLM is in mode {slm.mode!r}")
    kw = {f.name: getattr(slm, f.name) for f in dataclasses.fields(SLM)}
    if errors.lut_error:
        kw["lut"] = _true_lut(slm, errors)
    surface = None
    if errors.zernike:
        surface = zernike_phase(slm.grid, errors.zernike, aperture_radius(system), system.wavelength)
    return system.replace(slm=SurfaceErrorSLM(**kw, surface=surface))


def truth_calibrations(system, errors: BenchErrors) -> list:
    """Calibrations that hold the injected truth exactly (a perfect measurement): a LUTCalibration of
    the true response and a WavefrontCalibration of the surface error, for the nominal ``system``."""
    from calib.lut import LUTCalibration, gray_of_phase
    from calib.wavefront import make_calibration

    slm, out = system.slm, []
    if errors.lut_error:
        lut = _true_lut(slm, errors)
        lam = float(slm.design_wavelength or system.wavelength)
        g = np.arange(slm.levels, dtype=np.float64)
        out.append(LUTCalibration(values={"lut": lut, "gray_2pi": gray_of_phase(lut), "grays": g, "phase": lut,
                                          "wavelength": lam},
                                  units={"lut": "rad", "gray_2pi": "gray level", "grays": "gray level",
                                         "phase": "rad", "wavelength": "m"},
                                  metadata={"method": "injected truth"}))
    if errors.zernike:
        out.append(make_calibration(errors.zernike, aperture_radius(system), system.wavelength, truth=errors.zernike,
                                    metadata={"method": "injected truth"}))
    return out


def measure_calibrations(system, errors: BenchErrors, seed: int = 0, modes=tuple(range(3, 11)),
                         passes: int = 2) -> list:
    """Calibrations measured on the erroneous panel by the real routines (what ``--calibrate`` runs).

    * LUT (when ``errors`` has one): split-screen interferometry (``calib.lut.lut_from_split_screen``,
      as examples/calibrate_lut.py) on a small simulated bench (``calib.bench``, 64 x 64 px patch of
      the panel's true response, flat), 64 gray levels.
    * Wavefront (when ``errors`` has Zernike terms): Zernike sweep on a spot
      (``calib.wavefront.calibrate_wavefront``, as examples/calibrate_wavefront.py) of ``modes`` (ANSI,
      >= 3) at 5 amplitudes of +-0.15 lambda, ``passes`` passes, on a bench carrying the whole true
      panel behind an iris of the aperture radius; probes are encoded with the LUT just measured.

    ``system``: the nominal bench (its SLM, wavelength, aperture); ``seed``: camera noise.
    """
    from calib.bench import SimulatedBench, bench_config
    from calib.lut import lut_from_split_screen, split_screen_frames
    from calib.wavefront import calibrate_wavefront, sweep_phases

    out, slm = [], system.slm
    encoder = slm
    if errors.lut_error:
        lam = float(slm.design_wavelength or system.wavelength)
        kw = {f.name: getattr(slm, f.name) for f in dataclasses.fields(SLM)}
        kw.update(resolution=(64, 64), flatness=None, lut=_true_lut(slm, errors))  # a flat patch, true LUT
        probe = SLM(**kw)
        bench = SimulatedBench(bench_config(64, wavelength=lam, pitch=slm.pitch, slm=probe), seed=seed)
        top = slm.levels - 1
        grays = np.unique(np.r_[np.arange(0, top + 1, max(1, slm.levels // 64)), top])
        window = bench.window_image(3)
        bench.set_exposure(bench.uniform_frame(0), window, peak=0.6)
        frames = bench.record(split_screen_frames(probe.resolution, grays, bit_depth=slm.bit_depth), window)
        out.append(lut_from_split_screen(frames, grays, center=bench.camera_center, wavelength=lam,
                                         dark=bench.dark_frame(), bit_depth=slm.bit_depth, truth_slm=probe))
        encoder = out[-1].apply_to_slm(slm)
    if errors.zernike:
        lam, radius = system.wavelength, aperture_radius(system)
        panel = true_system(system, errors).slm
        # 2 Fourier samples per SLM pixel (the spot is resolved), grid spanning the aperture's pixels
        n = max(8, 2 * math.ceil(radius / panel.pitch))
        bench = SimulatedBench(bench_config(n, pad=2.0, slm_samples=2, wavelength=lam,
                                            pitch=panel.pitch, slm=panel, fourier_aperture=radius), seed=seed)
        point = bench.point_image()
        bench.set_exposure(bench.uniform_frame(0), point, peak=0.6)
        dark = bench.dark_frame(4)
        amps = np.linspace(-0.15, 0.15, 5) * lam
        cal = None
        for _ in range(int(passes)):
            base = None if cal is None else cal.correction(panel.grid)
            phases, pm, pa = sweep_phases(panel.grid, list(modes), amps, radius, lam, base=base)
            frames = bench.record(np.stack([encoder.encode(p, lam) for p in phases]), point)
            cal = calibrate_wavefront(frames, pm, pa, radius, lam, dark=dark, previous=cal, truth=errors.zernike)
        out.append(cal)
    return out


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
            measure: bool = False, settings: HardwareSettings | None = None, dataset: str | Path | None = None,
            limit: int | None = None, calibration_images: int = 64, batch_size: int = 100) -> ComparisonResult:
    """Accuracy of a student on the error-free bench, on the erroneous bench uncalibrated, and
    calibrated (module docstring).

    Parameters
    ----------
    model : student checkpoint path (None: the embedded MNIST-5k student)
    errors : BenchErrors or a SPEC string (:func:`parse_bench_errors`)
    calibrations : ``calib.Calibration`` objects or HDF5 paths applied to the export's SLM; None:
        measured (``measure=True``, :func:`measure_calibrations`) or none (no calibrated row)
    settings : HardwareSettings of the bench (camera, noise, misalignment); a phase SLM
    limit, dataset, calibration_images, batch_size : as :func:`nets.inference.simulate.simulate`

    Returns a :class:`~nets.inference.results.ComparisonResult` (``to_json()``: the report):
    ``digital_accuracy``, ``error_free_accuracy``, ``uncalibrated_accuracy``, ``calibrated_accuracy``
    and ``recovered_fraction`` (None without calibrations, or when the errors cost less than one
    image), ``bench_errors``, ``calibrations`` (kinds), ``n_images``.
    """
    from calib.base import apply_all

    from .simulate import DEFAULT_MODEL, _dataset, load_calibrations, load_student

    errors = errors if isinstance(errors, BenchErrors) else parse_bench_errors(errors)
    settings = settings or HardwareSettings()
    if settings.slm_mode != "phase":
        raise ValueError("--bench-errors needs a phase SLM (slm_mode='phase'); an ideal complex SLM has no LUT")
    model_path = Path(model) if model is not None else DEFAULT_MODEL
    student, cfg = load_student(model_path)
    test, ds_name = _dataset(cfg, "test", limit, dataset)
    calib_set, _ = _dataset(cfg, "train", calibration_images, dataset)
    images, labels = test.tensors
    nominal = student_system(student, settings)
    bench = true_system(nominal, errors)
    if calibrations is None and measure:
        calibrations = measure_calibrations(nominal, errors, seed=settings.seed)
    cals = [c if hasattr(c, "apply_to_config") else load_calibrations([c])[0] for c in (calibrations or [])]

    def run(export_system, bench_system):
        return _accuracy(bench_optical(student, export_system, bench_system, settings), calib_set.tensors[0],
                         images, labels, settings, batch_size)

    error_free, digital = run(nominal, nominal)
    uncal, _ = run(nominal, bench)
    calibrated = recovered = None
    if cals:
        calibrated, _ = run(apply_all(nominal, cals), bench)
        gap = error_free - uncal
        # no fraction when the errors cost no accuracy (gap below one image): it would be noise
        recovered = (calibrated - uncal) / gap if gap > 0.5 / len(images) else None
    return ComparisonResult(n_images=int(len(images)), dataset=ds_name, digital_accuracy=digital,
                            error_free_accuracy=error_free, uncalibrated_accuracy=uncal,
                            calibrated_accuracy=calibrated, recovered_fraction=recovered,
                            bench_errors=errors.to_dict(), calibrations=[c.kind for c in cals],
                            calibration_methods=[str(c.metadata.get("method", "file")) for c in cals],
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
