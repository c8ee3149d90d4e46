"""The four ones (四个一): which talks, home visits and evaluations were due, and which are overdue.

Rules are data in ``school.yml`` (per category: ``talk``, ``home_visit``,
``evaluation`` each ``week``, ``month``, ``term`` or ``none``). A requirement
covers a day when that day is inside a term, the student's case is open, they
have joined, a mentor is assigned, and a category with the rule is current;
two categories: the stricter rule wins. Periods are calendar weeks (Monday to
Sunday), calendar months and terms, cut to the term's dates, so holidays
between terms are never due. A category that starts on the 15th makes the
week containing the 15th due, not the weeks before; a case closed mid-week
owes nothing for that week. A period
is due only when its own rule still holds on its last day (a weekly rule
that starts mid-month replaces that month), is met by a record of that type
dated inside it (evaluations: by their ``term``), missed when its last day
has passed, and open until then. A period is attributed to the mentor
assigned on its last day.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from generator.archive.schema import RECORD_TYPES, Profile, Rules, School, Term, reference

ORDER = {"week": 0, "month": 1, "term": 2, "none": 3}
# What the four ones count: the record kinds school.yml's rules name (schema.Rules), each
# met by a record of that kind dated in the period, or, for a kind that names the term it is
# for (a `term` reference: the evaluation), by a record for that term.
REQUIREMENTS = tuple(Rules.model_fields)


@dataclass(frozen=True)
class Period:
    requirement: str  # talk | home_visit | evaluation
    kind: str  # week | month | term
    start: dt.date  # cut to the term
    end: dt.date  # the due date
    term: str
    mentor: str | None
    status: str  # met | missed | open

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as a tuple: the build cache loads hundreds of thousands of these."""
        return (
            Period,
            (self.requirement, self.kind, self.start, self.end, self.term, self.mentor, self.status),
        )

    def days_overdue(self, as_of: dt.date) -> int:
        return (as_of - self.end).days if self.status == "missed" else 0


@dataclass(frozen=True)
class RecordFact:
    date: dt.date
    type: str
    term: str | None = None  # a kind with a term reference (evaluations) says which it is for


def termed_kinds() -> frozenset[str]:
    """The kinds whose records name the term they are for (a ``term`` reference)."""
    return frozenset(
        kind
        for kind, model in RECORD_TYPES.items()
        if any(reference(f) == "term" and name == "term" for name, f in model.model_fields.items())
    )


def facts_of(records: Iterable[Any]) -> list[RecordFact]:
    """The facts of records (``RecordEntry``s). Only termed kinds are asked for a term: asking
    the others takes pydantic's missing-attribute path, 3 µs × 150,000 in ``check``."""
    termed = termed_kinds()
    return [
        RecordFact(r.meta.date, r.meta.type, r.meta.term if r.meta.type in termed else None) for r in records
    ]


def _on(since: dt.date, until: dt.date | None, day: dt.date) -> bool:
    return since <= day and (until is None or day <= until)


def _kind_on(profile: Profile, school: School, requirement: str, day: dt.date) -> str | None:
    """The strictest period this requirement has on ``day``, or None when nothing is due."""
    if profile.status != "active" and profile.closed_on is not None and day > profile.closed_on:
        return None
    if profile.enrolled_on is not None and day < profile.enrolled_on:
        return None
    if not any(_on(m.since, m.until, day) for m in profile.mentors):
        return None
    kinds = [
        getattr(school.categories[c.key].rules, requirement)
        for c in profile.categories
        if c.key in school.categories and _on(c.since, c.until, day)
    ]
    best = min(kinds, key=ORDER.__getitem__, default="none")
    return None if best == "none" else best


def _period_of(kind: str, day: dt.date, term: Term) -> tuple[dt.date, dt.date]:
    if kind == "week":
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=6)
    elif kind == "month":
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    else:
        start, end = term.start, term.end
    return max(start, term.start), min(end, term.end)


def _mentor_on(profile: Profile, day: dt.date) -> str | None:
    return next((m.teacher for m in profile.mentors if _on(m.since, m.until, day)), None)


