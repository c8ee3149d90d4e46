"""心理辅导 records are need-to-know: the sample's two (S2025003 high risk, S2025004 low), both
written by 谢美玲 (T015, 心理教师). Their content is sealed apart, in each student's counselling
scope: the counsellor role and leadership open it; the student's mentor and head teacher
see that a session took place, its date and a high risk, never the content — on the page,
in search, in the booklet. Opened as each reader would, blob by blob."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from generator.protect import access
from generator.review import submission

from .browser import chromium, serve_folder
from .conftest import SAMPLE
from .site_reader import Reader, login
from .test_browser import PHONE
from .test_protect import CREDS, INTAKE_PASSPHRASE, _login

DESKTOP = {"width": 1280, "height": 900}
HIGH, LOW = "S2025003", "S2025004"
CONTENT = {  # what only need-to-know readers may read, from each record
    HIGH: ("祖母住院后的失眠和焦虑", "一闭眼就担心祖母", "每周二午休时间面谈一次"),
    LOW: ("分班后的人际适应团体辅导", "人际交往小组"),
}
# Readers of the file with a demo account: T008, mentor of HIGH and head teacher of both.
OUTSIDERS = {HIGH: ("T008",), LOW: ("T008",)}


def _everything(reader: Reader) -> str:
    """All a reader can open, as text: pages, parts, search shards, to-do lists, booklets."""
    out = []
    for route, (kind, title, content) in reader.everything().items():
        if kind == "pdf":
            out.append("".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages))
        else:
            out.append(f"{route} {title} {content}")
    return "\n".join(out).replace(" ", "").replace("\n", "")


@pytest.mark.parametrize("student", [HIGH, LOW])
def test_the_content_reaches_only_those_who_need_it(protected_sample: Path, student: str) -> None:
    for teacher in OUTSIDERS[student]:
        reader = login(protected_sample, teacher, CREDS[teacher])
        assert f"students/{student}/" in reader.routes  # they read the student's file…
        seen = _everything(reader)
        assert "心理辅导" in seen  # …and that a session took place
        assert [w for w in CONTENT[student] if w.replace(" ", "") in seen] == []  # never what was said
    for teacher in ("T001", "T015"):  # leadership; the counsellor role
        reader = login(protected_sample, teacher, CREDS[teacher])
        part = reader.open(f"counsel/{student}/students/{student}/")
        text = " ".join(html for _, html in part)
        assert all(w in text for w in CONTENT[student]), teacher


def test_a_high_risk_shows_to_the_mentor_without_the_content(protected_sample: Path) -> None:
    mentor = login(protected_sample, "T008", CREDS["T008"])
    page = mentor.open(f"students/{HIGH}/")["h"]
    assert 'data-risk="high"' in page and "高风险" in page
    booklet = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(mentor.open(f"booklets/{HIGH}.pdf"))).pages
    )
    assert "心理辅导" in booklet and "高风险" in booklet and "失眠" not in booklet


def test_the_counsellor_role_reads_counselling_and_nothing_more(protected_sample: Path) -> None:
    counsellor = login(protected_sample, "T015", CREDS["T015"])
    assert f"counsel/{HIGH}/students/{HIGH}/" in counsellor.routes
    assert f"students/{HIGH}/" not in counsellor.routes  # not her mentee: not the rest of the file


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_in_the_browser(protected_sample: Path, viewport: dict) -> None:
    with chromium() as browser, serve_folder(protected_sample) as url:
        for teacher, sees in (("T008", False), ("T001", True)):
            page = browser.new_page(viewport=viewport)
            _login(page, url, teacher)
            page.wait_for_selector("#yd-logout:not([hidden])")
            token = login(protected_sample, teacher, CREDS[teacher]).token(f"students/{HIGH}/")
            page.goto(f"{url}#/{token}")
            shown = f'#yd-page[data-route="{token}"]:not([hidden]) .yd-record[data-type="counselling"]'
            page.wait_for_selector(shown)
            record = page.locator(shown)
            assert "高风险" in record.inner_text()
            assert ("祖母住院后的失眠和焦虑" in record.inner_text()) == sees, teacher
            page.close()


def test_the_review_names_leadership_and_quotes_nothing(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """A branch that adds a high-risk session: the pull request's summary (read by the
    mentor and head teacher) says a session took place and its risk, not what was said, and
    the leadership group reviews it."""
    import shutil
    import subprocess

    from .conftest import SAMPLE

    repo = tmp_path / "school"
    shutil.copytree(SAMPLE, repo / "archives")
    session = repo / f"archives/students/{HIGH}/records/2026-11-18-counselling.md"
    text = session.read_text(encoding="utf-8")
    session.unlink()
    env = {"GIT_AUTHOR_NAME": "o", "GIT_AUTHOR_EMAIL": "o@x.invalid", "GIT_COMMITTER_NAME": "o"}
    env |= {"GIT_COMMITTER_EMAIL": "o@x.invalid", "PATH": "/usr/bin:/bin"}
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["commit", "-qm", "a"],
        ["checkout", "-qb", "s"],
    ):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    session.write_text(text, encoding="utf-8")
    for args in (["add", "-A"], ["commit", "-qm", "session"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    summary = run("review", "--base", "main", "--archive", repo / "archives", "--as-of", "2026-11-28").output
    assert "新增 心理辅导" in summary and "风险等级:高" in summary
    assert "@zhou.mingyuan(周明远,领导小组)" in summary
    assert [w for w in CONTENT[HIGH] if w in summary] == []


def test_the_dashboard_lists_the_high_risk_for_leadership(protected_sample: Path) -> None:
    """The dashboard (leadership's) lists students whose latest session found a high risk,
    with its date and the mentor; a low risk is not listed; a mentor has no dashboard."""
    from bs4 import BeautifulSoup

    leader = login(protected_sample, "T001", CREDS["T001"])
    page = BeautifulSoup(leader.open("dashboard/")["h"], "html.parser")
    rows = page.select('table[data-list="high-risk"] tr[data-student]')
    assert [r["data-student"] for r in rows] == [HIGH]
    assert "2026年11月18日" in rows[0].text and "张海涛" in rows[0].text
    assert "dashboard/" not in login(protected_sample, "T008", CREDS["T008"]).routes


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_counsellor_reads_and_writes_from_a_page_of_her_own(
    protected_sample: Path, viewport: dict
) -> None:
    """谢美玲 (心理教师, not S2025003's mentor) finds 心理辅导 on her home page, opens the
    student's sessions in full and may write another; nothing else of the file is there."""
    counsellor = login(protected_sample, "T015", CREDS["T015"])
    assert f"counsel/{HIGH}/" in counsellor.routes
    assert f"counsel/{HIGH}/" not in login(protected_sample, "T008", CREDS["T008"]).routes
    with chromium() as browser, serve_folder(protected_sample) as url:
        page = browser.new_page(viewport=viewport)
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=counsel]")
        page.locator("[data-group=counsel] a", has_text="符小雨").click()
        page.wait_for_selector('#yd-page .yd-record[data-type="counselling"]')
        text = page.inner_text("#yd-page")
        assert all(w in text for w in CONTENT[HIGH]) and "辅导教师：谢美玲" in text
        assert "帮扶计划" not in text and "谈话记录" not in text  # nothing else of her file
        buttons = page.eval_on_selector_all("#yd-page .yd-write-type", "bs => bs.map(b => b.dataset.type)")
        assert buttons == ["counselling"]
        page.click("#yd-page .yd-write-type")
        page.wait_for_selector("#yd-form")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.close()


def test_the_counsellor_may_write_counselling_for_any_open_case_and_nothing_else(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    import os
    import shutil
    import subprocess

    from generator.archive.read import school_today

    from .conftest import SAMPLE
    from .submit import seal
    from .test_protect import INTAKE_PASSPHRASE

    repo = tmp_path / "school"
    shutil.copytree(SAMPLE, repo / "archives")
    env = {**os.environ, "GIT_AUTHOR_NAME": "o", "GIT_AUTHOR_EMAIL": "o@x.invalid"}
    env |= {"GIT_COMMITTER_NAME": "o", "GIT_COMMITTER_EMAIL": "o@x.invalid"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "a"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    today = school_today(repo / "archives").isoformat()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    session = {"type": "counselling", "date": today, "way": "个别", "topic": "复诊", "risk": "中"}
    talk = {"type": "talk", "date": today, "mode": "in_person", "topic": "不是她的学生"}
    for name, record in (("a.yidang", session), ("b.yidang", talk)):
        (inbox / name).write_bytes(
            seal(repo / "archives", "T015", CREDS["T015"], HIGH, record, "谈了二十分钟。")
        )
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    try:
        result = run("intake", inbox, "--archive", repo / "archives")
    finally:
        os.environ.pop("YIDANG_INTAKE_PASSPHRASE", None)
    assert "收取 1 份,拒收 1 份" in result.output, result.output
    assert [p.name for p in (inbox / "rejected").glob("*.yidang")] == ["b.yidang"]  # the talk
    branches = subprocess.run(
        ["git", "branch", "--list", "intake/*"], cwd=repo, capture_output=True, text=True
    )
    assert branches.stdout.count("intake/") == 1  # the session


FIRST = ("S2024002", "李家豪")  # an open case with no session yet, not T015's mentee


def test_the_counsellors_page_lists_the_high_risk_and_every_open_case(protected_sample: Path) -> None:
    """The counsellor role's page: the high risks first, then every open case with a button
    to write its first (or next) session; leadership reads it, a mentor does not."""
    from bs4 import BeautifulSoup

    counsellor = login(protected_sample, "T015", CREDS["T015"])
    page = BeautifulSoup(counsellor.open("counselling/")["h"], "html.parser")
    high = page.select('table[data-list="high-risk"] tr[data-student]')
    assert [r["data-student"] for r in high] == [HIGH]
    assert high[0].select_one(f'a[href$="counsel/{HIGH}/"]') is not None  # to her page of its sessions
    rows = {r["data-student"]: r for r in page.select('table[data-list="open-cases"] tr[data-student]')}
    assert {HIGH, LOW, FIRST[0]} <= set(rows)
    button = rows[FIRST[0]].select_one("button.yd-write-type")
    assert button["data-route"] == f"counsel/{FIRST[0]}/" and button["data-type"] == "counselling"
    assert rows[FIRST[0]].select_one("a") is None and "—" in rows[FIRST[0]].text  # no session yet
    closed = "S2024007"  # a closed case is nobody's to write for
    assert closed not in rows
    assert "counselling/" in login(protected_sample, "T001", CREDS["T001"]).routes
    assert "counselling/" not in login(protected_sample, "T008", CREDS["T008"]).routes


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_counsellor_writes_a_first_session_from_her_page(
    protected_sample: Path, viewport: dict, tmp_path: Path
) -> None:
    """From 心理辅导工作 on her home page, 谢美玲 opens the form for a student with no session
    yet (whose file she cannot read): the form names the student; cancel comes back; sealed,
    the file is what intake takes."""
    with chromium() as browser, serve_folder(protected_sample) as url:
        context = browser.new_context(viewport=viewport, accept_downloads=True)
        page = context.new_page()
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=counselling]")
        page.locator("[data-group=counselling] a").click()
        row = f'#yd-page tr[data-student="{FIRST[0]}"]'
        page.wait_for_selector(row)
        assert page.locator('#yd-page table[data-list="high-risk"] tr[data-student]').count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.screenshot(path=str(tmp_path / f"counselling-{viewport['width']}.png"), full_page=True)
        page.click(f"{row} .yd-write-type")
        page.wait_for_selector("#yd-form")
        assert FIRST[1] in page.inner_text(".yd-form-for")
        page.click(".yd-form-cancel")
        page.wait_for_selector(row)  # back on her page
        page.click(f"{row} .yd-write-type")
        page.wait_for_selector("#yd-form")
        page.select_option("#yd-f-way", "个别")
        page.fill("#yd-f-topic", "初次面谈")
        page.select_option("#yd-f-risk", "低")
        page.fill("#yd-f-narrative", "第一次面谈,了解了最近的睡眠和学习情况。")
        page.click("#yd-form button[type=submit]")
        page.wait_for_selector(".yd-sealed:not([hidden])")
        with page.expect_download() as download:
            page.click("[data-sealed]")
        sealed = Path(download.value.path()).read_bytes()
        context.close()
    assert FIRST[0].encode() not in sealed and FIRST[1].encode() not in sealed
    key = access.load_intake(SAMPLE)
    assert key is not None
    private = key.unlock(INTAKE_PASSPHRASE)
    accounts = {t: access.load(SAMPLE, t) for t in access.accounts(SAMPLE)}
    found = submission.open_submission(sealed, {key.fingerprint: private}, accounts, {})
    assert (found.student, found.teacher, found.type) == (FIRST[0], "T015", "counselling")


def test_the_full_booklet_is_for_those_who_read_the_file_and_its_sessions(protected_sample: Path) -> None:
    """full/<id>.pdf carries the 心理辅导 content: leadership reads it (the student's file and
    its sessions); the mentor (the file, not the sessions) and the counsellor (the sessions,
    not the file) have neither the booklet nor its link."""
    route = f"full/{HIGH}.pdf"
    leader = login(protected_sample, "T001", CREDS["T001"])
    pdf = PdfReader(io.BytesIO(leader.open(route)))
    text = "".join(p.extract_text() for p in pdf.pages).replace(" ", "").replace("\n", "")
    assert all(w.replace(" ", "") in text for w in CONTENT[HIGH]) and "完整版" in text
    part = " ".join(html for _, html in leader.open(f"counsel/{HIGH}/students/{HIGH}/"))
    assert f"full/{HIGH}.pdf" in part  # the link, in the part only they splice in
    for teacher in ("T008", "T015"):
        reader = login(protected_sample, teacher, CREDS[teacher])
        assert not [r for r in reader.routes if r.startswith("full/")], teacher
    mentor_page = login(protected_sample, "T008", CREDS["T008"]).open(f"students/{HIGH}/")["h"]
    assert "full/" not in mentor_page and "完整档案册" not in mentor_page
