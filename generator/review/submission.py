"""A sealed submission from the site, opened and proven before anything is written.

The intake key is on the login page, so anyone can seal a file to it; a teacher's
phone can be stolen; a teacher may want to forge. So every byte of a file in the
inbox is hostile until shown otherwise, in this order: the file's size, the
envelope, the seal (only this school's current or retired intake keys open it),
the signature (the teacher's account), and then every field of the signed record
against a strict shape: the ids, the type and the date that become part of a file
name, a branch name or a git argument match their patterns; the record's fields
are the type's own, never one that only the office or a reviewer sets (``by`` is
the signer, whatever the record says); every text is bounded and free of control
characters; the record passes the schema. Only then does intake write anything.

A refusal is a :class:`Refused` whose reason names the field and the kind of
problem, never the content: reasons land in ``rejected/*.reason.txt`` and on the
office's screen, and a record's text is about a child.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from generator.archive import schema
from generator.core import crypto, labels
from generator.core.problems import Refused
from generator.core.text import shown
from generator.protect import access
from generator.protect.seal import unpad

FORMAT = "yidang-submission-1"
SUFFIX = ".yidang"
MAX_FILE = 40 * 1024 * 1024  # ten photos of 1600 px in base64 stay far below this
SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")  # randomHex(16) in the page
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")  # schema.Id: teachers, students
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # tab, newline and return are text
LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]")
MAX_LINE, MAX_PARAGRAPH, MAX_BODY, MAX_ITEMS = 500, 20_000, 100_000, 50
MAX_PHOTOS, MAX_PHOTO_BYTES = 10, 8 * 1024 * 1024
PAYLOAD_KEYS = {
    "format",
    "id",
    "intake",
    "teacher",
    "student",
    "students",
    "created",
    "record",
    "body",
    "photos",
}
MAX_GROUP = 60  # students of one group record sent from the site (a class, or two)


@dataclass(frozen=True)
class Submission:
    """An opened, verified and checked submission: every field below is safe to use."""

    id: str
    teacher: str
    student: str
    record: dict[str, Any]  # the type's fields as sent (type and date included), checked
    body: str
    photos: tuple[bytes, ...]
    # A group record (a kind declared ``group``): every student it was held for, ``student``
    # first. Empty: the record is ``student``'s alone.
    students: tuple[str, ...] = ()

    @property
    def everyone(self) -> tuple[str, ...]:
        """The students the record is for."""
        return self.students or (self.student,)

    @property
    def whom(self) -> str:
        """The students, as the office reads them in a commit or on the screen."""
        if not self.students:
            return self.student
        return str(labels.shipped()["intake"]["group"].format(student=self.student, n=len(self.students)))

    @property
    def type(self) -> str:
        return str(self.record["type"])

    @property
    def date(self) -> dt.date:
        return dt.date.fromisoformat(str(self.record["date"]))

    @property
    def branch(self) -> str:
        if self.students:
            return f"intake/{self.date}-group-{self.id[:8]}"
        return f"intake/{self.date}-{self.student}-{self.id[:8]}"

    @property
    def digest(self) -> str:
        """What the record says, whoever sealed it and however often: a double tap on the
        form makes two files (two ids) with one digest."""
        content = {
            "student": self.student,
            **({"students": list(self.students)} if self.students else {}),
            "record": self.record,
            "body": self.body.strip(),
            "photos": [hashlib.sha256(p).hexdigest() for p in self.photos],
        }
        canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def refused(key: str, **values: object) -> Refused:
    """A refusal worded from the labels file (``intake.errors``): Chinese, then English."""
    return Refused(labels.error("intake", key, **values))


def why(key: str, **values: object) -> dict[str, str]:
    """The kind of a problem (``intake.why`` in the labels), for a refusal's ``why``/``why_en``."""
    zh, en = labels.shipped()["intake"]["why"][key]
    return {"why": str(zh).format(**values), "why_en": str(en).format(**values)}


