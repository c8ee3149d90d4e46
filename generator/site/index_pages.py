"""Index pages (home, dashboard, categories, teachers, classes), rendered again
only when something they show changed.

A page's cache key covers the page templates, labels, school files, ``as_of``
and settings (``base``), who is in the programme with which profile (any
profile change can move a student onto or off any list, so it re-renders
every index page), and the summary (records and four-ones) of each student
the page showed last time: the students it links to. The five navigation
pages aggregate over everyone, so they depend on every summary.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator.render import templates as render
from generator.site import pages as site_pages
from generator.core.cache import Store, digest
from generator.core.parallel import forked_map

LINKED = re.compile(r'students/([^/"]+)/|data-student="([^"]+)"')
EVERYONE = ("*",)


@dataclass
class Cached:
    key: str
    shows: tuple[str, ...]  # students the page showed (EVERYONE for the navigation pages)
    page: site_pages.Rendered


@dataclass
class IndexPages:
    """Renders index pages through ``render_one``, reusing the last build's when it may."""

    store: Store
    bodies: Path  # where the pages' bodies are kept (Rendered.kept)
    base: str
    profiles: dict[str, str]  # student id → digest of the profile
    summaries: dict[str, str]  # student id → digest of the summary (profile and record refs)
    rendered: int = 0
    reused: int = 0

    def __post_init__(self) -> None:
        self.membership = digest(*(f"{s}:{d}" for s, d in sorted(self.profiles.items())))
        self.everyone = digest(*(f"{s}:{d}" for s, d in sorted(self.summaries.items())))

    def _key(self, spec: site_pages.PageSpec, shows: tuple[str, ...]) -> str:
        parts = [self.everyone] if shows == EVERYONE else [self.summaries.get(s, "gone") for s in shows]
        return digest(self.base, self.membership, repr(spec), *shows, *parts)

    def pages(
        self,
        specs: list[site_pages.PageSpec],
        render_one: Callable[[site_pages.PageSpec], site_pages.Rendered],
        jobs: int = 1,
    ) -> list[site_pages.Rendered]:
        """The pages of ``specs``: the last build's where they may be reused, the others
        rendered by ``render_one``, in ``jobs`` forked workers when they are many."""
        previous = self.store.get("index-pages")
        if not isinstance(previous, dict):
            previous = {}
        made: dict[str, Cached] = {}
        todo = []
        for spec in specs:
            old = previous.get(spec.uri)
            if isinstance(old, Cached) and old.key == self._key(spec, old.shows) and old.page.usable():
                made[spec.uri] = old
                self.reused += 1
            else:
                todo.append(spec)
        for spec, (page, shows) in zip(todo, _render_all(todo, render_one, self.bodies, jobs), strict=True):
            made[spec.uri] = Cached(self._key(spec, shows), shows, page)
            self.rendered += 1
        if self.rendered:
            self.store.put("index-pages", made)
        return [made[spec.uri].page for spec in specs]


Made = tuple[site_pages.Rendered, tuple[str, ...]]  # a page, kept, and the students it shows
PARALLEL_PAGES = 32  # index pages to render from which forked workers pay for themselves


def _render_all(
    specs: list[site_pages.PageSpec],
    render_one: Callable[[site_pages.PageSpec], site_pages.Rendered],
    bodies: Path,
    jobs: int,
) -> list[Made]:
    """Each page rendered, kept in ``bodies`` and read for the students it links to. A full
    build's 258 pages were 2-4 s on one core while the other waited: with many, forked
    workers render them (they inherit the site and the templates' environment)."""

    def made(spec: site_pages.PageSpec) -> Made:
        page = render_one(spec)
        shows = EVERYONE if spec.uri in site_pages.EVERYONE_PAGES else _students_in(page.html)
        return page.kept(bodies), shows

    return list(forked_map(made, specs, jobs if len(specs) >= PARALLEL_PAGES else 1, chunksize=4))


def _students_in(html: str) -> tuple[str, ...]:
    return tuple(sorted({a or b for a, b in LINKED.findall(html)}))


def base_key(templates_dir: Path, labels: bytes, context: str) -> str:
    """What every index page depends on besides the students: templates, labels, settings."""
    from generator.core.cache import tree_digest, version

    return digest(version(), tree_digest(templates_dir / "pages"), labels, context)
