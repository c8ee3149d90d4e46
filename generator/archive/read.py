"""Read a whole archive: load → validate → model, collecting every problem.

Students are independent once the school-level files are known, so they are
read in worker processes when there are many (``check`` on 1,000 students ×
150 records must stay under 10 s on 2 cores). ``keep=False`` returns only the
problems, so ``check`` never holds the whole archive in memory.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml

from generator.archive import compliance, groups, retention, schema
from generator.archive.forms import FUTURE, NO_NARRATIVE
from generator.archive.load import (
    FrontMatterMissing,
    Located,
    YamlSyntaxError,
    parse_markdown,
    parse_yaml,
    read_text,
)
from generator.archive.model import Archive, PlanEntry, RecordEntry, Student, StudentSummary
from generator.archive.provenance import GROUPS
from generator.archive.schema import (
    RECORD_TYPES,
    Plan,
    Profile,
    Record,
    RecordBase,
    School,
    SchoolClass,
    Teacher,
)
from generator.archive.shown import label_problems
from generator.archive.validate import (
    RECORD_NAME,
    Context,
    Sink,
    check_photo,
    check_ref,
    check_references,
    list_doc,
    loc_text,
    validate_doc,
)
from generator.archive.wording import hint, said
from generator.core import labels
from generator.core.cache import StudentCache, digest
from generator.core.problems import Problem, UsageError

SCHOOL_FILES = ("school.yml", "teachers.yml", "classes.yml")
STUDENT_ENTRIES = {"profile.yml", "plan.md", "records", "photos", "transferred"}
# A student's own sources: what a transfer sends, and what the transfer copy of the booklet
# attaches (not ``transferred/``: another school's plan and booklet stay with this one).
SOURCE_ENTRIES = ("profile.yml", "plan.md", "records", "photos")
PROMPT = labels.shipped()["messages"]["prompt"]  # what `yidang new` puts where a teacher must write
PARALLEL_FROM = 200  # students; below this, a pool costs more than it saves when only reading
CHUNK = 16  # students a worker is handed at once (a page and its checks: 30-50 ms each)
PARALLEL_FROM_WITH_HOOK = 2  # rendering a page or a booklet is worth a worker from two students


@dataclass
class ReadResult:
    archive: Archive | None
    problems: list[Problem]
    files: int
    # student id → what the hook made, for every student whose own files are valid
    # (also when other students have errors: callers decide what that means)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def _parse_file(root: Path, rel: str, sink: Sink) -> Located | None:
    try:
        return parse_yaml(read_text(root / rel))
    except YamlSyntaxError as exc:
        sink.error((exc.line, exc.col), exc.said)
    except OSError as exc:
        sink.error((1, 1), said("cannot read: {why}", why=exc.strerror))
    return None


# --- school-level files ------------------------------------------------------


@dataclass
class SchoolFiles:
    school: School | None
    teachers: dict[str, Teacher]
    classes: dict[str, SchoolClass]


def _read_school(root: Path, problems: list[Problem]) -> SchoolFiles:
    docs: dict[str, Located | None] = {}
    for name in SCHOOL_FILES:
        sink = Sink(name, problems)
        if not (root / name).is_file():
            sink.error((1, 1), said("missing {file} at the archive's root", file=name))
            docs[name] = None
        else:
            docs[name] = _parse_file(root, name, sink)
    school = None
    if docs["school.yml"] is not None:
        school = validate_doc(School, docs["school.yml"], Sink("school.yml", problems))
    teachers = _unique(Teacher, docs["teachers.yml"], Sink("teachers.yml", problems), "teacher")
    classes = _unique(SchoolClass, docs["classes.yml"], Sink("classes.yml", problems), "class")
    _check_school_refs(school, docs, teachers, classes, problems)
    return SchoolFiles(school, teachers, classes)


DUPLICATE = {"teacher": "duplicate teacher id '{id}'", "class": "duplicate class id '{id}'"}
Listed = TypeVar("Listed", bound=Teacher | SchoolClass)  # the entries of teachers.yml and classes.yml


def _unique(model: type[Listed], doc: Located | None, sink: Sink, what: str) -> dict[str, Listed]:
    if doc is None:
        return {}
    out: dict[str, Listed] = {}
    for obj, loc in list_doc(model, doc, sink, f"{sink.path}"):
        if obj.id in out:
            sink.error(doc.at((*loc, "id")), said(DUPLICATE[what], id=obj.id))
        else:
            out[obj.id] = obj
    return out


def _check_school_refs(
    school: School | None,
    docs: dict[str, Located | None],
    teachers: dict[str, Teacher],
    classes: dict[str, SchoolClass],
    problems: list[Problem],
) -> None:
    doc = docs["school.yml"]
    if school is not None and doc is not None:
        sink = Sink("school.yml", problems)
        for i, member in enumerate(school.leadership):
            check_ref(sink, doc, ("leadership", i, "teacher"), member.teacher, teachers, "teacher")
        seen: set[str] = set()
        for i, term in enumerate(school.terms):
            if term.id in seen:
                sink.error(doc.at(("terms", i, "id")), said("duplicate term id '{id}'", id=term.id))
            seen.add(term.id)
    cdoc = docs["classes.yml"]
    if cdoc is not None and isinstance(cdoc.data, list):
        sink = Sink("classes.yml", problems)
        for i, item in enumerate(cdoc.data):
            if isinstance(item, dict) and item.get("id") in classes:
                head = classes[item["id"]].head_teacher
                check_ref(
                    sink,
                    cdoc,
                    (i, "head_teacher"),
                    head,
                    teachers,
                    "teacher",
                    label=f"head_teacher of class {item['id']}",
                )


# --- one student -------------------------------------------------------------


@dataclass
class StudentResult:
    folder: str
    student: Student | None
    profile_id: str | None
    id_pos: tuple[int, int]
    problems: list[Problem]
    files: int
    summary: StudentSummary | None = None
    output: Any = None
    expired: bool = False  # past the school's retention period: left out of the build
    name: str | None = None  # the profile's name: another file's ``with`` must not name it
    profile: Profile | None = None  # whether a group activity's day lay in the case (check_open)
    # every ``with`` entry of the records: (record path, position, index, value), checked
    # against every student of the archive once all are read (``_with_names_a_student``)
    mentions: list[tuple[str, tuple[int, int], int, str]] = field(default_factory=list)


def read_student(root: Path, folder: str, ctx: Context, as_of: dt.date, keep: bool = True) -> StudentResult:
    """Read and validate ``students/<folder>``; never raises for bad input."""
    problems: list[Problem] = []
    rel = f"students/{folder}"
    sdir = root / rel
    files = 0
    result = StudentResult(rel, None, None, (1, 1), problems, 0)
    for found in sorted(os.listdir(sdir)):
        if found not in STUDENT_ENTRIES and not found.startswith("."):
            expected = ", ".join(sorted(STUDENT_ENTRIES))
            template = "unexpected '{found}' in a student folder (expected {expected})"
            Sink(f"{rel}/{found}", problems).warning((1, 1), said(template, found=found, expected=expected))
    profile = None
    psink = Sink(f"{rel}/profile.yml", problems)
    if not (sdir / "profile.yml").is_file():
        psink.error((1, 1), said("missing profile.yml (the registration form)"))
    else:
        files += 1
        pdoc = _parse_file(root, f"{rel}/profile.yml", psink)
        if pdoc is not None:
            profile = validate_doc(Profile, pdoc, psink)
            if isinstance(pdoc.data, dict) and isinstance(pdoc.data.get("id"), str):
                result.profile_id = pdoc.data["id"]
                result.id_pos = pdoc.at(("id",))
            if profile is not None:
                result.name, result.profile = profile.name, profile
                _check_profile(profile, pdoc, psink, folder, ctx)
    plan = None
    if (sdir / "plan.md").is_file():
        files += 1
        plan = _read_plan(root, f"{rel}/plan.md", ctx, problems)
    records: list[RecordEntry] = []
    rdir = sdir / "records"
    if rdir.is_dir():
        for name in sorted(os.listdir(rdir)):
            if name.startswith("."):
                continue
            files += 1
            rec = f"{rel}/records/{name}"
            entry = _read_record(root, sdir, rec, name, ctx, as_of, problems, result.mentions)
            if entry is not None:
                records.append(entry)
    records += ctx.groups.get(folder, ())  # group activities held for this student (activities/)
    result.files = files
    if profile is not None and ctx.school is not None:
        _overdue(profile, records, ctx, as_of, Sink(f"{rel}/profile.yml", problems))
        result.expired = _past_retention(profile, ctx, as_of, Sink(f"{rel}/profile.yml", problems))
    if keep and profile is not None:
        records.sort(key=lambda r: (r.meta.date, r.file_name))
        result.student = Student(profile=profile, folder=rel, plan=plan, records=tuple(records))
    return result


def _overdue(profile: Profile, records: list[RecordEntry], ctx: Context, as_of: dt.date, sink: Sink) -> None:
    """The four ones: each missed period of the term containing ``as_of`` is a warning."""
    term = compliance.current_term(ctx.school, as_of)
    if term is None or profile.status != "active":
        return
    facts = compliance.facts_of(records)
    for p in compliance.periods(profile, ctx.school, facts, as_of, [term]):
        if p.status == "missed":
            what = labels.shipped()["four_ones"]["requirements"][p.requirement]
            message = labels.shipped()["messages"]["four_ones_missed"]
            sink.warning(
                (1, 1),
                message.format(requirement=what, start=p.start, end=p.end, days=p.days_overdue(as_of)),
            )


def _past_retention(profile: Profile, ctx: Context, as_of: dt.date, sink: Sink) -> bool:
    """A file past the retention period is a warning (the school decides what to do with
    it); the build leaves it out."""
    if not retention.expired(profile, ctx.school, as_of):
        return False
    message = labels.shipped()["messages"]["retention_expired"]
    until = retention.kept_until(profile, ctx.school)
    sink.warning(
        (1, 1), message.format(ended=profile.closed_on, years=ctx.school.retention.years, until=until)
    )
    return True


def _check_profile(p: Profile, doc: Located, sink: Sink, folder: str, ctx: Context) -> None:
    if p.id != folder:
        sink.error(
            doc.at(("id",)), said("id '{id}' differs from the folder name '{folder}'", id=p.id, folder=folder)
        )
    check_ref(sink, doc, ("class",), p.class_, ctx.classes, "class")
    if p.status == "active" and p.class_ in ctx.graduated:
        template = (
            "class: '{cls}' graduated in {year}; an open case belongs in a class of this year "
            "(or close it: status, closed_on, closed_reason)"
        )
        sink.error(doc.at(("class",)), said(template, cls=p.class_, year=ctx.graduated[p.class_]))
    for i, cat in enumerate(p.categories):
        loc = ("categories", i)
        check_ref(sink, doc, (*loc, "key"), cat.key, ctx.categories, "category")
        kinds = ctx.categories.get(cat.key, ())
        if cat.kind is not None and kinds and cat.kind not in kinds:
            template = "{field}: '{kind}' is not a kind of {key} (expected one of {kinds})"
            words = {
                "field": loc_text((*loc, "kind")),
                "kind": cat.kind,
                "key": cat.key,
                "kinds": ", ".join(kinds),
            }
            sink.error(doc.at((*loc, "kind")), said(template, **words))
        elif cat.kind is None and kinds:
            template = "{field}: no kind given for {key} (one of {kinds})"
            sink.warning(
                doc.at(loc), said(template, field=loc_text(loc), key=cat.key, kinds=", ".join(kinds))
            )
        if not _elsewhere(p, cat.since):
            check_ref(sink, doc, (*loc, "verified_by"), cat.verified_by, ctx.teachers, "teacher")
    for i, m in enumerate(p.mentors):
        check_ref(sink, doc, ("mentors", i, "teacher"), m.teacher, ctx.teachers, "teacher")
    for i, pr in enumerate(p.persuasion_records):
        if not _elsewhere(p, pr.date):
            check_ref(sink, doc, ("persuasion_records", i, "by"), pr.by, ctx.teachers, "teacher")


def _elsewhere(p: Profile, day: dt.date) -> bool:
    """Written at the school the student transferred from: its teachers are not ours."""
    return p.transferred_from is not None and day < p.transferred_from.date


def _read_plan(root: Path, rel: str, ctx: Context, problems: list[Problem]) -> PlanEntry | None:
    sink = Sink(rel, problems)
    md = _parse_md(root, rel, sink)
    if md is None:
        return None
    plan = validate_doc(Plan, md[0], sink)
    if plan is None:
        return None
    check_ref(sink, md[0], ("term",), plan.term, ctx.terms, "term")
    for i, m in enumerate(plan.measures):
        check_ref(sink, md[0], ("measures", i, "owner"), m.owner, ctx.teachers, "teacher")
    return PlanEntry(plan, md[1], rel)


def _parse_md(root: Path, rel: str, sink: Sink) -> tuple[Located, str] | None:
    try:
        text = read_text(f"{root}/{rel}")  # str path: pathlib costs ~25 µs a file
        md = parse_markdown(text)
    except YamlSyntaxError as exc:
        sink.error((exc.line, exc.col), exc.said)
        return None
    except FrontMatterMissing as exc:
        sink.error((1, 1), said(str(exc)))
        return None
    except OSError as exc:
        sink.error((1, 1), said("cannot read: {why}", why=exc.strerror))
        return None
    if PROMPT in text:  # cheap test first: rare
        _unfilled(md.meta, md.body, md.body_line, sink)
    return md.meta, md.body


def _unfilled(doc: Located, body: str, body_line: int, sink: Sink) -> None:
    """`yidang new` leaves prompts (请填写…) for the teacher: say where one is left."""

    def walk(value: object, loc: tuple[str | int, ...]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*loc, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*loc, i))
        elif isinstance(value, str) and value.startswith(PROMPT):
            sink.warning(
                doc.at(loc), said("{field}: still the template's prompt; write it", field=loc_text(loc))
            )

    walk(doc.data, ())
    for n, line in enumerate(body.splitlines()):
        if line.startswith(PROMPT):
            sink.warning((body_line + n, 1), said("the narrative is still the template's prompt; write it"))


def _read_record(
    root: Path,
    sdir: Path,
    rel: str,
    name: str,
    ctx: Context,
    as_of: dt.date,
    problems: list[Problem],
    mentions: list[tuple[str, tuple[int, int], int, str]],
) -> RecordEntry | None:
    sink = Sink(rel, problems)
    named = RECORD_NAME.match(name)
    if not named:
        sink.error((1, 1), said("record file name must be YYYY-MM-DD-<type>[-n].md, e.g. 2026-03-05-talk.md"))
        return None
    parsed = _parse_md(root, rel, sink)
    if parsed is None:
        return None
    doc, body = parsed
    if not isinstance(doc.data, dict):
        sink.error(doc.origin, said("front matter must be a mapping of fields"))
        return None
    rtype = doc.data.get("type")
    model = RECORD_TYPES.get(rtype) if isinstance(rtype, str) else None
    if model is None:
        if rtype is None:
            sink.error(doc.origin, said("missing required field '{field}'", field="type"))
        else:
            template = "type: unknown record type '{type}'{hint} (expected one of {types})"
            words = {"type": rtype, "types": ", ".join(RECORD_TYPES), **hint(str(rtype), RECORD_TYPES)}
            sink.error(doc.at(("type",)), said(template, **words))
        return None
    record = validate_doc(model, doc, sink)
    if record is None:
        return None
    _check_record(record, doc, sink, named, sdir, ctx, as_of)
    mentions += [(rel, doc.at(("with", i)), i, who) for i, who in enumerate(record.with_)]
    if not body.strip():
        sink.warning(doc.origin, said(NO_NARRATIVE))
    return RecordEntry(cast(Record, record), body, rel)  # a RECORD_TYPES model, so one of Record


def _check_record(
    record: RecordBase,
    doc: Located,
    sink: Sink,
    named: re.Match[str],
    sdir: Path,
    ctx: Context,
    as_of: dt.date,
) -> None:
    name_date, name_type = named.group(1), named.group(2)
    if record.date.isoformat() != name_date:
        template = "date {date} differs from the file name's date {name}"
        sink.error(doc.at(("date",)), said(template, date=record.date, name=name_date))
    if record.type != name_type:
        template = "type '{type}' differs from the file name's type '{name}'"
        sink.error(doc.at(("type",)), said(template, type=record.type, name=name_type))
    if record.date > as_of:
        sink.warning(doc.at(("date",)), said(FUTURE, date=record.date))
    if record.from_school is None:  # another school's teachers and terms are kept as written
        check_references(record, doc, sink, ctx)
    for i, photo in enumerate(record.photos):
        check_photo(sink, doc, ("photos", i), sdir, photo)


# --- the whole archive -------------------------------------------------------


def source_files(folder: Path) -> list[tuple[str, Path]]:
    """The student's source files under ``folder``, by their path there
    (``records/2026-09-08-talk.md``), in order; hidden files left out."""
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if (
            path.is_file()
            and rel.parts[0] in SOURCE_ENTRIES
            and not any(p.startswith(".") for p in rel.parts)
        ):
            found.append((rel.as_posix(), path))
    return found


def student_folders(root: Path) -> list[str]:
    """The archive's student folders, sorted (hidden ones aside)."""
    sroot = root / "students"
    if not sroot.is_dir():
        return []
    return sorted(e.name for e in os.scandir(sroot) if e.is_dir() and not e.name.startswith("."))


