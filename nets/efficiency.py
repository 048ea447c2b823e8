"""Operation, latency and energy model: nonlinear teacher (digital) vs hybrid optical system.

The question (Xiang et al. 2022): does raising the input resolution favour the optical
network? The digital teacher's convolutions cost O(N^2) operations per image; the 4f
system convolves at the speed of light, so its cost is set by device frame rates
(display, SLM, camera) and by the electronic back end after the camera.

Everything here is a plain function of a few documented numbers, collected in
:class:`Assumptions` with the unit and source of each default; the benchmark script
(``benchmarks/efficiency_vs_resolution.py``) prints them, lets the command line override
them, and feeds in digital times measured on the machine it runs on.

Model
-----
* Digital network: multiply-accumulates (MACs) per layer from its layer list
  (:func:`count_ops`; FLOPs = 2 MACs, the convention of ``torch.utils.flop_counter``).
* Teacher on a CPU: measured seconds (interpolated by :func:`fit_time`), energy = seconds x
  ``cpu_power_w``.
* Teacher on a GPU: seconds = kernels x ``gpu_launch_s`` + FLOPs / (``gpu_peak_flops`` x
  ``gpu_utilization``); energy = FLOPs x ``gpu_j_per_flop`` (the board's peak efficiency: a
  bound in the GPU's favour).
* Optical front end (:func:`optical_frame`): one frame shows the image on the display and reads
  the camera; with ``frames > 1`` (output channels time-multiplexed) the SLM mask changes every
  frame. frame time = max(1/display_hz, [1/slm_hz], 1/camera_fps, camera pixels / pixel rate);
  energy = frames x frame time x (laser electrical + display + SLM + camera power).
* Electronic back end: measured seconds (float) and energy from per-operation energies (Horowitz,
  ISSCC 2014) for a float or a dyadic shift-and-add back end (:func:`backend_ops`).
* Hybrid = optics + back end, in sequence (latency of one image, no pipelining credit).
* Accuracy is not modelled: the comparison is at equal accuracy by assumption (the KD
  student reaching the teacher's accuracy is what the KD tables measure).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np

__all__ = [
    "Conv2d", "MaxPool2d", "ReLU", "Linear", "teacher_layers", "count_ops",
    "Assumptions", "optical_frame", "gpu_cost", "backend_ops", "backend_energy",
    "fit_time", "interpolate_time", "crossover",
]


# ---------------------------------------------------------------- layer lists and op counts
@dataclass(frozen=True)
class Conv2d:
    """Convolution, stride 1, 'same' zero padding (odd kernel): out (c_out, H, W)."""
    c_in: int
    c_out: int
    kernel_size: int


@dataclass(frozen=True)
class MaxPool2d:
    """Max pooling, window = stride = ``k`` (floor): out (C, H//k, W//k)."""
    k: int = 2


@dataclass(frozen=True)
class ReLU:
    pass


@dataclass(frozen=True)
class Linear:
    """Fully connected layer on the flattened input: ``n_out`` outputs."""
    n_out: int


def teacher_layers(in_channels: int = 1, n_classes: int = 10, widths: Sequence[int] = (16, 32),
                   kernel_size: int = 3, hidden: int = 64) -> list:
    """Layer list of the default classification teacher (``nets.models.TeacherCNN``):
    [conv -> ReLU -> max-pool 2] per width, then (Linear(hidden) -> ReLU) -> Linear(n_classes)."""
    layers, c = [], in_channels
    for w in widths:
        layers += [Conv2d(c, int(w), kernel_size), ReLU(), MaxPool2d(2)]
        c = int(w)
    if hidden:
        layers += [Linear(int(hidden)), ReLU()]
    return layers + [Linear(n_classes)]


def count_ops(layers, in_shape) -> dict:
    """Operation count of one image through ``layers``.

    Parameters
    ----------
    layers : list of Conv2d, MaxPool2d, ReLU, Linear
    in_shape : (C, H, W)

    Returns
    -------
    dict with ``macs`` (multiply-accumulates of conv/linear layers), ``flops`` (2 x macs),
    ``other`` (ReLU and max-pool comparisons), ``kernels`` (layers = GPU kernel launches),
    ``out_shape``.
    """
    c, h, w = (int(v) for v in in_shape)
    macs = other = 0
    flat = None
    for i, layer in enumerate(layers):
        if isinstance(layer, Conv2d):
            if flat is not None:
                raise ValueError(f"layer {i}: Conv2d after Linear")
            if layer.c_in != c:
                raise ValueError(f"layer {i}: Conv2d expects {layer.c_in} channels, gets {c}")
            c = layer.c_out
            macs += h * w * layer.c_in * layer.c_out * layer.kernel_size**2
        elif isinstance(layer, MaxPool2d):
            other += (h // layer.k) * (w // layer.k) * c * (layer.k**2 - 1)
            h, w = h // layer.k, w // layer.k
            if h < 1 or w < 1:
                raise ValueError(f"layer {i}: the input {in_shape} is too small for its pooling")
        elif isinstance(layer, ReLU):
            other += flat if flat is not None else c * h * w
        elif isinstance(layer, Linear):
            n_in = flat if flat is not None else c * h * w
            macs += n_in * layer.n_out
            flat = layer.n_out
        else:
            raise TypeError(f"layer {i}: unknown layer {layer!r}")
    out_shape = (flat,) if flat is not None else (c, h, w)
    return {"macs": macs, "flops": 2 * macs, "other": other, "kernels": len(layers), "out_shape": out_shape}


# ---------------------------------------------------------------- assumptions
_PLAUSIBLE = "order-of-magnitude assumption, not a datasheet value"


@dataclass
class Assumptions:
    """Device and energy figures of the model (SI units). ``SOURCES`` gives unit and source."""

    display_hz: float = 1031.0
    slm_hz: float = 60.0
    camera_fps: float = 1000.0
    camera_pixel_rate: float = 1.0e9
    laser_power_w: float = 0.01
    laser_efficiency: float = 0.3
    display_power_w: float = 5.0
    slm_power_w: float = 5.0
    camera_power_w: float = 5.0
    channels_per_frame: int = 0
    cpu_power_w: float = 5.0
    gpu_peak_flops: float = 19.5e12
    gpu_utilization: float = 0.3
    gpu_launch_s: float = 5e-6
    gpu_j_per_flop: float = 400.0 / 19.5e12
    int_add_j: float = 0.1e-12
    fp_add_j: float = 0.9e-12
    fp_mul_j: float = 3.7e-12

    SOURCES = {
        "display_hz": ("Hz", "input display (DMD) 8-bit grey pattern rate: TI DLP6500 + DLPC900, 1031 Hz "
                             "(9523 Hz binary), DLPC900 datasheet"),
        "slm_hz": ("Hz", "Fourier-plane LCoS phase SLM frame rate: Holoeye PLUTO-2, 60 Hz; only limits "
                         "when channels are time-multiplexed (frames > 1)"),
        "camera_fps": ("1/s", "high-speed CMOS camera frame rate; " + _PLAUSIBLE + " (~1 Mpx at 1000 fps class)"),
        "camera_pixel_rate": ("pixel/s", "camera read-out rate; " + _PLAUSIBLE + " (1 Mpx x 1000 fps)"),
        "laser_power_w": ("W (optical)", "CW laser power; " + _PLAUSIBLE + " (10 mW is ample for ms exposures)"),
        "laser_efficiency": ("1", "laser wall-plug efficiency; " + _PLAUSIBLE + " (diode lasers 20-50 %)"),
        "display_power_w": ("W", "display (DMD + controller) electrical power; " + _PLAUSIBLE),
        "slm_power_w": ("W", "SLM (panel + driver) electrical power; " + _PLAUSIBLE),
        "camera_power_w": ("W", "camera electrical power; " + _PLAUSIBLE),
        "channels_per_frame": ("1", "output channels tiled side by side on the camera in one frame "
                                    "(0 = all of them: one frame, static SLM mask); design choice"),
        "cpu_power_w": ("W", "power of the CPU core(s) timing the digital parts (one by default); " +
                             _PLAUSIBLE + " (~4-5 W per active core of a 64-core server CPU at 225-280 W)"),
        "gpu_peak_flops": ("FLOP/s", "NVIDIA A100 SXM peak FP32 (non-tensor) 19.5 TFLOP/s, A100 datasheet"),
        "gpu_utilization": ("1", "fraction of peak reached by small batch-1 convolutions; " + _PLAUSIBLE),
        "gpu_launch_s": ("s", "per-kernel launch overhead, a few microseconds on CUDA; " + _PLAUSIBLE),
        "gpu_j_per_flop": ("J/FLOP", "A100 400 W TDP / 19.5 TFLOP/s = 2.1e-11 (peak efficiency: a bound in "
                                     "the GPU's favour), A100 datasheet"),
        "int_add_j": ("J", "32-bit integer add, 0.1 pJ (45 nm), Horowitz, ISSCC 2014; shifts counted the same"),
        "fp_add_j": ("J", "32-bit float add, 0.9 pJ (45 nm), Horowitz, ISSCC 2014"),
        "fp_mul_j": ("J", "32-bit float multiply, 3.7 pJ (45 nm), Horowitz, ISSCC 2014"),
    }

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)) or v < 0:
                raise ValueError(f"{f.name} must be a finite number >= 0, got {v!r}")
        for name in ("display_hz", "slm_hz", "camera_fps", "camera_pixel_rate", "laser_efficiency",
                     "gpu_peak_flops", "gpu_utilization"):
            if getattr(self, name) == 0:
                raise ValueError(f"{name} must be > 0 (it divides)")

    def describe(self) -> list:
        """One line per assumption: name, value, unit, source."""
        return [f"{f.name:>18} = {getattr(self, f.name):<10.4g} {self.SOURCES[f.name][0]:<12} "
                f"{self.SOURCES[f.name][1]}" for f in fields(self)]


