"""Provenance: who last changed each file of the archive, and when, from git.

One ``git log`` pass over the students' folders gives the last commit of
every file (the first time a path appears, walking back from HEAD). Outside
a git repository, or without git, every record says so instead of failing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Change:
    author: str
    date: str  # YYYY-MM-DD
    commit: str  # short hash


NOT_IN_GIT = "not-in-git"
UNCOMMITTED = "uncommitted"


def _git(cwd: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    except (FileNotFoundError, subprocess.CalledProcessError):
        return None
    return out.stdout


def last_changes(archive_root: Path) -> dict[str, Change] | None:
    """Archive-relative path → its last commit; None outside a git repository."""
    top = _git(archive_root, "rev-parse", "--show-toplevel")
    if top is None:
        return None
    prefix = archive_root.resolve().relative_to(Path(top.strip()).resolve()).as_posix()
    prefix = "" if prefix == "." else prefix + "/"
    log = _git(Path(top.strip()), "-c", "core.quotepath=off", "log", "--format=%x00%h%x09%an%x09%ad",
               "--date=short", "--name-only", "--", f"{prefix}students")  # fmt: skip
    changes: dict[str, Change] = {}
    current = None
    for line in (log or "").splitlines():
        if line.startswith("\0"):
            commit, author, date = line[1:].split("\t")
            current = Change(author, date, commit)
        elif line and current is not None and line.startswith(prefix):
            changes.setdefault(line[len(prefix) :], current)
    return changes


def describe(changes: dict[str, Change] | None, path: str) -> str | Change:
    """The Change of ``path``, or why there is none (for the templates' labels)."""
    if changes is None:
        return NOT_IN_GIT
    return changes.get(path, UNCOMMITTED)


def provenance_key(changes: dict[str, Change] | None) -> Callable[[str], str]:
    """For the build cache: a student folder's provenance, as one string per folder."""
    if changes is None:
        return lambda folder: NOT_IN_GIT
    by_folder: dict[str, list[str]] = {}
    for path, change in changes.items():
        parts = path.split("/", 2)
        if len(parts) == 3 and parts[0] == "students":
            by_folder.setdefault(parts[1], []).append(f"{path}|{change}")
    return lambda folder: "\n".join(sorted(by_folder.get(folder, ())))
