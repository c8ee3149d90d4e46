"""``yidang transfer``: a student's whole file, sealed for the school they move to.

The sending school seals every file of the student's folder (registration form,
plan, records, photos) and the transfer copy of the booklet (a PDF/A-3 that
carries the same files as attachments) to the receiving school's intake public
key, which that school gives out as a key card (``yidang access intake
--card``). Only the holder of that school's intake passphrase opens the bundle;
its size is padded to a bucket, as the site's blobs are. On a branch
``transfer/<id>``, the student is marked transferred (status, date, reason,
destination) and their open mentoring ends; the file itself stays here.

The receiving school's ``yidang intake`` opens the bundle with its intake key
(:func:`arrival`) and writes a new student folder on a branch of its own: the
id renumbered when it clashes, the class and mentor given by the office, the
records kept as they were written there (``from_school``, with the teachers'
names for their ids), the old plan and the received booklet under
``transferred/``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from generator.archive.load import parse_yaml, split_front_matter
from generator.archive.model import Archive
from generator.archive.read import SOURCE_ENTRIES, read_archive, source_files
from generator.booklets.booklet import Fonts, make_booklets
from generator.core import crypto, git, labels
from generator.core.files import write_atomic
from generator.core.problems import ArchiveInvalid, Refused, UsageError
from generator.core.text import shown
from generator.protect import access
from generator.protect.seal import pad, unpad
from generator.review import edit

FORMAT = "yidang-transfer-1"
CARD_FORMAT = "yidang-intake-card-1"
RECEIVED = "transferred"  # where the old plan and the received booklet go, in the new folder
MAX_BUNDLE = 512 * 1024 * 1024  # a whole file: records, photos and the booklet
MAX_FILES = 5000
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")  # schema.Id
NAME = re.compile(r'[^<>&"\x00-\x1f\x7f-\x9f\u2028\u2029]{1,60}')  # schema.Name, on one line
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A file of a student's folder: known entries, then plain names (no hidden file, no control
# character, no way up); the path inside the new folder is built from these parts alone.
PART = re.compile(r"[^/\\\x00-\x1f\x7f-\x9f.][^/\\\x00-\x1f\x7f-\x9f]{0,99}")


# --- the receiving school's key card ---------------------------------------------------


@dataclass(frozen=True)
class Card:
    """A school's intake public key, with its name: what another school seals a transfer to."""

    school: str
    public_raw: bytes

    @property
    def fingerprint(self) -> str:
        return crypto.fingerprint(self.public_raw)


def card_json(school: str, key: access.IntakeKey) -> str:
    """The card a school hands to the schools that send it students (public parts only)."""
    data = {"format": CARD_FORMAT, "school": school, "public_key": crypto.b64(key.public_raw)}
    return json.dumps({**data, "fingerprint": key.fingerprint}, ensure_ascii=False, indent=2) + "\n"


def read_card(path: Path) -> Card:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != CARD_FORMAT:
            raise ValueError("no card format")
        card = Card(str(data["school"]), crypto.unb64(data["public_key"]))
        if data.get("fingerprint") != card.fingerprint:
            raise ValueError("fingerprint does not match the key")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(labels.error("transfer", "bad_card", path=path, why=exc)) from None
    return card


# --- sending ---------------------------------------------------------------------------


@dataclass
class BookletSettings:
    """What the booklet needs from mkdocs.yml (the CLI reads it; review cannot import build)."""

    labels: dict[str, Any]
    templates_dir: Path
    fonts: Fonts


@dataclass
class Sent:
    student: str
    school: str
    branch: str
    out: Path
    files: int
    size: int
    fingerprint: str


def same_fingerprint(card: Card, heard: str) -> bool:
    """Whether what the receiving school read out by phone is the card's fingerprint (spaces,
    colons, dashes and case do not matter)."""
    return re.sub(r"[^0-9a-f]", "", heard.lower()) == card.fingerprint


def spoken(fingerprint: str) -> str:
    """A fingerprint as read out by phone: groups of four."""
    return " ".join(fingerprint[i : i + 4] for i in range(0, len(fingerprint), 4))


