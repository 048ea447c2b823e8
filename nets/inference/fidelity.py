"""Why the optical accuracy is what it is: how faithfully the bench shows each channel's mask.

For every output channel (tile) of every input channel's SLM frame, :func:`mask_fidelity`
compares the *realised* Fourier-plane transmission (``Hardware4f.fourier_mask`` of the frame:
encoding, bit depth, LUT, pixel rendering, fill factor, misalignment) with the *wanted* one
(the student's collapsed masks, tiled by the layout) where it matters: the part of each mask
that reaches that channel's tile. A Fourier mask's inverse DFT is the kernel it convolves with
(``optics4f.kernels.mask_to_kernel``), and channel c's kernel sits around its tile offset, so
the comparison is made on the kernels in the tile window (docs/sampling.md):

* ``correlation``: |<w, r>| / (|w| |r|) of wanted w and realised r in the window (1: same shape);
* ``relative_error``: |r - s w| / |s w| with s the least-squares complex scale (the encoding's
  amplitude scale and any global phase do not count as errors);
* ``light_in_order``: the share of the light the panel transmits that lands in the channel's
  tile window (the used diffraction order), out of all the light it sends anywhere;
* ``phase_levels``: distinct gray levels the frame uses on the panel, of 2^bits;
* ``weight``: the channel's wanted kernel energy relative to the strongest channel's. A channel
  the student barely uses (weight below ``MIN_WEIGHT``) has a correlation that means nothing:
  what its tile holds is the others' leakage, and its features hardly move the logits.

:func:`camera_snr` gives the camera's signal-to-noise ratio on the tiles of real test frames.
"""
from __future__ import annotations

import numpy as np

__all__ = ["mask_fidelity", "camera_snr", "format_fidelity", "well_represented", "MIN_WEIGHT"]

#: Channels whose wanted kernel carries less than this share of the strongest channel's energy are
#: reported but not judged (module docstring).
MIN_WEIGHT = 0.01


def _windows(layout, padded_shape):
    """Slices (y, x) of each tile's window on the kernel grid (padded output samples)."""
    my, mx = padded_shape
    th, tw = layout.tile_shape
    out = []
    for oy, ox in layout.offsets():
        y0, x0 = my // 2 + int(oy) - th // 2, mx // 2 + int(ox) - tw // 2
        out.append((slice(max(0, y0), min(my, y0 + th)), slice(max(0, x0), min(mx, x0 + tw))))
    return out


def _compare(w: np.ndarray, r: np.ndarray) -> tuple:
    nw, nr = np.linalg.norm(w), np.linalg.norm(r)
    if nw == 0 or nr == 0:
        return 0.0, 1.0
    inner = np.vdot(w, r)
    s = inner / nw ** 2
    return float(abs(inner) / (nw * nr)), float(np.linalg.norm(r - s * w) / (abs(s) * nw))


