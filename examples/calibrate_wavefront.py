"""Wavefront calibration on a simulated bench: Zernike sweep on a spot, two passes.

The bench (calib.bench) hides a Fourier-plane aberration (random Zernike coefficients, a few
hundredths of a wave RMS each) behind its SLM and iris. A point on the input display lights the
SLM; for every Zernike mode the SLM shows probe phases of several amplitudes; the camera frames
(shot and read noise) go to calib.wavefront.calibrate_wavefront, which fits the sharpness peaks.
A second sweep around the first correction refines it. Phase diversity (three frames: in focus
and +-lambda/8 of defocus, fitted with a PSF model) is run on the same bench for comparison.
The script prints true vs recovered coefficients, the residual RMS wavefront and the Strehl
ratio before and after correction, saves a figure and writes wavefront.h5 (sweep) and
wavefront_diversity.h5 (phase diversity).

On a real bench the same procedure runs through files, in three steps (docs/calibration.md):
``optics4f calibrate wavefront --write-probes DIR --slm PRESET ...`` (frames to display and a manifest),
the lab captures the frames, ``optics4f calibrate wavefront --frames DIR --out wavefront.h5``; ``--simulate DIR``
runs the three steps on a simulated bench.

    python examples/calibrate_wavefront.py --check --size small --out out/calibration
"""
from __future__ import annotations

import sys

import numpy as np

from _calib_common import Report, figure, finish, parse_args, save_figure
from calib.benchinfo import describe_bench
from calib.bench import SimulatedBench, bench_config
from calib.wavefront import (calibrate_wavefront, calibrate_wavefront_diversity, diversity_phases, fit_sweep,
                             make_calibration, residual_rms, simulate_spot_frames, sweep_phases)
from optics4f.zernike import zernike_phase


