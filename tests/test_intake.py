"""Records written in the site, sealed for the office, taken in as review branches.

The sample archive in a throwaway git repository; submissions made by Python
(tests/submit.py) for every refusal, and by the real page in Chromium for the
whole way: phone form → sealed file → ``yidang intake`` → ``yidang review`` →
merged → on the student's page and in the booklet, with the teacher as author.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from generator.core import crypto
from generator.protect import access

from .browser import chromium, serve_folder
from .conftest import SAMPLE
from .site_helpers import read_facts
from .site_reader import login
from .submit import seal
from .test_browser import PHONE
from .test_protect import CREDS, INTAKE_PASSPHRASE, _login
from .test_site import write_config
from .test_year import _repo as sample_repo

MENTEE, OTHER = "S2025007", "S2025003"  # T015 mentors the first, not the second
TODAY = dt.date.today()
GIT = {
    "GIT_AUTHOR_NAME": "office",
    "GIT_AUTHOR_EMAIL": "office@school.test",
    "GIT_COMMITTER_NAME": "office",
    "GIT_COMMITTER_EMAIL": "office@school.test",
}


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT}
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=env
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The sample archive committed on main in a new repository; an inbox folder beside it."""
    root = sample_repo(tmp_path)
    (tmp_path / "inbox").mkdir()
    return root


def _talk(day: dt.date = TODAY, **extra: object) -> dict[str, object]:
    return {
        "type": "talk",
        "date": day.isoformat(),
        "mode": "in_person",
        "topic": "期中考试后的打算",
        **extra,
    }


def _send(repo: Path, name: str, data: bytes) -> Path:
    path = repo.parent / "inbox" / name
    path.write_bytes(data)
    return path


def _intake(run, repo: Path, *args: str):  # type: ignore[no-untyped-def]
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    try:
        return run("intake", repo.parent / "inbox", "--archive", repo / "archives", *args)
    finally:  # intake takes it out of its environment (no child process sees it)
        os.environ.pop("YIDANG_INTAKE_PASSPHRASE", None)


def _branches(repo: Path) -> list[str]:
    return [b.strip(" *") for b in _git(repo, "branch", "--format=%(refname:short)").split()]


