"""Exports for the education bureau and for teachers' yearly reviews.

The ledger (台账) is one row per student: the registration columns a bureau
asks for, then the term's counts of talks, home visits and evaluations and
the four-ones rate. The teachers' summary is one row per teacher for a
calendar year. Both are computed per student in the worker that read the
student, then written as xlsx (openpyxl: Chinese headers, a frozen header
row, readable widths) or CSV (UTF-8 with a BOM, so spreadsheet programs
read the Chinese correctly).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator.archive import compliance
from generator.archive.model import Student
from generator.archive.read import SchoolFiles, read_archive
from generator.core import labels
from generator.core.problems import YidangError


def _columns(which: str) -> list[str]:
    """The spreadsheet's headers, from the labels file (a school's bureau may want others)."""
    return list(labels.shipped()["ledger"][which])


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _facts(student: Student) -> list[compliance.RecordFact]:
    return compliance.facts_of(student.records)


def _ledger_row(school: SchoolFiles, term: Any, as_of: dt.date) -> Callable[[Student], list[str] | None]:
    assert school.school is not None
    rules = school.school  # a name the closure below keeps narrowed
    cats = rules.categories
    L = labels.shipped()["ledger"]

    def row(s: Student) -> list[str] | None:
        """The student's row; None for a case that ended before the term (a graduate, a
        student who left): the term's ledger counts the cases open in it."""
        p = s.profile
        if p.closed_on is not None and p.closed_on < term.start:
            return None
        inside = [r.meta for r in s.records if term.start <= r.meta.date <= term.end]
        visits = [m for m in inside if m.type == "home_visit"]
        periods = compliance.periods(p, rules, _facts(s), as_of, [term])
        mentors = [
            school.teachers[m.teacher].name
            for m in p.mentors
            if m.since <= term.end and (m.until is None or m.until >= term.start)
        ]
        return [
            p.id,
            p.name,
            p.gender,
            p.birth_date.isoformat(),
            school.classes[p.class_].name,
            "、".join(
                cats[c.key].name
                + (f"({c.kind})" if c.kind else "")
                + (L["ended"].format(until=c.until) if c.until else "")
                for c in p.categories
            ),
            "、".join(dict.fromkeys(mentors)),
            ";".join(f"{g.relation} {g.name} {g.phone or ''}".strip() for g in p.guardians),
            p.address or "",
            "、".join(p.support_received),
            L[p.status],
            str(sum(m.type == "talk" for m in inside)),
            str(sum(m.mode == "in_person" for m in visits)),
            str(sum(m.mode != "in_person" for m in visits)),
            str(
                sum(
                    r.meta.type == "evaluation" and getattr(r.meta, "term", None) == term.id
                    for r in s.records
                )
            ),
            _percent(compliance.rate(periods)),
        ]

    return row


def ledger(root: Path, term_id: str | None, as_of: dt.date) -> tuple[list[str], list[list[str]], str]:
    """(headers, one row per student sorted by class and id, the term's name)."""
    chosen: dict[str, Any] = {}

    def factory(school: SchoolFiles, day: dt.date) -> Callable[[Student], list[str] | None]:
        assert school.school is not None
        terms = sorted(school.school.terms, key=lambda t: t.start)
        term = (
            next((t for t in terms if t.id == term_id), None)
            if term_id
            else compliance.current_term(school.school, day)
            or next((t for t in reversed(terms) if t.start <= day), terms[0])
        )
        if term is None:
            raise YidangError(labels.error("commands", "no_term", id=term_id))
        chosen["term"] = term
        return _ledger_row(school, term, day)

    result = _read(root, as_of, factory)
    rows = sorted((r for r in result.outputs.values() if r is not None), key=lambda r: (r[4], r[0]))
    return _columns("columns"), rows, chosen["term"].name


def teachers(root: Path, year: int, as_of: dt.date) -> tuple[list[str], list[list[str]]]:
    """(headers, one row per teacher) for the calendar year ``year``."""
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    names: dict[str, str] = {}

    def factory(school: SchoolFiles, day: dt.date) -> Callable[[Student], dict[str, Any]]:
        assert school.school is not None
        rules = school.school  # a name the closure below keeps narrowed
        names.update({t.id: t.name for t in school.teachers.values()})

        def per_student(s: Student) -> dict[str, Any]:
            records = [
                (r.meta.by, r.meta.type, getattr(r.meta, "mode", None))
                for r in s.records
                if first <= r.meta.date <= last
            ]
            periods = [
                p
                for p in compliance.periods(s.profile, rules, _facts(s), min(day, last))
                if first <= p.end <= last
            ]
            mentors = {
                m.teacher
                for m in s.profile.mentors
                if m.since <= last and (m.until is None or m.until >= first)
            }
            return {"records": records, "periods": periods, "mentors": mentors}

        return per_student

    result = _read(root, as_of, factory)
    mentees: dict[str, int] = defaultdict(int)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    periods: dict[str, list[compliance.Period]] = defaultdict(list)
    for out in result.outputs.values():
        for t in out["mentors"]:
            mentees[t] += 1
        for by, kind, mode in out["records"]:
            counts[by][kind if kind != "home_visit" else f"home_visit_{mode == 'in_person'}"] += 1
        for p in out["periods"]:
            if p.mentor:
                periods[p.mentor].append(p)
    rows = [
        [
            tid,
            name,
            str(mentees[tid]),
            str(counts[tid]["talk"]),
            str(counts[tid]["home_visit_True"]),
            str(counts[tid]["home_visit_False"]),
            str(counts[tid]["evaluation"]),
            _percent(compliance.rate(periods[tid])),
        ]
        for tid, name in names.items()
        if mentees[tid] or counts[tid]
    ]
    return _columns("teacher_columns"), rows


def _read(root: Path, as_of: dt.date, factory: Callable[..., Any]) -> Any:
    result = read_archive(root, as_of=as_of, hook_factory=factory)
    if result.archive is None:
        errors = [p.text() for p in result.problems if p.severity == "error"]
        raise YidangError("\n".join([labels.error("commands", "archive_errors"), *errors[:10]]))
    return result


def write(path: Path, fmt: str, headers: list[str], rows: list[list[str]], title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with open(path, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel reads UTF-8
            writer = csv.writer(fh)
            writer.writerow(headers)
            writer.writerows(rows)
        return
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook's one sheet
    ws.title = title[:31]
    ws.append(headers)
    for row in rows:
        ws.append(
            [
                int(v) if v.isdigit() and i > 0 else v  # the first column is an id: text
                for i, v in enumerate(row)
            ]
        )
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="center")
    ws.freeze_panes = "A2"
    for i, header in enumerate(headers, start=1):
        width = max(_width(str(v)) for v in [header, *(r[i - 1] for r in rows)])
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    wb.save(path)


def _width(text: str) -> int:
    """Display width: a Chinese character is two columns wide."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)
