"""A new kind of record is a declaration: a model registered here, its words from a labels
file of its own (tests/fixtures/tutoring.labels.yml), and nothing else — no edit in any
module — and it works end to end: check's located errors for a bad value, a reference and a
rule between fields; the student page; the booklet's text; the form in Chromium at two
widths; a sealed submission taken in and described by review; `yidang new`. A kind whose
words are missing is a located error in check and stops the build before any worker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import Field

from generator.archive import schema
from generator.archive.read import school_today

from .browser import chromium, serve_folder
from .conftest import AS_OF, FIXTURES, SAMPLE
from .site_helpers import soup
from .site_reader import login
from .submit import seal
from .test_browser import PHONE
from .test_protect import CREDS, INTAKE_PASSPHRASE, _login
from .test_site import write_config

DESKTOP = {"width": 1280, "height": 900}
MENTEE = "S2025007"  # T015 (谢美玲) mentors her


class Tutoring(schema.RecordBase):
    """课业辅导: declared by a test, as a school would declare its own kind."""

    type: Literal["tutoring"] = Field(description="`tutoring` 课业辅导.")
    subject: Literal["math", "chinese", "english"] = Field(description="math, chinese or english.")
    tutor: schema.Text = Field(json_schema_extra=schema.refers_to("teacher"), description="Who tutored.")
    minutes: int = Field(ge=1, description="How long, in minutes.")
    homework_due: schema.Date | None = Field(None, description="Homework due (not before the session).")

    rules = (schema.NotBefore("homework_due"),)


WORDS = yaml.safe_load((FIXTURES / "tutoring.labels.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", autouse=True)
def declared() -> Iterator[None]:
    schema.register(schema.RecordKind(Tutoring, labels=WORDS))
    try:
        yield
    finally:
        schema.unregister("tutoring")


def _record(day: str, **fields: object) -> str:
    front = {"type": "tutoring", "date": day, "by": "T015", "subject": "math", "tutor": "T015", "minutes": 40}
    front |= fields
    return (
        "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n讲了二次函数的图像。\n"
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample, with one tutoring record for MENTEE."""
    dest = tmp_path_factory.mktemp("declared") / "archives"
    shutil.copytree(SAMPLE, dest)
    record = dest / f"students/{MENTEE}/records/2026-11-20-tutoring.md"
    record.write_text(_record("2026-11-20", homework_due="2026-11-27"), encoding="utf-8")
    return dest


