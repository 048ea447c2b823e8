"""Benchmark: the torch autograd bridge -- forward and forward+backward of its layers.

Layers (batch 64, 16 output channels by default, printed at the start):

* ideal: :class:`optics4f.torch.SpectralConv4f`, 28 x 28 inputs, 1 input channel,
  complex masks on the 2x padded (56 x 56) Fourier grid, complex64;
* hardware: :class:`optics4f.torch.Hardware4fConv`, the system of
  ``bench_hardware4f.py`` (28 x 28 images on an 8-bit display in a 128 x 128 plane, 2x
  padding, 8-bit phase SLM with straight-through quantisation, 16 channels tiled 4 x 4 on
  a 12-bit camera with reparameterised shot and read noise), learnable SLM phase.

Figures (medians of interleaved repeats, :mod:`_timing`):

* ``backward_over_forward``: backward time / forward time, backward = (forward+backward)
  - forward, the backward of a fixed output gradient (``out.backward(g)``: no loss function
  in the timing) (target <= 2.5);
* ``bridge_over_torch`` (ideal layer): the bridge against a pure-torch ``torch.fft``
  implementation of the same spectral convolution written here as the yardstick (it gives
  the same numbers, checked before timing), for the forward and for forward+backward
  (target <= 1.2 on the CPU).

Threads: on a shared 2-core machine torch's elementwise kernels ran many times slower with 2
OpenMP threads than with 1 (docs/results.md#measurements), which handicaps the torch yardstick;
compare with ``--threads 1`` as well.

Usage::

    python benchmarks/bench_autograd.py [--quick] [--json PATH] [--batch 64] [--channels 16] [--threads N]

``--json PATH`` writes records with keys ``case`` ("backward_over_forward",
"bridge_over_torch"), ``layer`` ("ideal", "hardware"), ``ratio`` (plus ``pass``, ``seconds``,
``target``). ``--quick`` uses fewer repeats and finishes in under a minute.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import interleaved_medians, machine_summary, repeats_for, write_json  # noqa: E402

import optics4f as o  # noqa: E402
from optics4f.devices.detector import Camera  # noqa: E402
from optics4f.devices.display import InputDisplay  # noqa: E402
from optics4f.devices.slm import SLM  # noqa: E402
from optics4f.system import SystemConfig, TiledLayout  # noqa: E402
from optics4f.torch.layers import Hardware4fConv, SpectralConv4f  # noqa: E402

TARGET_BACKWARD = 2.5
TARGET_TORCH = 1.2


def torch_spectral_conv(u, masks, op):
    """Pure-torch yardstick of ``optics4f.torch.spectral_conv``: the same FourF pass, with torch.fft.

    v[b, o] = crop(s * FFT2(ifftshift(H[o, i]) * FFT2(pad(u[b, i])))) summed over i, with
    s = -(f1/f2)/(My Mx): the fast path of :class:`optics4f.FourF` (two forward FFTs).
    """
    my, mx = op.padded_shape
    ny, nx = u.shape[-2:]
    oy, ox = my // 2 - ny // 2, mx // 2 - nx // 2
    up = torch.nn.functional.pad(u.to(masks.dtype), (ox, mx - nx - ox, oy, my - ny - oy))
    w = torch.fft.fft2(up)
    hs = torch.fft.ifftshift(masks, dim=(-2, -1)) * op.scale
    z = torch.einsum("bihw,oihw->bohw", w, hs)
    return torch.fft.fft2(z)[..., oy:oy + ny, ox:ox + nx]


def ideal_case(batch, channels):
    torch.manual_seed(0)
    layer = SpectralConv4f(1, channels, (28, 28), 8e-6, 532e-9, 0.1, pad=2.0)
    x = torch.rand(batch, 1, 28, 28)
    op = layer.operator(np.complex64)
    with torch.no_grad():
        a, b = layer(x), torch_spectral_conv(x, layer.mask, op)
    err = float((a - b).abs().max() / b.abs().max())
    if err > 1e-4:  # complex64 round-off of two FFT pairs is about 1e-6
        raise RuntimeError(f"the yardstick disagrees with the bridge (relative {err:.2e}); fix before timing")
    return layer, x, lambda inp: torch_spectral_conv(inp, layer.mask, op)


def hardware_case(batch, channels):
    d, n, m, lam = 8e-6, 128, 256, 532e-9
    f = d * m * d / lam
    rows = int(np.ceil(np.sqrt(channels)))
    cfg = SystemConfig(wavelength=lam, f1=f, f2=f, grid_shape=(n, n), pad=2.0,
                       display=InputDisplay(resolution=(28, 28), pitch=d),
                       slm=SLM(resolution=(m, m), pitch=d, bit_depth=8), encoding="phase",
                       camera=Camera(shape=(n, n), pixel_pitch=d, bit_depth=12, full_well=2e4, read_noise=2.0,
                                     noise=True, noise_model="gaussian"),
                       layout=TiledLayout(channels, (n // rows, n // rows)), illumination=0.01, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sampling notes of the fixed benchmark geometry
        layer = Hardware4fConv(cfg, in_channels=1)
    rng = np.random.default_rng(0)
    layer.set_masks(o.kernel_to_mask(rng.standard_normal((channels, 1, 5, 5)) / 5, (m, m)))
    x = torch.from_numpy(rng.uniform(0, 1, (batch, 1, 28, 28)).astype(np.float32))
    return layer, x


def _fwd(fn, x):
    def run():
        with torch.no_grad():
            fn(x)
    return run


def _fwd_bwd(fn, x, params):
    """Forward, then backward of a fixed output gradient: the layer's own backward, no loss in the timing."""
    with torch.no_grad():
        gout = torch.randn_like(fn(x))

    def run():
        for p in params:
            p.grad = None
        fn(x).backward(gout)
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (under a minute)")
    ap.add_argument("--json", type=Path, help="write the records to this JSON file")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=16, help="output channels")
    ap.add_argument("--threads", type=int, help="torch and FFT threads (default: library defaults)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        o.set_fft_engine(o.get_fft_engine(), threads=args.threads)
    budget = 1.5 if args.quick else 6.0
    print(f"# {machine_summary()}; torch {torch.__version__} with {torch.get_num_threads()} threads")
    print(f"# batch {args.batch}, {args.channels} output channels")
    records = []

    # ideal spectral layer against the pure-torch yardstick
    layer, x, yard = ideal_case(args.batch, args.channels)
    params = list(layer.parameters())
    fns = {"bridge_fwd": _fwd(layer, x), "torch_fwd": _fwd(yard, x),
           "bridge_fb": _fwd_bwd(layer, x, params), "torch_fb": _fwd_bwd(yard, x, params)}
    probe = interleaved_medians(fns, 1)
    t = interleaved_medians(fns, repeats_for(sum(probe.values()), budget))
    print(f"ideal (1 -> {args.channels}, 28x28, Fourier 56x56): forward {t['bridge_fwd'] * 1e3:.2f} ms "
          f"(torch {t['torch_fwd'] * 1e3:.2f}), forward+backward {t['bridge_fb'] * 1e3:.2f} ms "
          f"(torch {t['torch_fb'] * 1e3:.2f})")
    bwd = (t["bridge_fb"] - t["bridge_fwd"]) / t["bridge_fwd"]
    records += [
        dict(case="backward_over_forward", layer="ideal", ratio=bwd, seconds=t["bridge_fb"],
             target=TARGET_BACKWARD),
        dict(case="bridge_over_torch", layer="ideal", ratio=t["bridge_fwd"] / t["torch_fwd"], **{"pass": "forward"},
             seconds=t["bridge_fwd"], target=TARGET_TORCH),
        dict(case="bridge_over_torch", layer="ideal", ratio=t["bridge_fb"] / t["torch_fb"],
             **{"pass": "forward_backward"}, seconds=t["bridge_fb"], target=TARGET_TORCH),
    ]

    # hardware layer
    layer, x = hardware_case(args.batch, args.channels)
    params = list(layer.parameters())
    fns = {"fwd": _fwd(layer, x), "fb": _fwd_bwd(layer, x, params)}
    probe = interleaved_medians(fns, 1)
    t = interleaved_medians(fns, repeats_for(sum(probe.values()), budget))
    print(f"hardware (128x128 plane, Fourier 256x256, {args.channels} tiles): forward {t['fwd'] * 1e3:.1f} ms, "
          f"forward+backward {t['fb'] * 1e3:.1f} ms")
    records.append(dict(case="backward_over_forward", layer="hardware", ratio=(t["fb"] - t["fwd"]) / t["fwd"],
                        seconds=t["fb"], target=TARGET_BACKWARD))

    for r in records:
        tag = r.get("pass", "")
        ok = "ok" if r["ratio"] <= r["target"] else "ABOVE TARGET"
        print(f"{r['case']:>22s} {r['layer']:>8s} {tag:>16s}: {r['ratio']:.2f} (target <= {r['target']}) {ok}")
    if args.json:
        write_json(args.json, records)
    return records


if __name__ == "__main__":
    main()
