"""``yidang intake``: sealed records from the site become review branches.

A teacher's form in the protected site signs the record with their account's
signing key and seals it to the school's intake key (``archives/access/
intake.json``). Here, on the office's machine or in a CI job, each file is
opened, its signature checked against the teacher's account, the teacher's
right to write for the student on the record's date checked, the record
written as an ordinary record file (photos prepared as the archive's photos
are) on a new branch from ``base``, checked as ``yidang check --strict`` checks
it, and committed with the teacher as its author.

Nothing is lost: a file taken in moves to ``processed/``, a refused one to
``rejected/`` with a ``.reason.txt`` beside it. A file taken in once is refused
as a duplicate the next time (its id is in ``processed/``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from generator.archive.model import Archive
from generator.archive.photos import prepare
from generator.archive.read import read_archive
from generator.core import crypto, git, labels
from generator.core.files import write_atomic
from generator.core.problems import Refused, UsageError, YidangError
from generator.protect import access
from generator.protect.seal import unpad
from generator.review import transfer
from generator.review.new import record_path

FORMAT = "yidang-submission-1"
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
PROCESSED, REJECTED = "processed", "rejected"
SUFFIX = ".yidang"
INTAKE_COMMITTER = ("yidang intake", "intake@yidang.invalid")  # when the office PC has no git identity


@dataclass(frozen=True)
class Submission:
    """An opened and verified submission."""

    id: str
    teacher: str
    student: str
    record: dict[str, Any]
    body: str
    photos: list[bytes]

    @property
    def date(self) -> dt.date:
        return dt.date.fromisoformat(str(self.record.get("date")))

    @property
    def branch(self) -> str:
        return f"intake/{self.date}-{self.student}-{self.id[:8]}"


@dataclass
class Outcome:
    """What happened to one file."""

    file: Path
    status: str  # accepted, would be accepted (--dry-run), rejected
    reason: str = ""
    submission: Submission | None = None
    url: str = ""  # the pull request to open, after --push
    arrival: transfer.Arrival | None = None  # a student's file from another school

    @property
    def branch(self) -> str | None:
        found = self.submission or self.arrival
        return found.branch if found is not None else None


@dataclass(frozen=True)
class Placement:
    """Where a student transferred in is placed here: their class and mentor, from the day."""

    class_id: str
    mentor: str
    on: dt.date


@dataclass
class _Desk:
    """What every file of one intake run is handled with."""

    keys: dict[str, bytes]
    accounts: dict[str, access.Account]
    archive: Archive
    root: Path  # the archive, in a work tree of the base branch
    repo: Path
    prefix: Path
    base: str
    dry_run: bool
    placement: Placement | None


def intake(
    archive_root: Path,
    sources: list[Path],
    passphrase: str,
    *,
    base: str = "main",
    dry_run: bool = False,
    push: str | None = None,
    placement: Placement | None = None,
) -> list[Outcome]:
    """Take in every sealed file in ``sources`` (files, or folders of them): teachers'
    records, and students' files from other schools (which need a ``placement``)."""
    keys = _unlocked_keys(archive_root, passphrase)
    repo = git.toplevel(archive_root)
    if repo is None:
        raise UsageError(f"{archive_root} is not in a git repository: intake makes a branch per record")
    prefix = archive_root.resolve().relative_to(repo.resolve())
    files = _files(sources)
    with git.worktree(repo, base) as tree:
        archive = _read(tree / prefix)
        _check_placement(files, archive, placement)
        desk = _Desk(
            keys, _accounts(tree / prefix), archive, tree / prefix, repo, prefix, base, dry_run, placement
        )
        outcomes = [_one(path, desk) for path in files]
    for outcome in outcomes:
        if outcome.status == "accepted" and outcome.branch is not None and push:
            outcome.url = _push(repo, push, outcome.branch, base)
    return outcomes


