"""The build, stage by stage. ``run_build`` is its table of contents: read it first.

``yidang build`` runs ``run_build``. ``mkdocs build`` and ``mkdocs serve`` run the
same stage functions from the MkDocs plugin's hooks (``plugin.py``): MkDocs
calls ``on_config`` (stage 1), ``on_files`` (stage 2), writes the login shell
itself (stage 3) and calls ``on_post_build`` (stages 4-6).

Stages raise ``YidangError`` subclasses and never print or exit. A failed build
leaves the previous site exactly as it was: the new one is written next to it
and swapped in only when everything succeeded.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import json
import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import MkDocsException
from mkdocs.structure.files import File, Files

from generator.archive import model
from generator.archive.forms import form_schema
from generator.archive.provenance import Waiting, history, provenance_key, waiting
from generator.archive.read import ReadResult, context_key, read_archive, student_folders
from generator.archive.schema import RECORD_TYPES
from generator.archive.shown import label_problems
from generator.booklets.booklet import (
    FULL,
    Booklets,
    Fonts,
    describe_failure,
    load_digests,
    ready_fonts,
    save_digests,
)
from generator.build import settings
from generator.build.publish import build_lock, remove_leftovers, swap, update_in_place
from generator.build.state import BuildState, private_plain_dir, remove_dead_plaintext
from generator.core import crypto, git, labels
from generator.core.cache import Store, StudentCache, digest, tree_digest, version
from generator.core.problems import ArchiveInvalid, YidangError, counts
from generator.protect import access, inbox
from generator.protect import seal as protect
from generator.protect.audit import audit
from generator.render import templates as render
from generator.render.charts import Charts
from generator.site import pages as site_pages
from generator.site.index_pages import IndexPages, base_key
from generator.site.students import StudentPages

log = logging.getLogger("mkdocs.plugins.yidang")
PAGE_BODIES = "html"  # the build cache's folder of page bodies (Rendered.kept)
CSS_URI = "assets/yidang.css"
# The charts' scripts: Apache ECharts (scripts/vendor.py fetches it) and what draws our figures.
# Every page loads the small one; it loads ECharts (1.1 MB) itself, and only for a page with a
# chart: the login page and a phone on a slow network never wait for it.
ECHARTS = "assets/vendor/echarts.min.js"
PAGE_JS = "assets/yidang-page.js"
SCRIPTS = (ECHARTS, PAGE_JS)
NOBLE = "assets/yidang-noble.js"  # plain_http only: WebCrypto's part we use, over @noble
Shell = dict[str, bytes]  # MkDocs' home page and Material's assets: relative path → bytes


@dataclass(frozen=True)
class Built:
    site_dir: Path
    pages: int
    students: int
    protected: bool
    report: dict[str, Any] = field(default_factory=dict)  # rebuilt and reused, per stage


def run_build(config: MkDocsConfig, state: BuildState) -> Built:
    """A whole build, top to bottom."""
    with build_lock(state.final), cleaning_up(state):
        remove_leftovers(state.final)  # half-made sites of builds that were killed,
        remove_dead_plaintext()  # and their plaintext (a kill -9 leaves it in $TMPDIR)
        git.clean_dead_near(state.archive_root)  # and work trees of killed intakes and rollovers
        read_students(state)  # 1. every student: validated; page, photos and booklet made
        render_index_pages(state)  # 2. home, dashboard, category, teacher and class pages
        if state.protect:
            shell = login_shell(config, state)  # 3. MkDocs' home page and assets (cached)
            new = seal(state, shell)  # 4. blobs, keyrings and the shell, in a new folder
            audit_site(state, new)  # 5. nothing readable in what this build wrote
        else:
            new = plaintext_site(config, state)  # 3-5. MkDocs writes every page, unsealed
        publish(state, new)  # 6. put in place, in one step
    return Built(state.final, len(state.titles), len(state.students), state.protect, state.report)


def begin(config: MkDocsConfig, driver: str) -> BuildState:
    """``mkdocs build`` or ``mkdocs serve``: a new build, taking the site's lock when it will
    publish one, and its stage 1."""
    state = BuildState.of(config, Path(config.site_dir), driver)
    if state.protect:
        state.locks.enter_context(build_lock(state.final))
    read_students(state)
    return state


def seal_and_publish(state: BuildState) -> None:
    """``mkdocs build`` of a protected site, once MkDocs wrote the shell: stages 4 to 6."""
    with cleaning_up(state):
        new = seal(state, keep_shell(state))
        audit_site(state, new)
        publish(state, new)


def build_site(
    config_file: Path,
    site_dir: Path | None = None,
    archive: Path | None = None,
    booklets: bool | None = None,
    protect: bool | None = None,
    progress: Callable[[int], AbstractContextManager[Callable[[], None]]] | None = None,
    rotate_keys: bool = False,
) -> Built:
    """``yidang build``: load mkdocs.yml (the arguments override it) and run the build.

    ``progress``, given the number of students, opens a progress display and
    returns the function to call once per student read (from the cache or not)."""
    config = settings.load(
        config_file,
        site_dir,
        archive=archive,
        booklets=booklets,
        protect=protect,
        rotate_keys=rotate_keys or None,
    )
    state = BuildState.of(config, Path(config.site_dir), "yidang")
    students = state.archive_root / "students"
    total = sum(1 for e in os.scandir(students) if e.is_dir()) if students.is_dir() else 0
    with progress(total) if progress else contextlib.nullcontext() as tick:
        state.progress = tick
        return run_build(config, state)


def read_for_build(config_file: Path, archive: Path | None = None) -> ReadResult:
    """Check the archive the build would read (same folder, same as_of), problems only."""
    config = settings.load(config_file, archive=archive)
    return read_archive(settings.archive_root(config), as_of=settings.as_of(config), keep=False)


@contextlib.contextmanager
def cleaning_up(state: BuildState) -> Iterator[None]:
    """Whatever stops a build (an error, Ctrl-C, SIGTERM): its plaintext and half-made
    folders go, the previous site stays, and the error says so."""
    try:
        yield
    except (MkDocsException, OSError) as exc:
        raise YidangError(labels.error("commands", "build_failed", why=_why(exc))) from None
    finally:
        state.remove_plaintext()
        for path in state.final.parent.glob(f".{state.final.name}.*-{os.getpid()}"):
            shutil.rmtree(path, ignore_errors=True)
        state.locks.close()
        gc.unfreeze()  # the cache entries frozen while loading (see StudentCache.lookup_all)


# --- 1. students ----------------------------------------------------------------


def read_students(state: BuildState) -> None:
    """Read and validate every student in worker processes; in the same worker, render the
    student's page, prepare the photos and make the booklet. Unchanged students come
    from the build cache."""
    state.report = {}
    words = label_problems(state.labels, state.templates_dir / "labels" / f"{state.settings.language}.yml")
    if words:  # said here, before a worker meets the gap in a template
        raise ArchiveInvalid(words, labels.error("commands", "labels_missing", n=len(words)))
    cache = _student_cache(state)
    state.locks.callback(cache.close)  # its child processes end with the build, even a failed one
    # The archive's files stat-ed (and, on a first build, hashed) in child processes while
    # git tells who changed what: git's 1 s of a first build no longer comes before them.
    cache.prefetch(state.archive_root, student_folders(state.archive_root), os.cpu_count() or 1)
    hist = history(state.archive_root, Store(state.cache_dir / "provenance"))  # the workers inherit it
    changes = hist.changes if hist is not None else None
    state.waiting = waiting(state.archive_root, RECORD_TYPES)
    cache.extra = _page_inputs(provenance_key(hist), state.waiting)
    booklets = _booklet_maker(state, changes) if state.settings.booklets else None
    maker = partial(
        StudentPages,
        root=state.archive_root,
        labels=state.labels,
        templates_dir=state.templates_dir,
        dir_urls=state.dir_urls,
        photo_cache=state.cache_dir / "photos",
        booklets=booklets,
        provenance=changes,
        waiting=state.waiting,
        page_cache=state.cache_dir / PAGE_BODIES,
    )
    _load_pinyin(state)
    result = read_archive(
        state.archive_root, as_of=state.as_of, hook_factory=maker, cache=cache, progress=state.progress
    )
    state.reread = {sid for sid in result.outputs if sid not in cache.reused}
    state.report["students"] = (cache.misses, cache.hits)
    log.info("students: %d read, %d reused from the cache", cache.misses, cache.hits)
    state.problems = result.problems
    for p in result.problems:
        if p.severity == "warning":
            log.info("%s", p.text())
    if result.archive is None:
        errors = counts(result.problems)[0]
        raise ArchiveInvalid(
            result.problems, f"{errors} error(s) in the archive; the previous site is unchanged"
        )
    state.archive = result.archive
    state.students = result.outputs
    if booklets is not None:
        _booklet_results(state, cache.reused)
    state.site = render.Site(state.archive, state.labels, dir_urls=state.dir_urls, waiting=state.waiting)


def _page_inputs(provenance: Callable[[str], str], pending: Waiting) -> Callable[[str], str]:
    """A student folder's inputs from git: its files' last changes and its records waiting
    on review branches (both shown on the page)."""
    return lambda folder: f"{provenance(folder)}|{pending.get(folder, ())}"


def _student_cache(state: BuildState) -> StudentCache:
    """What a student's cached page and booklet depend on besides the student's files and
    their git history (``extra``, set once git has told)."""
    s, t = state.settings, state.templates_dir
    parts: list[str | bytes] = [
        version(),
        tree_digest(t / "pages"),
        state.labels_bytes,
        f"{state.dir_urls}|{s.booklets}",
    ]
    if s.booklets:
        parts += [tree_digest(t / "booklet"), f"{s.booklet_font}|{s.booklet_heading_font}"]
    return StudentCache(
        Store(state.cache_dir / "students"),
        digest(*parts),
        usable=lambda res: res.output is None or res.output.usable(),
    )


def _load_pinyin(state: BuildState) -> None:
    """Names' sort keys from the last build (importing pypinyin costs 0.5 s)."""
    known = Store(state.cache_dir / "pages").get("pinyin")
    model.PINYIN.update(known if isinstance(known, dict) else {})
    state.pinyin_known = len(model.PINYIN)