def strehl(bench, aberration, slm) -> float:
    """Peak intensity of the point image through ``slm`` (with its flatness) with the aberration,
    relative to the aberration-free peak (noise-free fields)."""
    hw = bench.system
    u = hw.input_field(bench.point_image())
    flat = slm.encode(np.zeros(slm.resolution), bench.config.wavelength)
    perfect = np.abs(hw.propagate(u, hw.fourier_mask(frame=bench.slm.encode(np.zeros(slm.resolution))))) ** 2
    seen = np.abs(hw.propagate(u, hw.fourier_mask(frame=flat) * np.exp(1j * aberration))) ** 2
    return float(seen.max() / perfect.max())


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], argv)
    small = args.size == "small"
    n = 64 if small else 128
    lam = 633e-9
    slm_px = n // 2  # SLM pixels per side (bench: 2 Fourier samples per SLM pixel, pad 2)
    pitch = 8e-6
    radius = 0.3 * slm_px * pitch  # iris radius on the SLM, m
    modes = list(range(3, 11)) if small else list(range(3, 15))
    truth_rng = np.random.default_rng(1234)
    true = {j: float(c) for j, c in zip(modes, truth_rng.normal(0.0, 0.03, len(modes)) * lam)}

    bench = SimulatedBench(bench_config(n, wavelength=lam, pitch=pitch, fourier_aperture=radius), seed=args.seed)
    aberration = zernike_phase(bench.system.fourier_grid, true, radius, lam)
    point = bench.point_image()
    bench.set_exposure(bench.uniform_frame(0), point, peak=0.6)
    dark = bench.dark_frame(8)
    slm = bench.slm
    amps = np.linspace(-0.15, 0.15, 5 if small else 7) * lam

    cal, first = None, None
    for _ in range(2):
        base = None if cal is None else cal.correction(slm.grid)
        phases, pm, pa = sweep_phases(slm.grid, modes, amps, radius, lam, base=base)
        slm_frames = np.stack([slm.encode(p, lam) for p in phases])
        frames = simulate_spot_frames(bench.system, slm_frames, aberration, point, rng=bench.rng)
        cal = calibrate_wavefront(frames, pm, pa, radius, lam, dark=dark, previous=cal, truth=true,
                                  bench=describe_bench(bench.config))
        first = first or (frames, pm, pa)

    rec = cal.coefficients

    # Phase retrieval on the same bench: 3 frames (in focus, +-lambda/8 of defocus) instead of
    # 2 x len(modes) x len(amps); it needs the bench's scale (f2, camera pitch).
    divs = [{}, {4: lam / 8}, {4: -lam / 8}]
    div_frames = np.stack([slm.encode(p, lam) for p in diversity_phases(slm.grid, divs, radius, lam)])
    frames_pd = simulate_spot_frames(bench.system, div_frames, aberration, point, rng=bench.rng)
    cal_pd = calibrate_wavefront_diversity(frames_pd, divs, modes, radius, lam, bench.config.f2,
                                           bench.camera.pixel_pitch, dark=dark, truth=true,
                                           bench=describe_bench(bench.config))
    rec_pd = cal_pd.coefficients
    s_before = strehl(bench, aberration, slm)
    s_after = strehl(bench, aberration, cal.apply_to_slm(slm))
    # The best an SLM of finite pixels can do: the exact coefficients as its correction.
    s_best = strehl(bench, aberration, make_calibration(true, radius, lam).apply_to_slm(slm))
    rep = Report(f"Wavefront (Zernike sweep, {len(modes)} modes x {len(amps)} amplitudes, 2 passes; phase "
                 f"diversity, 3 frames), lambda = {lam * 1e9:.0f} nm; coefficients in nm RMS")
    tol = lam / 60 * 1e9
    for j in modes:
        rep.add(f"Z{j}", true[j] * 1e9, rec.get(j, 0.0) * 1e9, tol, "nm")
    rep.add("residual RMS wavefront", 0.0, residual_rms(true, rec) * 1e9, lam / 30 * 1e9, "nm")
    rep.add("Strehl (vs exact correction)", s_best, s_after, 0.02, "1")
    rep.add("phase diversity: max |error|", 0.0, max(abs(rec_pd.get(j, 0.0) - true[j]) for j in modes) * 1e9,
            tol, "nm")
    rep.add("phase diversity: residual RMS", 0.0, residual_rms(true, rec_pd) * 1e9, lam / 30 * 1e9, "nm")
    print(f"Strehl ratio before correction: {s_before:.3f}; after: {s_after:.3f}; with the exact coefficients "
          f"{s_best:.3f} (the limit of the pixelated, quantised SLM)")

    path = cal.save(args.out / "wavefront.h5", overwrite=True)
    path_pd = cal_pd.save(args.out / "wavefront_diversity.h5", overwrite=True)
    fig, ax = figure(1, 4)
    frames, pm, pa = first
    k = np.argmin(np.abs(pa))  # the first mode's zero-amplitude probe: the uncorrected spot
    c = n // 2
    w = slice(c - 12, c + 12)
    ax[0, 0].imshow(frames[k][w, w] - dark[w, w], cmap="gray")
    ax[0, 0].set_title("spot, uncorrected")
    corr = simulate_spot_frames(bench.system, cal.apply_to_slm(slm).encode(np.zeros(slm.resolution), lam)[None],
                                aberration, point, rng=bench.rng)[0]
    ax[0, 1].imshow(corr[w, w] - dark[w, w], cmap="gray")
    ax[0, 1].set_title("spot, corrected")
    metric = fit_sweep(frames, pm, pa, dark)["metric"]
    for j in modes[:4]:
        sel = pm == j
        ax[0, 2].plot(pa[sel] / lam, np.log(metric[sel]), "o-", ms=3, label=f"Z{j}")
    ax[0, 2].set_xlabel("probe amplitude (waves RMS)")
    ax[0, 2].set_ylabel("log sharpness")
    ax[0, 2].legend(fontsize=6)
    ax[0, 2].set_title("sweep (pass 1)")
    g = slm.grid
    resid = zernike_phase(g, true, radius, lam) + cal.correction(g)
    h = int(np.ceil(radius / slm.pitch)) + 1
    cy, cx = (r // 2 for r in slm.resolution)
    im = ax[0, 3].imshow(resid[cy - h:cy + h, cx - h:cx + h] / (2 * np.pi), cmap="RdBu")
    fig.colorbar(im, ax=ax[0, 3])
    ax[0, 3].set_title("residual wavefront (waves)")
    png = save_figure(fig, args.out / "wavefront.png")
    return finish(rep, args, [path, path_pd, png])


if __name__ == "__main__":
    sys.exit(main())
