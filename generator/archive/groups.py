"""Group activities: one file for an activity held for many students.

The plan's four kinds of education activity (励志教育, 情感教育, 心理健康教育, 感恩教育) are
held for groups. Such an activity is kept once, at ``activities/<date>-<slug>.md``, with
the ids of the students it was held for. Each listed student's file then holds it as one of
their records — an ordinary activity, counted wherever activities count — but without the
list: a reader of one student's file may not learn who else is in the programme. Only the
number of students travels with it.

Groups are read in the main process before the students (a student's read needs the groups
that list it); whether each listed student's case was open on the activity's day is checked
once every profile is read (:func:`check_open`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from generator.archive.load import Located, Pos
from generator.archive.model import RecordEntry, StudentBase, case_open_on
from generator.archive.schema import RECORD_KINDS, Profile, Record, RecordBase, RecordKind, group_model
from generator.archive.validate import Context, Sink, check_photo, check_references, validate_doc
from generator.archive.wording import said
from generator.core.cache import digest
from generator.core.problems import Problem

ACTIVITIES = "activities"  # the folder of group activities, beside students/
GROUP_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-([a-z0-9][a-z0-9-]{0,40})\.md$")
GROUP_FILE_NAME = (
    "a group activity's file name must be YYYY-MM-DD-<name>.md (a-z, 0-9, -), e.g. 2026-10-15-gratitude.md"
)
GROUP_KIND = "type: a record of type '{type}' cannot be kept for a group (one of {types})"
GROUP_UNKNOWN = "{field}: no student '{id}' in students/"
GROUP_TWICE = "{field}: student '{id}' is listed twice"
GROUP_CLOSED = "{field}: the case of student '{id}' was not open on {date}"


@dataclass(frozen=True)
class Group:
    """A group activity as read: the record each listed student shows, and who they are."""

    entry: RecordEntry
    students: tuple[str, ...]
    at: tuple[Pos, ...]  # where each student id is written, for check
    # its ``with`` entries as (path, position, index, value), checked as a record's are
    mentions: tuple[tuple[str, Pos, int, str], ...] = ()

    @property
    def stem(self) -> str:
        """The file's name without ``.md``: its photos' folder in the published site."""
        return self.entry.path.rsplit("/", 1)[-1][:-3]


Parse = Callable[[Path, str, Sink], "tuple[Located, str] | None"]  # a record file's front matter, body


def read_groups(
    root: Path, ctx: Context, folders: Iterable[str], problems: list[Problem], parse: Parse
) -> list[Group]:
    """Every group activity under ``activities/``, validated (``parse``: as a student's
    records are parsed); a bad file is reported and left out, its students read without it."""
    base = root / ACTIVITIES
    if not base.is_dir():
        return []
    known = set(folders)
    groups = []
    for name in sorted(os.listdir(base)):
        if name.startswith(".") or name == "photos" or not (base / name).is_file():
            continue
        rel = f"{ACTIVITIES}/{name}"
        sink = Sink(rel, problems)
        named = GROUP_NAME.match(name)
        if not named:
            sink.error((1, 1), said(GROUP_FILE_NAME))
            continue
        parsed = parse(root, rel, sink)
        if parsed is None:
            continue
        doc, body = parsed
        kind = _kind(doc, sink)
        group = validate_doc(group_model(kind.model), doc, sink) if kind else None
        if kind and group is not None and _checked(group, doc, sink, named.group(1), base, ctx, known):
            groups.append(_group(kind.model, group, doc, body, rel))
    return groups


def _kind(doc: Located, sink: Sink) -> RecordKind | None:
    """The file's kind, which must be declared ``group``."""
    data = doc.data if isinstance(doc.data, dict) else {}
    name = data.get("type")
    kind = RECORD_KINDS.get(name) if isinstance(name, str) else None
    if kind is None or not kind.group:
        kinds = ", ".join(k for k, declared in RECORD_KINDS.items() if declared.group)
        where = doc.at(("type",)) if "type" in data else doc.origin
        sink.error(where, said(GROUP_KIND, type=name, types=kinds))
        return None
    return kind


def _checked(
    group: Any, doc: Located, sink: Sink, name_date: str, base: Path, ctx: Context, known: set[str]
) -> bool:
    """The file's date, writer, photos and students; False when a student is unknown or twice."""
    if group.date.isoformat() != name_date:
        template = "date {date} differs from the file name's date {name}"
        sink.error(doc.at(("date",)), said(template, date=group.date, name=name_date))
    check_references(group, doc, sink, ctx)
    for i, photo in enumerate(group.photos):
        check_photo(sink, doc, ("photos", i), base, photo, ACTIVITIES)
    fine = True
    for i, sid in enumerate(group.students):
        where = {"field": f"students[{i}]", "id": sid}
        if sid not in known:
            sink.error(doc.at(("students", i)), said(GROUP_UNKNOWN, **where))
            fine = False
        elif sid in group.students[:i]:
            sink.error(doc.at(("students", i)), said(GROUP_TWICE, **where))
            fine = False
    return fine


def _group(model: type[RecordBase], group: Any, doc: Located, body: str, rel: str) -> Group:
    """As each listed student's file shows it: a record of its kind, without the list."""
    shown = model.model_validate(group.model_dump(by_alias=True, exclude={"students"}))
    at = tuple(doc.at(("students", i)) for i in range(len(group.students)))
    entry = RecordEntry(cast(Record, shown), body, rel, group=len(group.students))
    mentions = tuple((rel, doc.at(("with", i)), i, who) for i, who in enumerate(group.with_))
    return Group(entry, tuple(group.students), at, mentions)


def photos_route(entry: RecordEntry) -> str:
    """Where a group's photos are published: ``activities/<file name without .md>/photos``,
    sealed in the group's scope (``group:<file name>``)."""
    return f"{ACTIVITIES}/{entry.path.rsplit('/', 1)[-1][:-3]}/photos"


def by_student(groups: list[Group]) -> dict[str, tuple[RecordEntry, ...]]:
    """Student id → the group activities held for them (what their file shows)."""
    found: dict[str, list[RecordEntry]] = {}
    for g in groups:
        for sid in g.students:
            found.setdefault(sid, []).append(g.entry)
    return {sid: tuple(entries) for sid, entries in found.items()}


def key_of(entries: Iterable[RecordEntry]) -> str:
    """What a student's page and booklet depend on in ``activities/``: their groups' content."""
    return digest(*(f"{e.path}|{e.group}|{e.meta.model_dump_json()}|{e.body}" for e in entries))


def check_open(groups: list[Group], profiles: Mapping[str, Profile], problems: list[Problem]) -> None:
    """Each listed student's case was open on the activity's day (a closed or transferred
    student's file takes no new record), checked once every profile is read (``profiles``:
    student folder → profile)."""
    for g in groups:
        for i, (sid, pos) in enumerate(zip(g.students, g.at, strict=True)):
            profile = profiles.get(f"students/{sid}")
            student = StudentBase(profile, f"students/{sid}") if profile else None
            if student is not None and not case_open_on(student, g.entry.meta.date):
                where = {"field": f"students[{i}]", "id": sid, "date": g.entry.meta.date}
                Sink(g.entry.path, problems).error(pos, said(GROUP_CLOSED, **where))
