"""Export a saved SCLC student: its collapsed Fourier masks as SLM frames (the ``optics4f export`` job).

:func:`export_model` loads the student, collapses its linear front end into
one mask per (output, input) channel pair, builds (or takes) the 4f system,
places the masks on the panel (:func:`nets.export.masks.panel_mask`), encodes
them (:func:`nets.export.masks.encode_frames`) and writes the folder
(:func:`nets.export.bundle.write_export`).

Frames: ``tiled=True`` (default) gives one frame per input channel, the output
channels tiled on the camera (the system's layout); ``tiled=False`` one frame
per (output, input) pair. Input channels are always separate frames (they are
time-multiplexed: their outputs must not interfere).

A hardware student (``frontend="hardware"``) learned its SLM phase directly;
:func:`export_hardware` puts that phase on the panel (same pitch required).

Default system (:func:`export_system`), when none is given: display at the
model's image size with pitch ``display_pitch``; output span E = the model's
padded grid (or all tiles); f1 = f2 = c p E d / lambda with c = 1 (phase,
amplitude), 2 (double phase: its checkerboard term lands outside the image)
or 8 (Lee: room for the carrier and its higher orders); the simulation grid E samples with pad c,
so the Fourier grid has one sample per SLM pixel (Hardware4f-ready). With
a user's f1 the stored system simulates only when lambda f1 / (p d) is a
whole number of samples (Hardware4f says so otherwise); the frames do not
depend on it.
"""
from __future__ import annotations

import os

from pathlib import Path

import numpy as np

from optics4f.devices.detector import Camera
from optics4f.devices.display import InputDisplay
from optics4f.system.config import SystemConfig
from optics4f.system.calibration import apply_calibrations, check_calibrations
from optics4f.system.grid_choice import bench_pad
from optics4f.system.layout import TiledLayout

from .bundle import write_export
from .masks import check_panel_geometry, default_f1_factor, encode_frames, panel_mask, resolve_encoding
from .sidecar import sha256

__all__ = ["model_masks", "export_system", "export_masks", "export_model", "export_hardware", "checkerboard_phase"]


def _load(model):
    """(module, source description) from a path or an nn.Module."""
    if isinstance(model, (str, Path)):
        from nets.checkpoint import load_model

        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"model file {str(path)!r} does not exist; give a saved student (model.pt)")
        try:
            module, _ = load_model(path)
        except (ValueError, KeyError, RuntimeError, TypeError) as e:
            raise ValueError(f"cannot load the model {str(path)!r}: {e}") from None
        except Exception as e:  # torch's unpickler raises assorted types on a file that is not a checkpoint
            raise ValueError(f"{str(path)!r} is not an optics4f model checkpoint ({type(e).__name__}: {e})") from None
        return module, {"model": str(path), "model_sha256": sha256(path)}
    return model, {"model": type(model).__name__, "model_sha256": None}


def model_masks(model):
    """(masks (Cout, Cin, My, Mx) complex128, image_size (H, W)) of a student's collapsed front end.

    ``model``: a checkpoint path or module with an ideal ``frontend`` (SpectralStack) or the stack itself.
    """
    module, _ = _load(model)
    front = getattr(module, "frontend", module)
    if not hasattr(front, "collapse"):
        kind = type(front).__name__
        hint = ("a hardware student holds its SLM phase itself (export_model exports it)"
                if kind == "HardwareFrontend" else "a teacher has no optical front end; export an SCLC student")
        raise ValueError(f"the model's front end ({kind}) has no collapsed Fourier masks: {hint}")
    import torch

    with torch.no_grad():
        masks = front.collapse().detach().cpu().numpy().astype(np.complex128)
    return masks, tuple(front.image_size)


