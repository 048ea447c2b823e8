"""Atomic file writes: write to a temporary name in the target folder, then rename.

A crash (or an exception in the writer) never leaves half a file under the
target name: the data goes to a temporary file next to the target, is flushed
to disk, and only then takes the target name with :func:`os.replace` (atomic
on POSIX and Windows when both names are on one file system, which the
same-folder temporary guarantees). An existing file is never replaced unless
``overwrite=True``.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "atomic_open", "check_writable"]


def check_writable(path, overwrite: bool) -> Path:
    """``path`` as a Path; raise FileExistsError when it exists and ``overwrite`` is False."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"path {str(path)!r} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    if not path.parent.exists():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist; create it first")
    return path


def _fsync_file(name):
    try:
        fd = os.open(name, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (e.g. certain network mounts) refuse fsync
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path, overwrite: bool = False, suffix: str = ".tmp"):
    """Context manager yielding a temporary path; on success it becomes ``path``.

    Use it with writers that want a file name (h5py, numpy.save)::

        with atomic_path("out.h5", overwrite=True) as tmp:
            with h5py.File(tmp, "w") as f:
                ...

    On an exception the temporary file is removed and ``path`` is untouched.
    Without ``overwrite`` the final rename refuses to replace a file that
    appeared meanwhile (a hard link is used where the file system allows it).
    """
    path = check_writable(path, overwrite)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync_file(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path exists: no clobbering race
            except FileExistsError:
                raise FileExistsError(f"{str(path)!r} appeared while writing; pass overwrite=True to replace it")
            except OSError:
                if path.exists():
                    raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
                os.replace(tmp, path)  # file system without hard links
            else:
                os.unlink(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", overwrite: bool = False, **kwargs):
    """``open``-like context manager ('w' or 'wb' modes) that writes atomically (see :func:`atomic_path`)."""
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"mode must be 'w', 'wt' or 'wb' for an atomic write, got {mode!r}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