def _booklet_maker(state: BuildState, changes: Any) -> Any:
    """The per-student booklet maker (run in the workers), after checking the fonts."""
    s = state.settings
    fonts = Fonts(s.booklet_font, s.booklet_heading_font)
    font_dir = ready_fonts(fonts, state.cache_dir / "fonts")
    return partial(
        Booklets,
        root=state.archive_root,
        labels=state.labels,
        templates_dir=state.templates_dir,
        out_dir=state.cache_dir / "booklets",
        fonts=fonts,
        photo_cache=state.cache_dir / "photos",
        previous=load_digests(state.cache_dir / "booklets"),
        provenance=changes,
        font_dir=font_dir,
    )


def _booklet_results(state: BuildState, reused: set[str]) -> None:
    """Remember what changed; a booklet that failed fails the build, naming why."""
    out_dir = state.cache_dir / "booklets"
    made = [
        b
        for sid, p in state.students.items()
        if sid not in reused
        for b in (p.booklet, p.full)
        if b is not None
    ]
    digests = load_digests(out_dir)
    digests.update({b.student: b.digest for b in made if b.status != "failed"})
    save_digests(out_dir, digests)
    failures = [describe_failure(b) for b in made if b.status == "failed"]
    if failures:
        raise YidangError("\n".join([*failures, labels.error("commands", "booklets_failed")]))
    rendered = sum(1 for b in made if b.status == "rendered")
    state.report["booklets"] = (rendered, len(state.students) - rendered)
    log.info("booklets: %d rendered, %d unchanged", rendered, len(state.students) - rendered)


