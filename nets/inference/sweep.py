"""Accuracy against one hardware parameter: ``optics4f simulate --sweep PARAM``.

Each point is a full :func:`~nets.inference.simulate.simulate` run (export, read back, auto
exposure, inference) with one :class:`~nets.inference.optical.HardwareSettings` field changed,
so the curve shows what a lab must hold that parameter to. Results: ``sweep_<param>.csv`` (one
row per value: value, digital and optical accuracy, difference) and ``sweep_<param>.png``.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from .optical import HardwareSettings

__all__ = ["SWEEPS", "sweep", "write_sweep", "parse_values"]

#: param -> (description with unit, default values, function(settings, value) -> settings)
SWEEPS = {
    # gray_2pi is the top level (SLM convention), so a b-bit panel shows 2^b - 1 distinct phases (1 bit: none)
    "slm_bits": ("SLM bit depth (bits)", [1, 2, 3, 4, 6, 8],
                 lambda s, v: s.replace(slm_bits=int(v))),
    "camera_bits": ("camera ADC bit depth (bits)", [2, 3, 4, 6, 8, 12],
                    lambda s, v: s.replace(camera_bits=int(v))),
    "full_well": ("photons: full well at the brightest pixel (e-), shot noise", [10, 30, 100, 300, 1000, 10000],
                  lambda s, v: s.replace(full_well=float(v), noise=True)),
    "read_noise": ("camera read noise (e- rms)", [0, 10, 30, 100, 300, 1000],
                   lambda s, v: s.replace(read_noise=float(v), noise=True)),
    "shift": ("Fourier SLM shift along x (SLM pixels)", [0, 1, 2, 4, 8, 16],
              lambda s, v: s.replace(slm_shift=(0.0, float(v) * s.pitch))),
    "rotation": ("SLM rotation (degrees)", [0, 0.5, 1, 2, 4, 8],
                 lambda s, v: s.replace(slm_rotation=float(np.deg2rad(v)))),
    "defocus": ("SLM defocus from the Fourier plane (mm)", [0, 1, 2, 5, 10, 20],
                lambda s, v: s.replace(fourier_defocus=float(v) * 1e-3)),
}


def parse_values(text: str | None, param: str) -> list:
    """Comma-separated values (``"1,2,4"``) or the parameter's defaults."""
    if param not in SWEEPS:
        raise ValueError(f"unknown sweep parameter {param!r}; choose one of {sorted(SWEEPS)}")
    if not text:
        return list(SWEEPS[param][1])
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--values must be comma-separated numbers, e.g. '1,2,4', got {text!r}") from None
    if not values:
        raise ValueError(f"--values holds no number, got {text!r}; give e.g. '1,2,4'")
    return [check_value(param, v) for v in values]


def check_value(param: str, v):
    """One sweep value, checked for the parameter (bit depths are integers 1-16; noise levels >= 0)."""
    from optics4f.validate import finite, integer, positive

    name = f"--values ({param})"
    if param in ("slm_bits", "camera_bits"):
        return integer(name, v, min=1, max=16)  # 2.9 is refused, not run as 2 bits
    if param == "full_well":
        return positive(name, v, unit="e-")
    if param in ("read_noise", "shift", "defocus"):
        return positive(name, v, allow_zero=True) if param == "read_noise" else finite(name, v)
    return finite(name, v)


def sweep(param: str, values=None, model=None, settings: HardwareSettings | None = None, progress: bool = False,
          **simulate_kw) -> list:
    """Rows {param, value, digital_accuracy, optical_accuracy, difference} over ``values``."""
    from tqdm.auto import tqdm

    from .simulate import simulate

    if param not in SWEEPS:
        raise ValueError(f"unknown sweep parameter {param!r}; choose one of {sorted(SWEEPS)}")
    values = [check_value(param, v) for v in (SWEEPS[param][1] if values is None else values)]
    base = settings or HardwareSettings()
    rows = []
    for v in tqdm(values, desc=f"sweep {param}", disable=not progress):
        res = simulate(model, settings=SWEEPS[param][2](base, v), **simulate_kw)
        rows.append({"param": param, "value": float(v), "digital_accuracy": res.digital_accuracy,
                     "optical_accuracy": res.optical_accuracy, "difference": res.difference,
                     "n_images": res.n_images})
    return rows


def write_sweep(rows: list, out_dir) -> tuple:
    """Write ``sweep_<param>.csv`` and ``.png`` (atomically); returns their paths."""
    from matplotlib.figure import Figure

    from optics4f.io.atomic import atomic_open

    from .figures import save_png

    param = rows[0]["param"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    csv_path = out / f"sweep_{param}.csv"
    with atomic_open(csv_path, "w", overwrite=True) as f:
        f.write(buf.getvalue())
    fig = Figure(figsize=(5.5, 4))
    ax = fig.subplots()
    v = [r["value"] for r in rows]
    ax.plot(v, [r["optical_accuracy"] for r in rows], "o-", label="simulated optical")
    ax.plot(v, [r["digital_accuracy"] for r in rows], "--", color="gray", label="digital (ideal)")
    if param in ("full_well", "read_noise") and min(v) > 0:
        ax.set_xscale("log")
    ax.set_xlabel(SWEEPS[param][0])
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return csv_path, save_png(fig, out / f"sweep_{param}.png")
