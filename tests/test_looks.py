"""What readers look at and act on, in Chromium at desktop and phone width: the login,
我的待办, the charts (their numbers against the four-ones engine's), printing, a phone's
student page, and axe-core's accessibility rules.

Screenshots of each page at both widths are written under the test's temporary folder
(``screens/``) for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pytest

from generator.archive import compliance
from generator.archive.read import read_archive

from .browser import chromium, serve_folder, wait_until
from .conftest import AS_OF, SAMPLE
from .site_reader import Reader, login
from .test_browser import PHONE
from .test_protect import CREDS, _login

DESKTOP = {"width": 1280, "height": 900}
DAY = dt.date.fromisoformat(AS_OF)
MENTOR, HEAD, LEADER = "T015", "T008", "T001"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    result = read_archive(SAMPLE, as_of=DAY)
    assert result.archive is not None
    return result.archive


@pytest.fixture(scope="module")
def periods(model):  # type: ignore[no-untyped-def]
    """Student id → the four-ones periods of the current term, from the engine itself."""
    full = read_archive(SAMPLE, as_of=DAY, hook_factory=lambda school, as_of: lambda s: s)
    term = compliance.current_term(model.school, DAY)
    return {
        sid: [
            p
            for p in compliance.periods(s.profile, model.school, compliance.facts_of(s.records), DAY)
            if term and p.term == term.id
        ]
        for sid, s in full.outputs.items()
    }


def _open(page, url: str, reader: Reader, route: str) -> None:  # type: ignore[no-untyped-def]
    token = reader.token(route)
    page.goto(f"{url}#/{token}")
    page.wait_for_selector(f'#yd-page[data-route="{token}"]')


def _shots(page, folder: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    folder.mkdir(exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_login_fields_can_be_seen_and_used(protected_sample: Path, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with serve_folder(protected_sample) as url:
        for size, name in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page = browser.new_page(viewport=size)
            page.goto(url)
            page.wait_for_selector("#yd-login:not([hidden])")
            assert page.evaluate("document.activeElement.id") == "yd-user"  # ready to type
            for field in ("#yd-user", "#yd-pass"):
                style = page.eval_on_selector(
                    field,
                    "e => [getComputedStyle(e).borderTopWidth, getComputedStyle(e).borderTopStyle, "
                    "getComputedStyle(e).fontSize]",
                )
                assert float(style[0].removesuffix("px")) >= 1 and style[1] != "none", (field, style)
                assert float(style[2].removesuffix("px")) >= 16  # a phone does not zoom in
                assert page.locator(field).bounding_box()["height"] >= 36  # type: ignore[index]
            assert "云溪县第一中学" in page.inner_text("#yd-school")
            page.fill("#yd-pass", "8FC5")
            page.click("#yd-show")
            assert page.get_attribute("#yd-pass", "type") == "text"
            page.click("#yd-show")
            assert page.get_attribute("#yd-pass", "type") == "password"
            _shots(page, tmp_path / "screens", f"login-{name}")
            page.fill("#yd-user", "T015")
            page.fill("#yd-pass", "0000-0000-0000-0000-0000-0000")
            page.press("#yd-pass", "Enter")  # Enter logs in (or says why not, after the PBKDF2)
            message = wait_until(
                page, "(t => !t.startsWith('正在') && t)(document.querySelector('#yd-error').textContent)"
            )
            assert "不正确" in message and "云溪县第一中学" in message  # type: ignore[operator]
            page.fill("#yd-pass", CREDS["T015"])
            page.press("#yd-pass", "Enter")
            page.wait_for_selector("#yd-logout:not([hidden])")
            page.close()


def test_the_mentors_todo_is_what_the_engine_says(protected_sample: Path, browser, model, periods) -> None:  # type: ignore[no-untyped-def]
    monday = DAY - dt.timedelta(days=DAY.weekday())
    expected = set()
    for s in model.mentees(MENTOR):
        for p in periods[s.id]:
            if p.status == "missed":
                expected.add((s.id, p.requirement, p.end.isoformat(), "overdue"))
            elif p.status == "open" and monday <= p.end <= monday + dt.timedelta(days=6):
                expected.add((s.id, p.requirement, p.end.isoformat(), "due"))
    assert expected  # the sample has work to do this week
    with serve_folder(protected_sample) as url:
        page = browser.new_page(viewport=PHONE)
        _login(page, url, MENTOR)
        page.wait_for_selector(".yd-todo")
        rows = page.eval_on_selector_all(
            ".yd-todo-item",
            "els => els.map(e => [e.dataset.student, e.dataset.requirement, e.dataset.end, e.dataset.state])",
        )
        assert {tuple(r) for r in rows} == expected
        days = [
            int(t.split()[1])
            for t in page.locator(".yd-todo-item[data-state=overdue] .yd-todo-when").all_inner_texts()
        ]
        assert days == sorted(days, reverse=True)  # the most urgent first
        top = page.locator(".yd-todo").bounding_box()
        assert top is not None and top["y"] < PHONE["height"]  # one glance from the top
        page.click(".yd-todo-item .yd-write-type")  # and one tap to its form
        page.wait_for_selector("#yd-form")
        page.close()


def test_a_head_teacher_sees_the_class_and_own_mentees(
    protected_sample: Path, browser, model, periods
) -> None:  # type: ignore[no-untyped-def]
    answers_for = {s.id for s in model.mentees(HEAD)} | {s.id for s in model.in_class("G2-01") if s.active}
    expected = {sid for sid in answers_for if any(p.status == "missed" for p in periods[sid])}
    with serve_folder(protected_sample) as url:
        page = browser.new_page(viewport=DESKTOP)
        _login(page, url, HEAD)
        page.wait_for_selector(".yd-todo")
        shown = set(
            page.eval_on_selector_all(
                ".yd-todo-item[data-state=overdue]", "els => els.map(e => e.dataset.student)"
            )
        )
        assert shown == expected and shown <= answers_for
        # Whose task each item is: the head teacher's own mentees' items offer the form; the
        # class's other items name their mentor instead (a link) and offer no form.
        for item in page.locator(".yd-todo-item").all():
            student = model.students[item.get_attribute("data-student")]
            mentor = student.mentors_on(DAY)[0].teacher
            own = mentor == HEAD
            assert (item.locator(".yd-write-type").count() == 1) == own
            who = item.locator(".yd-todo-who")
            assert (who.count() == 0) == own
            if not own:
                assert who.inner_text() == f"{model.teachers[mentor].name}老师负责"
            assert model.classes[student.profile.class_].name in item.locator(".yd-class-of").inner_text()
            what = item.locator(".yd-todo-what").inner_text()
            assert re.fullmatch(r"(\d+月|\d+月\d+日—(\d+月)?\d+日|.+学期)的(谈话|家访|学期评估)", what), what
        page.close()


def _spec(page, name: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    figure = page.locator(f'figure.yd-chart[data-chart="{name}"]')
    figure.locator("svg").first.wait_for()  # drawn by ECharts, as SVG
    return json.loads(figure.get_attribute("data-spec") or "{}")  # type: ignore[no-any-return]


def _rate(items: list[compliance.Period]) -> float | None:
    value = compliance.rate(items)
    return None if value is None else round(value * 100, 1)


def test_each_chart_shows_the_engines_numbers(
    protected_sample: Path, browser, model, periods, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    leader = login(protected_sample, LEADER, CREDS[LEADER])
    current = [s for s in model.current_students()]
    with serve_folder(protected_sample) as url:
        page = browser.new_page(viewport=DESKTOP)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _login(page, url, LEADER)
        page.wait_for_selector("#yd-logout:not([hidden])")
        _open(page, url, leader, "dashboard/")
        by_teacher = _spec(page, "by-teacher")
        mentors: dict[str, list[compliance.Period]] = {}
        for s in current:
            for p in periods[s.id]:
                if p.mentor:
                    mentors.setdefault(model.teachers[p.mentor].name, []).append(p)
        assert dict(zip(by_teacher["x"], by_teacher["series"][0]["data"], strict=True)) == {
            name: _rate(items) for name, items in mentors.items()
        }
        values = [v for v in by_teacher["series"][0]["data"] if v is not None]
        assert values == sorted(values, reverse=True)  # highest first
        by_class = _spec(page, "by-class")
        expected = {
            cls.name: _rate([p for s in current if s.profile.class_ == cls.id for p in periods[s.id]])
            for cls in model.classes.values()
            if any(s.profile.class_ == cls.id for s in current)
        }
        assert dict(zip(by_class["x"], by_class["series"][0]["data"], strict=True)) == expected
        months = _spec(page, "months")
        for label, value in zip(months["x"], months["series"][0]["data"], strict=True):
            month = int(label.split("月")[0])
            due = [p for s in current for p in periods[s.id] if p.end.month == month]
            if any(p.status == "open" for p in due):  # a month still running: said so, no rate
                assert label == f"{month}月(进行中)" and value is None, label
            else:
                assert value == _rate(due), label
        assert months["x"][-1] == "11月(进行中)"  # 28 November: the month is not over
        headline = {
            d.get_attribute("data-figure"): d.inner_text() for d in page.locator(".yd-headline dd").all()
        }
        missed = sum(p.status == "missed" for s in current for p in periods[s.id])
        assert headline["students"] == str(len(model.students)) and headline["open"] == str(len(current))
        assert headline["overdue"] == str(missed)
        rows = page.locator('[data-list="longest"] tbody tr').all()
        for row in rows:  # whose task each overdue item is, and the student's class
            student = model.students[row.get_attribute("data-student")]
            mentor = model.teachers[student.mentors_on(DAY)[0].teacher].name
            assert row.locator("td").last.inner_text() == mentor
            assert model.classes[student.profile.class_].name in row.locator("td").first.inner_text()
        texts = "[...document.querySelectorAll('figure[data-chart=\"categories\"] svg text')]"
        labels = page.evaluate(f"{texts}.map(t => t.textContent)")
        assert "有叛逆厌学和辍学倾向学生" in labels  # every category named on its bar
        cats = _spec(page, "categories")
        table = {
            row.get_attribute("data-category"): row
            for row in page.locator('[data-list="category-grade"] tbody tr').all()
        }
        assert sum(sum(s["data"]) for s in cats["series"]) == sum(
            int(r.locator("td").last.inner_text()) for r in table.values()
        )
        _shots(page, tmp_path / "screens", "dashboard-desktop")
        _open(page, url, leader, "classes/G2-01/")
        students = _spec(page, "students")
        in_class = {s.name: _rate(periods[s.id]) for s in current if s.profile.class_ == "G2-01"}
        assert dict(zip(students["x"], students["series"][0]["data"], strict=True)) == in_class
        _open(page, url, leader, f"teachers/{MENTOR}/")
        contacts = _spec(page, "contacts")
        talks = sum(contacts["series"][0]["data"])
        term = compliance.current_term(model.school, DAY)
        assert term is not None
        first = term.start - dt.timedelta(days=term.start.weekday())
        expected_talks = sum(
            1 for s in model.mentees(MENTOR) for r in s.refs if r.type == "talk" and first <= r.date <= DAY
        )
        assert talks == expected_talks
        sid = next(iter(model.mentees(MENTOR))).id
        _open(page, url, leader, f"students/{sid}/")
        cells = page.locator('.yd-calendar tr[data-type="home_visit"] td').all_inner_texts()
        visits = sum(int(c) for c in cells if c)
        full = read_archive(SAMPLE, as_of=DAY, hook_factory=lambda school, as_of: lambda s: s).outputs[sid]
        assert visits == sum(
            1 for r in full.records if r.meta.type == "home_visit" and first <= r.meta.date <= DAY
        )
        assert errors == []
        page.close()


@pytest.mark.parametrize("route", ["students/S2025003/", "classes/G2-01/", f"teachers/{HEAD}/", "dashboard/"])
def test_pages_print_without_the_site_around_them(
    protected_sample: Path, browser, route: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    leader = login(protected_sample, LEADER, CREDS[LEADER])
    with serve_folder(protected_sample) as url:
        page = browser.new_page(viewport=DESKTOP)
        _login(page, url, LEADER)
        page.wait_for_selector("#yd-logout:not([hidden])")
        _open(page, url, leader, route)
        for figure in page.locator("figure.yd-chart").all():
            figure.locator("svg").first.wait_for()
        title = page.inner_text("#yd-page h1")
        page.emulate_media(media="print")
        pdf = tmp_path / "page.pdf"
        page.pdf(path=str(pdf), format="A4")
        page.close()
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert title in text and "内部资料" in text and "注意保密" in text
    for chrome in ("退出登录", "搜索我可以查看的档案", "填写记录", "Made with"):
        assert chrome not in text, chrome
    if route == "dashboard/":  # the charts are printed: their axis labels are text in the PDF
        assert "11月" in text


def test_a_student_page_reads_on_a_phone(protected_sample: Path, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reader = login(protected_sample, HEAD, CREDS[HEAD])
    with serve_folder(protected_sample) as url:
        page = browser.new_page(viewport=PHONE, device_scale_factor=2)
        _login(page, url, HEAD)
        page.wait_for_selector("#yd-logout:not([hidden])")
        _open(page, url, reader, "students/S2025003/")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # nothing sideways
        bar = page.locator(".yd-write").bounding_box()
        assert bar is not None and bar["y"] < PHONE["height"]  # the forms: one tap from the top
        # tables read as label/value cards
        label = page.eval_on_selector(
            '[data-section="categories"] td', "td => getComputedStyle(td, '::before').content"
        )
        assert "类别" in label
        dates = page.eval_on_selector_all(".yd-record", "els => els.map(e => e.dataset.date)")
        assert dates == sorted(dates, reverse=True)  # newest first
        assert page.locator(".yd-jump a").count() >= 2  # a jump list by term
        _shots(page, tmp_path / "screens", "student-phone")
        page.close()


@pytest.mark.parametrize("user", [MENTOR, LEADER])
def test_axe_finds_nothing_serious(protected_sample: Path, browser, user: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from axe_playwright_python.sync_playwright import Axe

    reader = login(protected_sample, user, CREDS[user])
    routes = [
        "",
        *(
            r
            for r in (
                "dashboard/",
                "classes/G2-01/",
                f"teachers/{user}/",
                "students/S2025003/",
                "students/S2025007/",
            )
            if r in reader.routes
        ),
    ]
    found = {}
    with serve_folder(protected_sample) as url:
        for size, width in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page = browser.new_page(viewport=size)
            page.goto(url)
            page.wait_for_selector("#yd-login:not([hidden])")
            found["login"] = Axe().run(page).response["violations"]
            _login(page, url, user)
            page.wait_for_selector("#yd-logout:not([hidden])")
            for route in routes:
                if route:
                    _open(page, url, reader, route)
                for figure in page.locator("figure.yd-chart").all():
                    figure.locator("svg").first.wait_for()
                found[f"{width} {route or 'home'}"] = Axe().run(page).response["violations"]
                _shots(page, tmp_path / "screens", f"{user}-{width}-{route.replace('/', '_') or 'home'}")
            page.close()
    serious = {
        where: [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in found[where]
            if v["impact"] in ("serious", "critical")
        ]
        for where in found
    }
    assert {w: v for w, v in serious.items() if v} == {}
