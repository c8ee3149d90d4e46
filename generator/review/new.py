"""``yidang new``: start a record or a plan from a template, never overwriting a file.

The required fields are filled in (the date, the current mentor, the right
file name, the term); every narrative is a prompt starting with 请填写, which
``yidang check`` reports until it is replaced.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, Literal

import jinja2

from generator.archive import schema, wording
from generator.archive.model import Archive
from generator.core import labels
from generator.core.files import write_atomic
from generator.core.problems import UsageError, YidangError


def _target(folder: Path, kind: str, date: dt.date) -> Path:
    if kind == "plan":
        path = folder / "plan.md"
        if path.exists():
            raise YidangError(labels.error("new", "exists", path=path))
        return path
    return record_path(folder, kind, date)


def record_path(folder: Path, kind: str, date: dt.date, taken: AbstractSet[str] = frozenset()) -> Path:
    """A record's file name in a student's folder: ``DATE-TYPE.md``, then ``-2``, ``-3``… when
    taken (on disk, or in ``taken``), so two records of one type and day both survive."""
    records = folder / "records"
    path = records / f"{date}-{kind}.md"
    n = 2
    while path.exists() or path.name in taken:
        path, n = records / f"{date}-{kind}-{n}.md", n + 1
    return path


def generic_fields(model: type[schema.RecordBase], values: dict[str, Any]) -> list[str]:
    """Front-matter lines for a declared kind with no template of its own: each field a
    teacher writes, with a prompt (请填写…, which check reports until it is replaced), the
    first choice of a list (the others in a comment), the term, a teacher or a date filled in;
    optional fields too, marked 可删."""
    kind = wording.record_kind(model)
    words = labels.shipped()["new"]
    lines = []
    names = sorted(model.model_fields, key=lambda n: n == "with_")  # who else was there: last
    for name in names:
        info = model.model_fields[name]
        key = info.alias or name
        if key in ("type", "date", "by") or schema.set_by(info):
            continue
        label = wording.field_label(key, kind)
        annotation = schema.unwrap(info.annotation)
        choices = typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
        ref = schema.reference(info)
        item = ""
        if choices:
            value, note = str(choices[0]), " | ".join(map(str, choices))
        else:
            note = ""
            if ref in ("term", "teacher"):
                value = str(values["term" if ref == "term" else "by"])
            elif annotation is dt.date:
                value = str(values["date"])
            elif annotation is bool:
                value = "true"
            elif annotation in (int, float):
                value = "0"
            elif typing.get_origin(annotation) is list:
                value, item = "", "\n  - " + words["prompt"].format(label=label)
            else:
                value = words["prompt"].format(label=label)
        if not info.is_required():
            optional = words["optional"].format(label=label)
            note = f"{note};{optional}" if note else optional
        comment = f"    # {note}" if note else ""
        lines.append(f"{key}:{' ' + value if value else ''}{comment}{item}")
    return lines


def new_file(
    archive: Archive,
    root: Path,
    templates_dir: Path,
    kind: str,
    student_id: str,
    date: dt.date,
    by: str | None,
) -> Path:
    """Write the new file and return its path."""
    student = archive.students.get(student_id)
    if student is None:
        raise UsageError(labels.error("new", "no_student", id=student_id, root=root))
    if by is None:
        mentors = student.mentors_on(date)
        if not mentors:
            raise YidangError(labels.error("new", "no_mentor", id=student_id, date=date))
        by = mentors[0].teacher
    elif by not in archive.teachers:
        raise UsageError(labels.error("new", "unknown_teacher", id=by))
    term = archive.term_of(date) or next((t for t in archive.terms if t.start > date), None)
    needs_term = kind == "plan" or any(
        schema.reference(f) == "term" for f in schema.RECORD_TYPES[kind].model_fields.values()
    )
    if term is None and needs_term:
        raise YidangError(labels.error("new", "no_term", date=date))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir / "new"),
        keep_trailing_newline=True,
        trim_blocks=True,
        autoescape=False,
    )  # YAML, not HTML
    values = {
        "kind": kind,
        "date": date,
        "by": by,
        "term": term.id if term else "",
        "follow_up": date + dt.timedelta(days=7),
        "next_visit": date + dt.timedelta(days=30),
    }
    own = templates_dir / "new" / f"{kind}.md.j2"
    if own.is_file():  # a kind with a template of its own (the built-in ones, plan)
        text = env.get_template(own.name).render(**values)
    else:  # any other declared kind: its fields, from the declaration
        title = str(labels.shipped()["types"].get(kind, kind))
        lines = generic_fields(schema.RECORD_TYPES[kind], values)
        text = env.get_template("record.md.j2").render(**values, title=title, lines=lines)
    path = _target(root / student.folder, kind, date)
    try:
        write_atomic(path, text)  # complete or absent; never over an existing file
    except FileExistsError:
        raise YidangError(labels.error("new", "appeared", path=path)) from None
    return path
