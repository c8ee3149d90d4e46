"""``yidang intake``: sealed records from the site become review branches.

A teacher's form in the protected site signs the record with their account's
signing key and seals it to the school's intake key (``archives/access/
intake.json``). Here, on the office's machine or in a CI job, each file in the
inbox is handled on its own, as hostile until proven otherwise:

1. opened and proven field by field (``submission.open_submission``): nothing
   that becomes a path, a branch name or a git argument is used before it
   matches its pattern;
2. refused if it was taken in before — the same submission, or a record of the
   same content (a double tap on the form) — on any branch of the repository,
   merged or not (each intake commit carries trailers that ``git log`` finds);
3. the teacher's right to write for the student on the record's date checked;
4. written into a temporary work tree of ``base`` (every path through
   ``files.write_inside``), checked as ``yidang check --strict`` checks it, and
   committed with the teacher as author on a new branch, without a work tree
   of its own (``git.commit_files``). A dry run stops before the commit.

A refusal moves the file to ``rejected/`` with a ``.reason.txt`` that names the
field and the problem, never the content; anything else that goes wrong with one
file (a bug included) refuses that file the same way: one file never stops the
run and never stays first in the inbox. Taken-in files move to ``processed/``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from generator.archive.groups import ACTIVITIES
from generator.archive.model import Archive
from generator.archive.photos import NotAPhoto, prepare
from generator.archive.read import read_archive
from generator.core import git, labels
from generator.core.files import OutsideTree, write_atomic, write_inside
from generator.core.problems import Problem, Refused, UsageError, YidangError
from generator.core.text import shown
from generator.protect import access
from generator.review import submission as sub
from generator.review import transfer
from generator.review.new import record_path

PROCESSED, REJECTED = "processed", "rejected"
SUFFIX = sub.SUFFIX
INTAKE_COMMITTER = ("yidang intake", "intake@yidang.invalid")  # when the office PC has no git identity
INTAKE_PIXELS = 12_000_000  # the page sends at most 1600 px a side; a camera's original is below this
TRAILER = re.compile(r"^Yidang-(Submission|Record|Branch): ([0-9a-zA-Z/_.-]+)$", re.MULTILINE)
TAKEN_LOG = "yidang-intake-taken"  # in the git folder: what this machine took in, merged or deleted since
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
Submission = sub.Submission


@dataclass
class Outcome:
    """What happened to one file."""

    file: Path
    status: str  # accepted, would be accepted (--dry-run), rejected
    reason: str = ""
    submission: Submission | None = None
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
    retired: dict[str, str]  # fingerprint → the day a key retired, past its grace period
    accounts: dict[str, access.Account]
    archive: Archive
    root: Path  # the archive, in a work tree of the base branch
    repo: Path
    prefix: Path
    base: str
    dry_run: bool
    placement: Placement | None
    taken: dict[str, str] = field(default_factory=dict)  # "submission:ID" / "record:DIGEST" → branch


def intake(
    archive_root: Path,
    sources: list[Path],
    passphrase: str,
    *,
    base: str = "main",
    dry_run: bool = False,
    placement: Placement | None = None,
    today: dt.date | None = None,
) -> list[Outcome]:
    """Take in every sealed file in ``sources`` (files, or folders of them): teachers'
    records, and students' files from other schools (which need a ``placement``)."""
    today = today or dt.date.today()
    repo = git.toplevel(archive_root)
    if repo is None:
        raise UsageError(labels.error("intake", "not_git", root=archive_root))
    _outside(repo, sources)
    keys, retired = _unlocked_keys(archive_root, passphrase, today)
    prefix = archive_root.resolve().relative_to(repo.resolve())
    files = _files(sources)
    with git.worktree(repo, base) as tree:
        archive = _read(tree / prefix, today)
        _check_placement(archive, placement)
        desk = _Desk(
            keys,
            retired,
            _accounts(tree / prefix),
            archive,
            tree / prefix,
            repo,
            prefix,
            base,
            dry_run,
            placement,
        )
        desk.taken = taken_before(repo)
        return [_one(path, desk) for path in files]