def test_each_refusal_says_why_and_keeps_the_file(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = repo / "archives"
    pw = CREDS["T015"]
    good = seal(archive, "T015", pw, MENTEE, _talk(), "谈了谈期中考试后的学习计划。")
    other_school = access.create_intake()[0].public_raw
    cases = {
        "no-right.yidang": (
            seal(archive, "T015", pw, OTHER, _talk(), "不是我的学生。"),
            "T015 may not write for",
        ),
        "tampered.yidang": (good.replace(b'"data": "', b'"data": "A', 1), "cannot be opened"),
        "other-key.yidang": (
            seal(archive, "T015", pw, MENTEE, _talk(), "另一所学校。", intake_public=other_school),
            "sealed to another intake key",
        ),
        "future.yidang": (
            seal(archive, "T015", pw, MENTEE, _talk(TODAY + dt.timedelta(days=3)), "明天的事。"),
            "字段 date:日期晚于今天 / field date: the date is after today",
        ),
        "missing.yidang": (
            seal(archive, "T015", pw, MENTEE, {"type": "talk", "date": TODAY.isoformat()}, "缺字段。"),
            "字段 mode:必填,但没有填写 / field mode: required, missing",
        ),
    }
    for name, (data, _) in cases.items():
        _send(repo, name, data)
    # the same record twice: the second file is a replay
    _send(repo, "first.yidang", good)
    result = _intake(run, repo)
    assert result.exit_code == 1, result.output
    assert "1 taken in, 5 refused" in result.output
    rejected = repo.parent / "inbox" / "rejected"
    for name, (_, why) in cases.items():
        assert f"已拒收 / refused: {name}: " in result.output
        assert (rejected / name).read_bytes() == cases[name][0]  # kept as it came
        assert why in (rejected / f"{name}.reason.txt").read_text(encoding="utf-8"), name
    _send(repo, "replay.yidang", good)
    again = _intake(run, repo)
    assert "duplicate" in again.output and (rejected / "replay.yidang").exists()
    branches = [b for b in _branches(repo) if b.startswith("intake/")]
    assert len(branches) == 1  # only the good one made a branch


def test_a_removed_account_and_a_bad_signature_are_refused(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = repo / "archives"
    data = seal(archive, "T015", CREDS["T015"], MENTEE, _talk(), "谈话。")
    # T008's signing key now stands in T015's account: T015's signature no longer matches
    t015, t008 = access.load(archive, "T015"), access.load(archive, "T008")
    swapped = access.Account(**{**t015.__dict__, "sign_public_raw": t008.sign_public_raw})
    access.save(archive, swapped, replace=True)
    _git(repo, "commit", "-qam", "another signing key")
    _send(repo, "signed.yidang", data)
    result = _intake(run, repo)
    assert "bad signature" in result.output
    (archive / "access" / "T015.json").unlink()
    _git(repo, "commit", "-qam", "T015 removed")
    _send(repo, "removed.yidang", seal(SAMPLE, "T015", CREDS["T015"], MENTEE, _talk(), "谈话。"))
    result = _intake(run, repo)
    assert "unknown or removed account T015" in result.output


def test_a_dry_run_checks_without_a_branch_or_a_move(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    path = _send(repo, "a.yidang", seal(repo / "archives", "T015", CREDS["T015"], MENTEE, _talk(), "谈话。"))
    result = _intake(run, repo, "--dry-run")
    assert "可以收取(试运行)/ would be taken in (dry run): a.yidang" in result.output
    assert "(试运行:没有建分支,没有移动文件" in result.output
    assert path.exists() and _branches(repo) == ["main"]


def test_wrong_intake_passphrase_touches_nothing(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    path = _send(repo, "a.yidang", seal(repo / "archives", "T015", CREDS["T015"], MENTEE, _talk(), "谈话。"))
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = access.new_passphrase()
    try:
        result = run("intake", path, "--archive", repo / "archives")
    finally:  # intake takes it out of its environment (no child process sees it)
        os.environ.pop("YIDANG_INTAKE_PASSPHRASE", None)
    assert result.exit_code == 1
    assert "wrong passphrase for the intake key" in result.output
    assert path.exists() and _branches(repo) == ["main"]


def test_two_records_of_one_type_and_day_both_survive(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = repo / "archives"
    for n in (1, 2):
        _send(repo, f"{n}.yidang", seal(archive, "T015", CREDS["T015"], MENTEE, _talk(), f"第{n}次谈话。"))
    result = _intake(run, repo)
    assert "2 taken in, 0 refused" in result.output, result.output
    for branch in (b for b in _branches(repo) if b.startswith("intake/")):  # one pull request each
        _git(repo, "merge", "-q", "--no-edit", branch)
    records = sorted((archive / "students" / MENTEE / "records").glob(f"{TODAY}-talk*.md"))
    assert {r.name for r in records} == {f"{TODAY}-talk.md", f"{TODAY}-talk-2.md"}
    assert run("check", archive, "--as-of", TODAY.isoformat()).exit_code == 0


def _photo_with_gps() -> bytes:
    """A phone photo: 3000×2000 with GPS coordinates in its EXIF."""
    img = Image.new("RGB", (3000, 2000), (180, 120, 60))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (19.0, 30.0, 0.0), 3: "E", 4: (109.0, 35.0, 0.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_a_photo_is_prepared_as_the_archives_are(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = repo / "archives"
    photo = _photo_with_gps()
    assert b"Exif" in photo
    record = {"type": "home_visit", "date": TODAY.isoformat(), "mode": "in_person", "met": ["母亲"]}
    _send(repo, "v.yidang", seal(archive, "T015", CREDS["T015"], MENTEE, record, "入户家访。", (photo,)))
    assert "1 taken in" in _intake(run, repo).output
    branch = next(b for b in _branches(repo) if b.startswith("intake/"))
    names = _git(repo, "ls-tree", "-r", "--name-only", branch, f"archives/students/{MENTEE}/photos").split()
    new = [n for n in names if n.endswith(".jpg") and str(TODAY) in n]
    data = subprocess.run(
        ["git", "show", f"{branch}:{new[0]}"], cwd=repo, capture_output=True, check=True
    ).stdout
    with Image.open(io.BytesIO(data)) as img:
        assert max(img.size) <= 1600 and not img.getexif()
    assert crypto.fingerprint(data) != crypto.fingerprint(photo)


def _mentee_name() -> str:
    return str(read_facts(SAMPLE).profiles[MENTEE]["name"])


def test_a_mentor_on_a_phone_seals_a_home_visit_that_reaches_the_site(
    repo: Path, run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    archive, site = repo / "archives", tmp_path / "site"
    config = write_config(tmp_path, archive, protect=True)
    assert run("build", "--config", config, "--site-dir", site).exit_code == 0
    sentence = "今天入户走访,奶奶说孩子最近每天按时写完作业再帮家里喂鸡。"
    (tmp_path / "photo.jpg").write_bytes(_photo_with_gps())
    with serve_folder(site) as url, chromium() as browser:
        context = browser.new_context(viewport=PHONE, device_scale_factor=2, accept_downloads=True)
        page = context.new_page()
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=students]")
        page.click(f'.yd-write[data-student="{MENTEE}"] .yd-write-type[data-type="home_visit"]')
        page.wait_for_selector("#yd-form")
        page.click("#yd-form button[type=submit]")  # nothing filled in
        shown = page.locator(".yd-form-errors .yd-message").all_inner_texts()
        page.select_option("#yd-f-mode", "in_person")
        page.fill("#yd-f-met", "祖母、父亲(电话)")
        page.fill("#yd-f-narrative", sentence)
        page.set_input_files("#yd-f-photos", str(tmp_path / "photo.jpg"))
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(tmp_path / "form-phone.png"), full_page=True)
        # Leaving a filled form asks first; "no" keeps it.
        with page.expect_event("dialog") as asked:
            page.evaluate("setTimeout(() => { location.hash = '#/'; })")
        assert "离开" in asked.value.message
        asked.value.dismiss()
        page.wait_for_selector("#yd-form")
        assert page.locator("#yd-form").count() == 1 and page.input_value("#yd-f-narrative") == sentence
        context.set_offline(True)  # in a village without signal: sealing needs no network
        page.click("#yd-form button[type=submit]")
        page.wait_for_selector(".yd-sealed:not([hidden])")
        with page.expect_download() as download:
            page.click("[data-sealed]")
        sealed = Path(download.value.path()).read_bytes()
        name = download.value.suggested_filename
        context.close()
    # The page says what `yidang check` says for the same mistakes (check stops at missing
    # fields before it looks at the narrative: a second file has the fields, not the narrative).
    scratch = tmp_path / "scratch"
    shutil.copytree(SAMPLE, scratch)
    records = scratch / "students" / MENTEE / "records"
    (records / f"{TODAY}-home_visit.md").write_text(
        f"---\ntype: home_visit\ndate: {TODAY}\nby: T015\n---\n谈话。\n"
    )
    (records / f"{TODAY}-home_visit-2.md").write_text(
        f"---\ntype: home_visit\ndate: {TODAY}\nby: T015\nmode: phone\nmet: [母亲]\n---\n"
    )
    checked = run("check", scratch, "--as-of", TODAY.isoformat(), "--format", "json").output
    mine = [p for p in json.loads(checked)["problems"] if f"{TODAY}-home_visit" in p["path"]]
    said = {re.sub(r"^[a-z_]+:", "", p["message_zh"]) for p in mine}  # the form: without the field's name
    assert set(shown) == said, (shown, said)
    assert "请选择家访方式" in shown
    # The sealed file: no name, id or sentence of the record, and a name that says nothing.
    for plain in (_mentee_name(), MENTEE, sentence[:8], "祖母", "T015"):
        assert plain.encode() not in sealed and plain not in name
    _send(repo, name, sealed)
    taken = _intake(run, repo)
    assert "1 taken in, 0 refused" in taken.output, taken.output
    branch = next(b for b in _branches(repo) if b.startswith("intake/"))
    reviewed = run("review", "--base", "main", "--head", branch, "--archive", archive, "--format", "text")
    assert MENTEE in reviewed.output and _mentee_name() in reviewed.output
    assert "新增 家访记录" in reviewed.output and "帮扶教师" in reviewed.output
    _git(repo, "merge", "-q", "--no-edit", branch)
    assert run("build", "--config", config, "--site-dir", site).exit_code == 0
    page = login(site, "T015", CREDS["T015"]).open(f"students/{MENTEE}/")["h"]
    author = next(t["name"] for t in read_facts(SAMPLE).teachers if t["id"] == "T015")
    assert sentence in page and author in page
    out = tmp_path / "booklets"
    assert run("booklets", "--archive", archive, "--student", MENTEE, "--out", out).exit_code == 0
    text = subprocess.run(
        ["pdftotext", str(out / f"{MENTEE}.pdf"), "-"], capture_output=True, text=True
    ).stdout
    assert sentence[:12] in text.replace("\n", "") and author in text


def test_a_failed_push_keeps_the_record_and_yidang_push_sends_it_later(
    repo: Path, run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """No forge yet (or no network): the record is safe on its local branch, the office is told
    so in Chinese with the command to run later, and `yidang push` sends every branch not
    pushed yet, once."""
    archive = repo / "archives"
    _send(repo, "a.yidang", seal(archive, "T015", CREDS["T015"], MENTEE, _talk(), "推送失败时的记录。"))
    forge = tmp_path / "forge.git"
    _git(repo, "remote", "add", "origin", str(forge))  # not there yet: the push fails
    taken = _intake(run, repo, "--push", "origin")
    assert taken.exit_code == 1
    branch = next(b for b in _branches(repo) if b.startswith("intake/"))
    assert f"记录已安全保存在本机的分支 {branch} 上" in taken.output and "yidang push origin" in taken.output
    subprocess.run(["git", "init", "-q", "--bare", str(forge)], check=True)
    _git(repo, "push", "-q", "origin", "main")
    pushed = run("push", "origin", "--archive", archive)
    assert pushed.exit_code == 0 and f"已推送 {branch}" in pushed.output, pushed.output
    assert branch in _git(forge, "branch", "--format=%(refname:short)").split()
    again = run("push", "origin", "--archive", archive)
    assert again.exit_code == 0 and "没有需要推送的分支" in again.output


def test_an_inbox_inside_the_repository_is_refused(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    inside = repo / "收件箱"
    inside.mkdir()
    (inside / "a.yidang").write_bytes(
        seal(repo / "archives", "T015", CREDS["T015"], MENTEE, _talk(), "谈话。")
    )
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    result = run("intake", inside, "--archive", repo / "archives")
    os.environ.pop("YIDANG_INTAKE_PASSPHRASE", None)
    assert result.exit_code == 2 and "请把收件箱放到仓库外面" in result.output
    assert (inside / "a.yidang").exists() and _branches(repo) == ["main"]
