"""A hostile sender at intake. Every file here is made in the test as an attacker would make
it (tests/submit.py): sealed to the public intake key from the login page, signed with a
teacher's real key (a stolen phone), or — a transfer bundle — not signed at all.

One inbox holds all of them and two honest records, and one run takes it in: each hostile
file is refused with a Chinese-first reason naming the field (never quoting its content),
nothing is written outside the archive (a listing of the work tree's parent before and
after), no traceback, and the honest records are still taken in. A dry run first changes
nothing at all.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from generator.archive import forms
from generator.core import crypto, labels
from generator.protect import access

from .submit import payload, public_key, seal, seal_bundle, seal_inner, seal_payload, sign_and_seal
from .test_protect import CREDS, INTAKE_PASSPHRASE
from .test_year import _repo

TODAY = dt.date.today()
MENTEE, CLOSED, LATE, IN_CLASS = "S2025007", "S2024007", "S2026009", "S2025002"
SECRET = "学生说父亲酗酒后打过他"  # a sentence no reason, output or log may quote
BAD_STUDENT = "转学档案包中的 student 不符合要求"
OFFICE_ONLY = "只能由办公室或审核人填写"
CONTROL = "含有不可见的控制字符"
FAKE_LINE = "x\n已收取:伪造\x1b[2K.yidang"  # no "/": a file name cannot hold one
GIT = {"GIT_AUTHOR_NAME": "office", "GIT_AUTHOR_EMAIL": "o@s.test", "GIT_COMMITTER_NAME": "office"}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT, "GIT_COMMITTER_EMAIL": "o@s.test"}
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True, env=env
    ).stdout


def talk(day: dt.date = TODAY, **extra: Any) -> dict[str, Any]:
    return {"type": "talk", "date": day.isoformat(), "mode": "in_person", "topic": "期末复习计划", **extra}


def signed(
    archive: Path,
    teacher: str = "T015",
    student: str = MENTEE,
    record: Any = None,
    body: str = "谈话内容。",
    **extra: Any,
) -> bytes:
    """A record signed with the teacher's real key; ``extra`` replaces any part of the payload."""
    fp = crypto.fingerprint(public_key(archive))
    content = payload(teacher, student, talk() if record is None else record, body, fp, **extra)
    return seal_payload(archive, teacher, CREDS[teacher], content)


def as_another(archive: Path) -> bytes:
    """T015's phone signs a record that says, inside, it is T001's."""
    content = payload("T001", MENTEE, talk(), "谈话。", crypto.fingerprint(public_key(archive)))
    return seal_payload(archive, "T015", CREDS["T015"], content)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def bundle(archive: Path, **inner: Any) -> bytes:
    """A transfer bundle (no signature needed) with a valid shape, any field replaced."""
    files = {"profile.yml": crypto.b64(b"id: X\n"), "records/2026-01-01-talk.md": crypto.b64(b"---\n")}
    content = {"school": "另一所学校", "student": "S9", "sent": "2026-11-01", "teachers": {}, "files": files}
    return seal_bundle(public_key(archive), {**content, "booklet": crypto.b64(b"%PDF"), **inner})