# ---------------------------------------------------------------- the hybrid system
def optical_frame(camera_pixels: int, channels: int, a: Assumptions) -> dict:
    """Time and energy of the optical front end for one image.

    Parameters
    ----------
    camera_pixels : int
        Pixels read per image (all channels, after any binning).
    channels : int
        Output channels; ``a.channels_per_frame`` of them share a frame (0 = all).
    a : Assumptions

    Returns
    -------
    dict: ``frames``, ``frame_s`` (s per frame), ``seconds``, ``joules``, ``limit`` (what sets
    the frame time: "display", "slm", "camera" or "readout").
    """
    if camera_pixels < 1 or channels < 1:
        raise ValueError(f"camera_pixels and channels must be >= 1, got {camera_pixels}, {channels}")
    per = channels if a.channels_per_frame in (0, None) else min(int(a.channels_per_frame), channels)
    frames = math.ceil(channels / per)
    pixels_per_frame = camera_pixels * per / channels
    times = {"display": 1 / a.display_hz, "camera": 1 / a.camera_fps,
             "readout": pixels_per_frame / a.camera_pixel_rate}
    if frames > 1:
        times["slm"] = 1 / a.slm_hz
    limit = max(times, key=times.get)
    frame_s = times[limit]
    power = a.laser_power_w / a.laser_efficiency + a.display_power_w + a.camera_power_w + a.slm_power_w
    seconds = frames * frame_s
    return {"frames": frames, "frame_s": frame_s, "seconds": seconds, "joules": seconds * power, "limit": limit}


