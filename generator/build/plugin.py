"""The MkDocs plugin: feeds the archive's pages to MkDocs.

Only hooks live here; the work is in ``archive`` (read and validate),
``pages`` and ``render`` (pages). ``mkdocs build``, ``mkdocs serve`` and
``yidang build`` all go through this plugin on the root ``mkdocs.yml``.

MkDocs sees each page as a title stub: our pages are HTML already, so the
real body replaces a marker only when MkDocs writes the page.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc

from generator.archive import model
from generator.archive.model import Archive
from generator.archive.provenance import History, history, provenance_key
from generator.archive.read import context_key, parse_as_of, read_archive
from generator.booklets.booklet import (
    Booklets,
    Fonts,
    describe_failure,
    load_digests,
    ready_fonts,
    save_digests,
)
from generator.build.publish import build_lock, swap
from generator.core.cache import Store, StudentCache, digest, tree_digest, version
from generator.core.problems import Problem, YidangError
from generator.protect import access
from generator.protect import seal as protect
from generator.protect.audit import audit
from generator.render import templates as render
from generator.site.index_pages import IndexPages, base_key
from generator.site.students import StudentPage, StudentPages

log = logging.getLogger("mkdocs.plugins.yidang")
CSS_URI = "assets/yidang.css"
BODY_MARKER = "<!-- yidang:page-body -->"


def _cache_root(config: MkDocsConfig) -> Path:
    """The build cache, next to mkdocs.yml (git-ignored; as confidential as the archive)."""
    return Path(config.config_file_path or ".").parent / ".cache" / "yidang"


class YidangConfig(Config):
    archive = c.Type(str, default="archives")
    """The archive folder, relative to mkdocs.yml."""
    language = c.Type(str, default="zh")
    """Labels file to use: site_templates/labels/<language>.yml."""
    templates = c.Optional(c.Type(str))
    """Another site_templates folder (default: the one shipped with yidang)."""
    as_of = c.Optional(c.Type(str))
    """The day "current" refers to, YYYY-MM-DD (default: today)."""
    booklets = c.Type(bool, default=True)
    """Build each student's PDF booklet into the site (booklets/<id>.pdf)."""
    booklet_font = c.Type(str, default="Noto Serif CJK SC")
    """Body font of the booklets: an installed font with Chinese glyphs."""
    booklet_heading_font = c.Type(str, default="Noto Sans CJK SC")
    """Heading and form font of the booklets."""
    protect = c.Type(bool, default=True)
    """Publish the encrypted site (login page and blobs). Off only for local checks."""
    rotate_keys = c.Type(bool, default=False)
    """New content keys for everything (`yidang build --rotate-keys`): keys from before open nothing."""
    idle_minutes = c.Type(int, default=30)
    """Log readers out after this many minutes without activity."""
    banner = c.Type(str, default="unprotected_build")
    """Label key of the banner on every page (`serve` always shows the preview one)."""


PLAIN_PREFIX = "yidang-plain-"


def private_plain_dir() -> str:
    """A new mode-0700 temporary folder for MkDocs' plaintext output (a protected build's
    pages before sealing, the serve preview), named with this process's id. Folders of
    commands that died without removing theirs are removed first."""
    remove_dead_plaintext()
    return tempfile.mkdtemp(prefix=f"{PLAIN_PREFIX}{os.getpid()}-")