def periods(
    profile: Profile,
    school: School,
    records: Iterable[RecordFact],
    as_of: dt.date,
    terms: Iterable[Term] | None = None,
) -> list[Period]:
    """Every due period up to ``as_of`` in the given terms (default: all terms)."""
    facts = _Facts(records)
    out: list[Period] = []
    for term in sorted(terms if terms is not None else school.terms, key=lambda t: t.start):
        if term.start > as_of:
            continue
        rules = _Rules(profile, school, term, as_of)
        for i, requirement in enumerate(REQUIREMENTS):
            out += _term_periods(profile, facts, term, requirement, i, rules, as_of)
    return out


class _Facts:
    """Records by type, sorted by date, so a period's check is a binary search."""

    def __init__(self, records: Iterable[RecordFact]):
        self.dates: dict[str, list[dt.date]] = {}
        self.for_term: set[tuple[str, str]] = set()  # (kind, term) of records for a term
        for f in records:
            self.dates.setdefault(f.type, []).append(f.date)
            if f.term:
                self.for_term.add((f.type, f.term))
        for dates in self.dates.values():
            dates.sort()

    def any_between(self, kind: str, start: dt.date, end: dt.date) -> bool:
        dates = self.dates.get(kind, [])
        i = bisect.bisect_left(dates, start)
        return i < len(dates) and dates[i] <= end


_NOTHING: tuple[str | None, ...] = (None,) * len(REQUIREMENTS)


class _Rules:
    """The three rules on each day of a term (up to a while after ``as_of``), as spans.

    The rules change only where a category, a mentor, joining or closing starts or
    ends, so they are worked out at those dates and hold until the next one.
    """

    def __init__(self, profile: Profile, school: School, term: Term, as_of: dt.date):
        one = dt.timedelta(days=1)
        last = min(term.end, as_of + dt.timedelta(days=200))
        points = {term.start}
        for since, until in [(c.since, c.until) for c in profile.categories] + [
            (m.since, m.until) for m in profile.mentors
        ]:
            points |= {since, until + one} if until else {since}
        points |= {d for d in (profile.enrolled_on, profile.closed_on and profile.closed_on + one) if d}
        self.starts = sorted(p for p in points if term.start <= p <= last)
        ends = [s - one for s in self.starts[1:]] + [last]
        # (first day, last day, the rules) of each span
        self.spans = [
            (start, end, tuple(_kind_on(profile, school, r, start) for r in REQUIREMENTS))
            for start, end in zip(self.starts, ends, strict=True)
        ]

    def on(self, day: dt.date) -> tuple[str | None, ...]:
        i = bisect.bisect_right(self.starts, day) - 1
        return self.spans[i][2] if i >= 0 and day <= self.spans[i][1] else _NOTHING


def _term_periods(
    profile: Profile, facts: _Facts, term: Term, requirement: str, index: int, rules: _Rules, as_of: dt.date
) -> list[Period]:
    """The periods met on the term's days up to ``as_of``, one per span of a rule and
    period: the rule can change inside a period (a category starts)."""
    one = dt.timedelta(days=1)
    seen: set[tuple[str, dt.date]] = set()
    out = []
    for first, last, kinds in rules.spans:
        kind = kinds[index]
        day = first
        while kind is not None and day <= min(last, as_of):
            start, end = _period_of(kind, day, term)
            if (kind, start) not in seen:
                seen.add((kind, start))
                # Due only if the same rule still holds on its last day: a stricter rule that
                # starts inside it replaces it; a closed case or an ended category owes nothing.
                if rules.on(end)[index] == kind:
                    out.append(_judge(profile, facts, requirement, kind, start, end, term, as_of))
            day = end + one
    return out


def _judge(
    profile: Profile,
    facts: _Facts,
    requirement: str,
    kind: str,
    start: dt.date,
    end: dt.date,
    term: Term,
    as_of: dt.date,
) -> Period:
    met = facts.any_between(requirement, start, end) or (requirement, term.id) in facts.for_term
    status = "met" if met else ("missed" if end < as_of else "open")
    return Period(requirement, kind, start, end, term.id, _mentor_on(profile, end), status)


def rate(items: Iterable[Period]) -> float | None:
    """Met ÷ (met + missed); open periods do not count yet. None when nothing was due."""
    done = [p for p in items if p.status != "open"]
    return sum(p.status == "met" for p in done) / len(done) if done else None


def current_term(school: School, as_of: dt.date) -> Term | None:
    return next((t for t in school.terms if t.start <= as_of <= t.end), None)