def gpu_cost(flops: float, kernels: int, a: Assumptions) -> dict:
    """Modelled batch-1 GPU ``seconds`` and ``joules`` of a network of ``flops`` in ``kernels`` launches."""
    seconds = kernels * a.gpu_launch_s + flops / (a.gpu_peak_flops * a.gpu_utilization)
    return {"seconds": seconds, "joules": flops * a.gpu_j_per_flop}


def backend_ops(n_in: int, n_out: int, terms: int | None = None, bias: bool = True) -> dict:
    """Operations of a fully connected back end layer ``n_in -> n_out`` per image.

    ``terms=None``: float (one multiply and one add per weight). ``terms=k``: dyadic weights
    of at most ``k`` signed powers of two, upper bound (every weight uses all ``k`` terms,
    every term a shift; :meth:`nets.dyadic.DyadicMLP.ops` counts a trained layer exactly).
    """
    if terms is None:
        return {"adds": n_out * (n_in - 1 + int(bias)), "shifts": 0, "multiplies": n_out * n_in}
    return {"adds": n_out * (terms * n_in - 1 + int(bias)), "shifts": n_out * (terms * n_in + 1),
            "multiplies": 0}


def backend_energy(ops: dict, a: Assumptions) -> float:
    """Joules of an operation count: integer adds and shifts when there are no multiplies
    (dyadic back end), float adds and multiplies otherwise. Memory traffic is not counted."""
    if ops["multiplies"]:
        return ops["adds"] * a.fp_add_j + ops["multiplies"] * a.fp_mul_j
    return (ops["adds"] + ops["shifts"]) * a.int_add_j


