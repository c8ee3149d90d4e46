"""Write ``docs/schema.md`` from the schema models, field by field.

The models in ``generator.schema`` are the single statement of the schema;
this renders them, so the docs cannot drift from what ``yidang check``
enforces (a test fails when docs/schema.md is out of date). Regenerate with:

    .venv/bin/python -m generator.archive.schemadoc > docs/schema.md
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from generator.archive import schema as s

INTRO = """\
# Archive schema

An archive is a folder of YAML and Markdown files (see the README for the
layout). This page is generated from `generator/schema.py`, the one place the
schema is written down; `yidang check` enforces exactly this. Field names are
English; values and prose are Chinese; code words (`type`, `mode`, category
keys) are English. Dates are written `YYYY-MM-DD`. Phone numbers and ID
numbers go in quotes. Unknown fields are reported as warnings.

Regenerate: `.venv/bin/python -m generator.archive.schemadoc > docs/schema.md`.
"""

SECTIONS: list[tuple[str, str, list[type[BaseModel]]]] = [
    (
        "school.yml",
        "The school, its terms, its categories and the four-ones rules.",
        [s.School, s.LeadershipRole, s.Term, s.CategoryDef, s.Rules],
    ),
    ("teachers.yml", "A YAML list, one entry per teacher.", [s.Teacher]),
    ("classes.yml", "A YAML list, one entry per class.", [s.SchoolClass]),
    (
        "students/&lt;id&gt;/profile.yml",
        "The registration form (登记表). The folder name is the id.",
        [
            s.Profile,
            s.CategoryMembership,
            s.MentorAssignment,
            s.Guardian,
            s.Disability,
            s.AttendanceAlert,
            s.PersuasionRecord,
        ],
    ),
    (
        "students/&lt;id&gt;/plan.md",
        "The help plan (帮扶计划): front matter, then the plan in prose.",
        [s.Plan, s.Goals, s.Measure],
    ),
    (
        "students/&lt;id&gt;/records/YYYY-MM-DD-&lt;type&gt;[-n].md",
        "One file per record: front matter, then the narrative in Markdown. The date in the "
        "file name equals `date`, the type equals `type`. Photo paths are relative to the "
        "student's folder (e.g. `photos/2026-03-05.jpg`) and must stay inside it.",
        [s.RecordBase],  # then every registered kind: see sections()
    ),
    (
        "activities/YYYY-MM-DD-&lt;name&gt;.md",
        "A group activity: one record held for many students, kept once (`<name>`: a-z, 0-9, -). "
        "Its front matter is a record of a kind that may be kept for a group ({kinds}), with "
        "these fields added; each listed student's page and booklet show it as their record.",
        [s.GroupFields],
    ),
]
REFERS = {"teacher": "a teacher id of teachers.yml", "term": "a term id of school.yml", "class": "a class id"}


def sections() -> list[tuple[str, str, list[type[BaseModel]]]]:
    """SECTIONS with the record kinds of the registry as they stand (a school's own too)."""
    *rest, (title, about, models), (g_title, g_about, g_models) = SECTIONS
    kinds = ", ".join(f"`{k}`" for k, kind in s.RECORD_KINDS.items() if kind.group)
    return [
        *rest,
        (title, about, [*models, *s.RECORD_TYPES.values()]),
        (g_title, g_about.format(kinds=kinds), g_models),
    ]


def _rules(model: type[BaseModel]) -> list[str]:
    """A record kind's declared rules between fields, as sentences."""
    out = []
    for rule in getattr(model, "rules", ()):
        if isinstance(rule, s.NotBefore):
            out.append(f"`{rule.field}`, when given, is not before `{rule.other}`.")
        elif isinstance(rule, s.RequiredWhen):
            value = str(rule.equals).lower() if isinstance(rule.equals, bool) else rule.equals
            out.append(f"`{rule.field}` is required when `{rule.when}` is `{value}`.")
    return out


def _type(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args if a is not type(None))
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"mapping of key → {_type(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    names = {str: "text", int: "integer", float: "number", bool: "true/false", dt.date: "date"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _required(info: FieldInfo) -> str:
    return "required" if info.is_required() else "optional"


def _own_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """Fields a record type adds (or narrows) on top of the common record fields."""
    if model is not s.RecordBase and issubclass(model, s.RecordBase):
        base = s.RecordBase.model_fields
        return {n: f for n, f in model.model_fields.items() if n not in base or n == "type"}
    return dict(model.model_fields)


def render() -> str:
    out = [INTRO]
    for title, about, models in sections():
        out.append(f"\n## {title}\n\n{about}\n")
        for model in models:
            doc = (model.__doc__ or "").strip().split("\n")[0]
            heading = model.__name__
            out.append(f"\n### {heading}\n")
            if doc and not doc.startswith(("Base:", "!!!")):
                out.append(f"\n{doc}\n")
            out.append("\n| field | type | | meaning |\n|---|---|---|---|\n")
            for name, info in _own_fields(model).items():
                field = info.alias or name
                ref = s.reference(info)
                refers = f" Refers to {REFERS[ref]}." if ref else ""
                out.append(
                    f"| `{field}` | {_type(info.annotation)} | {_required(info)} | "
                    f"{info.description or ''}{refers} |\n"
                )
            if _rules(model):
                out.append("\nRules: " + " ".join(_rules(model)) + "\n")
    return "".join(out)


if __name__ == "__main__":
    print(render(), end="")
