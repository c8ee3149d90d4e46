"""Validate stage: schema and reference checks, each problem located.

``validate_doc`` turns pydantic's errors into :class:`Problem` lines at the
exact ``line:col`` of the field; unknown fields become warnings with a
did-you-mean and the document is validated again without them, so one typo
in a field name does not hide the rest of the file. The reference checks
(class, teacher, category, term, photo) need the school-level files, which the
caller passes in as a :class:`Context`.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from generator.archive.load import Loc, Located
from generator.archive.photos import FORMATS, MAX_PIXELS
from generator.archive.schema import references
from generator.archive.wording import RuleBroken, Said, hint, pydantic_said, said
from generator.core.problems import Problem, Severity

M = TypeVar("M", bound=BaseModel)

RECORD_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-([a-z_]+)(?:-(\d+))?\.md$")


class Sink:
    """Collects problems for one file (path relative to the archive)."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems

    def add(self, severity: Severity, pos: tuple[int, int], message: str | Said) -> None:
        """A problem; a plain ``str`` is a message that is Chinese already (the four ones)."""
        en, zh = message if isinstance(message, Said) else (message, "")
        self.problems.append(Problem(self.path, pos[0], pos[1], severity, en, zh))

    def error(self, pos: tuple[int, int], message: str | Said) -> None:
        self.add("error", pos, message)

    def warning(self, pos: tuple[int, int], message: str | Said) -> None:
        self.add("warning", pos, message)