def export_system(slm, image_size, padded_shape, n_out: int, tiled: bool = True, encoding: str = "auto",
                  wavelength: float = 532e-9, display_pitch: float = 8e-6, f1: float | None = None,
                  f2: float | None = None, bench=None) -> SystemConfig:
    """The default 4f system for exporting masks of ``padded_shape`` (see the module docstring).

    ``bench``: a :class:`nets.inference.optical.HardwareSettings` whose wavelength, display pitch,
    lenses, camera and misalignments the system records (they override the keyword arguments), so
    that ``optics4f simulate --frames`` rebuilds the same bench from the export."""
    if bench is not None:
        wavelength, display_pitch = bench.wavelength, bench.pitch
        f1, f2 = (bench.f1, bench.f2) if bench.f1 is not None else (f1, f2)
    enc = resolve_encoding(encoding, slm.mode)
    h, w = image_size
    my, mx = padded_shape
    layout = None
    if tiled and n_out > 1:
        # keep the zero order of the panel's inactive area (an image of the input on the axis) off the tiles
        layout = TiledLayout(n_channels=int(n_out), tile_shape=(my, mx),
                             skip_axis=enc != "lee" and slm.unmodulated_fraction > 0)
        span = layout.extent
    else:
        span = (my, mx)
    n = int(max(span))
    c = default_f1_factor(enc)
    n += (c - 1) * n % 2  # padded_size keeps (c n - n) even: c n samples exactly, one per SLM pixel
    f1_given = f1 is not None
    f1 = c * slm.pitch * n * display_pitch / wavelength if f1 is None else float(f1)
    f2 = f1 if f2 is None else float(f2)
    if f1_given:  # a stock lens: pad to at least one Fourier sample per SLM pixel, FFT-friendly
        pad = bench_pad((n, n), display_pitch, wavelength, f1, slm.pitch, 1.0)
    else:  # f1 chosen above: exactly one Fourier sample per SLM pixel on c n samples
        pad = float(c)
    out_pitch = display_pitch * f2 / f1
    if bench is None:
        cam = Camera(shape=(n, n), pixel_pitch=out_pitch, bit_depth=None, gain=1e-3, full_well=1e12, noise=False)
        mis = {}
    else:
        cam = Camera(**bench.bench_camera((n, n), out_pitch))
        mis = {"slm_shift": tuple(bench.slm_shift), "slm_rotation": float(bench.slm_rotation),
               "fourier_defocus": float(bench.fourier_defocus)}
    return SystemConfig(wavelength=wavelength, f1=f1, f2=f2, grid_shape=(n, n), oversample=1, pad=pad,
                        display=InputDisplay(resolution=(h, w), pitch=display_pitch), slm=slm, camera=cam,
                        layout=layout, encoding=enc, misalignment=mis, seed=None if bench is None else bench.seed)


