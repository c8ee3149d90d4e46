"""CODEOWNERS for a school's archive repository, so the right teachers review a change.

Each student's folder is owned by the git users of the student's current
mentors and head teacher; the school-level files (school.yml, teachers.yml,
classes.yml, access/) and anything else in the archive by the leadership
group. GitHub reads gitignore-style patterns, where the last matching line
wins; Gitea reads Go regular expressions, one per line.
"""

from __future__ import annotations

import re
from pathlib import Path

from generator.archive.model import Archive
from generator.core import git

HEADER = "# Written by `yidang codeowners --flavor {flavor}`; do not edit by hand.\n"
FLAVORS = ("github", "gitea")


def repo_prefix(archive_root: Path) -> str:
    """The archive's path inside its git repository ('' at the root, 'archives/' below it)."""
    top = git.toplevel(archive_root)
    try:
        rel = archive_root.resolve().relative_to(top.resolve()) if top else None
    except ValueError:
        rel = None
    if rel is None:
        return ""
    return "" if str(rel) == "." else f"{rel.as_posix()}/"


def _users(archive: Archive, teacher_ids: list[str]) -> list[str]:
    users = [archive.teachers[t].git_user for t in teacher_ids if t in archive.teachers]
    return [f"@{u}" for u in dict.fromkeys(u for u in users if u)]


def owners(archive: Archive) -> tuple[list[str], dict[str, list[str]]]:
    """(leadership's users, student id → users of current mentors and head teacher)."""
    leaders = _users(archive, [r.teacher for r in archive.school.leadership])
    students = {}
    for s in archive.students.values():
        ids = [m.teacher for m in s.mentors_on(archive.as_of)]
        ids.append(archive.classes[s.profile.class_].head_teacher)
        students[s.id] = _users(archive, ids) or leaders
    return leaders, students


def render(archive: Archive, flavor: str, prefix: str) -> str:
    leaders, students = owners(archive)
    lead = " ".join(leaders)
    lines = [HEADER.format(flavor=flavor)]
    if flavor == "github":
        lines.append(f"/{prefix}** {lead}\n")  # everything else in the archive: leadership
        lines += [f"/{prefix}students/{sid}/ {' '.join(users)}\n" for sid, users in sorted(students.items())]
        lines += [
            f"/{prefix}{name} {lead}\n" for name in ("school.yml", "teachers.yml", "classes.yml", "access/")
        ]
    else:
        p = re.escape(prefix)
        lines += [
            f"^{p}students/{re.escape(sid)}/.*$ {' '.join(users)}\n"
            for sid, users in sorted(students.items())
        ]
        lines.append(f"^{p}(school|teachers|classes)\\.yml$ {lead}\n")
        lines.append(f"^{p}access/.*$ {lead}\n")
    return "".join(lines)


def flavor_of(text: str) -> str | None:
    match = re.search(r"--flavor (github|gitea)", text.split("\n", 1)[0])
    return match.group(1) if match else None


def committed(archive_root: Path) -> Path | None:
    """The repository's CODEOWNERS file, where GitHub and Gitea look for it."""
    prefix = repo_prefix(archive_root)
    top = (archive_root / ("../" * prefix.count("/"))).resolve()
    for rel in ("CODEOWNERS", ".github/CODEOWNERS", ".gitea/CODEOWNERS", "docs/CODEOWNERS"):
        if (top / rel).is_file():
            return top / rel
    return None


def stale(archive_root: Path, archive: Archive) -> str | None:
    """Why the committed CODEOWNERS no longer matches the archive, or None."""
    path = committed(archive_root)
    if path is None:
        return None
    text = path.read_text(encoding="utf-8")
    flavor = flavor_of(text)
    if flavor is None:
        return None  # written by hand: not ours to judge
    if text != render(archive, flavor, repo_prefix(archive_root)):
        return f"out of date (mentors or classes changed); run `yidang codeowners --flavor {flavor}`"
    return None