# --- 2. index pages ---------------------------------------------------------------


def render_index_pages(state: BuildState) -> None:
    """Every page that is not a student's, rendered again only when something it shows
    changed; then each page's title, and the photos and booklets to publish."""
    assert state.site is not None and state.archive is not None
    env = render.make_env(state.templates_dir, state.site)
    state.site.periods = render.LazyPeriods(state.students)
    specs = site_pages.index_specs(state.site)
    index = _index_cache(state)
    site = state.site
    # Every name's sort key learnt here, before the workers fork: what they learn stays in them.
    state.archive.sorted_students()
    site.teachers_sorted()
    made = index.pages(specs, lambda spec: site_pages.render_page(site, env, spec), os.cpu_count() or 1)
    state.report["index"] = (index.rendered, index.reused)
    if len(model.PINYIN) != state.pinyin_known:
        Store(state.cache_dir / "pages").put("pinyin", dict(model.PINYIN))
    pages = list(zip(specs, made, strict=True))
    state.files = []
    shared = Counter(s.name for s in state.archive.students.values())
    for student in state.archive.students.values():
        made_for = state.students[student.id]
        klass = state.archive.classes[student.profile.class_].name if shared[student.name] > 1 else ""
        pages.append((site_pages.student_spec(student, klass), made_for.page))
        if made_for.counsel is not None:  # its need-to-know records' own page
            pages.append((site_pages.counsel_spec(student, state.labels), made_for.counsel))
        state.files += [(uri, cached, "image") for uri, cached in made_for.photos]
        if made_for.booklet is not None:
            state.files.append((f"booklets/{student.id}.pdf", made_for.booklet.path, "pdf"))
        if made_for.full is not None:  # with the 心理辅导 content: sealed for who reads both
            state.files.append((f"{FULL}/{student.id}.pdf", made_for.full.path, "pdf"))
    state.pages = {spec.uri: page for spec, page in pages}
    state.titles = {spec.uri: spec.title for spec, _ in pages}
    state.todo = _todo_lists(state) if state.protect else {}
    forget_old_pages(state)


