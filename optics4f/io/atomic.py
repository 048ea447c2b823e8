"""Atomic writes of files and of sets of files (folders); the one place optics4f renames outputs.

* :func:`atomic_path` / :func:`atomic_open` / :func:`atomic_write`: one file. The data goes to a
  hidden temporary ``.NAME.<pid>.<random>.tmp`` next to the target, is flushed to disk, and only
  then takes the target name with one rename (atomic on POSIX and Windows when both names are on
  one file system, which the same-folder temporary guarantees). A crash, a full disk or an
  exception in the writer leaves the old file untouched.
* :func:`atomic_dir`: a set of files (an export, a configuration with side files). Everything is
  written into a new hidden sibling folder; when it is complete it is switched in with one rename
  (an atomic exchange with the old folder where Linux offers ``renameat2``), and only then is the
  old folder removed.
* :func:`refuse_inputs`: an output never resolves to one of the command's inputs (nor, for a
  folder output, contains one), even with ``overwrite``/``--force``.
* :func:`clean_stale`: temporaries of interrupted writes are removed when the process that wrote
  them is dead (or, for names without a process id, when they are older than ``STALE_AGE_S``).

Temporaries made by ``mkstemp``/``mkdtemp`` are private (0600/0700); every file and folder is given
the user's umask (0644/0755 under umask 022) before it takes its final name, so that another
account (the one driving the SLM, a colleague) can read it.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from ..typing import PathLike

__all__ = ["atomic_path", "atomic_open", "atomic_write", "atomic_dir", "check_writable", "refuse_inputs",
           "clean_stale", "check_disk_space", "umask_mode", "STALE_AGE_S"]

#: Temporaries whose name carries no process id are stale after this many seconds.
STALE_AGE_S = 15 * 60


def _current_umask() -> int:
    """The process umask, read without changing it where /proc allows (os.umask is process-wide)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def umask_mode(is_dir: bool = False) -> int:
    """Permission bits a plain ``open``/``mkdir`` would give: 0o666 (files) or 0o777 (folders) less the umask."""
    return (0o777 if is_dir else 0o666) & ~_current_umask()


def _apply_umask(path, is_dir: bool = False) -> None:
    try:
        os.chmod(path, umask_mode(is_dir))
    except OSError:
        pass  # a file system without POSIX modes


def check_writable(path: PathLike, overwrite: bool) -> Path:
    """``path`` as a Path; raise FileExistsError when it exists and ``overwrite`` is False."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"path {str(path)!r} is a directory; give a file name")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True (--force) to replace it")
    if not path.parent.exists():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist; create it first")
    return path


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def refuse_inputs(out: PathLike, inputs: Iterable[PathLike | None], what: str = "output") -> None:
    """Raise ValueError when ``out`` is (or, as a folder, contains) one of ``inputs`` (paths or None).

    ``what`` names the output in the message (a flag such as ``--report``)."""
    out = Path(out)
    for src in inputs:
        if src is None:
            continue
        src = Path(src)
        if not src.exists():
            continue
        if out.exists() and _same(out, src):
            raise ValueError(f"{what} {str(out)!r} is the input {str(src)!r}; writing it would destroy the input. "
                             "Choose another output path")
        try:
            src.resolve().relative_to(out.resolve())
        except ValueError:
            continue
        raise ValueError(f"{what} {str(out)!r} contains the input {str(src)!r}; replacing it would destroy the "
                         "input. Choose another output folder")


# -- stale temporaries ---------------------------------------------------------------------------

def _tmp_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else
    return True


def clean_stale(folder: PathLike, name: str, max_age_s: float = STALE_AGE_S) -> list:
    """Remove ``.NAME.*.tmp`` files/folders left in ``folder`` by interrupted writes; returns the removed paths.

    A temporary named ``.NAME.<pid>.<random>.tmp`` is removed when process ``pid`` is dead; one without a
    process id (older optics4f) only when it was last modified more than ``max_age_s`` seconds ago.
    A live writer's temporary is never touched."""
    folder = Path(folder)
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    pat = re.compile(r"^\." + re.escape(name) + r"\.(?:(\d+)\.)?.*\.tmp$")
    now = time.time()
    for p in entries:
        m = pat.match(p.name)
        if not m:
            continue
        try:
            st = p.lstat()
        except OSError:
            continue
        pid = m.group(1)
        if pid is not None:
            stale = not _pid_alive(int(pid))
        else:
            stale = now - st.st_mtime > max_age_s
        if not stale:
            continue
        try:
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(p)
            else:
                p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def check_disk_space(folder: PathLike, nbytes: float, what: str) -> None:
    """Raise OSError(ENOSPC) before writing when ``folder``'s file system has less than ``nbytes`` free.

    Some writers (h5py) can crash the process on a full disk; refusing first keeps the error clean."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if nbytes > free:
        from ..validate import format_bytes

        raise OSError(errno.ENOSPC, f"{what} needs about {format_bytes(nbytes)} but only {format_bytes(free)} is "
                                    f"free on the disk of {str(folder)!r}; free some space or write elsewhere")


# -- one file ------------------------------------------------------------------------------------

def _fsync(name, is_dir: bool = False):
    try:
        fd = os.open(name, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if is_dir else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (e.g. certain network mounts) refuse fsync
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: PathLike, overwrite: bool = False, suffix: str = ".tmp",
                inputs: Iterable[PathLike | None] = ()) -> Iterator[Path]:
    """Context manager yielding a temporary path; on success it becomes ``path``.

    Use it with writers that want a file name (h5py, numpy.save)::

        with atomic_path("out.h5", overwrite=True) as tmp:
            with h5py.File(tmp, "w") as f:
                ...

    On an exception the temporary file is removed and ``path`` is untouched. Without ``overwrite`` the
    final rename refuses to replace a file that appeared meanwhile (a hard link is used where the file
    system allows it). ``inputs``: paths ``path`` must not resolve to (see :func:`refuse_inputs`).
    The file gets the user's umask.
    """
    path = check_writable(path, overwrite)
    refuse_inputs(path, inputs)
    clean_stale(path.parent, path.name)
    suffix = suffix if suffix.endswith(".tmp") else suffix + ".tmp"  # stale-temporary cleanup keys on .tmp
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _apply_umask(tmp)
        _fsync(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if path exists: no clobbering race
            except FileExistsError:
                raise FileExistsError(
                    f"{str(path)!r} appeared while writing; pass overwrite=True to replace it") from None
            except OSError:
                if path.exists():
                    raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it") from None
                os.replace(tmp, path)  # file system without hard links
            else:
                os.unlink(tmp)
        _fsync(path.parent, is_dir=True)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", overwrite: bool = False, inputs: Iterable[PathLike | None] = (),
                **kwargs: Any) -> Iterator[IO]:
    """``open``-like context manager ('w' or 'wb' modes) that writes atomically (see :func:`atomic_path`)."""
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"mode must be 'w', 'wt' or 'wb' for an atomic write, got {mode!r}")
    with atomic_path(path, overwrite=overwrite, inputs=inputs) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()


def atomic_write(path: PathLike, write_fn: Callable[[IO], object], mode: str = "wb", overwrite: bool = True,
                 mkdir: bool = True, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Call ``write_fn(file)`` on a temporary file next to ``path``, then rename it onto ``path``.

    ``mkdir``: create missing parent folders first. Returns ``path``."""
    path = Path(path)
    if mkdir:
        _makedirs(path.parent)
    with atomic_open(path, mode, overwrite=overwrite, inputs=inputs) as fh:
        write_fn(fh)
    return path


