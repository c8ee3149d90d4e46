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
from dataclasses import dataclass, replace
from pathlib import Path

from generator.archive.model import Archive, case_open_on
from generator.archive.schema import RECORD_KINDS
from generator.core import crypto, labels
from generator.core.files import write_atomic
from generator.core.problems import UsageError, YidangError
from generator.protect import keyring

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


def _sign_aad(teacher_id: str) -> bytes:
    return f"{FORMAT}|signing-key|{teacher_id}".encode()


@dataclass(frozen=True)
class Account:
    """A reader: a key pair for reading (ECDH: content keys are wrapped to it) and one for
    signing the records they submit (ECDSA; a key for each job). Both private keys are
    locked under one key derived from the passphrase (one PBKDF2 at login)."""

    teacher: str
    public_raw: bytes
    private_locked: dict[str, object]
    created: str
    lookup: str  # see ``lookup``: "" in an account made before keyrings had hidden names
    sign_public_raw: bytes = b""  # b"": an account made before records were signed
    sign_locked: dict[str, object] | None = None

    def to_json(self) -> str:
        data = {
            "format": FORMAT,
            "teacher": self.teacher,
            "public_key": crypto.b64(self.public_raw),
            "private_key": self.private_locked,
            "sign_public_key": crypto.b64(self.sign_public_raw),
            "sign_private_key": self.sign_locked,
            "lookup": self.lookup,
            "created": self.created,
        }
        return json.dumps(data, indent=2) + "\n"

    @property
    def fingerprint(self) -> str:
        """Names this key pair: a reset makes a new one, so the build can tell and rotate."""
        return hashlib.sha256(self.public_raw).hexdigest()[:16]

    @property
    def current(self) -> bool:
        """Made by this yidang: hidden keyring name and a signing key."""
        return bool(self.lookup and self.sign_public_raw and self.sign_locked)

    def unlock(self, passphrase: str) -> bytes:
        """The private key (PKCS#8); CryptoError on a wrong passphrase."""
        return crypto.unlock_private_key(self.private_locked, normalise(passphrase), _aad(self.teacher))

    def unlock_signing(self, passphrase: str) -> bytes:
        """The signing key (PKCS#8), for tests and tools that submit as this teacher."""
        assert self.sign_locked is not None
        return crypto.unlock_private_key(self.sign_locked, normalise(passphrase), _sign_aad(self.teacher))


def _account(
    teacher_id: str, reading: crypto.KeyPair, signing: crypto.KeyPair, created: str
) -> tuple[Account, str]:
    """An account for these key pairs under a new passphrase (returned once, never stored)."""
    passphrase = new_passphrase()
    # One PBKDF2 of the passphrase opens both keys and gives the lookup (protect/keyring.py):
    # nothing in a published site can test a guess more cheaply than that.
    locked, sign_locked, found = keyring.lock(
        teacher_id, reading.private_pkcs8, signing.private_pkcs8, normalise(passphrase)
    )
    account = Account(teacher_id, reading.public_raw, locked, created, found, signing.public_raw, sign_locked)
    return account, passphrase


def create(teacher_id: str) -> tuple[Account, str]:
    """New key pairs and passphrase; the passphrase is returned once, never stored."""
    return _account(teacher_id, crypto.new_key_pair(), crypto.new_key_pair(), dt.date.today().isoformat())


def relock(account: Account, old: str) -> tuple[Account, str]:
    """Same reading key pair, new passphrase (the old one is needed); an account without a
    signing key gets one."""
    reading = crypto.KeyPair(account.public_raw, account.unlock(old))
    if account.sign_locked is not None and account.sign_public_raw:
        signing = crypto.KeyPair(account.sign_public_raw, account.unlock_signing(old))
    else:
        signing = crypto.new_key_pair()
    return _account(account.teacher, reading, signing, account.created)


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
            crypto.unb64(data.get("sign_public_key") or ""),
            data.get("sign_private_key"),
        )
    except FileNotFoundError:
        raise YidangError(labels.error("commands", "no_account", id=teacher_id)) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise YidangError(labels.error("commands", "bad_account", path=path, why=exc)) from None


def save(archive_root: Path, account: Account, *, replace: bool = False) -> Path:
    """Write the account file; never overwrites one unless ``replace``."""
    path = account_path(archive_root, account.teacher)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not replace:
        raise YidangError(labels.error("commands", "account_exists", id=account.teacher, path=path))
    try:
        write_atomic(path, account.to_json(), replace=replace)
    except FileExistsError:
        raise YidangError(labels.error("commands", "account_exists", id=account.teacher, path=path)) from None
    return path


NOT_ACCOUNTS = {"intake", "inbox"}  # the school's intake key, and the upload inbox's secret


def accounts(archive_root: Path) -> list[str]:
    folder = archive_root / ACCESS_DIR
    found = (p.stem for p in folder.glob("*.json")) if folder.is_dir() else ()
    return sorted(name for name in found if name not in NOT_ACCOUNTS)


