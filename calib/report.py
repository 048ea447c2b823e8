"""What a calibration file holds, as a report (``optics4f inspect FILE.h5`` on a calibration file)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from optics4f.io.hdf5 import open_h5
from optics4f.io.summary import array_summary

from .base import load
from .benchinfo import format_bench

__all__ = ["calibration_report"]


def calibration_report(path) -> dict | None:
    """Report (kind, method, bench, values with units and one-sigma uncertainty, truth names) on the
    calibration file ``path``; None when ``path`` is an HDF5 file of another kind."""
    path = Path(path)
    with open_h5(path, "HDF5 file") as f:
        if "calibration" not in f:
            return None
    cal = load(path)
    rep = {"kind": f"calibration ({cal.kind})", "method": cal.metadata.get("method", "?"),
           "bench": format_bench(cal.bench), "values": {}}
    for k, v in cal.values.items():
        u = cal.units.get(k, "")
        s = array_summary(v)
        if k in cal.uncertainty:
            sig = np.asarray(cal.uncertainty[k])
            s = {"value": s, "sigma": float(sig) if sig.ndim == 0 else float(np.sqrt(np.mean(sig**2)))}
        rep["values"][f"{k} ({u})" if u and u != "1" else k] = s
    if cal.truth:
        rep["truth"] = sorted(cal.truth)
    if not cal.uncertainty:
        rep["uncertainty"] = "none recorded"
    return rep
