"""Model stage: the immutable archive that rendering and analysis read.

The schema objects (``generator.schema``) are already frozen; this module
groups them into students and an archive, and answers the questions every
page asks ("who mentors this student today?", "which students are in this
category now?") in one place, so pages and tests agree on what "current" means.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from generator.archive.schema import (
    RECORD_KINDS,
    CategoryMembership,
    Evaluation,
    MentorAssignment,
    Plan,
    Profile,
    Record,
    School,
    SchoolClass,
    Teacher,
    Term,
)

PINYIN: dict[str, tuple[str, str]] = {}  # name → sort key; the build cache keeps it between builds


def pinyin_key(name: str) -> tuple[str, str]:
    """Sort key for Chinese names: by pinyin, then by the characters themselves.

    pypinyin is imported only for a name not seen before: importing it costs
    0.5 s, more than a whole rebuild may spend on index pages."""
    key = PINYIN.get(name)
    if key is None:
        from pypinyin import Style, lazy_pinyin

        key = PINYIN[name] = (" ".join(lazy_pinyin(name, style=Style.TONE3)), name)
    return key


RECENT = 20  # records per student an index page may list (the dashboard's latest records)


def _active_on(since: dt.date, until: dt.date | None, day: dt.date) -> bool:
    return since <= day and (until is None or day <= until)


@dataclass(frozen=True)
class RecordEntry:
    """One record file: its validated front matter and its Markdown body."""

    meta: Record
    body: str
    path: str  # relative to the archive, e.g. students/S1/records/2026-03-05-talk.md
    # A group activity (activities/<date>-<slug>.md) as each listed student's record: how
    # many students it was held for. 0: the student's own record.
    group: int = 0

    @property
    def file_name(self) -> str:
        """Unique among a student's records: a group file's name may equal a record's."""
        name = self.path.rsplit("/", 1)[-1]
        return f"group-{name}" if self.group else name

    def photo_path(self, photo: str) -> str:
        """A photo's path in the archive: ``photos`` are relative to the record's folder (the
        student's, or ``activities/`` for a group)."""
        folder = self.path.rsplit("/", 1)[0] if self.group else self.path.rsplit("/records/", 1)[0]
        return f"{folder}/{photo}"


@dataclass(frozen=True)
class PlanEntry:
    meta: Plan
    body: str
    path: str


@dataclass(frozen=True, slots=True)
class RecordRef:
    """What index pages need of a record: no body, no details (cheap to keep for 150,000)."""

    date: dt.date
    type: str
    by: str
    file_name: str

    def __reduce__(self) -> tuple[Callable[..., RecordRef], tuple[dt.date, str, str, str]]:
        """Pickle as a plain tuple: the build cache loads 150,000 of these (3x faster)."""
        return (RecordRef, (self.date, self.type, self.by, self.file_name))


@dataclass(frozen=True)
class StudentBase:
    """A student's profile and the questions about it that every page asks."""

    profile: Profile
    folder: str  # relative to the archive: students/<id>

    @property
    def id(self) -> str:
        return self.profile.id

    @property
    def name(self) -> str:
        return self.profile.name

    @property
    def active(self) -> bool:
        return self.profile.status == "active"

    def categories_on(self, day: dt.date) -> list[CategoryMembership]:
        return [c for c in self.profile.categories if _active_on(c.since, c.until, day)]

    def mentors_on(self, day: dt.date) -> list[MentorAssignment]:
        return [m for m in self.profile.mentors if _active_on(m.since, m.until, day)]


def case_open_on(student: StudentBase, day: dt.date) -> bool:
    """Whether the student's case was open on ``day``: on or after enrolment (or the first
    registration in a category or with a mentor), and not after it closed."""
    profile = student.profile
    starts = [c.since for c in profile.categories] + [m.since for m in profile.mentors]
    start = profile.enrolled_on or min(starts, default=day)
    closed = profile.closed_on if not student.active else None
    return start <= day and (closed is None or day <= closed)


@dataclass(frozen=True)
class StudentSummary(StudentBase):
    """A student as the whole-archive pages see them: profile and record refs, by date.

    The refs are kept packed (pickled tuples) and unpacked on first use: a rebuild
    loads 1,000 cached summaries and, when no index page changes, reads none of
    their 150,000 refs.
    """

    refs_packed: bytes
    recent: tuple[RecordRef, ...] = ()  # the last RECENT refs: all that index pages show
    need_writers: frozenset[str] = frozenset()  # who wrote its need-to-know records (心理辅导)
    high_risk_on: dt.date | None = None  # the date of its latest need-to-know record, when 高 risk
    need_last: dt.date | None = None  # the date of its latest need-to-know record (the counsellors' list)

    @cached_property
    def refs(self) -> tuple[RecordRef, ...]:
        return tuple(RecordRef(*r) for r in pickle.loads(self.refs_packed))

    @property
    def last_record(self) -> dt.date | None:
        return self.recent[-1].date if self.recent else None