def _outside(repo: Path, sources: list[Path]) -> None:
    """An inbox inside the archive's repository is refused before anything is read: one
    `git add -A` there would commit sealed files, processed/ and rejected/ with their reasons."""
    for source in sources:
        if source.resolve().is_relative_to(repo.resolve()):
            raise UsageError(labels.error("intake", "inbox_inside", inbox=source, repo=repo))


def _check_placement(archive: Archive, placement: Placement | None) -> None:
    """The office's --class and --mentor must exist here: said before any file is touched."""
    if placement is None:
        return
    if placement.class_id not in archive.classes:
        raise UsageError(labels.error("transfer", "unknown_class", id=shown(placement.class_id)))
    if placement.mentor not in archive.teachers:
        raise UsageError(labels.error("transfer", "unknown_mentor", id=shown(placement.mentor)))


def _unlocked_keys(
    archive_root: Path, passphrase: str, today: dt.date
) -> tuple[dict[str, bytes], dict[str, str]]:
    """Fingerprint → private key of the current intake key and the retired ones still in their
    grace period (all under the current passphrase); and the retired keys past it, to say so.
    A wrong passphrase is an error before any file is touched."""
    found = access.intake_keys(archive_root)
    if not found:
        raise UsageError(labels.error("intake", "no_key"))
    keys, retired = {}, {}
    for key in found:
        if not key.in_grace(today):
            retired[key.fingerprint] = key.retired
            continue
        with contextlib.suppress(Exception):  # a retired key under a passphrase since lost
            keys[key.fingerprint] = key.unlock(passphrase)
    if found[0].fingerprint not in keys:
        raise YidangError(labels.error("intake", "wrong_passphrase"))
    return keys, retired


def _files(sources: list[Path]) -> list[Path]:
    out: list[Path] = []
    for source in sources:
        if source.is_dir():
            out += sorted(p for p in source.iterdir() if p.is_file() and p.suffix == SUFFIX)
        elif source.is_file():
            out.append(source)
        else:
            raise UsageError(labels.error("intake", "no_source", path=source))
    return out


def _read(root: Path, today: dt.date) -> Archive:
    result = read_archive(root, as_of=today)
    if result.archive is None:
        raise YidangError(labels.error("intake", "base_errors"))
    return result.archive


def _accounts(archive_root: Path) -> dict[str, access.Account]:
    out = {}
    for teacher in access.accounts(archive_root):
        with contextlib.suppress(YidangError):
            out[teacher] = access.load(archive_root, teacher)
    return out


# --- one file ----------------------------------------------------------------------


def _one(path: Path, desk: _Desk) -> Outcome:
    """One file, whatever it holds: taken in, or refused with its reason and kept."""
    try:
        outcome = _handle(path, desk)
    except Refused as exc:
        outcome = Outcome(path, "rejected", str(exc))
    except Exception as exc:
        outcome = Outcome(path, "rejected", labels.error("intake", "unexpected", kind=type(exc).__name__))
    if desk.dry_run:
        return outcome
    if outcome.status == "rejected":
        _file_away(path, REJECTED, path.name, outcome.reason)
    else:
        found = outcome.submission
        _file_away(path, PROCESSED, f"{found.id}{SUFFIX}" if found else path.name)
    return outcome


def _handle(path: Path, desk: _Desk) -> Outcome:
    data = sub.read(path, transfer.MAX_BUNDLE if transfer.looks_like_bundle(path) else sub.MAX_FILE)
    if transfer.is_bundle(data):
        return _arrive(path, data, desk)
    found = sub.open_submission(data, desk.keys, desk.accounts, desk.retired)
    _check_new(path, found, desk)
    _check_right(desk.archive, found)
    files = _staged_check(found, desk)
    status = "would be accepted" if desk.dry_run else "accepted"
    if not desk.dry_run:
        _commit(found, files, desk)
    desk.taken.update({f"submission:{found.id}": found.branch, f"record:{found.digest}": found.branch})
    return Outcome(path, status, submission=found)