def export_masks(masks, out, config: SystemConfig, *, tiled: bool | None = None, formats=None, fill: str = "periodic",
                 amax: float | None = None, force: bool = False, strict: bool = False, write_lut: bool = False,
                 settings: dict | None = None) -> Path:
    """Write the frames of centred masks (Cout, Cin, My, Mx) (model pixels = display pixels) for ``config``.

    ``tiled``: one frame per input channel with the output channels tiled by ``config.layout``
    (default when the config has a layout), else one frame per channel pair. Returns the manifest
    path. The geometry is checked first (nothing is written on an error).
    """
    m = np.asarray(masks)
    if m.ndim == 2:
        m = m[None, None]
    if m.ndim != 4:
        raise ValueError(f"masks must be (Cout, Cin, My, Mx), got shape {m.shape}")
    cout, cin, my, mx = m.shape
    slm, d = config.slm, config.display.pitch
    enc = resolve_encoding(config.encoding, slm.mode)
    tiled = config.layout is not None if tiled is None else bool(tiled)
    layout = config.layout if tiled and cout > 1 else None
    if tiled and cout > 1:
        if layout is None or layout.n_channels != cout:
            raise ValueError(f"tiled export of {cout} output channels needs config.layout with {cout} channels, got "
                             f"{None if layout is None else layout.n_channels}; pass tiled=False for one frame per "
                             "channel")
        d_sim = d / config.oversample
        span = max(layout.extent) * d_sim
    else:
        span = max(my, mx) * d
    check_panel_geometry(extent=span, kernel_pitch=d, panel_shape=slm.resolution, panel_pitch=slm.pitch,
                         wavelength=config.wavelength, f1=config.f1, strict=strict)
    kw = dict(kernel_pitch=d, panel_shape=slm.resolution, panel_pitch=slm.pitch, wavelength=config.wavelength,
              f1=config.f1, fill=fill)
    if layout is not None:
        off = layout.offsets() * (d / config.oversample) * config.f2 / config.f1  # output plane, m
        targets = np.zeros((cin,) + tuple(slm.resolution), dtype=np.complex128)
        for i in range(cin):  # one frame per input channel: the tiled sum over output channels,
            for o in range(cout):  # accumulated one channel at a time (a 1080p stack of 8 is 265 MB)
                targets[i] += panel_mask(m[o, i], f2=config.f2, offsets=off[o], **kw)
        channels = [{"out_channel": None, "in_channel": i} for i in range(cin)]
    else:
        targets = panel_mask(m, **kw).reshape((cout * cin,) + tuple(slm.resolution))
        channels = [{"out_channel": o, "in_channel": i} for o in range(cout) for i in range(cin)]
    e = encode_frames(targets, slm, enc, config.wavelength, amax, config.lee_carrier)
    lut = None
    if write_lut and slm.mode == "phase":
        from .formats import linearizing_lut

        lut = linearizing_lut(slm, 256, config.wavelength)
    meta = dict(settings or {}, fill=fill, amax=e.amax, lee_carrier=tuple(config.lee_carrier),
                masks_shape=tuple(int(s) for s in m.shape), phase_units="rad")
    return write_export(out, frames=e.frames, config=config if layout is not None or cout == 1 else
                        config.replace(layout=None), scale=e.scale, channels=channels,
                        tiled=layout is not None, encoding=enc, phase=e.phase, amplitude=e.amplitude,
                        formats=formats, settings=meta, lut_table=lut, force=force)


def _hardware_phase(front):
    """(phase (Cin, ny, nx) float64 rad, SystemConfig) of a trained hardware front end (phase SLM)."""
    cfg = SystemConfig.from_dict(front.system)
    if cfg.slm.mode != "phase" or not hasattr(front.layer, "phase"):
        raise ValueError(f"only hardware students with a phase SLM can be exported, this one has mode "
                         f"{cfg.slm.mode!r}")
    return front.layer.phase.detach().cpu().numpy().astype(np.float64), cfg


def checkerboard_phase(shape) -> np.ndarray:
    """0 / pi checkerboard (rad): a phase panel's way to send its light out of the image (to the
    corners lambda f2 / (2 p) of the output plane), used on pixels the model does not use."""
    ny, nx = shape
    return np.pi * ((np.arange(ny)[:, None] + np.arange(nx)[None, :]) % 2)


def export_hardware(front, slm, out, *, formats=None, force: bool = False, write_lut: bool = False,
                    calibrations=(), settings: dict | None = None) -> Path:
    """Export a hardware student's trained SLM phase (its own 4f system) onto panel ``slm``.

    The student learned the phase of every pixel of its simulated panel (pitch p, centred on the
    axis); the real panel must have the same pitch and at least as many pixels. The phase is placed
    centred (model pixel j -> panel pixel j - n//2 + N//2); the panel pixels beyond it, which the
    student's panel did not have, show a 0/pi checkerboard that diffracts their light away from the
    camera. The frame then goes through ``slm.encode`` (bit depth, 2 pi level, sign, LUT, flatness,
    wavelength scaling). Encoding "phase", scale 1.
    """
    phase, cfg = _hardware_phase(front)
    src = cfg.slm
    if abs(slm.pitch - src.pitch) > 1e-9 * src.pitch:
        raise ValueError(f"the hardware student was trained for an SLM pitch of {src.pitch:.4g} m; the panel "
                         f"{slm.name!r} has {slm.pitch:.4g} m. Retrain it for this panel (a system with its pitch)")
    (ny, nx), (my, mx) = slm.resolution, src.resolution
    if my > ny or mx > nx:
        raise ValueError(f"the hardware student uses {src.resolution} SLM pixels, more than the panel "
                         f"{slm.name!r} has ({slm.resolution})")
    y0, x0 = ny // 2 - my // 2, nx // 2 - mx // 2
    full = np.broadcast_to(checkerboard_phase(slm.resolution), (phase.shape[0], ny, nx)).copy()
    full[:, y0:y0 + my, x0:x0 + mx] = phase
    full = np.mod(full + np.pi, 2 * np.pi) - np.pi
    config = cfg.replace(slm=slm, encoding="phase")
    if calibrations:
        config = apply_calibrations(config, calibrations)
    frames = config.slm.encode(full, config.wavelength)
    lut = None
    if write_lut:
        from .formats import linearizing_lut

        lut = linearizing_lut(config.slm, 256, config.wavelength)
    channels = [{"out_channel": None if config.layout is not None else 0, "in_channel": i}
                for i in range(phase.shape[0])]
    meta = dict(settings or {}, source_kind="hardware student", trained_panel=tuple(src.resolution),
                panel_offset=(y0, x0), phase_units="rad")
    return write_export(out, frames=frames, config=config, scale=np.ones(len(frames), complex), channels=channels,
                        tiled=config.layout is not None, encoding="phase", phase=full, formats=formats,
                        settings=meta, lut_table=lut, force=force)