def _check_placement(files: list[Path], archive: Archive, placement: Placement | None) -> None:
    """A transfer bundle among the files needs a class and a mentor that exist here; said
    before any file is touched."""
    bundles = [p.name for p in files if transfer.is_bundle(p.read_bytes())]
    if not bundles:
        return
    if placement is None:
        raise UsageError(labels.error("transfer", "placement", file=bundles[0]))
    if placement.class_id not in archive.classes:
        raise UsageError(labels.error("transfer", "unknown_class", id=placement.class_id))
    if placement.mentor not in archive.teachers:
        raise UsageError(labels.error("transfer", "unknown_mentor", id=placement.mentor))


def _unlocked_keys(archive_root: Path, passphrase: str) -> dict[str, bytes]:
    """Fingerprint → private key of the current and retired intake keys that open with
    ``passphrase``; a wrong passphrase is an error before any file is touched."""
    found = access.intake_keys(archive_root)
    if not found:
        raise UsageError("the school has no intake key yet: yidang access intake")
    keys = {}
    for key in found:
        with contextlib.suppress(crypto.CryptoError):
            keys[key.fingerprint] = key.unlock(passphrase)
    if found[0].fingerprint not in keys:
        raise YidangError("wrong passphrase for the intake key (nothing was taken in)")
    return keys


def _files(sources: list[Path]) -> list[Path]:
    out: list[Path] = []
    for source in sources:
        if source.is_dir():
            out += sorted(p for p in source.iterdir() if p.is_file() and p.suffix == SUFFIX)
        elif source.is_file():
            out.append(source)
        else:
            raise UsageError(f"no such file or folder: {source}")
    return out


def _read(root: Path) -> Archive:
    result = read_archive(root)
    if result.archive is None:
        raise YidangError("the archive on the base branch has errors; fix them first (yidang check)")
    return result.archive


def _one(path: Path, desk: _Desk) -> Outcome:
    data = path.read_bytes()
    try:
        if transfer.is_bundle(data):
            return _arrive(path, data, desk)
        submission = open_submission(data, desk.keys, desk.accounts)
        _check_new(path, submission, desk.repo)
        _check_right(desk.archive, submission)
        _commit(submission, desk.archive, desk.repo, desk.prefix, desk.base, desk.dry_run)
    except Refused as exc:
        if not desk.dry_run:
            _file_away(path, REJECTED, path.name, str(exc))
        return Outcome(path, "rejected", str(exc))
    if desk.dry_run:
        return Outcome(path, "would be accepted", submission=submission)
    _file_away(path, PROCESSED, f"{submission.id}{SUFFIX}")
    return Outcome(path, "accepted", submission=submission)


