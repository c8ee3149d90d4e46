"""The numbers behind the site's charts, and the to-do lists, from the four-ones engine.

Every chart is a :class:`Chart`: its values are computed here, at build time,
by the same engine (``archive.compliance``) that ``yidang check --as-of`` and
the ledger use, so a chart never disagrees with them; the page carries them
(inside its encrypted blob) as ``data-spec`` and as a data table, and the
browser only draws them (``site_templates/static/yidang-charts.js``, Apache
ECharts). Rates are per cent with one decimal, ``None`` where nothing was due.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from generator.archive import compliance
from generator.archive.model import Student, StudentSummary

Value = float | int | None
# The four ones' kinds (school.yml's rules); contacts are those counted by date, not by term.
CALENDAR = compliance.REQUIREMENTS
CONTACTS = tuple(k for k in CALENDAR if k not in compliance.termed_kinds())


def percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


@dataclass(frozen=True)
class Chart:
    """One chart: a line, bars (``bar``, or ``hbar`` lying down) or stacked bars."""

    kind: str
    x: list[str]
    series: Sequence[tuple[str, Sequence[Value]]]
    unit: str  # "%" for rates, "" for counts

    def spec(self) -> str:
        """The JSON the page carries (and the browser draws)."""
        series = [{"name": n, "data": list(d)} for n, d in self.series]
        return json.dumps(
            {"kind": self.kind, "x": self.x, "series": series, "unit": self.unit}, ensure_ascii=False
        )

    def rows(self) -> list[tuple[str, list[Value]]]:
        """The data table: one row per x value, one column per series."""
        return [(x, [data[i] for _, data in self.series]) for i, x in enumerate(self.x)]


class Charts:
    """The charts of one build (templates call ``charts``), over the site's values."""

    def __init__(self, site: Any):  # a templates.Site (which makes this; no import back)
        self.site = site
        self.labels = site.labels["charts"]
        self._todo: dict[str, list[dict[str, Any]]] = {}  # student id → their items

    # --- the four ones -----------------------------------------------------------------

    def months(self, students: Iterable[StudentSummary]) -> Chart:
        """Completion rate of the periods due in each month of the current term."""
        periods = self.site.term_periods(list(students))
        x, data = [], []
        for month in self.site.months():
            due = [p for p in periods if (p.end.year, p.end.month) == (month.year, month.month)]
            # A month still running is not a rate yet: its early-met periods alone said 100 %.
            running = any(p.status == "open" for p in due)
            x.append(self.labels["month_open" if running else "month"].format(m=month.month))
            data.append(None if running else percent(compliance.rate(due)))
        return Chart("line", x, [(self.labels["rate"], data)], "%")

    def _ranked(self, groups: list[tuple[str, list[compliance.Period]]]) -> Chart:
        """Rates by group, highest first (groups with nothing due last)."""
        rates = [(name, percent(compliance.rate(periods))) for name, periods in groups]
        rates.sort(key=lambda nr: (nr[1] is None, -(nr[1] or 0), nr[0]))
        return Chart("hbar", [n for n, _ in rates], [(self.labels["rate"], [r for _, r in rates])], "%")

    def by_class(self) -> Chart:
        a = self.site.archive
        groups = []
        for cls in a.classes.values():
            members = [s for s in a.in_class(cls.id) if s.active]
            if members:
                groups.append((cls.name, self.site.term_periods(members)))
        return self._ranked(groups)

    def by_teacher(self) -> Chart:
        """Each period counts for the mentor it is attributed to (the mentor on its last day)."""
        a = self.site.archive
        by: dict[str, list[compliance.Period]] = {}
        for p in self.site.term_periods(list(a.current_students())):
            if p.mentor is not None:
                by.setdefault(p.mentor, []).append(p)
        names = {t: a.teachers[t].name if t in a.teachers else t for t in by}
        return self._ranked([(names[t], periods) for t, periods in by.items()])

    def students(self, students: Iterable[StudentSummary]) -> Chart:
        """Each student's completion rate this term (a class page)."""
        ordered = self.site.archive.sorted_students([s for s in students if s.active])
        return self._ranked([(s.name, self.site.term_periods([s])) for s in ordered])

    # --- counts ----------------------------------------------------------------------------

    def categories(self) -> Chart:
        """Students in each category, stacked by grade (as the dashboard's table)."""
        counts = self.site.category_grade_counts()
        names = [self.site.archive.school.categories[k].name for k in counts]
        series = [(grade, [row[grade] for row in counts.values()]) for grade in self.site.grades]
        return Chart("stack", names, list(series), "")

    def cases(self, months: int = 12) -> Chart:
        """Cases opened (the first category's start) and closed, in each of the last months."""
        a = self.site.archive
        first = dt.date(a.as_of.year, a.as_of.month, 1)
        keys = []
        for back in range(months - 1, -1, -1):
            y, m = divmod(first.year * 12 + first.month - 1 - back, 12)
            keys.append((y, m + 1))
        opened: Counter[tuple[int, int]] = Counter()
        closed: Counter[tuple[int, int]] = Counter()
        for s in a.students.values():
            starts = [c.since for c in s.profile.categories]
            if starts:
                opened[(min(starts).year, min(starts).month)] += 1
            if s.profile.closed_on is not None:
                closed[(s.profile.closed_on.year, s.profile.closed_on.month)] += 1
        x = [self.labels["year_month"].format(y=y, m=m) for y, m in keys]
        series = [
            (self.labels["opened"], [opened[k] for k in keys]),
            (self.labels["closed"], [closed[k] for k in keys]),
        ]
        return Chart("bar", x, series, "")

    def contacts(self, students: Iterable[StudentSummary]) -> Chart:
        """Talks and home visits in each week of the current term (a teacher's mentees)."""
        weeks = self._weeks()
        counts = {kind: Counter[dt.date]() for kind in CONTACTS}
        for s in students:
            for r in s.refs:
                if r.type in counts and weeks and weeks[0] <= r.date <= self.site.archive.as_of:
                    counts[r.type][r.date - dt.timedelta(days=r.date.weekday())] += 1
        x = [self.labels["week_of"].format(m=w.month, d=w.day) for w in weeks]
        series = [(self.site.labels["types"][kind], [counts[kind][w] for w in weeks]) for kind in CONTACTS]
        return Chart("stack", x, series, "")

    def _weeks(self) -> list[dt.date]:
        """Mondays of the current term's weeks, up to as_of."""
        term = self.site.term_now
        if term is None:
            return []
        day = term.start - dt.timedelta(days=term.start.weekday())
        out = []
        while day <= min(term.end, self.site.archive.as_of):
            out.append(day)
            day += dt.timedelta(days=7)
        return out

    def calendar(self, student: Student) -> list[tuple[dt.date, dict[str, int]]]:
        """A student's contact calendar: each week of the term, how many of each record."""
        weeks = self._weeks()
        rows = [(w, dict.fromkeys(CALENDAR, 0)) for w in weeks]
        at = {w: row for w, row in rows}
        for r in student.records:
            monday = r.meta.date - dt.timedelta(days=r.meta.date.weekday())
            if monday in at and r.meta.type in CALENDAR:
                at[monday][r.meta.type] += 1
        return rows

    # --- to do -------------------------------------------------------------------------------

    def todo(self, students: Iterable[StudentSummary]) -> list[dict[str, Any]]:
        """What is overdue (with days) or due this week, for these students, most urgent
        first: the to-do lists of the home page (one per teacher, class and the school)."""
        items = [item for s in students if s.active for item in self._todo_of(s)]
        items.sort(key=lambda i: (-i["days"], i["end"], i["s"], i["r"]))
        return items

    def known_items(self, items: dict[str, list[dict[str, Any]]]) -> None:
        """Students' items as the last build worked them out, where nothing they come from
        changed (the build cache decides): the to-do lists are then only sorted again."""
        self._todo.update(items)

    def items(self) -> dict[str, list[dict[str, Any]]]:
        """Every student's items worked out (or known) so far, for the build cache."""
        return dict(self._todo)

    def period_name(self, p: compliance.Period) -> str:
        """Which month, week or term an item is for: 10月, 10月12日—18日, or the term's name."""
        words = self.labels
        if p.start.day == 1 and (p.end + dt.timedelta(days=1)).day == 1:
            return str(words["month"]).format(m=p.start.month)
        if (p.end - p.start).days == 6:
            end = f"{p.end.month}月{p.end.day}日" if p.end.month != p.start.month else f"{p.end.day}日"
            return str(words["week"]).format(m=p.start.month, d=p.start.day, end=end)
        term = self.site.archive.term(p.term)
        return term.name if term else p.term

    def _waiting_for(self, student: str, p: compliance.Period) -> str:
        """The date of a record that would meet ``p`` and waits on a review branch, or ""."""
        start, end = p.start.isoformat(), p.end.isoformat()
        sent = [d for d, t in self.site.waiting.get(student, ()) if t == p.requirement and start <= d <= end]
        return min(sent, default="")

    def _todo_of(self, s: StudentSummary) -> list[dict[str, Any]]:
        """One student's items, worked out once a build: a student is on the school's,
        their class's and each mentor's list (a 1,000-student rebuild: 0.28 → 0.1 s)."""
        if s.id in self._todo:
            return self._todo[s.id]
        a, items = self.site.archive, []
        monday = a.as_of - dt.timedelta(days=a.as_of.weekday())
        sunday = monday + dt.timedelta(days=6)
        for p in self.site.term_periods([s]):
            if p.status == "missed":
                state, days = "overdue", p.days_overdue(a.as_of)
            elif p.status == "open" and monday <= p.end <= sunday:
                state, days = "due", (a.as_of - p.end).days
            else:
                continue
            sent = self._waiting_for(s.id, p)
            if sent:  # submitted, not yet merged: the mentor is not asked again
                state = "waiting"
            mentor = a.teachers[p.mentor].name if p.mentor in a.teachers else ""
            cls = a.classes[s.profile.class_].name
            who = {"m": mentor, "t": p.mentor or ""}  # whose task it is
            item = {"s": s.id, "n": s.name, "c": cls, "ci": s.profile.class_, **who}
            item |= {"r": p.requirement, "p": self.period_name(p)}
            item |= {"w": sent} if sent else {}
            items.append(item | {"end": p.end.isoformat(), "days": days, "state": state})
        self._todo[s.id] = items
        return items
