"""The archive schema, written once as data (pydantic models).

The validator, the templates and ``docs/schema.md`` all follow these models:
each field's ``description`` is what the docs print, so the documentation
cannot drift from what ``yidang check`` enforces. Field names are English
snake_case; values and prose are Chinese; code words (record ``type``, ``mode``,
category keys) are English.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from generator.archive.wording import RuleBroken, rule_words
from generator.core import labels as words

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEFAULT_TIMEZONE = "Asia/Shanghai"


def valid_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def today_in(timezone: str = DEFAULT_TIMEZONE) -> dt.date:
    """Today's date in ``timezone``: a phone in China after midnight is already on the next
    day while a machine on UTC is not; the school's day is the one that counts."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(timezone if valid_timezone(timezone) else DEFAULT_TIMEZONE)).date()


def _parse_date(value: Any) -> dt.date:
    """Accept only ``YYYY-MM-DD`` text and say exactly why a date is impossible."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise RuleBroken("expected a date written YYYY-MM-DD, got {got}", got=repr(value))
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise RuleBroken("impossible date {date} ({why})", date=value.strip(), why=exc) from None


Date = Annotated[dt.date, BeforeValidator(_parse_date)]
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=40)]
Text = Annotated[str, Field(min_length=1)]
# Names reach page titles, and MkDocs themes render titles without escaping
# (Material's <title> even unescapes through `striptags`): no markup characters.
Name = Annotated[str, Field(min_length=1, max_length=60, pattern=r'^[^<>&"]+$')]
Phone = Annotated[str, Field(pattern=r"^[0-9+\- ]{5,20}$")]
Mode = Literal["in_person", "phone", "video"]


class Strict(BaseModel):
    """Base: unknown fields are reported (as warnings, with a did-you-mean)."""

    # defer_build: a rebuild validates a handful of files; building all the validators at
    # import cost 0.2 s of every command
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


# --- school.yml -------------------------------------------------------------


class Term(Strict):
    id: Id = Field(description="Term id, e.g. `2026-spring`; records and plans refer to it.")
    name: Name = Field(description="Display name, e.g. `2025—2026学年第二学期`.")
    start: Date = Field(description="First day of the term.")
    end: Date = Field(description="Last day of the term (holidays lie between terms).")

    @model_validator(mode="after")
    def _ordered(self) -> Term:
        if self.end < self.start:
            raise RuleBroken(
                "term {id} ends ({end}) before it starts ({start})",
                id=self.id,
                end=self.end,
                start=self.start,
            )
        return self


Period = Literal["week", "month", "term", "none"]


class Rules(Strict):
    talk: Period = Field("month", description="How often a talk (谈话) is due: week, month, term or none.")
    home_visit: Period = Field(
        "month", description="How often a home visit, in person or by phone (家访), is due."
    )
    evaluation: Period = Field("term", description="How often a semester evaluation (学期评估) is due.")


class CategoryDef(Strict):
    name: Name = Field(description="Chinese name shown everywhere, e.g. `留守儿童`.")
    kinds: list[Text] = Field(
        default_factory=list,
        description="Allowed sub-kinds (poverty: 建档立卡贫困家庭, 农村低保, 特困供养). Empty: none.",
    )
    rules: Rules = Field(default_factory=Rules, description="The four-ones rules for this category.")


class LeadershipRole(Strict):
    teacher: Id = Field(description="Teacher id from `teachers.yml`.")
    role: Literal["leader", "deputy", "office"] = Field(
        description="`leader` 组长, `deputy` 副组长, `office` 帮扶办公室."
    )


class TermTemplate(Strict):
    id: Text = Field(
        description="Term id; `{y}` is the year the school year starts, `{y1}` the next, e.g. `{y}-fall`."
    )
    name: Text = Field(description="Display name, e.g. `{y}—{y1}学年第一学期`.")
    start: Text = Field(description="First day, e.g. `{y}-09-01`.")
    end: Text = Field(description="Last day, e.g. `{y1}-01-15`.")


class Rollover(Strict):
    grades: dict[Text, Text] = Field(
        description="Each grade → the grade its classes become next school year, e.g. "
        "`{高一: 高二, 高二: 高三}`; the classes of a grade not listed graduate."
    )
    class_ids: dict[Text, Text] = Field(
        description="The part of a class id before its first `-` → next year's, e.g. `{G1: G2, G2: G3}`."
    )
    terms: list[TermTemplate] = Field(
        default_factory=list, description="A school year's terms, added by `yidang rollover` when missing."
    )
    done: list[int] = Field(
        default_factory=list,
        description="School years already rolled over to (written by `yidang rollover`), e.g. `[2027]`.",
    )


class Retention(Strict):
    years: int = Field(
        ge=1,
        le=30,
        description="How many years a file stays in the site and booklets after its case "
        "closes or the student transfers out (`closed_on`); then `check` lists it and the "
        "build leaves it out (docs/school-year.md).",
    )


class School(Strict):
    name: Name = Field(description="School name, printed on every page and booklet cover.")
    leadership: list[LeadershipRole] = Field(
        min_length=1, description="The leadership group (领导小组) and office."
    )
    terms: list[Term] = Field(min_length=1, description="Terms with their dates, in any order.")
    categories: dict[Id, CategoryDef] = Field(
        min_length=1,
        description="Category key (`poverty`, `left_behind`, …) → its name, kinds and rules.",
    )
    rollover: Rollover | None = Field(
        None, description="How the school year moves on (`yidang rollover`): grades, class ids, terms."
    )
    retention: Retention | None = Field(
        None, description="How long files of ended cases are kept readable, e.g. `{years: 3}`."
    )
    timezone: str = Field(
        DEFAULT_TIMEZONE,
        description='The school\'s time zone (IANA name): what day "today" is for `check`, intake and '
        "the record forms, whatever the clock of the computer that runs them. Default `Asia/Shanghai`.",
    )
    demo: bool = Field(
        False,
        description="The sample archive only: its demo logins and intake key are public (their "
        "passphrases are in the README). `check` warns when those keys are used without it.",
    )

    @model_validator(mode="after")
    def _known_zone(self) -> School:
        if not valid_timezone(self.timezone):
            raise RuleBroken(
                "timezone: unknown time zone {zone} (e.g. Asia/Shanghai)", zone=repr(self.timezone)
            )
        return self


# --- teachers.yml and classes.yml -------------------------------------------

TeacherRole = Literal["mentor", "head_teacher", "leader", "deputy", "office", "subject", "counsellor"]


class Teacher(Strict):
    id: Id = Field(description="Teacher id, e.g. `T007`; used in URLs and references.")
    name: Name = Field(description='Full name (no < > & " characters).')
    roles: list[TeacherRole] = Field(
        min_length=1,
        description="Any of mentor, head_teacher, leader, deputy, office, subject, counsellor "
        "(心理教师: reads every student's counselling records).",
    )
    subject: str | None = Field(None, description="Subject taught, e.g. `数学` (optional).")
    phone: Phone | None = Field(None, description="Phone number, in quotes (optional).")
    git_user: str | None = Field(
        None,
        description="User name on the school's git server, for review routing; a commit or merge by "
        "this name shows as this teacher in 最后修改 (optional).",
    )
    git_email: str | None = Field(
        None,
        description="E-mail of the teacher's git account: records they submit in the site are committed "
        "with it as author, and commits with it show as this teacher in 最后修改; any other author "
        "shows as 学校办公室 (optional; default `<git_user>@yidang.invalid`).",
    )


class SchoolClass(Strict):
    id: Id = Field(description="Class id, e.g. `G1-03`; used in URLs and in `profile.yml`.")
    name: Name = Field(description="Display name, e.g. `高一(3)班`.")
    grade: Text = Field(description="Grade, e.g. `高一`; the dashboard counts by grade.")
    head_teacher: Id = Field(description="Teacher id of the head teacher (班主任).")
    graduated: int | None = Field(
        None,
        description="The year the class graduated, e.g. `2027` (`yidang rollover` writes it). "
        "A graduated class is never rolled over again; the class list shows it under its 届, "
        "and its page (the closed cases) is for leadership only.",
    )


# --- students/<id>/profile.yml ----------------------------------------------


def _since_until(what: str, since: dt.date, until: dt.date | None) -> None:
    """Something that ends must end on or after the day it began."""
    if until is not None and until < since:
        raise RuleBroken(
            "{what}: until ({until}) is before since ({since})", what=what, until=until, since=since
        )


class CategoryMembership(Strict):
    key: Id = Field(description="Category key from `school.yml`.")
    since: Date = Field(description="Date the student entered the category (registration).")
    until: Date | None = Field(None, description="Date it ended (optional; empty = current).")
    kind: str | None = Field(None, description="Sub-kind, one of the category's `kinds`.")
    evidence: str | None = Field(None, description="What the registration rests on, e.g. 低保证编号.")
    verified_by: Text | None = Field(
        None,
        description="Teacher id who verified it on the home visit (a name, from before a transfer in).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> CategoryMembership:
        _since_until(f"category {self.key}", self.since, self.until)
        return self


class MentorAssignment(Strict):
    teacher: Id = Field(description="Mentor's teacher id.")
    since: Date = Field(description="First day of the assignment.")
    until: Date | None = Field(None, description="Last day (optional; empty = current).")
    mode: Literal["one_to_one", "one_to_many"] = Field(
        "one_to_one", description="`one_to_one` 一对一 or `one_to_many` 一对多."
    )

    @model_validator(mode="after")
    def _ordered(self) -> MentorAssignment:
        _since_until(f"mentor {self.teacher}", self.since, self.until)
        return self


class Guardian(Strict):
    relation: Text = Field(description="Relation to the student, e.g. 母亲, 祖父.")
    name: Text = Field(description="Guardian's name.")
    phone: Phone | None = Field(None, description='Phone number, in quotes: `"13800000000"`.')
    work_place: str | None = Field(None, description="Where they work (for migrant parents: city).")
    lives_with_student: bool = Field(False, description="Whether the guardian lives with the student.")


class Disability(Strict):
    kind: Text = Field(description="Kind of disability, e.g. 肢体残疾.")
    grade: str | None = Field(None, description="Grade on the disability certificate, e.g. 三级.")


class AttendanceAlert(Strict):
    date: Date = Field(description="Date of the alert.")
    days_absent: int | None = Field(None, ge=0, description="Consecutive days absent.")
    note: str | None = Field(None, description="What happened.")


class PersuasionRecord(Strict):
    date: Date = Field(description="Date of the persuasion (劝返).")
    by: Text = Field(description="Teacher id (a name, from before a transfer in).")
    result: Text = Field(description="Outcome, e.g. 已返校.")


class TransferredFrom(Strict):
    school: Name = Field(description="The school the student came from.")
    date: Date = Field(description="The day the file was taken in here.")
    id: Id = Field(description="The student's id there (the id here may differ).")


class Profile(Strict):
    id: Id = Field(description="Student id; must equal the folder name. Never a name.")
    name: Name = Field(description='Full name (never in a file name or URL; no < > & " characters).')
    gender: Literal["男", "女"] = Field(description="男 or 女.")
    ethnicity: str | None = Field(None, description="民族, e.g. 汉族.")
    birth_date: Date = Field(description="Date of birth.")
    id_number: Annotated[str, Field(pattern=r"^\d{17}[\dXx]$")] | None = Field(
        None, description="ID card number (optional; always shown masked)."
    )
    class_: Id = Field(alias="class", description="Class id from `classes.yml`.")
    boarding: bool | None = Field(None, description="Boarder (住校生) or not.")
    enrolled_on: Date | None = Field(None, description="Date the student joined the school, if late.")
    categories: list[CategoryMembership] = Field(
        min_length=1, description="Categories, each with since/until, kind and evidence."
    )
    mentors: list[MentorAssignment] = Field(
        min_length=1, description="Mentor assignments over time (结对帮扶)."
    )
    guardians: list[Guardian] = Field(default_factory=list, description="Guardians (监护人).")
    address: str | None = Field(None, description="Home address.")
    household_registration: str | None = Field(None, description="户籍, e.g. 农村 / 城镇.")
    income_sources: list[Text] = Field(default_factory=list, description="Family income sources.")
    support_received: list[Text] = Field(
        default_factory=list, description="Support received: 低保, 临时救助, 国家助学金 …"
    )
    guardianship: str | None = Field(
        None, description="For left-behind children: who cares for the child day to day."
    )
    health: Literal["健康", "残疾", "患病"] | None = Field(None, description="健康, 残疾 or 患病.")
    disability: Disability | None = Field(None, description="Kind and grade, where relevant.")
    attendance_alerts: list[AttendanceAlert] = Field(
        default_factory=list, description="Dropout watch (控辍保学): absences."
    )
    persuasion_records: list[PersuasionRecord] = Field(
        default_factory=list, description="Dropout watch: persuasion visits (劝返)."
    )
    notes: str | None = Field(None, description="Anything else the mentor should know.")
    status: Literal["active", "closed", "transferred"] = Field(
        "active", description="`active`, `closed`, or `transferred` (moved to another school)."
    )
    closed_on: Date | None = Field(
        None, description="Date the case was closed, or the student transferred out (when not active)."
    )
    closed_reason: str | None = Field(None, description="Why the case was closed (when not active).")
    transferred_to: Name | None = Field(
        None, description="The school the student transferred to (`yidang transfer`; when transferred)."
    )
    transferred_from: TransferredFrom | None = Field(
        None, description="Where the student came from, when their file came by `yidang transfer`."
    )

    @model_validator(mode="after")
    def _closed_has_date(self) -> Profile:
        if self.status != "active" and (self.closed_on is None or not self.closed_reason):
            raise RuleBroken("status {status} needs closed_on and closed_reason", status=self.status)
        if (self.status == "transferred") != (self.transferred_to is not None):
            raise RuleBroken("status transferred and transferred_to go together")
        return self


# --- students/<id>/plan.md --------------------------------------------------


class Goals(Strict):
    short_term: list[Text] = Field(default_factory=list, description="Goals for this term.")
    long_term: list[Text] = Field(default_factory=list, description="Goals for the school years.")


class Measure(Strict):
    kind: Literal["学业", "心理", "生活", "资助"] = Field(description="学业, 心理, 生活 or 资助.")
    content: Text = Field(description="What will be done.")
    owner: Id = Field(description="Teacher id responsible.")
    frequency: str | None = Field(None, description="How often, e.g. 每周一次.")


class Plan(Strict):
    term: Id = Field(description="Term id the plan is for.")
    problems: list[Text] = Field(default_factory=list, description="Problems the plan addresses.")
    goals: Goals = Field(default_factory=Goals, description="Short- and long-term goals.")
    measures: list[Measure] = Field(default_factory=list, description="Measures, each with an owner.")
    review_dates: list[Date] = Field(default_factory=list, description="Dates to review the plan.")


# --- students/<id>/records/*.md ---------------------------------------------

LONG_TEXT: dict[str, Any] = {"widget": "textarea"}  # a paragraph, not a line: the record forms' text area
# Fields a teacher's submission from the site never carries (intake refuses them, the forms
# leave them out): who wrote it comes from the signature, photos from the files sent, and
# what a reviewer or the office vouches for is theirs to write.
SET_BY_SIGNATURE: dict[str, Any] = {"set_by": "signature"}
SET_BY_INTAKE: dict[str, Any] = {"set_by": "intake"}
SET_BY_OFFICE: dict[str, Any] = {"set_by": "office"}


def refers_to(table: str, **extra: Any) -> dict[str, Any]:
    """A field whose value (or each item) is an id in ``table`` — ``teacher`` (teachers.yml),
    ``term`` (school.yml) or ``class`` (classes.yml): ``check`` reports an unknown one at its
    line, forms offer the table's entries, pages and booklets show the name, not the id."""
    return {"ref": table, **extra}


