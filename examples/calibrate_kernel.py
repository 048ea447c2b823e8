"""End-to-end kernel calibration on a simulated bench: random probes, holographic detection.

The lab programs a Fourier mask H = exp(i beta (cos 2 pi u/P + cos 2 pi v/P)), a phase grating
whose kernel is known in closed form (Jacobi-Anger: taps i^(m+n) J_m(beta) J_n(beta) spaced
M/P input samples apart). The bench hides two errors the lab does not know about: its SLM
reaches 2 pi at gray level 230 (the lab assumes 255) and it has fringing between pixels. Random
probe images go through the bench; phase-shifting holography (shot and read noise) gives the
complex output fields; calib.kernel.calibrate_kernel identifies the effective kernel by least
squares and compares it with the programmed one. The true effective kernel (the noise-free
impulse response of the bench) checks the identification; the deviation from the programmed
kernel is what the errors cost. Writes kernel.h5 and a figure.

    python examples/calibrate_kernel.py --check --size small --out out/calibration
"""
from __future__ import annotations

import dataclasses
import sys

import numpy as np
from scipy.special import jv

from _calib_common import Report, figure, finish, parse_args, save_figure
from calib.benchinfo import describe_bench
from calib.bench import SimulatedBench, bench_config
from calib.kernel import calibrate_kernel, compare_kernels, crop_kernel, random_probes, uninvert


def grating_mask(grid, beta: float, period: float) -> np.ndarray:
    """exp(i beta (cos 2 pi u / P + cos 2 pi v / P)) on the Fourier grid (P in metres)."""
    y, x = grid.y()[:, None], grid.x()[None, :]
    return np.exp(1j * beta * (np.cos(2 * np.pi * x / period) + np.cos(2 * np.pi * y / period)))


def jacobi_anger_kernel(beta: float, spacing: int, shape) -> np.ndarray:
    """The closed-form kernel of :func:`grating_mask`: i^(m+n) J_m(beta) J_n(beta) at (n, m) * spacing."""
    k = np.zeros(shape, dtype=np.complex128)
    cy, cx = shape[0] // 2, shape[1] // 2
    r = cy // spacing
    for n in range(-r, r + 1):
        for m in range(-r, r + 1):
            k[cy + n * spacing, cx + m * spacing] = 1j ** (m + n) * jv(m, beta) * jv(n, beta)
    return k


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    small = args.size == "small"
    n = 64 if small else 128
    lam, pitch, beta = 633e-9, 8e-6, 0.8
    true_slm = dict(gray_2pi=230, fringing_sigma=2e-6)  # the bench's errors (the lab believes 255, none)
    bench = SimulatedBench(bench_config(n, wavelength=lam, pitch=pitch, slm=true_slm), seed=args.seed)
    hw = bench.system
    lab_slm = bench.slm.replace(gray_2pi=255, fringing_sigma=0.0)
    M = hw.geometry.padded_shape[1]
    spacing = 4  # input samples between taps: the grating period is M / spacing Fourier samples
    mask = grating_mask(hw.fourier_grid, beta, M / spacing * hw.fourier_grid.dx)
    frame = lab_slm.encode(np.angle(hw.slm_target(mask)), lam)
    kshape = (4 * spacing + 1,) * 2  # taps |m|, |n| <= 2 (J_3(0.8) = 0.01 is left out)
    prog = jacobi_anger_kernel(beta, spacing, kshape)

    # True effective kernel: the noise-free impulse response of the bench.
    h_true = crop_kernel(uninvert(bench.fields(frame, bench.point_image())[0]), kshape)

    # Probes: random images in a small window, so that the kernel's tails (the LUT error scatters
    # light far from the taps) stay on the camera: (n - window) / 2 samples of room on each side.
    disp = bench.config.display
    probes = random_probes(16, disp.resolution, n // 8, bench.rng)
    shown = disp.amplitude(disp.frame(probes))  # what the display really shows (8-bit levels)
    v = hw.propagate(hw.input_field(probes), hw.fourier_mask(frame=frame))  # (n, ny, nx)
    # Exposure: the brightest interferogram (|v| + reference)^2 at 60 % of the full well.
    cam, r = bench.camera, bench.config.reference_amplitude
    e_peak = float(cam.mean_electrons(np.full((1, n, n), np.abs(v).max() + r, dtype=np.complex64),
                                      hw.out_grid.pitch, lam).max())
    bench = bench.replace(camera=dataclasses.replace(cam, exposure_time=cam.exposure_time * 0.6 * cam.full_well
                                                     / e_peak))
    outputs = bench.system.detect_holographic(v, rng=bench.rng)
    cal = calibrate_kernel(np.asarray(shown), outputs, prog, truth=h_true, bench=describe_bench(bench.config),
                           metadata={"beta": beta, "tap_spacing": float(spacing)})

    meas = cal["kernel"]
    vs_true = compare_kernels(meas, h_true)
    dev_true = compare_kernels(h_true, prog)
    rep = Report(f"End-to-end kernel ({n}x{n} camera, {probes.shape[0]} random probes, 4-step holography); "
                 "bench errors: 2 pi at gray 230 (assumed 255), fringing 2 um")
    rep.add("kernel error vs truth", 0.0, vs_true["relative_error"], 0.03, "1")
    rep.add("|gain| vs truth", 1.0, abs(vs_true["scale"]), 0.03, "1", relative=True)
    rep.add("deviation from programmed", dev_true["relative_error"], cal["relative_error"], 0.02, "1")
    c = kshape[0] // 2
    tap = lambda h: abs(h[c, c + spacing] / h[c, c])  # noqa: E731
    rep.add("|h(0,s)/h(0,0)|", tap(h_true), tap(meas), 0.02, "1")
    print(f"programmed tap ratio J1/J0 = {jv(1, beta) / jv(0, beta):.4f}; identification residual "
          f"{cal['residual']:.3g}")

    path = cal.save(args.out / "kernel.h5", overwrite=True)
    fig, ax = figure(1, 4)
    ax[0, 0].imshow(shown[0], cmap="gray")
    ax[0, 0].set_title("probe image")
    ax[0, 1].imshow(np.abs(outputs[0]), cmap="gray")
    ax[0, 1].set_title("|measured output| (holography)")
    alpha = complex(cal["scale"])
    ax[0, 2].plot(np.abs(meas[c]), "o-", ms=3, label="measured")
    ax[0, 2].plot(np.abs(h_true[c]), "-", label="true")
    ax[0, 2].plot(np.abs(alpha * prog[c]), "--", label="programmed x alpha")
    ax[0, 2].legend(fontsize=6)
    ax[0, 2].set_title("|kernel|, centre row")
    im = ax[0, 3].imshow(np.abs(meas - alpha * prog), cmap="magma")
    fig.colorbar(im, ax=ax[0, 3])
    ax[0, 3].set_title("|measured - alpha programmed|")
    png = save_figure(fig, args.out / "kernel.png")
    return finish(rep, args, [path, png])


if __name__ == "__main__":
    sys.exit(main())
