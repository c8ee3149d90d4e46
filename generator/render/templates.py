"""Render stage: archive model → HTML pages (from Jinja2 templates).

Every page is described by a :class:`PageSpec` (its URI, title and template)
and rendered to HTML by :func:`render_page`. MkDocs gets only a title stub
per page (see ``plugin.py``), so it never re-parses our HTML as Markdown;
that was 60 % of a build. Student pages are rendered in the worker process
that read the student (see ``pages.py``) and kept zlib-compressed until MkDocs
writes them, so a 1,000-student site never holds every page in memory at once.

Templates hold all presentation; this module only prepares values. Untrusted
record text is converted with cmark-gfm (GitHub's C CommonMark, raw HTML
omitted) and then sanitised with nh3 (the Rust ``ammonia`` sanitiser) before
any template sees it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import cmarkgfm
import jinja2
import nh3
from cmarkgfm.cmark import Options
from markupsafe import Markup

from generator.archive import compliance
from generator.archive.model import RECENT, Archive, StudentSummary, pinyin_key
from generator.archive.provenance import Changes, Waiting, describe
from generator.archive.schema import RECORD_KINDS, attributes
from generator.archive.shown import show, shown_fields, value_text
from generator.core.labels import TEMPLATES_DIR, field_label, load_labels
from generator.render.charts import Charts

__all__ = ["TEMPLATES_DIR", "Site", "load_labels", "make_env"]

QUIET_DAYS = 30
RESTRICTED_MARK = "<!--yd:leadership-->"  # templates wrap leadership-only parts in it (see protect)
NEED_MARK = "<!--yd:need-->"  # a need-to-know record's content (protect.NEED_TO_KNOW)
LATEST_COUNT = RECENT

# Tags a record body may use once rendered; images come only from `photos:`.
ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "del",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
    "a",
}


def body_html(text: str) -> Markup:
    """Record Markdown → sanitised HTML. A single newline is a line break (Chinese prose)."""
    html = cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_HARDBREAKS)
    return Markup(_cleaner().clean(html))  # sanitised by nh3 just now


@cache
def _cleaner() -> nh3.Cleaner:
    """nh3's sanitiser, set up once: given the tags anew, each record's body paid 11 µs."""
    return nh3.Cleaner(tags=ALLOWED_TAGS, url_schemes={"http", "https", "mailto"})


class LazyPeriods(Mapping[str, tuple[Any, ...]]):
    """Student id → four-ones periods of the current term (all that index pages show),
    unpacked only for the students a page asks about."""

    def __init__(self, made: Mapping[str, Any]):
        self._made = dict(made)
        self._open: dict[str, tuple[Any, ...]] = {}  # index pages ask about a student 2-3 times

    def __getitem__(self, sid: str) -> tuple[Any, ...]:
        found = self._open.get(sid)
        if found is None:
            found = self._open[sid] = self._made[sid].periods
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._made)

    def __len__(self) -> int:
        return len(self._made)


@dataclass
class Site:
    """Everything a template may need, computed once per build."""

    archive: Archive
    labels: dict[str, Any]
    dir_urls: bool = True
    photo_urls: dict[str, str] = field(default_factory=dict)  # archive path → published name
    booklets: bool = False  # whether each student's booklet is published at booklets/<id>.pdf
    provenance: Changes | None = None  # archive path → last git change (None: not in git)
    periods: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # student id → four-ones periods
    waiting: Waiting = field(default_factory=dict)  # student id → (date, type) on unmerged review branches

    @cached_property
    def grades(self) -> list[str]:
        return self.archive.grades()

    # --- the four ones ---------------------------------------------------------

    @cached_property
    def term_now(self) -> Any:
        """The term containing as_of, else the latest that has started."""
        a = self.archive
        return compliance.current_term(a.school, a.as_of) or next(
            (t for t in reversed(a.terms) if t.start <= a.as_of), None
        )

    def term_periods(self, students: Any) -> list[Any]:
        tid = self.term_now.id if self.term_now else None
        return [p for s in students for p in self.periods.get(s.id, ()) if p.term == tid]

    def rate_text(self, students: Any) -> str:
        value = compliance.rate(self.term_periods(students))
        return "—" if value is None else f"{value:.0%}"

    def overdue(self, students: Any, limit: int | None = None) -> list[tuple[Any, Any, int]]:
        """(student, period, days overdue) of the current term, longest overdue first."""
        by_id = {s.id: s for s in students}
        items = [
            (by_id[sid], p, p.days_overdue(self.archive.as_of))
            for sid in by_id
            for p in self.periods.get(sid, ())
            if p.status == "missed" and self.term_now and p.term == self.term_now.id
        ]
        items.sort(key=lambda x: (-x[2], x[0].id))
        return items[:limit] if limit else items

    def months(self) -> list[dt.date]:
        """First days of the current term's months, up to as_of."""
        term, out = self.term_now, list[dt.date]()
        if term is None:
            return out
        day = term.start.replace(day=1)
        while day <= min(term.end, self.archive.as_of):
            out.append(day)
            day = (day + dt.timedelta(days=32)).replace(day=1)
        return out

    def month_status(self, student: Any, month: dt.date) -> str:
        """met, missed, open or none: the student's periods that end in this month."""
        ends = [
            p for p in self.term_periods([student]) if p.end.year == month.year and p.end.month == month.month
        ]
        if not ends:
            return "none"
        if any(p.status == "missed" for p in ends):
            return "missed"
        return "open" if any(p.status == "open" for p in ends) else "met"

    def provenance_text(self, path: str) -> str:
        """Who last changed a file, and when, as the school knows them (a teacher of
        teachers.yml, else the office), with who merged it if it came by a merge; or why
        that is not known. A git identity never shows: it is whatever a PC was set up with."""
        change = describe(self.provenance, path)
        labels = self.labels["provenance"]
        if isinstance(change, str):
            return labels[change.replace("-", "_")]
        text = labels["changed"].format(
            author=self.person(change.author, change.email), date=change.date, commit=change.commit
        )
        if change.merged_by is not None:
            text += labels["merged"].format(who=self.person(*change.merged_by))
        return str(text)

    def waiting_of(self, student: str) -> list[tuple[dt.date, str]]:
        """(date, type) of the student's records waiting on review branches, oldest first."""
        return [(dt.date.fromisoformat(d), t) for d, t in self.waiting.get(student, ())]

    def person(self, name: str, email: str) -> str:
        """A commit's author as the school knows them: the teacher whose git e-mail or
        user name (teachers.yml) it carries, or the one intake commits as; else the office."""
        teacher = self._git_people.get(email.lower()) or self._git_people.get(name)
        labels = self.labels["provenance"]
        return str(labels["office"] if teacher is None else labels["person"].format(name=teacher.name))

    @cached_property
    def _git_people(self) -> dict[str, Any]:
        people: dict[str, Any] = {}
        for t in self.archive.teachers.values():
            people[f"{t.git_user or t.id}@yidang.invalid".lower()] = t  # what intake commits as
            if t.git_user:
                people[t.git_user] = t
            if t.git_email:
                people[t.git_email.lower()] = t
        return people

    def high_risk(self) -> list[StudentSummary]:
        """Open cases whose latest need-to-know session (心理辅导) found a high risk, latest
        first: the dashboard's list (leadership only, like the dashboard)."""
        found = [s for s in self.archive.current_students() if s.high_risk_on is not None]
        return sorted(found, key=lambda s: (s.high_risk_on, s.id), reverse=True)

    def teachers_sorted(self) -> list[Any]:
        return sorted(self.archive.teachers.values(), key=lambda t: pinyin_key(t.name))

    def last_record(self, student: StudentSummary) -> dt.date | None:
        return student.last_record

    def quiet_students(self) -> list[tuple[StudentSummary, dt.date | None]]:
        """Active students with no record in the last QUIET_DAYS days, longest first."""
        limit = self.archive.as_of - dt.timedelta(days=QUIET_DAYS)
        quiet = [
            (s, self.last_record(s))
            for s in self.archive.current_students()
            if (self.last_record(s) or dt.date.min) < limit
        ]
        return sorted(quiet, key=lambda sd: (sd[1] or dt.date.min, pinyin_key(sd[0].name)))

    def latest_records(self) -> list[tuple[StudentSummary, Any]]:
        pairs = [(s, r) for s in self.archive.students.values() for r in s.recent]
        pairs.sort(key=lambda sr: (sr[1].date, sr[0].id, sr[1].file_name), reverse=True)
        return pairs[:LATEST_COUNT]

    def record_terms(self, records: Any) -> list[tuple[str, str]]:
        """(term id, name) of a student's records, newest first: the jump list of the page."""
        seen: dict[str, str] = {}
        for r in reversed(records):
            term = self.archive.term_of(r.meta.date)
            tid = term.id if term else "none"
            seen.setdefault(tid, term.name if term else self.labels["booklet"]["outside_terms"])
        return list(seen.items())

    def category_grade_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for key in self.archive.school.categories:
            row = dict.fromkeys(self.grades, 0)
            for s in self.archive.in_category(key):
                row[self.archive.classes[s.profile.class_].grade] += 1
            counts[key] = row
        return counts

    def by_class(self, students: list[StudentSummary]) -> list[tuple[Any, list[StudentSummary]]]:
        """Group students by class, classes in classes.yml order, names by pinyin."""
        groups = []
        for cls in self.archive.classes.values():
            members = [s for s in students if s.profile.class_ == cls.id]
            if members:
                groups.append((cls, self.archive.sorted_students(members)))
        return groups


