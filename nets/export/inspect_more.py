"""``optics4f inspect`` on the files around an export: slmsuite phase files, gray -> phase / gray -> gray
LUT tables, and flatness maps (vendor gray images or phase maps in rad). Calibration files are
reported by ``calib.report`` (the command line passes it to :func:`nets.export.inspect.inspect_path`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from optics4f.io.summary import array_summary

__all__ = ["h5_report", "lut_text_report", "flatness_report"]


def h5_report(path: Path) -> dict | None:
    """Report on a slmsuite phase file; None for other HDF5 files (export sidecars, calibration files:
    ``calib.report.calibration_report``)."""
    from optics4f.io.hdf5 import open_h5

    with open_h5(path, "HDF5 file") as f:
        is_slmsuite = "phase" in f and "display" in f and "config" not in f
    if is_slmsuite:
        from optics4f.io.vendor import read_slmsuite_phase, slmsuite_phase_to_gray

        phase, display = read_slmsuite_phase(path)
        bits = 8 if display.dtype.itemsize == 1 else int(np.ceil(np.log2(max(int(display.max()) + 1, 2))))
        return {"kind": "slmsuite phase file", "phase_rad": array_summary(phase), "display": array_summary(display),
                "display_matches_phase": bool(np.array_equal(slmsuite_phase_to_gray(phase, bits), display)),
                "convention": "gray = (rint(-phase 2^b / 2 pi) - 1) mod 2^b (slmsuite)"}
    return None


def lut_text_report(path: Path) -> dict:
    """A gray -> phase or gray -> gray table (optics4f.io.vendor.read_lut_text)."""
    from optics4f.io.vendor import read_lut_text

    t = read_lut_text(path)
    v = t["value"]
    rep = {"kind": "LUT table, " + ("gray -> gray (input level -> drive level)" if t["kind"] == "gray"
                                    else "gray -> phase (rad)"),
           "entries": int(v.size), "gray_range": [int(t["gray"][0]), int(t["gray"][-1])],
           "monotonic": bool(np.all(np.diff(v) >= 0) or np.all(np.diff(v) <= 0))}
    if t["kind"] == "phase":
        rep["phase_range_rad"] = [float(v.min()), float(v.max())]
        top = np.abs(v - v[0])
        if top.max() >= 2 * np.pi:
            rep["gray_2pi"] = float(np.interp(2 * np.pi, top, t["gray"]))
    return rep


def flatness_report(path: Path) -> dict:
    """A flatness correction: a gray image (read with 2 pi = 2^bits, the common vendor convention) or a
    phase map in rad (.npy)."""
    if path.suffix.lower() == ".npy":
        a = np.load(path, allow_pickle=False)
        return {"kind": "phase map (rad), e.g. a flatness correction", "shape": list(a.shape),
                "range_rad": [float(a.min()), float(a.max())], "finite": bool(np.all(np.isfinite(a)))}
    from optics4f.io.vendor import read_gray_image

    g, bits = read_gray_image(path)
    return {"as_flatness_correction": {
        "bits": bits, "gray_range": [int(g.min()), int(g.max())],
        "phase_range_rad_if_2pi_is_2^bits": [float(-2 * np.pi * g.max() / 2**bits),
                                             float(-2 * np.pi * g.min() / 2**bits)],
        "note": "give the vendor's 2 pi level and wavelength: --flatness FILE:gray_2pi=N,wavelength=W"}}
