"""Focus on a simulated bench: defocus scans that find the camera plane and the Fourier plane.

The bench's camera sits 0.37 mm beyond the back focal plane of lens 2 and its SLM 0.8 mm before
the back focal plane of lens 1 (both unknown to the lab). Camera scan: a point on the display, a
flat SLM, the camera moved by a stage through +-0.8 mm (the SLM error stays in place: it does not
change a point's image); the sharpness of the point image peaks in focus. Fourier scan: a
window on the display (16 pixels on the small bench, 32 on the default one: sized by
calib.focus.probe_window for a spot of 4 SLM pixels, whose depth of focus the scan resolves)
focuses to a spot on the SLM; a 5-pixel patch at the DC steers its
light to a camera region; the SLM is moved through +-3 mm (camera already refocused) and the
steered power peaks when the spot is smallest. Writes focus_camera.h5, focus_fourier.h5 and focus.png.

On a real bench the same procedure runs through files, in three steps (docs/calibration.md):
``optics4f calibrate focus --write-probes DIR --slm PRESET ...`` (frames to display and a manifest),
the lab captures the frames, ``optics4f calibrate focus --frames DIR --out focus.h5``; ``--simulate DIR``
runs the three steps on a simulated bench.

    python examples/calibrate_focus.py --check --size small --out out/calibration
"""
from __future__ import annotations

import sys

import numpy as np

from _calib_common import Report, figure, finish, parse_args, save_figure
from calib.bench import SimulatedBench, bench_config
from calib.benchinfo import describe_bench
from calib.focus import focus_camera, focus_fourier, pinhole_frame, probe_window
from optics4f.devices import SLM


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    n, zc_step, zf_step = (64, 0.1e-3, 0.4e-3) if args.size == "small" else (128, 0.05e-3, 0.25e-3)
    dz_cam, dz_fou = 0.37e-3, -0.8e-3
    bench = SimulatedBench(bench_config(n, misalignment=dict(camera_defocus=dz_cam, fourier_defocus=dz_fou)),
                           seed=args.seed)
    nominal = SLM(resolution=bench.slm.resolution, pitch=bench.slm.pitch)
    dark = bench.dark_frame()

    # -- camera plane
    point, flat = bench.point_image(), bench.uniform_frame(0)
    bench.set_exposure(flat, point, peak=0.6)
    zc = np.arange(-0.8e-3, 0.8e-3 + zc_step / 2, zc_step)
    cam_frames = np.concatenate([bench.with_misalignment(camera_defocus=dz_cam + z).record(flat, point)
                                 for z in zc])
    cal_c = focus_camera(cam_frames, zc, dark=dark, truth={"camera_defocus": dz_cam},
                         bench=describe_bench(bench.config))

    # -- Fourier plane (camera refocused by the first result)
    cfg = bench.config
    window = bench.window_image(probe_window(cfg.wavelength, cfg.f1, cfg.display.pitch, cfg.slm.pitch))
    cy, cx = bench.camera_center
    patch = pinhole_frame(nominal, (bench.slm.resolution[0] // 2, bench.slm.resolution[1] // 2), 5)
    refocused = bench.with_misalignment(camera_defocus=dz_cam - cal_c.values["camera_defocus"])
    refocused.set_exposure(patch, window, peak=0.6)
    zf = np.arange(-3e-3, 3e-3 + zf_step / 2, zf_step)
    d = bench.order_spacing / 3.0
    region = (int(cy + d - 8), bench.camera.shape[0], 0, bench.camera.shape[1])
    fou_frames = np.concatenate([refocused.with_misalignment(fourier_defocus=dz_fou + z).record(patch, window)
                                 for z in zf])
    cal_f = focus_fourier(fou_frames, zf, region=region, dark=dark, truth={"fourier_defocus": dz_fou},
                          bench=describe_bench(bench.config))

    rep = Report(f"Focus ({n}x{n} bench; camera scan {zc.size} positions, Fourier scan {zf.size} positions)")
    rep.add("camera defocus", dz_cam, cal_c.values["camera_defocus"], 0.05e-3, "m")
    rep.add("Fourier-plane (SLM) defocus", dz_fou, cal_f.values["fourier_defocus"], 0.15e-3, "m")

    files = [cal_c.save(args.out / "focus_camera.h5", overwrite=True),
             cal_f.save(args.out / "focus_fourier.h5", overwrite=True)]
    fig, ax = figure(1, 4)
    k = int(np.argmin(np.abs(zc + dz_cam)))
    ax[0, 0].imshow(cam_frames[0], cmap="gray")
    ax[0, 0].set_title(f"camera at z = {zc[0] * 1e3:.2f} mm")
    ax[0, 1].imshow(cam_frames[k], cmap="gray")
    ax[0, 1].set_title(f"camera at z = {zc[k] * 1e3:.2f} mm")
    for a, cal, name, z, true in ((ax[0, 2], cal_c, "camera", zc, dz_cam), (ax[0, 3], cal_f, "Fourier", zf, dz_fou)):
        a.plot(z * 1e3, cal.values["metric"], "o-", ms=3, label="metric")
        a.axvline(cal.values["z_peak"] * 1e3, color="r", label="fitted peak")
        a.axvline(-true * 1e3, color="k", ls=":", label="true focus")
        a.set_xlabel("stage z (mm)")
        a.set_title(f"{name} scan")
        a.legend(fontsize=6)
    files.append(save_figure(fig, args.out / "focus.png"))
    return finish(rep, args, files)


if __name__ == "__main__":
    sys.exit(main())
