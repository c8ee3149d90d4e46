"""An intake killed part way: nothing of it stays behind for long, nothing is taken twice.

`yidang intake` works in a temporary work tree of the archive (plaintext) inside the
repository's git folder. Killed with SIGKILL while that work tree is being made, once it
is made, or after a branch was made — each found by watching for it, not by timing — the
run leaves a folder, maybe a locked work tree; the next intake (or any build) removes
them, and every file of the inbox ends up taken in exactly once. SIGTERM lets the run
clean up after itself.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.core import git as gitmod

from .conftest import seen_while_running
from .submit import seal
from .test_hostile_intake import MENTEE, git, talk
from .test_protect import CREDS, INTAKE_PASSPHRASE
from .test_site import write_config
from .test_year import _repo

YIDANG = str(Path(sys.executable).parent / "yidang")
FILES = 6


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The sample in a repository, and an inbox of six records (one per day this week)."""
    root = _repo(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    archive = root / "archives"
    for n in range(FILES):
        data = seal(archive, "T015", CREDS["T015"], MENTEE, talk(), f"第 {n} 次谈话。")
        (inbox / f"{n}.yidang").write_bytes(data)
    return root


def _work(repo: Path) -> list[Path]:
    folder = repo / ".git" / "yidang-work"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _start(repo: Path, tmp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "YIDANG_INTAKE_PASSPHRASE": INTAKE_PASSPHRASE, "TMPDIR": str(tmp)}
    command = [YIDANG, "intake", str(repo.parent / "inbox"), "--archive", str(repo / "archives")]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


POINTS: dict[str, Callable[[Path], bool]] = {
    # the base's work tree, made before any file is read (a commit's folder holds no tree)
    "work tree being made": lambda repo: any((w / f"tree-{w.name}").exists() for w in _work(repo)),
    "work tree made": lambda repo: any(
        (w / f"tree-{w.name}" / "archives" / "school.yml").exists() for w in _work(repo)
    ),
    "a branch made": lambda repo: bool(git(repo, "branch", "--list", "intake/*").strip()),
}


def _until_no_git_in(repo: Path) -> None:
    """A SIGKILL leaves git's own children (the checkout of ``git worktree add``) running for a
    moment; the cleanup rightly leaves a folder alone while a process works in it. Wait for
    them, as the next run a minute later would."""
    deadline = time.monotonic() + 30
    while any(gitmod.busy(w) for w in _work(repo)):
        assert time.monotonic() < deadline, "a git process still works in a killed run's folder"
        time.sleep(0.01)


def _branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--list", "intake/*", "--format=%(refname:short)").split()


def _taken_once(repo: Path) -> None:
    """Every file of the inbox is on exactly one intake branch, each with its own commit. A file
    whose branch was made just before the kill is refused the next time as taken in before,
    naming that branch: nothing is lost, nothing is taken twice."""
    inbox = repo.parent / "inbox"
    assert sorted(p.name for p in inbox.glob("*.yidang")) == []
    branches = _branches(repo)
    for reason in (inbox / "rejected").glob("*.reason.txt") if (inbox / "rejected").exists() else []:
        said = reason.read_text(encoding="utf-8")
        assert said.startswith("重复:这份提交") and any(b in said for b in branches), said
    bodies = []
    for branch in branches:
        assert git(repo, "rev-list", "--count", f"main..{branch}").strip() == "1"  # a commit of its own
        record = git(repo, "diff", "--name-only", "main", branch).split()[0]
        bodies.append(git(repo, "show", f"{branch}:{record}").rsplit("---", 1)[1].strip())
    assert sorted(bodies) == sorted(f"第 {n} 次谈话。" for n in range(FILES))


def _nothing_left(repo: Path, tmp: Path) -> None:
    assert _work(repo) == []
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    assert list(tmp.iterdir()) == []  # no plaintext in the run's temporary folder either


@pytest.mark.parametrize("point", POINTS)
def test_an_intake_killed_leaves_nothing_the_next_run_does_not_clear(
    repo: Path, run, tmp_path: Path, point: str
) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _start(repo, tmp)
    seen = seen_while_running(proc, lambda: POINTS[point](repo))
    proc.kill()
    proc.wait()
    assert seen and proc.returncode == -signal.SIGKILL, f"the run ended before {point}"
    _until_no_git_in(repo)
    os.environ["YIDANG_INTAKE_PASSPHRASE"] = INTAKE_PASSPHRASE
    again = run("intake", repo.parent / "inbox", "--archive", repo / "archives")
    assert "Traceback" not in again.output  # exit 1 when a file taken in just before the kill comes again
    assert again.exit_code == (1 if (repo.parent / "inbox" / "rejected").exists() else 0), again.output
    _nothing_left(repo, tmp)
    _taken_once(repo)


def test_sigterm_while_the_work_tree_is_made_cleans_up_at_once(repo: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _start(repo, tmp)
    assert seen_while_running(proc, lambda: POINTS["work tree being made"](repo))  # the base's, made first
    proc.terminate()
    proc.wait()
    assert proc.returncode != 0
    _nothing_left(repo, tmp)  # before any other run
    for branch in _branches(repo):  # any branch made has its commit
        assert git(repo, "rev-list", "--count", f"main..{branch}").strip() == "1"


def test_a_build_clears_what_a_killed_intake_left(repo: Path, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _start(repo, tmp)
    assert seen_while_running(proc, lambda: POINTS["work tree made"](repo))
    proc.kill()
    proc.wait()
    assert _work(repo) != []  # the plaintext work tree is there ...
    _until_no_git_in(repo)
    config = write_config(tmp_path, repo / "archives")
    built = run(
        "build", "--config", config, "--no-booklets", "--unprotected", "--site-dir", tmp_path / "site"
    )
    assert built.exit_code == 0, built.output
    assert _work(repo) == []  # ... until the next build
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    shutil.rmtree(tmp_path / "site")