# ---------------------------------------------------------------- fitting and the crossover
def fit_time(flops, seconds):
    """Least-squares fit ``seconds = t0 + flops / rate`` with ``t0, 1/rate >= 0`` (scipy nnls).

    Returns ``(t0, rate)`` (s, FLOP/s) and is used to interpolate measured digital times.
    Errors are weighted relatively (each point divided by its time) so small sizes count.
    """
    from scipy.optimize import nnls

    f = np.asarray(flops, dtype=float)
    t = np.asarray(seconds, dtype=float)
    if f.shape != t.shape or f.size < 2:
        raise ValueError("fit_time needs at least two (flops, seconds) pairs of equal length")
    if np.any(t <= 0):
        raise ValueError("seconds must be > 0")
    A = np.stack([np.ones_like(f), f], axis=1) / t[:, None]
    (t0, inv_rate), _ = nnls(A, np.ones_like(t))
    return float(t0), (float("inf") if inv_rate == 0 else float(1 / inv_rate))


def interpolate_time(flops: float, measured_flops, measured_s, rate: float) -> float:
    """Seconds of a digital network at ``flops``, from times measured at other sizes.

    Between measured points: log-log linear interpolation (passes through every measurement).
    Outside their range: the nearest measured time plus the extra FLOPs at ``rate`` (FLOP/s,
    e.g. from :func:`fit_time`), so the curve is continuous; never below 0.
    """
    mf, ms = np.asarray(measured_flops, float), np.asarray(measured_s, float)
    order = np.argsort(mf)
    mf, ms = mf[order], ms[order]
    if mf[0] <= flops <= mf[-1]:
        return float(np.exp(np.interp(np.log(flops), np.log(mf), np.log(ms))))
    edge = 0 if flops < mf[0] else -1
    return max(float(ms[edge] + (flops - mf[edge]) / rate), 0.0)


def crossover(ns, hybrid_s, hybrid_j, digital_s, digital_j):
    """Smallest resolution of the grid ``ns`` from which the hybrid system is both faster and
    more energy-efficient than the digital network at every larger grid point; None if never.

    All arguments are 1-D arrays over the same increasing grid ``ns``.
    """
    ns = np.asarray(ns)
    if np.any(np.diff(ns) <= 0):
        raise ValueError("ns must be strictly increasing")
    wins = (np.asarray(hybrid_s) < np.asarray(digital_s)) & (np.asarray(hybrid_j) < np.asarray(digital_j))
    if not wins[-1]:
        return None
    losing = np.flatnonzero(~wins)
    return int(ns[0] if losing.size == 0 else ns[losing[-1] + 1])
