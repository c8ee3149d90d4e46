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
from typing import Any

import jinja2
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import get_toc

from generator.build import stages
from generator.build.settings import YidangConfig
from generator.build.state import BuildState
from generator.core.problems import ArchiveInvalid, YidangError
from generator.render import templates as render

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
            driver = "serve" if self.command == "serve" else "mkdocs"
            self.state = _run(stages.begin, config, driver)
        stages.configure_mkdocs(config, self.state)
        return config

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
        return stages.mkdocs_files(files, config, state)

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
            _run(stages.seal_and_publish, state)
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