def unwrap(annotation: Any) -> Any:
    """A field's type without its wrapping: ``X | None`` → X, ``Annotated[X, …]`` → X."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def reference(info: Any) -> str | None:
    """The table a field refers to (see :func:`refers_to`), or None."""
    extra = info.json_schema_extra
    return str(extra["ref"]) if isinstance(extra, dict) and "ref" in extra else None


# --- rules between fields, declared on a record model (``rules = (...)``) ----------------


@dataclass(frozen=True)
class NotBefore:
    """``field``, when given, is not before ``other`` (a follow-up after the talk)."""

    field: str
    other: str = "date"
    template: ClassVar[str] = "{field} {value} is before {other} {other_value}"

    @property
    def at(self) -> str:
        """Where ``check`` reports it: the field, whose date is wrong."""
        return self.field

    def broken(self, data: Mapping[str, Any]) -> RuleBroken | None:
        value, other = data.get(self.field), data.get(self.other)
        if isinstance(value, dt.date) and isinstance(other, dt.date) and value < other:
            return RuleBroken(
                self.template, field=self.field, value=value, other=self.other, other_value=other
            )
        return None


@dataclass(frozen=True)
class RequiredWhen:
    """``field`` must be written when ``when`` equals ``equals`` (no help next term: say why)."""

    field: str
    when: str
    equals: Any
    template: ClassVar[str] = "{when}: {value} needs a {field}"

    @property
    def at(self) -> str:
        """Where ``check`` reports it: the field that asks for the other (the other is absent)."""
        return self.when

    def broken(self, data: Mapping[str, Any]) -> RuleBroken | None:
        if data.get(self.when) == self.equals and data.get(self.field) in (None, "", []):
            value = str(self.equals).lower() if isinstance(self.equals, bool) else self.equals
            return RuleBroken(self.template, when=self.when, value=value, field=self.field)
        return None


Rule = NotBefore | RequiredWhen


class RecordBase(Strict):
    type: str = Field(description="Record type; also the end of the file name.")
    date: Date = Field(description="Date of the talk, visit, evaluation…; equals the file name's date.")
    by: Text = Field(
        json_schema_extra={**SET_BY_SIGNATURE, **refers_to("teacher")},
        description="Teacher id who wrote the record; the teacher's name in a record from another "
        "school (`from_school`).",
    )
    from_school: Name | None = Field(
        None,
        json_schema_extra=SET_BY_INTAKE,
        description="Written at the school the student came from (set by `yidang intake` for a "
        "transfer); `by`, `reviewed_by` and `term` are then that school's.",
    )
    with_: list[Text] = Field(
        default_factory=list,
        alias="with",
        description="Others present: teacher ids, or roles (同学, 同桌, 村网格员). Never another "
        "student's name or id: whoever may read this file may not know that student is in the "
        "programme (`check` warns).",
    )
    photos: list[Text] = Field(
        default_factory=list,
        json_schema_extra=SET_BY_INTAKE,
        description="Photo paths relative to the student's folder.",
    )

    rules: ClassVar[tuple[Rule, ...]] = ()  # rules between this type's fields, by field name

    @model_validator(mode="after")
    def _declared_rules(self) -> RecordBase:
        rules = type(self).rules
        if not rules:  # most kinds: nothing to look at (this runs for 150,000 records a check)
            return self
        values = _Fields(self)
        for rule in rules:
            broken = rule.broken(values)
            if broken is not None:
                broken.field = _field_keys(type(self)).get(rule.at, rule.at)  # reported at its line
                raise rule_words(broken, values.get("type"))
        return self


class _Fields(Mapping[str, Any]):
    """A record's values by the keys written in its file, read only as a rule asks for them
    (a dict of every field, made for each of 150,000 records, was a tenth of ``check``)."""

    __slots__ = ("_attrs", "_record")

    def __init__(self, record: BaseModel) -> None:
        self._record = record
        self._attrs = attributes(type(record))

    def get(self, key: str, default: Any = None) -> Any:
        attr = self._attrs.get(key)
        return default if attr is None else getattr(self._record, attr)

    def __getitem__(self, key: str) -> Any:
        return getattr(self._record, self._attrs[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._attrs)

    def __len__(self) -> int:
        return len(self._attrs)


@functools.cache
def attributes(model: type[BaseModel]) -> dict[str, str]:
    """The key written in the file → the attribute (``continue`` → ``continue_``)."""
    return {key: name for name, key in _field_keys(model).items()}


@functools.cache
def _field_keys(model: type[BaseModel]) -> dict[str, str]:
    """Attribute → the key written in the file (``continue_`` → ``continue``), once per model
    (``model_fields`` is a descriptor that costs microseconds on every access)."""
    return {name: info.alias or name for name, info in model.model_fields.items()}


@functools.cache
def references(model: type[BaseModel]) -> tuple[tuple[str, str, str], ...]:
    """The model's reference fields, once per model: (attribute, key in the file, table)."""
    return tuple(
        (name, info.alias or name, table)
        for name, info in model.model_fields.items()
        if (table := reference(info)) is not None
    )


