"""The interface texts: every user-visible Chinese string lives in
``site_templates/labels/<language>.yml``, read here (templates, messages, spreadsheets).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "site_templates"


def load_labels(templates_dir: Path, language: str) -> dict[str, Any]:
    """The interface texts. With libyaml's loader: the pure-Python one took 40–90 ms,
    a few per cent of a rebuild."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(templates_dir / "labels" / f"{language}.yml", encoding="utf-8") as fh:
        words: dict[str, Any] = yaml.load(fh, Loader=loader)  # a safe loader, C or Python
    for kind, own in KIND_WORDS.items():
        _add_kind(words, kind, own)
    return words


# Words a record kind brings in its declaration (schema.RecordKind.labels), by kind: the
# labels file's own entries win, so a school can reword a declared kind there.
KIND_WORDS: dict[str, dict[str, Any]] = {}


def declare_kind(kind: str, own: dict[str, Any] | None) -> None:
    """Keep a declared kind's words (``name``, ``fields``, ``choices``, ``shown``)."""
    if own:
        KIND_WORDS[kind] = own
    else:
        KIND_WORDS.pop(kind, None)
    shipped.cache_clear()


def _add_kind(words: dict[str, Any], kind: str, own: dict[str, Any]) -> None:
    if "name" in own:
        words.setdefault("types", {}).setdefault(kind, own["name"])
    for section, key in (("type_fields", "fields"), ("type_choices", "choices")):
        if key in own:
            table = words.setdefault(section, {})
            table[kind] = {**own[key], **(table.get(kind) or {})}
    if "shown" in own:
        words.setdefault("record_fields", {}).setdefault(kind, list(own["shown"]))


def error(section: str, key: str, **values: object) -> str:
    """An error of a command (``section``: rollover, transfer) from the labels file: Chinese for the
    office, then English for whoever supports them."""
    return str(shipped()[section]["errors"][key]).format(**values)


@functools.cache
def shipped(language: str = "zh") -> dict[str, Any]:
    """The shipped labels, for messages of commands that have no mkdocs.yml to choose
    others (check, review, the ledger); read once per process."""
    return load_labels(TEMPLATES_DIR, language)


# --- a record's words: per kind, falling back to the shared ones ---------------------


def field_label(words: Mapping[str, Any], key: str, kind: str | None = None) -> str | None:
    """A field's name: the kind's own (``type_fields``), else the shared one (``fields``, then
    ``records`` for date and mode); None when the labels have none (check reports it)."""
    own = (words.get("type_fields") or {}).get(kind or "") or {}
    for table in (own, words.get("fields") or {}, words.get("records") or {}):
        if isinstance(table.get(key), str):
            return str(table[key])
    return None


def choice_label(words: Mapping[str, Any], key: str, value: object, kind: str | None = None) -> str:
    """A choice as shown: the kind's own (``type_choices``), else the field's (``choices``),
    else the value as written (a Chinese choice needs no label)."""
    own = ((words.get("type_choices") or {}).get(kind or "") or {}).get(key) or {}
    shared = (words.get("choices") or {}).get(key) or {}
    return str(own.get(value, shared.get(value, value)))
