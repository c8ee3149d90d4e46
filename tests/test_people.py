"""What the school's people meet, in Chromium at phone and desktop width: the words on the
page (Chinese, no English or library credit), what a page says when it cannot open, and a
record a mentor writes that must not be lost between sealing and sending.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from bs4 import BeautifulSoup

from generator.archive import compliance
from generator.archive.read import read_archive

from .browser import chromium, serve_folder, wait_until
from .conftest import AS_OF, REPO, SAMPLE
from .site_reader import login
from .test_browser import PHONE
from .test_protect import CREDS, _login

DESKTOP = {"width": 1280, "height": 900}
DAY = dt.date.fromisoformat(AS_OF)
LABELS = yaml.safe_load((REPO / "site_templates/labels/zh.yml").read_text(encoding="utf-8"))
WIDTHS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


def test_no_page_credits_the_theme_in_english(protected_sample: Path) -> None:
    """The footer is the school's: no "Made with Material for MkDocs" in any published file."""
    for path in protected_sample.rglob("*.html"):
        assert "Made with" not in path.read_text(encoding="utf-8"), path


@WIDTHS
def test_offline_a_page_never_opened_says_it_needs_the_network_once(
    protected_sample: Path, browser, viewport: dict
) -> None:  # type: ignore[no-untyped-def]
    reader = login(protected_sample, "T015", CREDS["T015"])
    student = sorted(r for r in reader.routes if r.startswith("students/") and r.endswith("/"))[0]
    with serve_folder(protected_sample) as url:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=students]")
        context.set_offline(True)  # in a village without signal
        page.goto(f"{url}#/{reader.token(student)}")
        page.wait_for_selector("#yd-page .yd-blob-error")
        assert page.inner_text("#yd-page .yd-blob-error") == LABELS["protect"]["offline"]
        context.close()


SENTENCE = "今天放学后在办公室谈了期末复习的安排,孩子说数学最吃力。"


def _write_a_talk(page, url: str) -> None:  # type: ignore[no-untyped-def]
    """T015 (a mentor) opens a talk form for a mentee and fills it in."""
    _login(page, url, "T015")
    page.wait_for_selector("[data-group=students]")
    page.locator('.yd-write-type[data-type="talk"]').first.click()
    page.wait_for_selector("#yd-form")
    page.select_option("#yd-f-mode", "in_person")
    page.fill("#yd-f-topic", "期末复习")
    page.fill("#yd-f-narrative", SENTENCE)


def _login_in_this_page(page, user: str) -> None:  # type: ignore[no-untyped-def]
    """Log in at the login form already shown (no reload: the tab's memory stays)."""
    page.fill("#yd-user", user)
    page.fill("#yd-pass", CREDS[user])
    page.click("#yd-login button[type=submit]")


def _leaving_asks(page) -> bool:  # type: ignore[no-untyped-def]
    """Whether going home from the form asks first (the answer: stay)."""
    asked: list[str] = []

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer)
    page.evaluate("location.hash = '#/'")
    wait_until(
        page, "location.hash === '#/write' || document.querySelector('#yd-page').dataset.view === 'home'"
    )
    if asked:
        page.wait_for_selector("#yd-form")
    return bool(asked)


@WIDTHS
def test_a_sealed_record_is_not_lost_until_it_is_sent(
    protected_sample: Path, browser, viewport: dict
) -> None:  # type: ignore[no-untyped-def]
    """Sealing is not sending: the page says the file has not gone yet, the button says 已封装
    and cannot seal a second copy, and leaving still asks — until the file is downloaded."""
    with serve_folder(protected_sample) as url:
        context = browser.new_context(viewport=viewport, accept_downloads=True)
        page = context.new_page()
        _write_a_talk(page, url)
        page.click("#yd-form button[type=submit]")
        page.wait_for_selector(".yd-sealed:not([hidden])")
        assert page.inner_text(".yd-sealed-says").startswith("还没有发出:请下载或分享给办公室")
        button = page.locator("#yd-form button[type=submit]")
        assert button.inner_text() == "已封装" and button.is_disabled()
        assert page.locator("#yd-f-narrative").is_disabled()  # one record, one file
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert _leaving_asks(page)  # sealed, not sent: Back would lose it
        with page.expect_download():
            page.click("[data-sealed]")
        assert not _leaving_asks(page)  # downloaded: free to go
        context.close()


