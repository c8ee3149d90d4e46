"""Review through pull requests: `review` on a throwaway git repository with fixed
authors and dates, `init` → `new` → `check` → `build`, and the CI workflows."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from generator.cli import main

from .conftest import SAMPLE

ENV = {
    "GIT_AUTHOR_NAME": "林淑华",
    "GIT_AUTHOR_EMAIL": "lin.shuhua@yidang.invalid",
    "GIT_COMMITTER_NAME": "林淑华",
    "GIT_COMMITTER_EMAIL": "lin.shuhua@yidang.invalid",
    "GIT_AUTHOR_DATE": "2026-11-20T10:00:00+08:00",
    "GIT_COMMITTER_DATE": "2026-11-20T10:00:00+08:00",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env={**os.environ, **ENV}
    ).stdout


def _sample_on_a_branch(repo: Path, branch: str) -> Path:
    """The sample committed on main in a new repository at ``repo``, and ``branch`` checked out."""
    shutil.copytree(SAMPLE, repo / "archives")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "archive")
    git(repo, "checkout", "-q", "-b", branch)
    return repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = _sample_on_a_branch(tmp_path_factory.mktemp("review"), "change")
    records = repo / "archives/students/S2025003/records"
    talk = (records / "2026-09-08-talk.md").read_text(encoding="utf-8")
    talk = talk.replace("2026-09-08", "2026-11-26").replace("2026-09-15", "2026-12-03")  # follow-up after
    (records / "2026-11-26-talk.md").write_text(talk, encoding="utf-8")
    profile = repo / "archives/students/S2025003/profile.yml"
    profile.write_text(
        profile.read_text(encoding="utf-8").replace(
            "  - key: left_behind\n    since: 2025-09-10",
            "  - key: left_behind\n    since: 2025-09-10\n    until: 2026-11-15",
        ),
        encoding="utf-8",
    )
    moved = repo / "archives/students/S2025004/profile.yml"
    moved.write_text(
        moved.read_text(encoding="utf-8").replace("class: G2-01", "class: G2-02"), encoding="utf-8"
    )
    gone = sorted((repo / "archives/students/S2024001/records").glob("*talk.md"))[0]
    gone.unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")
    repo.joinpath("gone.txt").write_text(gone.name, encoding="utf-8")
    return repo


def _review(run, repo: Path, fmt: str) -> str:  # type: ignore[no-untyped-def]
    result = run(
        "review", "--base", "main", "--format", fmt, "--as-of", "2026-11-28", "--archive", repo / "archives"
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_review_json(repo: Path, run) -> None:
    data = json.loads(_review(run, repo, "json"))
    by_id = {s["id"]: s for s in data["students"]}
    assert set(by_id) == {"S2025003", "S2025004", "S2024001"}
    s3 = by_id["S2025003"]
    assert s3["records"] == [
        {
            "action": "新增",
            "file": "2026-11-26-talk.md",
            "type": "谈话记录",
            "date": "2026-11-26",
            "by": "张海涛",
            "fields": [  # what the reviewer approves, labelled as on the site
                ["谈话方式", "面谈"],
                ["谈话主题", "新学期适应情况"],
                ["情绪状态", "略显疲惫"],
                ["约定事项", "把暑假落下的英语单词分成每天二十个、宿舍有困难及时告诉班主任"],
                ["跟进日期", "2026-12-03"],
            ],
            "text": [
                "开学第一周,小雨说暑假大部分时间在帮祖母摘槟榔,作业是晚上赶出来的。",
                "她担心分班后跟不上英语进度。我们约定每天背二十个单词,周二晚自习后我抽查。",
            ],
        }
    ]
    assert "类别结束:留守儿童" in s3["profile"] and s3["leadership"]
    assert {r["as"] for r in s3["reviewers"]} == {"帮扶教师", "班主任", "领导小组"}
    s4 = by_id["S2025004"]
    assert s4["profile"] == ["班级变更:G2-01 → G2-02"] and not s4["leadership"]
    assert {r["teacher"] for r in s4["reviewers"] if r["as"] == "班主任"} == {"T009"}  # G2-02's
    gone = (repo / "gone.txt").read_text(encoding="utf-8")
    assert [(r["action"], r["file"]) for r in by_id["S2024001"]["records"]] == [("删除", gone)]
    assert data["problems"] == []


def test_review_markdown_and_text(repo: Path, run) -> None:
    md = _review(run, repo, "markdown")
    assert md.startswith("## yidang review:3 名学生的档案有改动")
    assert "### S2025003 符小雨(G2-01)" in md
    assert "- 新增 谈话记录 2026-11-26 · 张海涛(2026-11-26-talk.md)" in md
    assert "@zhang.haitao(张海涛,帮扶教师)" in md and "@zhou.mingyuan(周明远,领导小组)" in md
    assert "- 改动的文件没有发现问题。" in md
    assert "  - 谈话主题:新学期适应情况\n" in md  # the record itself, as the reviewer approves it
    assert "  > 她担心分班后跟不上英语进度。我们约定每天背二十个单词,周二晚自习后我抽查。\n" in md
    text = _review(run, repo, "text")
    assert text.startswith("3 名学生的档案有改动 / 3 student(s) changed (main...HEAD)")
    assert "      谈话方式:面谈\n" in text
    assert "      | 开学第一周,小雨说暑假大部分时间在帮祖母摘槟榔,作业是晚上赶出来的。\n" in text
    assert "  班级变更:G2-01 → G2-02" in text


def test_review_lists_problems_in_changed_files(repo: Path, run) -> None:
    git(repo, "checkout", "-q", "-b", "broken", "change")
    record = repo / "archives/students/S2025003/records/2026-11-26-talk.md"
    record.write_text(record.read_text(encoding="utf-8").replace("by: T008", "by: T999"), encoding="utf-8")
    git(repo, "commit", "-qam", "broken")
    md = run("review", "--base", "main", "--as-of", "2026-11-28", "--archive", repo / "archives").output
    said = "by:教师编号 'T999' 不在 teachers.yml 里 / by: unknown teacher 'T999'"
    assert f"- students/S2025003/records/2026-11-26-talk.md:4:5 error: {said}" in md
    git(repo, "checkout", "-q", "change")


def test_review_outside_git_is_a_clear_error(tiny: Path, run) -> None:
    result = run("review", "--base", "main", "--archive", tiny)
    assert result.exit_code == 2 and "git" in result.output


def test_init_new_check_build(tmp_path: Path, run) -> None:
    repo = tmp_path / "school"
    assert run("init", repo).exit_code == 0
    assert run("init", repo).exit_code == 2  # never over an existing folder
    archive = repo / "archives"
    assert run("new", "home_visit", "S0001", "--date", "2026-11-20", "--archive", archive).exit_code == 0
    assert run("check", archive, "--as-of", "2026-11-28").exit_code == 0
    assert run("access", "add", "T001", "--archive", archive).exit_code == 0
    built = run("build", "--config", repo / "mkdocs.yml", "--site-dir", repo / "site", "--no-booklets")
    assert built.exit_code == 0, built.output
    assert (repo / "site/index.html").is_file() and list((repo / "site/d").iterdir())
    ignored = (repo / ".gitignore").read_text(encoding="utf-8")
    assert "site/" in ignored and ".cache/" in ignored and "*.pdf" in ignored


@pytest.mark.parametrize("workflow", [".github/workflows/yidang.yml", ".gitea/workflows/yidang.yml"])
def test_workflows_parse_and_call_only_existing_commands(tmp_path: Path, run, workflow: str) -> None:
    run("init", tmp_path / "school")
    data = yaml.safe_load((tmp_path / "school" / workflow).read_text(encoding="utf-8"))
    assert data[True if True in data else "on"].keys() >= {"pull_request", "push"}  # YAML 1.1: on → True
    calls = [
        line.strip()
        for job in data["jobs"].values()
        for step in job["steps"]
        for line in step.get("run", "").splitlines()
        if line.strip().startswith("yidang ")
    ]
    assert {c.split()[1] for c in calls} >= {"check", "review", "build"}
    for call in calls:
        words = shlex.split(call.split("|")[0])
        command = main.commands[words[1]]
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert {w.split("=")[0] for w in words if w.startswith("--")} <= options, call
    assert "secrets." not in (tmp_path / "school" / workflow).read_text(encoding="utf-8")


def test_provenance_on_the_site_and_in_the_booklet(repo: Path, run, tmp_path: Path) -> None:
    from pypdf import PdfReader

    from .site_helpers import soup
    from .test_site import write_config

    short = git(repo, "rev-parse", "--short", "change").strip()
    config = write_config(tmp_path, repo / "archives")
    assert run("build", "--config", config, "--site-dir", tmp_path / "site").exit_code == 0
    page = soup(tmp_path / "site", "students/S2025003")
    record = page.find(attrs={"data-record": "2026-11-26-talk.md"})
    assert (
        record.find(attrs={"data-provenance": True}).text == f"最后修改:林淑华老师,2026-11-20(提交 {short})"
    )
    out = tmp_path / "booklets"
    made = run(
        "booklets",
        "--archive",
        repo / "archives",
        "--out",
        out,
        "--student",
        "S2025003",
        "--config",
        tmp_path / "none.yml",
    )
    assert made.exit_code == 0, made.output
    text = "".join(p.extract_text() for p in PdfReader(out / "S2025003.pdf").pages).replace(" ", "")
    assert f"最后修改:林淑华老师,2026-11-20(提交{short})" in text.replace("\n", "")


def test_provenance_outside_git_says_so(tiny: Path, tmp_path: Path, run) -> None:
    from .site_helpers import soup
    from .test_site import write_config

    assert (
        run("build", "--config", write_config(tmp_path, tiny), "--site-dir", tmp_path / "site").exit_code == 0
    )
    shown = soup(tmp_path / "site", "students/S1").find(attrs={"data-provenance": True}).text
    assert shown == "修改记录:档案不在 git 仓库中"


def test_review_extracts_only_plain_files_inside_its_folder(tmp_path: Path) -> None:
    """The branch under review decides the tar's contents: links and escaping names stay out."""
    import io
    import tarfile

    from generator.review.branch import extract_plain

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:

        def add(name: str, kind: bytes = tarfile.REGTYPE, body: bytes = b"x", link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, len(body) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(body) if kind == tarfile.REGTYPE else None)

        add("archives/students/S1/profile.yml", body=b"id: S1\n")
        add("archives/students/S1/records/evil.md", tarfile.SYMTYPE, link="/etc/passwd")
        add("archives/hard.md", tarfile.LNKTYPE, link="archives/students/S1/profile.yml")
        add("../outside.yml")
        add("/tmp/absolute.yml")
    data.seek(0)
    dest = tmp_path / "x"
    dest.mkdir()
    with tarfile.open(fileobj=data) as tar:
        extract_plain(tar, dest)
    found = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if not p.is_dir())
    assert found == ["x/archives/students/S1/profile.yml"]
    assert (dest / "archives/students/S1/profile.yml").read_text() == "id: S1\n"


