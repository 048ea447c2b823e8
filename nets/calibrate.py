"""``optics4f calibrate KIND``: the lab loop of a calibration, on files (calib.lab does the science).

    optics4f calibrate lut --write-probes probes/ --slm holoeye-pluto-2 --wavelength 633e-9 --f2 0.2 \\
        --camera-pitch 5.5e-6 --camera-shape 1024x1280
    (display each probe of probes/manifest.json, save the camera frames as the manifest says, in frames/)
    optics4f calibrate lut --frames frames/ --manifest probes/manifest.json --out lut.h5
    optics4f calibrate lut --simulate demo/ --slm holoeye-pluto-2     (the three steps on a simulated bench)

``--write-probes DIR`` writes the SLM frames in the panel's format (:mod:`nets.export.formats`: PNG,
BMP or Santec CSV at the panel's resolution and bit depth), the input-display images (8-bit PNG) and
``manifest.json`` (capture order, file names, exposure hint, the bench). ``--frames DIR`` reads the
captured frames (calib.lab.read_captures) and writes the calibration HDF5 file with its uncertainty.
``--simulate DIR`` runs a simulated bench with known errors through the same files on disk
(DIR/probes, DIR/frames, DIR/KIND.h5) and prints the true and recovered values against the stated
tolerances (exit status 1 when one is missed). Outputs never replace existing files without --force;
folders are written in full under a temporary name and renamed into place.

With :mod:`nets.cli` this module is the application layer (docs/architecture.md#layers): it wires
the calibration routines (``calib``) to the panel's frame files (``nets.export.formats``).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from optics4f.io.atomic import atomic_dir, atomic_path

__all__ = ["add_arguments", "run", "write_probes", "capture_simulated", "calibrate_frames", "simulate",
           "TOLERANCES"]

#: Stated tolerances of the simulated demonstration: name -> (tolerance, relative?).
TOLERANCES = {
    "lut": {"gray_2pi": (2.0, False), "lut_rms": (0.06, False)},
    "registration": {"scale_x": (0.01, True), "scale_y": (0.01, True), "rotation": (2e-3, False),
                     "dc_row": (0.3, False), "dc_col": (0.3, False)},
    "detector": {"gain": (0.03, True), "dark_noise": (0.05, True), "saturation_capacity": (0.03, True),
                 "black_level": (0.5, False)},
    "crosstalk": {"fringing_sigma": (0.1, True), "fill_factor": (0.02, False)},
    "wavefront": {"residual_rms": (633e-9 / 30, False)},  # two sweep passes
    "focus": {"camera_defocus": (0.05e-3, False), "fourier_defocus": (0.15e-3, False)},
}


def _write_json(path: Path, obj) -> None:
    with atomic_path(path, suffix=".json") as t:
        Path(t).write_text(json.dumps(obj, indent=1, default=_jsonable) + "\n")


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON-serialisable: {type(v).__name__}")


# ------------------------------------------------------------------------------------------ step 1
def write_probes(kind: str, slm, out, bench: dict, fmt: str = "png", force: bool = False, display_shape=(64, 64),
                 **options) -> Path:
    """Write the probes of ``kind`` for ``slm`` into the new folder ``out``; returns the manifest path."""
    from calib.lab import MANIFEST_NAME, make_probes
    from nets.export.formats import FORMATS, write_frame, write_png

    if fmt not in ("png", "bmp", "csv"):
        raise ValueError(f"--format {fmt!r}: probe frames are written as png, bmp (8-bit panels) or csv (Santec)")
    if fmt == "bmp" and slm.bit_depth > 8:
        raise ValueError(f"--format bmp holds 8-bit frames; {slm.name!r} has {slm.bit_depth} bits: use png or csv")
    geo = bench.get("geometry", {})
    for key, value in (("wavelength", bench.get("wavelength")), ("f1", geo.get("f1")),
                       ("display_pitch", geo.get("display_pitch"))):
        if value is not None:
            options.setdefault(key, value)
    need = {"wavefront": ("wavelength",), "focus": ("wavelength", "f1", "display_pitch")}.get(kind, ())
    missing = [k for k in need if k not in options]
    if missing:
        flags = " ".join("--" + m.replace("_", "-") for m in missing)
        raise ValueError(f"the {kind} probes need the bench's {', '.join(missing)} ({flags})")
    if "previous" in options:  # an earlier wavefront pass: its correction is shown under every probe
        from calib.base import load as load_calibration

        options["previous"] = load_calibration(options["previous"])
    probes = make_probes(kind, slm, display_shape, **options)
    out = Path(out)
    with atomic_dir(out, overwrite=force, what="probe folder") as tmp:
        files = []
        for i, frame in enumerate(probes.frames):
            name = f"probe_{i:03d}{FORMATS[fmt]}"
            write_frame(tmp / name, frame, fmt, bit_depth=slm.bit_depth)
            files.append(name)
        displays = {}
        for key, img in probes.displays.items():
            name = f"display_{key}.png"
            write_png(tmp / name, np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8), bit_depth=8)
            displays[key] = name
        slm_info = {"name": slm.name, "resolution": list(slm.resolution), "pitch": float(slm.pitch),
                    "bit_depth": int(slm.bit_depth), "mode": slm.mode, "format": fmt}
        _write_json(tmp / MANIFEST_NAME, probes.manifest(slm_info, bench, files, displays))
    return out / MANIFEST_NAME


def read_manifest(path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"no probe manifest {str(path)!r}; give --manifest PROBES/manifest.json (written by "
                                "--write-probes)")
    m = json.loads(path.read_text())
    if m.get("format") != "optics4f-calibration-probes":
        raise ValueError(f"{str(path)!r} is not a calibration probe manifest (written by --write-probes)")
    m["_dir"] = str(path.parent)
    return m


# ------------------------------------------------------------------------------------------ step 2 (simulated)
def _true_lut(levels, gray_2pi, bow=0.25):
    """The simulated panel's nonlinear response (rad), gray up = phase down."""
    g = np.arange(levels, dtype=np.float64)
    shape = lambda x: x * (1 + bow * np.sin(np.pi * x / (levels - 1)))  # noqa: E731
    return -2 * np.pi * shape(g) / shape(gray_2pi)