# --- the intake key: what teachers' submissions are sealed to -----------------------

INTAKE = "intake"
INTAKE_FORMAT = "yidang-intake-1"
INTAKE_AAD = f"{INTAKE_FORMAT}|private-key".encode()
RETIRED_DIR = "intake-retired"
# After `access intake --rotate`, phones that loaded the site before the next build still
# seal to the old key (an open page, a form filled offline): files sealed to it are taken
# in for this many days after it retired, then refused with a reason that says so.
INTAKE_GRACE_DAYS = 60


@dataclass(frozen=True)
class IntakeKey:
    """The school's intake key pair: the public part goes into the site (submissions are
    sealed to it); the private part, under its own passphrase, opens them (yidang intake).
    A retired key (``retired``: the day it was replaced) is kept under the *current*
    passphrase, so the office needs one passphrase for every key still in its grace period."""

    public_raw: bytes
    private_locked: dict[str, object]
    created: str
    retired: str = ""

    @property
    def fingerprint(self) -> str:
        return crypto.fingerprint(self.public_raw)

    def unlock(self, passphrase: str) -> bytes:
        """The private key (PKCS#8); CryptoError on a wrong passphrase."""
        return crypto.unlock_private_key(self.private_locked, normalise(passphrase), INTAKE_AAD)

    def in_grace(self, today: dt.date) -> bool:
        """A current key, or one retired at most INTAKE_GRACE_DAYS before ``today``."""
        if not self.retired:
            return True
        return (today - dt.date.fromisoformat(self.retired)).days <= INTAKE_GRACE_DAYS

    def to_json(self) -> str:
        data = {
            "format": INTAKE_FORMAT,
            "public_key": crypto.b64(self.public_raw),
            "private_key": self.private_locked,
            "fingerprint": self.fingerprint,
            "created": self.created,
            **({"retired": self.retired} if self.retired else {}),
        }
        return json.dumps(data, indent=2) + "\n"


def create_intake(today: dt.date | None = None) -> tuple[IntakeKey, str]:
    """A new intake key pair and its passphrase (returned once, never stored)."""
    passphrase = new_passphrase()
    pair = crypto.new_key_pair()
    locked = crypto.lock_private_key(pair.private_pkcs8, passphrase, INTAKE_AAD)
    return IntakeKey(pair.public_raw, locked, (today or dt.date.today()).isoformat()), passphrase


def intake_path(archive_root: Path) -> Path:
    return archive_root / ACCESS_DIR / f"{INTAKE}.json"


