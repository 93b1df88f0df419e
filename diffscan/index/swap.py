"""Putting a finished index folder in place: never leave `out` without an index, never replace a
folder that is not an index, one build of an `out` at a time.

A build writes `.NAME.tmp-PID` (and `.NAME.spill-PID`) beside `out` and swaps it in at the end. Where
the system can (Linux `renameat2(RENAME_EXCHANGE)`) the two folders are exchanged in one atomic step;
elsewhere the old index is first renamed to `.NAME.old-PID`, and a load or build that finds `out`
missing renames it back (`recover`). A lock file `.NAME.lock` makes a second build of the same `out`
stop with a message instead of racing the first; while holding it, a build removes the temporary
folders that killed builds left.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import shutil
from pathlib import Path

from diffscan.errors import IndexFormatError

MANIFEST = "manifest.json"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def sibling(out: Path, kind: str, pid: int | None = None) -> Path:
    """`.NAME.KIND-PID` beside `out` (kind: tmp, spill, old)."""
    return out.parent / f".{out.name}.{kind}-{os.getpid() if pid is None else pid}"


def _siblings(out: Path, kind: str) -> list[Path]:
    prefix = f".{out.name}.{kind}-"
    if not out.parent.is_dir():
        return []
    return [p for p in out.parent.iterdir() if p.name.startswith(prefix) and p.name[len(prefix):].isdigit()]


def is_index_folder(path: Path) -> bool:
    """Whether `path` holds a diffscan manifest: a JSON object with a schema version, a model and files."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(manifest, dict) and isinstance(manifest.get("schema_version"), int)
            and isinstance(manifest.get("model"), dict) and isinstance(manifest.get("files"), dict))


def check_out(out: Path) -> None:
    """Refuse, before any work, an `out` that a build must not replace: a file, or a folder holding
    anything but a diffscan index (a web app's folder with its own manifest.json, say)."""
    if out.exists() and not out.is_dir():
        raise IndexFormatError(f"'{out}' is a file, not a folder: choose a folder for the index.", parameter="out")
    if out.is_dir() and any(out.iterdir()) and not is_index_folder(out):
        raise IndexFormatError(
            f"'{out}' exists and is not a diffscan index: choose an empty or new folder for the index.",
            parameter="out")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise IndexFormatError(f"'{parent}' is a file, so '{out}' cannot be created.", parameter="out")
            break


def recover(out: Path) -> bool:
    """If a two-step swap was interrupted (`out` missing, `.NAME.old-PID` present), put the old index
    back. Returns whether it did."""
    if out.exists():
        return False
    stranded = sorted((p for p in _siblings(out, "old") if is_index_folder(p)), key=lambda p: p.stat().st_mtime)
    if not stranded:
        return False
    try:
        os.rename(stranded[-1], out)
    except OSError:  # another process recovered it first
        return out.exists()
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def swap_into_place(tmp: Path, out: Path) -> None:
    """Put the finished folder `tmp` at `out`; the old index (if any) is removed only once the new one
    is in place, and at no moment is `out` missing where the system can exchange folders."""
    if not out.exists():
        os.rename(tmp, out)
        return
    if not is_index_folder(out) and any(out.iterdir()):
        raise IndexFormatError(f"'{out}' exists and is not a diffscan index: choose another output folder.",
                               parameter="out")
    if _exchange(tmp, out):
        shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old index
        return
    old = sibling(out, "old")
    os.replace(out, old)
    os.replace(tmp, out)  # a crash between the two renames is undone by recover()
    shutil.rmtree(old, ignore_errors=True)


class BuildLock:
    """An exclusive lock on `.NAME.lock` beside `out` for the length of a build (a no-op where the
    system has no fcntl). A second build of the same `out` gets one sentence instead of a race."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.parent / f".{out.name}.lock"
        self._file = None

    def __enter__(self) -> BuildLock:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; builds of one folder are the user's to avoid
            return self
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            self._file = None
            raise IndexFormatError(
                f"Another build is writing '{self.out}': wait for it to finish, or choose another folder.",
                parameter="out") from None
        clean_stale(self.out)
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the lock
            self._file = None


def clean_stale(out: Path) -> None:
    """Remove what killed builds of `out` left (call with the build lock held, so none is running):
    temporary and spill folders, and old indexes once `out` holds one."""
    recover(out)
    own = os.getpid()
    for kind in ("tmp", "spill", "old"):
        for folder in _siblings(out, kind):
            if kind != "old" and folder.name.endswith(f"-{own}"):
                continue
            if kind == "old" and not out.exists():
                continue
            shutil.rmtree(folder, ignore_errors=True)
