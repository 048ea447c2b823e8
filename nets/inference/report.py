"""Results of a simulation: the printed table, the confusion matrix, the JSON report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["confusion_matrix", "mean_iou", "format_table", "format_confusion", "write_report", "public"]


def confusion_matrix(true, pred, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    t = np.asarray(true).reshape(-1).astype(np.int64)
    p = np.asarray(pred).reshape(-1).astype(np.int64)
    if t.shape != p.shape:
        raise ValueError(f"true and pred must have the same number of items, got {t.shape} and {p.shape}")
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def mean_iou(pred, true, n_classes: int) -> float:
    """Mean over classes present (in prediction or truth) of intersection / union."""
    c = confusion_matrix(true, pred, n_classes)
    inter = np.diag(c).astype(float)
    union = c.sum(0) + c.sum(1) - np.diag(c)
    ok = union > 0
    return float((inter[ok] / union[ok]).mean()) if ok.any() else float("nan")


def format_table(res: dict) -> str:
    """Digital vs optical table (accuracy, or mean IoU for segmentation)."""
    rows = [("digital (ideal)", res["digital_accuracy"]), ("simulated optical", res["optical_accuracy"]),
            ("difference", res["difference"])]
    metric = "accuracy"
    if res.get("task") == "segment":
        metric = "pixel acc."
    lines = [f"{res['n_images']} {res.get('dataset', '')} {res.get('split', '')} images",
             f"{'':20s} {metric:>10s}" + ("      mIoU" if "optical_miou" in res else "")]
    for i, (name, v) in enumerate(rows):
        extra = ""
        if "optical_miou" in res:
            m = [res["digital_miou"], res["optical_miou"], res["optical_miou"] - res["digital_miou"]][i]
            extra = f" {m:+9.4f}" if i == 2 else f" {m:9.4f}"
        lines.append(f"{name:20s} {v:+10.4f}{extra}" if i == 2 else f"{name:20s} {v:10.4f}{extra}")
    return "\n".join(lines)


def format_confusion(conf, classes=None, title: str = "confusion matrix (rows: true, columns: predicted)") -> str:
    c = np.asarray(conf)
    labels = [str(k) for k in (classes or range(c.shape[0]))]
    w = max(4, max(len(s) for s in labels) + 1, len(str(int(c.max()))) + 1)
    head = " " * w + "".join(f"{s:>{w}s}" for s in labels)
    body = [f"{labels[i]:>{w}s}" + "".join(f"{int(v):>{w}d}" for v in row) for i, row in enumerate(c)]
    return "\n".join([title, head] + body)


def public(res: dict) -> dict:
    """The JSON-ready part of a result dict (keys starting with '_' dropped)."""
    return {k: v for k, v in res.items() if not k.startswith("_")}


def write_report(path, res: dict) -> Path:
    """Write the JSON report atomically (keys include digital_accuracy, optical_accuracy, n_images, config)."""
    from optics4f.io.atomic import atomic_open

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "w", overwrite=True) as f:
        json.dump(public(res), f, indent=2, default=str)
    return path
