"""What one build knows, handed from stage to stage, and its private plaintext folder.

A ``BuildState`` is made once per build (``BuildState.of``) from mkdocs.yml and
the plugin's settings; each stage of ``stages.run_build`` reads what the stages
before it left and adds its own part. Nothing else keeps build state: the
MkDocs plugin holds only a reference to the current one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig

from generator.archive.model import Archive
from generator.build import settings as cfg_settings
from generator.build.settings import YidangConfig
from generator.core.files import process_alive
from generator.core.problems import Problem
from generator.render import templates as render
from generator.site.pages import Rendered
from generator.site.students import StudentPage

PLAIN_PREFIX = "yidang-plain-"


@dataclass
class BuildState:
    """One build: its inputs (first block) and what each stage made (second block)."""

    settings: YidangConfig
    site_name: str
    dir_urls: bool
    archive_root: Path
    templates_dir: Path
    labels: dict[str, Any]
    cache_dir: Path
    final: Path  # where the site is published
    protect: bool
    as_of: dt.date | None
    config_file: Path
    driver: str = "yidang"  # who runs the stages: yidang (run_build), mkdocs (build) or serve
    progress: Callable[[], None] | None = None  # one tick per student read

    problems: list[Problem] = field(default_factory=list)  # of the read, for the CLI to print
    archive: Archive | None = None
    students: dict[str, StudentPage] = field(default_factory=dict)  # id → page, photos, booklet
    reread: set[str] = field(default_factory=set)  # students read again, not from the cache
    site: render.Site | None = None
    pages: dict[str, Rendered] = field(default_factory=dict)  # MkDocs uri → page
    titles: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, Path, str]] = field(default_factory=list)  # (route, source, kind)
    todo: dict[str, bytes] = field(default_factory=dict)  # route → a to-do list (JSON), per scope
    waiting: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # on review branches
    plain: Path | None = None  # MkDocs' private plaintext output folder (protected builds)
    written: set[str] | None = None  # site files the seal wrote (None: all, a full build)
    in_place: bool = False  # the seal wrote only new blobs, keyrings and the login page
    sealed: Any = None  # the seal's protect.SiteState, kept for the next build once published
    pinyin_known: int = 0  # names with a sort key when the build started
    report: dict[str, Any] = field(default_factory=dict)  # rebuilt and reused, per stage
    locks: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @classmethod
    def of(cls, config: MkDocsConfig, final: Path, driver: str) -> BuildState:
        settings = cfg_settings.plugin_settings(config)
        templates = cfg_settings.templates_dir(settings)
        return cls(
            settings=settings,
            site_name=config.site_name,
            dir_urls=config.use_directory_urls,
            archive_root=cfg_settings.archive_root(config),
            templates_dir=templates,
            labels=render.load_labels(templates, settings.language),
            cache_dir=cfg_settings.cache_root(config),
            final=final.resolve(),
            protect=settings.protect and driver != "serve",
            as_of=cfg_settings.as_of(config),
            config_file=Path(config.config_file_path or "mkdocs.yml"),
            driver=driver,
        )

    @property
    def labels_bytes(self) -> bytes:
        return (self.templates_dir / "labels" / f"{self.settings.language}.yml").read_bytes()

    def remove_plaintext(self) -> None:
        """Remove MkDocs' plaintext output of a protected build (again: harmless)."""
        if self.plain is not None:
            shutil.rmtree(self.plain, ignore_errors=True)


def private_plain_dir() -> Path:
    """A new mode-0700 temporary folder for MkDocs' plaintext output (a protected build's
    pages before sealing, the serve preview), named with this process's id. Folders of
    commands that died without removing theirs are removed first."""
    remove_dead_plaintext()
    return Path(tempfile.mkdtemp(prefix=f"{PLAIN_PREFIX}{os.getpid()}-"))


def remove_dead_plaintext() -> None:
    """Remove the plaintext folders of commands that were killed outright (kill -9, a
    power cut): plaintext pages must not outlive the command that wrote them. Every build
    does this, protected or not."""
    base = tempfile.gettempdir()
    for name in os.listdir(base):
        pid = name.removeprefix(PLAIN_PREFIX).split("-", 1)[0]
        if not name.startswith(PLAIN_PREFIX) or not pid.isdigit() or process_alive(int(pid)):
            continue
        path = os.path.join(base, name)
        with contextlib.suppress(OSError):
            st = os.lstat(path)  # not a symlink someone planted: our own folders only
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid():
                shutil.rmtree(path, ignore_errors=True)
