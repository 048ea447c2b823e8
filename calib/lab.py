"""The lab loop of a calibration: probe frames out, captured frames in, a calibration file back.

A lab runs each calibration in three steps (``optics4f calibrate KIND``, :mod:`nets.calibrate`):

1. :func:`make_probes` builds the SLM frames to display (gray levels at the panel's resolution and
   bit depth), the input-display images to show with them, and the list of camera captures to take
   (:class:`ProbeSet`; written to disk with a manifest that says, for every capture, what the panel
   and the display show, the exposure and the file name the frame must be saved under);
2. the lab displays each probe and saves the camera frames under the manifest's names (PNG/TIFF
   8/16-bit, NPY, or one HDF5 stack in manifest order; :func:`read_captures`);
3. :func:`analyse` runs the calibration routine of the kind on those frames and returns the
   :class:`calib.base.Calibration`, with its uncertainty and the bench of the manifest.

Kinds (``LAB_KINDS``): ``lut`` (binary gratings against gray 0, point source), ``registration``
(blazed-grating spot grid, Gaussian spot on the display), ``detector`` (EMVA 1288: dark frames,
flat frames and an exposure series of pairs; no SLM frames), ``crosstalk`` (binary gratings of
several periods at the pi gray), ``wavefront`` (Zernike sweep on a point source) and ``focus``
(a stage scan of the camera with a point on the display, then of the SLM with a pinhole patch and a
window on the display; the manifest gives the stage position of every capture). The bench description (SI units) the
analysis needs is that of :func:`calib.benchinfo.describe_bench`: the LUT needs lambda f2 /
(p_slm p_cam) for the order spacing (or a registration file).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from optics4f.devices.slm import gray_dtype

from .frames import HDF5_SUFFIXES, IMAGE_SUFFIXES, load_frames

__all__ = ["LAB_KINDS", "ProbeSet", "make_probes", "analyse", "read_captures", "MANIFEST_NAME", "FRAME_SUFFIXES"]

LAB_KINDS = ("lut", "registration", "detector", "crosstalk", "wavefront", "focus")
MANIFEST_NAME = "manifest.json"
FRAME_SUFFIXES = (".png", ".tif", ".tiff", ".npy")
N_DARK = 4  # dark frames averaged into the black level


@dataclass
class ProbeSet:
    """What to display and capture for one calibration.

    frames : (n, ny, nx) integer gray levels for the SLM (n may be 0: detector).
    displays : name -> input-display image (float in [0, 1]).
    captures : list of dicts, in capture order: ``name`` (file stem of the camera frame), ``probe``
        (index into frames or None: SLM not used), ``display`` (a key of displays, "off" or "uniform"),
        ``exposure`` (relative exposure, 1 = the reference exposure the hint describes) and ``note``.
    analysis : parameters of the fit (JSON-able).
    exposure_hint : how to set the reference exposure.
    """

    kind: str
    frames: np.ndarray
    displays: dict
    captures: list
    analysis: dict = field(default_factory=dict)
    exposure_hint: str = ""

    def manifest(self, slm_info: dict, bench: dict, probe_files: list, display_files: dict) -> dict:
        """The JSON-able manifest (``probe_files``: file names of the SLM frames in order)."""
        caps = []
        for i, c in enumerate(self.captures):
            d = dict(c, order=i)
            d["slm_file"] = None if c["probe"] is None else probe_files[c["probe"]]
            d["display_file"] = display_files.get(c["display"])
            caps.append(d)
        return {"format": "optics4f-calibration-probes", "version": 1, "kind": self.kind, "slm": slm_info,
                "bench": bench, "exposure_hint": self.exposure_hint, "analysis": self.analysis,
                "probe_files": list(probe_files), "display_files": dict(display_files), "captures": caps,
                "capture_formats": "PNG or TIFF (8/16-bit gray), .npy, or one HDF5 stack captures.h5 (dataset "
                                   "'frames', in capture order)"}


def _gaussian(shape, sigma):
    ny, nx = shape
    y = (np.arange(ny) - ny // 2)[:, None]
    x = (np.arange(nx) - nx // 2)[None, :]
    return np.exp(-(x**2 + y**2) / (2.0 * float(sigma) ** 2))


def _darks():
    return [dict(name=f"dark_{i:03d}", probe=None, display="off", exposure=1.0,
                 note="source off (or the display dark), same exposure: the black level") for i in range(N_DARK)]


def make_probes(kind: str, slm, display_shape=(64, 64), **options) -> ProbeSet:
    """The probes of calibration ``kind`` for panel ``slm`` (optics4f.devices.SLM) and an input display of
    ``display_shape`` pixels. Options: lut: ``step`` (gray step, 8), ``period`` (8 px); registration:
    ``grid`` (3: a 3 x 3 grid), ``max_nu`` (0.2 cycles/px); detector: ``levels`` (20 exposures),
    ``n_flat`` / ``n_dark`` (16); crosstalk: ``periods`` ((2, 4, 8) px), ``gray`` (the pi level, default half
    the 2 pi level); wavefront: ``wavelength`` (m, required), ``radius`` (iris on the SLM, m), ``modes``
    (ANSI 3..10), ``amplitudes`` (5, over +-0.15 waves); focus: ``wavelength``, ``f1``, ``display_pitch``
    (m, required: they size the window), ``camera_z`` / ``slm_z`` (stage positions, m)."""
    if kind == "lut":
        from .lut import grating_frames

        if slm.mode != "phase":
            raise ValueError(f"a LUT calibration needs a phase SLM, {slm.name!r} is {slm.mode!r}")
        step, period = int(options.get("step", 8)), int(options.get("period", 8))
        grays = np.arange(0, slm.levels, step)
        frames = grating_frames(slm.resolution, grays, period=period, bit_depth=slm.bit_depth)
        caps = [dict(name=f"capture_{i:03d}", probe=i, display="source", exposure=1.0,
                     note=f"binary grating, gray 0 / gray {int(g)}, period {period} px") for i, g in enumerate(grays)]
        return ProbeSet("lut", frames, {"source": _gaussian(display_shape, 1.0)}, caps + _darks(),
                        {"grays": grays.tolist(), "period": period, "half_width": 2, "sign": -1},
                        "with capture_000 (flat gray 0) displayed, set the exposure so that the brightest pixel "
                        "(the zero order) reaches about 60 % of full scale; keep it for every capture")
    if kind == "registration":
        from .registration import spot_grid, spot_grid_frames

        nus = spot_grid(int(options.get("grid", 3)), float(options.get("max_nu", 0.2)))
        frames = spot_grid_frames(slm, nus)
        caps = [dict(name=f"capture_{i:03d}", probe=i, display="source", exposure=1.0,
                     note=f"blazed grating nu = ({nu[0]:.4g}, {nu[1]:.4g}) cycles/px") for i, nu in enumerate(nus)]
        return ProbeSet("registration", frames, {"source": _gaussian(display_shape, 1.0)}, caps + _darks(),
                        {"nus": nus.tolist(), "half_width": 3},
                        f"with capture_{nus.shape[0] // 2:03d} (nu = 0, the DC) displayed, set the exposure so that "
                        "the brightest pixel reaches about 60 % of full scale; keep it for every capture")
    if kind == "detector":
        levels = int(options.get("levels", 20))
        n_flat, n_dark = int(options.get("n_flat", 16)), int(options.get("n_dark", 16))
        rel = np.linspace(0.0, 1.25, levels)  # relative exposures: dark to beyond saturation
        caps = [dict(name=f"dark_{i:03d}", probe=None, display="off", exposure=1.0, note="light blocked")
                for i in range(n_dark)]
        caps += [dict(name=f"flat_{i:03d}", probe=None, display="uniform", exposure=0.5,
                      note="uniform illumination at about half of saturation") for i in range(n_flat)]
        for k, r in enumerate(rel):
            caps += [dict(name=f"series_{k:03d}_{ab}", probe=None, display="uniform", exposure=float(r),
                          note=f"exposure series level {k}: {r:.3g} x the saturation exposure, pair {ab}")
                     for ab in "ab"]
        caps += [dict(name=f"darkpair_{ab}", probe=None, display="off", exposure=1.0, note="light blocked, pair")
                 for ab in "ab"]
        return ProbeSet("detector", np.zeros((0,) + tuple(slm.resolution), dtype=np.uint8), {}, caps,
                        {"exposures": rel.tolist(), "n_flat": n_flat, "n_dark": n_dark},
                        "exposure 1 = the exposure time (or light level) at which the camera just saturates under "
                        "the uniform illumination; the series spans 0..1.25 of it in equal steps")
    if kind == "crosstalk":
        from .crosstalk import crosstalk_frames

        periods = [int(p) for p in options.get("periods", (2, 4, 8))]
        gray = int(options.get("gray", round(0.5 * (slm.gray_2pi if slm.gray_2pi else slm.levels - 1))))
        frames = crosstalk_frames(slm.resolution, periods, gray, slm.bit_depth)
        caps = [dict(name="capture_000", probe=0, display="point", exposure=1.0, note="flat panel (gray 0)")]
        caps += [dict(name=f"capture_{i + 1:03d}", probe=i + 1, display="point", exposure=1.0,
                      note=f"binary grating 0 | {gray}, period {p} px") for i, p in enumerate(periods)]
        return ProbeSet("crosstalk", frames, {"point": _point(display_shape)}, caps + _darks(),
                        {"periods": periods, "gray": gray},
                        "with capture_000 (flat panel) displayed, set the exposure so that the brightest pixel (the "
                        "zero order) reaches about 60 % of full scale; keep it for every capture")
    if kind == "wavefront":
        from .wavefront import sweep_phases

        lam = float(options["wavelength"])
        prev = options.get("previous")  # an earlier pass (WavefrontCalibration): its correction under every probe
        default_radius = 0.3 * min(slm.resolution) * slm.pitch if prev is None else float(prev["pupil_radius"])
        radius = float(options.get("radius", default_radius))
        modes = [int(j) for j in options.get("modes", range(3, 11))]
        amps = np.linspace(-0.15, 0.15, int(options.get("amplitudes", 5))) * lam
        base = None if prev is None else prev.correction(slm.grid)
        phases, pm, pa = sweep_phases(slm.grid, modes, amps, radius, lam, base=base)
        frames = np.stack([slm.encode(p, lam) for p in phases])
        caps = [dict(name=f"capture_{i:03d}", probe=i, display="point", exposure=1.0,
                     note=f"Zernike {int(j)} at {a / lam:+.3f} waves RMS") for i, (j, a) in enumerate(zip(pm, pa))]
        return ProbeSet("wavefront", frames, {"point": _point(display_shape)}, caps + _darks(),
                        {"modes": pm.tolist(), "amplitudes": pa.tolist(), "radius": radius,
                         "previous": {} if prev is None else {str(j): c for j, c in prev.coefficients.items()},
                         "previous_passes": 0 if prev is None else int(prev.metadata.get("passes", 1))},
                        "with capture_{:03d} (zero amplitude) displayed, set the exposure so that the brightest pixel "
                        "reaches about 40 % of full scale (probes that cancel the aberration make the spot brighter; "
                        "no capture may clip); an iris of radius {:.4g} m centred on the axis bounds the beam on the "
                        "SLM".format(int(np.flatnonzero(pa == 0)[0]), radius))
    if kind == "focus":
        from .focus import pinhole_frame, probe_window

        zc = np.asarray(options.get("camera_z", np.arange(-0.8e-3, 0.8e-3 + 1e-9, 0.1e-3)), dtype=np.float64)
        zf = np.asarray(options.get("slm_z", np.arange(-3e-3, 3e-3 + 1e-9, 0.4e-3)), dtype=np.float64)
        ny, nx = slm.resolution
        flat = np.zeros((ny, nx), dtype=gray_dtype(slm.bit_depth))
        frames = np.stack([flat, pinhole_frame(slm, (ny // 2, nx // 2), 5).astype(flat.dtype)])
        w = probe_window(float(options["wavelength"]), float(options["f1"]), float(options["display_pitch"]),
                         float(slm.pitch))
        caps = [dict(name=f"camera_{i:03d}", probe=0, display="point", exposure=1.0, stage="camera", z=float(z),
                     note=f"flat panel; camera stage at {z * 1e3:+.3f} mm") for i, z in enumerate(zc)]
        caps += [dict(name=f"fourier_{i:03d}", probe=1, display="window", exposure=1.0, stage="slm", z=float(z),
                      note=f"pinhole patch; SLM stage at {z * 1e3:+.3f} mm") for i, z in enumerate(zf)]
        return ProbeSet("focus", frames, {"point": _point(display_shape), "window": _window(display_shape, w)},
                        caps + _darks(), {"camera_z": zc.tolist(), "slm_z": zf.tolist(), "steer_period": 3.0,
                                          "window": w},
                        "camera scan: at stage z = 0 set the exposure so that the point's image reaches about 60 % "
                        "of full scale; SLM scan: the same with the pinhole patch and the window (the camera "
                        "refocused by the camera scan); keep each scan's exposure for all its positions")
    raise ValueError(f"unknown calibration kind {kind!r} for the lab loop; known: {', '.join(LAB_KINDS)}")


def _point(shape):
    img = np.zeros(tuple(shape))
    img[shape[0] // 2, shape[1] // 2] = 1.0
    return img


def _window(shape, size):
    img = np.zeros(tuple(shape))
    cy, cx, h = shape[0] // 2, shape[1] // 2, int(size) // 2
    img[cy - h:cy - h + int(size), cx - h:cx - h + int(size)] = 1.0
    return img


# ------------------------------------------------------------------------------------- captured frames
def read_captures(folder, manifest: dict) -> dict:
    """name -> frame (h, w) float64 for every capture of the manifest, from ``folder``: one file per capture
    (the capture name with any of .png/.tif/.tiff/.npy), or one HDF5 stack (``captures.h5``, any HDF5 file
    with a dataset ``frames`` (n, h, w) in capture order). Missing captures are named in the error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--frames: no such folder {str(folder)!r}")
    names = [c["name"] for c in manifest["captures"]]
    stacks = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in HDF5_SUFFIXES]
    if stacks:
        f = load_frames(str(stacks[0]), dataset="frames")
        if f.shape[0] != len(names):
            raise ValueError(f"{str(stacks[0])!r} holds {f.shape[0]} frames; the manifest lists {len(names)} captures "
                             "(in this order: " + ", ".join(names[:4]) + ", ...)")
        return dict(zip(names, f))
    out, missing = {}, []
    for name in names:
        hits = [folder / (name + s) for s in FRAME_SUFFIXES + tuple(s.upper() for s in IMAGE_SUFFIXES)
                if (folder / (name + s)).is_file()]
        if not hits:
            missing.append(name)
            continue
        f = load_frames(str(hits[0]))
        if f.shape[0] != 1:
            raise ValueError(f"{str(hits[0])!r} holds {f.shape[0]} frames; one frame per capture file")
        out[name] = f[0]
    if missing:
        raise FileNotFoundError(f"{len(missing)} captures missing in {str(folder)!r}: {', '.join(missing[:6])}"
                                f"{' ...' if len(missing) > 6 else ''} (save each as NAME.png/.tif/.npy, or all in "
                                "one captures.h5 with dataset 'frames')")
    return out


