"""Publish stage: put a finished site in place in one step, and keep builds apart.

A failed or killed build never touches the published site: the new one is
written next to it and exchanged with it in a single ``renameat2`` call
(``RENAME_EXCHANGE``, Linux): at every instant the path holds either the old
site or the new one, complete. Where the call is missing, two renames are
used, which leave the path empty for an instant.

Builds of one site take a lock (a file next to the site, ``flock``), so two at
once do not mix their files; the second says who holds it and stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from generator.core import labels
from generator.core.files import process_alive
from generator.core.problems import YidangError

RENAME_EXCHANGE = 2
AT_FDCWD = -100
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths; False where the system cannot."""
    if _renameat2 is None:
        return False
    if _renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # e.g. a file system without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap(new: Path, final: Path) -> None:
    """Put ``new`` at ``final``; the old site is removed only after the exchange."""
    if final.exists() and _exchange(new, final):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old site
        return
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def remove_leftovers(final: Path) -> list[Path]:
    """Temporary folders of builds that were killed (their process is gone): removed."""
    removed = []
    for path in final.parent.glob(f".{final.name}.*-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)) and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


_held: set[str] = set()  # locks this process holds (a second flock here would block on itself)


@contextlib.contextmanager
def build_lock(final: Path) -> Iterator[None]:
    """Hold the lock of the site at ``final`` for a build; refuse if another build holds it."""
    path = final.parent / f".{final.name}.lock"
    if str(path) in _held:
        yield
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            raise YidangError(labels.error("commands", "build_running", path=final, holder=holder)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        _held.add(str(path))
        try:
            yield
        finally:
            _held.discard(str(path))
    finally:
        os.close(fd)  # closing releases the lock; a killed build's lock goes with its process
