"""``yidang review``: what a change to the archive does, student by student.

Reads both revisions through git (``git diff``, ``git show``, ``git archive``),
never the working tree, so it works the same in CI and on a teacher's
machine. Reviewers: the student's mentors and head teacher; the leadership
group too when a category changes or a case is closed.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from generator.archive import schema
from generator.archive.groups import ACTIVITIES
from generator.archive.load import YamlSyntaxError, parse_markdown, parse_yaml
from generator.archive.read import read_archive, school_today
from generator.archive.shown import shown_fields, value_text
from generator.core import git, labels
from generator.core import text as untrusted
from generator.core.problems import Problem, UsageError, YidangError
from generator.review.codeowners import repo_prefix

ENDED = ("closed", "transferred")  # statuses that end a case here


def _labels() -> dict[str, Any]:
    return labels.shipped()["review"]


def _show(repo: Path, ref: str, path: str) -> str | None:
    try:
        return git.run(repo, "show", f"{ref}:{path}")
    except YidangError:
        return None


def _yaml(text: str | None) -> dict[str, Any]:
    try:
        data = parse_yaml(text).data if text else None
    except YamlSyntaxError:
        return {}
    return data if isinstance(data, dict) else {}


def _by_id(text: str | None) -> dict[str, dict[str, Any]]:
    """teachers.yml / classes.yml as id → entry (bad entries are check's business)."""
    try:
        items = parse_yaml(text).data if text else None
    except YamlSyntaxError:
        return {}
    return {i["id"]: i for i in items or [] if isinstance(i, dict) and "id" in i}


def _meta(text: str | None) -> dict[str, Any]:
    return _record(text)[0]


def _record(text: str | None) -> tuple[dict[str, Any], str]:
    """A record's front matter and narrative; ({}, "") for one check will report as broken."""
    try:
        doc = parse_markdown(text) if text else None
    except Exception:  # a broken record is reported by check; here it has no meta
        return {}, ""
    data = doc.meta.data if doc is not None else None
    return (data, doc.body) if isinstance(data, dict) and doc is not None else ({}, "")


MAX_SHOWN_LINES = 40  # of a record's narrative in the review; the rest is in the file


def _high_risk(meta: dict[str, Any]) -> bool:
    """A need-to-know record of high risk: the leadership group reviews it too."""
    declared = schema.RECORD_KINDS.get(str(meta.get("type", "")))
    return declared is not None and declared.need_to_know and meta.get("risk") == "高"


def _what_it_says(meta: dict[str, Any], body: str) -> dict[str, Any]:
    """What a reviewer approves: the record's shown fields (labelled as on the site) and its
    narrative, line by line. Untrusted text: the output templates escape every piece."""
    words = labels.shipped()
    kind = str(meta.get("type", ""))
    declared = schema.RECORD_KINDS.get(kind)
    if declared is not None and declared.need_to_know:  # a pull request's reviewers may not read it
        risk = (
            [(labels.field_label(words, "risk", kind) or "risk", str(meta["risk"]))] if "risk" in meta else []
        )
        return {"fields": risk, "text": [str(words["records"]["need_to_know"])]}
    shown = []
    for key in ["mode", *shown_fields(words, kind)]:
        value = meta.get(key)
        if value is None or value == [] or value == "":
            continue
        label = labels.field_label(words, key, kind) or key
        shown.append((label, value_text(words, kind, key, value, {})))
    lines = [line for line in body.splitlines() if line.strip()]
    cut = len(lines) - MAX_SHOWN_LINES
    more = [_labels()["more_lines"].format(n=cut)] if cut > 0 else []
    return {"fields": shown, "text": lines[:MAX_SHOWN_LINES] + more}


@dataclass
class StudentChange:
    id: str
    name: str
    klass: str
    records: list[dict[str, Any]] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)
    reviewers: list[dict[str, str]] = field(default_factory=list)
    leadership: bool = False
    moved: str = ""  # the old class, when the class changed
    closed: str = ""  # the closing line, when the case was closed

    @property
    def routine(self) -> bool:
        """Only a class move (and perhaps a case closed), as a rollover makes by the thousand."""
        return bool(self.moved) and not self.records and set(self.profile) <= set(_routine_lines(self))