def read(path: Path, limit: int = MAX_FILE) -> bytes:
    """The file's bytes; refused by its size before a byte is read."""
    size = path.stat().st_size
    if size > limit:
        raise refused("too_big", size=f"{size / 1e6:.1f} MB", limit=f"{limit // 1024 // 1024} MB")
    return path.read_bytes()


def parse_json(raw: bytes | str) -> Any:
    """JSON from an untrusted file: any failure, too deep a nesting included, is a refusal."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise refused("not_submission") from None


def _fields(data: Any, *keys: str) -> list[Any]:
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise refused("not_submission")
    return [data[k] for k in keys]


def _text(value: Any, what: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise refused("bad_value", what=what, **why("pattern"))
    return value


def open_submission(
    data: bytes, keys: dict[str, bytes], accounts: dict[str, access.Account], retired: dict[str, str]
) -> Submission:
    """Open a sealed file with the intake keys (fingerprint → private key; ``retired``:
    fingerprint → the day a key retired past its grace period) and prove it field by field."""
    epk, sealed, fp = _fields(parse_json(data), "epk", "data", "intake")
    fp = _text(fp, "intake", re.compile(r"[0-9a-f]{16,64}"))
    if fp in retired:
        raise refused("retired_key", retired=retired[fp], days=access.INTAKE_GRACE_DAYS)
    if fp not in keys:
        raise refused("other_key", fp=fp)
    try:
        opened = crypto.open_to(keys[fp], crypto.unb64(epk), crypto.unb64(sealed), f"{FORMAT}|{fp}".encode())
        teacher, signed, sig = _fields(parse_json(unpad(opened)), "teacher", "signed", "sig")
        signed, sig = crypto.unb64(signed), crypto.unb64(sig)
    except crypto.CryptoError:
        raise refused("damaged") from None
    except (ValueError, TypeError, AttributeError):
        raise refused("not_submission") from None
    teacher = _text(teacher, "teacher", ID)
    account = accounts.get(teacher)
    if account is None or not account.sign_public_raw:
        raise refused("unknown_account", teacher=teacher)
    if not crypto.verify(account.sign_public_raw, signed, sig):
        raise refused("bad_signature", teacher=teacher)
    return _payload(parse_json(signed), teacher, fp)


def _payload(payload: Any, teacher: str, fp: str) -> Submission:
    """The signed content, checked: nothing beyond the format's own keys."""
    if not isinstance(payload, dict) or set(payload) - PAYLOAD_KEYS:
        raise refused("not_submission")
    form, sid, student, record, body, photos = _fields(
        payload, "format", "id", "student", "record", "body", "photos"
    )
    if form != FORMAT or payload.get("teacher") != teacher or payload.get("intake") != fp:
        raise refused("envelope")
    sid = _text(sid, "id", SUBMISSION_ID)
    student = _text(student, "student", ID)
    if not isinstance(body, str) or not body.strip():
        raise refused("field", field=labels.shipped()["form"]["narrative"], **why("empty"))
    _bounded(body, labels.shipped()["form"]["narrative"], MAX_BODY, multiline=True)
    record = _record(record, teacher)
    group = _group(payload.get("students"), student, str(record["type"]))
    return Submission(sid, teacher, student, record, body, _photos(photos), group)


def _group(students: Any, student: str, kind: str) -> tuple[str, ...]:
    """A group record's students: ids, each once, the submission's ``student`` first, of a
    kind that may be kept for a group. None (absent): a record of one student."""
    if students is None:
        return ()
    declared = schema.RECORD_KINDS.get(kind)
    if declared is None or not declared.group:
        raise refused("not_group", type=labels.shipped()["types"].get(kind, kind))
    if not isinstance(students, list) or not 2 <= len(students) <= MAX_GROUP:
        raise refused("field", field="students", **why("too_many", limit=MAX_GROUP))
    ids = tuple(_text(s, "students", ID) for s in students)
    if ids[0] != student or len(set(ids)) != len(ids):
        raise refused("field", field="students", **why("other"))
    return ids


