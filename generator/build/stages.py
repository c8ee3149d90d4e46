"""Build and publish: run MkDocs into a temporary folder, then swap it in.

A failed build (bad archive, template error) leaves the previous site exactly
as it was: the new site is written next to it and renamed into place only
when everything succeeded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.config import load_config
from mkdocs.exceptions import MkDocsException
from mkdocs.structure.files import Files

from generator.archive.read import ReadResult, parse_as_of, read_archive
from generator.build.publish import build_lock, remove_leftovers, swap
from generator.core.problems import ArchiveInvalid, UsageError, YidangError, counts

PLUGIN = "yidang"


@dataclass(frozen=True)
class Built:
    site_dir: Path
    pages: int
    students: int
    protected: bool
    report: dict[str, Any] = field(default_factory=dict)  # rebuilt and reused, per stage


def load_mkdocs_config(  # type: ignore[no-untyped-def]
    config_file: Path,
    site_dir: Path | None = None,
    archive: Path | None = None,
    booklets: bool | None = None,
    protect: bool | None = None,
    rotate_keys: bool = False,
):
    """Load mkdocs.yml; ``archive``, ``booklets``, ``protect`` and ``rotate_keys`` override the
    plugin's settings."""
    if not config_file.is_file():
        raise UsageError(f"config file not found: {config_file}")
    try:
        cfg = load_config(str(config_file), site_dir=str(site_dir) if site_dir else None)
    except MkDocsException as exc:
        raise YidangError(f"{config_file}: {exc}") from None
    if PLUGIN not in cfg.plugins:
        raise YidangError(f"{config_file} does not enable the '{PLUGIN}' plugin (plugins: - yidang)")
    if archive is not None:
        cfg.plugins[PLUGIN].config["archive"] = str(archive.resolve())
    if booklets is not None:
        cfg.plugins[PLUGIN].config["booklets"] = booklets
    if protect is not None:
        cfg.plugins[PLUGIN].config["protect"] = protect
    if rotate_keys:
        cfg.plugins[PLUGIN].config["rotate_keys"] = True
    return cfg


def archive_root(cfg) -> Path:  # type: ignore[no-untyped-def]
    """The archive folder the plugin will read, resolved against mkdocs.yml."""
    return (Path(cfg.config_file_path).parent / cfg.plugins[PLUGIN].config["archive"]).resolve()


def plugin_as_of(cfg) -> dt.date | None:  # type: ignore[no-untyped-def]
    return parse_as_of(cfg.plugins[PLUGIN].config.get("as_of"))


def read_for_build(config_file: Path, archive: Path | None = None) -> ReadResult:
    """Check the archive the plugin would read (same folder, same as_of), problems only."""
    cfg = load_mkdocs_config(config_file, archive=archive)
    return read_archive(archive_root(cfg), as_of=plugin_as_of(cfg), keep=False)


def build_site(
    config_file: Path,
    site_dir: Path | None = None,
    archive: Path | None = None,
    booklets: bool | None = None,
    protect: bool | None = None,
    progress: Callable[[int], AbstractContextManager[Callable[[], None]]] | None = None,
    rotate_keys: bool = False,
) -> Built:
    """Build the site and publish it atomically at ``site_dir``.

    ``progress``, given the number of students, opens a progress display and
    returns the function to call once per student read (from the cache or not).

    Raises :class:`ArchiveInvalid` with every problem when the archive has
    errors, :class:`YidangError` for any other failure; either way the
    previous site is left as it was.
    """
    cfg = load_mkdocs_config(
        config_file,
        site_dir=site_dir,
        archive=archive,
        booklets=booklets,
        protect=protect,
        rotate_keys=rotate_keys,
    )
    final = Path(cfg.site_dir).resolve()
    students = archive_root(cfg) / "students"
    total = sum(1 for e in os.scandir(students) if e.is_dir()) if students.is_dir() else 0
    with build_lock(final), progress(total) if progress else contextlib.nullcontext() as tick:
        cfg.plugins[PLUGIN].progress = tick
        remove_leftovers(final)
        return _build_locked(cfg, final)


def _build_locked(cfg, final: Path) -> Built:  # type: ignore[no-untyped-def]
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    cfg["site_dir"] = str(tmp)  # MkDocs writes next to the site; the swap publishes it
    plugin = cfg.plugins[PLUGIN]
    plugin.published_at = final
    try:
        alone = list(cfg.plugins) == [PLUGIN]  # other plugins may need MkDocs' whole run
        shell = plugin.cached_shell(cfg) if plugin.config.protect and alone else None
        plugin.shell_from_cache = shell is not None  # MkDocs reuses plugin objects within a process
        if shell is None:
            mkdocs_build(cfg)
        else:
            _build_with_shell(cfg, plugin, shell)
        swap(tmp, final)
    except (MkDocsException, OSError) as exc:
        plugin.remove_plaintext()
        shutil.rmtree(tmp, ignore_errors=True)
        if any(p.severity == "error" for p in plugin.problems):
            raise ArchiveInvalid(
                plugin.problems,
                f"{counts(plugin.problems)[0]} error(s) in the archive; the previous site is unchanged",
            ) from None
        if plugin.failure:
            raise YidangError(f"{plugin.failure}\nthe previous site is unchanged") from None
        if plugin.booklet_failures:
            raise YidangError(
                "\n".join([*plugin.booklet_failures, "booklets failed; the previous site is unchanged"])
            ) from None
        raise YidangError(f"build failed, the previous site is unchanged: {_why(exc)}") from None
    except BaseException:  # Ctrl-C, SIGTERM: they never reach MkDocs' on_build_error
        plugin.remove_plaintext()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    students = len(plugin.archive.students) if plugin.archive else 0
    return Built(final, len(plugin.titles), students, plugin.config.protect, plugin.report)


def _build_with_shell(cfg, plugin, shell: dict[str, bytes]) -> None:  # type: ignore[no-untyped-def]
    """A protected build without MkDocs: its only output the site uses — the home page
    the login shell is made from, and Material's assets — does not depend on the
    archive, so the last build's is used (it saves half a second of a rebuild).
    The plugin's hooks run in MkDocs' order."""
    hooks = cfg.plugins  # MkDocs' own dispatcher: hooks run as in `mkdocs build`
    hooks.on_startup(command="build", dirty=False)
    try:
        cfg = hooks.on_config(cfg)
        hooks.on_files(Files([]), config=cfg)
        plain = Path(cfg.site_dir)  # the plugin's private temporary folder
        for rel, data in shell.items():
            (plain / rel).parent.mkdir(parents=True, exist_ok=True)
            (plain / rel).write_bytes(data)
        hooks.on_post_build(config=cfg)
    except Exception as exc:
        hooks.on_build_error(error=exc)
        raise


def _why(exc: BaseException) -> str:
    """An OSError as a person would say it (a full disk is the one a school meets)."""
    cause = exc if isinstance(exc, OSError) else exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) and cause.errno == errno.ENOSPC:
        return f"the disk is full ({cause.filename or 'while writing'}); free some space and build again"
    return str(exc)


def quiet_mkdocs_logging(verbose: bool) -> None:
    """MkDocs logs every page at INFO; show warnings unless asked for more."""
    logger = logging.getLogger("mkdocs")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)-7s -  %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)
