"""The record forms of the protected site, made from the schema ``check`` uses.

Each record type's form lists its fields as ``schema.py`` declares them (type,
required or not, choices), labelled from the labels file. The messages the page
shows for a missing field, an empty list or a date in the future are made here
by the same code that words ``check``'s problems (their Chinese), so the page and
``check`` say the same thing for the same mistake. Nothing here is about a student: the
result is published in the login page's settings.
"""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from generator.archive import schema
from generator.archive.compliance import REQUIREMENTS
from generator.archive.validate import _message
from generator.archive.wording import record_kind, rule_words, said
from generator.core.labels import choice_label, field_label

NO_NARRATIVE = "the record has no narrative (write it below the front matter)"  # check's warning
FUTURE = "date {date} is in the future"  # check's warning; intake refuses it


def form_schema(school: schema.School | None, labels: dict[str, Any]) -> dict[str, Any]:
    """What the page needs to draw, fill in and check each record form."""
    terms = [[t.id, t.name] for t in sorted(school.terms, key=lambda t: t.start)] if school else []
    return {
        "types": [
            _form(name, kind.model, labels, terms) for name, kind in schema.RECORD_KINDS.items() if kind.form
        ],
        "messages": {"future": said(FUTURE, date="{date}").zh, "narrative": said(NO_NARRATIVE).zh},
        "home": [k for k in REQUIREMENTS if schema.RECORD_KINDS.get(k) and schema.RECORD_KINDS[k].form],
        "timezone": school.timezone if school else schema.DEFAULT_TIMEZONE,  # "today" is the school's
    }


def _form(
    kind: str, model: type[schema.RecordBase], labels: dict[str, Any], terms: list[list[str]]
) -> dict[str, Any]:
    missing = _missing_messages(model, kind)
    fields = []
    names = list(model.model_fields)
    names.sort(key=lambda n: n == "with_")  # who else was there: last, after the type's own fields
    for name in names:
        info = model.model_fields[name]
        key = info.alias or name
        if key == "type" or schema.set_by(info):  # the type is the form; the rest a teacher never sets
            continue
        field = _field(key, info, kind, labels, terms)
        field["missing"] = missing.get(key)
        if field["kind"] == "list" and _min_items(info):
            field["too_short"] = _too_short_message(model, kind, key)
        fields.append(field)
    narrative = {"label": labels["form"]["narrative"], "missing": said(NO_NARRATIVE).zh}
    need = schema.RECORD_KINDS[kind].need_to_know  # offered on a counsellor's page too
    form = {
        "type": kind,
        "title": labels["types"][kind],
        "fields": fields,
        "narrative": narrative,
        "need": need,
        "group": schema.RECORD_KINDS[kind].group,  # may be sent for several students at once
    }
    form |= _rules(model)
    return form


def _rules(model: type[schema.RecordBase]) -> dict[str, list[Any]]:
    """The type's declared rules between fields, for the page to check as ``check`` does, each
    with check's own message (the validator's, on a record that breaks only that rule)."""
    out: dict[str, list[Any]] = {"requires": [], "not_before": []}
    for rule in model.rules:
        if isinstance(rule, schema.RequiredWhen):
            out["requires"].append([[rule.when, rule.equals], rule.field, _rule_message(model, rule)])
        else:
            out["not_before"].append([rule.field, rule.other, _rule_message(model, rule)])
    return out


def _rule_message(model: type[schema.RecordBase], rule: schema.Rule) -> str:
    """check's Chinese for ``rule`` broken, with {value} and {other_value} left for the page."""
    broken = rule.broken(_breaking(rule))
    assert broken is not None
    broken.values |= {"value": "{value}", "other_value": "{other_value}"}
    return said(broken.template, **rule_words(broken, record_kind(model)).values).zh


def _breaking(rule: schema.Rule) -> dict[str, Any]:
    if isinstance(rule, schema.RequiredWhen):
        return {rule.when: rule.equals}
    return {rule.field: dt.date(2000, 1, 1), rule.other: dt.date(2000, 1, 2)}


def _field(
    key: str, info: FieldInfo, kind: str, labels: dict[str, Any], terms: list[list[str]]
) -> dict[str, Any]:
    annotation = schema.unwrap(info.annotation)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    out: dict[str, Any] = {"name": key, "label": _label(key, labels, kind), "required": info.is_required()}
    if annotation is dt.date:
        out["kind"] = "date"
    elif typing.get_origin(annotation) is Literal:
        out["kind"] = "choice"
        out["choices"] = [[v, _choice_label(key, v, kind, labels)] for v in typing.get_args(annotation)]
    elif annotation is bool:
        out["kind"] = "bool"
        out["choices"] = [[True, labels["site"]["yes"]], [False, labels["site"]["no"]]]
    elif annotation in (float, int):
        out["kind"] = "number"
    elif typing.get_origin(annotation) is list:
        out["kind"] = "list"
    elif schema.reference(info) == "term":
        out["kind"] = "choice"
        out["choices"] = terms
    else:
        out["kind"] = "textarea" if extra.get("widget") == "textarea" else "text"
    return out


def _label(key: str, labels: dict[str, Any], kind: str) -> str:
    """The field's name on the form: the type's own (家访方式), else the shared one."""
    return field_label(labels, key, kind) or key


def _choice_label(key: str, value: Any, kind: str, labels: dict[str, Any]) -> str:
    return choice_label(labels, key, value, kind)


def _min_items(info: FieldInfo) -> int:
    return next((m.min_length for m in info.metadata if getattr(m, "min_length", None)), 0)


def _errors(model: type[BaseModel], data: dict[str, Any]) -> list[Any]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return list(exc.errors())
    return []


def _missing_messages(model: type[BaseModel], kind: str) -> dict[str, str]:
    """``check``'s message for each required field left out, from the validator itself."""
    found = _errors(model, {"type": kind})
    return {str(e["loc"][0]): _on_form(e, model) for e in found if e["type"] == "missing"}


def _too_short_message(model: type[BaseModel], kind: str, key: str) -> str:
    """``check``'s message for an empty list that needs an item."""
    found = [e for e in _errors(model, {"type": kind, key: []}) if tuple(e["loc"]) == (key,)]
    return _on_form(found[0], model) if found else ""


def _on_form(err: Any, model: type[BaseModel]) -> str:
    """``check``'s Chinese for a field's error, under the field itself: without its name."""
    return _message(err, model).zh.removeprefix(f"{err['loc'][0]}:")