def _todo_lists(state: BuildState) -> dict[str, bytes]:
    """The home page's to-do lists, one per scope so each reader decrypts only their own:
    a teacher's current mentees, a class's active students, the whole school."""
    assert state.site is not None and state.archive is not None
    a, charts = state.archive, Charts(state.site)
    store, keys = Store(state.cache_dir / "pages"), _todo_keys(state)
    kept = store.get("todo-items")
    if isinstance(kept, dict):
        charts.known_items({sid: items for sid, (key, items) in kept.items() if keys.get(sid) == key})
    lists = {"todo.json": charts.todo(a.current_students())}
    lists |= {f"teachers/{t}/todo.json": charts.todo(a.mentees(t)) for t in a.teachers}
    lists |= {f"classes/{c}/todo.json": charts.todo(a.in_class(c)) for c in a.classes}
    store.put("todo-items", {sid: (keys[sid], items) for sid, items in charts.items().items() if sid in keys})
    as_of = a.as_of.isoformat()
    return {
        route: json.dumps({"as_of": as_of, "items": items}, ensure_ascii=False).encode()
        for route, items in lists.items()
    }


def _todo_keys(state: BuildState) -> dict[str, str]:
    """What each student's to-do items come from: the day (the items are what is overdue or
    due this week), the school files (rules, names), the labels, the student's profile and
    records (their digests), and their records waiting on review branches."""
    assert state.archive is not None
    base = digest(version(), state.labels_bytes, context_key(state.archive_root, state.archive.as_of))
    return {
        sid: digest(base, m.profile_digest, m.summary_digest, repr(state.waiting.get(sid, ())))
        for sid, m in state.students.items()
    }


def forget_old_pages(state: BuildState) -> None:
    """Page bodies in the build cache that no page of this build is: a page changed, a
    student left. An entry of the cache that still names one is then rendered again."""
    folder = state.cache_dir / PAGE_BODIES
    kept = {page.path for page in state.pages.values()}
    for path in folder.glob("*.z") if folder.is_dir() else ():
        if str(path) not in kept:
            path.unlink(missing_ok=True)


def _index_cache(state: BuildState) -> IndexPages:
    assert state.archive is not None
    context = (
        f"{context_key(state.archive_root, state.archive.as_of)}|{state.dir_urls}|{state.settings.booklets}"
    )
    base = base_key(state.templates_dir, state.labels_bytes, context)
    made = state.students.items()
    return IndexPages(
        Store(state.cache_dir / "pages"),
        state.cache_dir / PAGE_BODIES,
        base,
        {sid: m.profile_digest for sid, m in made},
        {sid: m.summary_digest for sid, m in made},
    )


