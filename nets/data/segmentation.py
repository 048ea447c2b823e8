"""Segmentation data: a seeded synthetic shapes set, and folders of image/mask pairs.

Synthetic shapes (works offline, at any resolution)
----------------------------------------------------
Each scene lives in the unit square and is drawn analytically at pixel centres
((j + 1/2) / W, (i + 1/2) / H), so the same seed gives the same scene at every
resolution (no resampling blur; the mask is exact at each pixel centre). A scene
is a textured background (a sum of random sinusoidal gratings on a dark base
level) with 1 to ``max_shapes`` shapes on top, each filled with a brighter level
and its own texture; later shapes occlude earlier ones. Classes::

    0 background   1 disc   2 rectangle (rotated)   3 triangle (equilateral, rotated)

Scene ``k`` of a set is drawn from ``numpy.random.default_rng([seed, k])``; the
"train", "val" and "test" splits are scenes ``[0, n_train)``, the next ``n_val``
and the next ``n_test`` (700 / 100 / 200 by default), so they are disjoint and a
split does not change when another split's size does.

Image / mask folders (Carvana style)
------------------------------------
``root/images/xxx.jpg`` (or .png, .jpeg, .bmp, .tif, .gif) with ``root/masks/xxx_mask.gif``,
``xxx_mask.png``, ``xxx.gif`` or ``xxx.png``. Masks are single-channel class indices
(palette or gray); a mask holding only 0 and 255 is read as binary (255 -> 1).
The pairs, sorted by name, are split by a seeded random 70 / 10 / 20 % split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import ImageSegmentation
from .splits import DEFAULT_FRACTIONS, check_split, random_split, stratified_subset
from .transforms import as_size, resize, resize_mask

__all__ = ["SHAPE_CLASSES", "disc_mask", "rectangle_mask", "triangle_mask", "render_scene",
           "synthetic_shapes", "load_synthetic_segmentation", "find_image_mask_pairs", "read_mask",
           "load_image_mask_folder"]

SHAPE_CLASSES = ["background", "disc", "rectangle", "triangle"]
DEFAULT_COUNTS = {"train": 700, "val": 100, "test": 200}
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif")
MASK_NAMES = ("{stem}_mask.gif", "{stem}_mask.png", "{stem}.gif", "{stem}.png")


# ---------------------------------------------------------------- synthetic shapes
def _centres(size):
    h, w = size
    v = (np.arange(h) + 0.5) / h
    u = (np.arange(w) + 0.5) / w
    return u[None, :], v[:, None]


def disc_mask(size, cx: float, cy: float, r: float) -> np.ndarray:
    """Pixels (h, w) whose centre lies in the disc of centre (cx, cy) and radius r (unit square)."""
    u, v = _centres(size)
    return (u - cx) ** 2 + (v - cy) ** 2 <= r * r


def rectangle_mask(size, cx: float, cy: float, a: float, b: float, theta: float) -> np.ndarray:
    """Pixels in the rectangle of half-sides (a, b) centred on (cx, cy), rotated by theta (rad)."""
    u, v = _centres(size)
    c, s = np.cos(theta), np.sin(theta)
    du, dv = u - cx, v - cy
    return (np.abs(c * du + s * dv) <= a) & (np.abs(-s * du + c * dv) <= b)


def triangle_mask(size, cx: float, cy: float, r: float, theta: float) -> np.ndarray:
    """Pixels in the equilateral triangle with circumradius r centred on (cx, cy), first vertex at
    angle theta (rad)."""
    u, v = _centres(size)
    ang = theta + 2 * np.pi * np.arange(3) / 3
    px, py = cx + r * np.cos(ang), cy + r * np.sin(ang)
    # inside = same side of all three edges (vertices are counter-clockwise: all cross products >= 0)
    inside = np.ones(np.broadcast_shapes(u.shape, v.shape), dtype=bool)
    for k in range(3):
        x0, y0, x1, y1 = px[k], py[k], px[(k + 1) % 3], py[(k + 1) % 3]
        inside &= (x1 - x0) * (v - y0) - (y1 - y0) * (u - x0) >= 0
    return inside


def _texture(rng, size, n_waves: int, amplitude: float) -> np.ndarray:
    """Sum of ``n_waves`` random gratings (2..12 cycles per unit length) of total amplitude."""
    u, v = _centres(size)
    out = np.zeros(size)
    for _ in range(n_waves):
        f = rng.uniform(2.0, 12.0)
        a = rng.uniform(0, 2 * np.pi)
        out += np.cos(2 * np.pi * f * (np.cos(a) * u + np.sin(a) * v) + rng.uniform(0, 2 * np.pi))
    return amplitude * out / n_waves


def render_scene(size, seed: int, index: int, channels: int = 1, max_shapes: int = 3):
    """Scene ``index`` of the set ``seed`` at ``size`` pixels: image float32 (C, h, w) in [0, 1]
    and mask int64 (h, w) with labels of :data:`SHAPE_CLASSES`."""
    size = as_size(size)
    rng = np.random.default_rng([seed, index])
    tint = lambda base: np.clip(base + rng.uniform(-0.08, 0.08, channels), 0, 1)[:, None, None]  # noqa: E731
    image = tint(rng.uniform(0.05, 0.35)) + _texture(rng, size, 3, 0.12)
    mask = np.zeros(size, dtype=np.int64)
    for _ in range(rng.integers(1, max_shapes + 1)):
        cls = int(rng.integers(1, 4))
        cx, cy = rng.uniform(0.2, 0.8, 2)
        theta = rng.uniform(0, 2 * np.pi)
        if cls == 1:
            inside = disc_mask(size, cx, cy, rng.uniform(0.08, 0.2))
        elif cls == 2:
            inside = rectangle_mask(size, cx, cy, *rng.uniform(0.06, 0.18, 2), theta)
        else:
            inside = triangle_mask(size, cx, cy, rng.uniform(0.1, 0.25), theta)
        fill = tint(rng.uniform(0.6, 0.9)) + _texture(rng, size, 2, 0.08)
        image = np.where(inside, fill, image)
        mask[inside] = cls
    return np.clip(image, 0.0, 1.0).astype(np.float32), mask


def synthetic_shapes(n: int, size=64, seed: int = 0, start: int = 0, channels: int = 1, max_shapes: int = 3):
    """Scenes ``start .. start + n - 1``: images float32 (n, C, h, w) and masks int64 (n, h, w)."""
    if channels < 1 or max_shapes < 1:
        raise ValueError(f"channels={channels} and max_shapes={max_shapes} must be at least 1")
    size = as_size(size)
    images = np.empty((n, channels) + size, np.float32)
    masks = np.empty((n,) + size, np.int64)
    for k in range(n):
        images[k], masks[k] = render_scene(size, seed, start + k, channels, max_shapes)
    return images, masks


def load_synthetic_segmentation(split: str = "train", size=64, seed: int = 0, *, counts=None, channels: int = 1,
                                max_shapes: int = 3, pad=None, mode=None, limit=None) -> ImageSegmentation:
    """A split of the synthetic shapes set: x float32 (N, C, h, w), mask int64 (N, h, w), 4 classes.

    ``size``: rendering resolution in pixels (drawn at that size, not resized; default 64; ``mode``
    is accepted for a uniform signature and unused). ``counts``: scenes per split, default
    ``{"train": 700, "val": 100, "test": 200}``. ``pad``: centre on a canvas of this size
    (background 0 in the mask). ``limit``: only the first ``limit`` scenes of the split.
    """
    check_split(split)
    counts = {**DEFAULT_COUNTS, **(counts or {})}
    if set(counts) != set(DEFAULT_COUNTS) or any(int(c) < 0 for c in counts.values()):
        raise ValueError(f"counts={counts} must give non-negative sizes for 'train', 'val' and 'test' only")
    starts = {"train": 0, "val": counts["train"], "test": counts["train"] + counts["val"]}
    if split == "all":
        start, n = 0, sum(counts.values())
    else:
        start, n = starts[split], counts[split]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
            raise ValueError(f"limit={limit!r} must be a positive integer number of samples")
        n = min(n, int(limit))
    images, masks = synthetic_shapes(n, 64 if size is None else size, seed, start, channels, max_shapes)
    return ImageSegmentation.from_arrays(images, masks, SHAPE_CLASSES, "synthetic-seg", split, pad=pad)


# ---------------------------------------------------------------- image / mask folders
def find_image_mask_pairs(root, image_dir: str = "images", mask_dir: str = "masks") -> list:
    """Sorted ``(image_path, mask_path)`` pairs of ``root/images`` and ``root/masks``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    idir, mdir = root / image_dir, root / mask_dir
    for d, what in ((idir, "images"), (mdir, "masks")):
        if not d.is_dir():
            raise FileNotFoundError(f"{root} has no {d.name}/ folder of {what} (expected {image_dir}/ and {mask_dir}/)")
    images = sorted(p for p in idir.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())
    if not images:
        raise FileNotFoundError(f"{idir} holds no images ({', '.join(IMAGE_EXTS)})")
    pairs, orphans = [], []
    for p in images:
        m = next((mdir / t.format(stem=p.stem) for t in MASK_NAMES if (mdir / t.format(stem=p.stem)).is_file()), None)
        (pairs.append((p, m)) if m is not None else orphans.append(p.name))
    if orphans:
        raise FileNotFoundError(f"{len(orphans)} image(s) in {idir} have no mask in {mdir} (looked for "
                                f"{', '.join(MASK_NAMES)}), e.g. {', '.join(orphans[:3])}")
    return pairs


