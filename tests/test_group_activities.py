"""Group activities (activities/<date>-<slug>.md): one file for an activity held for many
students. The sample's 感恩父母主题班会 (2026-11-20, by T008, head teacher of 高二(1)班) lists
the class's four students. Each listed student's file shows it as their record — with how
many took part, never who — and its photo only to those who may read all four files."""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from pypdf import PdfReader

from .browser import chromium, serve_folder
from .conftest import AS_OF, SAMPLE
from .site_helpers import read_facts
from .site_reader import login
from .submit import seal
from .test_browser import PHONE
from .test_protect import CREDS, INTAKE_PASSPHRASE, _login, _open
from .test_site import write_config
from .test_year import _repo as sample_repo
from .test_year import git

GROUP = "activities/2026-11-20-gratitude.md"
THEME = "感恩父母主题班会"
LISTED = ("S2025001", "S2025002", "S2025003", "S2025004")
NAMES = ("陈永康", "林诗琪", "符小雨", "郭子涵")
PHOTOS = "activities/2026-11-20-gratitude/photos/"
DESKTOP = {"width": 1280, "height": 900}


def _sample(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("access"))
    return root


def _problems(run: Callable[..., Any], root: Path) -> list[str]:
    out = run("check", str(root), "--as-of", AS_OF).output
    return [line for line in out.splitlines() if line.startswith("activities/")]


def test_check_locates_each_bad_student_of_a_group(run: Callable[..., Any], tmp_path: Path) -> None:
    root = _sample(tmp_path)
    (root / GROUP).write_text(
        "---\ntype: activity\ndate: 2026-11-20\nby: T008\nkind: 感恩教育\ntheme: 班会\n"
        "students:\n  - S2025001\n  - S9999999\n  - S2025001\n  - S2024007\n---\n\n班会。\n",
        encoding="utf-8",
    )
    found = _problems(run, root)
    assert f"{GROUP}:9:5: error: students[1]:students/ 里没有学生 'S9999999'" in found[0]
    assert f"{GROUP}:10:5: error: students[2]:学生 'S2025001' 列了两次" in found[1]
    assert len(found) == 2  # a bad list leaves the group out: no third error for the closed case

    (root / GROUP).write_text(  # S2024007's case closed before the activity
        "---\ntype: activity\ndate: 2026-11-20\nby: T099\nkind: 感恩教育\ntheme: 班会\n"
        "students: [S2025001, S2024007]\n---\n\n班会。\n",
        encoding="utf-8",
    )
    found = _problems(run, root)
    assert any(re.match(rf"{GROUP}:4:5: error: by.*T099", line) for line in found), found
    closed = [line for line in found if "S2024007" in line]
    assert closed and closed[0].startswith(f"{GROUP}:7:") and "不在帮扶期内" in closed[0], found


def test_check_warns_when_a_groups_with_names_a_student(run: Callable[..., Any], tmp_path: Path) -> None:
    """A group's ``with`` is shown in every listed student's file: a student's name or id
    there tells all their readers that student is in the programme, as in a record's."""
    root = _sample(tmp_path)
    other = yaml.safe_load((root / "students/S2025007/profile.yml").read_text(encoding="utf-8"))["name"]
    text = (root / GROUP).read_text(encoding="utf-8")
    with_ = f"\nwith: [T015, {other}的妈妈, S2025011]\n---\n"
    (root / GROUP).write_text(text.replace("\n---\n", with_, 1), encoding="utf-8")
    found = _problems(run, root)
    line = 1 + text.split("\n---\n", 1)[0].count("\n") + 1  # the ``with`` line, after the others
    at = [f"{GROUP}:{line}:14", f"{GROUP}:{line}:{19 + len(other)}"]  # T015 is a teacher: not a name
    assert [p.split(": warning: ")[0] for p in found] == at, found
    assert all("写的是本档案里一名学生的姓名或编号" in p for p in found)


def test_check_says_a_group_photo_path_leaves_activities(run: Callable[..., Any], tmp_path: Path) -> None:
    root = _sample(tmp_path)
    text = (root / GROUP).read_text(encoding="utf-8")
    away = "../students/S2025001/photos/x.jpg"  # another student's photo, by a path out of activities/
    (root / GROUP).write_text(text.replace("photos/2026-11-20-班会.jpg", away), encoding="utf-8")
    found = _problems(run, root)
    assert any(f"photos[0]:照片路径 '{away}' 超出了集体活动的文件夹 activities/" in line for line in found), (
        found
    )