def _bounded(value: str, field: str, limit: int, *, multiline: bool) -> None:
    if len(value) > limit:
        raise refused("field", field=field, **why("too_long", limit=limit))
    if CONTROL.search(value) or (not multiline and LINE_BREAK.search(value)):
        raise refused("field", field=field, **why("control"))


def _record(record: Any, teacher: str) -> dict[str, Any]:
    """The record's fields: the type's own, none that the office or the signature sets,
    each value of its kind and bounded, and the whole valid as ``check`` validates it."""
    if not isinstance(record, dict) or not all(isinstance(k, str) for k in record):
        raise refused("not_submission")
    kind = record.get("type")
    model = schema.RECORD_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise refused("unknown_type", type=shown(kind))
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    type_name = labels.shipped()["types"][kind]
    for key, value in record.items():
        info = fields.get(key)
        if info is None:
            raise refused("unknown_field", type=type_name, field=shown(key))
        if schema.set_by(info):
            raise refused("office_field", field=key)
        _value(key, value, info)
    date = record.get("date")
    if not isinstance(date, str) or not DATE.fullmatch(date):
        raise refused("field", field="date", **why("not_date"))
    _validate(model, {**record, "by": teacher})
    return dict(record)


def _value(key: str, value: Any, info: Any) -> None:
    """One field's value: of a kind the form sends (text, a list of texts, a number, yes/no)."""
    multiline = (info.json_schema_extra or {}).get("widget") == "textarea"
    if isinstance(value, str):
        _bounded(value, key, MAX_PARAGRAPH if multiline else MAX_LINE, multiline=multiline)
    elif isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise refused("field", field=key, **why("too_many", limit=MAX_ITEMS))
        for item in value:
            if not isinstance(item, str):
                raise refused("field", field=key, **why("not_list"))
            _bounded(item, key, MAX_LINE, multiline=False)
    elif (
        not isinstance(value, bool | int | float) or value != value or value in (float("inf"), float("-inf"))
    ):
        raise refused("field", field=key, **why("other"))


PYDANTIC_WHY = {
    "missing": "missing",
    "string_type": "not_text",
    "list_type": "not_list",
    "date_type": "not_date",
    "date_from_datetime_parsing": "not_date",
    "value_error": "other",
    "literal_error": "not_choice",
    "bool_type": "not_bool",
    "bool_parsing": "not_bool",
    "float_type": "not_number",
    "float_parsing": "not_number",
    "int_type": "not_number",
    "int_parsing": "not_number",
    "string_too_short": "empty",
    "too_short": "empty",
    "string_pattern_mismatch": "pattern",
    "greater_than_equal": "other",
}


def _validate(model: type[BaseModel], record: dict[str, Any]) -> None:
    """The schema's verdict, worded by field and kind only (pydantic would quote the input)."""
    try:
        model.model_validate(record)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"] if isinstance(p, str)) or "record"
        kind = PYDANTIC_WHY.get(err["type"], "other")
        if not err["loc"]:  # a rule between fields (an evaluation that stops help needs a reason)
            kind = "rule"
        raise refused("field", field=field, **why(kind)) from None


def _photos(photos: Any) -> tuple[bytes, ...]:
    if not isinstance(photos, list) or len(photos) > MAX_PHOTOS:
        raise refused("field", field="photos", **why("too_many", limit=MAX_PHOTOS))
    out = []
    for n, photo in enumerate(photos, start=1):
        (data,) = _fields(photo, "data")
        if not isinstance(data, str) or len(data) > MAX_PHOTO_BYTES * 4 // 3 + 4:
            raise refused("photo", n=n, **why("too_long", limit=f"{MAX_PHOTO_BYTES // 1024 // 1024} MB"))
        try:
            out.append(crypto.unb64(data))
        except (ValueError, TypeError):
            raise refused("photo", n=n, **why("other")) from None
    return tuple(out)
