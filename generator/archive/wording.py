"""The words of ``check``'s problems, in Chinese first and English after.

Every problem ``check`` reports is made from an English template (what ``--format
json`` consumers and support read) and the same template's Chinese, from the
``check`` catalogue of the labels file, keyed by the English template (as gettext
keys a translation by its source text). The terminal prints ``中文 / English``; the
record form shows the Chinese under its field. A template without a Chinese entry
is a test failure (tests/test_check_errors.py reads every template in the code).

Fields are named in Chinese by their labels (``fields``, ``records``, and a type's
own in ``type_fields``): a missing home-visit mode reads «请选择家访方式».
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from pydantic import BaseModel

from generator.core import labels


class Said(NamedTuple):
    """A problem's English and Chinese text."""

    en: str
    zh: str


class RuleBroken(ValueError):
    """A rule between fields, raised by a schema model's validator with its template, so the
    problem can be said in both languages (pydantic keeps the exception in the error)."""

    def __init__(self, template: str, **values: object):
        super().__init__(template.format(**values))
        self.template = template
        self.values = values
        self.field = ""  # the field it is reported at, when a declared rule names one


def _catalogue() -> dict[str, str]:
    return dict(labels.shipped().get("check") or {})


def said(template: str, **values: object) -> Said:
    """``template`` filled in, in English and in Chinese (empty when the catalogue lacks it)."""
    zh = _catalogue().get(template)
    return Said(template.format(**values), zh.format(**values) if zh else "")


def hint(word: str, choices: Iterable[str]) -> dict[str, str]:
    """A did-you-mean for a template's ``{hint}`` (English) and ``{hint_zh}`` (Chinese)."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not match:
        return {"hint": "", "hint_zh": ""}
    return {"hint": f"; did you mean '{match[0]}'?", "hint_zh": _catalogue()["did-you-mean"].format(match[0])}


def record_kind(model: type[BaseModel]) -> str | None:
    """The record type a model is for (its ``type`` field's one literal), or None."""
    field = model.model_fields.get("type")
    args = typing.get_args(field.annotation) if field is not None else ()
    return str(args[0]) if len(args) == 1 else None


def rule_words(broken: RuleBroken, kind: str | None) -> RuleBroken:
    """A declared rule's fields by their labels, and a yes/no as 是/否, for its Chinese."""
    words = labels.shipped()["site"]
    for name in ("field", "other", "when"):
        if name in broken.values:
            broken.values[f"{name}_zh"] = field_label(str(broken.values[name]), kind)
    for name in ("value", "other_value"):
        value = broken.values.get(name)
        shown = {"true": words["yes"], "false": words["no"]}.get(str(value), value)
        broken.values[f"{name}_zh"] = shown
    return broken


def field_label(key: str, kind: str | None = None) -> str:
    """A field's Chinese name: the type's own (``type_fields``), else the shared one."""
    words = labels.shipped()
    found = labels.field_label(words, key, kind)
    if found is None:
        found = (words.get("profile_fields") or {}).get(key)
    return str(found) if isinstance(found, str) else key


CHOOSE = {"literal_error", "bool_type", "bool_parsing"}  # what a form offers as a list to choose from


def pydantic_said(err: Mapping[str, Any], model: type[BaseModel] | None, loc: str) -> str:
    """The Chinese for a pydantic error: the field (by its label when it is missing) and
    what it should be, after ``loc:`` (the form shows it without)."""
    kind = err["type"]
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, RuleBroken):
        zh = said(error.template, **error.values).zh
    else:
        catalogue = _catalogue()
        if kind == "missing":
            kind = "missing_choice" if _is_choice(model, err["loc"]) else "missing"
        elif kind == "string_type" and isinstance(err.get("input"), int | float) and "phone" in loc:
            kind = "phone"
        template = catalogue.get(f"pydantic:{kind}", "")
        name = str(err["loc"][-1]) if err["loc"] else ""
        label = field_label(name, record_kind(model) if model is not None else None)
        expected = str((err.get("ctx") or {}).get("expected", ""))
        zh = template.format(label=label, expected=expected)
    return f"{loc}:{zh}" if zh and loc else zh


def _is_choice(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> bool:
    """Whether the field at ``loc`` is picked from a list (a Literal, yes/no, a term)."""
    if model is None or not loc or not isinstance(loc[-1], str):
        return False
    field = next((f for n, f in model.model_fields.items() if (f.alias or n) == loc[-1]), None)
    if field is None:
        return False
    annotation = field.annotation
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal or arg is bool:
            return True
    return loc[-1] == "term"