def test_check_refuses_a_group_file_by_its_name_and_date(run: Callable[..., Any], tmp_path: Path) -> None:
    root = _sample(tmp_path)
    text = (root / GROUP).read_text(encoding="utf-8")
    (root / "activities" / "班会.md").write_text(text, encoding="utf-8")
    (root / "activities" / "2026-11-21-gratitude.md").write_text(text, encoding="utf-8")
    (root / "activities" / "2026-11-20-talk.md").write_text(
        "---\ntype: talk\ndate: 2026-11-20\nby: T008\nmode: in_person\ntopic: 谈心\n"
        "students: [S2025001, S2025002]\n---\n\n谈话。\n",
        encoding="utf-8",
    )
    found = _problems(run, root)
    assert any(line.startswith("activities/班会.md:1:1: error: 集体活动的文件名") for line in found), found
    talk = (
        "activities/2026-11-20-talk.md:2:7: error: type:'talk' 类的记录不能作为集体记录(可以的类型:activity)"
    )
    assert any(line.startswith(talk) for line in found), found
    assert any(
        line.startswith("activities/2026-11-21-gratitude.md:3:7: error: 日期 2026-11-20") for line in found
    ), found


def _group_record(html: str) -> str:
    found = re.search(
        r'<div class="yd-record" data-record="group-2026-11-20-gratitude\.md".*?</div>\n</div>', html, re.S
    )
    assert found, "the group activity is not on the page"
    return found.group(0)


def test_each_listed_student_shows_it_without_the_others(protected_sample: Path) -> None:
    leader = login(protected_sample, "T001", CREDS["T001"])
    for sid, name in zip(LISTED, NAMES, strict=True):
        record = _group_record(leader.open(f"students/{sid}/")["h"])
        assert THEME in record and "集体活动,共 4 名学生参加" in record
        assert "结对帮扶的同学都写完了信" in record  # the narrative, once per student
        others = [n for n in NAMES if n != name] + [s for s in LISTED if s != sid]
        assert [o for o in others if o in record] == []  # who else took part is not said
    assert THEME not in leader.open("students/S2024002/")["h"]  # not listed: not shown


def test_the_photo_reaches_only_readers_of_every_student(protected_sample: Path) -> None:
    head = login(protected_sample, "T008", CREDS["T008"])  # heads 高二(1)班: reads all four
    photos = [r for r in head.routes if r.startswith(PHOTOS)]
    assert len(photos) == 1 and head.open(photos[0])[:3] == b"\xff\xd8\xff"  # a JPEG
    page = head.open("students/S2025002/")["h"]
    assert f'src="../../{photos[0]}"' in page

    mentor = login(protected_sample, "T015", CREDS["T015"])  # mentors S2025002 alone of the four
    record = _group_record(mentor.open("students/S2025002/")["h"])
    assert THEME in record and "data-unseen" in record  # the record, and where its photo was
    assert [r for r in mentor.routes if r.startswith("activities/")] == []
    blob = head.routes[photos[0]][0]
    assert not any(
        _opens(protected_sample, blob, key, photos[0]) for key in mentor.keys
    )  # no key of hers opens it


def _opens(site: Path, blob: str, key: bytes, route: str) -> bool:
    from .site_reader import open_blob

    try:
        open_blob(site, blob, key, route)
    except Exception:
        return False
    return True


def test_the_booklet_holds_it_without_the_photo(protected_sample: Path) -> None:
    mentor = login(protected_sample, "T015", CREDS["T015"])
    pdf = PdfReader(io.BytesIO(mentor.open("booklets/S2025002.pdf")))
    text = "".join(p.extract_text() for p in pdf.pages).replace(" ", "").replace("\n", "")
    assert THEME in text and "集体活动,共4名学生参加" in text
    assert "集体活动照片不印入个人档案册" in text
    assert [n for n in NAMES if n != "林诗琪" and n in text] == []


# --- sent from the site: form → sealed file → intake → review → merge → every student's page ---

HEAD_TEACHER = "T008"  # heads 高二(1)班: may write for all four


def _activity(day: dt.date) -> dict[str, Any]:
    return {"type": "activity", "date": day.isoformat(), "kind": "励志教育", "theme": "期末励志班会"}