def test_check_locates_a_bad_value_a_reference_and_a_rule(archive: Path, tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "archives"
    shutil.copytree(archive, bad)
    record = bad / f"students/{MENTEE}/records/2026-11-21-tutoring.md"
    record.write_text(_record("2026-11-21", subject="physics"), encoding="utf-8")
    other = bad / f"students/{MENTEE}/records/2026-11-22-tutoring.md"
    other.write_text(_record("2026-11-22", tutor="T999", homework_due="2026-11-01"), encoding="utf-8")
    out = run("check", bad, "--as-of", AS_OF).output
    rel = f"students/{MENTEE}/records"
    assert f"{rel}/2026-11-21-tutoring.md:5:10: error: subject:" in out  # line 5: subject: physics
    assert f"{rel}/2026-11-22-tutoring.md:8:15: error: 作业截止(2026-11-01)不能早于日期(2026-11-22)" in out
    assert run("check", bad, "--as-of", AS_OF).exit_code == 1
    other.write_text(_record("2026-11-22", tutor="T999"), encoding="utf-8")
    out = run("check", bad, "--as-of", AS_OF).output
    assert f"{rel}/2026-11-22-tutoring.md:6:8: error: tutor:" in out and "T999" in out
    assert f"{rel}/2026-11-20-tutoring.md" not in out  # the valid one


def test_page_and_booklet_show_it_in_its_words(archive: Path, tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    config = write_config(tmp_path, archive, booklets=True)
    built = run("build", "--config", config, "--site-dir", tmp_path / "site")
    assert built.exit_code == 0, built.output
    record = soup(tmp_path / "site", f"students/{MENTEE}").find(
        attrs={"data-record": "2026-11-20-tutoring.md"}
    )
    text = " ".join(record.get_text(" ").split())
    for shown in (
        "辅导科目 数学",
        "辅导教师 谢美玲",
        "时长(分钟) 40",
        "作业截止 2026年11月27日",
        "讲了二次函数的图像",
    ):
        assert shown in text, (shown, text)
    heading = record.find_previous("h4").get_text()
    assert "课业辅导" in heading
    pdf = next((tmp_path / "site" / "booklets").glob(f"{MENTEE}.pdf"))
    words = "".join(p.extract_text() for p in PdfReader(pdf).pages).replace(" ", "").replace("\n", "")
    assert "2026年11月20日课业辅导" in words and "辅导科目数学" in words and "辅导教师谢美玲" in words


def test_a_missing_word_is_a_located_error_and_stops_the_build(archive: Path, tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    schema.register(schema.RecordKind(Tutoring, labels={k: v for k, v in WORDS.items() if k != "fields"}))
    try:
        out = run("check", archive, "--as-of", AS_OF).output
        assert "labels/zh.yml:" in out and "界面文字:记录类型 tutoring 的栏目 subject 没有名称" in out
        config = write_config(tmp_path, archive)
        built = run("build", "--config", config, "--site-dir", tmp_path / "site")
        assert built.exit_code == 1 and "Traceback" not in built.output
        assert "界面文字缺了" in built.output and not (tmp_path / "site").exists()
    finally:
        schema.register(schema.RecordKind(Tutoring, labels=WORDS))


@pytest.fixture(scope="module")
def protected(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from generator.cli import main

    work = tmp_path_factory.mktemp("declared-site")
    config = write_config(work, archive, protect=True)
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--site-dir", str(work / "site")])
    assert result.exit_code == 0, result.output
    return work / "site"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_form_is_made_from_the_declaration(protected: Path, viewport: dict) -> None:
    with chromium() as browser, serve_folder(protected) as url:
        page = browser.new_page(viewport=viewport)
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=students]")
        page.goto(f"{url}#/{login(protected, 'T015', CREDS['T015']).token(f'students/{MENTEE}/')}")
        page.locator('#yd-page .yd-write-type[data-type="tutoring"]').first.click()
        page.wait_for_selector("#yd-form")
        options = page.eval_on_selector_all("#yd-f-subject option", "os => os.map(o => o.textContent)")
        assert {"数学", "语文", "英语"} <= set(options)
        assert page.inner_text('.yd-field[data-field="tutor"] label').startswith("辅导教师")
        page.fill("#yd-f-homework_due", "2000-01-01")  # before the session: the declared rule
        page.click("#yd-form button[type=submit]")
        page.wait_for_selector(".yd-field-error")
        under = page.inner_text('.yd-field[data-field="homework_due"] .yd-field-error')
        assert under.startswith("作业截止(2000-01-01)不能早于日期(")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.close()


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "office", "GIT_AUTHOR_EMAIL": "o@x.invalid"}
    env |= {"GIT_COMMITTER_NAME": "office", "GIT_COMMITTER_EMAIL": "o@x.invalid"}
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout


def test_sealed_taken_in_and_reviewed_and_new(archive: Path, tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "school"
    shutil.copytree(archive, repo / "archives")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "archive")
    today = school_today(repo / "archives").isoformat()
    record = {"type": "tutoring", "date": today, "subject": "english", "tutor": "T015", "minutes": 30}
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    sealed = seal(repo / "archives", "T015", CREDS["T015"], MENTEE, record, "背了三十个单词。")
    (inbox / "a.yidang").write_bytes(sealed)
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    try:
        taken = run("intake", inbox, "--archive", repo / "archives")
    finally:
        os.environ.pop("YIDANG_INTAKE_PASSPHRASE", None)
    assert taken.exit_code == 0 and "收取 1 份" in taken.output, taken.output
    branch = next(
        b for b in _git(repo, "branch", "--format=%(refname:short)").split() if b.startswith("intake/")
    )
    shown = _git(repo, "show", f"{branch}:archives/students/{MENTEE}/records/{today}-tutoring.md")
    assert "subject: english" in shown and "by: T015" in shown
    review = run(
        "review", "--base", "main", "--head", branch, "--format", "text", "--archive", repo / "archives"
    )
    assert review.exit_code == 0, review.output
    for line in ("新增 课业辅导", "辅导科目:英语", "时长(分钟):30", "| 背了三十个单词。"):
        assert line in review.output, (line, review.output)
    made = run("new", "tutoring", MENTEE, "--date", "2026-11-25", "--archive", archive)
    assert made.exit_code == 0, made.output
    text = (archive / f"students/{MENTEE}/records/2026-11-25-tutoring.md").read_text(encoding="utf-8")
    assert "subject: math    # math | chinese | english" in text and "tutor: T015" in text
    (archive / f"students/{MENTEE}/records/2026-11-25-tutoring.md").unlink()


def test_synth_writes_it_from_the_declaration(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """The benchmark's archive maker knows no 课业辅导: it writes the kind's records from the
    declaration alone (its required fields, a reference by a teacher id), and check passes."""
    out = tmp_path / "synth"
    assert run("synth", "--students", "30", "--records-per-student", "40", out).exit_code == 0
    written = sorted(out.glob("students/*/records/*-tutoring*.md"))
    assert written, "no 课业辅导 record was written"
    checked = run("check", out, "--format", "json")
    problems = json.loads(checked.output)["problems"]
    assert [p for p in problems if p["severity"] == "error"] == []
    assert list(out.glob("activities/*.md"))  # and a group record for each class and term