# --- 3. the login shell (or, unprotected, every page) ------------------------------------


def login_shell(config: MkDocsConfig, state: BuildState) -> Shell:
    """MkDocs' home page (the login shell is cut from it) and Material's assets. None of it
    comes from the archive, so the last build's serves until mkdocs.yml, the theme, the
    labels or yidang change; then MkDocs runs, making only the navigation pages' stubs."""
    cached = cached_shell(state)
    if cached is not None and list(config.plugins) == [settings.PLUGIN]:  # other plugins: MkDocs runs
        state.report["shell"] = "reused"
        return cached
    state.plain = private_plain_dir()
    _run_mkdocs(config, state, state.plain)
    return keep_shell(state)


def plaintext_site(config: MkDocsConfig, state: BuildState) -> Path:
    """An unprotected build: MkDocs writes every page, with its body, into a new folder
    beside the site (for local checks only)."""
    new = state.final.parent / f".{state.final.name}.tmp-{os.getpid()}"
    shutil.rmtree(new, ignore_errors=True)
    _run_mkdocs(config, state, new)
    return new


def _run_mkdocs(config: MkDocsConfig, state: BuildState, out: Path) -> None:
    """MkDocs with the plugin bound to this build: its hooks feed what stages 1 and 2 made."""
    plugin: Any = config.plugins[settings.PLUGIN]  # the YidangPlugin (plugin.py imports this module)
    plugin.state = state
    config["site_dir"] = str(out)
    from mkdocs.commands.build import build as mkdocs_build  # not imported by a rebuild (0.1 s)

    try:
        mkdocs_build(config)
    finally:
        plugin.state = None


def _script_source(state: BuildState, uri: str) -> Path:
    folder = "vendor" if "/vendor/" in uri else "static"
    path = state.templates_dir / folder / uri.rsplit("/", 1)[-1]
    if not path.is_file():
        raise YidangError(labels.error("commands", "no_vendor", path=path))
    return path


def shell_key(state: BuildState) -> str:
    """What MkDocs' output for the protected site depends on: none of it is the archive."""
    t = state.templates_dir
    return digest(
        version(),
        state.config_file.read_bytes(),
        state.labels_bytes,
        tree_digest(t / "overrides"),
        tree_digest(t / "static"),
        tree_digest(t / "vendor"),
        dist_version("mkdocs"),
        dist_version("mkdocs-material"),
    )


def cached_shell(state: BuildState) -> Shell | None:
    """The last build's shell files if still valid. An entry of the tagged build cache:
    these files are published, so they are never taken from a folder anyone could write to."""
    hit = Store(state.cache_dir / "shell").get("shell")
    if isinstance(hit, tuple) and len(hit) == 2 and hit[0] == shell_key(state):
        return hit[1]
    return None


def keep_shell(state: BuildState) -> Shell:
    """The shell MkDocs just wrote into the plaintext folder, kept for the next build."""
    assert state.plain is not None
    plain = state.plain
    files = {
        p.relative_to(plain).as_posix(): p.read_bytes()
        for p in [plain / "index.html", *(plain / "assets").rglob("*")]
        if p.is_file()
    }
    Store(state.cache_dir / "shell").put("shell", (shell_key(state), files))
    return files


def configure_mkdocs(config: MkDocsConfig, state: BuildState) -> None:
    """Navigation (index pages only: a student never appears in it), theme, CSS, banner;
    a protected build's MkDocs output goes to a private folder, never to the site."""
    config.nav = site_pages.nav(state.labels)
    config.theme.dirs.insert(0, str(state.templates_dir / "overrides"))
    config.extra_css.append(CSS_URI)
    config.extra_javascript.append(PAGE_JS)
    banner = "unprotected_preview" if state.driver == "serve" else state.settings.banner
    config.extra["yidang_banner"] = "" if state.protect else state.labels["site"].get(banner, "")
    config.extra["yidang_confidential"] = state.labels["site"]["confidential"]
    if state.protect and state.driver == "mkdocs":
        state.plain = private_plain_dir()
        config.site_dir = str(state.plain)
    elif not state.protect:
        remove_dead_plaintext()


