"""Audit a published site for anything readable about a student.

Scans every file (decompressing .gz): student names, ids, guardian names and
phone numbers, and any 12-character run of any record or plan text. ASCII
needles shorter than six characters (ids such as ``S1``) occur by chance in
any JavaScript, so they are looked for in file names only; likewise a run of
record text counts only if it has a non-ASCII (Chinese) character, since
all-ASCII runs such as ``<script>wind`` also occur in the site's own code. Blob
files (``d/``, ``k/``) must have exactly the opaque shape the protect stage
writes (``__yd("<hex>","<base64>");``); anything else in them is a hit. Hits
name the file and the student, never the text found, so the audit's own
output leaks nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from generator.archive.load import YamlSyntaxError, parse_yaml, read_text, split_front_matter
from generator.core.parallel import forked_map

RUN = 12
PIECE = RUN // 2  # a run of record text holds one of its pieces that start at a multiple of this
NON_ASCII = re.compile(r"[^\x00-\x7f]+")
PARALLEL_STUDENTS = 100  # students whose texts are read from which worker processes pay
CHUNK = 1 << 16  # characters of a file scanned at once
SHORT = 6  # ASCII needles shorter than this (ids like "S1") occur in any code: file names only
BLOB = re.compile(r'__yd\("[0-9a-f]+","[A-Za-z0-9_-]*"\);\n')


@dataclass(frozen=True)
class Hit:
    path: str  # relative to the site
    what: str  # e.g. "the name of student S2025003"

    def text(self) -> str:
        return f"{self.path}: contains {self.what}"


@dataclass
class Needles:
    exact: dict[str, str]  # text → what it is ("the name of student S1")
    runs: dict[str, str]  # a 12-character run of record text → where it comes from
    lengths: set[int] = field(init=False)  # of every exact needle, for file names
    # the exact needles looked for in contents, by length: with a non-ASCII character
    # (names), and ASCII only (ids, phones; SHORT characters at least)
    wide: dict[int, set[str]] = field(init=False)
    narrow: dict[int, set[str]] = field(init=False)
    alphabet: re.Pattern[str] = field(init=False)  # a stretch of the ASCII needles' characters

    def __post_init__(self) -> None:
        self.wide, self.narrow = {}, {}
        for needle in self.exact:
            if len(needle) >= SHORT or not needle.isascii():
                kind = self.narrow if needle.isascii() else self.wide
                kind.setdefault(len(needle), set()).add(needle)
        self.lengths = {len(needle) for needle in self.exact}
        chars = "".join(sorted({c for n in self.narrow.values() for w in n for c in w})) or "\x00"
        self.alphabet = re.compile(f"[{re.escape(chars)}]{{{min(self.narrow, default=1)},}}")

    def in_name(self, name: str) -> list[str]:
        """What the exact needles found in a file name say, short ids included."""
        cut = {name[i : i + n] for n in self.lengths for i in range(len(name) - n + 1)}
        found = cut & self.exact.keys()
        return [what for needle, what in self.exact.items() if needle in found] if found else []

    def found_in(self, text: str) -> set[str]:
        """The exact needles that occur in ``text``. Slicing the text at each needle
        length and looking the slices up is one pass per length; ``needle in text``
        for each of 4,000 names, ids and phones was one pass per needle (40 ms for
        the login page). In chunks, to bound the slices held at once."""
        found: set[str] = set()
        overlap = max([*self.wide, *self.narrow], default=1) - 1
        for start in range(0, len(text), CHUNK):
            chunk = text[start : start + CHUNK + overlap]
            for length, wanted in self.wide.items():  # names: only where the text is not ASCII
                found |= wanted.intersection(_near(chunk, length))
            for length, wanted in self.narrow.items():  # ids, phones: only in runs of their characters
                found |= wanted.intersection(_within(chunk, length, self.alphabet))
        return found


def needles(
    archive_root: Path,
    students: set[str] | None = None,
    profiles: dict[str, Any] | None = None,
    near: set[str] | None = None,
) -> Needles:
    """Names, ids, guardians of every student; text runs of ``students`` (default: all).

    ``profiles`` (student id → validated profile, as the build holds them) saves
    reading every profile.yml again; by default the files are read. ``near`` (the pieces
    of the texts to be scanned, ``pieces_near_non_ascii``) leaves out the lines of record
    text none of whose runs can be in them: a full build's 150,000 records made millions
    of runs to look for in the few files that are not blobs."""
    exact: dict[str, str] = {}
    read: list[str] = []  # the students whose texts are read
    for sid in _names(archive_root / "students", dirs=True):
        exact[sid] = f"the id of student {sid}"
        if profiles is not None and sid in profiles:
            p = profiles[sid]
            _add_person(exact, sid, p.name, [(g.name, g.phone) for g in p.guardians])
        else:
            _profile_needles(archive_root / "students" / sid / "profile.yml", sid, exact)
        if students is None or sid in students:
            read.append(sid)
    return Needles(exact, _runs_of(archive_root, read, near))


def _runs_of(archive_root: Path, sids: list[str], near: set[str] | None) -> dict[str, str]:
    """The text runs of the students ``sids``' plans and records: in worker processes when
    they are many (a full build's 150,000 files were 3 s on one core while the other waited),
    each reading its share of them in order."""
    jobs = (os.cpu_count() or 1) if len(sids) >= PARALLEL_STUDENTS else 1
    shares = [sids[n * len(sids) // jobs : (n + 1) * len(sids) // jobs] for n in range(jobs)]
    runs: dict[str, str] = {}
    for part in forked_map(partial(_student_runs, archive_root, near=near), shares, jobs):
        runs = part | runs  # a run in several files: the first student's, as when serial
    return runs


def _student_runs(archive_root: Path, sids: list[str], near: set[str] | None) -> dict[str, str]:
    runs: dict[str, str] = {}
    for sid in sids:
        folder = archive_root / "students" / sid
        texts = ["plan.md"] if (folder / "plan.md").is_file() else []
        texts += [f"records/{n}" for n in _names(folder / "records") if n.endswith(".md")]
        for rel in texts:  # plain strings: pathlib cost 2 s on a full build's 150,000 records
            _text_runs(f"{folder}/{rel}", f"text from students/{sid}/{rel}", runs, near)
    return runs


def _names(folder: Path, dirs: bool = False) -> list[str]:
    """The sorted names of the files (or folders) in ``folder``, hidden ones aside (as glob
    leaves them); none if it is missing."""
    try:
        with os.scandir(folder) as entries:
            return sorted(
                e.name
                for e in entries
                if not e.name.startswith(".") and (e.is_dir() if dirs else e.is_file())
            )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _profile_needles(path: Path, sid: str, exact: dict[str, str]) -> None:
    try:
        data = parse_yaml(read_text(path)).data
    except (OSError, YamlSyntaxError):
        return
    if not isinstance(data, dict):
        return
    guardians = [(g.get("name"), g.get("phone")) for g in data.get("guardians") or [] if isinstance(g, dict)]
    _add_person(exact, sid, data.get("name"), guardians)


def _add_person(
    exact: dict[str, str], sid: str, name: object, guardians: list[tuple[object, object]]
) -> None:
    if isinstance(name, str) and len(name) >= 2:
        exact[name] = f"the name of student {sid}"
    for g_name, phone in guardians:
        if isinstance(g_name, str) and len(g_name) >= 2:
            exact[g_name] = f"a guardian's name of student {sid}"
        if phone:
            exact[str(phone)] = f"a guardian's phone of student {sid}"


def _text_runs(path: Path | str, where: str, runs: dict[str, str], near: set[str] | None = None) -> None:
    try:
        _, body, _ = split_front_matter(read_text(path))
    except Exception:  # an unreadable file has no text to leak
        return
    for line in body.splitlines():
        line = line.strip()
        if near is not None and not any(
            line[j : j + PIECE] in near for j in range(0, len(line) - PIECE + 1, PIECE)
        ):
            continue  # a run line[i:i+RUN] holds the piece at the next multiple of PIECE from i
        for i in range(0, max(0, len(line) - RUN + 1)):
            run = line[i : i + RUN]
            if not run.isascii():  # all-ASCII runs ("<script>wind") match code: not evidence
                runs.setdefault(run, where)


def _stretches(text: str, reach: int) -> Iterator[tuple[int, int]]:
    """The stretches of ``text`` within ``reach`` - 1 characters of a non-ASCII one, as
    (start, stop): every ``reach`` characters that hold one lie inside one of them."""
    start = stop = 0
    for m in NON_ASCII.finditer(text):
        if m.start() - reach + 1 > stop:
            yield start, stop
            start = m.start() - reach + 1
        stop = min(len(text), m.end() + reach - 1)
    yield start, stop


def _near(text: str, length: int) -> Iterator[str]:
    """Every ``length`` characters of ``text`` that may hold a non-ASCII one."""
    for start, stop in _stretches(text, length):
        yield from (text[i : i + length] for i in range(start, stop - length + 1))


def _within(text: str, length: int, stretch: re.Pattern[str]) -> Iterator[str]:
    """Every ``length`` characters of ``text`` inside a match of ``stretch``."""
    for m in stretch.finditer(text):
        start, stop = m.span()
        yield from (text[i : i + length] for i in range(start, stop - length + 1))


def pieces_near_non_ascii(texts: list[str]) -> set[str]:
    """Every PIECE characters of ``texts`` that lie within RUN - 1 characters of a non-ASCII
    one: all the pieces of every run (RUN characters, one of them at least not ASCII) the
    texts hold."""
    pieces: set[str] = set()
    for text in texts:
        for start, stop in _stretches(text, RUN):
            pieces.update(text[i : i + PIECE] for i in range(start, stop - PIECE + 1))
    return pieces


def _contents(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        with contextlib.suppress(OSError):  # not really gzip: scan it as it is
            data = gzip.decompress(data)
    return data.decode("utf-8", errors="replace")


def audit(
    site: Path,
    archive_root: Path,
    files: set[str] | None = None,
    students: set[str] | None = None,
    profiles: dict[str, Any] | None = None,
) -> list[Hit]:
    """Every place in ``site`` where something readable about a student appears.

    An incremental build audits only the ``files`` it wrote (site-relative),
    with the text runs of the ``students`` it read again; the names, ids and
    guardians of every student are always looked for.
    """
    paths = (
        (site / f for f in sorted(files))
        if files is not None
        else sorted(p for p in site.rglob("*") if p.is_file())
    )
    readable: dict[str, str] = {}
    rels = []
    for path in paths:
        rels.append(rel := str(path.relative_to(site)))
        text = _contents(path)
        if rel.split("/")[0] in ("d", "k") and BLOB.fullmatch(text):
            continue  # opaque ciphertext: nothing readable in it
        readable[rel] = text
    found = needles(archive_root, students, profiles, pieces_near_non_ascii(list(readable.values())))
    hits: list[Hit] = []
    for rel in rels:
        hits += [Hit(rel, f"in its file name {what}") for what in found.in_name(rel)]
        if rel in readable:
            hits += _scan(rel, readable[rel], found)
    return hits


def _scan(rel: str, text: str, found: Needles) -> list[Hit]:
    present = found.found_in(text)
    hits = [Hit(rel, what) for needle, what in found.exact.items() if needle in present]
    seen: set[str] = set()
    for line in text.splitlines():
        for run in _near(line, RUN):  # a run of record text has a non-ASCII character
            where = found.runs.get(run)
            if where is not None and where not in seen:
                seen.add(where)
                hits.append(Hit(rel, where))
    return hits