class Talk(RecordBase):
    type: Literal["talk"] = Field(description="`talk` 谈话记录.")
    mode: Mode = Field(description="`in_person` 面谈, `phone` or `video`.")
    topic: Text = Field(description="Topic of the talk.")
    mood: str | None = Field(None, description="The student's mood, in a few words.")
    agreed_actions: list[Text] = Field(default_factory=list, description="What was agreed.")
    follow_up_on: Date | None = Field(None, description="When to follow up (not before the talk).")

    rules = (NotBefore("follow_up_on"),)


class HomeVisit(RecordBase):
    type: Literal["home_visit"] = Field(description="`home_visit` 家访记录.")
    mode: Mode = Field(description="`in_person` 入户, `phone` 电话家访 or `video`.")
    met: list[Text] = Field(min_length=1, description="Family members met or spoken to.")
    family_situation: str | None = Field(
        None, json_schema_extra=LONG_TEXT, description="What was seen of the family's situation."
    )
    parent_feedback: str | None = Field(
        None, json_schema_extra=LONG_TEXT, description="What the guardians said."
    )
    next_visit_on: Date | None = Field(None, description="Planned next visit (not before this one).")

    rules = (NotBefore("next_visit_on"),)


class Evaluation(RecordBase):
    type: Literal["evaluation"] = Field(description="`evaluation` 学期评估.")
    term: Text = Field(json_schema_extra=refers_to("term"), description="Term id evaluated.")
    study: Text = Field(json_schema_extra=LONG_TEXT, description="Study (学业).")
    mental_health: Text = Field(json_schema_extra=LONG_TEXT, description="Mental health (心理).")
    behaviour: Text = Field(json_schema_extra=LONG_TEXT, description="Behaviour (行为习惯).")
    goals_met: Literal["达成", "部分达成", "未达成"] = Field(description="达成, 部分达成 or 未达成.")
    continue_: bool = Field(alias="continue", description="Whether help continues next term.")
    continue_reason: str | None = Field(
        None, json_schema_extra=LONG_TEXT, description="Why help stops (required when false)."
    )
    reviewed_by: Text | None = Field(
        None,
        json_schema_extra={**SET_BY_OFFICE, **refers_to("teacher")},
        description="Teacher id (head teacher or office) who reviewed (a name when `from_school`).",
    )

    rules = (RequiredWhen("continue_reason", when="continue", equals=False),)