def export_model(model, slm, out, *, system: SystemConfig | None = None, tiled: bool = True, encoding: str = "auto",
                 wavelength: float = 532e-9, display_pitch: float = 8e-6, f1: float | None = None,
                 f2: float | None = None, formats=None, fill: str = "periodic", amax: float | None = None,
                 force: bool = False, strict: bool = False, write_lut: bool = False, calibrations=(),
                 bench=None) -> Path:
    """Export a saved student (checkpoint path or module) for the panel ``slm`` into folder ``out``.

    ``system``: the lab's SystemConfig (its SLM is replaced by ``slm``, its display must show the
    model's image size); default :func:`export_system` from ``wavelength``, ``display_pitch``,
    ``f1``, ``f2`` (m). ``calibrations``: calibration objects (the protocol
    ``optics4f.system.calibration.Calibration``; ``calib.load(path)`` reads a file) applied in
    order to the system (LUT, flatness, ...) before encoding. ``bench``: the bench's HardwareSettings (lenses,
    wavelength, display pitch, camera, misalignments), recorded in the export so that simulate
    rebuilds it (:func:`export_system`). Other arguments: :func:`export_masks`. Returns the
    manifest path. ``out`` never contains ``model`` (when a path): that is refused even with ``force``.
    """
    from optics4f.io.atomic import refuse_inputs

    if isinstance(model, (str, os.PathLike)):
        refuse_inputs(out, [model], "export folder")
    module, source = _load(model)
    front = getattr(module, "frontend", module)
    if type(front).__name__ == "HardwareFrontend":
        if system is not None:
            raise ValueError("a hardware student carries its own 4f system; export it without system=/--system")
        return export_hardware(front, slm, out, formats=formats, force=force, write_lut=write_lut,
                               calibrations=calibrations, settings=source)
    masks, image_size = model_masks(module)
    cout = masks.shape[0]
    if system is None:
        config = export_system(slm, image_size, masks.shape[-2:], cout, tiled, encoding, wavelength, display_pitch,
                               f1, f2, bench=bench)
    else:
        if not isinstance(system, SystemConfig):
            raise TypeError(f"system must be a SystemConfig, got {type(system).__name__}")
        enc = resolve_encoding(encoding if encoding != "auto" else system.encoding, slm.mode)
        config = system.replace(slm=slm, encoding=enc)
        if tuple(config.display.resolution) != tuple(image_size):
            raise ValueError(f"the system's display shows {config.display.resolution} pixels, the model takes "
                             f"{image_size}; set display.resolution to the model's image size")
    if bench is not None:
        source["bench"] = dict(bench.to_dict(), slm_preset=slm.name)
    if calibrations:
        calibrations = check_calibrations(calibrations)
        config = apply_calibrations(config, calibrations)
        source["calibrations"] = ", ".join(str(c.kind) for c in calibrations)
    return export_masks(masks, out, config, tiled=tiled, formats=formats, fill=fill, amax=amax, force=force,
                        strict=strict, write_lut=write_lut, settings=source)
