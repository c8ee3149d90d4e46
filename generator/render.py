"""Render stage: archive model → Markdown pages (from Jinja2 templates).

Every page is produced here as ``(uri, markdown)``; the MkDocs plugin feeds
them to MkDocs in memory, so no generated Markdown is ever written to the
archive. Templates hold all presentation; this module only prepares values.
Untrusted record text is converted to HTML and sanitised with nh3 (a binding
to the Rust ``ammonia`` sanitiser) before any template sees it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2
import markdown
import nh3
import yaml
from markupsafe import Markup

from .model import Archive, Student, pinyin_key

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "site_templates"
QUIET_DAYS = 30
LATEST_COUNT = 20

# Tags a record body may use once rendered; images come only from `photos:`.
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "u", "s", "del", "ul", "ol", "li", "blockquote",
    "code", "pre", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "hr", "a",
}  # fmt: skip


def load_labels(templates_dir: Path, language: str) -> dict[str, Any]:
    with open(templates_dir / "labels" / f"{language}.yml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


class BodyRenderer:
    """Record Markdown → sanitised HTML (one Markdown instance, reset per body)."""

    def __init__(self) -> None:
        self._md = markdown.Markdown(extensions=["tables", "sane_lists", "nl2br"])

    def __call__(self, text: str) -> Markup:
        html = self._md.reset().convert(text)
        clean = nh3.clean(html, tags=ALLOWED_TAGS, url_schemes={"http", "https", "mailto"})
        return Markup(clean)


@dataclass
class Site:
    """Everything a template may need, computed once per build."""

    archive: Archive
    labels: dict[str, Any]
    dir_urls: bool = True
    photo_urls: dict[str, str] = field(default_factory=dict)  # archive path → published name

    @cached_property
    def grades(self) -> list[str]:
        return self.archive.grades()

    def teachers_sorted(self) -> list[Any]:
        return sorted(self.archive.teachers.values(), key=lambda t: pinyin_key(t.name))

    def last_record(self, student: Student) -> dt.date | None:
        return student.records[-1].meta.date if student.records else None

    def quiet_students(self) -> list[tuple[Student, dt.date | None]]:
        """Active students with no record in the last QUIET_DAYS days, longest first."""
        limit = self.archive.as_of - dt.timedelta(days=QUIET_DAYS)
        quiet = [
            (s, self.last_record(s))
            for s in self.archive.current_students()
            if (self.last_record(s) or dt.date.min) < limit
        ]
        return sorted(quiet, key=lambda sd: (sd[1] or dt.date.min, pinyin_key(sd[0].name)))

    def latest_records(self) -> list[tuple[Student, Any]]:
        pairs = [(s, r) for s in self.archive.students.values() for r in s.records[-LATEST_COUNT:]]
        pairs.sort(key=lambda sr: (sr[1].meta.date, sr[1].path), reverse=True)
        return pairs[:LATEST_COUNT]

    def category_grade_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for key in self.archive.school.categories:
            row = dict.fromkeys(self.grades, 0)
            for s in self.archive.in_category(key):
                row[self.archive.classes[s.profile.class_].grade] += 1
            counts[key] = row
        return counts

    def by_class(self, students: list[Student]) -> list[tuple[Any, list[Student]]]:
        """Group students by class, classes in classes.yml order, names by pinyin."""
        groups = []
        for cls in self.archive.classes.values():
            members = [s for s in students if s.profile.class_ == cls.id]
            if members:
                groups.append((cls, self.archive.sorted_students(members)))
        return groups


def make_env(templates_dir: Path, site: Site) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir / "pages"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    labels = site.labels
    archive = site.archive
    env.filters.update(
        cn_date=lambda d: labels["date_format"].format(y=d.year, m=d.month, d=d.day) if d else "",
        teacher_name=lambda tid: archive.teachers[tid].name if tid in archive.teachers else tid,
        term_name=lambda tid: archive.term(tid).name if archive.term(tid) else tid,
        mask_id=lambda s: (s[:4] + "*" * (len(s) - 8) + s[-4:]) if s else "",
        body=BodyRenderer(),
        show=lambda v: _show(v, labels),
        pinyin_sorted=lambda students: archive.sorted_students(list(students)),
    )
    env.globals.update(L=labels, archive=archive, site=site, school=archive.school)
    return env


def _show(value: Any, labels: dict[str, Any]) -> str:
    """A field value as text: dates in Chinese, lists joined with 、, booleans 是/否."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return labels["site"]["yes" if value else "no"]
    if isinstance(value, dt.date):
        return labels["date_format"].format(y=value.year, m=value.month, d=value.day)
    if isinstance(value, list | tuple):
        return "、".join(_show(v, labels) for v in value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _page(env: jinja2.Environment, site: Site, template: str, uri: str, **ctx: Any) -> str:
    depth = uri.count("/")
    root = "../" * depth

    def href(*parts: str) -> str:
        path = "/".join(parts)
        if not path:
            return root + ("" if site.dir_urls else "index.html")
        return f"{root}{path}/" + ("" if site.dir_urls else "index.html")

    return env.get_template(template).render(root=root, href=href, **ctx)


def pages(site: Site, templates_dir: Path = TEMPLATES_DIR) -> Iterator[tuple[str, str]]:
    """Yield every page of the site as (source uri, Markdown)."""
    env = make_env(templates_dir, site)
    archive = site.archive
    yield "index.md", _page(env, site, "index.md.j2", "index.md")
    yield "dashboard/index.md", _page(env, site, "dashboard.md.j2", "dashboard/index.md")
    yield "categories/index.md", _page(env, site, "categories.md.j2", "categories/index.md")
    for key, cat in archive.school.categories.items():
        uri = f"categories/{key}/index.md"
        yield uri, _page(env, site, "category.md.j2", uri, key=key, category=cat)
    yield "teachers/index.md", _page(env, site, "teachers.md.j2", "teachers/index.md")
    for teacher in archive.teachers.values():
        uri = f"teachers/{teacher.id}/index.md"
        yield uri, _page(env, site, "teacher.md.j2", uri, teacher=teacher)
    yield "classes/index.md", _page(env, site, "classes.md.j2", "classes/index.md")
    for cls in archive.classes.values():
        uri = f"classes/{cls.id}/index.md"
        yield uri, _page(env, site, "class.md.j2", uri, cls=cls)
    for student in archive.students.values():
        uri = f"students/{student.id}/index.md"
        yield uri, _page(env, site, "student.md.j2", uri, student=student)


NAV_PAGES = ("index.md", "dashboard/index.md", "categories/index.md", "teachers/index.md",
             "classes/index.md")  # fmt: skip


def nav(labels: dict[str, Any]) -> list[dict[str, str]]:
    """Index pages only: a student never appears in the navigation."""
    names = ("home", "dashboard", "categories", "teachers", "classes")
    return [{labels["site"][n]: uri} for n, uri in zip(names, NAV_PAGES, strict=True)]
