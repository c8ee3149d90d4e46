"""The MkDocs plugin: feeds the archive's pages to MkDocs, in memory.

Only hooks live here; the work is in ``archive`` (read and validate) and
``render`` (pages). ``mkdocs build``, ``mkdocs serve`` and ``yidang build``
all go through this plugin on the root ``mkdocs.yml``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files

from . import photos, render
from .archive import ReadResult, parse_as_of, read_archive
from .model import Archive
from .problems import YidangError

log = logging.getLogger("mkdocs.plugins.yidang")
CSS_URI = "assets/yidang.css"


class YidangConfig(Config):
    archive = c.Type(str, default="archives")
    """The archive folder, relative to mkdocs.yml."""
    language = c.Type(str, default="zh")
    """Labels file to use: site_templates/labels/<language>.yml."""
    templates = c.Optional(c.Type(str))
    """Another site_templates folder (default: the one shipped with yidang)."""
    as_of = c.Optional(c.Type(str))
    """The day "current" refers to, YYYY-MM-DD (default: today)."""
    banner = c.Type(str, default="unprotected_build")
    """Label key of the banner on every page (``yidang serve`` sets the preview one)."""


class YidangPlugin(BasePlugin[YidangConfig]):
    def __init__(self) -> None:
        self.archive: Archive | None = None
        self.site: render.Site | None = None
        self.serving = False
        self.preloaded: ReadResult | None = None  # set by `yidang build`, which already read it

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

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        root = self._path(config, self.config.archive)
        try:
            result = self.preloaded or read_archive(root, as_of=self._as_of())
        except YidangError as exc:
            raise PluginError(f"yidang: {exc}") from None
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
        labels = render.load_labels(self.templates_dir, self.config.language)
        self.site = render.Site(self.archive, labels, dir_urls=config.use_directory_urls)
        config.nav = render.nav(labels)
        config.theme.dirs.insert(0, str(self.templates_dir / "overrides"))
        config.extra_css.append(CSS_URI)
        config.extra["yidang_banner"] = labels["site"].get(
            "unprotected_preview" if self.serving else self.config.banner, ""
        )
        return config

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        assert self.site is not None and self.archive is not None
        self._add_photos(files, config)
        css = (self.templates_dir / "static" / "yidang.css").read_text(encoding="utf-8")
        files.append(File.generated(config, CSS_URI, content=css))
        for uri, content in render.pages(self.site, self.templates_dir):
            if files.get_file_from_path(uri) is not None:
                files.remove(files.get_file_from_path(uri))
            files.append(File.generated(config, uri, content=content))
        return files

    def _add_photos(self, files: Files, config: MkDocsConfig) -> None:
        """Copy each record's photos, resized and without EXIF, under a hashed name."""
        assert self.site is not None and self.archive is not None
        root = self._path(config, self.config.archive)
        cache = Path(config.config_file_path or ".").parent / ".cache" / "yidang" / "photos"
        seen: set[str] = set()
        for student in self.archive.students.values():
            for record in student.records:
                for photo in record.meta.photos:
                    key = f"{student.folder}/{photo}"
                    name, data = photos.prepared(root / key, cache)
                    self.site.photo_urls[key] = name
                    uri = f"students/{student.id}/photos/{name}"
                    if uri not in seen:
                        seen.add(uri)
                        files.append(File.generated(config, uri, content=data))

    def on_serve(self, server: Any, config: MkDocsConfig, builder: Any) -> Any:
        server.watch(str(self._path(config, self.config.archive)))
        server.watch(str(self.templates_dir))
        return server
