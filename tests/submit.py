"""Seal files as the site's form does (site_templates/protect/yidang-shell.js), in Python —
and as an attacker would: anything at all inside a valid seal, signed with a teacher's
real key or not signed at all, and transfer bundles, which need no signature.

The intake key's public part is on every login page, so sealing to it proves nothing;
a stolen phone gives a teacher's signing key. These helpers hold exactly that much: the
tests that use them show what intake does with whatever such a sender makes.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Any

from generator.core import crypto
from generator.protect import access
from generator.protect.seal import pad

FORMAT = "yidang-submission-1"
BUNDLE = "yidang-transfer-1"


def public_key(archive: Path) -> bytes:
    """The school's public intake key: what every login page publishes."""
    key = access.load_intake(archive)
    assert key is not None
    return key.public_raw


def payload(teacher: str, student: str, record: Any, body: Any, fp: str, **extra: Any) -> dict[str, Any]:
    """The signed content the page makes; ``extra`` replaces or adds any key."""
    return {
        "format": FORMAT,
        "id": secrets.token_hex(16),
        "intake": fp,
        "teacher": teacher,
        "student": student,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "record": record,
        "body": body,
        "photos": [],
        **extra,
    }


def seal_inner(public: bytes, inner: bytes, fmt: str = FORMAT) -> bytes:
    """``inner`` (any bytes) sealed to ``public`` as the page seals: ECDH-ES, HKDF, AES-GCM."""
    fp = crypto.fingerprint(public)
    epk, data = crypto.seal_to(public, pad(inner), f"{fmt}|{fp}".encode())
    return json.dumps(
        {"format": fmt, "intake": fp, "epk": crypto.b64(epk), "data": crypto.b64(data)}
    ).encode()


def sign_and_seal(
    archive: Path, teacher: str, passphrase: str, signed: bytes, public: bytes | None = None
) -> bytes:
    """``signed`` (any bytes) signed with the teacher's real signing key, then sealed."""
    account = access.load(archive, teacher)
    sig = crypto.sign(account.unlock_signing(passphrase), signed)
    inner = json.dumps({"teacher": teacher, "signed": crypto.b64(signed), "sig": crypto.b64(sig)}).encode()
    return seal_inner(public or public_key(archive), inner)


def seal_payload(
    archive: Path, teacher: str, passphrase: str, content: dict[str, Any], public: bytes | None = None
) -> bytes:
    """A payload (any JSON object) signed and sealed as the page does."""
    signed = json.dumps(content, ensure_ascii=False).encode()
    return sign_and_seal(archive, teacher, passphrase, signed, public)


def seal(
    archive: Path,
    teacher: str,
    passphrase: str,
    student: str,
    record: dict[str, Any],
    body: str,
    photos: tuple[bytes, ...] = (),
    intake_public: bytes | None = None,
    submission_id: str | None = None,
    students: list[str] | None = None,
) -> bytes:
    """A sealed file, as the page downloads it (``students``: a group record's)."""
    public = intake_public or public_key(archive)
    extra: dict[str, Any] = {
        "photos": [{"name": f"{n}.jpg", "data": crypto.b64(p)} for n, p in enumerate(photos, 1)]
    }
    if submission_id:
        extra["id"] = submission_id
    if students is not None:
        extra["students"] = students
    content = payload(teacher, student, record, body, crypto.fingerprint(public), **extra)
    return seal_payload(archive, teacher, passphrase, content, public)


def seal_bundle(public: bytes, inner: dict[str, Any] | bytes) -> bytes:
    """A transfer bundle with any content, sealed to a school's public intake key: no
    signature is needed, so anyone with the key card can make one."""
    raw = (
        inner
        if isinstance(inner, bytes)
        else json.dumps({"format": BUNDLE, **inner}, ensure_ascii=False).encode()
    )
    return seal_inner(public, raw, BUNDLE)
