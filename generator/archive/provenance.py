"""Provenance: who last changed each file of the archive, and when, from git.

One ``git log`` pass over the students' folders gives the last commit of
every file (the first time a path appears, walking back from HEAD). Outside
a git repository, or without git, every record says so instead of failing.

That pass reads the whole history: 0.5 s for one commit of 150,000 files, and
more as the history grows, on every build. So the build keeps what it found
(a :class:`History`, in the build cache) and, when the new HEAD descends from
the old one, reads only the commits in between (``git log OLD..NEW``):

- If none of them is a merge, the walk from the new HEAD meets them first and
  then exactly the old walk, so updating the touched paths gives what a full
  pass would.
- With merges, ``git log`` orders commits by date, and a merged branch's commit
  may be older than one already seen for the same file; then the order is not
  known from the new commits alone and the whole history is read again.
"""

from __future__ import annotations

import datetime as dt
import re
from array import array
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator.archive.groups import ACTIVITIES, GROUP_NAME
from generator.archive.load import parse_markdown
from generator.archive.validate import RECORD_NAME
from generator.core import git
from generator.core.cache import Store, digest


@dataclass(frozen=True)
class Change:
    author: str  # git's author name: whoever made the commit, or the teacher intake named
    date: str  # YYYY-MM-DD
    commit: str  # short hash
    email: str = ""  # the author's e-mail, which teachers.yml maps to a person of the school
    merged_by: tuple[str, str] | None = None  # (name, e-mail) of the merge that brought it in


_INDEX_SIZE = array("I").itemsize


