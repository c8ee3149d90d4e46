"""``yidang rollover``: the school year moves on, as a branch to review.

From the rules in school.yml (``rollover``: which grade each grade becomes, how
class ids change, the terms of a school year), every class moves up a grade —
``G1-03 高一(3)班`` becomes ``G2-03 高二(3)班`` with its head teacher — and the
classes of a grade that is not listed graduate: their students' cases are
closed on the last day of the school year (status, date, reason; open
mentoring ended that day) and the class keeps its students' history under an
id of its own (``G3-01-2027``, ``高三(1)班(2027届)``, ``graduated: 2027``), so
this year's ids are free for next year's classes; a graduated class is never
moved again. Missing terms of the old and the new school year are added from
the templates. All of it is written as ordinary file changes on a
new branch (``rollover/<year>``), never on the office's checkout; ``check`` is
clean on it, and ``yidang review`` summarises it class by class.

Files are edited, not re-dumped, so their comments and layout stay: a
student's ``class:`` value, the ``status`` lines, an ``until:`` under each open
mentoring. classes.yml is written again, one class per line.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from generator.archive.load import parse_yaml, read_text
from generator.archive.model import Archive
from generator.archive.read import read_archive
from generator.archive.schema import Rollover, SchoolClass
from generator.core import git, labels
from generator.core.files import write_atomic
from generator.core.problems import ArchiveInvalid, UsageError
from generator.review import edit

BRANCH = "rollover/{year}"


@dataclass
class Plan:
    """What a rollover to the school year starting in ``year`` does, before it does it."""

    year: int
    on: dt.date  # the last day of the old school year: graduates' cases close then
    classes: dict[str, SchoolClass]  # old id → the class it becomes
    graduating: list[str]  # old ids of the classes that graduate
    students: dict[str, list[str]] = field(default_factory=dict)  # old class id → its students
    graduates: list[str] = field(default_factory=list)  # active students whose case closes
    terms: list[dict[str, str]] = field(default_factory=list)  # terms added to school.yml

    @property
    def branch(self) -> str:
        return BRANCH.format(year=self.year)


def plan(archive: Archive, to: str) -> Plan:
    """The plan, or a UsageError that says what in school.yml or the arguments is wrong."""
    rules = archive.school.rollover
    if rules is None:
        raise UsageError(labels.error("rollover", "no_rules"))
    year = _year(to, archive, rules)
    if year in rules.done:
        raise UsageError(labels.error("rollover", "already_done", year=year))
    terms = _missing_terms(archive, rules, year)
    on = _last_day(archive, terms, year)
    classes, graduating = _classes(archive, rules, year)
    result = Plan(year, on, classes, graduating, terms=terms)
    for s in archive.students.values():
        result.students.setdefault(s.profile.class_, []).append(s.id)
        if s.profile.class_ in graduating and s.active:
            result.graduates.append(s.id)
    return result


def _year(to: str, archive: Archive, rules: Rollover) -> int:
    """The year the new school year starts, from `2027`, `2027—2028` or a term id."""
    found = re.fullmatch(r"(\d{4})(?:\D+\d{4})?", to.strip())
    if found:
        return int(found.group(1))
    for term in archive.school.terms:
        if term.id == to:
            return term.start.year if term.start.month >= 8 else term.start.year - 1
    this = archive.as_of.year
    for year in range(this - 2, this + 4):
        if any(_format(t.id, year) == to for t in rules.terms):
            return year
    raise UsageError(labels.error("rollover", "unknown_to", to=to))


def _format(text: str, year: int) -> str:
    return text.replace("{y1}", str(year + 1)).replace("{y}", str(year))


def _missing_terms(archive: Archive, rules: Rollover, year: int) -> list[dict[str, str]]:
    """The old and the new school year's terms, from the templates, that school.yml lacks."""
    known = {t.id for t in archive.school.terms}
    added = []
    for y in (year - 1, year):
        for template in rules.terms:
            term = {k: _format(getattr(template, k), y) for k in ("id", "name", "start", "end")}
            try:
                dt.date.fromisoformat(term["start"]), dt.date.fromisoformat(term["end"])
            except ValueError:
                raise UsageError(
                    labels.error("rollover", "term_dates", start=term["start"], end=term["end"])
                ) from None
            if term["id"] not in known:
                known.add(term["id"])
                added.append(term)
    return added