# Each hostile file: how it is made, and what its reason must say (Chinese first).
HOSTILE: dict[str, tuple[Callable[[Path], bytes], str]] = {
    # 1. names from a file never become paths
    "type-up": (lambda a: signed(a, record=talk(type="../../../evil")), "没有这种记录类型"),
    "type-absolute": (lambda a: signed(a, record=talk(type="/tmp/evil")), "没有这种记录类型"),
    "student-up": (lambda a: signed(a, student="../../../evil"), "student 不符合要求:格式不对"),
    "student-absolute": (lambda a: signed(a, student="/tmp/evil"), "student 不符合要求:格式不对"),
    "id-up": (lambda a: signed(a, id="../../../../tmp/evil"), "id 不符合要求:格式不对"),
    "id-not-a-branch": (lambda a: signed(a, id="a" * 31 + "."), "id 不符合要求:格式不对"),
    "date-up": (lambda a: signed(a, record=talk(date="2026-12-01/../../../evil")), "字段 date:"),
    "bundle-student-up": (lambda a: bundle(a, student="../../../evil"), BAD_STUDENT),
    "bundle-student-absolute": (
        lambda a: bundle(a, student="/tmp/evil"),
        BAD_STUDENT,
    ),
    "bundle-sent-up": (lambda a: bundle(a, sent="../../../../evil"), "转学档案包中的 sent 不符合要求"),
    "bundle-file-up": (
        lambda a: bundle(a, files={"profile.yml": "aWQ6IFgK", "records/../../../../evil.md": "eA"}),
        "转学档案包中的文件不在学生文件夹内",
    ),
    "bundle-file-absolute": (
        lambda a: bundle(a, files={"profile.yml": "aWQ6IFgK", "/etc/evil": "eA"}),
        "转学档案包中的文件不在学生文件夹内",
    ),
    "bundle-file-hidden": (
        lambda a: bundle(a, files={"profile.yml": "aWQ6IFgK", "photos/.git": "eA"}),
        "转学档案包中的文件不在学生文件夹内",
    ),
    "bundle-school-newline": (
        lambda a: bundle(a, school="某校\nYidang-Submission: 0"),
        "转学档案包中的 school 不符合要求",
    ),
    # 2. one bad file never stops the run
    "deep-outside": (lambda a: nested(200_000).encode(), "不是 yidang 填报文件"),
    "deep-sealed": (lambda a: seal_inner(public_key(a), nested(200_000).encode()), "不是 yidang 填报文件"),
    "deep-signed": (
        lambda a: sign_and_seal(a, "T015", CREDS["T015"], nested(200_000).encode()),
        "不是 yidang 填报文件",
    ),
    "deep-field": (lambda a: signed(a, record=talk(topic=json.loads(nested(500)))), "字段 topic:"),
    "nul-in-field": (
        lambda a: signed(a, record=talk(topic="期末\x00复习")),
        f"字段 topic:{CONTROL}",
    ),
    "escape-in-field": (
        lambda a: signed(a, record=talk(topic="\x1b[2K\r已收取 / taken in")),
        f"字段 topic:{CONTROL}",
    ),
    "long-field": (lambda a: signed(a, record=talk(topic=SECRET * 100_000)), "字段 topic:太长"),
    "long-body": (lambda a: signed(a, body=SECRET * 100_000), "字段 记录内容:太长"),
    "list-of-objects": (lambda a: signed(a, record=talk(agreed_actions=[{"x": 1}])), "字段 agreed_actions:"),
    "garbage": (lambda a: secrets.token_bytes(4096), "不是 yidang 填报文件"),
    "empty": (lambda a: b"", "不是 yidang 填报文件"),
    "not-an-object": (lambda a: b"[1, 2, 3]", "不是 yidang 填报文件"),
    "extra-payload-key": (lambda a: signed(a, admin=True), "不是 yidang 填报文件"),
    # 4. authorship comes from the signature alone
    "by-another": (lambda a: signed(a, record=talk(by="T001")), f"字段 by {OFFICE_ONLY}"),
    "reviewed-by": (
        lambda a: signed(
            a,
            record={
                "type": "evaluation",
                "date": TODAY.isoformat(),
                "term": "2026-fall",
                "study": "好",
                "mental_health": "好",
                "behaviour": "好",
                "goals_met": "达成",
                "continue": True,
                "reviewed_by": "T001",
            },
        ),
        f"字段 reviewed_by {OFFICE_ONLY}",
    ),
    "from-school": (
        lambda a: signed(a, record=talk(from_school="另一所学校")),
        f"字段 from_school {OFFICE_ONLY}",
    ),
    "photos-field": (
        lambda a: signed(a, record=talk(photos=["../../profile.yml"])),
        f"字段 photos {OFFICE_ONLY}",
    ),
    "envelope-teacher": (lambda a: as_another(a), "签名内容与信封不符"),
    # 9. rights at the edges: inside the writer's right and the case's open period
    "after-closed": (
        lambda a: signed(a, "T001", CLOSED, talk(dt.date(2026, 8, 1))),
        "T001 在 2026-08-01 无权为学生 S2024007 写记录",
    ),
    "before-enrolled": (
        lambda a: signed(a, "T001", LATE, talk(dt.date(2026, 10, 1))),
        "T001 在 2026-10-01 无权为学生 S2026009 写记录",
    ),
    "head-teacher-long-ago": (
        lambda a: signed(a, "T008", IN_CLASS, talk(dt.date(2026, 6, 1))),
        "T008 在 2026-06-01 无权为学生 S2025002 写记录",
    ),
    # 9. a reason names the field, never its content
    "secret-in-a-bad-choice": (lambda a: signed(a, record=talk(mode=SECRET)), "字段 mode:不是可选的值"),
    "secret-in-a-bad-term": (
        lambda a: signed(
            a,
            record={
                "type": "evaluation",
                "date": TODAY.isoformat(),
                "term": SECRET,
                "study": "好",
                "mental_health": "好",
                "behaviour": "好",
                "goals_met": "达成",
                "continue": True,
            },
        ),
        "字段 term:",
    ),
}