def _routine_lines(change: StudentChange) -> list[str]:
    return [_labels()["class_changed"].format(old=change.moved, new=change.klass), change.closed]


@dataclass
class ClassMove:
    """The students of one class that moved together (and whose cases closed alike)."""

    old: str
    new: str
    name: str
    closed: str
    students: list[dict[str, str]]
    reviewers: list[dict[str, str]]


def class_moves(changes: list[StudentChange], classes: dict[str, dict[str, Any]]) -> list[ClassMove]:
    """Routine changes grouped by class: one line per class instead of one block per student
    (the caller keeps groups of one as students)."""
    groups: dict[tuple[str, str, str], ClassMove] = {}
    for c in changes:
        key = (c.moved, c.klass, c.closed)
        name = str(classes.get(c.klass, {}).get("name", c.klass))
        group = groups.setdefault(key, ClassMove(c.moved, c.klass, name, c.closed, [], []))
        group.students.append({"id": c.id, "name": c.name})
        known = {r["teacher"] for r in group.reviewers}
        group.reviewers += [r for r in c.reviewers if r["teacher"] not in known]
    return sorted(groups.values(), key=lambda g: (g.old, g.new, g.closed))


@dataclass
class Review:
    base: str
    head: str
    students: list[StudentChange]  # those not in a class move
    school_files: list[str]
    problems: list[Problem]
    moves: list[ClassMove] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.students) + sum(len(m.students) for m in self.moves)

    def to_json(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "head": self.head,
            "school_files": self.school_files,
            "students": [asdict(s) for s in self.students],
            "class_moves": [asdict(m) for m in self.moves],
            "problems": [asdict(p) for p in self.problems],
        }


def _current(entries: Any, key: str, day: dt.date) -> set[str]:
    out = set()
    for e in entries or []:
        if (
            isinstance(e, dict)
            and str(e.get("since", "")) <= day.isoformat()
            and (not e.get("until") or day.isoformat() <= str(e["until"]))
        ):
            out.add(str(e.get(key)))
    return out


def _profile_changes(
    old: dict[str, Any], new: dict[str, Any], day: dt.date, categories: dict[str, Any]
) -> tuple[list[str], bool]:
    """Human lines for the changes that matter, and whether leadership must review."""
    lines, lead = [], False
    L = _labels()
    name = lambda k: categories.get(k, {}).get("name", k)  # noqa: E731
    before, after = _current(old.get("categories"), "key", day), _current(new.get("categories"), "key", day)
    for k in sorted(after - before):
        lines.append(L["category_added"].format(name=name(k)))
    for k in sorted(before - after):
        lines.append(L["category_ended"].format(name=name(k)))
    lead |= before != after
    m_old, m_new = _current(old.get("mentors"), "teacher", day), _current(new.get("mentors"), "teacher", day)
    if m_old != m_new:
        old_names, new_names = "、".join(sorted(m_old)) or L["none"], "、".join(sorted(m_new)) or L["none"]
        lines.append(L["mentors_changed"].format(old=old_names, new=new_names))
    if old and old.get("class") != new.get("class"):
        lines.append(L["class_changed"].format(old=old.get("class"), new=new.get("class")))
    if new.get("status") in ENDED and old.get("status", "active") not in ENDED:
        lines.append(_closed_line(new))
        lead = True
    if not old and new:
        lines.append(L["new_file"])
        lead = True
    return lines, lead


