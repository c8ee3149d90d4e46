"""Writing files: complete or not at all, and never over a teacher's file unless asked.

Every file yidang writes (a record, an account, a cache entry, a booklet, a
font subset, a prepared photo) goes to a temporary name in the same folder and
is then linked to its real name (which fails if the name exists) or, when the
caller allows it, renamed over it. A crash, a kill or a full disk leaves the
previous state: no half-written file, ever, under a real name.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path, *, replace: bool = True, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write (a library that writes
    files itself, like WeasyPrint, gets this); put in place only if the block succeeds.
    Raises FileExistsError if ``path`` exists and ``replace`` is false."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Workers of one build may prepare the same file at once: the name is theirs alone.
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and refuses an existing name
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(
    path: Path, data: str | bytes, *, replace: bool = False, mode: int | None = None, sync: bool = True
) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` in one step. Raises FileExistsError unless
    ``replace``. ``mode`` (e.g. 0o600 for the build cache) is set before the file appears;
    ``sync`` flushes it to disk first (archive files: yes; caches that can be rebuilt: no)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path, replace=replace, mode=mode) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if mode is not None else 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())


def process_alive(pid: int) -> bool:
    """Whether a process runs: what a leftover named after its maker's pid asks (a killed
    build's half-made site or plaintext, a killed intake's work tree)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OutsideTree(ValueError):
    """A path that would leave the folder it must stay in (``..``, absolute, a symlink out)."""


def inside(root: Path, rel: str | Path) -> Path:
    """``root / rel``, proven to stay inside ``root``: ``rel`` is relative, has no ``..`` and no
    empty or hidden part, and no folder on the way is a symlink (which could lead out).
    Raises :class:`OutsideTree` otherwise. Every file a command writes from untrusted input
    (intake of a record or of another school's bundle) is placed through this."""
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
        raise OutsideTree(str(rel))
    base = root.resolve()
    path = base.joinpath(*parts)
    step = base
    for part in parts[:-1]:
        step = step / part
        if step.is_symlink() or (step.exists() and not step.is_dir()):
            raise OutsideTree(str(rel))
    if path.is_symlink() or not path.resolve().is_relative_to(base):
        raise OutsideTree(str(rel))
    return path


def write_inside(root: Path, rel: str | Path, data: str | bytes) -> Path:
    """Write a new file at ``rel`` under ``root`` (see :func:`inside`), never over a file."""
    path = inside(root, rel)
    write_atomic(path, data)
    return path
