"""Provenance kept between builds: after a merge, the history is brought up to date
from the new commits only, and always equals what reading the whole history gives."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.archive.provenance import history
from generator.core.cache import Store

from .conftest import SAMPLE
from .site_helpers import soup
from .test_site import write_config


def git(
    repo: Path,
    *args: str,
    date: str = "2026-11-20T10:00:00+08:00",
    who: str = "林老师",
    email: str = "t@school.test",
) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": who,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": who,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env)
    return done.stdout


def write(repo: Path, rel: str, text: str) -> None:
    path = repo / "archive" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def commit(repo: Path, message: str, **kw: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, **kw)


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    """A repository whose archive sits in a subfolder, with two students."""
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "README").write_text("not the archive", encoding="utf-8")
    write(tmp_path, "students/S1/records/2026-09-01-talk.md", "one")
    write(tmp_path, "students/S2/records/2026-09-02-talk.md", "two")
    commit(tmp_path, "start", date="2026-11-01T10:00:00+08:00")
    return tmp_path


def same_as_full(repo: Path, store: Store) -> int:
    """The kept history equals a whole-history read; returns how many whole reads it took."""
    kept = history(repo / "archive", store)
    fresh = history(repo / "archive")
    assert kept is not None and fresh is not None
    assert kept.head == fresh.head
    assert kept.changes == fresh.changes
    assert kept.folders == fresh.folders
    return kept.full_reads


def test_linear_commits_are_read_alone(repo: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    assert same_as_full(repo, store) == 1
    write(repo, "students/S1/records/2026-09-01-talk.md", "one, edited")
    write(repo, "students/S2/records/2026-10-02-talk.md", "new")
    commit(repo, "edit", date="2026-11-21T10:00:00+08:00", who="王老师")
    assert same_as_full(repo, store) == 1  # no second whole read
    kept = history(repo / "archive", store)
    assert kept is not None
    assert kept.changes["students/S1/records/2026-09-01-talk.md"].author == "王老师"
    assert kept.changes["students/S2/records/2026-09-02-talk.md"].author == "林老师"
    # HEAD unchanged: nothing read at all
    assert history(repo / "archive", store) == kept


def test_merge_of_a_newer_branch_is_read_alone(repo: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    history(repo / "archive", store)
    git(repo, "checkout", "-qb", "pr")
    write(repo, "students/S1/records/2026-09-01-talk.md", "from the pull request")
    commit(repo, "pr", date="2026-11-22T10:00:00+08:00", who="王老师")
    git(repo, "checkout", "-q", "main")
    write(repo, "students/S2/records/2026-09-02-talk.md", "on main")
    commit(repo, "main", date="2026-11-22T11:00:00+08:00")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "pr", date="2026-11-23T10:00:00+08:00")
    assert same_as_full(repo, store) == 1


def test_merge_of_an_older_commit_reads_everything_again(repo: Path, tmp_path: Path) -> None:
    """A branch begun before the last build, touching a file changed since on main:
    which change `git log` names first depends on dates the new commits alone don't give."""
    git(repo, "checkout", "-qb", "pr")
    write(repo, "students/S1/records/2026-09-01-talk.md", "old branch")
    commit(repo, "pr", date="2026-11-05T10:00:00+08:00", who="王老师")
    git(repo, "checkout", "-q", "main")
    write(repo, "students/S1/records/2026-09-01-talk.md", "main, later")
    write(repo, "students/S2/records/2026-09-02-talk.md", "main, later")
    commit(repo, "main", date="2026-11-10T10:00:00+08:00")
    store = Store(tmp_path / "cache")
    history(repo / "archive", store)  # the build after main's commit
    try:
        git(repo, "merge", "-q", "--no-ff", "-m", "merge", "pr", date="2026-11-12T10:00:00+08:00")
    except subprocess.CalledProcessError:
        write(repo, "students/S1/records/2026-09-01-talk.md", "resolved")
        commit(repo, "merge", date="2026-11-12T10:00:00+08:00")
    assert same_as_full(repo, store) == 2


def test_rewritten_history_is_read_again(repo: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "cache")
    write(repo, "students/S1/records/2026-09-01-talk.md", "to be dropped")
    commit(repo, "dropped", date="2026-11-21T10:00:00+08:00")
    history(repo / "archive", store)
    git(repo, "reset", "-q", "--hard", "HEAD~1")
    write(repo, "students/S2/records/2026-09-02-talk.md", "instead")
    commit(repo, "instead", date="2026-11-22T10:00:00+08:00", who="王老师")
    assert same_as_full(repo, store) == 2


def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path, "students/S1/records/2026-09-01-talk.md", "one")
    store = Store(tmp_path / ".cache")
    empty = history(tmp_path / "archive", store)
    assert empty is not None and empty.head == "" and empty.changes == {}
    commit(tmp_path, "first")
    assert same_as_full(tmp_path, store) == 2


def test_build_after_a_merge_shows_the_new_commit(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """End to end: the site built after a commit names it, and only that student is read again."""
    repo = tmp_path / "school"
    shutil.copytree(SAMPLE, repo / "archive")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "archive")
    config = write_config(tmp_path, repo / "archive")
    site = tmp_path / "site"
    assert run("build", "--config", config, "--site-dir", site).exit_code == 0
    record = next((repo / "archive/students/S2025003/records").glob("*talk.md"))
    record.write_text(record.read_text(encoding="utf-8") + "\n补记一句。\n", encoding="utf-8")
    commit(repo, "edit", date="2026-11-25T09:00:00+08:00", who="王老师")
    short = git(repo, "rev-parse", "--short", "HEAD").strip()
    again = run("build", "--config", config, "--site-dir", site)
    assert again.exit_code == 0, again.output
    assert "students read: 1," in again.output
    shown = soup(site, "students/S2025003").find(attrs={"data-record": record.name})
    # 王老师 of t@school.test is no one in teachers.yml: the office, never a git identity
    assert shown.find(attrs={"data-provenance": True}).text == f"最后修改:学校办公室,2026-11-25(提交 {short})"