class Changes(Mapping[str, Change]):
    """Path → its last change, packed per directory: the file names joined in one
    string and their commits' indexes in one array. The build loads this on every
    run, and a pickle of 150,000 paths as separate strings took 0.1 s to load and
    as long to write; packed, it is a few thousand objects, and a directory is
    unpacked only when a page of its student is made again."""

    def __init__(
        self, packed: dict[str, tuple[str, bytes]] | None = None, commits: list[Change] | None = None
    ):
        self._packed = packed if packed is not None else {}  # directory → (names, indexes)
        self._commits = commits if commits is not None else []
        self._open: dict[str, dict[str, int]] = {}

    def __getstate__(self) -> tuple[dict[str, tuple[str, bytes]], list[Change]]:
        return self._packed, self._commits

    def __setstate__(self, state: tuple[dict[str, tuple[str, bytes]], list[Change]]) -> None:
        self._packed, self._commits = state
        self._open = {}

    def _names(self, directory: str) -> dict[str, int]:
        names = self._open.get(directory)
        if names is None:
            joined, indexes = self._packed.get(directory, ("", b""))
            names = dict(zip(joined.split("\n"), array("I", indexes), strict=False)) if joined else {}
            self._open[directory] = names
        return names

    def __getitem__(self, path: str) -> Change:
        directory, _, name = path.rpartition("/")
        return self._commits[self._names(directory)[name]]

    def __iter__(self) -> Iterator[str]:
        for directory in self._packed:
            yield from (f"{directory}/{name}" if directory else name for name in self._names(directory))

    def __len__(self) -> int:
        return sum(len(indexes) // _INDEX_SIZE for _, indexes in self._packed.values())

    def in_directory(self, directory: str) -> Iterator[tuple[str, Change]]:
        """(path, change) of every file recorded in ``directory`` itself."""
        for name, at in self._names(directory).items():
            yield f"{directory}/{name}", self._commits[at]

    def directories(self, under: str) -> list[str]:
        return [d for d in self._packed if d == under or d.startswith(under + "/")]

    def updated(self, newer: dict[str, Change]) -> Changes:
        """A copy with ``newer`` changes over these; untouched directories are shared."""
        packed, commits = dict(self._packed), list(self._commits)
        where = {c: i for i, c in enumerate(commits)}
        touched: dict[str, dict[str, int]] = {}
        for path, change in newer.items():
            if change not in where:
                where[change] = len(commits)
                commits.append(change)
            directory, _, name = path.rpartition("/")
            if directory not in touched:
                touched[directory] = dict(self._names(directory))
            touched[directory][name] = where[change]
        for directory, names in touched.items():
            packed[directory] = ("\n".join(names), array("I", names.values()).tobytes())
        return Changes(packed, commits)


MAX_GROUP_FILE = 200_000  # a group record on a review branch, read for whom it is waiting
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")  # schema.Id
NOT_IN_GIT = "not-in-git"
# History.folders' key for the changes of activities/ (no student folder has a "/" in its name):
# a student's page shows the provenance of the group activities that list them.
GROUPS = f"/{ACTIVITIES}"
UNCOMMITTED = "uncommitted"
_FORMAT = "--format=%x00%h%x09%an%x09%ad%x09%ct%x09%ae"
_LANDED = "--format=%x00%h%x09%p%x09%an%x09%ae"


@dataclass
class History:
    """What ``git log`` said at one HEAD: each path's last change, and per student
    folder a digest of its files' changes (what a cached page depends on)."""

    top: str
    prefix: str  # the archive's folder inside the repository, "" or ending in "/"
    head: str  # "" in a repository without commits
    changes: Changes = field(default_factory=Changes)
    times: dict[str, int] = field(default_factory=dict)  # short hash → committer time
    folders: dict[str, str] = field(default_factory=dict)  # student folder → digest
    full_reads: int = 0  # how many whole-history passes made it (for tests and the report)


def _where(archive_root: Path) -> tuple[str, str, str] | None:
    """(repository top, archive prefix inside it, HEAD or "") — None outside git."""
    both = git.maybe(archive_root, "rev-parse", "--show-toplevel", "HEAD")  # one call: git costs 10-30 ms
    if both is not None:
        top, head = both.split("\n")[:2]
    else:  # outside a repository, or one without commits yet
        found = git.maybe(archive_root, "rev-parse", "--show-toplevel")
        if found is None:
            return None
        top, head = found.strip(), ""
    prefix = archive_root.resolve().relative_to(Path(top).resolve()).as_posix()
    return top, "" if prefix == "." else prefix + "/", head


def _log(hist: History, since: str = "") -> tuple[dict[str, Change], dict[str, int]]:
    """Each path's newest change in ``since..HEAD`` (all history when ``since`` is "")."""
    span = [f"{since}..{hist.head}"] if since else [hist.head]
    log = git.maybe(
        Path(hist.top),
        "-c",
        "core.quotepath=off",
        "log",
        _FORMAT,
        "--date=short",
        "--name-only",
        *span,
        "--",
        f"{hist.prefix}students",
        f"{hist.prefix}activities",
    )
    changes: dict[str, Change] = {}
    times: dict[str, int] = {}
    current = None
    cut = len(hist.prefix)
    for line in (log or "").splitlines():
        if line.startswith("\0"):
            commit, author, date, when, email = line[1:].split("\t")
            current = Change(author, date, commit, email)
            times[commit] = int(when)
        elif line and current is not None and line.startswith(hist.prefix):
            changes.setdefault(line[cut:], current)
    merges = _merges(hist, span)
    for path, change in changes.items():
        merge = merges.get(path)
        if merge is not None and merge[0] != change.commit:
            changes[path] = replace(change, merged_by=merge[1])
    return changes, times


def _merges(hist: History, span: list[str]) -> dict[str, tuple[str, tuple[str, str]]]:
    """Path → (commit, (name, e-mail)) of the merge that put its present content on the
    main line, when that was a merge: who approved it. Walking the main line only, each
    merge is compared with the line before it, so its files are what the merge brought.
    A path last changed on the main line itself (a direct commit) gets no entry."""
    log = git.maybe(
        Path(hist.top),
        "-c",
        "core.quotepath=off",
        "log",
        "--first-parent",
        "--diff-merges=first-parent",
        _LANDED,
        "--name-only",
        *span,
        "--",
        f"{hist.prefix}students",
        f"{hist.prefix}activities",
    )
    found: dict[str, tuple[str, tuple[str, str]]] = {}
    seen: set[str] = set()
    landed: tuple[str, tuple[str, str]] | None = None
    cut = len(hist.prefix)
    for line in (log or "").splitlines():
        if line.startswith("\0"):
            commit, parents, name, email = line[1:].split("\t")
            landed = (commit, (name, email)) if " " in parents else None
        elif line and line.startswith(hist.prefix) and line[cut:] not in seen:
            seen.add(line[cut:])
            if landed is not None:
                found[line[cut:]] = landed
    return found


def _folder_digests(changes: Changes, only: set[str] | None = None) -> dict[str, str]:
    """Student folder → digest of its files' changes (for ``only`` those folders)."""
    directories = (
        [*changes.directories("students"), *changes.directories(ACTIVITIES)]
        if only is None
        else [d for folder in only for d in changes.directories(f"students/{folder}")]
        + changes.directories(ACTIVITIES)
    )
    lines: dict[str, list[str]] = {}
    for directory in directories:
        parts = directory.split("/", 2)
        if parts[0] == ACTIVITIES:
            key = GROUPS  # every group activity's: the pages of the students they list show them
        elif len(parts) < 2 or parts[0] != "students":
            continue  # a file directly in students/: no student's
        else:
            key = parts[1]
        for path, c in changes.in_directory(directory):
            lines.setdefault(key, []).append(
                f"{path}\t{c.commit}\t{c.author}\t{c.email}\t{c.date}\t{c.merged_by}"
            )
    return {folder: digest(*sorted(found)) for folder, found in lines.items()}


def _full(hist: History) -> History:
    changes, hist.times = _log(hist) if hist.head else ({}, {})
    hist.changes = Changes().updated(changes)
    hist.folders = _folder_digests(hist.changes)
    hist.full_reads += 1
    return hist


def _is_linear_descendant(top: Path, old: str, new: str) -> bool | None:
    """True: ``new`` extends ``old`` without merges; False: with merges; None: it does not
    descend from ``old`` (history rewritten, another branch) or ``old`` is gone.
    The commits on the way from ``old`` to ``new``, with their parents, tell both."""
    path = git.maybe(top, "rev-list", "--parents", "--ancestry-path", f"{old}..{new}")
    if not path:
        return None
    return all(line.count(" ") == 1 for line in path.splitlines())


def _advance(old: History, head: str) -> History:
    """``old`` moved on to ``head`` by reading only the new commits, or read whole."""
    hist = History(old.top, old.prefix, head, full_reads=old.full_reads)
    linear = _is_linear_descendant(Path(old.top), old.head, head) if old.head else None
    if linear is None:
        return _full(hist)
    new, times = _log(hist, since=old.head)
    if not linear and any(
        p in old.changes and old.times.get(old.changes[p].commit, 0) >= times[c.commit]
        for p, c in new.items()
    ):
        return _full(hist)  # a merged commit older than the one we knew: order unknown
    hist.changes = old.changes.updated(new)
    hist.times = {**old.times, **times}
    touched = {p.split("/", 2)[1] for p in new if p.startswith("students/") and p.count("/") >= 2}
    hist.folders = {**old.folders, **_folder_digests(hist.changes, touched)}
    return hist


def history(archive_root: Path, store: Store | None = None) -> History | None:
    """The archive's git history as of HEAD; None outside a repository. With a
    ``store`` (the build cache), the last build's history is brought up to date
    instead of read again, and the result is kept for the next build."""
    where = _where(archive_root)
    if where is None:
        return None
    top, prefix, head = where
    old = store.get("history") if store is not None else None
    if isinstance(old, History) and (old.top, old.prefix) == (top, prefix):
        if old.head == head:
            return old
        hist = _advance(old, head) if head else _full(History(top, prefix, head, full_reads=old.full_reads))
    else:
        hist = _full(History(top, prefix, head))
    if store is not None:
        store.put("history", hist)
    return hist


def last_changes(archive_root: Path) -> Changes | None:
    """Archive-relative path → its last commit; None outside a git repository."""
    hist = history(archive_root)
    return None if hist is None else hist.changes


def describe(changes: Mapping[str, Change] | None, path: str) -> str | Change:
    """The Change of ``path``, or why there is none (for the templates' labels)."""
    if changes is None:
        return NOT_IN_GIT
    return changes.get(path, UNCOMMITTED)


def provenance_key(hist: History | None) -> Callable[[str], str]:
    """For the build cache: a student folder's provenance, as one string per folder."""
    if hist is None:
        return lambda folder: NOT_IN_GIT
    folders: dict[str, Any] = hist.folders
    return lambda folder: folders.get(folder, UNCOMMITTED)


Waiting = dict[str, tuple[tuple[str, str], ...]]  # student id → ((date, type), …)


def waiting(archive_root: Path, types: Collection[str]) -> Waiting:
    """Records added on review branches (``intake/…``, here or on a remote) that HEAD has
    not taken yet: a mentor who submitted sees «已提交,待审核» instead of being asked
    again. Only a record's date and type, from its file name, and only for a file that is
    not already in the archive (a squash merge leaves its branch unmerged in git's eyes).
    One ``git log`` of the unmerged commits: a few milliseconds when there are none."""
    where = _where(archive_root)
    if where is None or not where[2]:
        return {}
    top, prefix, _ = where
    log = git.maybe(
        Path(top),
        "-c",
        "core.quotepath=off",
        "log",
        "--format=%x00%H",
        "--name-only",
        "--diff-filter=A",
        "--branches=intake/*",
        "--remotes=*/intake/*",
        "--not",
        "HEAD",
        "--",
        f"{prefix}students",
        f"{prefix}{ACTIVITIES}",
    )
    found: dict[str, set[tuple[str, str]]] = {}
    commit = ""
    for line in (log or "").splitlines():
        if line.startswith("\0"):
            commit = line[1:]
            continue
        parts = line[len(prefix) :].split("/") if line.startswith(prefix) else []
        if len(parts) == 2 and parts[0] == ACTIVITIES and not (archive_root / line[len(prefix) :]).exists():
            for student, record in _group_waiting(Path(top), commit, line, types):
                found.setdefault(student, set()).add(record)
            continue
        named = RECORD_NAME.match(parts[3]) if len(parts) == 4 and parts[2] == "records" else None
        if (
            named
            and named.group(2) in types
            and _real_date(named.group(1))
            and not (archive_root / line[len(prefix) :]).exists()
        ):
            found.setdefault(parts[1], set()).add((named.group(1), named.group(2)))
    return {student: tuple(sorted(records)) for student, records in found.items()}


def _group_waiting(
    top: Path, commit: str, path: str, types: Collection[str]
) -> list[tuple[str, tuple[str, str]]]:
    """A group record on a review branch: (student, (date, type)) for each student it lists.
    The branch is anyone's: its file is read within bounds, and only well-formed ids, a known
    type and a real date in its name count; anything else is not shown."""
    named = GROUP_NAME.match(path.rsplit("/", 1)[-1])
    text = git.maybe(top, "show", f"{commit}:{path}") if named and _real_date(named.group(1)) else None
    if not named or not text or len(text) > MAX_GROUP_FILE:
        return []
    try:
        meta = parse_markdown(text).meta.data
    except Exception:  # not front matter a build would read: nothing is waiting
        return []
    kind, students = (meta.get("type"), meta.get("students")) if isinstance(meta, dict) else (None, None)
    if kind not in types or not isinstance(students, list):
        return []
    return [
        (str(s), (named.group(1), str(kind)))
        for s in students
        if isinstance(s, str) and STUDENT_ID.fullmatch(s)
    ]


def _real_date(text: str) -> bool:
    """A branch's file name is anyone's: 2026-99-99 must not reach a page (or fail a build)."""
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True
