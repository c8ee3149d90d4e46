"""The site's pages: which exist, and how each student's page is made.

A student's page is rendered in the worker process that read the student
(``archive.read_archive`` calls a :class:`StudentPages` for each valid
student), so the whole archive's records never travel to, or sit in, the
main process: it receives a compressed page and the photos to publish.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jinja2

from generator.archive import compliance
from generator.archive import groups, photos
from generator.render import templates as render
from generator.site import pages as site_pages
from generator.archive.provenance import Changes, Waiting
from generator.archive.schema import RECORD_KINDS
from generator.archive.read import SchoolFiles
from generator.booklets.booklet import BookletResult, Booklets
from generator.core.cache import digest
from generator.archive.model import Archive, Student


@dataclass(frozen=True)
class StudentPage:
    page: site_pages.Rendered
    photos: tuple[tuple[str, Path], ...]  # (published uri, prepared copy in the cache)
    booklet: BookletResult | None = None
    periods_packed: bytes = b""  # the four ones of the current term (see ``periods``)
    profile_digest: str = ""  # for the index pages' cache: what lists the student is on
    summary_digest: str = ""  # ... and what those lists show of them
    counsel: site_pages.Rendered | None = None  # its need-to-know records' own page (心理辅导)
    full: BookletResult | None = None  # the booklet with their content too (full/<id>.pdf)

    @cached_property
    def periods(self) -> tuple[compliance.Period, ...]:
        """Unpacked on first use, like the refs of a ``StudentSummary``."""
        return tuple(compliance.Period(*p) for p in pickle.loads(self.periods_packed))

    def usable(self) -> bool:
        """For the build cache: the prepared photos and the booklet are still on disk."""
        if not all(p.usable() for p in (self.page, self.counsel) if p is not None):
            return False
        paths = [cached for _, cached in self.photos]
        for booklet in (self.booklet, self.full):
            if booklet is not None:
                if booklet.status == "failed":  # perhaps a full disk: try again
                    return False
                paths.append(booklet.path)
        return all(p.is_file() for p in paths)


class StudentPages:
    """Called once per student, in a worker: prepares photos, renders the page."""

    def __init__(
        self,
        school: SchoolFiles,
        as_of: dt.date,
        root: Path,
        labels: dict[str, Any],
        templates_dir: Path,
        dir_urls: bool,
        photo_cache: Path,
        booklets: Callable[[SchoolFiles, dt.date], Booklets] | None = None,
        provenance: Changes | None = None,
        waiting: Waiting | None = None,
        page_cache: Path | None = None,
    ):
        assert school.school is not None
        archive = Archive(school.school, school.teachers, school.classes, {}, as_of)
        self.site = render.Site(archive, labels, dir_urls, provenance=provenance, waiting=waiting or {})
        self.root = root
        self.templates_dir = templates_dir
        self.photo_cache = photo_cache
        self.page_cache = page_cache  # where pages' bodies are kept (Rendered.kept); None: in memory
        self._env: jinja2.Environment | None = None
        self.booklets = booklets(school, as_of) if booklets else None
        self.site.booklets = self.booklets is not None

    def __call__(self, student: Student) -> StudentPage:
        booklet = self.booklets(student) if self.booklets else None
        full = self.booklets.full(student) if self.booklets else None
        return self._page(student, booklet, full)

    def _page(self, student: Student, booklet: BookletResult | None, full: BookletResult | None) -> StudentPage:
        if self._env is None:  # built once per worker, after the fork
            self._env = render.make_env(self.templates_dir, self.site)
        published = []
        self.site.photo_urls.clear()
        for record in student.records:
            for photo in record.meta.photos:
                key = record.photo_path(photo)
                name, cached = photos.prepared(self.root / key, self.photo_cache)
                # A group's photos are its own (activities/<file>/photos/), in a scope of their
                # own: only the readers of every student in the group hold its key.
                uri = f"{groups.photos_route(record)}/{name}" if record.group else f"students/{student.id}/photos/{name}"
                self.site.photo_urls[key] = f"../../{uri}" if record.group else f"photos/{name}"
                published.append((uri, cached))
        facts = compliance.facts_of(student.records)
        periods = tuple(
            compliance.periods(student.profile, self.site.archive.school, facts, self.site.archive.as_of)
        )
        page = site_pages.render_page(
            self.site, self._env, site_pages.student_spec(student), student=student, periods=periods
        )
        profile = student.profile.model_dump_json()  # not pickle: it holds sets, in random order
        summary = student.summary()  # what index pages show of it: refs, and a high risk's date
        digests = (digest(profile), digest(profile, repr(summary.refs), str(summary.high_risk_on)))
        now = self.site.term_now
        current = tuple(p.__reduce__()[1] for p in periods if now is not None and p.term == now.id)
        packed = pickle.dumps(current, protocol=5)
        counsel = self._counsel_page(student)
        if self.page_cache is not None:
            page = page.kept(self.page_cache)
            counsel = counsel.kept(self.page_cache) if counsel is not None else None
        return StudentPage(page, tuple(dict(published).items()), booklet, packed, *digests, counsel, full)

    def _counsel_page(self, student: Student) -> site_pages.Rendered | None:
        """The page of a student's need-to-know records alone, in the student's counselling
        scope: what a counsellor who is not the student's mentor reads (and writes from)."""
        assert self._env is not None
        need = [r for r in student.records if RECORD_KINDS[r.meta.type].need_to_know]
        if not need:
            return None
        spec = site_pages.counsel_spec(student, self.site.labels)
        return site_pages.render_page(self.site, self._env, spec, student=student, records=need)
