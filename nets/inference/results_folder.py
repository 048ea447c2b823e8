"""Where a command's results go, without losing earlier ones (docs/validation.md#files-a-user-keeps).

``optics4f simulate`` writes a report and figures into one folder. Earlier results are kept:

* no ``--out`` given: the default folder, or the first free numbered one next to it
  (``out/simulate``, ``out/simulate-2``, ...), so running the main job again keeps the last run;
* ``--out DIR`` that already holds files: refused, unless ``--force``, and even then only when
  everything in it is a result this command writes (a report, figures, sweep folders), so a
  mistyped ``--out`` never replaces a folder of the user's own files.

The set is written into a new hidden folder and switched in with one rename
(:func:`optics4f.io.atomic.atomic_dir`).
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["RESULT_PATTERNS", "choose_results_folder", "foreign_files"]

#: Names a simulate results folder holds (glob patterns): what ``--force`` may replace.
RESULT_PATTERNS = ("report.json", "*.png", "sweep_*")


def _holds_files(folder: Path) -> bool:
    return folder.exists() and (not folder.is_dir() or any(folder.iterdir()))


def foreign_files(folder: Path, patterns: tuple = RESULT_PATTERNS) -> list:
    """Names in ``folder`` that match none of ``patterns`` (files this command did not write)."""
    return sorted(p.name for p in folder.iterdir() if not any(p.match(pat) for pat in patterns))


def choose_results_folder(out: Path | None, default: Path, force: bool, command: str) -> Path:
    """The folder to write results to (module docstring); SystemExit naming ``--out``/``--force``.

    out : the ``--out`` given, or None for the default
    default : the default folder (numbered ``NAME-2``, ``NAME-3``... when it holds results)
    force : ``--force`` given
    command : the command's name, for messages ("optics4f simulate")
    """
    if out is None:
        out, n = Path(default), 2
        while _holds_files(out):
            out = Path(default).with_name(f"{Path(default).name}-{n}")
            n += 1
        return out
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SystemExit(f"{command}: --out {str(out)!r} is a file, not a folder; choose a folder")
    if not _holds_files(out):
        return out
    if not force:
        raise SystemExit(f"{command}: --out {str(out)!r} already holds results; give a new folder, or --force to "
                         "replace them")
    foreign = foreign_files(out)
    if foreign:
        shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
        raise SystemExit(f"{command}: --out {str(out)!r} holds files this command did not write ({shown}); "
                         "--force replaces only a results folder, so choose a new or empty folder")
    return out
