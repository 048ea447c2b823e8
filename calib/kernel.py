"""End-to-end kernel: identify the convolution the bench really applies (the kernel the network
gets) from probe inputs, and compare it with the programmed one.

Model (docs/architecture.md#conventions, :mod:`optics4f.kernels`): with a Fourier mask H the 4f output is
v(x') = -(f1/f2) (u * h)(-x' f1/f2), a convolution followed by an inversion. Once the output is
un-inverted (:func:`uninvert`: pixel j <- pixel (N - j) mod N, for an even N, axis at N//2) and
sampled with one output pixel per input sample (camera pitch = input pitch x f2/f1), the bench is
a linear shift-invariant map y = h_eff (*) x of the displayed image x (one value per input
sample). h_eff includes everything: the amplitude factor and the sign, the illumination, the
display, the SLM's encoding, LUT, quantisation, pixels and fringing, misalignments, aberrations
and the camera's pixel averaging.

Identification (:func:`identify_transfer`): from n probe images x_i (random patterns inside a
window that leaves room for the kernel, so that the output does not leave the camera and the
circular convolution on the camera grid equals the linear one) and the measured complex outputs
y_i, the least-squares transfer function at each frequency is

    H_eff(f) = sum_i conj(X_i(f)) Y_i(f) / (sum_i |X_i(f)|^2 + eps),

(X, Y: DFTs over the camera grid), and h_eff its inverse DFT, centred. The complex outputs come
from holographic (phase-shifting) detection, :meth:`optics4f.system.Hardware4f.detect_holographic`
on the simulator; a bench with an intensity camera only can still measure |h_eff|^2 from an
impulse (:func:`impulse_intensity`).

Comparison (:func:`compare_kernels`): the best complex scale alpha with h_meas ~ alpha h_prog
(least squares; the global phase of a holographic measurement is arbitrary, the gain depends on
the exposure), and the relative error ||h_meas - alpha h_prog|| / ||h_meas||.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from optics4f.kernels import mask_to_kernel
from optics4f.padding import pad_center

from .base import Calibration
from .checks import FrameError, check_frames
from .frames import load_frames

__all__ = ["KernelCalibration", "calibrate_kernel", "random_probes", "uninvert", "identify_transfer",
           "crop_kernel", "programmed_kernel", "compare_kernels", "impulse_intensity"]


def _fields(a, name) -> np.ndarray:
    """(n, h, w) numeric array from an array, a .npy file (complex fields too) or image files."""
    if isinstance(a, (str, Path)) and Path(a).suffix.lower() == ".npy":
        if not Path(a).is_file():
            raise FileNotFoundError(f"{name}: no such file {str(a)!r}")
        a = np.load(a, allow_pickle=False)
    elif isinstance(a, (str, Path, list, tuple)):
        a = load_frames(a)
    a = np.asarray(a)
    if a.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"{name} must be stacked as (n, h, w), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or Inf")
    return a


def random_probes(n: int, shape, size, rng) -> np.ndarray:
    """``n`` probe images (n, *shape), float in [0, 1]: uniform random values in a centred window of
    ``size`` (h, w) pixels, zero around it. Choose size <= shape - (kernel extent) so that every
    output stays on the camera."""
    h, w = np.broadcast_to(np.asarray(size, dtype=int), (2,))
    if n < 1 or h < 1 or w < 1 or h > shape[0] or w > shape[1]:
        raise ValueError(f"need n >= 1 probes and a window size within the image {tuple(shape)}, got n={n}, "
                         f"size={size!r}")
    return pad_center(rng.uniform(0.0, 1.0, (int(n), int(h), int(w))), tuple(shape))


def uninvert(v) -> np.ndarray:
    """Undo the 4f image inversion on a grid with the axis at N//2: out[j] = v[(N - j) mod N] (last
    two axes; N even), so that out = h_eff (*) x on the same indices as the input."""
    v = np.asarray(v)
    if v.shape[-1] % 2 or v.shape[-2] % 2:
        raise ValueError(f"uninvert needs even sizes (axis at N//2), got {v.shape[-2:]}")
    return np.roll(np.flip(v, axis=(-2, -1)), shift=(1, 1), axis=(-2, -1))


def identify_transfer(inputs, outputs, inverted: bool = True, eps: float = 1e-9) -> dict:
    """Least-squares transfer function of a linear shift-invariant system from probe pairs.

    Parameters
    ----------
    inputs : (n, h, w) real
        Probe images as displayed (one value per input sample), on the output's grid (pad a
        smaller display image with :func:`optics4f.padding.pad_center`).
    outputs : (n, h, w) complex (or real)
        Measured output fields (camera pixels), e.g. from holographic detection.
    inverted : bool
        The outputs are the 4f's inverted image (default): :func:`uninvert` them first.
    eps : float
        Regularisation relative to the mean of sum_i |X_i|^2 (frequencies the probes miss).

    Returns a dict: ``transfer`` (h, w) H_eff in centred order, ``kernel`` (h, w) h_eff with its
    centre at (h//2, w//2) (the embedding of :func:`optics4f.kernels.embed_kernel`),
    ``residual`` ||Y - H X|| / ||Y|| over all probes (noise and whatever is not a convolution),
    ``kernel_sigma`` (one-sigma of each kernel sample, from the residual; NaN for one probe) and
    ``transfer_sigma`` (h, w). All-zero inputs or outputs raise :class:`calib.checks.FrameError`.
    """
    x = _fields(inputs, "inputs").astype(np.float64)
    y = _fields(outputs, "outputs").astype(np.complex128)
    if x.shape != y.shape:
        raise ValueError(f"inputs {x.shape} and outputs {y.shape} must have the same shape (n, h, w); embed the "
                         "display images on the camera grid first")
    if not np.abs(x).max() > 0:
        raise FrameError("inputs: every probe image is zero; display the probe patterns (random_probes)")
    if not np.abs(y).max() > 0:
        raise FrameError("outputs: every measured field is zero (no light on the camera); check the source, the "
                         "exposure and the holographic detection")
    if inverted:
        y = uninvert(y)
    # Centred DFT (axis at N//2): shift to the origin, transform.
    X = np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)))
    Y = np.fft.fft2(np.fft.ifftshift(y, axes=(-2, -1)))
    power = np.sum(np.abs(X) ** 2, axis=0)
    H = np.sum(np.conj(X) * Y, axis=0) / (power + eps * power.mean())
    kernel = np.fft.fftshift(np.fft.ifft2(H))
    resid = Y - H * X
    residual = float(np.linalg.norm(resid) / np.linalg.norm(Y))
    # Noise per frequency and probe (n - 1 degrees of freedom per frequency), then var(H(f)) = s2 / sum|X|^2;
    # the inverse DFT (1/N normalisation) gives every kernel sample the variance sum_f var(H(f)) / N^2.
    n, npix = x.shape[0], x.shape[1] * x.shape[2]
    s2 = float(np.sum(np.abs(resid) ** 2) / (max(n - 1, 1) * npix))
    var_h = s2 / (power + eps * power.mean())
    kernel_sigma = float(np.sqrt(np.sum(var_h)) / npix) if n > 1 else float("nan")
    return {"transfer": np.fft.fftshift(H), "kernel": kernel, "residual": residual, "kernel_sigma": kernel_sigma,
            "transfer_sigma": np.fft.fftshift(np.sqrt(var_h))}


def crop_kernel(kernel, shape) -> np.ndarray:
    """The centred (kh, kw) window of an embedded kernel (centre pixel kh//2, kw//2 on the axis)."""
    kh, kw = (int(s) for s in shape)
    ny, nx = kernel.shape[-2:]
    oy, ox = ny // 2 - kh // 2, nx // 2 - kw // 2
    if oy < 0 or ox < 0 or kh > ny or kw > nx:
        raise ValueError(f"kernel_shape {(kh, kw)} does not fit the grid {(ny, nx)}")
    return np.asarray(kernel)[..., oy:oy + kh, ox:ox + kw]


def programmed_kernel(mask, shape) -> np.ndarray:
    """The kernel (kh, kw) a Fourier mask (centred order, FourF convention) is meant to apply:
    :func:`optics4f.kernels.mask_to_kernel`, cropped."""
    return crop_kernel(mask_to_kernel(np.asarray(mask, dtype=np.complex128)), shape)


def compare_kernels(measured, programmed) -> dict:
    """Best complex scale alpha (measured ~ alpha programmed) and the relative error.

    Returns ``scale`` (complex), ``relative_error`` ||m - alpha p|| / ||m|| (0 for the same
    kernel up to gain and phase, 1 for unrelated ones) and ``correlation`` |<p, m>| / (|p||m|).
    """
    m = np.asarray(measured, dtype=np.complex128)
    p = np.asarray(programmed, dtype=np.complex128)
    if m.shape != p.shape:
        raise ValueError(f"measured {m.shape} and programmed {p.shape} kernels must have the same shape")
    pp = np.vdot(p, p).real
    if pp == 0 or not np.any(m):
        raise ValueError("a kernel is all zeros; nothing to compare")
    alpha = np.vdot(p, m) / pp
    err = float(np.linalg.norm(m - alpha * p) / np.linalg.norm(m))
    corr = float(abs(np.vdot(p, m)) / np.sqrt(pp * np.vdot(m, m).real))
    return {"scale": complex(alpha), "relative_error": err, "correlation": corr}


def impulse_intensity(frames, dark, kernel_shape, inverted: bool = True) -> np.ndarray:
    """|h_eff|^2 (kh, kw), normalised to sum 1, from camera frames (ADU) of an impulse (one lit
    display pixel on the optical axis) with an intensity-only camera: dark-subtracted, averaged,
    un-inverted and cropped. Compare with |programmed|^2 / sum."""
    f = check_frames(load_frames(frames), dark, "impulse frames", each=True)
    f = f.mean(axis=0) - np.asarray(dark, dtype=np.float64)
    if inverted:
        f = uninvert(f)
    k = np.maximum(crop_kernel(f, kernel_shape), 0.0)
    total = k.sum()
    if total <= 0:
        raise ValueError("no signal above the dark level in the kernel window; check exposure and dark frame")
    return k / total


# -- calibration object ----------------------------------------------------------------------------
@dataclass(eq=False)
class KernelCalibration(Calibration):
    """Measured end-to-end kernel and its comparison with the programmed one.

    values: ``kernel`` (kh, kw) complex, h_eff (output field per input sample value, the units of
    the outputs given); ``programmed`` (kh, kw) complex; ``transfer`` (h, w) complex H_eff in
    centred order on the camera grid; ``scale`` (complex alpha of :func:`compare_kernels`);
    ``relative_error`` and ``correlation`` (1); ``residual`` (1, of the identification).

    This is a verification of the whole chain; it changes no device (``apply_to_*`` are the
    base no-ops). :meth:`precompensate` divides a wanted transfer by the measured one.
    """

    kind: str = "kernel"

    def precompensate(self, wanted_transfer, floor: float = 0.1) -> np.ndarray:
        """wanted * (programmed / measured transfer) on the camera-grid frequencies, where the
        measured transfer exceeds ``floor`` x its maximum (elsewhere the wanted value is kept):
        what to program so that the bench applies ``wanted``. Same shape as ``transfer``."""
        H = np.asarray(self["transfer"], dtype=np.complex128) / complex(self["scale"])
        wanted = np.asarray(wanted_transfer, dtype=np.complex128)
        if wanted.shape != H.shape:
            raise ValueError(f"wanted_transfer must have the transfer's shape {H.shape}, got {wanted.shape}")
        prog = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(pad_center(
            np.asarray(self["programmed"], dtype=np.complex128), H.shape))))
        ok = np.abs(H) > floor * np.abs(H).max()
        out = wanted.copy()
        out[ok] = wanted[ok] * prog[ok] / H[ok]
        return out


