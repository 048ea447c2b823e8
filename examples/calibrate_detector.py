"""Camera calibration on a simulated sensor, EMVA 1288 style.

The simulated camera (optics4f Camera model: Poisson shot noise, read noise, dark current,
full-well clip, 12-bit ADC with a black level) gets a dark-signal non-uniformity (DSNU) and a
pixel-response non-uniformity (PRNU) map, and its frame grabber stores the 12-bit values
left-justified in 16-bit words. The script records what a lab records (dark frames, flat
frames, a pair of frames at each of a series of exposures from dark to saturation), runs
calib.detector.calibrate_detector, and compares gain, dark noise, DSNU, PRNU, saturation,
black level and the bit alignment with the truth. A second run with the camera's gamma mode
on (gamma 0.8) checks that the response fit finds the gamma. Writes detector.h5 and a figure.

On a real bench the same procedure runs through files, in three steps (docs/calibration.md):
``optics4f calibrate detector --write-probes DIR --slm PRESET ...`` (frames to display and a manifest),
the lab captures the frames, ``optics4f calibrate detector --frames DIR --out detector.h5``; ``--simulate DIR``
runs the three steps on a simulated bench.

    python examples/calibrate_detector.py --check --size small --out out/calibration
"""
from __future__ import annotations

import dataclasses
import sys

import numpy as np

from _calib_common import Report, figure, finish, parse_args, save_figure
from calib.bench import default_camera
from calib.benchinfo import describe_camera
from calib.detector import calibrate_detector, fit_gamma, simulate_sensor_frames


def record(camera, rng, prnu, dsnu, photons_sat, n_levels, pack):
    """The frames of one EMVA measurement: dark, flat, exposure-series pairs, dark pair."""
    def sim(photons, k):
        return pack(simulate_sensor_frames(camera, photons, k, rng, prnu, dsnu))

    levels = np.linspace(0.0, 1.25 * photons_sat, n_levels)  # photons per pixel: dark to beyond saturation
    bright = np.stack([sim(p, 2) for p in levels])
    return sim(0.0, 16), sim(0.5 * photons_sat, 16), bright, sim(0.0, 2), levels


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    n = 128 if args.size == "small" else 256
    rng = np.random.default_rng(args.seed)
    truth_rng = np.random.default_rng(99)
    cam = default_camera(n, 8e-6, gain=0.18, dark_current=400.0, exposure_time=1e-2, read_noise=4.0,
                         full_well=2.0e4, quantum_efficiency=0.7, offset=100.0, bit_depth=12)
    prnu = 1.0 + 0.01 * truth_rng.standard_normal(cam.shape)  # 1 % pixel gain spread
    dsnu = truth_rng.gamma(4.0, 1.5, cam.shape)  # dark-signal spread, e- (>= 0)
    photons_sat = cam.full_well / cam.quantum_efficiency

    def left_justify(frames):  # what the frame grabber stores: 12-bit counts << 4 in uint16
        return (np.asarray(frames).astype(np.uint16) << 4).astype(np.uint16)

    dark, flat, bright, dpair, levels = record(cam, rng, prnu, dsnu, photons_sat, 20, left_justify)
    dark_e = cam.dark_current * cam.exposure_time + dsnu.mean()
    K = cam.adu_per_electron
    truth = {"gain": K, "dark_noise": np.sqrt(cam.read_noise**2 + dark_e), "dsnu": dsnu.std(),
             "prnu": prnu.std() / prnu.mean(), "saturation_capacity": cam.full_well,
             "black_level": cam.offset + K * dark_e, "bit_shift": 4.0, "data_bits": 12.0, "gamma": 1.0}
    cal = calibrate_detector(dark, flat, bright, dpair, levels, truth=truth, bench={"camera": describe_camera(cam)})

    rep = Report(f"Detector ({n}x{n} px, 12-bit data left-justified in uint16, EMVA 1288 photon transfer)")
    tols = {"gain": (0.03, True, "ADU/e-"), "dark_noise": (0.05, True, "e-"), "dsnu": (0.1, True, "e-"),
            "prnu": (0.1, True, "1"), "saturation_capacity": (0.03, True, "e-"), "black_level": (0.5, False, "ADU"),
            "bit_shift": (0.0, False, "bit"), "data_bits": (0.0, False, "bit"), "gamma": (0.02, False, "1")}
    for name, (tol, rel, unit) in tols.items():
        # gamma: the fitted exponent (the calibration stores exactly 1 when it is within 0.02 of 1)
        got = cal.metadata["fitted_gamma"] if name == "gamma" else cal[name]
        rep.add(name, truth[name], got, tol, unit, relative=rel)

    # Gamma mode: the response fit must find it (the PTC of a gamma camera is only approximate).
    cam_g = dataclasses.replace(cam, gamma=0.8)
    _, _, bright_g, _, _ = record(cam_g, rng, prnu, dsnu, photons_sat, 20, lambda a: a)
    sat_g = float(bright_g.max())
    curve = fit_gamma(levels, bright_g.mean(axis=(1, 2, 3)), sat_g)
    rep.add("gamma (gamma mode)", cam_g.gamma, curve["gamma"], 0.02, "1")
    print(f"linearity error: {cal['linearity_error']:.3f} % (linear mode), {curve['linearity_error']:.2f} % "
          f"(gamma mode)")

    path = cal.save(args.out / "detector.h5", overwrite=True)
    fig, ax = figure(1, 4)
    im = ax[0, 0].imshow(cal["dark"], cmap="gray")
    fig.colorbar(im, ax=ax[0, 0])
    ax[0, 0].set_title("dark frame (ADU)")
    im = ax[0, 1].imshow(cal["flat"], cmap="gray")
    fig.colorbar(im, ax=ax[0, 1])
    ax[0, 1].set_title("flat field (relative)")
    mu, var, used = (cal.metadata[k] for k in ("ptc_mu", "ptc_var", "ptc_used"))
    ax[0, 2].plot(mu, var, "o", ms=3, label="measured")
    ax[0, 2].plot(mu[used > 0], cal["gain"] * mu[used > 0], "-", label=f"fit K={cal['gain']:.4f} ADU/e-")
    ax[0, 2].set_xlabel("mean - dark (ADU)")
    ax[0, 2].set_ylabel("temporal variance (ADU^2)")
    ax[0, 2].legend(fontsize=6)
    ax[0, 2].set_title("photon transfer")
    ax[0, 3].plot(levels, bright_g.mean(axis=(1, 2, 3)), "o", ms=3, label="gamma mode")
    t = np.linspace(0, levels.max(), 200)
    ax[0, 3].plot(t, np.minimum(curve["black"] + curve["a"] * t ** curve["gamma"], sat_g), "-",
                  label=f"fit gamma={curve['gamma']:.3f}")
    ax[0, 3].plot(levels, bright.mean(axis=(1, 2, 3)) / 16, "s", ms=3, label="linear mode")
    ax[0, 3].set_xlabel("photons per pixel")
    ax[0, 3].set_ylabel("mean (ADU)")
    ax[0, 3].legend(fontsize=6)
    ax[0, 3].set_title("response")
    png = save_figure(fig, args.out / "detector.png")
    return finish(rep, args, [path, png])


if __name__ == "__main__":
    sys.exit(main())
