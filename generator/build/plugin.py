"""The MkDocs plugin: only hooks, each running a stage of ``stages.py`` or telling MkDocs
what the stages made.

``yidang build`` runs the stages itself (``stages.run_build``) and lets MkDocs in
only to make the login shell (or, unprotected, every page): the plugin then
finds the build's ``BuildState`` already bound and only feeds MkDocs.
``mkdocs build`` and ``mkdocs serve`` drive the same stages from here.

MkDocs sees each page as a title stub: our pages are HTML already, so the real
body replaces a marker only when MkDocs writes a plaintext page.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import jinja2
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc

from generator.build import stages
from generator.build.publish import build_lock
from generator.build.settings import YidangConfig
from generator.build.state import BuildState, private_plain_dir, remove_dead_plaintext
from generator.core.problems import ArchiveInvalid, YidangError
from generator.render import templates as render
from generator.site import pages as site_pages

CSS_URI = "assets/yidang.css"
BODY_MARKER = "<!-- yidang:page-body -->"


class YidangPlugin(BasePlugin[YidangConfig]):
    def __init__(self) -> None:
        self.state: BuildState | None = None  # the build in progress (bound by run_build, or made here)
        self.command = "build"

    def on_startup(self, *, command: str, dirty: bool) -> None:
        self.command = command

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        """Stage 1 when MkDocs drives the build; then MkDocs' settings for our pages."""
        if self.state is None or self.state.driver != "yidang":
            self.state = _run(self._start, config)
        _configure(config, self.state)
        return config

    def _start(self, config: MkDocsConfig) -> BuildState:
        state = BuildState.of(config, Path(config.site_dir), "serve" if self.command == "serve" else "mkdocs")
        if state.protect:
            state.locks.enter_context(build_lock(state.final))
        stages.read_students(state)
        return state

    def on_env(self, env: jinja2.Environment, *, config: MkDocsConfig, files: Files) -> jinja2.Environment:
        """Keep MkDocs' and Material's compiled templates between builds too."""
        if env.bytecode_cache is None:
            env.bytecode_cache = render.bytecode_cache()
        return env

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        """Stage 2 when MkDocs drives the build; then the pages MkDocs should write."""
        state = self._state()
        if state.driver != "yidang":
            _run(stages.render_index_pages, state)
        return _files(files, config, state)

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Our pages are HTML already: give MkDocs their TOC and a marker for the body."""
        rendered = self._state().pages.get(page.file.src_uri)
        if rendered is None:
            return html
        page.toc = get_toc(rendered.toc)  # type: ignore[arg-type]  # MkDocs: a TypedDict our tokens match
        return BODY_MARKER

    def on_post_page(self, output: str, *, page: Page, config: MkDocsConfig) -> str:
        """Put the body in at the last moment; a protected build's bodies never reach disk."""
        state = self._state()
        rendered = None if state.protect else state.pages.get(page.file.src_uri)
        return output if rendered is None else output.replace(BODY_MARKER, rendered.html, 1)

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Stages 4-6 when MkDocs drives a protected build: seal, audit, publish."""
        state = self._state()
        if state.driver == "mkdocs" and state.protect:
            _run(_seal_and_publish, state)
            config.site_dir = str(state.final)
        elif state.driver != "yidang":
            gc.unfreeze()

    def on_build_error(self, *, error: Exception) -> None:
        if self.state is not None and self.state.driver != "yidang":
            self.state.remove_plaintext()
            self.state.locks.close()
            gc.unfreeze()  # a long `serve` keeps building: nothing stays out of the collector's sight

    def on_serve(self, server: Any, config: MkDocsConfig, builder: Any) -> Any:
        state = self._state()
        server.watch(str(state.archive_root))
        server.watch(str(state.templates_dir))
        return server

    def _state(self) -> BuildState:
        assert self.state is not None, "the yidang plugin's on_config has not run"
        return self.state


def _run(stage: Any, *args: Any) -> Any:
    """A stage, with its errors as MkDocs reports a plugin's."""
    try:
        return stage(*args)
    except ArchiveInvalid as exc:
        errors = [p.text() for p in exc.problems if p.severity == "error"]
        raise PluginError(
            f"yidang: the archive has {len(errors)} error(s); run `yidang check` for all:\n"
            + "\n".join(errors[:20])
        ) from None
    except YidangError as exc:
        raise PluginError(f"yidang: {exc}") from None


def _seal_and_publish(state: BuildState) -> None:
    with stages.cleaning_up(state):
        new = stages.seal(state, stages.keep_shell(state))
        stages.audit_site(state, new)
        stages.publish(state, new)


def _configure(config: MkDocsConfig, state: BuildState) -> None:
    """Navigation (index pages only: a student never appears in it), theme, CSS, banner;
    a protected build's MkDocs output goes to a private folder, never to the site."""
    config.nav = site_pages.nav(state.labels)
    config.theme.dirs.insert(0, str(state.templates_dir / "overrides"))
    config.extra_css.append(CSS_URI)
    banner = "unprotected_preview" if state.driver == "serve" else state.settings.banner
    config.extra["yidang_banner"] = "" if state.protect else state.labels["site"].get(banner, "")
    if state.protect and state.driver == "mkdocs":
        state.plain = private_plain_dir()
        config.site_dir = str(state.plain)
    elif not state.protect:
        remove_dead_plaintext()


def _files(files: Files, config: MkDocsConfig, state: BuildState) -> Files:
    """Our CSS and a title stub per page (protected: only the navigation's pages, which the
    shell's menu needs); unprotected, the photos and booklets too."""
    css = (state.templates_dir / "static" / "yidang.css").read_text(encoding="utf-8")
    files.append(File.generated(config, CSS_URI, content=css))
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
