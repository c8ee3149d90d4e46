"""Records written in the site, sealed for the office, taken in as review branches.

The sample archive in a throwaway git repository; submissions made by Python
(tests/submit.py) for every refusal, and by the real page in Chromium for the
whole way: phone form → sealed file → ``yidang intake`` → ``yidang review`` →
merged → on the student's page and in the booklet, with the teacher as author.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from generator.core import crypto
from generator.protect import access

from .conftest import SAMPLE
from .submit import seal
from .test_protect import CREDS, INTAKE_PASSPHRASE

MENTEE, OTHER = "S2025007", "S2025003"  # T015 mentors the first, not the second
TODAY = dt.date.today()
GIT = {
    "GIT_AUTHOR_NAME": "office",
    "GIT_AUTHOR_EMAIL": "office@school.test",
    "GIT_COMMITTER_NAME": "office",
    "GIT_COMMITTER_EMAIL": "office@school.test",
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT}).stdout  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The sample archive committed on main in a new repository; an inbox folder beside it."""
    root = tmp_path / "repo"
    shutil.copytree(SAMPLE, root / "archives")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "the sample archive")
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
    finally:
        del os.environ["YIDANG_INTAKE_PASSPHRASE"]


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
            "is in the future",
        ),
        "missing.yidang": (
            seal(archive, "T015", pw, MENTEE, {"type": "talk", "date": TODAY.isoformat()}, "缺字段。"),
            "missing required field 'mode'",
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
        assert f"rejected: {name}: " in result.output
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
    assert "unknown or removed account 'T015'" in result.output


def test_wrong_intake_passphrase_touches_nothing(repo: Path, run) -> None:  # type: ignore[no-untyped-def]
    path = _send(repo, "a.yidang", seal(repo / "archives", "T015", CREDS["T015"], MENTEE, _talk(), "谈话。"))
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = access.new_passphrase()
    try:
        result = run("intake", path, "--archive", repo / "archives")
    finally:
        del os.environ["YIDANG_INTAKE_PASSPHRASE"]
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
