"""Who may upload to the school's inbox: one credential per teacher, checked by nginx alone.

The inbox (docs/deploy.md) is a folder nginx lets pages PUT sealed files into.
Without a credential anyone who can reach the server could fill it. nginx
checks a static list (``auth_basic_user_file``), and nothing else runs on the
server, so the list is made here:

- the school has one random **inbox secret** (``access/inbox.json``, in the
  archive repository: it only lets files be *put* into the inbox, never read);
- a teacher's credential is the user name = their id and the password =
  HMAC-SHA256(secret, teacher id | their signing key's fingerprint): derived,
  so nothing per teacher is stored, and it changes when their keys do
  (``access passwd --reset`` after a lost phone);
- the build seals each teacher's credential into their keyring, which only their
  passphrase opens, so the page has it after login and nobody else does;
- ``yidang access inbox --htpasswd FILE`` writes nginx's list for the accounts
  that exist now: a removed account, or a reset one, is out once the list is
  written again. Rate limits then count per teacher (``$remote_user``).

Per teacher rather than one site-wide password: a lost phone or a teacher who
leaves is shut out alone, and a flood is traced to one account.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from generator.core import crypto, labels
from generator.core.files import write_atomic
from generator.core.problems import UsageError, YidangError
from generator.protect import access

FORMAT = "yidang-inbox-1"
NAME = "inbox.json"


@dataclass(frozen=True)
class Credential:
    user: str
    password: str


def path(archive_root: Path) -> Path:
    return archive_root / access.ACCESS_DIR / NAME


def create(archive_root: Path, *, rotate: bool = False) -> Path:
    """A new inbox secret; an existing one is replaced only when ``rotate`` (every teacher's
    credential changes: write the list for nginx again and rebuild the site)."""
    target = path(archive_root)
    if target.exists() and not rotate:
        raise UsageError(labels.error("access", "inbox_exists", path=target))
    data = {"format": FORMAT, "secret": crypto.b64(os.urandom(32)), "created": dt.date.today().isoformat()}
    write_atomic(target, json.dumps(data, indent=2) + "\n", replace=rotate)
    return target


def secret(archive_root: Path) -> bytes | None:
    """The school's inbox secret, or None when the school has no upload inbox."""
    target = path(archive_root)
    if not target.is_file():
        return None
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError("not a yidang inbox file")
        return crypto.unb64(data["secret"])
    except (ValueError, KeyError, TypeError) as exc:
        raise YidangError(labels.error("commands", "bad_inbox", path=target, why=exc)) from None


def credential(key: bytes, account: access.Account) -> Credential:
    """A teacher's upload credential: their id, and a password derived from the secret and
    their signing key (a new key pair gives a new password)."""
    signing = crypto.fingerprint(account.sign_public_raw) if account.sign_public_raw else ""
    mac = hmac.new(key, f"{FORMAT}|{account.teacher}|{signing}".encode(), hashlib.sha256).digest()
    return Credential(account.teacher, base64.urlsafe_b64encode(mac[:24]).decode())


def credentials(archive_root: Path, accounts: list[access.Account]) -> dict[str, tuple[str, str]]:
    """Each account's credential (teacher → user, password), or none without an inbox secret."""
    key = secret(archive_root)
    if key is None:
        return {}
    return {a.teacher: (c.user, c.password) for a in accounts for c in [credential(key, a)]}


def htpasswd_line(cred: Credential, salt: bytes | None = None) -> str:
    """One line of nginx's list: the password as a salted SHA-1 (``{SSHA}``), which nginx reads
    without crypt(3); the password is 192 random bits, so the hash cannot be searched."""
    salt = salt if salt is not None else os.urandom(8)
    digest = hashlib.sha1(cred.password.encode() + salt).digest()
    return f"{cred.user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}"


def htpasswd(archive_root: Path) -> str:
    """nginx's list of who may upload: every account that exists now."""
    key = secret(archive_root)
    if key is None:
        raise UsageError(labels.error("access", "no_inbox"))
    lines = [
        htpasswd_line(credential(key, access.load(archive_root, t))) for t in access.accounts(archive_root)
    ]
    return "\n".join(lines) + "\n"