def _arrive(path: Path, data: bytes, desk: _Desk) -> Outcome:
    """A student's file from another school: a new student folder on a branch of its own."""
    assert desk.placement is not None  # _check_placement said so before any file was touched
    place = desk.placement
    inner = transfer.open_bundle(data, desk.keys)
    found = transfer.arrival(inner, desk.archive, desk.root, place.class_id, place.mentor, place.on)
    if git.maybe(desk.repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{found.branch}"):
        raise Refused(f"duplicate: branch {found.branch} exists")
    with git.new_branch(desk.repo, desk.base, found.branch) as tree:
        folder = tree / desk.prefix / "students" / found.id
        for rel, content in found.files.items():
            write_atomic(folder / rel, content)
        _check_arrival(tree / desk.prefix, found)
        if not desk.dry_run:
            message = labels.shipped()["transfer"]["intake_commit"].format(
                student=found.id, school=found.school, id=found.old_id
            )
            # --force: the received booklet is a *.pdf, which a school's .gitignore leaves out
            git.commit(tree, message, INTAKE_COMMITTER, add=("--force", str(folder)))
    if desk.dry_run:
        return Outcome(path, "would be accepted", arrival=found)
    _file_away(path, PROCESSED, path.name)
    return Outcome(path, "accepted", arrival=found)


def _check_arrival(root: Path, found: transfer.Arrival) -> None:
    """The new folder as `yidang check` sees it: any error refuses the bundle."""
    result = read_archive(root, folders=[found.id], keep=False)
    errors = [p for p in result.problems if p.severity == "error"]
    if errors:
        raise Refused(
            "the student's file would not be valid here: " + "; ".join(p.text() for p in errors[:5])
        )


def _accounts(archive_root: Path) -> dict[str, access.Account]:
    out = {}
    for teacher in access.accounts(archive_root):
        with contextlib.suppress(YidangError):
            out[teacher] = access.load(archive_root, teacher)
    return out


def open_submission(data: bytes, keys: dict[str, bytes], accounts: dict[str, access.Account]) -> Submission:
    """Open a sealed file with the intake keys and verify it against the teacher's account."""
    try:
        outer = json.loads(data)
        assert outer["format"] == FORMAT
        epk, sealed, fp = crypto.unb64(outer["epk"]), crypto.unb64(outer["data"]), str(outer["intake"])
    except (ValueError, KeyError, TypeError, AssertionError):
        raise Refused("not a yidang submission (or damaged)") from None
    if fp not in keys:
        raise Refused(f"sealed to another intake key ({fp}), not this school's")
    try:
        inner = json.loads(unpad(crypto.open_to(keys[fp], epk, sealed, f"{FORMAT}|{fp}".encode())))
        teacher, signed, sig = (
            str(inner["teacher"]),
            crypto.unb64(inner["signed"]),
            crypto.unb64(inner["sig"]),
        )
    except crypto.CryptoError:
        raise Refused("cannot be opened: the file was changed or damaged") from None
    except (ValueError, KeyError, TypeError):
        raise Refused("not a yidang submission (or damaged)") from None
    account = accounts.get(teacher)
    if account is None or not account.sign_public_raw:
        raise Refused(f"unknown or removed account '{teacher}': no signature to check it against")
    if not crypto.verify(account.sign_public_raw, signed, sig):
        raise Refused(f"bad signature: not signed by {teacher}'s account, or changed after signing")
    payload = json.loads(signed)
    if payload.get("teacher") != teacher or payload.get("intake") != fp or payload.get("format") != FORMAT:
        raise Refused("the signed record does not match its envelope")
    try:
        photos = [crypto.unb64(p["data"]) for p in payload.get("photos", [])]
        record = dict(payload["record"])
        return Submission(
            str(payload["id"]), teacher, str(payload["student"]), record, str(payload["body"]), photos
        )
    except (ValueError, KeyError, TypeError):
        raise Refused("not a yidang submission (or damaged)") from None


def _check_new(path: Path, submission: Submission, repo: Path) -> None:
    """The same submission twice (a file sent twice, a replay) is refused."""
    if (path.parent / PROCESSED / f"{submission.id}{SUFFIX}").exists():
        raise Refused(f"duplicate: submission {submission.id} was taken in before")
    if git.maybe(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{submission.branch}"):
        raise Refused(f"duplicate: branch {submission.branch} exists")


def _check_right(archive: Archive, submission: Submission) -> None:
    try:
        day = submission.date
    except ValueError:
        raise Refused(f"invalid record: date: not a date, got {submission.record.get('date')!r}") from None
    if not access.may_write(archive, submission.teacher, submission.student, day):
        raise Refused(f"{submission.teacher} may not write for {submission.student} on {day}")


def _commit(
    submission: Submission, archive: Archive, repo: Path, prefix: Path, base: str, dry_run: bool
) -> None:
    """Write the record (and its photos) on a new branch, check it, commit it as the teacher.
    A record refused here (or a dry run) leaves no branch behind."""
    taken = _pending_names(repo, prefix, submission.student)
    with git.new_branch(repo, base, submission.branch) as tree:
        _write_and_check(tree / prefix, submission, taken)
        if not dry_run:
            _commit_as_teacher(tree, submission, archive)


def _pending_names(repo: Path, prefix: Path, student: str) -> set[str]:
    """Record file names the student's other intake branches (not merged yet) already use:
    two records of one type and day, taken in apart, must not meet under one name."""
    records = (prefix / "students" / student / "records").as_posix()
    heads = (git.maybe(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/intake/") or "").split()
    return {
        name.rsplit("/", 1)[-1]
        for head in heads
        for name in (git.maybe(repo, "ls-tree", "--name-only", head, f"{records}/") or "").split()
    }


def _write_and_check(root: Path, submission: Submission, taken: set[str]) -> None:
    folder = root / "students" / submission.student
    names = _write_photos(folder, submission)
    path = record_path(folder, str(submission.record.get("type")), submission.date, taken)
    write_atomic(path, record_text(submission, names))
    _check_record(root, submission, path.relative_to(root).as_posix())


def _commit_as_teacher(tree: Path, submission: Submission, archive: Archive) -> None:
    """One commit with only the new record and photos; the teacher (teachers.yml) is its author."""
    teacher = archive.teachers[submission.teacher]
    message = labels.shipped()["messages"]["intake_commit"].format(
        type=labels.shipped()["types"].get(submission.record.get("type"), ""),
        student=submission.student,
        date=submission.date,
        teacher=submission.teacher,
        id=submission.id,
    )
    email = teacher.git_email or f"{teacher.git_user or teacher.id}@yidang.invalid"
    git.commit(tree, message, INTAKE_COMMITTER, author=f"{teacher.name} <{email}>")


def _write_photos(folder: Path, submission: Submission) -> list[str]:
    """The photos, prepared as the build prepares the archive's (resized, no EXIF)."""
    names = []
    for n, data in enumerate(submission.photos, start=1):
        try:
            prepared = prepare(data)
        except Exception:  # Pillow: not an image
            raise Refused(f"invalid record: photo {n} is not a readable image") from None
        name = f"photos/{submission.date}-{submission.id[:8]}-{n}.jpg"
        write_atomic(folder / name, prepared)
        names.append(name)
    return names


def record_text(submission: Submission, photos: list[str]) -> str:
    """An ordinary record file: front matter in the schema's order, then the narrative."""
    record = dict(submission.record)
    front: dict[str, Any] = {"type": record.pop("type", None), "date": record.pop("date", None)}
    front["by"] = submission.teacher
    front.update(record)
    for key, value in front.items():  # dates unquoted, as people write them in the archive
        if isinstance(value, str) and DATE.fullmatch(value):
            front[key] = dt.date.fromisoformat(value)
    if photos:
        front["photos"] = photos
    dumped = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return f"---\n{dumped}---\n\n{submission.body.strip()}\n"


def _check_record(root: Path, submission: Submission, rel: str) -> None:
    """As ``yidang check --strict`` sees the new file, in its student's folder: any error or
    warning about it refuses the submission (a date in the future is a warning there)."""
    result = read_archive(root, folders=[submission.student], keep=False)
    mine = [
        p
        for p in result.problems
        if p.path == rel or p.path.startswith(f"students/{submission.student}/photos/")
    ]
    if mine:
        raise Refused("invalid record: " + "; ".join(p.message for p in mine))


def _file_away(path: Path, folder: str, name: str, reason: str = "") -> Path:
    """Move a handled file beside its folder's processed/ or rejected/ (never overwriting)."""
    target_dir = path.parent / folder
    target_dir.mkdir(exist_ok=True)
    target = target_dir / name
    n = 2
    while target.exists():
        target, n = target_dir / f"{Path(name).stem}-{n}{Path(name).suffix}", n + 1
    os.rename(path, target)
    if reason:
        write_atomic(target.with_name(target.name + ".reason.txt"), reason + "\n")
    return target


def _push(repo: Path, remote: str, branch: str, base: str) -> str:
    """Push the branch; the address that opens its pull request (GitHub or Gitea)."""
    git.run(repo, "push", "--quiet", remote, f"{branch}:{branch}")
    return pull_request_url(git.run(repo, "remote", "get-url", remote).strip(), branch, base)


def pull_request_url(remote_url: str, branch: str, base: str) -> str:
    """GitHub: …/compare/BASE...BRANCH?expand=1; Gitea (and others): …/compare/BASE...BRANCH."""
    if remote_url.startswith("git@") and ":" in remote_url:
        host, path = remote_url[4:].split(":", 1)
        web = f"https://{host}/{path}"
    else:
        parsed = urlparse(remote_url)
        web = f"{parsed.scheme}://{parsed.hostname}{f':{parsed.port}' if parsed.port else ''}{parsed.path}"
    web = web.removesuffix(".git").rstrip("/")
    github = urlparse(web).hostname == "github.com"
    return f"{web}/compare/{base}...{branch}" + ("?expand=1" if github else "")