HOSTILE_BY = '"@everyone ![t](https://evil.example/t.png) [点我](javascript:x) <img src=x> `code`"'


def test_a_branch_cannot_ping_link_or_draw_in_the_review(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """A pull request's record names its author with a mention, a remote image, a link and
    HTML, and its file name carries a terminal escape: the comment shows them as text, and
    the terminal shows the escape as \\x1b."""
    repo = _sample_on_a_branch(tmp_path / "repo", "hostile")
    records = repo / "archives/students/S2025003/records"
    talk = (records / "2026-09-08-talk.md").read_text(encoding="utf-8")
    hostile = talk.replace("by: T008", f"by: {HOSTILE_BY}", 1).replace(
        "topic: 新学期适应情况", f"topic: {HOSTILE_BY}"
    )
    hostile += f"\n{HOSTILE_BY[1:-1]}\n\x1b[2J\x1b[32m收取 9 份\n"  # and in the narrative
    assert hostile != talk
    (records / "2026-11-26-talk\x1b[2J.md").write_text(hostile, encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hostile")
    md = _review(run, repo, "markdown")
    assert "@everyone" not in md and "@\u200beveryone" in md
    for live in ("![", "](https", "](javascript", "`code`", "https://"):
        assert live not in md, live
    assert not re.search(r"(?<!\\)<img", md)  # only escaped: \<img
    assert "\\!\\[t\\]" in md and "\\<img src=x\\>" in md  # shown, as text
    text = _review(run, repo, "text")
    assert "\x1b" not in text and "talk\\x1b[2J.md" in text