def read_mask(path) -> np.ndarray:
    """A mask image as int64 (h, w) class indices; a mask of only 0 and 255 becomes 0 / 1."""
    from PIL import Image

    with Image.open(path) as im:
        if im.mode not in ("1", "L", "P", "I", "I;16"):
            raise ValueError(f"{path}: mask mode {im.mode!r} is not a single channel of class indices; "
                             "save masks as palette (P) or gray (L) images")
        m = np.array(im).astype(np.int64)
    if m.size and set(np.unique(m).tolist()) <= {0, 255}:
        m = m // 255
    return m


def _read_image(path, channels: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        a = np.asarray(im.convert("L" if channels == 1 else "RGB"), dtype=np.float32) / np.float32(255.0)
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def load_image_mask_folder(root, split: str = "train", size=None, seed: int = 0, *, fractions=DEFAULT_FRACTIONS,
                           channels: int = 1, num_classes=None, pad=None, mode: str = "bilinear", limit=None,
                           image_dir: str = "images", mask_dir: str = "masks") -> ImageSegmentation:
    """A ``split`` of a folder of image/mask pairs: x float32 (N, C, h, w), mask int64 (N, h, w).

    ``size``: resize every image (``mode``) and mask (nearest) to this many pixels; needed when the
    images differ in size. ``channels``: 1 (luminance) or 3 (RGB). ``num_classes``: the number of
    mask classes; when None, one more than the largest label in this split (at least 2), so pass it
    for multi-class data to make every split agree. ``fractions``/``seed``: the random split.
    ``limit``: a random subset of this many pairs of the split.
    """
    check_split(split)
    if channels not in (1, 3):
        raise ValueError(f"channels={channels!r} must be 1 (gray) or 3 (RGB)")
    pairs = find_image_mask_pairs(root, image_dir, mask_dir)
    if split != "all":
        pairs = [pairs[i] for i in sorted(random_split(len(pairs), fractions, seed)[split])]
    if limit is not None:
        pairs = [pairs[i] for i in sorted(stratified_subset(np.zeros(len(pairs), np.int64), limit, seed))]
    images, masks = [], []
    for ip, mp in pairs:
        x, m = _read_image(ip, channels), read_mask(mp)
        if m.shape != x.shape[1:]:
            raise ValueError(f"{mp.name} is {m.shape[1]}x{m.shape[0]} but {ip.name} is {x.shape[2]}x{x.shape[1]}")
        if size is not None:
            x, m = resize(x, size, mode), resize_mask(m, size)
        images.append(x)
        masks.append(m)
    if images and len({x.shape for x in images}) > 1:
        raise ValueError(f"images in {root} differ in size ({sorted({x.shape[1:] for x in images})[:3]} ...); "
                         "pass size=(h, w) to resize them to one size")
    x = np.stack(images) if images else np.zeros((0, channels) + (as_size(size) if size else (1, 1)), np.float32)
    m = np.stack(masks) if masks else np.zeros((0,) + x.shape[2:], np.int64)
    n_cls = max(2, int(m.max()) + 1 if m.size else 2) if num_classes is None else int(num_classes)
    classes = ["background"] + [f"class {k}" for k in range(1, n_cls)]
    return ImageSegmentation.from_arrays(x, m, classes, Path(root).name, split, pad=pad)
