"""Publish stage: put a finished site in place in one step, and keep builds apart.

A failed or killed build never touches the published site: the new one is
written next to it and exchanged with it in a single ``renameat2`` call
(``RENAME_EXCHANGE``, Linux): at every instant the path holds either the old
site or the new one, complete. Where the call is missing, two renames are
used, which leave the path empty for an instant. A rebuild that changes only
blobs and keyrings moves its new ones into the site and then replaces the
login page, which names the keyrings, in one rename (``update_in_place``).

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


def update_in_place(new: Path, final: Path, files: list[str], keep: set[str]) -> None:
    """Publish a rebuild whose only new files are blobs, keyrings and the login page (see
    ``seal.write_site``): the blobs and keyrings are moved into the site under names nothing
    published refers to yet, then the login page replaces the old one in one rename, the
    moment the new site is published; then the blobs and keyrings it no longer refers to
    (those not in ``keep``) are removed. Killed before that rename, the old site is whole,
    with unreferenced files beside it that the next build removes; killed after it, the
    new one is, with the old site's files left to remove."""
    moved = []
    try:
        for rel in files:
            if rel != "index.html":
                (final / rel).parent.mkdir(exist_ok=True)
                _move(new / rel, final / rel)
                moved.append(rel)
    except BaseException:
        for rel in moved:
            (final / rel).unlink(missing_ok=True)
        raise
    _move(new / "index.html", final / "index.html")
    remove_unreferenced(final, keep)
    shutil.rmtree(new, ignore_errors=True)


def _move(src: Path, dest: Path) -> None:
    os.rename(src, dest)  # one file system (the new folder is the site's sibling): atomic


def remove_unreferenced(final: Path, keep: set[str]) -> None:
    """Whatever is in the blobs' and keyrings' folders of the site at ``final`` and not in
    ``keep``: an older build's, a killed build's never published, or anything else put
    there (the whole-folder swap would not have kept it either)."""
    for folder in ("d", "k"):
        with contextlib.suppress(FileNotFoundError), os.scandir(final / folder) as entries:
            for entry in entries:
                if f"{folder}/{entry.name}" in keep:
                    continue
                if entry.is_dir(follow_symlinks=False):  # no build makes one: as a swap would, gone
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)


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