class Activity(RecordBase):
    type: Literal["activity"] = Field(description="`activity` 教育活动.")
    theme: Text = Field(description="Theme of the activity.")
    kind: Literal["励志教育", "情感教育", "心理健康教育", "感恩教育"] = Field(
        description="励志教育, 情感教育, 心理健康教育 or 感恩教育."
    )


class Aid(RecordBase):
    type: Literal["aid"] = Field(description="`aid` 资助发放.")
    item: Text = Field(description="What was given, e.g. 国家助学金.")
    amount: float | None = Field(None, ge=0, description="Amount in yuan (optional).")


NO_COUNSELLING_PHOTOS = "a counselling record carries no photos: they would reach every reader of the file"


class Counselling(RecordBase):
    """心理辅导: readable only by those who need it (the counsellor, 心理教师, leadership)."""

    type: Literal["counselling"] = Field(description="`counselling` 心理辅导; `by` is the counsellor.")
    way: Literal["个别", "团体", "线上"] = Field(description="个别, 团体 or 线上.")
    topic: Text = Field(description="What the session was about.")
    risk: Literal["低", "中", "高"] = Field(description="Risk level: 低, 中 or 高 (a 高 reaches leadership).")
    next_step: str | None = Field(None, json_schema_extra=LONG_TEXT, description="What comes next.")
    next_on: Date | None = Field(None, description="Next session (not before this one).")

    rules = (NotBefore("next_on"),)

    @model_validator(mode="after")
    def _no_photos(self) -> Counselling:
        if self.photos:  # a photo is published as a file of the student's, readable by all their readers
            raise RuleBroken(
                "a counselling record carries no photos: they would reach every reader of the file"
            )
        return self


