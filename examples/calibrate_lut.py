"""SLM gray-to-phase LUT on a simulated bench: binary-grating efficiency and split-screen interferometry.

The bench's phase SLM has a nonlinear response (true 2 pi level at gray 220 of 255, a 25 % bow,
gray up = phase down) and a design wavelength of 633 nm. A small spot on the display lights the SLM;
the camera (shot + read noise, 12 bits, black level) records the far field of
(1) binary gratings (gray 0 | gray g), period 8 pixels, and (2) split screens (left half gray 0,
right half gray g) lit by a 3-pixel window (a small Gaussian spot on the display lights the gratings).
The grating frames go through a 16-bit TIFF stack,
as a lab's camera software would write them. Each method gives a LUT and the 2 pi gray level;
the table is then scaled to 532 nm. Finally random phase masks are encoded with the lab's nominal
linear panel model and with the calibrated one (SLM.encode, quantisation included) and shown by
the true panel: the calibrated encoding must be within 0.06 rad rms at 633 and 532 nm.
Writes lut.h5 (split screen, signed) and lut.png.

On a real bench the same procedure runs through files, in three steps (docs/calibration.md):
``optics4f calibrate lut --write-probes DIR --slm PRESET ...`` (frames to display and a manifest),
the lab captures the frames, ``optics4f calibrate lut --frames DIR --out lut.h5``; ``--simulate DIR``
runs the three steps on a simulated bench.

    python examples/calibrate_lut.py --check --size small --out out/calibration
"""
from __future__ import annotations

import sys

import numpy as np
from PIL import Image

from _calib_common import Report, figure, finish, parse_args, save_figure
from calib.benchinfo import describe_bench
from calib.bench import SimulatedBench, bench_config
from calib.lut import grating_frames, lut_from_gratings, lut_from_split_screen, split_screen_frames
from optics4f.devices import SLM


def true_lut(levels=256, gray_2pi=220.0, bow=0.25):
    """Nonlinear panel response (rad at the design wavelength), gray up = phase down."""
    g = np.arange(levels, dtype=np.float64)
    shape = lambda x: x * (1 + bow * np.sin(np.pi * x / (levels - 1)))  # noqa: E731
    return -2 * np.pi * shape(g) / shape(gray_2pi)


def save_tiff_stack(path, frames):
    """Camera frames as a multi-page 16-bit TIFF (what acquisition software writes)."""
    pages = [Image.fromarray(np.asarray(f, dtype=np.uint16)) for f in frames]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    return path


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    n, step = (64, 8) if args.size == "small" else (128, 4)
    lam = 633e-9
    bench = SimulatedBench(bench_config(n, wavelength=lam, slm=dict(lut=true_lut(), design_wavelength=lam)),
                           seed=args.seed)
    grays = np.arange(0, 256, step)
    center, spacing = bench.camera_center, bench.order_spacing  # from the registration (nominal here)
    dark = bench.dark_frame()

    source = bench.gaussian_image(1.0)  # a Gaussian spot: order images without ringing
    bench.set_exposure(bench.uniform_frame(0), source, peak=0.6)
    g_frames = bench.record(grating_frames(bench.slm.resolution, grays, period=8), source)
    tiff = save_tiff_stack(args.out / "lut_grating_frames.tif", g_frames)
    cal_g = lut_from_gratings(str(tiff), grays, center=center, order_spacing=spacing, period=8, wavelength=lam,
                              sign=-1, dark=dark, half_width=2, truth_slm=bench.slm, bench=describe_bench(bench.config))

    window = bench.window_image(3)
    bench.set_exposure(bench.uniform_frame(0), window, peak=0.6)
    s_frames = bench.record(split_screen_frames(bench.slm.resolution, grays), window)
    cal_s = lut_from_split_screen(s_frames, grays, center=center, wavelength=lam, dark=dark, half_width=1,
                                  truth_slm=bench.slm, bench=describe_bench(bench.config))

    rep = Report(f"SLM LUT ({n}x{n} bench, {grays.size} gray levels, 633 nm)")
    lam2 = 532e-9
    true_532 = bench.slm.phase_lut() * lam / lam2
    true_2pi_532 = float(np.interp(2 * np.pi, np.abs(true_532), np.arange(256)))
    for name, cal, tol in (("grating", cal_g, 2.0), ("split screen", cal_s, 4.0)):
        t, r = cal.truth, cal.values
        rep.add(f"{name}: gray_2pi", t["gray_2pi"], r["gray_2pi"], tol, "gray")
        err = r["lut"] - t["lut"]
        rep.add(f"{name}: LUT rms error", 0.0, np.sqrt(np.mean(err**2)), 0.06, "rad")
        rep.add(f"{name}: LUT max error", 0.0, np.abs(err).max(), 0.15, "rad")
        rep.add(f"{name}: gray_2pi @532nm", true_2pi_532, cal.gray_2pi_at(lam2), tol, "gray")
    rep.add("split screen: sign of slope", -1.0, np.sign(cal_s.values["lut"][-1]), 0.0, "1")

    # What the calibration buys: random phase masks encoded with the lab's nominal linear panel
    # model vs with the calibrated one, shown by the true panel (wrapped rms phase error).
    nominal = SLM(resolution=bench.slm.resolution, pitch=bench.slm.pitch)  # linear, 2 pi at 255
    calibrated = cal_s.apply_to_slm(nominal)
    target = np.random.default_rng(1).uniform(-np.pi, np.pi, bench.slm.resolution)
    for wl in (lam, lam2):
        for name, model in (("nominal", nominal), ("calibrated", calibrated)):
            shown = bench.slm.gray_to_phase(model.encode(target, wl), wl)
            err = np.sqrt(np.mean(np.angle(np.exp(1j * (shown - target))) ** 2))
            tol = 0.06 if name == "calibrated" else np.inf
            rep.add(f"mask phase rms, {name} @{wl * 1e9:.0f}nm", 0.0, err, tol, "rad")

    path = cal_s.save(args.out / "lut.h5", overwrite=True)
    fig, ax = figure(1, 4)
    cy, cx = (int(c) for c in center)
    crop = np.s_[cy - 12:cy + 13, cx - 12:cx + 13]
    for a, fr, name in ((ax[0, 0], g_frames, "grating"), (ax[0, 1], s_frames, "split screen")):
        a.imshow(np.log1p(np.clip(fr[grays.size // 3] - dark, 0, None))[crop], cmap="magma")
        a.set_title(f"{name}, gray {grays[grays.size // 3]} (log)")
    g = np.arange(256)
    ax[0, 2].plot(g, cal_s.truth["lut"], "k-", label="true")
    ax[0, 2].plot(grays, cal_g.values["phase"], "o", ms=3, label="grating (points)")
    ax[0, 2].plot(grays, cal_s.values["phase"], "x", ms=3, label="split screen (points)")
    ax[0, 2].plot(g, cal_s.values["lut"], "r--", label="fit")
    ax[0, 2].set_xlabel("gray")
    ax[0, 2].set_ylabel("phase (rad)")
    ax[0, 2].legend(fontsize=6)
    ax[0, 3].plot(g, cal_g.values["lut"] - cal_g.truth["lut"], label="grating")
    ax[0, 3].plot(g, cal_s.values["lut"] - cal_s.truth["lut"], label="split screen")
    ax[0, 3].set_title("residual (rad)")
    ax[0, 3].legend(fontsize=6)
    fig_path = save_figure(fig, args.out / "lut.png")
    return finish(rep, args, [path, fig_path, tiff])


if __name__ == "__main__":
    sys.exit(main())