def mkdocs_files(files: Files, config: MkDocsConfig, state: BuildState) -> Files:
    """Our CSS and a title stub per page (protected: only the navigation's pages, which the
    shell's menu needs); unprotected, the photos and booklets too."""
    css = (state.templates_dir / "static" / "yidang.css").read_text(encoding="utf-8")
    files.append(File.generated(config, CSS_URI, content=css))
    for uri in SCRIPTS:
        files.append(File.generated(config, uri, abs_src_path=str(_script_source(state, uri))))
    if state.settings.plain_http:
        files.append(
            File.generated(
                config, NOBLE, abs_src_path=str(state.templates_dir / "static" / "yidang-noble.js")
            )
        )
        noble = state.templates_dir / "vendor" / "noble"
        if not noble.is_dir():
            raise YidangError(labels.error("commands", "no_noble", path=noble))
        for path in sorted(p for p in noble.rglob("*") if p.is_file()):
            uri = f"assets/vendor/noble/{path.relative_to(noble).as_posix()}"
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    if not state.protect:
        for uri, source, _ in dict.fromkeys(state.files):
            files.append(File.generated(config, uri, abs_src_path=str(source)))
    for uri, title in state.titles.items():
        if state.protect and uri not in site_pages.NAV_PAGES:
            continue
        existing = files.get_file_from_path(uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, uri, content=site_pages.stub(title)))
    return files


# --- 4. seal ------------------------------------------------------------------------------


def seal(state: BuildState, shell: Shell) -> Path:
    """Pages, photos, booklets and search shards sealed into blobs, one keyring per
    account, and the login shell, into a new folder beside the site. Blobs whose content
    and key did not change are copied from the previous site."""
    assert state.archive is not None
    accounts = protect.ensure_accounts(state.archive_root, state.archive)
    new = state.final.parent / f".{state.final.name}.protect-{os.getpid()}"
    shutil.rmtree(new, ignore_errors=True)
    previous = _previous_site(state)
    rights = {a.teacher: access.rights(state.archive, a.teacher) for a in accounts}
    fingerprints = {a.teacher: a.fingerprint for a in accounts}
    publisher = protect.Publisher(
        new, rights, previous, fingerprints, state.settings.rotate_keys, dict(state.archive.groups)
    )
    if state.settings.intake_url:  # each teacher's credential for the upload inbox, in their keyring
        publisher.uploads = inbox.credentials(state.archive_root, accounts)
    pages = {
        uri.removesuffix("index.md"): (
            state.titles[uri],
            partial(getattr, page, "html_z"),  # read from the build cache only when sealed again
            page,
        )
        for uri, page in state.pages.items()
    }
    todo = _pages_to_seal(pages, previous)
    changed = {route for route, *_ in todo}
    # in the order of todo, of pages; the workers stop with the loop, even on an error
    with contextlib.closing(protect.prepare_pages(todo, os.cpu_count() or 1)) as prepared:
        for route, (title, body, page) in pages.items():
            made = next(prepared) if route in changed else None
            publisher.add_page(route, title, body, page.digest, page.restricted, made)
    for route, source, kind in dict.fromkeys(state.files):
        publisher.add_file(protect.Item(route, kind), Path(source))
    for route, data in state.todo.items():
        publisher.add_data(protect.Item(route, "todo"), data)
    written = protect.write_site(new, publisher, accounts, shell, _login_html(state), _shell_settings(state))
    state.written = None if previous is None else set(written)
    state.in_place = publisher.in_place
    state.sealed = publisher.state(state.final)
    state.report["blobs"] = (len(publisher.sealed) - publisher.reused, publisher.reused)
    state.report["rotated"] = len(publisher.rotated)
    log.info(
        "encrypted files: %d sealed, %d reused; %d scope keys rotated",
        len(publisher.sealed) - publisher.reused,
        publisher.reused,
        len(publisher.rotated),
    )
    return new