def send(
    archive_root: Path,
    student_id: str,
    card_path: Path,
    out: Path,
    booklet: BookletSettings,
    *,
    fingerprint: str,
    on: dt.date | None = None,
    base: str = "main",
) -> Sent:
    """Seal the student's file to the card's school into ``out`` and mark the student
    transferred on a new branch. Nothing is written when anything is wrong, and nothing
    is sealed unless ``fingerprint`` — read out by the receiving school, by phone — is the
    card's: a card sent by e-mail or chat can be swapped on the way."""
    on = on or dt.date.today()
    card = read_card(card_path)
    if not same_fingerprint(card, fingerprint):
        raise UsageError(labels.error("transfer", "fingerprint", card=spoken(card.fingerprint)))
    if out.exists():
        raise UsageError(labels.error("transfer", "out_exists", out=out))
    repo = git.toplevel(archive_root)
    if repo is None:
        raise UsageError(labels.error("rollover", "no_git", root=archive_root, command="yidang transfer"))
    prefix = archive_root.resolve().relative_to(repo.resolve())
    branch = f"transfer/{student_id}"
    if git.maybe(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"):
        raise UsageError(labels.error("rollover", "branch_exists", branch=branch))
    with git.worktree(repo, base) as tree:
        root = tree / prefix
        archive = _valid(root)
        _may_send(root, archive, student_id, card)
        sealed, files = _bundle(root, archive, student_id, card, on, booklet)
    _mark_transferred(repo, prefix, base, branch, archive, student_id, card.school, on)
    write_atomic(out, sealed, mode=0o600)
    return Sent(student_id, card.school, branch, out, files, len(sealed), card.fingerprint)


def _valid(root: Path) -> Archive:
    result = read_archive(root)
    if result.archive is None:
        raise ArchiveInvalid(result.problems, labels.error("rollover", "archive_errors"))
    return result.archive


def _may_send(root: Path, archive: Archive, student_id: str, card: Card) -> None:
    student = archive.students.get(student_id)
    if student is None:
        raise UsageError(labels.error("transfer", "no_student", id=student_id, folder=root.name))
    if not student.active:
        raise UsageError(labels.error("transfer", "not_active", id=student_id, status=student.profile.status))
    own = access.load_intake(root)
    if own is not None and own.fingerprint == card.fingerprint:
        raise UsageError(labels.error("transfer", "own_card"))


def _bundle(
    root: Path, archive: Archive, student_id: str, card: Card, on: dt.date, booklet: BookletSettings
) -> tuple[bytes, int]:
    """The sealed bundle (JSON, ready to write) and how many source files it holds."""
    folder = root / "students" / student_id
    files = {rel: path.read_bytes() for rel, path in source_files(folder)}
    text = "\n".join(
        data.decode("utf-8", "replace") for rel, data in files.items() if not rel.startswith("photos/")
    )
    inner = {
        "format": FORMAT,
        "school": archive.school.name,
        "student": student_id,
        "sent": on.isoformat(),
        "teachers": {
            t.id: t.name for t in archive.teachers.values() if re.search(rf"\b{re.escape(t.id)}\b", text)
        },
        "files": {rel: crypto.b64(data) for rel, data in files.items()},
        "booklet": crypto.b64(_transfer_copy(root, student_id, on, booklet)),
    }
    info = f"{FORMAT}|{card.fingerprint}".encode()
    epk, sealed = crypto.seal_to(card.public_raw, pad(json.dumps(inner, ensure_ascii=False).encode()), info)
    outer = {"format": FORMAT, "intake": card.fingerprint, "epk": crypto.b64(epk), "data": crypto.b64(sealed)}
    return (json.dumps(outer) + "\n").encode(), len(files)


def _transfer_copy(root: Path, student_id: str, on: dt.date, booklet: BookletSettings) -> bytes:
    """The booklet with the source files attached, made in a private temporary folder."""
    with tempfile.TemporaryDirectory(prefix="yidang-transfer-") as tmp:
        report = make_booklets(
            root,
            Path(tmp),
            booklet.labels,
            booklet.templates_dir,
            booklet.fonts,
            students=[student_id],
            force=True,
            as_of=on,
            attach=True,
        )
        made = [r for r in report.results if r.status == "rendered"]
        if not made:
            failed = "; ".join(r.error or ", ".join(r.missing) for r in report.results)
            raise UsageError(
                labels.error("transfer", "booklet_failed", id=student_id, why=failed or "no booklet made")
            )
        return made[0].path.read_bytes()


def _mark_transferred(
    repo: Path,
    prefix: Path,
    base: str,
    branch: str,
    archive: Archive,
    student_id: str,
    school: str,
    on: dt.date,
) -> None:
    """Status transferred, the date, the reason, the destination; mentoring ends that day."""
    words = labels.shipped()["transfer"]
    with git.new_branch(repo, base, branch) as tree:
        path = tree / prefix / "students" / student_id / "profile.yml"
        profile = archive.students[student_id].profile
        reason = words["reason"].format(school=school)
        text = edit.close(path.read_text(encoding="utf-8"), profile, on, reason, "transferred")
        write_atomic(path, edit.set_top(text, "transferred_to", edit.scalar(school)), replace=True)
        checked = read_archive(tree / prefix, as_of=on, folders=[student_id], keep=False)
        errors = [p for p in checked.problems if p.severity == "error"]
        if errors:
            raise ArchiveInvalid(errors, labels.error("transfer", "would_err"))
        message = words["commit"].format(student=student_id, school=school, on=on)
        git.commit(tree, message, ("yidang transfer", "transfer@yidang.invalid"))


# --- receiving -------------------------------------------------------------------------


@dataclass
class Arrival:
    """An opened bundle, made into the files of a new student folder here."""

    school: str  # where the student comes from
    old_id: str
    id: str  # here: the old id, or a new one when it clashes
    files: dict[str, bytes]  # path in the new folder → content
    records: int

    @property
    def branch(self) -> str:
        return f"transfer/in-{self.id}"


def looks_like_bundle(path: Path) -> bool:
    """Whether a file starts as a bundle does (its size limit is a bundle's, not a record's)."""
    with open(path, "rb") as fh:
        return FORMAT.encode() in fh.read(64)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise Refused(labels.error("transfer", "not_bundle")) from None


def is_bundle(data: bytes) -> bool:
    try:
        outer = json.loads(data)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return False
    return isinstance(outer, dict) and outer.get("format") == FORMAT


def open_bundle(data: bytes, keys: dict[str, bytes]) -> dict[str, Any]:
    """The bundle's content, opened with this school's intake keys (fingerprint → key)."""
    outer = _json(data)
    try:
        epk, sealed, fp = crypto.unb64(outer["epk"]), crypto.unb64(outer["data"]), outer["intake"]
    except (ValueError, KeyError, TypeError):
        raise Refused(labels.error("transfer", "not_bundle")) from None
    if not isinstance(fp, str) or fp not in keys:
        raise Refused(labels.error("transfer", "other_school", fp=shown(fp)))
    try:
        inner = _json(unpad(crypto.open_to(keys[fp], epk, sealed, f"{FORMAT}|{fp}".encode())))
    except crypto.CryptoError:
        raise Refused(labels.error("transfer", "damaged")) from None
    if not isinstance(inner, dict) or inner.get("format") != FORMAT:
        raise Refused(labels.error("transfer", "not_bundle"))
    return inner


def _matching(value: Any, pattern: re.Pattern[str], what: str) -> str:
    """A value of the bundle that becomes part of a path, a branch, a commit or YAML: it must
    match ``pattern`` before it is used (the bundle needs no signature: anyone can seal one)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise Refused(labels.error("transfer", "bad_value", what=what))
    return value


def arrival(
    inner: dict[str, Any], archive: Archive, root: Path, class_id: str, mentor: str, on: dt.date
) -> Arrival:
    """The new folder's files: the profile placed here, the records as written there."""
    school = _matching(inner.get("school"), NAME, "school")
    old_id = _matching(inner.get("student"), ID, "student")
    sent = _matching(inner.get("sent"), DATE, "sent")
    raw_teachers, raw_files = inner.get("teachers"), inner.get("files")
    if not isinstance(raw_teachers, dict) or not isinstance(raw_files, dict) or len(raw_files) > MAX_FILES:
        raise Refused(labels.error("transfer", "not_bundle"))
    teachers = {_matching(k, ID, "teachers"): _matching(v, NAME, "teachers") for k, v in raw_teachers.items()}
    try:
        files = {_safe(rel): crypto.unb64(data) for rel, data in raw_files.items()}
        booklet = crypto.unb64(inner["booklet"])
    except (ValueError, KeyError, TypeError):
        raise Refused(labels.error("transfer", "not_bundle")) from None
    if "profile.yml" not in files:
        raise Refused(labels.error("transfer", "no_profile"))
    new_id = _matching(_free_id(old_id, archive, root), ID, "student")
    out = {
        "profile.yml": _placed_profile(
            files.pop("profile.yml"), new_id, school, old_id, class_id, mentor, on, teachers
        )
    }
    for rel, data in files.items():
        if rel == "plan.md":
            out[f"{RECEIVED}/plan.md"] = data
        elif rel.startswith("records/"):
            out[rel] = _record_from(data, rel, school, teachers)
        else:
            out[rel] = data
    out[f"{RECEIVED}/{sent}-{old_id}.pdf"] = booklet
    return Arrival(school, old_id, new_id, out, sum(r.startswith("records/") for r in out))


def _safe(rel: Any) -> str:
    """A path inside the new folder, under one of a student folder's entries, each part a
    plain name; never ``..``, a hidden file or a control character."""
    parts = rel.split("/") if isinstance(rel, str) else []
    if not parts or parts[0] not in SOURCE_ENTRIES or not all(PART.fullmatch(p) for p in parts):
        raise Refused(labels.error("transfer", "outside", rel=shown(rel)))
    return PurePosixPath(*parts).as_posix()


def _free_id(old_id: str, archive: Archive, root: Path) -> str:
    """The old id when free here, else the old id with -2, -3 …"""
    taken = set(archive.students) | {p.name for p in (root / "students").iterdir()}
    candidate, n = old_id, 2
    while candidate in taken:
        candidate, n = f"{old_id}-{n}", n + 1
    return candidate


def _placed_profile(
    data: bytes,
    new_id: str,
    school: str,
    old_id: str,
    class_id: str,
    mentor: str,
    on: dt.date,
    teachers: dict[str, str],
) -> bytes:
    """The registration form as this school keeps it: its id, class and mentor, where the
    student came from; ids of that school's teachers turned into their names."""
    try:
        profile = yaml.safe_load(data.decode("utf-8"))
        assert isinstance(profile, dict)
    except (UnicodeDecodeError, yaml.YAMLError, AssertionError):
        raise Refused(labels.error("transfer", "bad_profile")) from None
    for key in ("status", "closed_on", "closed_reason", "transferred_to"):
        profile.pop(key, None)
    profile.update(id=new_id, enrolled_on=on, transferred_from={"school": school, "date": on, "id": old_id})
    profile["class"] = class_id
    profile["mentors"] = [{"teacher": mentor, "since": on, "mode": "one_to_one"}]
    for entry in [*profile.get("categories", []), *profile.get("persuasion_records", [])]:
        for key in ("verified_by", "by"):
            if isinstance(entry, dict) and entry.get(key) in teachers:
                entry[key] = teachers[entry[key]]
    return yaml.dump(profile, Dumper=_Plain, allow_unicode=True, sort_keys=False).encode("utf-8")


class _Plain(yaml.SafeDumper):
    """YAML as people write it: one date written twice stays two dates, not an anchor."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _record_from(data: bytes, rel: str, school: str, teachers: dict[str, str]) -> bytes:
    """A record as written there, its lines kept; the teachers named, ``from_school`` added."""
    try:
        text = data.decode("utf-8")
        meta_text = split_front_matter(text)[0]
        meta = parse_yaml(meta_text).data
        assert isinstance(meta, dict)
    except Exception:  # any unreadable record refuses the bundle: nothing is half taken in
        raise Refused(labels.error("transfer", "bad_record", rel=rel)) from None
    edited = meta_text
    for key in ("by", "reviewed_by"):
        if meta.get(key) in teachers:
            edited = edit.set_top(edited, key, edit.scalar(teachers[meta[key]]))
    edited = edit.set_top(edited, "from_school", edit.scalar(school))
    return text.replace(meta_text, edited, 1).encode("utf-8")
