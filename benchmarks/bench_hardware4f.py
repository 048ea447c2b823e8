"""Benchmark: images per second through the full hardware 4f model, and its ratio to the ideal pass.

The system (one configuration, printed at the start):

* input: 28 x 28 images on an 8-bit amplitude display (8 um pixels, one simulation sample
  per pixel), centred in a 128 x 128 input plane, zero-padded 2x (256 x 256 Fourier plane);
* Fourier plane: an 8-bit phase-only SLM (8 um pixels, one Fourier sample each, linear
  gray-to-phase with gray_2pi = 255) showing the double-phase encoding of 16 tiled
  channel masks (5 x 5 kernels), set once with ``Hardware4f.set_masks``;
* output: 16 channels tiled 4 x 4 (32 x 32 samples each) on a 128 x 128, 12-bit camera with
  shot noise, 2 e- read noise, dark current and full-well clipping, read out per tile.

"ideal" is ``optics4f.FourF.apply`` of the same batch of input fields (same grid, pad 2,
with the encoded mask set once): two FFTs and one multiply per image. The ratio
hardware / ideal is measured interleaved in the same run (target: <= 2 for batch 64). The
hardware pass is timed with the default exact Poisson shot noise and with the Gaussian
(reparameterised) noise model used for training.

The header names the CPU model and SIMD level (AVX-512 or AVX2 change the noise samplers' speed);
``docs/benchmark_simd.md`` shows how to emulate an AVX2-only CPU on an AVX-512 machine.

Usage::

    python benchmarks/bench_hardware4f.py [--quick] [--json PATH] [--batches 1 64] [--threads N]

``--json PATH`` writes records with keys ``case`` ("hardware4f"), ``batch``,
``images_per_second``, ``ratio_to_ideal`` (plus ``noise_model``, ``seconds``,
``ideal_seconds``). ``--quick`` uses fewer repeats and finishes in well under a minute.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, machine_summary, repeats_for, write_json  # noqa: E402

import optics4f as o  # noqa: E402
from optics4f.devices.detector import Camera  # noqa: E402
from optics4f.devices.display import InputDisplay  # noqa: E402
from optics4f.devices.slm import SLM  # noqa: E402
from optics4f.system import Hardware4f, SystemConfig, TiledLayout  # noqa: E402

TARGET = 2.0  # ratio_to_ideal at batch 64


def build(noise_model: str = "poisson", seed: int = 0):
    """The benchmark system, its 16 channel masks set, and a source of input images."""
    d, n, m, lam = 8e-6, 128, 256, 532e-9
    f = d * m * d / lam  # one Fourier sample per SLM pixel
    rng = np.random.default_rng(seed)
    masks = o.kernel_to_mask(rng.standard_normal((16, 1, 5, 5)) / 5, (m, m))
    base = SystemConfig(wavelength=lam, f1=f, f2=f, grid_shape=(n, n), pad=2.0,
                        display=InputDisplay(resolution=(28, 28), pitch=d),
                        slm=SLM(resolution=(1080, 1920), pitch=d, mode="phase", bit_depth=8),
                        camera=Camera(shape=(n, n), pixel_pitch=d, noise=False, bit_depth=None),
                        layout=TiledLayout(16, (32, 32)), seed=seed)
    # Exposure: the brightest pixel of typical frames at about 60 % of the full well, measured
    # through the system itself (the double-phase encoding passes only part of the light).
    probe = Hardware4f(base)
    probe.set_masks(masks)
    img = rng.uniform(0, 1, (4, 1, 28, 28))
    v = probe.propagate(probe.input_field(img[:, 0]), probe.displayed_masks[0])
    peak = float(base.camera.mean_electrons(v, probe.out_grid.pitch, lam).max())  # at the default exposure
    exposure = base.camera.exposure_time * 0.6 * 2e4 / peak
    cam = Camera(shape=(n, n), pixel_pitch=d, quantum_efficiency=1.0, exposure_time=exposure, read_noise=2.0,
                 dark_current=100.0, full_well=2e4, bit_depth=12, noise=True, noise_model=noise_model)
    cfg = base.replace(camera=cam)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the benchmark configuration must be clean
        hw = Hardware4f(cfg)
    t0 = time.perf_counter()
    hw.set_masks(masks)
    setup = time.perf_counter() - t0
    return hw, rng, setup


def run(batches=(1, 64), quick: bool = False) -> list:
    print(f"# hardware 4f benchmark: {machine_summary()}")
    records = []
    systems = {nm: build(nm) for nm in ("poisson", "gaussian")}
    hw, rng, setup = systems["poisson"]
    g = hw.geometry
    print(f"# grid {hw.config.grid_shape} padded {g.padded_shape}, 28x28 display, 8-bit phase SLM (double phase), "
          f"16 channels tiled 4x4 on a {hw.config.camera.shape} 12-bit camera; set_masks (encode + render "
          f"the 16-channel mask once): {setup * 1e3:.0f} ms")
    print(f"{'batch':>5} {'noise':>9} {'hardware ms':>12} {'ideal ms':>9} {'ratio':>6} {'images/s':>10}")
    for b in batches:
        imgs = rng.uniform(0, 1, (b, 1, 28, 28))
        ideal = o.FourF(hw.config.grid_shape, g.in_grid.pitch, hw.config.wavelength, hw.config.f1, hw.config.f2,
                        pad=hw.config.pad).set_mask(hw.displayed_masks[0])
        fields = hw.input_field(imgs[:, 0])
        fns = {"ideal": lambda ideal=ideal, fields=fields: ideal.apply(fields)}
        for nm, (sys_, _, _) in systems.items():
            fns[nm] = (lambda s=sys_, imgs=imgs: s.forward(imgs))
        t_one = max(1e-4, min(2.0, 0.01 * b))
        reps = repeats_for(t_one * len(fns), 3.0 if quick else 15.0, lo=3, hi=9 if quick else 31)
        times = interleaved_medians(fns, reps, warmup=1)
        for nm in systems:
            ratio = times[nm] / times["ideal"]
            ips = b / times[nm]
            flag = "" if (b < 64 or ratio <= TARGET) else f"  (target <= {TARGET})"
            print(f"{b:>5} {nm:>9} {times[nm] * 1e3:>12.2f} {times['ideal'] * 1e3:>9.2f} {ratio:>6.2f} "
                  f"{ips:>10.1f}{flag}")
            records.append({"case": "hardware4f", "batch": b, "images_per_second": ips, "ratio_to_ideal": ratio,
                            "noise_model": nm, "seconds": times[nm], "ideal_seconds": times["ideal"]})
    return records


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats (under a minute)")
    p.add_argument("--json", type=Path, help="write the records to this JSON file")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 64])
    p.add_argument("--threads", type=int, help="FFT threads (default: the library's; on a loaded 2-core "
                   "machine, 1 avoids FFTW threads waiting for each other)")
    a = p.parse_args(argv)
    if a.threads:
        from optics4f.fft import get_fft_engine, set_fft_engine

        set_fft_engine(get_fft_engine(), threads=a.threads)
    records = run(tuple(a.batches), quick=a.quick)
    if a.json:
        write_json(a.json, records)
        print(f"# wrote {a.json}")
    return records


if __name__ == "__main__":
    main()