def _pages_to_seal(
    pages: Mapping[str, tuple[str, Callable[[], bytes], site_pages.Rendered]],
    previous: protect.SiteState | None,
) -> list[protect.PageSource]:
    """The pages whose blobs the previous build did not seal as they are now: every page of a
    first build, the changed ones of a rebuild (a page whose scope got a new key is sealed
    again too, prepared as it is sealed)."""
    old = previous.sealed if previous is not None else {}
    return [
        (route, title, body, page.restricted)
        for route, (title, body, page) in pages.items()
        if (sealed := old.get(route)) is None or sealed.digest != protect.page_digest(title, page.digest)
    ]


def _previous_site(state: BuildState) -> protect.SiteState | None:
    """The last build's blobs and keys, if they are this site's and of this format."""
    previous = Store(state.cache_dir / "site").get("state")
    ours = isinstance(previous, protect.SiteState) and previous.format == protect.FORMAT
    return previous if ours and previous.site == str(state.final) else None


def _login_html(state: BuildState) -> str:
    env = render.make_env(state.templates_dir, None)
    return env.get_template("login.html.j2").render(L=state.labels)


def _shell_settings(state: BuildState) -> dict[str, Any]:
    """What the login page's script needs: labels, the record forms and where sealed records
    go (the intake key's public part). No student data: this page is plaintext."""
    assert state.archive is not None
    intake = access.load_intake(state.archive_root)
    return {
        "labels": {
            **state.labels["protect"],
            "form": state.labels["form"],
            "todo": state.labels["todo"],
            "requirements": state.labels["four_ones"]["requirements"],
        },
        "site_name": state.site_name,
        "school": state.archive.school.name,
        "plain_http": state.settings.plain_http,
        "idle_minutes": state.settings.idle_minutes,
        "forms": form_schema(state.archive.school, state.labels),
        "intake": None
        if intake is None
        else {
            "key": crypto.b64(intake.public_raw),
            "id": intake.fingerprint,
            "url": state.settings.intake_url,
        },
    }


# --- 5. audit -------------------------------------------------------------------------------


def audit_site(state: BuildState, new: Path) -> None:
    """Audit what this build wrote (everything, on a full build) for names, ids, guardians
    and record text; stop on any finding. Files copied unchanged from the previous site were
    audited by the build that wrote them."""
    assert state.archive is not None
    changed = None if state.written is None else state.reread
    profiles = {sid: s.profile for sid, s in state.archive.students.items()}
    hits = audit(new, state.archive_root, files=state.written, students=changed, profiles=profiles)
    if hits:
        shutil.rmtree(new, ignore_errors=True)
        raise YidangError(
            "the audit found readable student data; nothing was published:\n"
            + "\n".join(h.text() for h in hits[:20])
        )


# --- 6. publish -------------------------------------------------------------------------------


def publish(state: BuildState, new: Path) -> None:
    """Put the new site in place in one step: the folder swapped in, or, on a rebuild that
    changed only blobs, its new blobs moved into the site and the login page replaced.
    Remember its blobs for the next build. Every file of a protected site gets the build's
    one timestamp (after the audit, whose reading would change access times)."""
    sealed = state.sealed
    if sealed is not None and state.in_place:  # a rebuild: only blobs, keyrings and the login page
        keep = {f"d/{s.blob}.js" for s in sealed.sealed.values()} | set(state.written or ())
        update_in_place(new, state.final, sorted(state.written or ()), keep)
        protect.stamp(state.final, sealed.stamp_ns)
    else:
        if sealed is not None:
            protect.stamp(new, sealed.stamp_ns)
        swap(new, state.final)
    if sealed is not None:
        Store(state.cache_dir / "site").put("state", sealed)


def _why(exc: BaseException) -> str:
    """An OSError as a person would say it (a full disk is the one a school meets)."""
    cause = exc if isinstance(exc, OSError) else exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
        return labels.error("commands", "disk_full", where=cause.filename or "…")
    return str(exc)


def quiet_mkdocs_logging(verbose: bool) -> None:
    """MkDocs logs every page at INFO; show warnings unless asked for more."""
    logger = logging.getLogger("mkdocs")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-7s -  %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