def image(fmt: str, mode: str = "RGB", size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, fmt)
    return out.getvalue()


def _with_photo(archive: Path, data: bytes) -> bytes:
    record = {"type": "home_visit", "date": TODAY.isoformat(), "mode": "in_person", "met": ["母亲"]}
    return seal(archive, "T015", CREDS["T015"], MENTEE, record, "入户家访。", (data,))


HOSTILE_PHOTOS: dict[str, tuple[Callable[[], bytes], str]] = {
    "photo-gif": (lambda: image("GIF"), "第 1 张照片:不是 JPEG、PNG 或 WebP 图片"),
    "photo-bomb": (lambda: image("PNG", "1", (13000, 13000)), "第 1 张照片:像素太多"),  # 169 MP, 30 kB
    "photo-not-an-image": (lambda: b"\xff\xd8\xff\xe0" + secrets.token_bytes(100), "第 1 张照片:"),
}


def listing(base: Path) -> dict[str, float]:
    """Every path under ``base`` (the work tree's parent) but the inbox and git's own folder."""
    out = {}
    for root, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d not in (".git", "inbox")]
        for name in dirs + files:
            path = Path(root) / name
            out[path.relative_to(base).as_posix()] = path.lstat().st_mtime
    return out


@pytest.fixture(scope="module")
def run_once(tmp_path_factory: pytest.TempPathFactory, run) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The sample in a repository; an inbox beside it with every hostile file and two honest
    ones; a dry run, then the run."""
    base = tmp_path_factory.mktemp("hostile")
    repo = _repo(base)
    archive, inbox = repo / "archives", base / "inbox"
    inbox.mkdir()
    files = {f"{name}.yidang": make(archive) for name, (make, _) in HOSTILE.items()}
    files |= {f"{name}.yidang": _with_photo(archive, make()) for name, (make, _) in HOSTILE_PHOTOS.items()}
    files["honest.yidang"] = seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "谈了期末复习。")
    files["honest-head-teacher.yidang"] = seal(
        archive, "T008", CREDS["T008"], IN_CLASS, talk(), "班主任谈话。"
    )
    files[FAKE_LINE] = secrets.token_bytes(100)  # a name that would fake a line of the summary
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    before, branches = listing(base), git(repo, "branch", "--list")
    inbox_before = sorted(p.name for p in inbox.iterdir())
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    place = ("--class", "G1-01", "--mentor", "T003")  # so the bundles are opened, not set aside
    dry = run("intake", inbox, "--archive", archive, "--dry-run", *place)
    dry_state = (listing(base), git(repo, "branch", "--list"), sorted(p.name for p in inbox.iterdir()))
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    result = run("intake", inbox, "--archive", archive, *place)
    return {
        "base": base, "repo": repo, "inbox": inbox, "files": files, "before": before, "dry": dry,
        "dry_unchanged": dry_state == (before, branches, inbox_before), "result": result,
    }  # fmt: skip


@pytest.mark.parametrize("name", [*HOSTILE, *HOSTILE_PHOTOS])
def test_each_hostile_file_is_refused_on_its_own_with_its_reason(run_once, name: str) -> None:  # type: ignore[no-untyped-def]
    said = (HOSTILE | HOSTILE_PHOTOS)[name][1]  # type: ignore[operator]
    rejected = run_once["inbox"] / "rejected"
    assert (rejected / f"{name}.yidang").read_bytes() == run_once["files"][
        f"{name}.yidang"
    ]  # kept as it came
    reason = (rejected / f"{name}.yidang.reason.txt").read_text(encoding="utf-8")
    assert said in reason, reason
    assert any("\u4e00" <= ch <= "\u9fff" for ch in reason.split(" / ")[0])  # Chinese first
    assert f"已拒收 / refused: {name}.yidang: {reason.strip()}" in run_once["result"].output


def test_the_honest_files_in_the_same_inbox_are_taken_in(run_once) -> None:  # type: ignore[no-untyped-def]
    result, repo = run_once["result"], run_once["repo"]
    refused = len(HOSTILE) + len(HOSTILE_PHOTOS) + 1  # and the fake line
    assert result.exit_code == 1  # something was refused
    assert f"收取 2 份,拒收 {refused} 份 / 2 taken in, {refused} refused" in result.output, result.output
    assert "Traceback" not in result.output
    branches = git(repo, "branch", "--list", "intake/*").split()
    assert sorted(b.rsplit("-", 1)[0] for b in branches) == sorted(
        [f"intake/{TODAY}-{MENTEE}", f"intake/{TODAY}-{IN_CLASS}"]
    )
    assert sorted(p.name for p in (run_once["inbox"] / "processed").iterdir()) != []


def test_nothing_is_written_outside_the_archive(run_once) -> None:  # type: ignore[no-untyped-def]
    after = listing(run_once["base"])
    assert after == run_once["before"]  # the office's checkout included: intake never touches it
    work = run_once["repo"] / ".git" / "yidang-work"
    assert not work.exists() or list(work.iterdir()) == []  # no plaintext work tree left
    assert len(git(run_once["repo"], "worktree", "list").splitlines()) == 1


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(run_once) -> None:  # type: ignore[no-untyped-def]
    dry = run_once["dry"]
    assert run_once["dry_unchanged"], "the dry run changed the inbox, the branches or a file"
    refused = len(HOSTILE) + len(HOSTILE_PHOTOS) + 1
    assert f"收取 2 份,拒收 {refused} 份" in dry.output and "试运行" in dry.output


def test_no_reason_output_or_commit_quotes_what_the_record_says(run_once) -> None:  # type: ignore[no-untyped-def]
    reasons = "".join(p.read_text(encoding="utf-8") for p in (run_once["inbox"] / "rejected").glob("*.txt"))
    log = git(run_once["repo"], "log", "--all", "--format=%B")
    for text in (reasons, run_once["result"].output, run_once["dry"].output, log):
        assert SECRET[:6] not in text


def test_control_characters_never_reach_the_terminal(run_once) -> None:  # type: ignore[no-untyped-def]
    output = run_once["result"].output
    assert "\x1b" not in output and "\x00" not in output and "\r" not in output
    lines = output.splitlines()
    assert all(line.startswith(("已收取", "已拒收", "收取 ", "  ")) for line in lines), lines
    assert sum(line.startswith("已收取") for line in lines) == 2  # the honest two, and no fake
    assert "已拒收 / refused: x\\x0a已收取:伪造\\x1b[2K.yidang: " in output


def test_the_author_is_the_signer(run_once) -> None:  # type: ignore[no-untyped-def]
    repo = run_once["repo"]
    for branch in git(repo, "branch", "--list", "intake/*", "--format=%(refname:short)").split():
        author = git(repo, "log", "-1", "--format=%an", branch).strip()
        record = git(repo, "diff", "--name-only", "main", branch).split()[0]
        front = git(repo, "show", f"{branch}:{record}")
        by = "T015" if MENTEE in branch else "T008"
        assert f"\nby: {by}\n" in front
        teachers = yaml.safe_load((repo / "archives/teachers.yml").read_text(encoding="utf-8"))
        assert author == next(t["name"] for t in teachers if t["id"] == by)


def test_the_forms_never_offer_what_the_office_sets() -> None:
    from generator.core.labels import shipped

    offered = {f["name"] for t in forms.form_schema(None, shipped())["types"] for f in t["fields"]}
    assert offered.isdisjoint({"by", "reviewed_by", "from_school", "photos", "type"})
    assert {"topic", "mode", "met", "term", "goals_met"} <= offered


# --- a record is never taken in twice -------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = _repo(tmp_path)
    (tmp_path / "inbox").mkdir()
    return root


def _intake(run, source: Path, archive: Path, *args: str):  # type: ignore[no-untyped-def]
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    try:
        return run("intake", source, "--archive", archive, *args)
    finally:
        os.environ.pop("YIDANG_INTAKE_PASSPHRASE", None)


def test_a_replay_after_the_branch_was_merged_and_deleted_is_refused(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = repo / "archives"
    data = seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "第一次。")
    (repo.parent / "inbox" / "a.yidang").write_bytes(data)
    assert _intake(run, repo.parent / "inbox", archive).exit_code == 0
    branch = git(repo, "branch", "--list", "intake/*", "--format=%(refname:short)").strip()
    git(repo, "merge", "-q", "--no-ff", "--no-edit", branch)
    git(repo, "branch", "-q", "-D", branch)
    (repo / ".git" / "yidang-intake-taken").unlink()  # another office PC: only git's history knows
    elsewhere = repo.parent / "another-folder"
    elsewhere.mkdir()
    (elsewhere / "copy.yidang").write_bytes(data)
    again = _intake(run, elsewhere, archive)
    assert again.exit_code == 1
    assert "重复:这份提交" in again.output and branch in again.output, again.output
    assert git(repo, "branch", "--list", "intake/*").strip() == ""


def test_a_double_tap_is_one_record(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    """Two files (two submission ids) with the same record: the second names the first's branch."""
    archive, inbox = repo / "archives", repo.parent / "inbox"
    for n in (1, 2):
        (inbox / f"tap{n}.yidang").write_bytes(
            seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "同一条。")
        )
    result = _intake(run, inbox, archive)
    branch = git(repo, "branch", "--list", "intake/*", "--format=%(refname:short)").strip()
    assert "收取 1 份,拒收 1 份" in result.output
    assert f"重复:内容相同的记录已经收取过,在分支 {branch}" in result.output