def test_the_idle_logout_keeps_a_half_filled_form_for_its_teacher_only(
    protected_sample: Path, browser
) -> None:  # type: ignore[no-untyped-def]
    """A mentor leaves a half-filled form for 31 minutes: logged out, nothing of the form is in
    the page or reachable from its scripts (the draft is sealed under a key only the mentor's
    login gives). Another teacher logging in at that tab finds nothing; the mentor logging in
    again finds the form as it was, said so (phone and desktop)."""
    from .test_shared_computer import REACHABLE

    with serve_folder(protected_sample) as url:
        for viewport in (PHONE, DESKTOP):
            page = browser.new_context(viewport=viewport).new_page()
            page.clock.install()
            _write_a_talk(page, url)
            page.clock.fast_forward("31:00")  # idle_minutes is 30
            page.wait_for_selector("#yd-login:not([hidden])")
            assert SENTENCE[:10] not in page.inner_text("body")
            found = page.evaluate(REACHABLE, [[SENTENCE[:10], "期末复习"], []])
            assert found["hits"] == [] and found["walked"] > 100, found
            _login_in_this_page(page, "T008")  # the next person at this tab: nothing of it
            page.wait_for_selector("#yd-logout:not([hidden])")
            assert page.locator("#yd-form").count() == 0
            page.click("#yd-logout")
            _login_in_this_page(page, "T015")
            page.wait_for_selector("#yd-form")
            assert page.input_value("#yd-f-narrative") == SENTENCE
            assert page.input_value("#yd-f-topic") == "期末复习"
            assert "已恢复" in page.inner_text(".yd-restored")
            page.context.close()


@WIDTHS
def test_the_form_says_each_problem_under_its_field_in_chinese(
    protected_sample: Path, browser, viewport: dict
) -> None:  # type: ignore[no-untyped-def]
    """A home visit sent empty, dated tomorrow, its next visit before it: each field says what
    `check` says, in Chinese, under itself; a summary at the top takes the teacher to the field."""
    import datetime as dt

    with serve_folder(protected_sample) as url:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=students]")
        page.locator('.yd-write-type[data-type="home_visit"]').first.click()
        page.wait_for_selector("#yd-form")
        tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
        page.fill("#yd-f-date", tomorrow)
        page.fill("#yd-f-next_visit_on", "2026-01-05")  # before the visit: a rule the type declares
        page.click("#yd-form button[type=submit]")
        page.wait_for_selector(".yd-field-error")

        def under(field: str) -> str:
            return str(page.inner_text(f'.yd-field[data-field="{field}"] .yd-field-error'))

        assert under("mode") == "请选择家访方式"
        assert under("met") == "请填写见到的家庭成员"
        assert under("date") == f"日期不能晚于今天({tomorrow})"
        assert under("narrative") == "请填写记录内容"
        assert under("next_visit_on") == f"下次家访(2026-01-05)不能早于日期({tomorrow})"
        assert page.get_attribute("#yd-f-mode", "aria-invalid") == "true"
        first = page.evaluate("document.querySelector('#yd-form').firstElementChild.className")
        assert first == "yd-form-errors"  # the summary comes first
        page.click('.yd-form-errors .yd-jump[data-field="mode"]')
        assert page.evaluate("document.activeElement.id") == "yd-f-mode"
        text = page.inner_text("#yd-form")
        assert not any(word in text for word in ("missing", "required", "future", "narrative"))
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.screenshot(
            path=str(protected_sample.parent / f"form-errors-{viewport['width']}.png"), full_page=True
        )
        context.close()


# --- 已提交,待审核: a record on an unmerged review branch -----------------------------