def loc_text(loc: Iterable[str | int]) -> str:
    """('categories', 0, 'since') → 'categories[0].since'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside Optional[...] / list[...] / dict[..., ...] / Annotated[...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names (as written in YAML) of the model found at ``loc``."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        match = next((f for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        if match is None:  # a dict key such as a category key
            continue
        current = _model_in(match.annotation)
    if current is None:
        return []
    return [f.alias or n for n, f in current.model_fields.items()]


TYPED = (
    "string_type",
    "bool_type",
    "int_type",
    "float_type",
    "list_type",
    "dict_type",
    "model_type",
    "literal_error",
    "string_pattern_mismatch",
    "too_short",
    "int_parsing",
    "float_parsing",
    "bool_parsing",
    "greater_than_equal",
    "string_too_short",
    "string_too_long",
)


def _message(err: Mapping[str, Any], model: type[BaseModel] | None = None) -> Said:
    """A pydantic error as ``check`` says it: the field, what was expected and (in English,
    for support) what was found; in Chinese the field by its label ("请选择家访方式")."""
    loc = loc_text(err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    kind = err["type"]
    if kind == "missing":
        en = f"missing required field '{loc}'"
    elif kind in TYPED:
        got = err.get("input")
        phone = kind == "string_type" and isinstance(got, int | float) and "phone" in loc
        shown = "nothing" if got is None else repr(got)
        en = f"{loc}: {msg.lower() if msg[:1].isupper() else msg}, got {shown}"
        en += '; write phone numbers in quotes, e.g. "13800000000"' if phone else ""
    else:
        en = f"{loc}: {msg}" if loc else msg
    return Said(en, pydantic_said(err, model, loc))


# YAML 1.1 turns some unquoted text into numbers that do not read back as written:
# 0755 (octal 493), 10:30 (base 60: 630), 0x1F, 1_000. A leading zero must never be lost.
_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_INTLIKE = re.compile(
    r"^[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|0[0-7_]+|[0-9][0-9_]*(:[0-5]?[0-9])+|[1-9][0-9_]*_[0-9_]*)$"
)
RENUMBERED = (
    "{field}: YAML reads {raw} as the number {number} (YAML 1.1: a leading 0 means octal, 10:30 is "
    'base 60); if you mean the text, write it in quotes: "{raw}"; if a number, write it plainly'
)
_BOOLEANS = {"yes", "no", "on", "off", "y", "n", "true", "false"}


def _renumbered(raw: str) -> bool:
    return bool(_INTLIKE.match(raw)) and not _DECIMAL.match(raw)


def _value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        data = data[part]
    return data


def _typed_message(err: Mapping[str, Any], raw: str | None) -> Said | None:
    """A text field that YAML read as a number or boolean: show what was written."""
    if raw is None or err["type"] != "string_type":
        return None
    loc, value = loc_text(err["loc"]), err.get("input")
    if isinstance(value, bool):
        what = f"the boolean {str(value).lower()}" + (
            " (yes/no/on/off are booleans in YAML)" if raw.lower() in _BOOLEANS else ""
        )
    else:
        what = f"the number {value}"
    return said(
        '{loc}: YAML reads {raw} as {what}; this field is text: write it in quotes, e.g. "{raw}"',
        loc=loc,
        raw=raw,
        what=what,
    )


def _strip(data: Any, loc: Loc) -> None:
    """Remove the value at ``loc`` from nested dicts/lists (in place)."""
    for part in loc[:-1]:
        data = data[part]
    data.pop(loc[-1], None)


def _rule_field(err: Mapping[str, Any]) -> tuple[str, ...]:
    """Where a declared rule between fields is reported: at the field it asks for."""
    error = (err.get("ctx") or {}).get("error")
    return (error.field,) if isinstance(error, RuleBroken) and error.field else ()


def validate_doc(model: type[M], doc: Located, sink: Sink) -> M | None:
    """Validate one document; report every problem; return the object if valid."""
    for kloc, pos in doc.duplicates:
        template = (
            "duplicate field '{field}': write each field once (YAML would silently keep only the last one)"
        )
        sink.error(pos, said(template, field=loc_text(kloc)))
    for loc, raw in doc.raw.items():
        if _renumbered(raw):
            number = _value_at(doc.data, loc)
            sink.error(doc.at(loc), said(RENUMBERED, field=loc_text(loc), raw=raw, number=number))
    if not isinstance(doc.data, dict):
        sink.error(doc.origin, said("expected a mapping of fields, got {got}", got=type(doc.data).__name__))
        return None
    data = doc.data
    for _attempt in range(2):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
        extras = [e for e in errors if e["type"] == "extra_forbidden"]
        for e in extras:
            loc = tuple(e["loc"])
            choices = _fields_at(model, loc[:-1])
            words = {"field": loc[-1], **hint(str(loc[-1]), choices)}
            if len(loc) > 1:
                text = said("unknown field '{field}' in {inside}{hint}", inside=loc_text(loc[:-1]), **words)
            else:
                text = said("unknown field '{field}'{hint}", **words)
            sink.warning(doc.key_at(loc), text)
        others = [e for e in errors if e["type"] != "extra_forbidden"]
        if others:
            for e in others:
                loc = tuple(e["loc"]) or _rule_field(e)
                if loc in doc.raw and _renumbered(doc.raw[loc]):
                    continue  # already said, with the value as written
                sink.error(doc.at(loc), _typed_message(e, doc.raw.get(loc)) or _message(e, model))
            return None
        data = _copy(data)
        for e in extras:
            _strip(data, tuple(e["loc"]))
    return None  # pragma: no cover - the second attempt has no unknown fields


def _copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy(v) for v in data]
    return data


def list_doc(model: type[M], doc: Located, sink: Sink, what: str) -> list[tuple[M, Loc]]:
    """Validate a top-level YAML list (teachers.yml, classes.yml) item by item."""
    if not isinstance(doc.data, list):
        sink.error(doc.origin, said("{file} must be a YAML list of entries ('- id: …')", file=what))
        return []
    out: list[tuple[M, Loc]] = []
    for i, sub in enumerate(_item_docs(doc)):
        obj = validate_doc(model, sub, sink)
        if obj is not None:
            out.append((obj, (i,)))
    return out


def _item_docs(doc: Located) -> list[Located]:
    """A view of each list item with locations relative to it, split in one pass over
    the document's locations (one pass per item was 0.2 s for 200 teachers)."""
    items = [
        Located(data=item, values={}, keys={}, duplicates=[], origin=doc.at((i,)), raw={})
        for i, item in enumerate(doc.data)
    ]

    def owner(loc: Loc) -> Located | None:
        first = loc[0] if loc else None
        return items[first] if isinstance(first, int) and 0 <= first < len(items) else None

    for loc, pos in doc.values.items():
        if (item := owner(loc)) is not None:
            item.values[loc[1:]] = pos
    for loc, pos in doc.keys.items():
        if (item := owner(loc)) is not None:
            item.keys[loc[1:]] = pos
    for loc, pos in doc.duplicates:
        if (item := owner(loc)) is not None:
            item.duplicates.append((loc[1:], pos))
    for loc, raw in doc.raw.items():
        if (item := owner(loc)) is not None:
            item.raw[loc[1:]] = raw
    return items