def test_a_merged_record_names_its_teacher_and_who_merged_it(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    """A record as intake commits it (the teacher as author, with the address intake gives
    her) merged on the forge by 周明远 (git_user zhou.mingyuan), and one committed directly by
    someone with a personal git identity: the page shows school people (the booklet
    prints the same text, from the same function)."""
    repo = tmp_path / "school"
    shutil.copytree(SAMPLE, repo / "archive")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "archive", who="dev", email="dev@laptop.example")
    git(repo, "checkout", "-qb", "intake/x")
    record = next((repo / "archive/students/S2025003/records").glob("*talk.md"))
    record.write_text(record.read_text(encoding="utf-8") + "\n补记一句。\n", encoding="utf-8")
    commit(repo, "talk", date="2026-11-24T09:00:00+08:00", who="谢美玲", email="xie.meiling@yidang.invalid")
    git(repo, "checkout", "-q", "main")
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "merge",
        "intake/x",
        date="2026-11-25T10:00:00+08:00",
        who="zhou.mingyuan",
        email="noreply@forge.example",
    )
    config = write_config(tmp_path, repo / "archive")
    site = tmp_path / "site"
    assert run("build", "--config", config, "--site-dir", site).exit_code == 0
    page = soup(site, "students/S2025003")
    merged = page.find(attrs={"data-record": record.name}).find(attrs={"data-provenance": True}).text
    assert merged.startswith("最后修改:谢美玲老师,2026-11-24(提交 ")
    assert merged.endswith(";周明远老师审核合并")
    others = [p.text for p in page.find_all(attrs={"data-provenance": True}) if p.text != merged]
    assert others and all(t.startswith("最后修改:学校办公室,") and "审核" not in t for t in others)
    assert "dev" not in page.text and "laptop" not in page.text and "noreply" not in page.text


def test_archive_at_the_top_of_its_repository(tmp_path: Path) -> None:
    """The benchmark's layout: the archive is the repository."""
    archive = tmp_path / "archive"
    archive.mkdir()
    git(archive, "init", "-q", "-b", "main")
    write(tmp_path, "students/S1/records/2026-09-01-talk.md", "one")
    commit(archive, "start")
    store = Store(tmp_path / "cache")
    assert same_as_full(tmp_path, store) == 1
    write(tmp_path, "students/S1/records/2026-09-01-talk.md", "two")
    commit(archive, "edit", date="2026-11-21T10:00:00+08:00", who="王老师")
    assert same_as_full(tmp_path, store) == 1
    kept = history(archive, store)
    assert kept is not None and kept.prefix == ""
    assert kept.changes["students/S1/records/2026-09-01-talk.md"].author == "王老师"


def test_records_waiting_on_review_branches(repo: Path) -> None:
    """Added on an intake branch (here or on a remote) and not yet on HEAD: waiting, by date
    and type; merged, squashed (the file is in the archive) or not a record: not."""
    from generator.archive.provenance import waiting
    from generator.archive.schema import RECORD_TYPES

    git(repo, "checkout", "-qb", "intake/a")
    write(repo, "students/S1/records/2026-11-02-home_visit.md", "sent")
    write(repo, "students/S1/records/notes.txt", "not a record")
    write(repo, "students/S1/records/2026-11-03-gossip.md", "no such type")
    write(repo, "students/S1/records/2026-99-99-talk.md", "no such day: never shown, never a crash")
    commit(repo, "a")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "intake/b")
    write(repo, "students/S2/records/2026-11-04-talk.md", "sent, then squashed")
    commit(repo, "b")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "intake/g")  # a group record: waiting for each student it lists
    write(
        repo, "activities/2026-11-06-meeting.md", "---\ntype: activity\nstudents: [S1, S3, ../x, [S4]]\n---\n"
    )
    write(repo, "activities/2026-11-07-hostile.md", "---\ntype: [activity\nstudents: {S5\n---\n")
    write(repo, "activities/2026-11-08-other.md", "---\ntype: gossip\nstudents: [S6]\n---\n")
    commit(repo, "g")
    git(repo, "checkout", "-q", "main")
    git(repo, "checkout", "-qb", "feature")  # not a review branch
    write(repo, "students/S2/records/2026-11-05-talk.md", "elsewhere")
    commit(repo, "c")
    git(repo, "checkout", "-q", "main")
    archive = repo / "archive"
    assert waiting(archive, RECORD_TYPES) == {
        "S1": (("2026-11-02", "home_visit"), ("2026-11-06", "activity")),
        "S2": (("2026-11-04", "talk"),),
        "S3": (("2026-11-06", "activity"),),
    }
    git(repo, "merge", "-q", "--squash", "intake/b")
    commit(repo, "squashed")
    git(repo, "merge", "-q", "--no-ff", "-m", "merged", "intake/a")
    git(repo, "merge", "-q", "--no-ff", "-m", "merged", "intake/g")
    assert waiting(archive, RECORD_TYPES) == {}
