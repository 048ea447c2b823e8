"""Collapsed model masks -> panel-resolution patterns and frames, by the 4f geometry.

Geometry (docs/architecture.md#conventions, lens). A model's collapsed mask H[j] (centred
order on its padded grid of M samples) is the centred DFT of an effective
kernel h[n] whose taps sit at x_n = (n - M//2) d in the input plane (d: the
display pixel pitch, one model pixel per display pixel). Its transfer
function at any spatial frequency nu (cycles/m) is the trigonometric
polynomial

    H(nu) = sum_n h[n] exp(-2 pi i nu x_n),     periodic with period 1/d,

which equals the mask at the DFT frequencies nu_j = (j - M//2) / (M d). The
Fourier lens f1 puts frequency nu at u = lambda f1 nu in the SLM plane, so
panel pixel (jy, jx) (centre at ((jy - Ny//2) p, (jx - Nx//2) p), pixel N//2 on
the axis, as :mod:`optics4f.devices.render`) must show H((j - N//2) p /
(lambda f1)). :func:`panel_mask` evaluates exactly that (separable matrix
products), so the SLM pitch need not be a whole number of DFT samples: the
placement and scale follow lambda f1 / p alone. Where the ratio is an integer
k (p = k lambda f1 / (M d)), panel pixel j shows DFT sample (j - N//2) k + M//2,
which is what :meth:`optics4f.system.Hardware4f.slm_target` samples (tested).

Why periodic: the display field is sum_m a_m rect((x - x_m)/d), whose spectrum
is sinc(d nu) sum_m a_m exp(-2 pi i nu x_m); times the periodic H(nu) this is
the spectrum of sum_m (a * h)_m rect((x - x_m)/d): the discrete convolution
the model computed, drawn with the display's pixels. ``fill="zero"`` keeps only
the central period |nu| < 1/(2d) (a band-limited output, less light in the
display's higher diffraction orders). With spectral pooling the effective
kernel fills the padded grid and the optics computes its linear convolution
where the model computed a circular one on that grid (they agree on the kept
window when the kernels are compact).

Output channels (tiling): channel c's mask gets the ramp
exp(2 pi i (X_c u + Y_c v) / (lambda f2)) that moves its output to the tile
centre (Y_c, X_c) (m, output plane), as
:meth:`optics4f.system.layout.TiledLayout.ramps`; the ramps are applied
separably per channel here (the full (C, Ny, Nx) ramp stack of a 1080p
panel would take hundreds of MB).

Sampling limits (:func:`check_panel_geometry`): the panel's pixel grid
replicates the output every lambda f1 / p (input-plane units); the model's
output (its padded grid, or all tiles) must fit in one replica, else the
panel undersamples the mask (error); the panel should hold the central
period lambda f1 / d of the mask, else it low-passes the image (warning).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optics4f.devices.encoding import double_phase, lee_hologram
from optics4f.sampling import AliasingError, warn_sampling

__all__ = ["effective_kernels", "panel_frequencies", "panel_mask", "check_panel_geometry", "EncodedFrames",
           "encode_frames", "ENCODINGS", "default_f1_factor", "resolve_encoding"]

#: Encodings of a complex mask on a real panel, by SLM mode.
ENCODINGS = {"double_phase": ("phase",), "phase": ("phase",), "amplitude": ("amplitude",), "lee": ("binary",)}
_AUTO = {"phase": "double_phase", "amplitude": "amplitude", "binary": "lee"}


def _as_masks(masks) -> np.ndarray:
    m = np.asarray(masks.detach().cpu().numpy() if hasattr(masks, "detach") else
                   (masks.get() if hasattr(masks, "get") else masks))
    if m.ndim < 2:
        raise ValueError(f"masks must be (..., My, Mx), got shape {m.shape}")
    m = m.astype(np.complex128)
    if not np.all(np.isfinite(m)):
        raise ValueError("masks contain NaN or Inf; the model is broken (retrain or check the checkpoint)")
    return m


def effective_kernels(masks) -> np.ndarray:
    """Effective kernels (..., My, Mx) complex128 of centred masks: fftshift(ifft2(ifftshift(H))).

    Tap (n_y, n_x) sits at ((n_y - My//2) d, (n_x - Mx//2) d); the inverse of
    ``optics4f.kernel_to_mask``.
    """
    m = _as_masks(masks)
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(m, axes=ax), axes=ax), axes=ax)


def panel_frequencies(n: int, pitch: float, wavelength: float, f1: float) -> np.ndarray:
    """Spatial frequency (cycles/m, float64) seen by panel pixels 0..n-1: (j - n//2) p / (lambda f1)."""
    return (np.arange(int(n), dtype=np.float64) - int(n) // 2) * (float(pitch) / (float(wavelength) * float(f1)))


def _dft_matrix(n_panel, m, pitch, wavelength, f1, d):
    # phase = 2 pi (j - N//2)(n - M//2) p d / (lambda f1); the integer product is exact in float64,
    # the fractional part of the cycles is taken before the 2 pi so large arguments keep their accuracy.
    j = (np.arange(n_panel, dtype=np.float64) - n_panel // 2)[:, None]
    k = (np.arange(m, dtype=np.float64) - m // 2)[None, :]
    cycles = (j * k) * (float(pitch) * float(d) / (float(wavelength) * float(f1)))
    return np.exp(-2j * np.pi * (cycles - np.round(cycles)))


def panel_mask(masks, *, kernel_pitch: float, panel_shape, panel_pitch: float, wavelength: float, f1: float,
               f2: float | None = None, offsets=None, fill: str = "periodic") -> np.ndarray:
    """The model masks as the SLM panel must show them (complex128, (..., Ny, Nx)).

    Parameters
    ----------
    masks : (..., My, Mx) complex
        Centred masks on the model's padded grid (e.g. ``SpectralStack.collapse()``).
    kernel_pitch : float
        Pitch d of the model's pixels in the input plane (the display pitch), m.
    panel_shape : (Ny, Nx)
        Panel pixels.
    panel_pitch : float
        SLM pixel pitch p, m.
    wavelength, f1 : float
        Working wavelength and Fourier-lens focal length, m.
    f2, offsets :
        Output-plane tile centres (..., 2) = (Y_c, X_c) in metres (broadcast against the leading
        axes of ``masks``) and the imaging lens f2 (m): each mask gets the ramp
        exp(2 pi i (X_c u + Y_c v) / (lambda f2)). None: no ramps.
    fill : "periodic" | "zero"
        Beyond the central period |nu| < 1/(2 d): the periodic transfer function (default) or 0.
    """
    if fill not in ("periodic", "zero"):
        raise ValueError(f"fill must be 'periodic' or 'zero', got {fill!r}")
    for name, v in (("kernel_pitch", kernel_pitch), ("panel_pitch", panel_pitch), ("wavelength", wavelength),
                    ("f1", f1)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive (m), got {v!r}")
    h = effective_kernels(masks)
    lead, (my, mx) = h.shape[:-2], h.shape[-2:]
    ny, nx = (int(s) for s in panel_shape)
    ey = _dft_matrix(ny, my, panel_pitch, wavelength, f1, kernel_pitch)  # (Ny, My)
    ex = _dft_matrix(nx, mx, panel_pitch, wavelength, f1, kernel_pitch)  # (Nx, Mx)
    flat = h.reshape((-1, my, mx))
    out = np.empty((flat.shape[0], ny, nx), dtype=np.complex128)
    if offsets is not None:
        if f2 is None or not (np.isfinite(f2) and f2 > 0):
            raise ValueError(f"f2 must be positive (m) with offsets, got {f2!r}")
        off = np.broadcast_to(np.asarray(offsets, dtype=np.float64), lead + (2,)).reshape(-1, 2)
        kk = 2 * np.pi / (float(wavelength) * float(f2))
        v = (np.arange(ny) - ny // 2) * float(panel_pitch)
        u = (np.arange(nx) - nx // 2) * float(panel_pitch)
    for i, hk in enumerate(flat):
        # drop all-zero kernel rows/columns first: compact kernels cost (taps) instead of (M)
        rows, cols = np.flatnonzero(np.abs(hk).max(axis=1) > 0), np.flatnonzero(np.abs(hk).max(axis=0) > 0)
        if rows.size == 0:
            out[i] = 0
            continue
        sub = hk[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        out[i] = (ey[:, rows[0]:rows[-1] + 1] @ sub) @ ex[:, cols[0]:cols[-1] + 1].T
        if offsets is not None:
            out[i] *= np.exp(1j * kk * off[i, 0] * v)[:, None] * np.exp(1j * kk * off[i, 1] * u)[None, :]
    if fill == "zero":
        nu_y = panel_frequencies(ny, panel_pitch, wavelength, f1) * kernel_pitch
        nu_x = panel_frequencies(nx, panel_pitch, wavelength, f1) * kernel_pitch
        keep = ((nu_y >= -0.5) & (nu_y < 0.5))[:, None] & ((nu_x >= -0.5) & (nu_x < 0.5))[None, :]
        out *= keep
    return out.reshape(lead + (ny, nx))


def check_panel_geometry(*, extent: float, kernel_pitch: float, panel_shape, panel_pitch: float, wavelength: float,
                         f1: float, strict: bool = False) -> dict:
    """Errors and warnings of showing a mask on a panel; returns the numbers used.

    ``extent`` (m, input plane): the span the output must have free of replicas (the model's padded
    grid M d, or all tiles). The panel's pixels replicate the output every lambda f1 / p: an
    ``extent`` beyond it undersamples the mask (AliasingError). A panel narrower than the mask's
    period lambda f1 / d (in the SLM plane) cuts the display's spectrum (SamplingWarning, or an
    error with ``strict``).
    """
    replica = wavelength * f1 / panel_pitch
    if extent > replica * (1 + 1e-9):
        f1_min = extent * panel_pitch / wavelength
        raise AliasingError(
            f"the SLM pitch {panel_pitch:.4g} m samples the mask too coarsely: its pixels replicate the output every "
            f"lambda*f1/p = {replica:.4g} m, less than the model's output span {extent:.4g} m, so the replicas "
            f"overlap (aliasing). Use f1 >= {f1_min:.6g} m (or a finer-pitch panel)")
    period = wavelength * f1 / kernel_pitch  # SLM-plane width of one period of H
    size = np.asarray(panel_shape, dtype=np.float64) * panel_pitch
    if np.any(size < period * (1 - 1e-9)):
        warn_sampling(
            f"the panel ({size[0]:.4g} x {size[1]:.4g} m) is narrower than one period of the mask, lambda*f1/d = "
            f"{period:.4g} m: it cuts the display's spectrum (low-passes the image), so the bench cannot compute the "
            f"model's convolution. Use f1 <= {f1 * size.min() / period:.6g} m, a display pitch >= "
            f"{kernel_pitch * period / size.min():.4g} m, or a larger panel", strict=strict)
    return {"replica_spacing": replica, "mask_period": period, "pixels_per_period": period / panel_pitch}


def default_f1_factor(encoding: str) -> int:
    """How many times the smallest unaliased f1 the default geometry uses: double phase and Lee need room
    for their unwanted terms (at lambda f2 / (2 p) and the zero order, see optics4f.devices.encoding).
    Double phase at 2x left the far term's tails on the camera tiles (33 % feature error on the embedded
    student, 0.81 optical vs 0.95 digital); 4x brings that to about 1 %."""
    return {"double_phase": 4, "lee": 8}.get(encoding, 1)


def resolve_encoding(encoding: str, mode: str) -> str:
    """``encoding`` checked against the SLM ``mode`` ('auto': double_phase / amplitude / lee)."""
    if mode not in _AUTO:
        raise ValueError(f"an SLM in mode {mode!r} has no frames to export; use a phase, amplitude or binary panel")
    enc = _AUTO[mode] if encoding in (None, "auto") else encoding
    if enc not in ENCODINGS:
        raise ValueError(f"encoding must be 'auto' or one of {sorted(ENCODINGS)}, got {encoding!r}")
    if mode not in ENCODINGS[enc]:
        raise ValueError(f"encoding {enc!r} needs an SLM in mode {ENCODINGS[enc][0]!r}, the panel is {mode!r}; "
                         f"use encoding='auto' ({_AUTO[mode]!r})")
    return enc


@dataclass
class EncodedFrames:
    """Frames of complex panel targets.

    frames : (F, Ny, Nx) uint8/uint16; phase : (F, Ny, Nx) float64 (rad, wrapped to [-pi, pi)) or None;
    amplitude : (F, Ny, Nx) float64 or None; scale : (F,) complex (wanted term = scale * target);
    amax : float (target amplitude given full modulation); encoding : str.
    """

    frames: np.ndarray
    phase: np.ndarray | None
    amplitude: np.ndarray | None
    scale: np.ndarray
    amax: float
    encoding: str


def _wrap(phi):
    return np.mod(phi + np.pi, 2 * np.pi) - np.pi


def encode_frames(targets, slm, encoding: str = "auto", wavelength: float | None = None, amax: float | None = None,
                  lee_carrier=(0.0, 0.25)) -> EncodedFrames:
    """Encode complex panel targets (F, Ny, Nx) for ``slm`` and convert them to frames.

    One ``amax`` (default max |targets| over all frames) for all frames, so the frames keep the
    model's relative channel weights. The SLM applies its flatness, LUT or linear law (2 pi gray
    level, sign), wavelength scaling (``wavelength``, m) and quantisation (``SLM.encode``).
    """
    t = np.asarray(targets)
    if t.ndim == 2:
        t = t[None]
    enc = resolve_encoding(encoding, slm.mode)
    peak = float(np.abs(t).max()) if t.size else 0.0
    amax = peak if amax is None else float(amax)
    if not amax > 0:
        raise ValueError("the masks are zero on the panel: nothing to export (is the model trained?)")
    if enc == "double_phase":
        e = double_phase(t, amax)
        phase = _wrap(e.pattern)
        return EncodedFrames(slm.encode(phase, wavelength), phase, None, np.full(len(t), e.scale, complex), amax, enc)
    if enc == "phase":
        phase = np.angle(t)
        return EncodedFrames(slm.encode(phase, wavelength), phase, None, np.ones(len(t), complex), amax, enc)
    if enc == "amplitude":
        a = np.abs(t) / amax
        return EncodedFrames(slm.encode(a, wavelength), None, a, np.full(len(t), 1 / amax, complex), amax, enc)
    e = lee_hologram(t, lee_carrier, amax)
    return EncodedFrames(slm.encode(e.pattern, wavelength), None, e.pattern, np.full(len(t), e.scale, complex),
                         amax, enc)
