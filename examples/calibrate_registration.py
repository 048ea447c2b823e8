"""Camera <-> Fourier-SLM registration and Fourier-plane registration on a simulated bench.

Injected errors: the SLM is rotated by 30 mrad about the axis, tilted by (0.4, -0.8) mrad (which
moves the DC on the camera by about 2 f2 t), shifted by (1.7, -2.3) pixels in its plane, and its
LUT is not the linear one the lab assumes (true 2 pi at gray 230, frames encoded for 255).

1. Spot grid: a Gaussian spot on the display, blazed gratings of a 5 x 5 (3 x 3 small) grid of spatial
   frequencies on the SLM; the affine fit gives scale lambda f2 / (p_slm p_cam), rotation, shear
   and the DC on the camera.
2. Fourier plane: a Hann-windowed cosine on the display (period 8 pixels) puts three spots on the
   SLM; a one-pixel slit scanned across the panel (steering its light to a camera region) samples
   them; the fit gives the optical axis on the panel (the SLM shift) and lambda f1 / p_slm, i.e. f1.
   Done along x and y. (The simulator rotates the rendered panel by linear interpolation, which
   moves the slit's apparent position by up to about 0.07 pixel here: hence the 0.15 pixel tolerance.)

Writes registration.h5, fourier_plane_x.h5, fourier_plane_y.h5 and registration.png.

On a real bench the same procedure runs through files, in three steps (docs/calibration.md):
``optics4f calibrate registration --write-probes DIR --slm PRESET ...`` (frames to display and a manifest),
the lab captures the frames, ``optics4f calibrate registration --frames DIR --out registration.h5``; ``--simulate DIR``
runs the three steps on a simulated bench.

    python examples/calibrate_registration.py --check --size small --out out/calibration
"""
from __future__ import annotations

import sys

import numpy as np

from _calib_common import Report, figure, finish, parse_args, save_figure
from calib.benchinfo import describe_bench
from calib.bench import SimulatedBench, bench_config
from calib.registration import (cosine_window, register_fourier_plane, register_spots, slit_scan_frames,
                                spot_grid, spot_grid_frames)