def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates, kept between builds (compiling them took ~1 s a build).

    Outside the project, beside the cache key (see ``cache``): compiled code is
    loaded without a tag, so it must not live where a pull request could put a file.
    """
    from generator.core.cache import user_cache_dir

    folder = user_cache_dir() / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


# The HTML templates, one search path: pages, the booklet and the login page share macros.
HTML_FOLDERS = ("pages", "booklet", "protect")


def make_env(templates_dir: Path, site: Site | None) -> jinja2.Environment:
    """The one Jinja environment for pages, booklets and the login page: autoescaped,
    strict about undefined names, with the filters every template uses. ``site`` is
    what templates read of the archive (``None`` for the login page, which shows none)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([templates_dir / folder for folder in HTML_FOLDERS]),
        bytecode_cache=bytecode_cache(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    if site is None:
        return env
    labels = site.labels
    archive = site.archive
    names = {
        "teacher": lambda tid: archive.teachers[tid].name if tid in archive.teachers else tid,
        "class": lambda cid: archive.classes[cid].name if cid in archive.classes else cid,
        "term": lambda tid: term.name if (term := archive.term(tid)) else tid,
    }
    env.filters.update(
        cn_date=lambda d: show(labels, d) if d else "",
        teacher_name=names["teacher"],
        class_name=names["class"],
        term_name=names["term"],
        mask_id=lambda s: (s[:4] + "*" * (len(s) - 8) + s[-4:]) if s else "",
        body=body_html,
        show=lambda v: show(labels, v),
        field_label=lambda key, kind: field_label(labels, key, kind) or key,
        field_value=lambda m, key: value_text(labels, m.type, key, _attr(m, key), names),
        pinyin_sorted=lambda students: archive.sorted_students(list(students)),
        overdue_row=lambda p, student: (student, p, p.days_overdue(archive.as_of)),
    )
    env.globals.update(L=labels, archive=archive, site=site, school=archive.school, charts=Charts(site))
    env.globals["need_to_know"] = lambda kind: kind in RECORD_KINDS and RECORD_KINDS[kind].need_to_know
    env.globals["need_kinds"] = lambda: [
        k for k, kind in RECORD_KINDS.items() if kind.need_to_know and kind.form
    ]
    shown: dict[str, list[tuple[str, str]]] = {}  # a kind's shown fields: (key, label)

    def fields_of(kind: str) -> list[tuple[str, str]]:
        if kind not in shown:
            shown[kind] = [(key, field_label(labels, key, kind) or key) for key in shown_fields(labels, kind)]
        return shown[kind]

    env.globals["shown_values"] = lambda m, skip=(): [
        (label, text)
        for key, label in fields_of(m.type)
        if key not in skip and (text := value_text(labels, m.type, key, _attr(m, key), names))
    ]
    return env


def _attr(meta: Any, key: str) -> Any:
    """A record's field by the key written in the file (``continue`` → ``continue_``)."""
    return getattr(meta, attributes(meta.__class__).get(key, key), None)
