"""The plugin's settings in mkdocs.yml, and loading mkdocs.yml for a build.

``YidangConfig`` is the schema of the ``yidang`` plugin's block (declared as
data, one docstring per field, as MkDocs declares its own); ``load`` reads
mkdocs.yml and lets the command line override some of it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config import load_config
from mkdocs.config.base import Config
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import MkDocsException

from generator.archive.read import parse_as_of
from generator.core import labels
from generator.core.problems import UsageError, YidangError
from generator.render.templates import TEMPLATES_DIR

PLUGIN = "yidang"


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
    intake_url = c.Optional(c.Type(str))
    """Where the record forms PUT sealed files (e.g. /inbox/ on the same server; docs/deploy.md).
    Without it, teachers download or share the sealed file."""
    plain_http = c.Type(bool, default=False)
    """Opt in to reading the site over plain http on a school LAN (no certificate): the pages
    then do their cryptography with the audited @noble libraries instead of WebCrypto, and
    warn, always, that the connection is not encrypted. Prefer https (docs/deploy.md)."""
    idle_minutes = c.Type(int, default=30)
    """Log readers out after this many minutes without activity."""
    banner = c.Type(str, default="unprotected_build")
    """Label key of the banner on every page (`serve` always shows the preview one)."""


def templates_dir(settings: YidangConfig) -> Path:
    return Path(settings.templates) if settings.templates else TEMPLATES_DIR


def config_dir(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path or ".").parent


def archive_root(config: MkDocsConfig) -> Path:
    """The archive folder the plugin reads, resolved against mkdocs.yml."""
    return (config_dir(config) / plugin_settings(config)["archive"]).resolve()


def cache_root(config: MkDocsConfig) -> Path:
    """The build cache, next to mkdocs.yml (git-ignored; as confidential as the archive)."""
    return config_dir(config) / ".cache" / "yidang"


def plugin_settings(config: MkDocsConfig) -> YidangConfig:
    return config.plugins[PLUGIN].config


def as_of(config: MkDocsConfig) -> dt.date | None:
    return parse_as_of(plugin_settings(config).get("as_of"))


def load(config_file: Path, site_dir: Path | None = None, **overrides: Any) -> MkDocsConfig:
    """Load mkdocs.yml; ``overrides`` (archive, booklets, protect, rotate_keys: None means
    "as in the file") replace the plugin's settings."""
    if not config_file.is_file():
        raise UsageError(labels.error("commands", "no_config", path=config_file))
    try:
        cfg = load_config(str(config_file), site_dir=str(site_dir) if site_dir else None)
    except MkDocsException as exc:
        raise YidangError(labels.error("commands", "bad_config", path=config_file, why=exc)) from None
    if PLUGIN not in cfg.plugins:
        raise YidangError(labels.error("commands", "no_plugin", path=config_file))
    settings = plugin_settings(cfg)
    for name, value in overrides.items():
        if value is not None:
            settings[name] = str(value.resolve()) if isinstance(value, Path) else value
    return cfg