from optics4f.devices import SLM


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    n, grid_n = (64, 3) if args.size == "small" else (128, 5)
    pitch = 8e-6
    rotation, tilt, shift_px = 0.03, (0.4e-3, -0.8e-3), (1.7, -2.3)
    mis = dict(slm_rotation=rotation, slm_tilt=tilt, slm_shift=tuple(s * pitch for s in shift_px))
    bench = SimulatedBench(bench_config(n, pitch=pitch, slm=dict(gray_2pi=230), misalignment=mis), seed=args.seed)
    cfg = bench.config
    nominal = SLM(resolution=bench.slm.resolution, pitch=pitch)  # what the lab believes before calibrating
    dark = bench.dark_frame()

    # -- 1. spot grid (a Gaussian spot on the display: its order images are Gaussians, no ringing)
    source = bench.gaussian_image(1.0)
    nus = spot_grid(grid_n, 0.2)
    frames = spot_grid_frames(nominal, nus)
    bench.set_exposure(frames[nus.shape[0] // 2], source, peak=0.6)
    spots = bench.record(frames, source)
    cy, cx = bench.camera_center
    off = 2 * cfg.f2 * np.sin(np.asarray(tilt)) / cfg.camera.pixel_pitch
    scale = bench.order_spacing
    truth = {"scale_x": scale, "scale_y": scale, "rotation": rotation, "shear": 0.0, "dc_row": cy + off[0],
             "dc_col": cx + off[1]}
    reg = register_spots(spots, nus, dark=dark, half_width=3, truth=truth, bench=describe_bench(cfg))

    # -- 2. Fourier plane, along x then y
    w, period = (31, 8) if n == 64 else (63, 8)
    hann = np.hanning(w + 2)[1:-1]
    npx = bench.slm.resolution[1]
    centre = npx // 2
    steer = 3.0
    d = scale / steer  # camera pixels from the DC to the steered light
    fps = []
    for axis in (1, 0):
        image = bench.window_image(w, cosine_window(w, period, axis=axis) * np.outer(hann, hann))
        reach = int(np.ceil(npx / period * 2 * 0.9))  # covers the DC and both side lobes
        positions = np.arange(centre - reach, centre + reach + 1)
        slits = slit_scan_frames(nominal, positions, width=1, axis=axis, steer_period=steer)
        bench.set_exposure(slits[len(positions) // 2], image, peak=0.6)
        frames_fp = bench.record(slits, image)
        ncam = cfg.camera.shape[0]
        region = (int(cy + d - 8), ncam, 0, ncam) if axis == 1 else (0, ncam, int(cx + d - 8), ncam)
        # The panel is rotated about the optical axis, then shifted: H_lab(u) = T(R(-a) (u - s)), so the
        # axis (u = 0) sits at panel coordinates R(-a) (-s) from the centre pixel, (x, y) = (col, row).
        ax_xy = np.array([[np.cos(rotation), np.sin(rotation)], [-np.sin(rotation), np.cos(rotation)]]) @ \
            -np.array([shift_px[1], shift_px[0]])
        true_dc = centre + (ax_xy[0] if axis == 1 else ax_xy[1])
        fps.append(register_fourier_plane(
            frames_fp, positions, region=region, display_period=period, display_pitch=cfg.display.pitch,
            slm_pitch=pitch, slm_pixels=npx, wavelength=cfg.wavelength, axis=axis, dark=dark,
            bench=describe_bench(cfg), truth={"dc": true_dc, "shift": -(true_dc - centre) * pitch, "f1": cfg.f1}))

    rep = Report(f"Registration ({n}x{n} bench, {nus.shape[0]} gratings; slit scans of {len(positions)} positions)")
    r, t = reg.values, reg.truth
    rep.add("scale x (px per cycle/px)", t["scale_x"], r["scale_x"], 0.003, "px", relative=True)
    rep.add("scale y (px per cycle/px)", t["scale_y"], r["scale_y"], 0.003, "px", relative=True)
    rep.add("rotation", t["rotation"], r["rotation"], 2e-3, "rad")
    rep.add("shear", 0.0, r["shear"], 3e-3, "1")
    rep.add("DC row on camera", t["dc_row"], r["dc_row"], 0.05, "px")
    rep.add("DC col on camera", t["dc_col"], r["dc_col"], 0.05, "px")
    for fp, ax in zip(fps, "xy"):
        rep.add(f"optical axis on SLM, {ax}", fp.truth["dc"], fp.values["dc"], 0.15, "px")
        rep.add(f"f1 from lambda f1 / p ({ax})", fp.truth["f1"], fp.values["f1"], 0.01, "m", relative=True)

    files = [reg.save(args.out / "registration.h5", overwrite=True),
             fps[0].save(args.out / "fourier_plane_x.h5", overwrite=True),
             fps[1].save(args.out / "fourier_plane_y.h5", overwrite=True)]
    fig, ax = figure(1, 4)
    ax[0, 0].imshow(spots.sum(axis=0), cmap="gray")
    ax[0, 0].plot(r["spots"][:, 1], r["spots"][:, 0], "r+", label="found")
    fitted = nus @ np.asarray(r["A"]).T + np.asarray(r["b"])
    ax[0, 0].plot(fitted[:, 1], fitted[:, 0], "cx", label="affine fit")
    ax[0, 0].set_title("spot grid (sum of frames)")
    ax[0, 0].legend(fontsize=6)
    res = r["spots"] - fitted
    ax[0, 1].quiver(fitted[:, 1], fitted[:, 0], res[:, 1], -res[:, 0])
    ax[0, 1].set_title(f"residual (rms {r['rms_residual']:.3f} px)")
    ax[0, 1].invert_yaxis()
    for k, (fp, a) in enumerate(zip(fps, "xy")):
        v = fp.values
        ax[0, 2 + k].plot(v["positions"], v["signal"], "o", ms=3, label="measured")
        ax[0, 2 + k].plot(v["positions"], v["fit"], "-", label="fit")
        ax[0, 2 + k].axvline(fp.truth["dc"], color="k", ls=":", label="true axis")
        ax[0, 2 + k].set_title(f"slit scan along {a}")
        ax[0, 2 + k].set_xlabel("SLM pixel")
        ax[0, 2 + k].legend(fontsize=6)
    files.append(save_figure(fig, args.out / "registration.png"))
    return finish(rep, args, files)


if __name__ == "__main__":
    sys.exit(main())