@pytest.fixture(scope="module")
def waiting_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Any]:
    """The sample in a repository of its own, where T015 has submitted a record that meets
    one of her overdue items and sits on an intake branch not yet merged; built protected."""
    from click.testing import CliRunner

    from generator.cli import main

    from .test_site import write_config

    work = tmp_path_factory.mktemp("waiting")
    repo = work / "school"
    shutil.copytree(SAMPLE, repo / "archive")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "archive")
    student, period = _an_overdue_item_of(repo / "archive", "T015")
    _git(repo, "checkout", "-qb", f"intake/{period.end}-{student}-0badc0de")
    record = repo / f"archive/students/{student}/records/{period.end}-{period.requirement}.md"
    record.write_text("---\n(content not read for this)\n---\n", encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "submitted")
    _git(repo, "checkout", "-q", "main")
    config = write_config(work, repo / "archive", protect=True)
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--site-dir", str(work / "site")])
    assert result.exit_code == 0, result.output
    return work / "site", student, period


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@x.test"}
    env |= {"GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@x.test"}
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def _an_overdue_item_of(archive: Path, mentor: str) -> tuple[str, Any]:
    """(student, period) of the mentor's first overdue talk or home visit, by the engine."""
    full = read_archive(archive, as_of=DAY, hook_factory=lambda school, as_of: lambda s: s)
    school = full.archive.school  # type: ignore[union-attr]
    term = compliance.current_term(school, DAY)
    for sid, s in sorted(full.outputs.items()):
        if not any(m.teacher == mentor for m in s.profile.mentors if m.until is None):
            continue
        for p in compliance.periods(s.profile, school, compliance.facts_of(s.records), DAY):
            if (
                p.status == "missed"
                and p.term == term.id
                and p.mentor == mentor
                and p.requirement != "evaluation"
            ):  # type: ignore[union-attr]
                return sid, p
    raise AssertionError(f"the sample gives {mentor} no overdue item")


@WIDTHS
def test_a_submitted_record_waits_as_such_and_is_not_asked_for_again(
    waiting_site: tuple[Path, str, Any], browser, viewport: dict
) -> None:  # type: ignore[no-untyped-def]
    site, student, period = waiting_site
    with serve_folder(site) as url:
        page = browser.new_page(viewport=viewport)
        _login(page, url, "T015")
        page.wait_for_selector(".yd-todo")
        item = page.locator(
            f'.yd-todo-item[data-student="{student}"][data-requirement="{period.requirement}"]'
            f'[data-end="{period.end}"]'
        )
        assert item.get_attribute("data-state") == "waiting"
        assert f"已提交,待审核({period.end})" in item.inner_text()
        assert item.locator(".yd-write-type").count() == 0  # not asked again
        others = page.locator(".yd-todo-item:not([data-state=waiting])")
        assert others.count() > 0 and others.locator(".yd-write-type").count() == others.count()
        item.locator("a").first.click()
        page.wait_for_selector("#yd-page [data-waiting]")
        box = page.inner_text("#yd-page [data-waiting]")
        kind = LABELS["types"][period.requirement]
        date = f"{period.end.year}年{period.end.month}月{period.end.day}日"
        assert "已提交,待审核" in box and f"{date} · {kind}" in box, box
        page.close()


def test_two_students_of_one_name_are_told_apart_by_their_class(protected_sample: Path) -> None:
    """The sample's two 麦晓彤: in the home list, search and every list that takes the
    page's title, each carries her class; a name no one shares stays as it is."""
    reader = login(protected_sample, "T001", CREDS["T001"])  # the leader reads every page
    model = read_archive(SAMPLE, as_of=DAY).archive
    assert model is not None
    titles = {sid: reader.routes[f"students/{sid}/"][3] for sid in ("S2024010", "S2025011")}
    for sid, title in titles.items():
        klass = model.classes[model.students[sid].profile.class_].name
        assert title == f"麦晓彤({klass})"
    assert len(set(titles.values())) == 2
    assert reader.routes["students/S2025003/"][3] == model.students["S2025003"].name
    dashboard = BeautifulSoup(str(reader.open("dashboard/")["h"]), "html.parser")
    latest = [tr for tr in dashboard.select("tr[data-student]") if re.match(r"\d{4}年", tr.td.text)]
    assert latest  # the latest records: a list any student may be in
    for tr in latest:
        klass = model.classes[model.students[tr["data-student"]].profile.class_].name
        assert tr.select_one(".yd-class-of").text == klass
    for sid in titles:  # each one's mentor's page: the month grid names her class
        mentor = model.students[sid].mentors_on(DAY)[0].teacher
        page = BeautifulSoup(str(reader.open(f"teachers/{mentor}/")["h"]), "html.parser")
        row = next(tr for tr in page.select(f'tr[data-student="{sid}"]') if tr.select("td.yd-cell"))
        assert row.select_one(".yd-class-of").text == model.classes[model.students[sid].profile.class_].name