def test_a_replay_of_a_branch_deleted_in_review_is_refused_on_this_machine(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive, inbox = repo / "archives", repo.parent / "inbox"
    data = seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "审核时被删除。")
    (inbox / "a.yidang").write_bytes(data)
    _intake(run, inbox, archive)
    branch = git(repo, "branch", "--list", "intake/*", "--format=%(refname:short)").strip()
    git(repo, "branch", "-q", "-D", branch)  # refused in review: the commit is unreachable
    shutil.rmtree(inbox / "processed")
    (inbox / "b.yidang").write_bytes(data)
    assert "重复" in _intake(run, inbox, archive).output


# --- the passphrase never reaches a child process -----------------------------------


def test_no_git_hook_sees_the_intake_passphrase(repo: Path, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, inbox = repo / "archives", repo.parent / "inbox"
    seen = tmp_path / "hook-env"
    for hook in ("post-checkout", "reference-transaction", "post-commit"):
        path = repo / ".git" / "hooks" / hook
        path.write_text(f"#!/bin/sh\nenv >> {seen}\n", encoding="utf-8")
        path.chmod(0o755)
    (inbox / "a.yidang").write_bytes(seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "谈话。"))
    assert _intake(run, inbox, archive).exit_code == 0
    dumped = seen.read_text(encoding="utf-8")
    assert "GIT_DIR" in dumped or "PATH=" in dumped  # the hooks ran
    assert INTAKE_PASSPHRASE not in dumped and "YIDANG_INTAKE_PASSPHRASE" not in dumped