def _makedirs(folder: Path) -> None:
    """``mkdir -p`` (the user's umask applies to folders made by mkdir)."""
    folder.mkdir(parents=True, exist_ok=True)


# -- a set of files --------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP if hasattr(errno, "ENOTSUP") else errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _switch_in(tmp: Path, out: Path) -> None:
    """Make the complete folder ``tmp`` become ``out``; the old ``out`` is removed only afterwards."""
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old folder
        return
    # No atomic exchange: move the old folder aside (kept, under a hidden name), then the new one in.
    old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(out.name) + "old.", suffix=".tmp", dir=out.parent))
    os.rmdir(old)
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(out: PathLike, overwrite: bool = False, inputs: Iterable[PathLike | None] = (),
               what: str = "output folder") -> Iterator[Path]:
    """Context manager yielding a new, empty hidden folder next to ``out``; write the whole set into it.

    On success the folder is switched in as ``out`` with one rename (the previous ``out`` stays complete
    until then and is removed afterwards); on an exception it is removed and ``out`` is untouched.
    An existing non-empty ``out`` is replaced only with ``overwrite``. The folder gets the user's umask.
    ``inputs``: paths that ``out`` must neither be nor contain (:func:`refuse_inputs`)."""
    out = Path(out)
    if out.is_symlink():
        out = out.resolve()  # replace the folder the link points to; the user's link stays
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{what} {str(out)!r} exists and is not a folder; choose another")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{what} {str(out)!r} is not empty; pass overwrite=True (--force) to replace it, or "
                              "choose another folder")
    refuse_inputs(out, inputs, what)
    created = [p for p in reversed(out.absolute().parents) if not p.exists()]  # outermost first
    _makedirs(out.parent)
    clean_stale(out.parent, out.name)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(out.name), suffix=".tmp", dir=out.parent))
    _apply_umask(tmp, is_dir=True)
    ok = False
    try:
        yield tmp
        for root, _dirs, files in os.walk(tmp):
            for f in files:
                _fsync(os.path.join(root, f))
        _fsync(tmp, is_dir=True)
        _switch_in(tmp, out)
        _fsync(out.parent, is_dir=True)
        ok = True
    finally:
        if os.path.lexists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        if not ok:
            for p in reversed(created):  # folders made for this output, innermost first, if still empty
                with contextlib.suppress(OSError):
                    p.rmdir()