@dataclass(frozen=True)
class Student(StudentBase):
    """A student's whole file, as one student's page or booklet needs it.

    Only ever built one student at a time (in a worker process): the whole
    archive's records never sit in memory together.
    """

    plan: PlanEntry | None
    records: tuple[RecordEntry, ...]  # sorted by date, then file name

    def evaluations(self) -> list[RecordEntry]:
        return [r for r in self.records if isinstance(r.meta, Evaluation)]

    def summary(self) -> StudentSummary:
        refs = tuple((r.meta.date, r.meta.type, r.meta.by, r.file_name) for r in self.records)
        recent = tuple(RecordRef(*r) for r in refs[-RECENT:])
        need = {k for k, kind in RECORD_KINDS.items() if kind.need_to_know}
        needed = [r for r in self.records if r.meta.type in need]
        writers = frozenset(r.meta.by for r in needed)
        high = needed[-1].meta.date if needed and getattr(needed[-1].meta, "risk", None) == "高" else None
        packed = pickle.dumps(refs, protocol=5)
        last = needed[-1].meta.date if needed else None
        return StudentSummary(self.profile, self.folder, packed, recent, writers, high, last)


@dataclass(frozen=True)
class Archive:
    """The whole archive, validated. ``as_of`` is the day "current" refers to."""

    school: School
    teachers: dict[str, Teacher]
    classes: dict[str, SchoolClass]
    students: dict[str, StudentSummary]
    as_of: dt.date
    groups: dict[str, frozenset[str]] = field(default_factory=dict)  # group activity → its students

    # --- lookups used by pages and tests -----------------------------------

    @cached_property
    def terms(self) -> list[Term]:
        return sorted(self.school.terms, key=lambda t: t.start)

    def term(self, term_id: str) -> Term | None:
        return next((t for t in self.school.terms if t.id == term_id), None)

    def term_of(self, day: dt.date) -> Term | None:
        return next((t for t in self.school.terms if t.start <= day <= t.end), None)

    def sorted_students(self, students: list[StudentSummary] | None = None) -> list[StudentSummary]:
        pool = list(self.students.values()) if students is None else students
        return sorted(pool, key=lambda s: pinyin_key(s.name))

    def current_students(self) -> Iterator[StudentSummary]:
        return (s for s in self.students.values() if s.active)

    def in_category(self, key: str) -> list[StudentSummary]:
        """Active students whose membership in ``key`` is current."""
        return [s for s in self.current_students() if any(c.key == key for c in s.categories_on(self.as_of))]

    def in_class(self, class_id: str) -> list[StudentSummary]:
        return list(self._by_class.get(class_id, ()))

    @cached_property
    def _by_class(self) -> dict[str, list[StudentSummary]]:
        index: dict[str, list[StudentSummary]] = {}
        for s in self.students.values():
            index.setdefault(s.profile.class_, []).append(s)
        return index

    def mentees(self, teacher_id: str) -> list[StudentSummary]:
        """Active students this teacher mentors today."""
        return list(self._mentees.get(teacher_id, ()))

    def former_mentees(self, teacher_id: str) -> list[StudentSummary]:
        current = {s.id for s in self.mentees(teacher_id)}
        return [s for s in self._ever_mentored.get(teacher_id, ()) if s.id not in current]

    # Teacher pages ask these for every teacher: index once (1,000 students × 200 teachers).
    @cached_property
    def _mentees(self) -> dict[str, list[StudentSummary]]:
        index: dict[str, dict[str, StudentSummary]] = {}
        for s in self.current_students():
            for m in s.mentors_on(self.as_of):
                index.setdefault(m.teacher, {})[s.id] = s
        return {t: list(found.values()) for t, found in index.items()}

    @cached_property
    def _ever_mentored(self) -> dict[str, list[StudentSummary]]:
        index: dict[str, dict[str, StudentSummary]] = {}
        for s in self.students.values():
            for m in s.profile.mentors:
                index.setdefault(m.teacher, {})[s.id] = s
        return {t: list(found.values()) for t, found in index.items()}

    def head_of(self, teacher_id: str) -> list[SchoolClass]:
        """The classes a teacher heads now: a graduated class has no one left to look after."""
        return [c for c in self.classes.values() if c.head_teacher == teacher_id and c.graduated is None]

    def grades(self) -> list[str]:
        """Grades of the classes not yet graduated, in the order classes.yml first mentions them."""
        return list(dict.fromkeys(c.grade for c in self.classes.values() if c.graduated is None))

    def graduated_years(self) -> list[int]:
        """The years classes graduated, newest first (the class list's last sections)."""
        return sorted({c.graduated for c in self.classes.values() if c.graduated is not None}, reverse=True)

    def leadership_role(self, teacher_id: str) -> str | None:
        return next((r.role for r in self.school.leadership if r.teacher == teacher_id), None)