def _read_intake(path: Path) -> IntakeKey:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != INTAKE_FORMAT:
            raise ValueError("not a yidang intake key file")
        retired = str(data.get("retired", ""))
        if retired:
            dt.date.fromisoformat(retired)
        return IntakeKey(
            crypto.unb64(data["public_key"]), data["private_key"], data.get("created", ""), retired
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise YidangError(labels.error("commands", "bad_intake_key", path=path, why=exc)) from None


def load_intake(archive_root: Path) -> IntakeKey | None:
    """The current intake key, or None if the school has none yet."""
    path = intake_path(archive_root)
    return _read_intake(path) if path.is_file() else None


def _retired_paths(archive_root: Path) -> list[Path]:
    return sorted((archive_root / ACCESS_DIR / RETIRED_DIR).glob("*.json"), reverse=True)


def intake_keys(archive_root: Path) -> list[IntakeKey]:
    """The current intake key, then the retired ones (files sealed before a rotation)."""
    current = load_intake(archive_root)
    return ([current] if current else []) + [_read_intake(p) for p in _retired_paths(archive_root)]


def save_intake(archive_root: Path, key: IntakeKey) -> Path:
    """Write the school's first intake key; one that exists is replaced only by ``rotate_intake``."""
    path = intake_path(archive_root)
    if path.exists():
        raise UsageError(labels.error("access", "intake_exists", path=path))
    write_atomic(path, key.to_json())
    return path


def rotate_intake(
    archive_root: Path, passphrase: str | None, today: dt.date | None = None
) -> tuple[IntakeKey, str, int]:
    """Replace the intake key. The current key retires today; it and the retired keys still
    in their grace period are locked again under the new passphrase, so files sealed to them
    before the site was rebuilt are still taken in (``passphrase``: the current one; None
    when it is lost: then nothing sealed to the old keys can be opened again). Returns the
    new key, its passphrase and how many retired keys it opens."""
    today = today or dt.date.today()
    old = load_intake(archive_root)
    if old is None:
        raise UsageError(labels.error("intake", "no_key"))
    if passphrase is not None:
        try:
            old.unlock(passphrase)
        except crypto.CryptoError:
            raise YidangError(labels.error("intake", "wrong_passphrase")) from None
    key, new = create_intake(today)
    retired = [replace(old, retired=today.isoformat())]
    retired += [_read_intake(p) for p in _retired_paths(archive_root)]
    kept = 0
    for item in retired:
        relocked = _relock_intake(item, passphrase, new) if item.in_grace(today) else None
        kept += relocked is not None
        target = archive_root / ACCESS_DIR / RETIRED_DIR / f"{item.created}-{item.fingerprint}.json"
        write_atomic(target, (relocked or item).to_json(), replace=True)
    write_atomic(intake_path(archive_root), key.to_json(), replace=True)
    return key, new, kept


def _relock_intake(key: IntakeKey, old: str | None, new: str) -> IntakeKey | None:
    """``key`` locked under ``new``, or None when ``old`` does not open it."""
    if old is None:
        return None
    try:
        private = key.unlock(old)
    except crypto.CryptoError:
        return None
    return replace(key, private_locked=crypto.lock_private_key(private, new, INTAKE_AAD))


# --- the sample's demo keys -----------------------------------------------------

# The sample archive's keys, whose passphrases the README prints: the intake key and the
# three demo readers (tests/test_hostile_intake.py keeps this list equal to the sample's).
DEMO_FINGERPRINTS = frozenset(
    {"cd9750f0edaf7f99", "bff1728aa789f380", "f23ef0858356cdd9", "4697ab2695d67d30"}
)
DEMO_CREDENTIALS = "demo-credentials.yml"


def demo_keys(archive_root: Path) -> list[str]:
    """The files of ``access/`` that hold one of the sample's public demo keys (or its
    passphrases): a school that began from a copy of the sample must make its own."""
    found = []
    folder = archive_root / ACCESS_DIR
    intake = load_intake(archive_root)
    if intake is not None and intake.fingerprint in DEMO_FINGERPRINTS:
        found.append(f"{ACCESS_DIR}/{INTAKE}.json")
    for teacher in accounts(archive_root):
        try:
            public = load(archive_root, teacher).public_raw
        except YidangError:
            continue
        if crypto.fingerprint(public) in DEMO_FINGERPRINTS:
            found.append(f"{ACCESS_DIR}/{teacher}.json")
    if (folder / DEMO_CREDENTIALS).exists():
        found.append(f"{ACCESS_DIR}/{DEMO_CREDENTIALS}")
    return found


# --- rights ------------------------------------------------------------------


def may_write(archive: Archive, teacher_id: str, student_id: str, day: dt.date, kind: str = "") -> bool:
    """Whether a teacher may write a record of ``day`` for a student. The day must lie in the
    case's open period (from enrolment, or the first registration, to the day it closed) and
    not after ``archive.as_of`` (today, in the school's time zone), and in the writer's right
    on that day: leadership and the office any such day; the student's mentor on that day;
    the head teacher of the student's class while the case is open, from the start of the
    current term (classes.yml knows only today's head teachers); the counsellor role (心理教师)
    a need-to-know ``kind`` (心理辅导) for any student, while the case is open."""
    student = archive.students.get(student_id)
    if student is None or teacher_id not in archive.teachers or day > archive.as_of:
        return False
    if not case_open_on(student, day):
        return False
    if archive.leadership_role(teacher_id) is not None:
        return True
    declared = RECORD_KINDS.get(kind)
    if declared is not None and declared.need_to_know and "counsellor" in archive.teachers[teacher_id].roles:
        return True
    if any(m.teacher == teacher_id for m in student.mentors_on(day)):
        return True
    cls = archive.classes.get(student.profile.class_)
    return (
        cls is not None and cls.head_teacher == teacher_id and student.active and day >= _term_start(archive)
    )


def _term_start(archive: Archive) -> dt.date:
    """The first day of the term containing ``as_of`` (or of the last one begun, in a holiday)."""
    begun = [t.start for t in archive.terms if t.start <= archive.as_of]
    return max(begun, default=archive.as_of)


@dataclass(frozen=True)
class Rights:
    """What one reader may open: everything, or these students, classes and teacher pages,
    and the need-to-know records (心理辅导) of the students in ``counsel``."""

    everything: bool
    students: frozenset[str]
    classes: frozenset[str]
    teachers: frozenset[str]
    counsel: frozenset[str] = frozenset()
    counsellor: bool = False  # the counsellor role (心理教师): the counsellors' page of every open case


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
    counsel = _counsel(archive, teacher_id)
    role = teacher_id in archive.teachers and "counsellor" in archive.teachers[teacher_id].roles
    return Rights(False, frozenset(students), frozenset(classes), frozenset({teacher_id}), counsel, role)


def _counsel(archive: Archive, teacher_id: str) -> frozenset[str]:
    """Whose need-to-know records a teacher reads: every student's for the counsellor role
    (心理教师); else those of the students for whom they wrote such a record themselves."""
    teacher = archive.teachers.get(teacher_id)
    if teacher is not None and "counsellor" in teacher.roles:
        return frozenset(archive.students)
    return frozenset(s.id for s in archive.students.values() if teacher_id in s.need_writers)