class GroupFields(Strict):
    """What a group file (``activities/<date>-<name>.md``) adds to its kind's fields.

    A kind declared ``group`` may be kept once for many students. Every listed student's file
    shows it as one of their records, without the list: a reader of one student's file must
    not learn who else is in the programme, so ``students`` is read by ``check`` and the
    build, never shown."""

    students: list[Id] = Field(
        min_length=1,
        max_length=200,
        description="Student ids the record was held for; each student's file shows it, with how "
        "many took part, never who.",
    )
    photos: list[Text] = Field(
        default_factory=list,
        json_schema_extra=SET_BY_INTAKE,
        description="Photo paths relative to `activities/`. A group's photos are shown only to "
        "those who may read every listed student's file, and are not printed in booklets.",
    )


_GROUP_MODELS: dict[type[RecordBase], type[RecordBase]] = {}


def group_model(model: type[RecordBase]) -> type[RecordBase]:
    """The model of a group file of ``model``'s kind: its fields and :class:`GroupFields`'."""
    found = _GROUP_MODELS.get(model)
    if found is None:
        extra = {name: (info.annotation, info) for name, info in GroupFields.model_fields.items()}
        found = _GROUP_MODELS[model] = create_model(  # type: ignore[call-overload]
            f"Group{model.__name__}", __base__=model, __doc__=GroupFields.__doc__, **extra
        )
    return found


