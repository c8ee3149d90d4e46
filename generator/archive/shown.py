"""What of a record is shown, and how: one answer for the page, the booklet and the review.

A kind's shown fields are the labels' ``record_fields`` list, or else every field the kind
declares beyond the common ones, in order, so a kind added by declaration alone is shown
whole. A value is shown by its field's declaration: a reference by the name of what it
refers to, a choice by its label, dates, lists and yes/no as the site writes them.
"""

from __future__ import annotations

import datetime as dt
import functools
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from generator.archive import schema
from generator.archive.wording import Said, said
from generator.core.labels import TEMPLATES_DIR, choice_label, field_label
from generator.core.problems import Problem

# What the meta line shows (writer, mode, others present); not repeated among the fields.
META = ("type", "date", "by", "mode", "with", "photos", "from_school")


def shown_fields(words: Mapping[str, Any], kind: str) -> list[str]:
    """The keys of ``kind``'s fields shown below its meta line, in order."""
    listed = (words.get("record_fields") or {}).get(kind)
    if isinstance(listed, list):
        return [str(k) for k in listed]
    model = schema.RECORD_TYPES.get(kind)
    if model is None:
        return []
    base = set(schema.RecordBase.model_fields)
    return [
        info.alias or name
        for name, info in model.model_fields.items()
        if name not in base and (info.alias or name) not in META
    ]


def value_text(
    words: Mapping[str, Any],
    kind: str,
    key: str,
    value: Any,
    names: Mapping[str, Callable[[str], str]],
) -> str:
    """``value`` of field ``key`` as a reader sees it; ``names`` turns a referenced id into
    its name, by table (teacher, term, class)."""
    ref, choice = _how(schema.RECORD_TYPES.get(kind), key)
    if ref is not None and ref in names:
        items = value if isinstance(value, list) else [value]
        return "、".join(names[ref](str(v)) for v in items)
    if choice:
        return choice_label(words, key, value, kind)
    return show(words, value)


def show(words: Mapping[str, Any], value: Any) -> str:
    """A value as text: dates in Chinese, lists joined with 、, booleans 是/否."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(words["site"]["yes" if value else "no"])
    if isinstance(value, dt.date):
        return str(words["date_format"]).format(y=value.year, m=value.month, d=value.day)
    if isinstance(value, list | tuple):
        return "、".join(show(words, v) for v in value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


@functools.cache
def _how(model: type[schema.BaseModel] | None, key: str) -> tuple[str | None, bool]:
    """How field ``key`` of ``model`` is shown: the table it refers to, and whether it is a
    choice. Worked out once per field: a page shows tens of thousands of values."""
    name = schema.attributes(model).get(key) if model else None
    info = model.model_fields[name] if model and name else None
    if info is None:
        return None, key == "mode"
    annotation = schema.unwrap(info.annotation)
    return schema.reference(info), typing.get_origin(annotation) is Literal or key == "mode"


# --- every registered kind has its words ---------------------------------------------

LABELS_FILE = TEMPLATES_DIR / "labels" / "zh.yml"
NO_FIELD_NAME = "labels: no name for field '{field}' of record type '{type}'"
NO_CHOICE_LABEL = "labels: no label for choice '{value}' of field '{field}' ({type})"


def label_problems(words: Mapping[str, Any], path: Path = LABELS_FILE) -> list[Problem]:
    """What the labels lack for the registered kinds, located at the labels file's section
    where it belongs: a kind's name (``types``), a field's name (``type_fields`` or
    ``fields``), a label for a choice written in code words (``in_person``). ``check`` and
    the build (before any worker starts) report these instead of failing in a template."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []

    def at(section: str) -> int:
        return next((n for n, line in enumerate(lines, 1) if line.startswith(f"{section}:")), 1)

    found: list[Problem] = []

    def missing(section: str, text: Said) -> None:
        found.append(Problem(str(path), at(section), 1, "error", text.en, text.zh))

    for kind, model in schema.RECORD_TYPES.items():
        if not isinstance((words.get("types") or {}).get(kind), str):
            missing("types", said("labels: no name for record type '{type}' (types)", type=kind))
        for name, info in model.model_fields.items():
            key = info.alias or name
            if key == "type" or schema.set_by(info) in ("intake", "signature"):
                continue
            if field_label(words, key, kind) is None:
                missing("fields", said(NO_FIELD_NAME, field=key, type=kind))
            annotation = schema.unwrap(info.annotation)
            for value in typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ():
                if str(value).isascii() and choice_label(words, key, value, kind) == str(value):
                    missing("choices", said(NO_CHOICE_LABEL, value=value, field=key, type=kind))
    return found
