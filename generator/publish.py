"""Publish stage: put a finished site in place in one rename.

A failed build never touches the published site: the new one is written
next to it and swapped in only when complete.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def swap(new: Path, final: Path) -> None:
    """Put ``new`` at ``final``; the old site is removed only after the rename."""
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    new.rename(final)
    shutil.rmtree(old, ignore_errors=True)