def _check_new(path: Path, found: Submission, desk: _Desk) -> None:
    """The same submission twice (a file sent twice, a replay from another folder) or the
    same record in another submission (a double tap), here or on any branch, merged or not."""
    first = desk.taken.get(f"submission:{found.id}")
    if first is None and (path.parent / PROCESSED / f"{found.id}{SUFFIX}").exists():
        first = PROCESSED
    if first is not None:
        raise sub.refused("duplicate_id", id=found.id, branch=first)
    same = desk.taken.get(f"record:{found.digest}")
    if same is not None:
        raise sub.refused("duplicate_record", branch=same)
    if git.branch_exists(desk.repo, found.branch):
        raise sub.refused("branch_exists", branch=found.branch)
    if not git.valid_branch(desk.repo, found.branch):
        raise sub.refused("bad_value", what="branch", **sub.why("pattern"))


def _check_right(archive: Archive, found: Submission) -> None:
    """The writer's right for every student the record is for (a group's: each of them)."""
    if found.date > archive.as_of:  # today in the school's time zone, not this machine's
        raise sub.refused("field", field="date", **sub.why("future"))
    for student in found.everyone:
        if student not in archive.students:
            raise sub.refused("no_student", student=student)
        if not access.may_write(archive, found.teacher, student, found.date, found.type):
            raise sub.refused("no_right", teacher=found.teacher, student=student, date=found.date)


def _staged_check(found: Submission, desk: _Desk) -> dict[str, bytes]:
    """The record file and its photos, written into the base's work tree and checked there as
    ``check --strict`` checks them; the tree is put back as it was either way. Returns the
    files (repository path → content) to commit."""
    folder = Path(ACTIVITIES) if found.students else Path("students") / found.student
    photos = _photos(found)
    files = {(folder / rel).as_posix(): data for rel, data in photos.items()}
    if found.students:  # a group file: its name is the submission's own, so never taken
        record = folder / f"{found.date}-{found.type.replace('_', '-')}-{found.id[:8]}.md"
    else:
        taken = _pending_names(desk.repo, desk.prefix, found.student)
        record = record_path(desk.root / folder, found.type, found.date, taken).relative_to(desk.root)
    files[record.as_posix()] = record_text(found, sorted(photos)).encode("utf-8")
    with _staged(desk.root, files):
        _check_record(desk.root, found, record.as_posix())
    return {(desk.prefix / rel).as_posix(): data for rel, data in files.items()}


@contextlib.contextmanager
def _staged(root: Path, files: dict[str, bytes]) -> Iterator[None]:
    """``files`` written under ``root`` (inside it, never over a file) for the block; then the
    work tree is reset to its commit, whatever the block did."""
    try:
        for rel, data in files.items():
            write_inside(root, rel, data)
        yield
    except (OutsideTree, FileExistsError):
        raise sub.refused("bad_value", what="path", **sub.why("pattern")) from None
    finally:
        git.run(root, "reset", "--hard", "--quiet")
        git.run(root, "clean", "-ffdxq")


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


def _photos(found: Submission) -> dict[str, bytes]:
    """The photos (path in the student's folder → JPEG), prepared from their pixels as the
    build prepares the archive's; refused by pixel count before they are decoded."""
    out = {}
    for n, data in enumerate(found.photos, start=1):
        try:
            prepared = prepare(data, max_pixels=INTAKE_PIXELS)
        except NotAPhoto as exc:
            raise sub.refused("photo", n=n, **sub.why(exc.kind, limit=f"{INTAKE_PIXELS:,}")) from None
        out[f"photos/{found.date}-{found.id[:8]}-{n}.jpg"] = prepared
    return out


DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def record_text(found: Submission, photos: list[str]) -> str:
    """An ordinary record file: front matter in the schema's order, then the narrative. ``by``
    is the signer: a submission cannot carry it (``submission`` refuses it)."""
    record = dict(found.record)
    front: dict[str, Any] = {"type": record.pop("type"), "date": record.pop("date"), "by": found.teacher}
    if found.students:
        front["students"] = list(found.students)
    front.update(record)
    for key, value in front.items():  # dates unquoted, as people write them in the archive
        if isinstance(value, str) and DATE_TEXT.fullmatch(value):
            with contextlib.suppress(ValueError):
                front[key] = dt.date.fromisoformat(value)
    if photos:
        front["photos"] = photos
    dumped = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, default_flow_style=False)
    return f"---\n{dumped}---\n\n{found.body.strip()}\n"


def _check_record(root: Path, found: Submission, rel: str) -> None:
    """As ``yidang check --strict`` sees the new file, in its student's folder: any error or
    warning about it refuses the submission. The reason names the fields, not their values."""
    result = read_archive(root, folders=list(found.everyone), keep=False)
    photos = f"{ACTIVITIES}/photos/" if found.students else f"students/{found.student}/photos/"
    mine = [p for p in result.problems if p.path == rel or p.path.startswith(photos)]
    if mine:
        text = (root / rel).read_text(encoding="utf-8")
        problems = "; ".join(dict.fromkeys(_field_problem(text, p) for p in mine))
        raise sub.refused("invalid_record", problems=problems)


FIELD_LINE = re.compile(r"^([A-Za-z_]+):")


def _field_problem(text: str, problem: Problem) -> str:
    """``check``'s problem as the field it is about and its kind: ``check`` quotes values."""
    return labels.error(
        "intake", "field", field=_field_at(text, problem.line), **sub.why(_kind(problem.message))
    )


def _kind(message: str) -> str:
    if "in the future" in message:
        return "future"
    if "no narrative" in message or labels.shipped()["messages"]["prompt"] in message:
        return "empty"
    return "other"


def _field_at(text: str, line: int) -> str:
    """The front-matter field on ``line`` of a record file, or the narrative below it."""
    lines = text.splitlines()
    end = lines.index("---", 1) + 1 if "---" in lines[1:] else 0
    if 1 < line < end:
        return next((m.group(1) for row in reversed(lines[:line]) if (m := FIELD_LINE.match(row))), "")
    return str(labels.shipped()["form"]["narrative"])


def _commit(found: Submission, files: dict[str, bytes], desk: _Desk) -> None:
    """One commit with only the new record and photos, the teacher (teachers.yml) as its
    author, and trailers that make a replay findable after the branch is merged or deleted."""
    teacher = desk.archive.teachers[found.teacher]
    subject = labels.shipped()["intake"]["commit"].format(
        type=labels.shipped()["types"][found.type],
        student=found.whom,
        date=found.date,
        teacher=found.teacher,
    )
    trailers = (
        f"Yidang-Submission: {found.id}\nYidang-Record: {found.digest}\nYidang-Branch: {found.branch}\n"
    )
    email = teacher.git_email if teacher.git_email and EMAIL.fullmatch(teacher.git_email) else ""
    email = email or f"{teacher.git_user or teacher.id}@yidang.invalid"
    git.commit_files(
        desk.repo,
        desk.base,
        found.branch,
        files,
        f"{subject}\n\n{trailers}",
        INTAKE_COMMITTER,
        (teacher.name, email),
    )
    _remember(desk.repo, found)


def taken_before(repo: Path) -> dict[str, str]:
    """Every submission id and record digest taken in, on any branch (merged ones are in
    ``main``'s history) or by this machine (its log survives a deleted branch) → the branch
    it was taken in on."""
    log = git.maybe(
        repo, "log", "--all", "--extended-regexp", "--grep=^Yidang-Submission: ", "--format=%B%x1e"
    )
    seen: dict[str, str] = {}
    for message in (log or "").split("\x1e"):
        found = dict(TRAILER.findall(message))
        if "Submission" in found:
            _note(seen, found["Submission"], found.get("Record", ""), found.get("Branch", "?"))
    with contextlib.suppress(OSError):
        for line in _taken_log(repo).read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 3:
                _note(seen, *parts)
    return seen