def mask_fidelity(optical, wanted) -> list:
    """Per (input channel, output channel) fidelity of the frames an :class:`OpticalStudent` shows.

    ``wanted``: the student's masks (Cout, Cin, My, Mx) on the system's Fourier grid
    (``masks_on_grid(student_masks(model), padded_shape)``). Returns a list of dicts with keys
    ``in_channel``, ``out_channel``, ``correlation``, ``relative_error``, ``light_in_order``,
    ``phase_levels``, ``levels``.
    """
    from optics4f.kernels import mask_to_kernel

    from optics4f.system.layout import TiledLayout

    hw, system = optical.hw, optical.system
    wanted = np.asarray(wanted, dtype=np.complex128)
    cout, cin = wanted.shape[:2]
    if optical.per_channel:  # frame k shows pair (k // cin, k % cin) on the axis, read on the whole camera
        targets = wanted.reshape((cout * cin,) + wanted.shape[-2:])
        layout = TiledLayout(1, tuple(system.camera.shape))
        pairs = [((k // cin,), k % cin) for k in range(cout * cin)]
    else:  # frame i shows input channel i, every output channel tiled
        targets = hw.channel_masks(wanted)  # (Cin, My, Mx)
        layout = system.layout
        pairs = [(tuple(range(cout)), i) for i in range(cin)]
    windows = _windows(layout, hw.geometry.padded_shape)
    slm = system.slm
    rows = []
    for frame, realised, target, (outs, i) in zip(optical.frames, optical.fourier_masks, targets, pairs):
        kw = mask_to_kernel(target)
        kr = mask_to_kernel(np.asarray(realised, dtype=np.complex128))
        total = float(np.sum(np.abs(kr) ** 2))
        levels = int(np.unique(frame).size) if np.asarray(frame).dtype.kind in "iu" else None
        for c, (sy, sx) in zip(outs, windows):
            corr, err = _compare(kw[sy, sx], kr[sy, sx])
            share = float(np.sum(np.abs(kr[sy, sx]) ** 2) / total) if total > 0 else 0.0
            rows.append({"in_channel": i, "out_channel": c, "correlation": corr, "relative_error": err,
                         "light_in_order": share, "phase_levels": levels,
                         "levels": None if slm.mode == "complex" else int(slm.levels),
                         "weight": float(np.sum(np.abs(kw[sy, sx]) ** 2))})
    top = max(r["weight"] for r in rows) if rows else 0.0
    for r in rows:
        r["weight"] = r["weight"] / top if top > 0 else 0.0
    return rows


def well_represented(rows, threshold: float) -> bool:
    """Every channel the student uses (weight >= MIN_WEIGHT) correlates at ``threshold`` or more."""
    used = [r for r in rows if r["weight"] >= MIN_WEIGHT]
    return bool(used) and min(r["correlation"] for r in used) >= threshold


def camera_snr(optical, tiles) -> dict:
    """Shot- and read-noise-limited SNR of the camera on the lit tile pixels of ``tiles`` (ADU).

    Signal electrons S = (ADU - dark) / (ADU per e-) per pixel; SNR = S / sqrt(S + read_noise^2)
    (Poisson shot noise plus read noise; the frames' own noise does not bias the median much).
    Reported over pixels above 10 % of the brightest: ``median`` and ``peak``.
    """
    cam = optical.system.camera
    t = np.asarray(tiles, dtype=np.float64)
    s = np.clip((t - optical.dark_counts()) / cam.adu_per_electron, 0.0, None)
    lit = s[s > 0.1 * s.max()] if s.max() > 0 else s.ravel()
    snr = lit / np.sqrt(lit + cam.read_noise ** 2 + 1e-30)
    return {"median": float(np.median(snr)), "peak": float(snr.max()) if snr.size else 0.0,
            "full_well": float(cam.full_well), "read_noise": float(cam.read_noise)}


def format_fidelity(fid: dict) -> str:
    """Terminal table of a simulate result's ``fidelity`` entry."""
    lines = ["fidelity of the displayed masks (per input / output channel)",
             f"{'in':>3s} {'out':>4s} {'correlation':>12s} {'rel. error':>11s} {'light in order':>15s} "
             f"{'gray levels':>12s} {'weight':>7s}"]
    for r in fid["channels"]:
        lv = "-" if r["phase_levels"] is None else f"{r['phase_levels']}/{r['levels']}"
        lines.append(f"{r['in_channel']:3d} {r['out_channel']:4d} {r['correlation']:12.4f} "
                     f"{r['relative_error']:11.4f} {r['light_in_order']:15.4f} {lv:>12s} {r['weight']:7.3f}"
                     + ("  (barely used: not judged)" if r["weight"] < MIN_WEIGHT else ""))
    snr = fid.get("camera_snr")
    if snr:
        lines.append(f"camera SNR on lit tile pixels: median {snr['median']:.1f}, peak {snr['peak']:.1f} "
                     f"(full well {snr['full_well']:.3g} e-, read noise {snr['read_noise']:.3g} e-)")
    lines.append(f"well represented: {'yes' if fid['well_represented'] else 'no'} "
                 f"(every used channel's correlation >= {fid['threshold']})")
    return "\n".join(lines)
