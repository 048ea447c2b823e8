"""An export in slmsuite's conventions: the same wanted phases as slmsuite phase files and frames.

slmsuite maps a phase to gray as (rint(-phase 2^b / 2 pi) - 1) mod 2^b (2 pi over all levels, phase 0
on the top level), an optics4f linear panel as sign * phase * gray_2pi / 2 pi with 2 pi at 2^b - 1 by
default (:mod:`optics4f.io.vendor`): the same phase gives different frames. :func:`export_slmsuite`
reads an optics4f export (its sidecar's wanted phase, plus the panel's flatness correction when it has
one) and writes, into a new folder, one slmsuite phase file per frame (``frame_NNN.h5``: ``phase``,
``display``; ``SLM.load_phase`` reads it) and the frame as slmsuite would show it (``frame_NNN.png``).
The panel's measured LUT is not applied: slmsuite applies its own gamma table (``SLM.set_gamma``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from optics4f.io.atomic import atomic_dir

__all__ = ["export_slmsuite"]


def export_slmsuite(export_dir, out, force: bool = False) -> list:
    """Write slmsuite phase files and frames for every frame of the export in ``export_dir`` into the new
    folder ``out`` (replaced only with ``force``; never the export itself). Returns the written paths."""
    from optics4f.io.vendor import slmsuite_phase_to_gray, write_slmsuite_phase

    from .bundle import read_export
    from .formats import write_png

    b = read_export(export_dir)
    if b.phase is None or b.slm.mode != "phase":
        raise ValueError(f"the export in {str(export_dir)!r} is for a {b.slm.mode!r} panel; slmsuite phase files "
                         "hold phase frames")
    out = Path(out)
    if out.resolve() == Path(b.folder).resolve():
        raise ValueError("--out must not be the export folder itself")
    flat = 0.0 if b.slm.flatness is None else np.asarray(b.slm.flatness, dtype=np.float64)
    names = []
    with atomic_dir(out, overwrite=force, what="slmsuite folder") as tmp:
        for i, phase in enumerate(np.asarray(b.phase, dtype=np.float64)):
            total = np.mod(phase + flat, 2 * np.pi)
            write_slmsuite_phase(tmp / f"frame_{i:03d}.h5", total, b.slm.bit_depth)
            write_png(tmp / f"frame_{i:03d}.png", slmsuite_phase_to_gray(total, b.slm.bit_depth),
                      bit_depth=b.slm.bit_depth)
            names += [f"frame_{i:03d}.h5", f"frame_{i:03d}.png"]
    return [out / n for n in names]