def review(archive_root: Path, base: str, head: str = "HEAD", day: dt.date | None = None) -> Review:
    day = day or school_today(archive_root)
    try:  # not a repository, or revisions git does not know: the command was asked wrongly
        repo = Path(git.run(archive_root, "rev-parse", "--show-toplevel").strip())
        diff = git.run(
            repo,
            "diff",
            "--name-status",
            "-z",  # paths as they are: a name with a newline or an escape is not quoted away
            "--no-renames",
            f"{base}...{head}",
            "--",
            repo_prefix(archive_root) or ".",
        )
    except git.GitError as exc:
        raise UsageError(str(exc)) from None
    prefix = repo_prefix(archive_root)
    fields = diff.split("\0")
    changed = [[status, path] for status, path in zip(fields[0::2], fields[1::2], strict=False)]
    school = _yaml(_show(repo, head, f"{prefix}school.yml"))
    teachers = _by_id(_show(repo, head, f"{prefix}teachers.yml"))
    classes = _by_id(_show(repo, head, f"{prefix}classes.yml"))
    students: dict[str, StudentChange] = {}
    school_files = []

    def student(sid: str) -> StudentChange:
        new_p = _yaml(_show(repo, head, f"{prefix}students/{sid}/profile.yml"))
        old_p = _yaml(_show(repo, base, f"{prefix}students/{sid}/profile.yml"))
        p = new_p or old_p
        return students.setdefault(sid, StudentChange(sid, str(p.get("name", "")), str(p.get("class", ""))))

    for status, path in ((c[0][0], c[-1]) for c in changed if c and c[0]):
        rel = path[len(prefix) :]
        parts = rel.split("/")
        if parts[0] == ACTIVITIES and len(parts) == 2 and rel.endswith(".md"):
            # A group record: described for each student it is (or was) for, as theirs.
            meta, body = _record(_show(repo, base if status == "D" else head, path))
            entry = _record_change(status, rel, meta, body, teachers)
            for sid in dict.fromkeys(str(s) for s in meta.get("students") or ()):
                student(sid).records.append({**entry, "group": len(meta.get("students") or ())})
            continue
        if parts[0] != "students" or len(parts) < 3:
            school_files.append(f"{_labels()['actions'].get(status, status)} {rel}")
            continue
        change = student(parts[1])
        if parts[2] == "records":
            meta, body = _record(_show(repo, base if status == "D" else head, path))
            change.records.append(_record_change(status, parts[-1], meta, body, teachers))
            change.leadership |= _high_risk(meta)
        elif parts[2] == "profile.yml":
            new_p = _yaml(_show(repo, head, f"{prefix}students/{parts[1]}/profile.yml"))
            old_p = _yaml(_show(repo, base, f"{prefix}students/{parts[1]}/profile.yml"))
            lines, lead = _profile_changes(old_p, new_p, day, school.get("categories") or {})
            change.profile += lines or [_labels()["profile_changed"]]
            change.leadership |= lead
            _note_routine(change, old_p, new_p)
        elif parts[2] == "plan.md":
            change.profile.append(_labels()["plan"].format(action=_labels()["actions"].get(status, status)))
    for change in students.values():
        p = _yaml(_show(repo, head, f"{prefix}students/{change.id}/profile.yml"))
        roles = _labels()["roles"]
        ids = [(t, roles["mentor"]) for t in sorted(_current(p.get("mentors"), "teacher", day))]
        head_teacher = classes.get(str(p.get("class")), {}).get("head_teacher")
        if head_teacher:
            ids.append((head_teacher, roles["head_teacher"]))
        if change.leadership:
            ids += [(r.get("teacher"), roles["leadership"]) for r in school.get("leadership") or []]
        change.reviewers = [
            {
                "teacher": t,
                "name": teachers.get(t, {}).get("name", t),
                "git_user": teachers.get(t, {}).get("git_user") or "",
                "as": role,
            }
            for t, role in ids
        ]
    paths = {c[-1][len(prefix) :] for c in changed if c}
    problems = _new_problems(repo, base, head, prefix, paths, day)
    moves = [
        m for m in class_moves([c for c in students.values() if c.routine], classes) if len(m.students) > 1
    ]
    grouped = {s["id"] for m in moves for s in m.students}
    rest = sorted((c for c in students.values() if c.id not in grouped), key=lambda s: s.id)
    return Review(base, head, rest, school_files, problems, moves)


