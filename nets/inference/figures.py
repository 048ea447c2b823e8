"""Figures of a simulation: the input, the Fourier-plane SLM frame, the camera image with its
channel tiles, and the feature maps (optical next to digital)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .results import SimulationResult

__all__ = ["save_figures", "save_png"]


def save_png(fig, path) -> Path:
    """Render a matplotlib Figure to PNG and write it atomically."""
    from optics4f.io.atomic import atomic_open

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb", overwrite=True) as f:
        f.write(buf.getvalue())
    return path


def save_figures(res: SimulationResult, out_dir: str | Path, index: int = 0) -> list[Path]:
    """Write input.png, fourier_frame.png, camera.png and features.png for test image ``index``
    of a :func:`~nets.inference.simulate.simulate` result; returns the paths."""
    import torch
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    opt = res.optical
    out = Path(out_dir)
    x = res.images[index:index + 1]
    label = int(res.labels[index]) if res.labels.ndim == 1 else None
    paths = []

    fig = Figure(figsize=(3.6, 3.4))
    ax = fig.subplots()
    ax.imshow(x[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_title("input image" + (f" (label {label})" if label is not None else ""))
    ax.axis("off")
    paths.append(save_png(fig, out / "input.png"))

    fig = Figure(figsize=(9, 4))
    a1, a2 = fig.subplots(1, 2)
    frame = np.asarray(opt.frames[0])
    im = a1.imshow(frame, cmap="twilight" if frame.dtype.kind in "iu" else "gray", interpolation="nearest")
    a1.set_title(f"SLM frame (gray levels, {frame.shape[0]}x{frame.shape[1]} px)")
    fig.colorbar(im, ax=a1, fraction=0.046)
    t = np.asarray(opt.fourier_masks[0])
    c = min(32, t.shape[0] // 2)
    my, mx = t.shape[0] // 2, t.shape[1] // 2
    im = a2.imshow(np.angle(t[my - c:my + c, mx - c:mx + c]), cmap="twilight", interpolation="nearest",
                   extent=[-c, c, c, -c])
    a2.set_title("Fourier-plane phase (centre, samples)")
    fig.colorbar(im, ax=a2, fraction=0.046)
    fig.tight_layout()
    paths.append(save_png(fig, out / "fourier_frame.png"))

    frame = opt.camera_frame(x.numpy())[0]
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    im = ax.imshow(frame, cmap="inferno")
    fig.colorbar(im, ax=ax, fraction=0.046, label="ADU")
    lay = opt.system.layout
    ny, nx = frame.shape
    th, tw = lay.tile_shape
    for ch, (oy, ox) in enumerate(lay.offsets()):
        y0, x0 = ny // 2 + oy - th // 2, nx // 2 + ox - tw // 2
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), tw, th, fill=False, ec="c", lw=0.8))
        ax.text(x0 + 1, y0 + 3, str(ch), color="c", fontsize=7)
    ax.set_title("camera image with the channel tiles")
    paths.append(save_png(fig, out / "camera.png"))

    feats = opt.features(opt.tiles(frame[None]))[0].numpy()
    with torch.no_grad():
        ideal = opt.model.camera(x)[0].numpy()
    c = feats.shape[0]
    fig = Figure(figsize=(1.6 * c, 3.6))
    axes = fig.subplots(2, c, squeeze=False)
    for k in range(c):
        vmax = float(max(ideal[k].max(), 1e-12))
        axes[0, k].imshow(feats[k], cmap="viridis", vmin=0, vmax=vmax)
        axes[1, k].imshow(ideal[k], cmap="viridis", vmin=0, vmax=vmax)
        axes[0, k].set_title(f"ch {k}", fontsize=8)
        for a in axes[:, k]:
            a.set_xticks([])
            a.set_yticks([])
    axes[0, 0].set_ylabel("optical")
    axes[1, 0].set_ylabel("digital")
    fig.suptitle("feature maps (camera tiles in detector units) vs the digital student")
    fig.tight_layout()
    paths.append(save_png(fig, out / "features.png"))
    return paths