# --- "today" is the school's -----------------------------------------------------------


def test_today_is_the_schools_day_not_the_machines(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    """A record dated today at the date line's far side: a school there takes it in; one a day
    behind (UTC-12) sees a date in the future. The machine's own clock decides neither."""
    from generator.archive.schema import today_in

    archive, inbox = repo / "archives", repo.parent / "inbox"
    ahead = today_in("Pacific/Kiritimati")  # UTC+14
    data = seal(archive, "T015", CREDS["T015"], MENTEE, talk(ahead), "谈话。")
    school = archive / "school.yml"
    text = school.read_text(encoding="utf-8")
    for zone, taken in (("Etc/GMT+12", False), ("Pacific/Kiritimati", True)):
        school.write_text(text + f"timezone: {zone}\n", encoding="utf-8")
        git(repo, "commit", "-qam", zone)
        (inbox / f"{zone.replace('/', '-')}.yidang").write_bytes(data)
        result = _intake(run, inbox, archive)
        assert ("收取 1 份" in result.output) is taken, result.output
        if not taken:
            assert "字段 date:日期晚于今天" in result.output


# --- the intake key rotates without stranding what was sealed ---------------------------


def test_a_file_sealed_before_a_rotation_is_still_taken_in(repo: Path, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive, inbox = repo / "archives", repo.parent / "inbox"
    old_file = seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "旋转之前封装的。")
    old_secret = tmp_path / "old"
    old_secret.write_text(INTAKE_PASSPHRASE, encoding="utf-8")
    rotated = run("access", "intake", "--rotate", "--archive", archive, "--passphrase-file", old_secret)
    assert rotated.exit_code == 0, rotated.output
    assert "1 个旧密钥改用新口令" in rotated.output
    new = next(line.strip() for line in rotated.output.splitlines() if line.startswith("    "))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "rotated")
    (inbox / "old.yidang").write_bytes(old_file)
    (inbox / "new.yidang").write_bytes(seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "旋转之后。"))
    secret = tmp_path / "new"
    secret.write_text(new, encoding="utf-8")
    result = run("intake", inbox, "--archive", archive, "--passphrase-file", secret)
    assert "收取 2 份,拒收 0 份" in result.output, result.output
    # The old passphrase opens nothing now.
    (inbox / "again.yidang").write_bytes(seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "再一次。"))
    assert (
        "收件口令不对" in run("intake", inbox, "--archive", archive, "--passphrase-file", old_secret).output
    )


