"""Seal a record as the site's form does (site_templates/protect/yidang-shell.js), in Python,
so tests can make submissions the browser would not (a teacher without the right, a
changed file, another school's key). The browser tests check the page's own sealing.
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
) -> bytes:
    """A sealed file, as the page downloads it."""
    account = access.load(archive, teacher)
    key = access.load_intake(archive)
    assert key is not None
    public = intake_public or key.public_raw
    fp = crypto.fingerprint(public)
    payload = {
        "format": FORMAT,
        "id": submission_id or secrets.token_hex(16),
        "intake": fp,
        "teacher": teacher,
        "student": student,
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "record": record,
        "body": body,
        "photos": [{"name": f"{n}.jpg", "data": crypto.b64(p)} for n, p in enumerate(photos, 1)],
    }
    signed = json.dumps(payload, ensure_ascii=False).encode()
    sig = crypto.sign(account.unlock_signing(passphrase), signed)
    inner = json.dumps({"teacher": teacher, "signed": crypto.b64(signed), "sig": crypto.b64(sig)}).encode()
    epk, data = crypto.seal_to(public, pad(inner), f"{FORMAT}|{fp}".encode())
    outer = {"format": FORMAT, "intake": fp, "epk": crypto.b64(epk), "data": crypto.b64(data)}
    return json.dumps(outer).encode()