def _last_day(archive: Archive, added: list[dict[str, str]], year: int) -> dt.date:
    """The last day of the school year before ``year``'s: the end of its last term."""
    terms = [(t.start, t.end) for t in archive.school.terms]
    terms += [(dt.date.fromisoformat(t["start"]), dt.date.fromisoformat(t["end"])) for t in added]
    first = min((s for s, _ in terms if s >= dt.date(year, 8, 1)), default=dt.date(year, 9, 1))
    ends = [e for _, e in terms if e < first]
    return max(ends) if ends else first - dt.timedelta(days=1)


def _classes(archive: Archive, rules: Rollover, year: int) -> tuple[dict[str, SchoolClass], list[str]]:
    """Old id → new class; the classes that graduate. Two classes may not end under one id."""
    moved: dict[str, SchoolClass] = {}
    graduating = []
    words = labels.shipped()["rollover"]
    for cls in archive.classes.values():
        if cls.graduated is not None:  # graduated in an earlier year: stays as it is
            moved[cls.id] = cls
        elif cls.grade in rules.grades:
            prefix = cls.id.split("-", 1)[0]
            if prefix not in rules.class_ids:
                raise UsageError(labels.error("rollover", "no_prefix", prefix=prefix, cls=cls.id))
            grade = rules.grades[cls.grade]
            new_id = rules.class_ids[prefix] + cls.id[len(prefix) :]
            name = cls.name.replace(cls.grade, grade, 1)
            moved[cls.id] = SchoolClass(id=new_id, name=name, grade=grade, head_teacher=cls.head_teacher)
        else:
            graduating.append(cls.id)
            name = words["graduated_class"].format(name=cls.name, year=year)
            moved[cls.id] = SchoolClass(
                id=f"{cls.id}-{year}",
                name=name,
                grade=cls.grade,
                head_teacher=cls.head_teacher,
                graduated=year,
            )
    owners: dict[str, str] = {}
    for old, new in moved.items():
        if new.id in owners:
            raise UsageError(labels.error("rollover", "same_id", a=owners[new.id], b=old, id=new.id))
        owners[new.id] = old
    return moved, graduating


# --- writing it ----------------------------------------------------------------------


