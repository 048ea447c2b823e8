"""SLM pixel crosstalk on a simulated bench: fringing width and fill factor from binary gratings.

The bench's phase SLM has fringing fields (Gaussian smoothing of the phase, sigma = 0.3 pixel =
2.4 um) and a linear fill factor of 0.9 (aluminium gaps reflecting unmodulated light). Binary
gratings (gray 0 | gray 120, about pi) of periods 2, 4 and 8 pixels are shown with a point on the
display; the zero- and first-order efficiencies against a flat frame are fitted with the
continuous fringing model of calib.crosstalk. The panel is rendered with 4 (small) or 8
simulation samples per pixel, which limits how well the simulator itself represents a 0.3-pixel
smoothing (hence the 10 % tolerance on sigma). Writes crosstalk.h5 and crosstalk.png.

On a real bench the same procedure runs through files, in three steps (docs/calibration.md):
``optics4f calibrate crosstalk --write-probes DIR --slm PRESET ...`` (frames to display and a manifest),
the lab captures the frames, ``optics4f calibrate crosstalk --frames DIR --out crosstalk.h5``; ``--simulate DIR``
runs the three steps on a simulated bench.

    python examples/calibrate_crosstalk.py --check --size small --out out/calibration
"""
from __future__ import annotations

import sys

import numpy as np

from _calib_common import Report, figure, finish, parse_args, save_figure
from calib.benchinfo import describe_bench
from calib.bench import SimulatedBench, bench_config
from calib.crosstalk import crosstalk_frames, crosstalk_from_gratings, grating_efficiencies


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    n, k = (64, 4) if args.size == "small" else (128, 8)
    pitch, sigma_px, fill = 8e-6, 0.3, 0.9
    bench = SimulatedBench(bench_config(n, slm_samples=k, pitch=pitch,
                                        slm=dict(fringing_sigma=sigma_px * pitch, fill_factor=fill, gray_2pi=240)),
                           seed=args.seed)
    periods = [2, 4, 8]
    frames = crosstalk_frames(bench.slm.resolution, periods, gray=120)
    point = bench.point_image()
    bench.set_exposure(frames[0], point, peak=0.6)
    dark = bench.dark_frame()
    recorded = bench.record(frames, point)
    cal = crosstalk_from_gratings(recorded, periods, center=bench.camera_center, order_spacing=bench.order_spacing,
                                  slm_pitch=pitch, dark=dark,
                                  bench=describe_bench(bench.config),
                                  truth={"fringing_sigma": sigma_px * pitch, "fringing_sigma_px": sigma_px,
                                         "fill_factor": fill, "step": np.pi * 120 / 120})
    v = cal.values
    rep = Report(f"Pixel crosstalk ({n}x{n} bench, {k} samples per SLM pixel, periods {periods})")
    rep.add("fringing sigma", sigma_px * pitch, v["fringing_sigma"], 0.1, "m", relative=True)
    rep.add("fill factor (linear)", fill, v["fill_factor"], 0.02, "1")
    rep.add("grating step", np.pi, v["step"], 0.1, "rad")
    ideal = [grating_efficiencies(p, np.pi, 0.0, 1.0)[1] for p in periods]
    rep.add("fit rms residual (efficiency)", 0.0, v["rms_residual"], 0.01, "1")

    path = cal.save(args.out / "crosstalk.h5", overwrite=True)
    fig, ax = figure(1, 3)
    ax[0, 0].imshow(recorded[1], cmap="gray")
    ax[0, 0].set_title(f"grating, period {periods[0]} px")
    p = np.asarray(periods)
    ax[0, 1].plot(p, v["eta0"], "o", label="eta0 measured")
    ax[0, 1].plot(p, v["eta0_fit"], "-", label="eta0 fit")
    ax[0, 1].plot(p, v["eta1"], "s", label="eta1 measured")
    ax[0, 1].plot(p, v["eta1_fit"], "-", label="eta1 fit")
    ax[0, 1].plot(p, ideal, "k:", label="eta1 ideal panel")
    ax[0, 1].set_xlabel("period (px)")
    ax[0, 1].legend(fontsize=6)
    ax[0, 2].plot(p, v["eta0"] - v["eta0_fit"], "o-", label="eta0")
    ax[0, 2].plot(p, v["eta1"] - v["eta1_fit"], "s-", label="eta1")
    ax[0, 2].set_title("residual")
    ax[0, 2].legend(fontsize=6)
    fig_path = save_figure(fig, args.out / "crosstalk.png")
    return finish(rep, args, [path, fig_path])


if __name__ == "__main__":
    sys.exit(main())
