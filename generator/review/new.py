"""``yidang new``: start a record or a plan from a template, never overwriting a file.

The required fields are filled in (the date, the current mentor, the right
file name, the term); every narrative is a prompt starting with 请填写, which
``yidang check`` reports until it is replaced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Set as AbstractSet
from pathlib import Path

import jinja2

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
    if term is None and kind in ("evaluation", "plan"):
        raise YidangError(labels.error("new", "no_term", date=date))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir / "new"), keep_trailing_newline=True, autoescape=False
    )  # YAML, not HTML
    text = env.get_template(f"{kind}.md.j2").render(
        date=date,
        by=by,
        term=term.id if term else "",
        follow_up=date + dt.timedelta(days=7),
        next_visit=date + dt.timedelta(days=30),
    )
    path = _target(root / student.folder, kind, date)
    try:
        write_atomic(path, text)  # complete or absent; never over an existing file
    except FileExistsError:
        raise YidangError(labels.error("new", "appeared", path=path)) from None
    return path
