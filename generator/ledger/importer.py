"""``yidang import ledger``: student profiles from a school's existing Excel ledger.

A mapping file says which column holds which profile field, and gives the
dates a ledger rarely has (since when a category and a mentor apply). Names
are turned into ids through the archive (classes by name or id, teachers by
name or id, categories by their Chinese name, kinds in brackets). Every row
that cannot be imported is reported with its row number and the reason; an
existing student is never overwritten without ``--update``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from generator.archive.model import Archive
from generator.archive.schema import Profile
from generator.core import labels
from generator.core.files import write_atomic
from generator.core.problems import UsageError

SPLIT = re.compile(r"[、,,]\s*")


def _category_pattern() -> re.Pattern[str]:
    """A category cell as the export writes it: name, (kind), and the end as in the labels."""
    before, after = labels.shipped()["ledger"]["ended"].split("{until}")
    ended = rf"(?:{re.escape(before)}(?P<until>\d{{4}}-\d{{2}}-\d{{2}}){re.escape(after)})?"
    return re.compile(rf"^(?P<name>[^((（{re.escape(before[:1])}]+)(?:[((](?P<kind>[^))]+)[))])?{ended}$")


def _error(kind: str, value: str) -> ValueError:
    return ValueError(labels.shipped()["import_errors"][kind].format(value=value))


@dataclass
class RowResult:
    row: int
    student: str
    action: str  # created | updated | skipped | failed
    reason: str = ""


def load_mapping(path: Path) -> dict[str, Any]:
    try:
        mapping = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(labels.error("commands", "bad_mapping", path=path, why=exc)) from None
    if not isinstance(mapping, dict) or not isinstance(mapping.get("columns"), dict):
        raise UsageError(labels.error("commands", "mapping_columns", path=path))
    for field in ("id", "name", "gender", "birth_date", "class"):
        if field not in mapping["columns"]:
            raise UsageError(labels.error("commands", "mapping_field", path=path, field=field))
    return mapping


def _rows(xlsx: Path, mapping: dict[str, Any]) -> tuple[dict[str, int], list[tuple[int, list[Any]]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(xlsx, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise UsageError(labels.error("commands", "bad_xlsx", path=xlsx, why=exc)) from None
    ws = wb[mapping["sheet"]] if mapping.get("sheet") else wb.worksheets[0]
    header_row = int(mapping.get("header_row", 1))
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    headers = {str(h).strip(): i for i, h in enumerate(rows[0]) if h is not None} if rows else {}
    missing = [h for h in mapping["columns"].values() if h not in headers]
    if missing:
        raise UsageError(
            labels.error("commands", "no_column", path=xlsx, names=", ".join(missing), row=header_row)
        )
    body = [
        (header_row + 1 + n, list(r)) for n, r in enumerate(rows[1:]) if any(v not in (None, "") for v in r)
    ]
    return headers, body


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%Y-%m-%d")
    return str(value).strip()


def _profile(values: dict[str, str], archive: Archive, since: str) -> dict[str, Any]:
    """A profile dict from one row's cells; ValueError names what cannot be resolved."""
    classes = {c.name: c.id for c in archive.classes.values()} | {c: c for c in archive.classes}
    teachers = {t.name: t.id for t in archive.teachers.values()} | {t: t for t in archive.teachers}
    cats = {c.name: k for k, c in archive.school.categories.items()}
    words = labels.shipped()["ledger"]
    if values.get("status") in (words["closed"], "closed", words["transferred"], "transferred"):
        raise ValueError(
            f"a case that ended ({values['status']}): the ledger has no closing date or reason; "
            "add it by hand"
        )
    if values["class"] not in classes:
        raise _error("class", values["class"])
    profile: dict[str, Any] = {key: values[key] for key in ("id", "name", "gender", "birth_date")}
    profile["class"] = classes[values["class"]]
    profile["categories"] = [
        _category(part, cats, since) for part in SPLIT.split(values.get("categories", "")) if part
    ]
    profile["mentors"] = []
    for name in (n for n in SPLIT.split(values.get("mentors", "")) if n):
        if name not in teachers:
            raise _error("mentor", name)
        profile["mentors"].append({"teacher": teachers[name], "since": since})
    profile["guardians"] = [
        _guardian(part) for part in re.split(r"[;;]\s*", values.get("guardians", "")) if part
    ]
    for key in ("address",):
        if values.get(key):
            profile[key] = values[key]
    if values.get("support_received"):
        profile["support_received"] = [s for s in SPLIT.split(values["support_received"]) if s]
    return profile


def _category(text: str, cats: dict[str, str], since: str) -> dict[str, Any]:
    match = _category_pattern().match(text.strip())
    if not match or match.group("name") not in cats:
        raise _error("category", text)
    out: dict[str, Any] = {"key": cats[match.group("name")], "since": since}
    if match.group("kind"):
        out["kind"] = match.group("kind")
    if match.group("until"):
        out["until"] = match.group("until")
    return out


def _guardian(text: str) -> dict[str, Any]:
    parts = text.split()
    if len(parts) < 2:
        raise _error("guardian", text)
    out: dict[str, Any] = {"relation": parts[0], "name": parts[1]}
    if len(parts) > 2:
        out["phone"] = parts[2]
    return out


def import_ledger(
    xlsx: Path, mapping_file: Path, root: Path, archive: Archive, dry_run: bool = False, update: bool = False
) -> list[RowResult]:
    mapping = load_mapping(mapping_file)
    since = str((mapping.get("defaults") or {}).get("since") or archive.terms[-1].start)
    headers, rows = _rows(xlsx, mapping)
    results = []
    for n, cells in rows:
        values = {field: _text(cells[headers[col]]) for field, col in mapping["columns"].items()}
        results.append(_one(n, values, archive, root, since, dry_run, update))
    return results


def _one(
    n: int, values: dict[str, str], archive: Archive, root: Path, since: str, dry_run: bool, update: bool
) -> RowResult:
    sid = values.get("id", "")
    try:
        data = _profile(values, archive, since)
        Profile.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        reason = _validation_text(exc) if isinstance(exc, ValidationError) else str(exc)
        return RowResult(n, sid, "failed", reason)
    path = root / "students" / sid / "profile.yml"
    if path.exists() and not update:
        return RowResult(n, sid, "skipped", "already in the archive (use --update to replace its profile)")
    action = "updated" if path.exists() else "created"
    if not dry_run:
        text = yaml.safe_dump(_dates(data), allow_unicode=True, sort_keys=False)
        try:
            write_atomic(path, text, replace=update)  # --update is the only way to replace
        except FileExistsError:
            return RowResult(
                n, sid, "skipped", "already in the archive (use --update to replace its profile)"
            )
    return RowResult(n, sid, action)


def _dates(value: Any) -> Any:
    """ISO date strings as dates, so the YAML reads `since: 2025-09-01` like a hand-written file."""
    if isinstance(value, dict):
        return {k: _dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates(v) for v in value]
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value)
    return value


def _validation_text(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
