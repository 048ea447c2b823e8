"""Calibrations of a simulated bench with errors (:mod:`optics4f.system.bench_errors`): the injected
truth (:func:`truth_calibrations`) or measured by the real routines (:func:`measure_calibrations`).

``optics4f simulate --bench-errors SPEC --calibrate`` applies the measured ones to the export and
reports how much of the accuracy the errors cost they give back (``nets.inference.calibrated``).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from optics4f.devices.slm import SLM
from optics4f.system.bench_errors import BenchErrors, aperture_radius, true_lut, true_system

from .bench import SimulatedBench, bench_config
from .lut import LUTCalibration, gray_of_phase, lut_from_split_screen, split_screen_frames
from .wavefront import calibrate_wavefront, make_calibration, sweep_phases

__all__ = ["truth_calibrations", "measure_calibrations"]


def truth_calibrations(system, errors: BenchErrors) -> list:
    """Calibrations that hold the injected truth exactly (a perfect measurement): a LUTCalibration of
    the true response and a WavefrontCalibration of the surface error, for the nominal ``system``."""
    slm, out = system.slm, []
    if errors.lut_error:
        lut = true_lut(slm, errors)
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
    out, slm = [], system.slm
    encoder = slm
    if errors.lut_error:
        lam = float(slm.design_wavelength or system.wavelength)
        kw = {f.name: getattr(slm, f.name) for f in dataclasses.fields(SLM)}
        kw.update(resolution=(64, 64), flatness=None, lut=true_lut(slm, errors))  # a flat patch, true LUT
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
