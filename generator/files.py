"""Writing into the archive: complete files or none, and never over a teacher's file.

A file is written to a temporary name in the same folder, flushed to disk,
then linked to its real name (which fails if the name exists) or, only when
the caller was asked to replace, renamed over it. A crash or a full disk
leaves the previous state: no half-written record.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, text: str, *, replace: bool = False) -> None:
    """Write ``text`` to ``path`` in one step. Raises FileExistsError unless ``replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and refuses an existing name
    finally:
        tmp.unlink(missing_ok=True)