def _record_change(
    status: str, file: str, meta: dict[str, Any], body: str, teachers: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A record added, changed or deleted, as the review shows it: its kind, date, writer,
    and (unless deleted) what it says."""
    who = teachers.get(str(meta.get("by")), {}).get("name", meta.get("by", ""))
    return {
        "action": _labels()["actions"].get(status, status),
        "file": file,
        "type": labels.shipped()["types"].get(meta.get("type"), str(meta.get("type", ""))),
        "date": str(meta.get("date", "")),
        "by": str(who),
        **(_what_it_says(meta, body) if status != "D" else {"fields": [], "text": []}),
    }


def _new_problems(
    repo: Path, base: str, head: str, prefix: str, paths: set[str], day: dt.date
) -> list[Problem]:
    """The problems the change brings: those in its files at ``head`` that the same files
    did not have at ``base``. A rollover touching 1,000 profiles must not re-list every
    overdue four-ones warning the school already knows from `check`."""
    fork = git.run(repo, "merge-base", base, head).strip()  # what `base...head` diffs against
    before = {(p.path, p.severity, p.message) for p in _problems_at(repo, fork, prefix, paths, day)}
    return [
        p
        for p in _problems_at(repo, head, prefix, paths, day)
        if (p.path, p.severity, p.message) not in before
    ]


def _note_routine(change: StudentChange, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Remember a class move and a closing, so routine changes can be grouped by class."""
    if old and old.get("class") != new.get("class"):
        change.moved = str(old.get("class"))
    if new.get("status") in ENDED and old.get("status", "active") not in ENDED:
        change.closed = _closed_line(new)


def _closed_line(profile: dict[str, Any]) -> str:
    on, reason = profile.get("closed_on", ""), profile.get("closed_reason", "")
    return str(_labels()["closed"].format(on=on, reason=reason).strip())


def _problems_at(repo: Path, head: str, prefix: str, paths: set[str], day: dt.date) -> list[Problem]:
    """What `yidang check` finds in the changed files, at ``head`` (via git archive)."""
    with tempfile.TemporaryDirectory(prefix="yidang-review-") as tmp:
        data = git.run_bytes(repo, "archive", "--format=tar", head, "--", prefix or ".")
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            extract_plain(tar, Path(tmp))
        result = read_archive(Path(tmp) / prefix, as_of=day, keep=False)
    return [p for p in result.problems if p.path in paths]


def extract_plain(tar: tarfile.TarFile, dest: Path) -> None:
    """Extract only regular files and folders that stay inside ``dest``.

    The tar comes from ``git archive`` of a branch under review, so a pull request
    decides its contents: a symlink (to /etc, or to another school's folder) is
    skipped, as are links, devices and any name leaving ``dest``. Python's "data"
    filter (3.11.4+; Debian 12 has 3.11.2) is applied on top where it exists.
    """

    def plain() -> Iterator[tarfile.TarInfo]:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts
            if (member.isreg() or member.isdir()) and parts and parts[0] != "/" and ".." not in parts:
                member.mode = 0o755 if member.isdir() else 0o644
                yield member

    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members=plain(), filter="data")
    else:
        tar.extractall(dest, members=plain())  # members filtered above


# --- output ------------------------------------------------------------------


GIT_USER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,38}")


def _reviewer(r: dict[str, str], escape: Callable[[object], str] = str) -> str:
    """A reviewer, mentioned by their forge user name (a plain name only: anything else in
    teachers.yml is shown escaped, never as a mention)."""
    git_user = str(r["git_user"] or "")
    user = f"@{git_user}" if GIT_USER.fullmatch(git_user) else escape(r["teacher"])
    return f"{user}({escape(r['name'])},{escape(r['as'])})"


def _render(rv: Review, template: str) -> str:
    from generator.render.templates import TEMPLATES_DIR

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR / "review"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )  # Markdown and text for a terminal, not HTML
    # Whatever a branch brings (names, file names, record fields, check's messages quoting
    # them) is untrusted: `md` escapes it for the pull request's comment (no link, image,
    # HTML or mention), `tty` for the terminal (no control characters).
    escape = untrusted.markdown if template.endswith(".md.j2") else untrusted.terminal
    env.filters["md"] = env.filters["tty"] = escape
    env.filters["reviewer"] = lambda r: _reviewer(r, escape)
    return env.get_template(template).render(rv=rv)


def markdown(rv: Review) -> str:
    return _render(rv, "review.md.j2")


def text(rv: Review) -> str:
    return _render(rv, "review.txt.j2")