def _context(sf: SchoolFiles) -> Context:
    school = sf.school
    return Context(
        teachers=frozenset(sf.teachers),
        classes=frozenset(sf.classes),
        terms=frozenset(t.id for t in school.terms) if school else frozenset(),
        categories={k: tuple(c.kinds) for k, c in school.categories.items()} if school else {},
        school=school,
        graduated={k: c.graduated for k, c in sf.classes.items() if c.graduated is not None},
    )


# What to do with each valid student, in the process that read it (a page, a
# booklet). Set before the worker processes fork, so it is inherited, not pickled.
StudentHook = Callable[[Student], Any]
_hook: StudentHook | None = None


def _read_one(args: tuple[Path, str, Context, dt.date, bool]) -> StudentResult:
    """Read one student; hand the full file to the hook; send back only a summary."""
    res = read_student(*args)
    if res.student is not None:
        res.summary = res.student.summary()
        valid = not any(p.severity == "error" for p in res.problems)  # pages of valid files only
        res.output = _hook(res.student) if _hook is not None and valid and not res.expired else None
        res.student = None  # the full file never crosses back to the main process
    return res


def _read_students(
    root: Path, folders: list[str], ctx: Context, as_of: dt.date, keep: bool, jobs: int
) -> Iterator[StudentResult]:
    tasks = [(root, f, ctx, as_of, keep) for f in folders]
    threshold = PARALLEL_FROM_WITH_HOOK if _hook is not None else PARALLEL_FROM
    if jobs <= 1 or len(folders) < threshold:
        yield from map(_read_one, tasks)
        return
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        # Chunks of a few seconds' work at most: the last one keeps one worker busy alone.
        yield from pool.map(_read_one, tasks, chunksize=max(1, min(CHUNK, len(tasks) // (jobs * 8))))


def context_key(root: Path, as_of: dt.date) -> str:
    """What every student's result depends on outside its folder: the school files, the day."""
    parts: list[str | bytes] = [as_of.isoformat()]
    for name in SCHOOL_FILES:
        try:
            parts += [name, (root / name).read_bytes()]
        except OSError:
            parts += [name, b"missing"]
    return digest(*parts)


def school_today(root: Path) -> dt.date:
    """Today in the school's time zone (``timezone`` in school.yml; Asia/Shanghai when it is
    missing or the file cannot be read: ``check`` reports that file's problems itself)."""
    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        data = yaml.load((root / "school.yml").read_text(encoding="utf-8"), Loader=loader)
        zone = str(data.get("timezone") or schema.DEFAULT_TIMEZONE)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        zone = schema.DEFAULT_TIMEZONE
    return schema.today_in(zone)


def parse_as_of(value: object) -> dt.date | None:
    """The plugin's ``as_of`` setting: a YYYY-MM-DD date, or None for today."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(labels.error("commands", "bad_as_of", value=repr(value))) from None


def read_archive(
    root: Path,
    as_of: dt.date | None = None,
    keep: bool = True,
    jobs: int | None = None,
    hook_factory: Callable[[SchoolFiles, dt.date], StudentHook] | None = None,
    folders: list[str] | None = None,
    progress: Callable[[], None] | None = None,
    cache: StudentCache | None = None,
) -> ReadResult:
    """Read and validate the archive at ``root``; every problem is returned.

    ``keep=False`` returns problems only (``check``). Otherwise the archive
    holds a summary of each student, and ``hook_factory`` — given the school
    files — may return a function that each worker applies to every valid
    student's full file (to render its page); its results are in ``outputs``.

    ``folders`` restricts reading to those student folders (the checks that
    span students, such as duplicate ids, then see only those); ``progress``
    is called once per student read. With a ``cache``, a student whose files
    and context did not change since the last read is not read again: its
    cached result (problems, summary and the hook's output) is used. A cache
    serves one way of reading (``keep`` or not, one hook): the build and
    ``check`` keep theirs apart. What spans students (duplicate ids, a ``with``
    naming a student, group records) is checked again from the results.

    Raises :class:`YidangError` when ``root`` is not an archive at all, or a
    folder asked for does not exist.
    """
    if not root.is_dir():
        raise UsageError(labels.error("commands", "no_archive", path=root))
    if not any((root / f).exists() for f in (*SCHOOL_FILES, "students")):
        raise UsageError(labels.error("commands", "not_archive", path=root))
    as_of = as_of or school_today(root)
    problems: list[Problem] = label_problems(labels.shipped())  # a kind without its words
    jobs = jobs or os.cpu_count() or 1
    if cache is not None and not cache.prefetching:  # the build starts it sooner
        cache.prefetch(root, sorted(set(folders)) if folders else student_folders(root), jobs)
    try:
        return _read_all(root, as_of, keep, jobs, hook_factory, folders, progress, cache, problems)
    finally:
        if cache is not None:
            cache.close()


def _school(root: Path, problems: list[Problem], cache: StudentCache | None) -> SchoolFiles:
    """The school files, validated; from the build cache when their bytes are unchanged
    (validating 200 teachers with positions costs 0.2 s, a tenth of a rebuild)."""
    if cache is None:
        return _read_school(root, problems)
    key = digest(cache.key, context_key(root, dt.date.min))  # the code that validates, too
    hit = cache.store.get("school")
    if isinstance(hit, tuple) and len(hit) == 3 and hit[0] == key:
        problems.extend(hit[2])
        return hit[1]
    found: list[Problem] = []
    sf = _read_school(root, found)
    cache.store.put("school", (key, sf, found))
    problems.extend(found)
    return sf


def _groups(
    root: Path, ctx: Context, everyone: list[str], problems: list[Problem], cache: StudentCache | None
) -> list[groups.Group]:
    """The group records, validated; from the cache when activities/ (its files and photos),
    the school files and the students' folders are as they were (validating them costs a
    third of a check that reads one changed student)."""
    if cache is None:
        return groups.read_groups(root, ctx, everyone, problems, _parse_md)
    base = root / groups.ACTIVITIES
    found = sorted(base.rglob("*")) if base.is_dir() else []
    stamp = [f"{p.relative_to(base)}|{p.stat().st_size}|{p.stat().st_mtime_ns}" for p in found]
    key = digest(cache.key, context_key(root, dt.date.min), *everyone, *stamp)
    hit = cache.store.get("groups")
    if isinstance(hit, tuple) and len(hit) == 3 and hit[0] == key:
        problems.extend(hit[2])
        return list(hit[1])
    said_here: list[Problem] = []
    held = groups.read_groups(root, ctx, everyone, said_here, _parse_md)
    cache.store.put("groups", (key, held, said_here))
    problems.extend(said_here)
    return held


def _with_groups(
    extra: Callable[[str], str] | None, held: dict[str, tuple[Any, ...]]
) -> Callable[[str], str]:
    """A cached student's result also depends on the group activities that list them."""

    def key(folder: str) -> str:
        mine = held.get(folder, ())
        if not mine:
            return extra(folder) if extra else ""
        inputs = extra(folder) + extra(GROUPS) if extra else ""  # their provenance too
        return inputs + groups.key_of(mine)

    return key


WITH_NAMES_A_STUDENT = "{field} names a student of the archive: write a role (a classmate), not a name or id"


def _with_names_a_student(
    results: list[StudentResult],
    held: list[groups.Group],
    teachers: dict[str, Teacher],
    problems: list[Problem],
) -> None:
    """A record's ``with`` that names a student of the archive (by name or id) is a
    warning: whoever may read this file would learn that the other student is in the
    programme too, which the rules forbid (避免标签化). A group activity's too: it is shown
    in each listed student's file, never with the others' names. Checked once every
    student is read, so a cached file is checked against today's names."""
    known = {r.profile_id for r in results if r.profile_id} | {r.name for r in results if r.name}
    colleagues = set(teachers) | {t.name for t in teachers.values()}  # what ``with`` is for
    known = {k for k in known - colleagues if len(k) >= 2}  # a one-letter "name" is in every word
    if not known:
        return
    sizes = sorted({len(k) for k in known})
    for path, pos, i, who in chain.from_iterable(
        [*(r.mentions for r in results), *(g.mentions for g in held)]
    ):
        if who in colleagues:
            continue
        # A name inside a longer phrase (李明的妈妈) names the student too.
        if any(who[at : at + n] in known for n in sizes for at in range(len(who) - n + 1)):
            Sink(path, problems).warning(pos, said(WITH_NAMES_A_STUDENT, field=f"with[{i}]"))


def _read_all(
    root: Path,
    as_of: dt.date,
    keep: bool,
    jobs: int,
    hook_factory: Callable[[SchoolFiles, dt.date], StudentHook] | None,
    folders: list[str] | None,
    progress: Callable[[], None] | None,
    cache: StudentCache | None,
    problems: list[Problem],
) -> ReadResult:
    global _hook
    sf = _school(root, problems, cache)
    everyone = student_folders(root)
    held = _groups(root, _context(sf), everyone, problems, cache)
    ctx = replace(_context(sf), groups=groups.by_student(held))
    if cache is not None:
        cache.extra = _with_groups(cache.extra, ctx.groups)
    _hook = hook_factory(sf, as_of) if (hook_factory and keep and sf.school) else None
    unknown = sorted(set(folders or ()) - set(everyone))
    if unknown:
        raise UsageError(labels.error("commands", "no_student_folder", id=unknown[0]))
    folders = sorted(set(folders)) if folders else everyone
    if not folders:
        Sink("students", problems).warning((1, 1), said("the archive has no student folders yet"))
    students: dict[str, StudentSummary] = {}
    outputs: dict[str, Any] = {}
    seen: dict[str, str] = {}
    files = len(SCHOOL_FILES)
    cached: dict[str, StudentResult] = {}
    if cache is not None:
        cached = cache.lookup_all(root, folders, context_key(root, as_of))
        if progress is not None:
            for _ in cached:
                progress()
    fresh: dict[str, StudentResult] = {}
    try:
        todo = [f for f in folders if f not in cached]
        for res in _read_students(root, todo, ctx, as_of, keep, jobs):
            fresh[res.folder] = res
            if cache is not None:
                cache.save(res.folder.removeprefix("students/"), res)
            if progress is not None:
                progress()
    finally:
        _hook = None
    results = [cached.get(f) or fresh[f"students/{f}"] for f in folders]
    for res in results:
        problems.extend(res.problems)
        files += res.files
        if res.profile_id is not None:
            if res.profile_id in seen:
                template = "duplicate student id '{id}', also in {other}/profile.yml"
                Sink(f"{res.folder}/profile.yml", problems).error(
                    res.id_pos, said(template, id=res.profile_id, other=seen[res.profile_id])
                )
            else:
                seen[res.profile_id] = res.folder
        if res.summary is not None and res.summary.id not in students and not res.expired:
            students[res.summary.id] = res.summary
            outputs[res.summary.id] = res.output
    _with_names_a_student(results, held, sf.teachers, problems)
    groups.check_open(held, {r.folder: r.profile for r in results if r.profile}, problems)
    problems.sort(key=lambda p: (p.path, p.line, p.col, p.message))
    archive = None
    if keep and sf.school is not None and not any(p.severity == "error" for p in problems):
        members = {g.stem: frozenset(g.students) for g in held}
        archive = Archive(sf.school, sf.teachers, sf.classes, students, as_of, members)
    return ReadResult(archive, problems, files, outputs)