def _stack(caps, prefix):
    keys = sorted(k for k in caps if k.startswith(prefix))
    return np.stack([caps[k] for k in keys]) if keys else None


def analyse(manifest: dict, captures: dict, registration=None, truth=None):
    """The calibration of ``manifest['kind']`` from ``captures`` (name -> frame, :func:`read_captures`).

    ``registration``: a RegistrationCalibration placing the LUT's grating orders (else the order spacing
    comes from the manifest's bench: lambda f2 / (p_slm p_cam)). ``truth``: known values of a simulated
    bench (stored in the file)."""
    kind = manifest["kind"]
    a, bench = manifest.get("analysis", {}), manifest.get("bench", {})
    if kind in ("lut", "registration", "crosstalk", "wavefront"):
        n_probe = sum(c["probe"] is not None for c in manifest["captures"])
        frames = np.stack([captures[f"capture_{i:03d}"] for i in range(n_probe)])
        dark = _stack(captures, "dark_").mean(axis=0)
    if kind == "lut":
        from .lut import lut_from_gratings

        grays = np.asarray(a["grays"], dtype=np.int64)
        center, spacing = _orders(registration, bench, frames[0], dark)  # gray 0 everywhere: all light in the DC
        return lut_from_gratings(frames, grays, center=center, order_spacing=spacing, period=int(a["period"]),
                                 wavelength=float(bench["wavelength"]), sign=int(a.get("sign", -1)), dark=dark,
                                 half_width=int(a.get("half_width", 2)), bit_depth=int(manifest["slm"]["bit_depth"]),
                                 truth_slm=truth, bench=bench)
    if kind == "registration":
        from .registration import register_spots

        return register_spots(frames, np.asarray(a["nus"]), dark=dark, half_width=int(a.get("half_width", 3)),
                              truth=truth, bench=bench)
    if kind == "detector":
        from .detector import calibrate_detector

        levels = len(a["exposures"])
        bright = np.stack([np.stack([captures[f"series_{k:03d}_a"], captures[f"series_{k:03d}_b"]])
                           for k in range(levels)])
        dpair = np.stack([captures["darkpair_a"], captures["darkpair_b"]])
        return calibrate_detector(_stack(captures, "dark_"), _stack(captures, "flat_"), bright, dpair,
                                  np.asarray(a["exposures"]), container_bits=manifest.get("container_bits"),
                                  truth=truth, bench=bench)
    if kind == "crosstalk":
        from .crosstalk import crosstalk_from_gratings

        center, spacing = _orders(registration, bench, frames[0], dark)
        return crosstalk_from_gratings(frames, a["periods"], center=center, order_spacing=spacing,
                                       slm_pitch=float(manifest["slm"]["pitch"]), dark=dark, truth=truth, bench=bench)
    if kind == "wavefront":
        from .wavefront import calibrate_wavefront

        from .wavefront import make_calibration

        prev = None
        if a.get("previous"):
            prev = make_calibration({int(j): float(c) for j, c in a["previous"].items()}, float(a["radius"]),
                                    float(bench["wavelength"]), metadata={"passes": int(a.get("previous_passes", 1))})
        return calibrate_wavefront(frames, a["modes"], a["amplitudes"], float(a["radius"]),
                                   float(bench["wavelength"]), dark=dark, previous=prev, truth=truth, bench=bench)
    if kind == "focus":
        from .focus import FocusCalibration, focus_camera, focus_fourier
        from .registration import find_spot

        dark = _stack(captures, "dark_").mean(axis=0)
        cam = np.stack([captures[f"camera_{i:03d}"] for i in range(len(a["camera_z"]))])
        fou = np.stack([captures[f"fourier_{i:03d}"] for i in range(len(a["slm_z"]))])
        cal_c = focus_camera(cam, a["camera_z"], dark=dark, bench=bench)
        # the steered light lands order_spacing / steer_period camera pixels below the DC (the point's image)
        dc = find_spot(cam[int(np.argmax(cal_c.values["metric"]))], half_width=2, dark=dark)
        _, spacing = _orders(None, bench, None, dark)
        top = int(round(dc[0] + spacing / float(a["steer_period"]) - 8))
        cal_f = focus_fourier(fou, a["slm_z"], region=(top, fou.shape[1], 0, fou.shape[2]), dark=dark, bench=bench)
        return FocusCalibration(values={**cal_c.values, "fourier_defocus": cal_f.values["fourier_defocus"],
                                        "slm_z": cal_f.values["z"], "slm_metric": cal_f.values["metric"]},
                                units={**cal_c.units, "fourier_defocus": "m", "slm_z": "m", "slm_metric": "1"},
                                uncertainty={"camera_defocus": cal_c.uncertainty["camera_defocus"],
                                             "fourier_defocus": cal_f.uncertainty["fourier_defocus"]},
                                truth=truth, metadata={"method": "stage scans: sharpness, pinhole power"}, bench=bench)
    raise ValueError(f"unknown calibration kind {kind!r}; known: {', '.join(LAB_KINDS)}")


def _orders(registration, bench, flat_frame, dark):
    """(DC, order spacing): from a registration, or the DC of a flat-panel frame and lambda f2 / (p_slm p_cam)."""
    from .registration import find_spot

    if registration is not None:
        return registration, None
    try:
        lam, f2 = float(bench["wavelength"]), float(bench["geometry"]["f2"])
        p_slm, p_cam = float(bench["slm"]["pitch"]), float(bench["camera"]["pixel_pitch"])
    except (KeyError, TypeError):
        raise ValueError("the analysis needs the bench (wavelength, f2, SLM and camera pitch) in the manifest "
                         "(--wavelength --f2 --camera-pitch with --write-probes), or a registration file "
                         "(--registration)") from None
    spacing = lam * f2 / (p_slm * p_cam)
    center = None if flat_frame is None else find_spot(flat_frame, half_width=2, dark=dark)
    return center, spacing