# --- the record registry: one declaration per kind of record ----------------------


@dataclass(frozen=True)
class RecordKind:
    """A kind of record, declared once. Everything else follows from the declaration: check
    (fields, references, rules), the site's form, docs/schema.md, `yidang new`, synth, the
    review's description, the page and the booklet (one record partial). Labels come from the
    labels file (``types``, ``type_fields``, ``fields``, ``choices``); ``check`` and the build
    report a missing one as a located error."""

    model: type[RecordBase]
    form: bool = True  # offered as a form in the site (teachers write it on a phone)
    # Its words, when they are not in the labels file: {"name": 心理辅导, "fields": {key: name},
    # "choices": {key: {value: label}}, "shown": [keys shown on the page and in the booklet]}.
    labels: Mapping[str, Any] | None = None
    # Need to know: only the record's writer, the counsellor role and leadership read its
    # content; a student's other readers see that it took place, its date and a high risk.
    need_to_know: bool = False
    # May be kept once for many students, at activities/<date>-<name>.md (GroupFields).
    group: bool = False

    @property
    def type(self) -> str:
        """The value of ``type:``, and the end of the file name."""
        return str(typing.get_args(self.model.model_fields["type"].annotation)[0])


RECORD_KINDS: dict[str, RecordKind] = {}
RECORD_TYPES: dict[str, type[RecordBase]] = {}  # type → model: a view of RECORD_KINDS


def register(kind: RecordKind) -> RecordKind:
    """Add a kind of record (the built-in ones below; a school's own, or a test's)."""
    RECORD_KINDS[kind.type] = kind
    RECORD_TYPES[kind.type] = kind.model
    words.declare_kind(kind.type, dict(kind.labels) if kind.labels else None)
    return kind


def unregister(name: str) -> None:
    """Remove a kind again (a test that registered one cleans up)."""
    RECORD_KINDS.pop(name, None)
    RECORD_TYPES.pop(name, None)
    words.declare_kind(name, None)


for _model in (Talk, HomeVisit, Evaluation, Activity, Aid):
    # an activity (励志教育 for a class) may be one file for many students: a group activity
    register(RecordKind(_model, group=_model is Activity))
register(RecordKind(Counselling, need_to_know=True))
Record = (
    Talk | HomeVisit | Evaluation | Activity | Aid
)  # for type checkers; at run time any RECORD_TYPES model


def set_by(info: Any) -> str | None:
    """Who sets a field instead of the teacher writing a record (signature, intake, office),
    or None for a field the teacher writes."""
    extra = info.json_schema_extra
    return str(extra["set_by"]) if isinstance(extra, dict) and "set_by" in extra else None
