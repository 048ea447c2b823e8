"""Short, JSON-ready summaries of values read from files (what ``optics4f inspect`` prints)."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["array_summary"]


def array_summary(v: Any) -> Any:
    """A number as itself; an array as its shape and range (real) or largest modulus (complex)."""
    a = np.asarray(v)
    if a.ndim == 0:
        return a.item() if a.dtype.kind != "c" else complex(a)
    if a.dtype.kind == "c":
        return {"shape": list(a.shape), "max_abs": float(np.abs(a).max()) if a.size else None}
    return {"shape": list(a.shape), "min": float(a.min()) if a.size else None,
            "max": float(a.max()) if a.size else None}