# --- references --------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What a student's files may refer to, from the school-level files."""

    teachers: frozenset[str]
    classes: frozenset[str]
    terms: frozenset[str]
    categories: dict[str, tuple[str, ...]]  # key → allowed kinds
    school: Any = None  # the validated School, for the four-ones rules
    graduated: dict[str, int] = field(default_factory=dict)  # class id → the year it graduated
    groups: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # student id → group activities


def check_ref(
    sink: Sink,
    doc: Located,
    loc: Loc,
    value: str | None,
    known: Iterable[str],
    what: str,
    label: str | None = None,
) -> None:
    """Report ``value`` at ``loc`` if it is not one of ``known``."""
    known_set = known if isinstance(known, frozenset | set | dict) else set(known)
    if value is not None and value not in known_set:
        words = {"field": label or loc_text(loc), "value": value, **hint(value, known_set)}
        sink.error(doc.at(loc), said(UNKNOWN[what], **words))


UNKNOWN = {  # check_ref's ``what``: one template each, so each has its own Chinese
    "teacher": "{field}: unknown teacher '{value}'{hint}",
    "class": "{field}: unknown class '{value}'{hint}",
    "term": "{field}: unknown term '{value}'{hint}",
    "category": "{field}: unknown category '{value}'{hint}",
}


MAX_PHOTO_BYTES = 20 * 1000 * 1000  # a phone photo is 2–8 MB; the site shows 1600 px
MAX_PHOTO_PIXELS = MAX_PIXELS  # beyond this a small file can unpack into gigabytes


LEAVES = {  # where a photo path leads out of: a student's folder, or activities/ for a group's
    "student": "{field}: photo path '{photo}' leaves the student's folder",
    "activities": "{field}: photo path '{photo}' leaves the folder activities/",
}


def check_photo(
    sink: Sink, doc: Located, loc: Loc, student_dir: Path, photo: str, folder: str = "student"
) -> None:
    """A photo must stay inside the student's folder (a group activity's: inside
    activities/) — no ``..``, absolute path or symlink out — exist, be of a sane size, and
    be an image Pillow can read."""
    target = (student_dir / photo).resolve()
    where = {"field": loc_text(loc), "photo": photo}
    if Path(photo).is_absolute() or not target.is_relative_to(student_dir.resolve()):
        sink.error(doc.at(loc), said(LEAVES[folder], **where))
    elif not target.is_file():
        sink.error(doc.at(loc), said("{field}: photo '{photo}' does not exist", **where))
    elif (size := target.stat().st_size) > MAX_PHOTO_BYTES:
        template = (
            "{field}: photo '{photo}' is {size:.1f} MB; a photo may be at most {most} MB (resize it first)"
        )
        sink.error(doc.at(loc), said(template, size=size / 1e6, most=MAX_PHOTO_BYTES // 1000000, **where))
    else:
        problem = _image_problem(target, where)
        if problem:
            sink.error(doc.at(loc), problem)


def _image_problem(path: Path, where: dict[str, str]) -> Said | None:
    """Why Pillow cannot use the image (it reads only the header here), or None."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # judged below
            with Image.open(path, formats=FORMATS) as img:
                width, height = img.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        template = (
            "{field}: photo '{photo}' is not a readable image (JPEG, PNG or WebP); "
            "export it again as JPEG or PNG"
        )
        return said(template, **where)
    if width * height > MAX_PHOTO_PIXELS:
        template = (
            "{field}: photo '{photo}' is {width}×{height} pixels; a photo may have at most {most:,} "
            "(resize it first)"
        )
        return said(template, width=width, height=height, most=MAX_PHOTO_PIXELS, **where)
    return None


def check_references(record: Any, doc: Located, sink: Sink, ctx: Context) -> None:
    """Every field declared as a reference (``refers_to``) names an entry of its table; a
    list's items each do. The tables are the school files' ids."""
    tables = {"teacher": ctx.teachers, "term": ctx.terms, "class": ctx.classes}
    model: type[BaseModel] = type(record)
    for name, key, table in references(model):
        value = getattr(record, name)
        if value is None:
            continue
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for i, item in items:
            check_ref(sink, doc, (key,) if i is None else (key, i), str(item), tables[table], table)
