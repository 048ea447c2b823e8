"""Demo: propagate a test pattern through an ideal 4f system and save a figure.

    optics4f demo [--out DIR] [--n 256]      (or python examples/fourf_demo.py)

Shows the input on the display, the Fourier-plane field with an edge-detecting
(Laplacian) mask, and the output: the filtered image, inverted by the 4f
system (the printed check compares it with scipy.signal.fftconvolve).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def test_pattern(n: int) -> np.ndarray:
    """A ring, a bar and a square on a dark background (amplitude, 0..1)."""
    y, x = (np.mgrid[:n, :n] - n // 2) / n
    img = ((np.hypot(x + 0.18, y + 0.12) < 0.12) & (np.hypot(x + 0.18, y + 0.12) > 0.07)).astype(float)
    img += (np.abs(x - 0.15) < 0.03) & (np.abs(y + 0.1) < 0.15)
    img += (np.abs(x + 0.05) < 0.08) & (np.abs(y - 0.2) < 0.08)
    return np.clip(img, 0, 1)


def run(out: Path, n: int = 256, show: bool = False) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import fftconvolve

    import optics4f as o
    from optics4f.io.atomic import atomic_open
    from optics4f.validate import check_memory, integer

    n = integer("n", n, min=8)
    # the pattern (float64 mgrid, complex64 field) and the 2x padded 4f system's arrays and figure images
    check_memory(n * n * (40 + 4 * 8 * 6), f"a {n} x {n} demo", "use a smaller --n (e.g. 256)")
    wavelength, f, pitch = 532e-9, 0.1, 8e-6
    u = test_pattern(n).astype(np.complex64)
    laplacian = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], dtype=float)
    system = o.FourF((n, n), pitch, wavelength, f, f, pad=2)
    mask = o.kernel_to_mask(laplacian, system.padded_shape)
    w = system.fourier_plane(u) * mask
    v = system.apply(u, mask)
    # Check: the 4f output is -(u * k) at the inverted point.
    ref = fftconvolve(u, laplacian, mode="same")
    ref_inv = np.roll(ref[::-1, ::-1], 1, axis=(0, 1))
    err = float(np.abs(v[1:, 1:] + ref_inv[1:, 1:]).max() / np.abs(ref).max())

    fig, ax = plt.subplots(1, 3, figsize=(12, 4))
    mm = 1e3
    ax[0].imshow(np.abs(u), extent=np.array(system.in_grid.extent()) * mm, origin="lower", cmap="gray")
    ax[0].set_title("input amplitude |u|")
    ax[0].set_xlabel("x (mm)")
    ax[1].imshow(np.log10(np.abs(w) + 1e-12), extent=np.array(system.fourier_grid.extent()) * mm,
                 origin="lower", cmap="magma")
    ax[1].set_title("Fourier plane log10|H U|")
    ax[1].set_xlabel("u (mm)")
    ax[2].imshow(np.abs(v) ** 2, extent=np.array(system.out_grid.extent()) * mm, origin="lower", cmap="gray")
    ax[2].set_title("output intensity |v|^2 (inverted)")
    ax[2].set_xlabel("x (mm)")
    fig.suptitle(f"ideal 4f, f = {f * 100:.0f} cm, lambda = {wavelength * 1e9:.0f} nm, Laplacian mask")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "fourf_demo.png"
    with atomic_open(path, "wb", overwrite=True) as fh:
        fig.savefig(fh, format="png", dpi=110)
    plt.close(fig)
    print(f"4f output vs fftconvolve: max relative error {err:.2e}")
    print(f"Fourier-plane pitch {system.fourier_grid.dx * 1e6:.3f} um, output pitch {system.out_grid.dx * 1e6:.3f} um")
    print(f"figure: {path}")
    return {"error": err, "figure": str(path)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: ./out)")
    p.add_argument("--n", type=int, default=256, help="input samples per side (default 256)")
    args = p.parse_args(argv)
    res = run(args.out, args.n)
    return 0 if res["error"] < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