def test_a_group_record_is_refused_unless_every_student_is_the_writers(
    run: Callable[..., Any], tmp_path: Path
) -> None:
    repo = sample_repo(tmp_path)
    archive = repo / "archives"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    pw = CREDS["T015"]  # mentors S2025002 alone of the four
    today = dt.date.today()
    cases = {
        "not-hers.yidang": (
            seal(
                archive, "T015", pw, "S2025002", _activity(today), "班会。", students=["S2025002", "S2025003"]
            ),
            f"T015 在 {today} 无权为学生 S2025003 写记录",
        ),
        "talk.yidang": (
            seal(
                archive,
                HEAD_TEACHER,
                CREDS[HEAD_TEACHER],
                "S2025001",
                {"type": "talk", "date": today.isoformat(), "mode": "in_person", "topic": "谈心"},
                "谈话。",
                students=["S2025001", "S2025002"],
            ),
            "谈话记录记录不能为多名学生一起填写",
        ),
        "twice.yidang": (
            seal(
                archive,
                HEAD_TEACHER,
                CREDS[HEAD_TEACHER],
                "S2025001",
                _activity(today),
                "班会。",
                students=["S2025001", "S2025002", "S2025002"],
            ),
            "字段 students:不符合要求",
        ),
        "not-first.yidang": (
            seal(
                archive,
                HEAD_TEACHER,
                CREDS[HEAD_TEACHER],
                "S2025001",
                _activity(today),
                "班会。",
                students=["S2025002", "S2025003"],
            ),
            "字段 students:不符合要求",
        ),
        "path.yidang": (
            seal(
                archive,
                HEAD_TEACHER,
                CREDS[HEAD_TEACHER],
                "S2025001",
                _activity(today),
                "班会。",
                students=["S2025001", "../../etc"],
            ),
            "students 不符合要求:格式不对",
        ),
    }
    for name, (data, _) in cases.items():
        (inbox / name).write_bytes(data)
    taken = _intake(run, repo, inbox)
    assert "0 taken in, 5 refused" in taken.output, taken.output
    for name, (_, reason) in cases.items():
        said = (inbox / "rejected" / f"{name}.reason.txt").read_text(encoding="utf-8")
        assert reason in said, (name, said)
    assert git(repo, "branch", "--list", "intake/*").strip() == ""  # nothing written anywhere


