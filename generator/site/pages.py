"""The site's pages: which exist, their titles and templates, and rendering one.

Every page is described by a :class:`PageSpec` (its URI, title and template)
and rendered to HTML by :func:`render_page` in the shared template
environment (``render.templates.make_env``). MkDocs gets only a title stub per
page (see ``build.plugin``), so it never re-parses our HTML as Markdown; that
was 60 % of a build. Pages stay zlib-compressed until they are sealed or written.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import escape

from generator.archive.model import StudentBase
from generator.core import labels
from generator.core.files import write_atomic
from generator.core.problems import YidangError
from generator.archive.schema import RECORD_KINDS
from generator.render.templates import NEED_MARK, RESTRICTED_MARK, Site


@dataclass(frozen=True)
class PageSpec:
    """One page: where it goes, its title, and what the template needs (by id)."""

    uri: str  # source path MkDocs knows it by, e.g. students/S1/index.md
    title: str
    template: str
    args: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Rendered:
    uri: str
    z: bytes  # the page body, zlib-compressed until MkDocs writes the page; b"" once ``kept``
    toc: list[dict[str, Any]]  # MkDocs toc tokens: level, id, name, children
    restricted: bool = False  # has parts only leadership may see (protect.RESTRICTED)
    path: str = ""  # where the body is kept in the build cache (``kept``)
    sha: str = ""  # SHA-256 of the compressed body: stands for it without reading it

    @property
    def html_z(self) -> bytes:
        """The compressed body, read from the build cache when it is kept there (checked
        against its hash: the file is not under the cache's tags)."""
        if self.z or not self.path:
            return self.z
        data = Path(self.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != self.sha:
            raise YidangError(labels.error("commands", "cache_damaged", path=self.path))
        return data

    @property
    def html(self) -> str:
        return zlib.decompress(self.html_z).decode("utf-8")

    @property
    def digest(self) -> str:
        return self.sha or hashlib.sha256(self.z).hexdigest()

    def kept(self, folder: Path) -> Rendered:
        """This page with its body in a file of ``folder``, named by its hash: what the build
        cache then holds of it is small, and a rebuild reads a body only to seal it again
        (reading 1,000 students' pages back with their entries was a second a rebuild)."""
        sha = self.digest
        path = folder / f"{sha}.z"
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(path, self.z, replace=True, mode=0o600, sync=False)  # a cache: rebuilt if lost
        return replace(self, z=b"", path=str(path), sha=sha)

    def usable(self) -> bool:
        return not self.path or os.path.isfile(self.path)


def index_specs(site: Site) -> list[PageSpec]:
    """Every page but the students' ones, in a stable order."""
    a, lab = site.archive, site.labels["site"]
    specs = [
        PageSpec("index.md", lab["home"], "index.html.j2"),
        PageSpec("dashboard/index.md", lab["dashboard"], "dashboard.html.j2"),
        PageSpec("categories/index.md", lab["categories"], "categories.html.j2"),
        PageSpec("teachers/index.md", lab["teachers"], "teachers.html.j2"),
        PageSpec("classes/index.md", lab["classes"], "classes.html.j2"),
    ]
    if any(kind.need_to_know for kind in RECORD_KINDS.values()):  # the counsellor role's page
        specs.append(PageSpec(COUNSELLING_PAGE, lab["counselling"], "counselling.html.j2"))
    specs += [
        PageSpec(f"categories/{k}/index.md", c.name, "category.html.j2", (("key", k),))
        for k, c in a.school.categories.items()
    ]
    specs += [
        PageSpec(f"teachers/{t.id}/index.md", t.name, "teacher.html.j2", (("teacher", t.id),))
        for t in a.teachers.values()
    ]
    specs += [
        PageSpec(f"classes/{c.id}/index.md", c.name, "class.html.j2", (("cls", c.id),))
        for c in a.classes.values()
    ]
    return specs


def student_spec(student: StudentBase, klass: str = "") -> PageSpec:
    """A student's page; its title (lists, search, the home page) carries the class when
    ``klass`` is given: for a name two students share, so neither list nor search mixes them."""
    title = f"{student.name}({klass})" if klass else student.name
    return PageSpec(f"students/{student.id}/index.md", title, "student.html.j2")


def counsel_spec(student: StudentBase, labels: dict[str, Any]) -> PageSpec:
    """A student's need-to-know records, on a page of the student's counselling scope."""
    title = str(labels["counsel"]["title"]).format(name=student.name)
    return PageSpec(f"counsel/{student.id}/index.md", title, "counsel.html.j2")


def stub(title: str) -> str:
    """What MkDocs reads for a page: the title only (HTML-escaped: themes do not escape)."""
    return f"---\ntitle: {yaml.safe_dump(str(escape(title)), allow_unicode=True).strip()}\n---\n"


def _lookup(site: Site, name: str, value: str) -> Any:
    a = site.archive
    table: dict[str, Callable[[str], Any]] = {
        "key": lambda k: k,
        "teacher": a.teachers.__getitem__,
        "cls": a.classes.__getitem__,
    }
    return table[name](value)


def render_page(site: Site, env: jinja2.Environment, spec: PageSpec, **objects: Any) -> Rendered:
    """Render one page; ``objects`` are passed to the template as they are (a Student)."""
    depth = spec.uri.count("/")
    root = "../" * depth
    headings: list[dict[str, Any]] = []

    def href(*parts: str) -> str:
        path = "/".join(parts)
        end = "" if site.dir_urls else "index.html"
        return f"{root}{path}/{end}" if path else f"{root}{end}"

    def toc_add(level: int, anchor: str, text: str) -> str:
        headings.append({"level": level, "id": anchor, "name": str(escape(text)), "children": []})
        return ""

    ctx = {name: _lookup(site, name, value) for name, value in spec.args} | objects
    if "key" in ctx:
        ctx["category"] = site.archive.school.categories[ctx["key"]]
    html = env.get_template(spec.template).render(root=root, href=href, toc_add=toc_add, **ctx)
    restricted = RESTRICTED_MARK in html or NEED_MARK in html  # parts sealed apart
    return Rendered(spec.uri, zlib.compress(html.encode("utf-8"), 3), _nest(headings), restricted)


def _nest(flat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flat headings → the nested toc tokens MkDocs expects."""
    top: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []
    for h in flat:
        while stack and stack[-1]["level"] >= h["level"]:
            stack.pop()
        (stack[-1]["children"] if stack else top).append(h)
        stack.append(h)
    return top


NAV_PAGES = ("index.md", "dashboard/index.md", "categories/index.md", "teachers/index.md", "classes/index.md")
COUNSELLING_PAGE = "counselling/index.md"  # every open case: it changes with any student
EVERYONE_PAGES = (*NAV_PAGES, COUNSELLING_PAGE)


def nav(labels: dict[str, Any]) -> list[dict[str, str]]:
    """Index pages only: a student never appears in the navigation."""
    names = ("home", "dashboard", "categories", "teachers", "classes")
    return [{labels["site"][n]: uri} for n, uri in zip(names, NAV_PAGES, strict=True)]
