"""Reader accounts and reading rights, both derived from files in the archive.

An account is ``access/<teacher id>.json``: the teacher's public key and the
private key encrypted under a generated passphrase that is shown once and
never stored. Rights are not stored at all: they follow from the archive on
every build (leadership and office read everything; a head teacher reads the
current students of their class; a mentor reads their current mentees), so
when an assignment ends the next build stops granting it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from generator.archive.model import Archive
from generator.core import crypto
from generator.core.files import write_atomic
from generator.core.problems import YidangError

FORMAT = "yidang-access-1"
ACCESS_DIR = "access"
# Crockford's base32 without the letters people confuse (I L O U): 24 symbols
# in 6 groups of 4 = 120 bits, typed from a printout without ambiguity.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS, GROUP_LEN = 6, 4


def new_passphrase() -> str:
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LEN)) for _ in range(GROUPS))


def normalise(passphrase: str) -> str:
    """What a teacher types, made comparable: case, spaces and dashes do not matter."""
    raw = "".join(ch for ch in passphrase.upper() if ch.isalnum())
    raw = raw.replace("O", "0").replace("I", "1").replace("L", "1")
    return "-".join(raw[i : i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


def _aad(teacher_id: str) -> bytes:
    return f"{FORMAT}|private-key|{teacher_id}".encode()


def lookup(teacher_id: str, passphrase: str) -> str:
    """What finds a reader's keyring in a published site: the build names each keyring
    by a keyed hash of this, so a copy of the site does not say whose keyring is whose.
    A fast hash is enough: passphrases are generated with 120 bits, never chosen.
    The browser computes the same from what the teacher types."""
    text = f"{FORMAT}|lookup|{teacher_id}|{normalise(passphrase)}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Account:
    teacher: str
    public_raw: bytes
    private_locked: dict[str, object]
    created: str
    lookup: str  # see ``lookup``: "" in an account made before keyrings had hidden names

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "format": FORMAT,
                    "teacher": self.teacher,
                    "public_key": crypto.b64(self.public_raw),
                    "private_key": self.private_locked,
                    "lookup": self.lookup,
                    "created": self.created,
                },
                indent=2,
            )
            + "\n"
        )

    @property
    def fingerprint(self) -> str:
        """Names this key pair: a reset makes a new one, so the build can tell and rotate."""
        return hashlib.sha256(self.public_raw).hexdigest()[:16]

    def unlock(self, passphrase: str) -> bytes:
        """The private key (PKCS#8); CryptoError on a wrong passphrase."""
        return crypto.unlock_private_key(self.private_locked, normalise(passphrase), _aad(self.teacher))


def create(teacher_id: str) -> tuple[Account, str]:
    """A new key pair and passphrase; the passphrase is returned once, never stored."""
    passphrase = new_passphrase()
    pair = crypto.new_key_pair()
    locked = crypto.lock_private_key(pair.private_pkcs8, passphrase, _aad(teacher_id))
    created = dt.date.today().isoformat()
    return Account(teacher_id, pair.public_raw, locked, created, lookup(teacher_id, passphrase)), passphrase


def relock(account: Account, old: str) -> tuple[Account, str]:
    """Same key pair, new passphrase (the old one is needed)."""
    private = account.unlock(old)
    passphrase = new_passphrase()
    locked = crypto.lock_private_key(private, passphrase, _aad(account.teacher))
    found = lookup(account.teacher, passphrase)
    return Account(account.teacher, account.public_raw, locked, account.created, found), passphrase


# --- files -------------------------------------------------------------------


def account_path(archive_root: Path, teacher_id: str) -> Path:
    return archive_root / ACCESS_DIR / f"{teacher_id}.json"


def load(archive_root: Path, teacher_id: str) -> Account:
    path = account_path(archive_root, teacher_id)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT or data.get("teacher") != teacher_id:
            raise ValueError("not a yidang account file for this teacher")
        return Account(
            teacher_id,
            crypto.unb64(data["public_key"]),
            data["private_key"],
            data.get("created", ""),
            data.get("lookup", ""),
        )
    except FileNotFoundError:
        raise YidangError(f"{teacher_id} has no account (yidang access add {teacher_id})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise YidangError(f"{path}: unreadable account file: {exc}") from None


def save(archive_root: Path, account: Account, *, replace: bool = False) -> Path:
    """Write the account file; never overwrites one unless ``replace``."""
    path = account_path(archive_root, account.teacher)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not replace:
        raise YidangError(
            f"{account.teacher} already has an account ({path}); use `yidang access passwd {account.teacher}`"
        )
    try:
        write_atomic(path, account.to_json(), replace=replace)
    except FileExistsError:
        raise YidangError(f"{account.teacher} already has an account ({path})") from None
    return path


def accounts(archive_root: Path) -> list[str]:
    folder = archive_root / ACCESS_DIR
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


# --- rights ------------------------------------------------------------------


@dataclass(frozen=True)
class Rights:
    """What one reader may open: everything, or these students, classes and teacher pages."""

    everything: bool
    students: frozenset[str]
    classes: frozenset[str]
    teachers: frozenset[str]


def rights(archive: Archive, teacher_id: str) -> Rights:
    """Rights as of ``archive.as_of``: leadership and office read all; head teachers their
    class's current students; mentors their current mentees and their own teacher page."""
    if archive.leadership_role(teacher_id) is not None:
        return Rights(
            True, frozenset(archive.students), frozenset(archive.classes), frozenset(archive.teachers)
        )
    classes = {c.id for c in archive.head_of(teacher_id)}
    students = {s.id for s in archive.mentees(teacher_id)}
    students |= {s.id for c in classes for s in archive.in_class(c) if s.active}
    return Rights(False, frozenset(students), frozenset(classes), frozenset({teacher_id}))