def remove_dead_plaintext() -> None:
    """Remove the plaintext folders of commands that were killed outright (kill -9, a
    power cut): plaintext pages must not outlive the command that wrote them. Every build
    does this, protected or not."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        pid = name.removeprefix(PLAIN_PREFIX).split("-", 1)[0]
        if not name.startswith(PLAIN_PREFIX) or not pid.isdigit() or _alive(int(pid)):
            continue
        path = os.path.join(base, name)
        with contextlib.suppress(OSError):
            st = os.lstat(path)  # not a symlink someone planted: our own folders only
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class YidangPlugin(BasePlugin[YidangConfig]):
    def __init__(self) -> None:
        self.archive: Archive | None = None
        self.site: render.Site | None = None
        self.serving = False
        self.problems: list[Problem] = []  # of the last read, for the CLI to print
        self.booklet_failures: list[str] = []
        self.failure: str | None = None  # why the last build stopped, for the CLI
        self.student_pages: dict[str, StudentPage] = {}
        self.rendered: dict[str, render.Rendered] = {}
        self.titles: dict[str, str] = {}
        self.files: list[tuple[str, Path, str]] = []  # (route, source, kind) of photos and booklets
        self.publish_dir: Path | None = None  # set while protecting: MkDocs writes to a temp dir
        self.labels: dict[str, Any] = {}
        self._plain_dir: str | None = None
        self._archive_root = Path(".")
        self._site_name = ""
        self.student_cache: StudentCache | None = None
        self._reread: set[str] = set()  # students read again (not from the cache) this build
        self._cache_dir = Path(".cache/yidang")
        self.report: dict[str, Any] = {}  # what was rebuilt and what reused, for the CLI
        self._pinyin_known = 0
        self._lock = contextlib.ExitStack()  # the site's build lock, from on_config to the end
        self.published_at: Path | None = None  # where `yidang build` will move the site in the end
        self.shell_from_cache = False  # `yidang build` ran the hooks itself, with the cached shell
        self.progress: Callable[[], None] | None = None  # set by `build_site`: one tick per student

    # --- helpers --------------------------------------------------------------

    def _path(self, config: MkDocsConfig, value: str) -> Path:
        return (Path(config.config_file_path or ".").parent / value).resolve()

    @property
    def templates_dir(self) -> Path:
        return Path(self.config.templates) if self.config.templates else render.TEMPLATES_DIR

    def _as_of(self) -> dt.date | None:
        try:
            return parse_as_of(self.config.as_of)
        except YidangError as exc:
            raise PluginError(f"yidang: {exc}") from None

    # --- hooks ----------------------------------------------------------------

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """``mkdocs serve`` is always a local, unprotected preview: say so on every page."""
        self.serving = command == "serve"
        if self.published_at is None:  # `mkdocs build` itself: MkDocs makes the shell
            self.shell_from_cache = False

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        self.failure = None
        root = self._path(config, self.config.archive)
        self._archive_root = root
        self._site_name = config.site_name
        labels = render.load_labels(self.templates_dir, self.config.language)
        cache = self._cache_dir = _cache_root(config)
        self.report = {}
        hist = history(root, Store(cache / "provenance"))  # once, here: the workers inherit it
        changes = hist.changes if hist is not None else None
        booklets = self._booklets(root, labels, cache, changes) if self.config.booklets else None
        maker = partial(
            StudentPages,
            root=root,
            labels=labels,
            templates_dir=self.templates_dir,
            dir_urls=config.use_directory_urls,
            photo_cache=cache / "photos",
            booklets=booklets,
            provenance=changes,
        )
        self.student_cache = self._student_cache(cache, config, hist)
        known = Store(cache / "pages").get("pinyin")
        model.PINYIN.update(known if isinstance(known, dict) else {})
        self._pinyin_known = len(model.PINYIN)
        try:
            result = read_archive(
                root,
                as_of=self._as_of(),
                hook_factory=maker,
                cache=self.student_cache,
                progress=self.progress,
            )
        except YidangError as exc:
            raise PluginError(f"yidang: {exc}") from None
        self._reread = {sid for sid in result.outputs if sid not in self.student_cache.reused}
        self.report["students"] = (self.student_cache.misses, self.student_cache.hits)
        log.info(
            "students: %d read, %d reused from the cache", self.student_cache.misses, self.student_cache.hits
        )
        self.problems = result.problems
        for p in result.problems:
            if p.severity == "warning":
                log.info("%s", p.text())
        if result.archive is None:
            errors = [p.text() for p in result.problems if p.severity == "error"]
            raise PluginError(
                f"yidang: the archive has {len(errors)} error(s); run `yidang check` for all:\n"
                + "\n".join(errors[:20])
            )
        self.archive = result.archive
        self.student_pages = result.outputs
        if booklets is not None:
            self._booklet_results(cache / "booklets")
        self.site = render.Site(self.archive, labels, dir_urls=config.use_directory_urls)
        config.nav = render.nav(labels)
        config.theme.dirs.insert(0, str(self.templates_dir / "overrides"))
        config.extra_css.append(CSS_URI)
        banner = "unprotected_preview" if self.serving else self.config.banner
        config.extra["yidang_banner"] = labels["site"].get(banner, "")
        self.labels = labels
        self.publish_dir = None
        if self.config.protect and not self.serving:
            # Plaintext goes only to a private temporary folder (mode 0700), removed after.
            self.publish_dir = Path(config.site_dir)
            self._lock.close()
            self._lock.enter_context(build_lock((self.published_at or self.publish_dir).resolve()))
            config.site_dir = self._plain_dir = private_plain_dir()
            config.extra["yidang_banner"] = ""
        else:
            remove_dead_plaintext()
        return config

    # --- the shell: MkDocs' own output, kept so a rebuild can skip MkDocs -----------

    def _labels_bytes(self) -> bytes:
        return (self.templates_dir / "labels" / f"{self.config.language}.yml").read_bytes()

    def _shell_store(self, config: MkDocsConfig) -> Store:
        return Store(_cache_root(config) / "shell")

    def shell_key(self, config: MkDocsConfig) -> str:
        """What MkDocs' output for the protected site (the home page the login shell is
        made from, Material's assets) depends on: none of it comes from the archive."""
        from importlib.metadata import version as dist_version

        t = self.templates_dir
        return digest(
            version(),
            Path(config.config_file_path or "").read_bytes(),
            self._labels_bytes(),
            tree_digest(t / "overrides"),
            tree_digest(t / "static"),
            dist_version("mkdocs"),
            dist_version("mkdocs-material"),
        )

    def cached_shell(self, config: MkDocsConfig) -> dict[str, bytes] | None:
        """The last build's shell files (relative path → bytes) if still valid. An entry of
        the tagged build cache: these files are published, so they are never taken from
        a folder anyone could have written to."""
        hit = self._shell_store(config).get("shell")
        if isinstance(hit, tuple) and len(hit) == 2 and hit[0] == self.shell_key(config):
            return hit[1]  # type: ignore[no-any-return]
        return None

    def _keep_shell(self, plain: Path, config: MkDocsConfig) -> None:
        files = {
            p.relative_to(plain).as_posix(): p.read_bytes()
            for p in [plain / "index.html", *(plain / "assets").rglob("*")]
            if p.is_file()
        }
        self._shell_store(config).put("shell", (self.shell_key(config), files))

    def _student_cache(self, cache: Path, config: MkDocsConfig, hist: History | None) -> StudentCache:
        """What a student's cached page and booklet depend on besides the student's files."""
        t = self.templates_dir
        parts = [
            version(),
            tree_digest(t / "pages"),
            self._labels_bytes(),
            f"{config.use_directory_urls}|{self.config.booklets}",
        ]
        if self.config.booklets:
            parts += [
                tree_digest(t / "booklet"),
                f"{self.config.booklet_font}|{self.config.booklet_heading_font}",
            ]
        return StudentCache(
            Store(cache / "students"),
            digest(*parts),
            extra=provenance_key(hist),
            usable=lambda res: res.output is None or res.output.usable(),
        )

    def _booklets(self, root: Path, labels: dict[str, Any], cache: Path, changes: Any) -> Any:
        """The per-student booklet maker (run in the workers), after checking the fonts."""
        fonts = Fonts(self.config.booklet_font, self.config.booklet_heading_font)
        try:
            font_dir = ready_fonts(fonts, cache / "fonts")
        except YidangError as exc:
            raise PluginError(f"yidang: {exc}") from None
        previous = load_digests(cache / "booklets")
        return partial(
            Booklets,
            root=root,
            labels=labels,
            templates_dir=self.templates_dir,
            out_dir=cache / "booklets",
            fonts=fonts,
            photo_cache=cache / "photos",
            previous=previous,
            provenance=changes,
            font_dir=font_dir,
        )

    def _booklet_results(self, out_dir: Path) -> None:
        """Remember what changed; a booklet that failed fails the build, naming why."""
        reused = self.student_cache.reused if self.student_cache else set()
        made = [
            p.booklet for sid, p in self.student_pages.items() if p.booklet is not None and sid not in reused
        ]
        digests = load_digests(out_dir)
        digests.update({b.student: b.digest for b in made if b.status != "failed"})
        save_digests(out_dir, digests)
        self.booklet_failures = [describe_failure(b) for b in made if b.status == "failed"]
        if self.booklet_failures:
            raise PluginError("yidang: booklets failed:\n" + "\n".join(self.booklet_failures))
        rendered = sum(1 for b in made if b.status == "rendered")
        self.report["booklets"] = (rendered, len(self.student_pages) - rendered)
        log.info("booklets: %d rendered, %d unchanged", rendered, len(self.student_pages) - rendered)

    def on_env(self, env: jinja2.Environment, *, config: MkDocsConfig, files: Files) -> jinja2.Environment:
        """Keep MkDocs' and Material's compiled templates between builds too."""
        if env.bytecode_cache is None:
            env.bytecode_cache = render.bytecode_cache()
        return env

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        assert self.site is not None and self.archive is not None
        css = (self.templates_dir / "static" / "yidang.css").read_text(encoding="utf-8")
        files.append(File.generated(config, CSS_URI, content=css))
        env = render.make_env(self.templates_dir, self.site)
        self.site.periods = render.LazyPeriods(self.student_pages)
        index_specs, index = render.index_specs(self.site), self._index_pages(config)
        made = index.pages(index_specs, lambda spec: render.render_page(self.site, env, spec))
        specs = list(zip(index_specs, made, strict=True))
        self.report["index"] = (index.rendered, index.reused)
        if len(model.PINYIN) != self._pinyin_known:
            Store(self._cache_dir / "pages").put("pinyin", dict(model.PINYIN))
        self.files = []
        for student in self.archive.students.values():
            made = self.student_pages[student.id]
            specs.append((render.student_spec(student), made.page))
            self.files += [(uri, cached, "image") for uri, cached in made.photos]
            if made.booklet is not None:
                self.files.append((f"booklets/{student.id}.pdf", made.booklet.path, "pdf"))
        if self.publish_dir is None:  # plaintext site: MkDocs copies the files
            for uri, source, _ in dict.fromkeys(self.files):
                files.append(File.generated(config, uri, abs_src_path=str(source)))
        self.rendered, self.titles = {}, {}
        for spec, page in specs:
            self.rendered[spec.uri] = page
            self.titles[spec.uri] = spec.title
            if self.publish_dir is not None and spec.uri not in render.NAV_PAGES:
                continue  # protecting: MkDocs makes only the shell (home page and nav)
            existing = files.get_file_from_path(spec.uri)
            if existing is not None:
                files.remove(existing)
            files.append(File.generated(config, spec.uri, content=render.stub(spec)))
        self.student_pages = {}
        return files

    def _index_pages(self, config: MkDocsConfig) -> IndexPages:
        assert self.archive is not None
        t = self.templates_dir
        context = (
            f"{context_key(self._archive_root, self.archive.as_of)}|{config.use_directory_urls}|"
            f"{self.config.booklets}"
        )
        base = base_key(t, self._labels_bytes(), context)
        made = self.student_pages.items()
        return IndexPages(
            Store(self._cache_dir / "pages"),
            base,
            {sid: m.profile_digest for sid, m in made},
            {sid: m.summary_digest for sid, m in made},
        )

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Our pages are HTML already: give MkDocs their TOC and a marker for the body."""
        rendered = self.rendered.get(page.file.src_uri)
        if rendered is None:
            return html
        page.toc = get_toc(rendered.toc)  # type: ignore[arg-type]
        return BODY_MARKER

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str:
        """Put the body in at the last moment: only one page is ever held uncompressed."""
        if self.publish_dir is not None:
            return output  # protecting: bodies go only into encrypted blobs, never to disk
        rendered = self.rendered.pop(page.file.src_uri, None)
        if rendered is None:
            return output
        return output.replace(BODY_MARKER, rendered.html, 1)

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        try:
            self._post_build(config)
        finally:
            gc.unfreeze()  # the cache entries frozen when loaded (see StudentCache.lookup_all)

    def _post_build(self, config: MkDocsConfig) -> None:
        """Protecting: publish the login page and blobs, then remove the plaintext."""
        if self.publish_dir is None:
            return
        plain = Path(config.site_dir)
        try:
            if self.shell_from_cache:
                self.report["shell"] = "reused"
            else:
                self._keep_shell(plain, config)
            self._publish(plain, self.publish_dir)
        except YidangError as exc:
            self.failure = str(exc)
            raise PluginError(f"yidang: {exc}") from None
        finally:
            shutil.rmtree(plain, ignore_errors=True)
            config.site_dir = str(self.publish_dir)
            self._lock.close()

    def on_build_error(self, *, error: Exception) -> None:
        gc.unfreeze()  # a long `serve` keeps building: nothing stays out of the collector's sight
        self.remove_plaintext()
        self._lock.close()

    def remove_plaintext(self) -> None:
        """Remove MkDocs' plaintext output of a protected build (again: harmless). MkDocs
        calls on_build_error for exceptions only; build_site also calls this when a
        build is interrupted (Ctrl-C, SIGTERM)."""
        if self.publish_dir is not None and self._plain_dir is not None:
            shutil.rmtree(self._plain_dir, ignore_errors=True)

    def _publish(self, plain: Path, final: Path) -> None:
        assert self.archive is not None
        accounts = protect.ensure_accounts(self._archive_root, self.archive)
        out = final.parent / f".{final.name}.protect-{os.getpid()}"
        shutil.rmtree(out, ignore_errors=True)
        try:
            self._publish_into(out, final, plain, accounts)
        except BaseException:
            shutil.rmtree(out, ignore_errors=True)  # a full disk, a kill: nothing half-made stays
            raise

    def _publish_into(self, out: Path, final: Path, plain: Path, accounts: list[access.Account]) -> None:
        assert self.archive is not None
        store = Store(self._cache_dir / "site")
        previous = store.get("state")
        live = (self.published_at or final).resolve()  # where the previous build's blobs are
        if not (
            isinstance(previous, protect.SiteState)
            and previous.format == protect.FORMAT
            and previous.site == str(live)
        ):
            previous = None
        rights = {a.teacher: access.rights(self.archive, a.teacher) for a in accounts}
        fingerprints = {a.teacher: a.fingerprint for a in accounts}
        publisher = protect.Publisher(out, rights, previous, fingerprints, self.config.rotate_keys)
        for uri, page in self.rendered.items():
            publisher.add_page(uri.removesuffix("index.md"), self.titles[uri], page.html_z, page.restricted)
        for route, source, kind in dict.fromkeys(self.files):
            publisher.add_file(protect.Item(route, kind), Path(source))
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.templates_dir / "protect"), autoescape=True
        )
        login = env.get_template("login.html.j2").render(L=self.labels)
        settings = {
            "labels": self.labels["protect"],
            "site_name": self._site_name,
            "idle_minutes": self.config.idle_minutes,
        }
        written = protect.write_site(out, publisher, accounts, plain, login, settings)
        self._audit(out, None if previous is None else set(written))
        swap(out, final)
        store.put("state", publisher.state(live))
        self.report["blobs"] = (len(publisher.sealed) - publisher.reused, publisher.reused)
        self.report["rotated"] = len(publisher.rotated)
        sealed = len(publisher.sealed) - publisher.reused
        log.info(
            "encrypted files: %d sealed, %d reused; %d scope keys rotated",
            sealed,
            publisher.reused,
            len(publisher.rotated),
        )

    def _audit(self, out: Path, written: set[str] | None) -> None:
        """Audit what this build wrote (``None``: everything, on a full build); stop on any
        finding. Files linked from the previous site were audited by the build that wrote them."""
        changed = None if written is None else self._reread
        assert self.archive is not None
        profiles = {sid: s.profile for sid, s in self.archive.students.items()}
        hits = audit(out, self._archive_root, files=written, students=changed, profiles=profiles)
        if hits:
            shutil.rmtree(out, ignore_errors=True)
            raise YidangError(
                "the audit found readable student data; nothing was published:\n"
                + "\n".join(h.text() for h in hits[:20])
            )

    def on_serve(self, server: Any, config: MkDocsConfig, builder: Any) -> Any:
        server.watch(str(self._path(config, self.config.archive)))
        server.watch(str(self.templates_dir))
        return server