def simulated_bench(kind: str, preset: str, n: int = 64, seed: int = 0, wavelength: float = 633e-9,
                    bench_errors: str | None = None):
    """(SimulatedBench, nominal SLM the lab believes in, truth) with the known errors of ``kind``:
    lut: a bowed LUT reaching 2 pi at 86 % of the range (or, with ``bench_errors`` such as
    "lut_gamma=1.3,gray_2pi=230", the panel response of ``optics4f simulate --bench-errors``);
    registration: SLM rotated by 30 mrad, tilted
    and shifted by (1.7, -2.3) px; detector: a camera of gain 0.18 ADU/e-, 4 e- read noise."""
    from calib.bench import SimulatedBench, bench_config
    from optics4f.devices import slm_preset

    ref = slm_preset(preset)
    pitch = float(ref.pitch)
    if kind == "lut":
        levels = 2**ref.bit_depth
        if bench_errors:
            from optics4f.system.bench_errors import parse_bench_errors, true_lut

            true = true_lut(ref, parse_bench_errors(bench_errors))
        else:
            true = _true_lut(levels, 0.86 * (levels - 1))
        b = SimulatedBench(bench_config(n, wavelength=wavelength, pitch=pitch,
                                        slm=dict(lut=true, design_wavelength=wavelength, bit_depth=ref.bit_depth)),
                           seed=seed)
        return b, slm_preset(preset, resolution=b.slm.resolution), b.slm
    if kind == "registration":
        rot, tilt, shift_px = 0.03, (0.4e-3, -0.8e-3), (1.7, -2.3)
        mis = dict(slm_rotation=rot, slm_tilt=tilt, slm_shift=tuple(s * pitch for s in shift_px))
        b = SimulatedBench(bench_config(n, wavelength=wavelength, pitch=pitch,
                                        slm=dict(gray_2pi=0.9 * (2**ref.bit_depth - 1), bit_depth=ref.bit_depth),
                                        misalignment=mis), seed=seed)
        cy, cx = b.camera_center
        off = 2 * b.config.f2 * np.sin(np.asarray(tilt)) / b.config.camera.pixel_pitch
        truth = {"scale_x": b.order_spacing, "scale_y": b.order_spacing, "rotation": rot, "shear": 0.0,
                 "dc_row": cy + off[0], "dc_col": cx + off[1]}
        return b, slm_preset(preset, resolution=b.slm.resolution), truth
    if kind == "detector":
        from calib.bench import default_camera

        cam = default_camera(n, 8e-6, gain=0.18, dark_current=0.0, exposure_time=1e-2, read_noise=4.0,
                             full_well=2.0e4, quantum_efficiency=0.7, offset=100.0, bit_depth=12)
        b = SimulatedBench(bench_config(n, wavelength=wavelength, pitch=pitch, camera=cam), seed=seed)
        truth = {"gain": cam.adu_per_electron, "dark_noise": cam.read_noise, "saturation_capacity": cam.full_well,
                 "black_level": cam.offset}
        return b, slm_preset(preset, resolution=b.slm.resolution), truth
    if kind == "crosstalk":
        sigma_px, fill = 0.3, 0.9
        b = SimulatedBench(bench_config(n, slm_samples=4, wavelength=wavelength, pitch=pitch,
                                        slm=dict(fringing_sigma=sigma_px * pitch, fill_factor=fill, gray_2pi=240,
                                                 bit_depth=8)), seed=seed)
        b.probe_options = {"gray": 120}  # the pi level the lab's LUT calibration gave
        return b, slm_preset(preset, resolution=b.slm.resolution, bit_depth=8), \
            {"fringing_sigma": sigma_px * pitch, "fill_factor": fill}
    if kind == "wavefront":
        from optics4f.zernike import zernike_phase

        radius = 0.3 * (n // 2) * pitch
        modes = list(range(3, 11))
        true = {j: float(c) for j, c in zip(modes, np.random.default_rng(1234).normal(0.0, 0.03, len(modes))
                                            * wavelength)}
        b = SimulatedBench(bench_config(n, wavelength=wavelength, pitch=pitch, fourier_aperture=radius,
                                        slm=dict(bit_depth=ref.bit_depth)), seed=seed)
        b.hidden_aberration = zernike_phase(b.system.fourier_grid, true, radius, wavelength)
        b.probe_options = {"radius": radius, "modes": modes}
        return b, slm_preset(preset, resolution=b.slm.resolution), true
    if kind == "focus":
        dz_cam, dz_fou = 0.37e-3, -0.8e-3
        b = SimulatedBench(bench_config(n, wavelength=wavelength, pitch=pitch, slm=dict(bit_depth=ref.bit_depth),
                                        misalignment=dict(camera_defocus=dz_cam, fourier_defocus=dz_fou)), seed=seed)
        return b, slm_preset(preset, resolution=b.slm.resolution), {"camera_defocus": dz_cam,
                                                                     "fourier_defocus": dz_fou}
    raise ValueError(f"--simulate knows the kinds lut, registration, detector, crosstalk, wavefront, focus; "
                     f"got {kind!r}")


def _read_probe(manifest, name):
    from nets.export.formats import read_frame

    return read_frame(Path(manifest["_dir"]) / name, manifest["slm"]["format"])


def _read_display(manifest, name):
    from nets.export.formats import read_png

    return read_png(Path(manifest["_dir"]) / name).astype(np.float64) / 255.0


def capture_simulated(manifest: dict, bench, out, fmt: str = "png", force: bool = False) -> Path:
    """Play the lab: show each probe of ``manifest`` (read back from its files) on the simulated ``bench`` and
    save the camera frames under the manifest's names (``fmt``: png/tiff (16-bit), npy, or h5: one stack)."""
    from calib.detector import simulate_sensor_frames
    from PIL import Image

    caps = manifest["captures"]
    frames = []
    if manifest["kind"] == "detector":
        cam = bench.camera
        sat = cam.full_well / cam.quantum_efficiency  # photons that fill the well
        for c in caps:
            photons = 0.0 if c["display"] == "off" else float(c["exposure"]) * sat
            frames.append(simulate_sensor_frames(cam, photons, 1, bench.rng)[0])
    elif manifest["kind"] == "focus":  # stage scans; the SLM scan with the camera refocused by the camera scan
        scans = {"camera": bench, "slm": bench.with_misalignment(camera_defocus=0.0)}
        key = {"camera": "camera_defocus", "slm": "fourier_defocus"}
        for stage, b in scans.items():
            first = min((c for c in caps if c.get("stage") == stage), key=lambda c: abs(c["z"]))  # the stage at 0
            b.set_exposure(_read_probe(manifest, first["slm_file"]), _read_display(manifest, first["display_file"]))
        for c in caps:
            if c["probe"] is None:
                frames.append(bench.dark_frame(1))
                continue
            b = scans[c["stage"]]
            moved = b.with_misalignment(**{key[c["stage"]]: getattr(b.config.misalignment, key[c["stage"]]) + c["z"]})
            frames.append(moved.record(_read_probe(manifest, c["slm_file"]),
                                       _read_display(manifest, c["display_file"]))[0])
    else:
        if manifest["kind"] == "registration":
            ref = caps[len(manifest["probe_files"]) // 2]  # nu = 0: the DC
        else:
            ref = caps[0]  # a flat panel
        if manifest["kind"] == "wavefront":  # the aberration-free spot at 60 %: no corrected probe can clip
            bench.set_exposure(bench.uniform_frame(0), _read_display(manifest, ref["display_file"]), 0.6)
        else:
            bench.set_exposure(_read_probe(manifest, ref["slm_file"]), _read_display(manifest, ref["display_file"]),
                               0.6)
        hidden = getattr(bench, "hidden_aberration", None)
        for c in caps:
            if c["probe"] is None:  # source off: black level and read noise
                frames.append(bench.dark_frame(1))
            elif hidden is not None:
                from calib.wavefront import simulate_spot_frames

                frames.append(simulate_spot_frames(bench.system, _read_probe(manifest, c["slm_file"])[None], hidden,
                                                   _read_display(manifest, c["display_file"]), rng=bench.rng)[0])
            else:
                frames.append(bench.record(_read_probe(manifest, c["slm_file"]),
                                           _read_display(manifest, c["display_file"]))[0])
    frames = np.rint(np.clip(np.asarray(frames), 0, 65535)).astype(np.uint16)
    out = Path(out)
    with atomic_dir(out, overwrite=force, what="capture folder") as tmp:
        if fmt == "h5":
            import h5py

            with atomic_path(tmp / "captures.h5", suffix=".h5") as t, h5py.File(t, "w") as f:
                f.create_dataset("frames", data=frames)
        else:
            for c, fr in zip(caps, frames):
                path = tmp / (c["name"] + {"png": ".png", "tiff": ".tif", "npy": ".npy"}[fmt])
                with atomic_path(path, suffix=path.suffix) as t:
                    if fmt == "npy":
                        with open(t, "wb") as fh:
                            np.save(fh, fr)
                    else:
                        Image.fromarray(fr).save(t, format="PNG" if fmt == "png" else "TIFF")
    return out


# ------------------------------------------------------------------------------------------ step 3
def calibrate_frames(frames_dir, manifest, out, registration=None, force: bool = False, truth=None):
    """Read the captures of ``manifest`` from ``frames_dir``, fit, save the calibration to ``out``; returns it."""
    from calib.base import load as load_calibration
    from calib.lab import analyse, read_captures

    m = read_manifest(manifest) if not isinstance(manifest, dict) else manifest
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{str(out)!r} exists; pass --force to replace it, or choose another --out")
    if Path(frames_dir).resolve() == out.resolve() or out.resolve() == Path(m["_dir"]).resolve():
        raise ValueError(f"--out {str(out)!r} would replace an input; choose another file")
    reg = load_calibration(registration) if isinstance(registration, (str, Path)) else registration
    cal = analyse(m, read_captures(frames_dir, m), registration=reg, truth=truth)
    cal.save(out, overwrite=force)
    return cal


def _rows(kind, cal, truth):
    """(name, true, recovered, sigma, tolerance, relative, ok) for the simulated demonstration."""
    rows = []
    for name, (tol, rel) in TOLERANCES[kind].items():
        if name == "lut_rms":
            err = cal.values["lut"] - cal.truth["lut"]
            t, r, s = 0.0, float(np.sqrt(np.mean(err**2))), float(np.sqrt(np.mean(cal.uncertainty["lut"] ** 2)))
        elif name == "residual_rms":
            from calib.wavefront import residual_rms

            t, r = 0.0, residual_rms(truth, cal.coefficients)
            s = float(np.sqrt(np.sum(np.asarray(cal.uncertainty["zernike_coefficients"]) ** 2)))
        else:
            t = float(cal.truth[name]) if kind == "lut" else float(truth[name])
            r, s = float(cal.values[name]), float(cal.uncertainty.get(name, float("nan")))
        e = abs(r - t) / abs(t) if rel else abs(r - t)
        rows.append((name, t, r, s, tol, rel, bool(e <= tol)))
    return rows


def simulate(kind: str, folder, preset: str = "holoeye-pluto-2", n: int = 64, seed: int = 0, fmt: str = "png",
             capture_format: str = "png", force: bool = False, wavelength: float = 633e-9,
             bench_errors: str | None = None):
    """The three steps on a simulated bench with known errors, through files in ``folder``: returns
    (calibration, rows of :func:`_rows`)."""
    from calib.benchinfo import describe_bench

    folder = Path(folder)
    if bench_errors and kind != "lut":
        raise ValueError("--bench-errors sets the simulated panel's LUT: it goes with the lut kind")
    bench, nominal, truth = simulated_bench(kind, preset, n, seed, wavelength, bench_errors)
    folder.mkdir(parents=True, exist_ok=True)
    options = dict(getattr(bench, "probe_options", {}))
    if kind == "wavefront":  # a first sweep; the second (below) runs with its correction on the panel
        m1 = read_manifest(write_probes(kind, nominal, folder / "pass1" / "probes", describe_bench(bench.config), fmt,
                                        force, display_shape=bench.config.display.resolution, **options))
        capture_simulated(m1, bench, folder / "pass1" / "frames", capture_format, force)
        calibrate_frames(folder / "pass1" / "frames", m1, folder / "pass1" / f"{kind}.h5", force=force, truth=truth)
        options["previous"] = str(folder / "pass1" / f"{kind}.h5")
    manifest = write_probes(kind, nominal, folder / "probes", describe_bench(bench.config), fmt, force,
                            display_shape=bench.config.display.resolution, **options)
    m = read_manifest(manifest)
    capture_simulated(m, bench, folder / "frames", capture_format, force)
    cal = calibrate_frames(folder / "frames", m, folder / f"{kind}.h5", force=force, truth=truth)
    return cal, _rows(kind, cal, truth)


# ------------------------------------------------------------------------------------------ CLI
def _shape(text):
    try:
        r, c = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ValueError(f"a shape is ROWSxCOLS (e.g. 1024x1280), got {text!r}") from None
    return (r, c)


def add_arguments(p):
    from pathlib import Path as P

    from calib.lab import LAB_KINDS

    p.add_argument("kind", choices=LAB_KINDS, help="what to calibrate")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write-probes", type=P, metavar="DIR", help="write the probe frames and manifest (new folder)")
    mode.add_argument("--frames", type=P, metavar="DIR", help="captured camera frames -> calibration file (--out)")
    mode.add_argument("--simulate", type=P, metavar="DIR",
                      help="the three steps on a simulated bench with known errors, through files in DIR")
    p.add_argument("--slm", default="holoeye-pluto-2", metavar="PRESET", help="SLM preset (default holoeye-pluto-2)")
    p.add_argument("--format", default="png", choices=("png", "bmp", "csv"), help="probe frame files (default png)")
    p.add_argument("--out", type=P, default=None, metavar="FILE", help="with --frames: the calibration HDF5 file")
    p.add_argument("--manifest", type=P, default=None, metavar="FILE",
                   help="with --frames: the probes' manifest.json (default: FRAMES/manifest.json)")
    p.add_argument("--registration", type=P, default=None, metavar="FILE",
                   help="with --frames (lut): a registration calibration placing the grating orders")
    p.add_argument("--previous", type=P, default=None, metavar="FILE",
                   help="with --write-probes (wavefront): a first pass's calibration, shown under every probe")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    g = p.add_argument_group("bench (recorded in the manifest and the calibration file)")
    g.add_argument("--wavelength", type=float, default=633e-9, help="m (default 633e-9)")
    g.add_argument("--f1", type=float, default=None, help="Fourier lens focal length, m")
    g.add_argument("--f2", type=float, default=None, help="imaging lens focal length, m (the LUT needs it)")
    g.add_argument("--camera-pitch", type=float, default=None, help="camera pixel pitch, m")
    g.add_argument("--camera-shape", default=None, metavar="ROWSxCOLS", help="camera pixels")
    g.add_argument("--camera-bits", type=int, default=12, help="camera bit depth (default 12)")
    g.add_argument("--display-pitch", type=float, default=None, help="input display pixel pitch, m")
    g.add_argument("--display-shape", default="64x64", metavar="ROWSxCOLS",
                   help="input display pixels for the display images (default 64x64)")
    s = p.add_argument_group("--simulate")
    s.add_argument("--n", type=int, default=64, help="simulated bench samples per side (default 64)")
    s.add_argument("--seed", type=int, default=0, help="camera noise seed (default 0)")
    s.add_argument("--bench-errors", default=None, metavar="SPEC",
                   help="lut: the panel response of `optics4f simulate --bench-errors SPEC` (lut_gamma=..,gray_2pi=..)")
    s.add_argument("--capture-format", default="png", choices=("png", "tiff", "npy", "h5"),
                   help="how the simulated camera saves its frames (default png)")
    return run


def _bench_from_args(args, slm) -> dict:
    bench = {"wavelength": float(args.wavelength),
             "slm": {"name": slm.name, "mode": slm.mode, "resolution": tuple(slm.resolution), "pitch": float(slm.pitch),
                     "bit_depth": int(slm.bit_depth)}}
    if args.camera_pitch is not None or args.camera_shape is not None:
        cam = {"bit_depth": int(args.camera_bits)}
        if args.camera_pitch is not None:
            cam["pixel_pitch"] = float(args.camera_pitch)
        if args.camera_shape is not None:
            cam["shape"] = _shape(args.camera_shape)
        bench["camera"] = cam
    geo = {k: float(v) for k, v in (("f1", args.f1), ("f2", args.f2), ("display_pitch", args.display_pitch))
           if v is not None}
    if geo:
        bench["geometry"] = geo
    return bench


def run(args) -> int:
    from optics4f.devices import slm_preset

    try:
        if args.simulate is not None:
            cal, rows = simulate(args.kind, args.simulate, args.slm, args.n, args.seed, args.format,
                                 args.capture_format, args.force, args.wavelength, args.bench_errors)
            print(f"{args.kind} calibration on a simulated bench, through {args.simulate}/probes -> "
                  f"{args.simulate}/frames -> {args.simulate}/{args.kind}.h5")
            print(f"{'quantity':<22}{'true':>13}{'recovered':>13}{'sigma':>11}{'tolerance':>11}  ok")
            for name, t, r, s, tol, rel, ok in rows:
                print(f"{name:<22}{t:>13.6g}{r:>13.6g}{s:>11.3g}{tol:>9.3g}{' rel ' if rel else '     '}"
                      f"{'yes' if ok else 'NO'}")
            return 0 if all(r[-1] for r in rows) else 1
        if args.write_probes is not None:
            slm = slm_preset(args.slm)
            extra = {} if args.previous is None else {"previous": str(args.previous)}
            manifest = write_probes(args.kind, slm, args.write_probes, _bench_from_args(args, slm), args.format,
                                    args.force, _shape(args.display_shape), **extra)
            m = json.loads(manifest.read_text())
            print(f"wrote {len(m['probe_files'])} probe frame(s) ({slm.name}, {slm.resolution[1]} x {slm.resolution[0]}"
                  f" px, {slm.bit_depth} bit, {args.format}) and {manifest}: capture {len(m['captures'])} frame(s) "
                  "as it lists them")
            return 0
        if args.out is None:
            raise ValueError("--frames needs --out FILE (the calibration file to write)")
        manifest = args.manifest if args.manifest is not None else args.frames / "manifest.json"
        cal = calibrate_frames(args.frames, manifest, args.out, args.registration, args.force)
        main = {"lut": "gray_2pi", "registration": "rotation", "detector": "gain", "crosstalk": "fill_factor",
                "wavefront": "zernike_coefficients", "focus": "fourier_defocus"}[args.kind]
        v, sd = np.asarray(cal.values[main]), np.asarray(cal.uncertainty.get(main, np.nan))
        if v.ndim:  # an array: its RMS and the RMS of its sigmas
            v, sd = np.sqrt(np.mean(v**2)), np.sqrt(np.mean(sd**2))
        print(f"wrote {args.out}: {args.kind} calibration, {main}{' (rms)' if np.ndim(cal.values[main]) else ''} = "
              f"{float(v):.6g} +- {float(sd):.2g} {cal.units[main]}")
        return 0
    except (KeyError, ValueError, TypeError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        raise SystemExit(f"optics4f calibrate: error: {msg}") from e
