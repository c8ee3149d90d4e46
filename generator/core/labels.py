"""The interface texts: every user-visible Chinese string lives in
``site_templates/labels/<language>.yml``, read here (templates, messages, spreadsheets).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "site_templates"


def load_labels(templates_dir: Path, language: str) -> dict[str, Any]:
    """The interface texts. With libyaml's loader: the pure-Python one took 40–90 ms,
    a few per cent of a rebuild."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(templates_dir / "labels" / f"{language}.yml", encoding="utf-8") as fh:
        return yaml.load(fh, Loader=loader)  # a safe loader, C or Python


def error(section: str, key: str, **values: object) -> str:
    """An error of a command (``section``: rollover, transfer) from the labels file: Chinese for the
    office, then English for whoever supports them."""
    return str(shipped()[section]["errors"][key]).format(**values)


@functools.cache
def shipped(language: str = "zh") -> dict[str, Any]:
    """The shipped labels, for messages of commands that have no mkdocs.yml to choose
    others (check, review, the ledger); read once per process."""
    return load_labels(TEMPLATES_DIR, language)