def rollover(archive_root: Path, to: str, *, base: str = "main", dry_run: bool = False) -> Plan:
    """Plan the rollover; unless ``dry_run``, write it on a new branch and commit it."""
    repo = git.toplevel(archive_root)
    if repo is None:
        raise UsageError(labels.error("rollover", "no_git", root=archive_root, command="yidang rollover"))
    prefix = archive_root.resolve().relative_to(repo.resolve())
    with git.worktree(repo, base) as tree:
        archive = _read(tree / prefix)
        result = plan(archive, to)
    if dry_run:
        return result
    if git.maybe(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{result.branch}"):
        raise UsageError(labels.error("rollover", "branch_exists", branch=result.branch))
    with git.new_branch(repo, base, result.branch) as tree:
        root = tree / prefix
        write(root, archive, result)
        checked = read_archive(root, as_of=result.on)
        if not checked.ok:
            raise ArchiveInvalid(checked.problems, labels.error("rollover", "would_err"))
        message = labels.shipped()["rollover"]["commit"].format(old=result.year - 1, new=result.year)
        git.commit(tree, message, ("yidang rollover", "rollover@yidang.invalid"))
    return result


def _read(root: Path) -> Archive:
    result = read_archive(root)
    if result.archive is None:
        raise ArchiveInvalid(result.problems, labels.error("rollover", "archive_errors"))
    return result.archive


def write(root: Path, archive: Archive, result: Plan) -> None:
    """Every file change of the plan, in the archive at ``root``."""
    _write_classes(root / "classes.yml", archive, result)
    reason = labels.shipped()["rollover"]["reason"].format(year=result.year)
    for s in archive.students.values():
        path = root / s.folder / "profile.yml"
        text = read_text(path)
        text = edit.set_top(text, "class", result.classes[s.profile.class_].id)
        if s.id in result.graduates:
            text = edit.close(text, s.profile, result.on, reason)
        write_atomic(path, text, replace=True)
    _write_school(root / "school.yml", result)


def _write_classes(path: Path, archive: Archive, result: Plan) -> None:
    head = [line for line in read_text(path).splitlines() if line.startswith("#")]
    lines = [
        f"- {{id: {c.id}, name: {c.name}, grade: {c.grade}, head_teacher: {c.head_teacher}"
        + (f", graduated: {c.graduated}}}" if c.graduated is not None else "}")
        for c in (result.classes[old] for old in archive.classes)
    ]
    write_atomic(path, "\n".join([*head, *lines]) + "\n", replace=True)


def _write_school(path: Path, result: Plan) -> None:
    """The terms added after the last term, as the first term is written; the year noted
    in ``rollover.done``. Edits go bottom-up so the parsed line numbers stay right."""
    text = read_text(path)
    doc = parse_yaml(text)
    lines = text.split("\n")
    edits: list[tuple[int, int, list[str]]] = []  # (first line index, lines replaced, new lines)
    done = ", ".join(str(y) for y in [*doc.data["rollover"].get("done", []), result.year])
    grades, _ = doc.at(("rollover", "grades"))
    indent = lines[grades - 1][: _indent(lines[grades - 1])]
    if "done" in doc.data["rollover"]:
        line, _ = doc.at(("rollover", "done"))
        edits.append((line - 1, 1, [f"{indent}done: [{done}]"]))
    else:
        edits.append((grades - 1, 0, [f"{indent}done: [{done}]"]))
    if result.terms:
        end, _ = doc.at(("terms", len(doc.data["terms"]) - 1, "end"))
        first, _ = doc.at(("terms", 0, "id"))
        edits.append((end, 0, [x for t in result.terms for x in _term_lines(t, lines[first - 1])]))
    for at, replaced, new in sorted(edits, reverse=True):
        lines[at : at + replaced] = new
    write_atomic(path, "\n".join(lines), replace=True)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _term_lines(term: dict[str, str], first: str) -> list[str]:
    """One added term, written as ``first`` (the first term's first line) is: ``- {id: …}``
    on one line, or ``- id: …`` with its other keys below."""
    dash = " " * _indent(first)
    keys = ("id", "name", "start", "end")
    if first.lstrip(" ").startswith("- {"):
        return [dash + "- {" + ", ".join(f"{k}: {term[k]}" for k in keys) + "}"]
    return [f"{dash}- id: {term['id']}"] + [f"{dash}  {k}: {term[k]}" for k in keys[1:]]


def summary_line(plan: Plan) -> list[str]:
    """The plan, class by class, as the command prints it before doing it."""
    words = labels.shipped()["rollover"]
    out = []
    for old, new in plan.classes.items():
        if new.id == old:  # graduated before: left alone
            continue
        count = len(plan.students.get(old, []))
        if old in plan.graduating:
            graduates = sum(1 for s in plan.students.get(old, []) if s in plan.graduates)
            out.append(
                words["plan_graduate"].format(old=old, new=new.id, name=new.name, n=graduates, on=plan.on)
            )
        else:
            out.append(words["plan_move"].format(old=old, new=new.id, name=new.name, n=count))
    out += [words["plan_term"].format(**t) for t in plan.terms]
    return out