def _note(seen: dict[str, str], sid: str, digest: str, branch: str) -> None:
    seen.setdefault(f"submission:{sid}", branch)
    if digest:
        seen.setdefault(f"record:{digest}", branch)


def _taken_log(repo: Path) -> Path:
    common = Path(git.run(repo, "rev-parse", "--git-common-dir").strip())
    return (common if common.is_absolute() else repo / common) / TAKEN_LOG


def _remember(repo: Path, found: Submission) -> None:
    with open(_taken_log(repo), "a", encoding="utf-8") as fh:
        fh.write(f"{found.id} {found.digest} {found.branch}\n")


# --- a student's file from another school ------------------------------------------


def _arrive(path: Path, data: bytes, desk: _Desk) -> Outcome:
    """A student's file from another school: a new student folder on a branch of its own."""
    place = desk.placement
    if place is None:
        raise sub.refused("bundle_needs_placement")
    inner = transfer.open_bundle(data, desk.keys)
    found = transfer.arrival(inner, desk.archive, desk.root, place.class_id, place.mentor, place.on)
    if git.branch_exists(desk.repo, found.branch) or not git.valid_branch(desk.repo, found.branch):
        raise sub.refused("branch_exists", branch=found.branch)
    folder = Path("students") / found.id
    files = {(folder / rel).as_posix(): content for rel, content in found.files.items()}
    with _staged(desk.root, files):
        _check_arrival(desk.root, found)
    if desk.dry_run:
        return Outcome(path, "would be accepted", arrival=found)
    message = labels.shipped()["transfer"]["intake_commit"].format(
        student=found.id, school=found.school, id=found.old_id
    )
    committed = {(desk.prefix / rel).as_posix(): content for rel, content in files.items()}
    git.commit_files(desk.repo, desk.base, found.branch, committed, message, INTAKE_COMMITTER)
    return Outcome(path, "accepted", arrival=found)


def _check_arrival(root: Path, found: transfer.Arrival) -> None:
    """The new folder as `yidang check` sees it: any error refuses the bundle."""
    result = read_archive(root, folders=[found.id], keep=False)
    errors = [p for p in result.problems if p.severity == "error"]
    if errors:
        text = "; ".join(dict.fromkeys(f"{p.path}:{p.line}" for p in errors[:5]))
        raise Refused(labels.error("transfer", "invalid_here", where=text))


# --- filing and pushing --------------------------------------------------------------


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


def push(repo: Path, remote: str, branch: str, base: str) -> str:
    """Push the branch; the address that opens its pull request (GitHub or Gitea)."""
    git.run(repo, "push", "--quiet", remote, f"refs/heads/{branch}:refs/heads/{branch}")
    return pull_request_url(git.run(repo, "remote", "get-url", remote).strip(), branch, base)


REVIEW_BRANCHES = ("refs/heads/intake/", "refs/heads/transfer/", "refs/heads/rollover/")


def unpushed(archive_root: Path, remote: str, base: str) -> list[str]:
    """Review branches here that ``remote`` does not have as they are, and not merged into
    ``base`` (a merged branch pushed again would reopen a review)."""
    repo = git.toplevel(archive_root)
    if repo is None:
        raise UsageError(labels.error("intake", "not_git", root=archive_root))
    if git.maybe(repo, "remote", "get-url", remote) is None:
        raise UsageError(labels.error("intake", "no_remote", remote=shown(remote)))
    theirs = {}
    for line in git.run(repo, "ls-remote", "--heads", remote).splitlines():
        sha, ref = line.split("\t", 1)
        theirs[ref] = sha
    listed = git.run(repo, "for-each-ref", "--format=%(objectname) %(refname)", *REVIEW_BRANCHES)
    out = []
    for sha, ref in (line.split(" ", 1) for line in listed.splitlines()):
        merged = git.maybe(repo, "merge-base", "--is-ancestor", ref, base) is not None
        if theirs.get(ref) != sha and not merged:
            out.append(ref.removeprefix("refs/heads/"))
    return out


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