def test_past_the_grace_period_a_retired_key_is_refused_with_its_date(
    repo: Path, run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    archive, inbox = repo / "archives", repo.parent / "inbox"
    old_file = seal(archive, "T015", CREDS["T015"], MENTEE, talk(), "很久以前封装的。")
    long_ago = TODAY - dt.timedelta(days=access.INTAKE_GRACE_DAYS + 1)
    _, new, kept = access.rotate_intake(archive, INTAKE_PASSPHRASE, long_ago)
    assert kept == 1
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "rotated long ago")
    (inbox / "old.yidang").write_bytes(old_file)
    secret = tmp_path / "new"
    secret.write_text(new, encoding="utf-8")
    result = run("intake", inbox, "--archive", archive, "--passphrase-file", secret)
    assert (
        f"封装给了 {long_ago} 停用的旧收件密钥,已超过 {access.INTAKE_GRACE_DAYS} 天的宽限期" in result.output
    )


def test_every_command_the_rotation_prints_works(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = repo / "archives"
    made = run("access", "intake", "--rotate", "--lost", "--archive", archive)
    assert made.exit_code == 0, made.output
    printed = [part.split("(")[0].strip() for part in made.output.split("运行 ")[1:]]
    assert printed == ["yidang access intake --rotate --lost"]
    again = run(*printed[0].split()[1:], "--archive", archive)
    assert again.exit_code == 0, again.output
    assert "0 个旧密钥改用新口令" in again.output
    assert (
        labels.error("access", "lost_alone") in run("access", "intake", "--lost", "--archive", archive).output
    )


# --- any payload at all, inside a valid seal and signature ------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
PLAUSIBLE = st.sampled_from(
    ["talk", "home_visit", "evaluation", "in_person", "phone", "母亲", "2026-fall", "达成", "T015", "T001",
     TODAY.isoformat(), "2026-09-15", "../../x", "/etc/passwd", "a\nb", "\x1b[1m", "@everyone"]
)  # fmt: skip
FIELDS = st.sampled_from(
    ["type", "date", "mode", "topic", "met", "term", "study", "mental_health", "behaviour", "goals_met",
     "continue", "agreed_actions", "with", "by", "reviewed_by", "from_school", "photos", "../x", ""]
)  # fmt: skip
RECORDS = st.dictionaries(FIELDS, PLAUSIBLE | JSON, max_size=8) | JSON
ONE_CHANGED = st.builds(lambda key, value: {**talk(), key: value}, FIELDS, PLAUSIBLE | JSON)
STUDENTS = st.sampled_from([MENTEE, CLOSED, "../../x", "", "S2025007/../S2025003"]) | st.text(max_size=12)


ACCEPTED: list[bool] = []  # which examples made a branch: the property must meet some


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("property")
    repo = _repo(base)
    (base / "inbox").mkdir()
    keys = {"public": public_key(repo / "archives")}
    return {"base": base, "repo": repo, "keys": keys, "before": listing(base)}


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    content=st.one_of(
        st.tuples(
            st.builds(lambda key, value: {**talk(), key: value}, FIELDS, PLAUSIBLE | JSON), st.just(MENTEE)
        ),
        st.tuples(RECORDS, STUDENTS),
    ),
    body=st.text(min_size=1, max_size=40) | JSON,
    whole=st.none() | JSON,
)
def test_any_payload_in_a_valid_seal_and_signature(target, content, body, whole) -> None:  # type: ignore[no-untyped-def]
    """Never an exception out of intake, never a write outside the archive, never a branch for
    a record that ``check`` would not pass."""
    from generator.archive.read import read_archive
    from generator.review.intake import intake

    repo, base = target["repo"], target["base"]
    archive = repo / "archives"
    fp = crypto.fingerprint(target["keys"]["public"])
    record, student = content
    content = whole if whole is not None else payload("T015", student, record, body, fp)
    signed_bytes = json.dumps(content, ensure_ascii=False).encode()
    path = base / "inbox" / "any.yidang"
    path.write_bytes(sign_and_seal(archive, "T015", CREDS["T015"], signed_bytes, target["keys"]["public"]))
    before = set(git(repo, "branch", "--list", "intake/*", "--format=%(refname:short)").split())
    (outcome,) = intake(archive, [path], INTAKE_PASSPHRASE)
    assert listing(base) == target["before"]
    made = set(git(repo, "branch", "--list", "intake/*", "--format=%(refname:short)").split()) - before
    assert (outcome.status == "accepted") == bool(made), outcome.reason
    ACCEPTED.append(bool(made))
    for branch in made:
        tree = base / f"check-{len(before)}"
        git(repo, "worktree", "add", "--quiet", str(tree), branch)
        try:
            problems = read_archive(
                tree / "archives", folders=[outcome.submission.student], keep=False
            ).problems
            mine = [p for p in problems if "records/" in p.path and str(TODAY) in p.path]
            assert mine == [], mine
        finally:
            git(repo, "worktree", "remove", "--force", str(tree))


