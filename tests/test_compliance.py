"""The four ones, on hand-built students with answers worked out by hand."""

from __future__ import annotations

import datetime as dt

from generator.archive.compliance import RecordFact, periods, rate
from generator.archive.schema import Profile, School

D = dt.date.fromisoformat
WEEKLY = {"talk": "week", "home_visit": "month", "evaluation": "term"}
MONTHLY = {"talk": "month", "home_visit": "month", "evaluation": "term"}
SCHOOL = School.model_validate(
    {
        "name": "测试中学",
        "leadership": [{"teacher": "T1", "role": "leader"}],
        "terms": [
            {"id": "t1", "name": "第二学期", "start": "2026-03-02", "end": "2026-06-28"},
            {"id": "t2", "name": "第一学期", "start": "2026-09-01", "end": "2027-01-15"},
        ],
        "categories": {
            "poverty": {"name": "贫困家庭学生", "rules": WEEKLY},
            "left_behind": {"name": "留守儿童", "rules": MONTHLY},
        },
    }
)


def student(categories: list[dict], mentors: list[dict] | None = None, **extra) -> Profile:  # type: ignore[no-untyped-def]
    return Profile.model_validate(
        {
            "id": "S1",
            "name": "测试",
            "gender": "女",
            "birth_date": "2011-01-01",
            "class": "C1",
            "categories": categories,
            "mentors": mentors or [{"teacher": "T2", "since": "2026-03-02"}],
            **extra,
        }
    )


def talks(*days: str) -> list[RecordFact]:
    return [RecordFact(D(d), "talk") for d in days]


def of(items, requirement: str):  # type: ignore[no-untyped-def]
    return [(p.start.isoformat(), p.end.isoformat(), p.status) for p in items if p.requirement == requirement]


def test_talks_in_weeks_1_2_and_4_leave_week_3_overdue() -> None:
    s = student([{"key": "poverty", "since": "2026-03-02"}])
    result = periods(s, SCHOOL, talks("2026-03-03", "2026-03-10", "2026-03-24"), D("2026-03-30"))
    assert of(result, "talk") == [
        ("2026-03-02", "2026-03-08", "met"),
        ("2026-03-09", "2026-03-15", "met"),
        ("2026-03-16", "2026-03-22", "missed"),
        ("2026-03-23", "2026-03-29", "met"),
        ("2026-03-30", "2026-04-05", "open"),
    ]
    missed = next(p for p in result if p.status == "missed")
    assert missed.days_overdue(D("2026-03-30")) == 8
    assert rate(p for p in result if p.requirement == "talk") == 3 / 4


def test_poverty_from_the_18th_makes_weekly_talks_due_only_from_then() -> None:
    s = student([{"key": "poverty", "since": "2026-03-18", "kind": "农村低保"}])  # a Wednesday
    result = periods(s, SCHOOL, [], D("2026-04-06"))
    assert [p[0] for p in of(result, "talk")] == ["2026-03-16", "2026-03-23", "2026-03-30", "2026-04-06"]
    assert of(result, "home_visit")[0] == ("2026-03-02", "2026-03-31", "missed")


def test_a_stricter_category_starting_mid_month_replaces_that_month() -> None:
    s = student([{"key": "left_behind", "since": "2026-03-02"}, {"key": "poverty", "since": "2026-04-15"}])
    result = periods(s, SCHOOL, talks("2026-03-20"), D("2026-04-27"))
    assert of(result, "talk") == [
        ("2026-03-02", "2026-03-31", "met"),  # March: monthly, met
        ("2026-04-13", "2026-04-19", "missed"),
        ("2026-04-20", "2026-04-26", "missed"),
        ("2026-04-27", "2026-05-03", "open"),
    ]  # April's month was replaced by weeks


def test_mentor_change_mid_month() -> None:
    s = student(
        [{"key": "left_behind", "since": "2026-03-02"}],
        mentors=[
            {"teacher": "TA", "since": "2026-03-02", "until": "2026-03-15"},
            {"teacher": "TB", "since": "2026-03-16"},
        ],
    )
    result = periods(s, SCHOOL, talks("2026-03-10"), D("2026-04-01"))
    march = next(p for p in result if p.requirement == "talk" and p.start == D("2026-03-02"))
    assert (march.status, march.mentor) == ("met", "TB")  # TA's talk counts; the month is TB's


def test_a_closed_case_stops_being_due() -> None:
    s = student(
        [{"key": "left_behind", "since": "2026-03-02", "until": "2026-04-15"}],
        mentors=[{"teacher": "T2", "since": "2026-03-02", "until": "2026-04-15"}],
        status="closed",
        closed_on="2026-04-15",
        closed_reason="情况好转",
    )
    result = periods(s, SCHOOL, [], D("2026-06-30"))
    assert of(result, "talk") == [("2026-03-02", "2026-03-31", "missed")]  # April, May, June: nothing
    assert of(result, "evaluation") == []


def test_terms_and_the_holiday_between_them() -> None:
    s = student([{"key": "left_behind", "since": "2026-03-02"}])
    facts = [RecordFact(D("2026-07-02"), "evaluation", "t1")]  # written just after the term
    result = periods(s, SCHOOL, facts, D("2026-09-30"))
    months = of(result, "home_visit")
    assert [m[:2] for m in months] == [
        ("2026-03-02", "2026-03-31"),
        ("2026-04-01", "2026-04-30"),
        ("2026-05-01", "2026-05-31"),
        ("2026-06-01", "2026-06-28"),
        ("2026-09-01", "2026-09-30"),
    ]  # no July, no August
    assert months[-1][2] == "open"  # due today, not overdue yet
    assert of(result, "evaluation") == [
        ("2026-03-02", "2026-06-28", "met"),
        ("2026-09-01", "2027-01-15", "open"),
    ]


def test_a_late_joiner_owes_nothing_before_joining() -> None:
    s = student([{"key": "poverty", "since": "2026-03-02"}], enrolled_on="2026-04-08")
    result = periods(s, SCHOOL, talks("2026-04-09"), D("2026-04-13"))
    assert of(result, "talk") == [("2026-04-06", "2026-04-12", "met"), ("2026-04-13", "2026-04-19", "open")]