def calibrate_kernel(inputs, outputs, programmed, kernel_shape=None, inverted: bool = True,
                     truth: np.ndarray | None = None, output_units: str = "sqrt(W)/m",
                     metadata: dict | None = None, bench: dict | None = None) -> KernelCalibration:
    """End-to-end kernel calibration.

    ``inputs`` (n, h, w) probe images on the camera grid (arrays or files); ``outputs`` (n, h, w)
    the measured complex fields (holographic detection; an array or a .npy file);
    ``programmed``: the programmed kernel (kh, kw) (its shape is the
    support compared) or, with ``kernel_shape``, the programmed Fourier mask (centred order, any
    size: :func:`programmed_kernel`). ``truth``: the true h_eff (kh, kw) of a simulated bench.
    ``output_units``: units of the outputs (the kernel is in these units per input value).
    ``bench``: the bench description to record (:func:`calib.benchinfo.describe_bench`).
    ``uncertainty``: one-sigma of the kernel samples, the transfer and the relative error (from the
    identification residual; needs 2 probes or more).
    """
    prog = np.asarray(programmed, dtype=np.complex128)
    if kernel_shape is not None:
        prog = programmed_kernel(prog, kernel_shape)
    inputs = _fields(inputs, "inputs")
    if inputs.shape[0] < 2:
        raise FrameError(f"{inputs.shape[0]} probe; the kernel and its uncertainty need at least 2 probes "
                         "(random_probes(8, ...))")
    ident = identify_transfer(inputs, outputs, inverted)
    meas = crop_kernel(ident["kernel"], prog.shape)
    cmp = compare_kernels(meas, prog)
    values = {"kernel": meas, "programmed": prog, "transfer": ident["transfer"],
              "scale": np.asarray(cmp["scale"]), "relative_error": cmp["relative_error"],
              "correlation": cmp["correlation"], "residual": ident["residual"]}
    units = {"kernel": output_units, "programmed": "1", "transfer": output_units, "scale": output_units,
             "relative_error": "1", "correlation": "1", "residual": "1"}
    tr = None if truth is None else {"kernel": np.asarray(truth, dtype=np.complex128)}
    meta = {"method": "least-squares transfer from random probes", "n_probes": float(inputs.shape[0])}
    meta.update(metadata or {})
    ks = ident["kernel_sigma"]
    norm = float(np.linalg.norm(meas))
    unc = {"kernel": np.full(meas.shape, ks), "transfer": ident["transfer_sigma"],
           "relative_error": ks * np.sqrt(meas.size) / norm if norm > 0 else float("nan")}
    return KernelCalibration(values=values, units=units, truth=tr, metadata=meta, uncertainty=unc,
                             bench=dict(bench or {}))