def test_a_head_teacher_sends_one_activity_for_four_students_from_a_phone(
    run: Callable[..., Any], tmp_path: Path
) -> None:
    repo = sample_repo(tmp_path)
    archive, site = repo / "archives", tmp_path / "site"
    config = write_config(tmp_path, archive, protect=True)
    assert run("build", "--config", config, "--site-dir", site).exit_code == 0
    sentence = "期末前的励志班会:每人写下下学期的一个小目标,贴在教室后墙。"
    with serve_folder(site) as url, chromium() as browser:
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, accept_downloads=True)
        page = context.new_page()
        _login(page, url, HEAD_TEACHER)
        page.wait_for_selector("[data-group=students]")
        _open(page, url, login(site, HEAD_TEACHER, CREDS[HEAD_TEACHER]), f"students/{LISTED[0]}/")
        page.click(f'.yd-write[data-student="{LISTED[0]}"] .yd-write-type[data-type="activity"]')
        page.wait_for_selector("#yd-form fieldset.yd-group")
        offered = page.locator(".yd-group-list input").evaluate_all("(bs) => bs.map((b) => b.value)")
        assert set(LISTED[1:]) <= set(offered) and LISTED[0] not in offered
        for sid in LISTED[1:]:
            page.check(f'.yd-group-list input[value="{sid}"]')
        page.select_option("#yd-f-kind", "励志教育")
        page.fill("#yd-f-theme", "期末励志班会")
        page.fill("#yd-f-narrative", sentence)
        photo = tmp_path / "meeting.jpg"
        Image.new("RGB", (800, 600), (200, 60, 60)).save(photo)
        page.set_input_files("#yd-f-photos", str(photo))
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        box = page.locator(".yd-group-list label").first.bounding_box()
        assert box is not None and box["height"] >= 44  # a thumb's touch target
        page.screenshot(path=str(tmp_path / "group-form-phone.png"), full_page=True)
        page.click("#yd-form button[type=submit]")
        page.wait_for_selector(".yd-sealed:not([hidden])")
        with page.expect_download() as download:
            page.click("[data-sealed]")
        sealed = Path(download.value.path()).read_bytes()
        context.close()
    for plain in (*LISTED, *NAMES, sentence[:8]):
        assert plain.encode() not in sealed
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "group.yidang").write_bytes(sealed)
    taken = _intake(run, repo, inbox)
    assert "1 taken in, 0 refused" in taken.output, taken.output
    branch = next(
        b for b in git(repo, "branch", "--format=%(refname:short)").split() if b.startswith("intake/")
    )
    files = git(repo, "diff", "--name-only", f"main...{branch}").split()
    record = [
        f for f in files if re.fullmatch(r"archives/activities/\d{4}-\d\d-\d\d-activity-[0-9a-f]{8}\.md", f)
    ]
    photos = [f for f in files if re.fullmatch(r"archives/activities/photos/[0-9-]+-[0-9a-f]{8}-1\.jpg", f)]
    assert len(record) == 1 and len(photos) == 1 and len(files) == 2, files  # the photo beside the file
    author = git(repo, "log", "-1", "--format=%an", branch).strip()
    assert author == next(t["name"] for t in read_facts(SAMPLE).teachers if t["id"] == HEAD_TEACHER)
    reviewed = run("review", "--base", "main", "--head", branch, "--archive", archive, "--format", "text")
    for sid, name in zip(LISTED, NAMES, strict=True):  # described for each student, as theirs
        assert f"{sid} {name}" in reviewed.output
    assert reviewed.output.count("集体活动,共 4 名学生") == 4 and sentence in reviewed.output
    git(repo, "merge", "-q", "--no-edit", branch)
    assert run("build", "--config", config, "--site-dir", site).exit_code == 0
    reader = login(site, HEAD_TEACHER, CREDS[HEAD_TEACHER])
    for sid in LISTED:
        page_html = reader.open(f"students/{sid}/")["h"]
        assert sentence in page_html and "期末励志班会" in page_html
    mentor = login(site, "T015", CREDS["T015"])
    assert sentence in mentor.open("students/S2025002/")["h"]
    stem = record[0].rsplit("/", 1)[-1][:-3]
    assert [r for r in reader.routes if r.startswith(f"activities/{stem}/photos/")]  # T008: all four
    assert not [r for r in mentor.routes if r.startswith("activities/")]  # T015: one of them
    out = tmp_path / "booklets"
    students = [arg for sid in LISTED for arg in ("--student", sid)]
    assert run("booklets", "--archive", archive, *students, "--out", out).exit_code == 0
    for sid in LISTED:  # each student's booklet holds it as theirs
        text = "".join(p.extract_text() for p in PdfReader(out / f"{sid}.pdf").pages)
        assert sentence[:10] in text.replace("\n", "").replace(" ", "")


def _intake(run: Callable[..., Any], repo: Path, inbox: Path) -> Any:
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    try:
        return run("intake", inbox, "--archive", repo / "archives")
    finally:
        os.environ.pop("YIDANG_INTAKE_PASSPHRASE", None)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_in_the_browser_the_photo_or_a_sentence_in_its_place(protected_sample: Path, viewport: dict) -> None:
    """T008 reads all four files: the photo is drawn. T015 reads S2025002's alone: the record,
    and where the photo was, a sentence saying who sees it; no empty frame."""
    shown = '.yd-record[data-record="group-2026-11-20-gratitude.md"]'
    with chromium() as browser, serve_folder(protected_sample) as url:
        for teacher in ("T008", "T015"):
            page = browser.new_page(viewport=viewport)
            _login(page, url, teacher)
            page.wait_for_selector("#yd-logout:not([hidden])")
            _open(page, url, login(protected_sample, teacher, CREDS[teacher]), "students/S2025002/")
            record = page.locator(shown)
            assert THEME in record.inner_text()
            if teacher == "T008":
                page.wait_for_selector(f'{shown} img[src^="blob:"]', state="attached")
                record.locator("img").scroll_into_view_if_needed()  # loading="lazy"
                assert record.locator("img").evaluate("(i) => i.decode().then(() => i.naturalWidth)") > 0
            else:
                page.wait_for_selector(f"{shown} .yd-unseen")
                assert record.locator("img").count() == 0
                assert "集体活动照片只给能查看每位参加学生档案的老师看" in record.inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
            record.screenshot(path=str(protected_sample.parent / f"group-{teacher}-{viewport['width']}.png"))
            page.close()