def test_the_property_met_records_it_took_in() -> None:
    """The examples above included records intake took in, so "a branch only for a valid
    record" was tested, not only refusals (runs after it: pytest keeps the file's order)."""
    assert any(ACCEPTED) and not all(ACCEPTED), ACCEPTED


# --- the sample's demo keys stay in the sample ------------------------------------------


def test_the_demo_key_list_is_the_samples() -> None:
    from .conftest import SAMPLE

    keys = [access.load_intake(SAMPLE)] + [access.load(SAMPLE, t) for t in access.accounts(SAMPLE)]
    found = {crypto.fingerprint(k.public_raw) for k in keys if k is not None}
    assert found == access.DEMO_FINGERPRINTS


def test_check_warns_when_a_school_keeps_the_demo_keys(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    from .conftest import SAMPLE

    assert "演示密钥" not in run("check", SAMPLE).output  # the sample itself says demo: true
    copy = tmp_path / "our-school"
    shutil.copytree(SAMPLE, copy)
    school = copy / "school.yml"
    text = school.read_text(encoding="utf-8")
    school.write_text("\n".join(line for line in text.splitlines() if not line.startswith("demo:")), "utf-8")
    said = run("check", copy).output
    for path in ("intake.json", "T001.json", "T008.json", "T015.json", "demo-credentials.yml"):
        assert f"access/{path}:1:1: warning: 这是示例档案的演示密钥" in said, path


def test_init_makes_the_schools_own_intake_key(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    made = run("init", tmp_path / "new-school")
    assert made.exit_code == 0, made.output
    passphrase = next(line.strip() for line in made.output.splitlines() if line.startswith("    "))
    key = access.load_intake(tmp_path / "new-school/archives")
    assert key is not None and key.fingerprint not in access.DEMO_FINGERPRINTS
    assert key.unlock(passphrase)  # the printed passphrase opens it
    assert "演示密钥" not in run("check", tmp_path / "new-school/archives").output


def test_the_form_takes_today_as_the_schools_day(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """A school on the far side of the date line; a phone whose clock is set a day behind. The
    form starts on the school's today and does not call it the future: the day intake and
    `check` judge by (desktop and phone width)."""
    from generator.archive.schema import today_in

    from .browser import chromium, serve_folder
    from .conftest import FIXTURES
    from .test_browser import PHONE
    from .test_site import write_config

    archive = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "tiny", archive)
    school = archive / "school.yml"
    school.write_text(school.read_text(encoding="utf-8") + "timezone: Pacific/Kiritimati\n", encoding="utf-8")
    account, passphrase = access.create("T2")
    access.save(archive, account)
    access.save_intake(archive, access.create_intake()[0])
    config = write_config(tmp_path, archive, protect=True)
    assert run("build", "--config", config, "--site-dir", tmp_path / "site").exit_code == 0
    school_day = today_in("Pacific/Kiritimati").isoformat()
    with serve_folder(tmp_path / "site") as url, chromium() as browser:
        for viewport in ({"width": 1280, "height": 900}, PHONE):
            context = browser.new_context(timezone_id="Etc/GMT+12", viewport=viewport)
            page = context.new_page()
            page.goto(url)
            assert page.evaluate("new Date().toLocaleDateString('en-CA')") != school_day  # the phone's day
            page.fill("#yd-user", "T2")
            page.fill("#yd-pass", passphrase)
            page.click("#yd-login button[type=submit]")
            page.click('.yd-write-type[data-type="talk"]')
            assert page.input_value("#yd-f-date") == school_day
            page.select_option("#yd-f-mode", "phone")
            page.fill("#yd-f-topic", "寒假安排")
            page.fill("#yd-f-narrative", "电话里聊了寒假的安排。")
            page.click("#yd-form button[type=submit]")
            page.wait_for_selector(".yd-sealed:not([hidden])")
            assert page.locator(".yd-form-errors").is_hidden()
            context.close()
