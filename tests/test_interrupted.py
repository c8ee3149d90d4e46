"""Interrupted and concurrent builds: the published site is always complete.

A build killed with SIGKILL at many points leaves the previous site readable
by every reader; two builds of one site at once are refused with a message;
a full disk fails the build and leaves the old site in place.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.build.publish import build_lock
from generator.cli import main

from .conftest import SAMPLE, seen_while_running
from .site_reader import login
from .test_protect import CREDS
from .test_site import write_config

YIDANG = str(Path(sys.executable).parent / "yidang")
TALK = "students/S2025007/records/2026-03-06-talk.md"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE, tmp_path / "archives")
    config = write_config(tmp_path, tmp_path / "archives", protect=True)
    result = CliRunner().invoke(
        main, ["build", "--config", str(config), "--no-booklets", "--site-dir", str(tmp_path / "site")]
    )
    assert result.exit_code == 0, result.output
    return config


def _command(config: Path) -> list[str]:
    return [
        YIDANG,
        "build",
        "--config",
        str(config),
        "--no-booklets",
        "--site-dir",
        str(config.parent / "site"),
    ]


def _timed_build(config: Path, full: bool) -> float:
    """Seconds one build takes here (full: without the build cache), run to the end."""
    if full:
        shutil.rmtree(config.parent / ".cache", ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(_command(config), check=True, capture_output=True)
    return time.perf_counter() - start


def _everything(site: Path) -> dict:
    return login(site, "T001", CREDS["T001"]).everything()


def _leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith(".site.") and not p.name.endswith(".lock")
    )


def _stages(site: Path, tmp: Path, pid: int) -> dict[str, Callable[[], bool]]:
    """What a build leaves visible at its stages (found by watching, not by timing): its
    plaintext folder made, pages rendered into it, the new site's folder made, keyrings
    written there, the login shell written (just before the audit and the swap)."""
    new = site.parent / f".{site.name}.protect-{pid}"

    def plain(least: int) -> Callable[[], bool]:
        return lambda: any(len(list(p.rglob("*"))) >= least for p in tmp.glob(f"yidang-plain-{pid}-*"))

    return {
        "plaintext made": plain(0),
        "pages rendered": plain(40),
        "new site made": new.exists,
        "keyrings written": lambda: (new / "k").is_dir() and any((new / "k").iterdir()),
        "shell written": (new / "index.html").exists,
    }


def test_a_build_killed_at_any_point_leaves_a_complete_site(project: Path, tmp_path: Path) -> None:
    """Builds, full (no cache) and incremental, killed with SIGKILL (the build and its workers)
    at each stage, found by watching for what the stage leaves: the published site is always
    complete — the old one, or the new one if it was already swapped in — and the next build
    clears what the killed ones left."""
    site = project.parent / "site"
    talk = project.parent / "archives" / TALK
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    published = _everything(site)
    n = 0
    for full in (True, False):
        # an incremental build of one changed record renders no plaintext pages of MkDocs'
        stages = [s for s in _stages(site, tmp, 0) if full or not s.startswith(("plaintext", "pages"))]
        for stage in stages:
            talk.write_text(talk.read_text(encoding="utf-8") + f"\n第{n}次补写。\n", encoding="utf-8")
            if full:
                shutil.rmtree(project.parent / ".cache", ignore_errors=True)
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            proc = subprocess.Popen(_command(project), start_new_session=True, env=env, **quiet)
            seen = seen_while_running(proc, _stages(site, tmp, proc.pid)[stage])
            if seen:
                os.killpg(proc.pid, signal.SIGKILL)  # the build and its workers, mid-flight
            proc.wait()
            assert seen and proc.returncode == -signal.SIGKILL, (
                f"{stage} ({'full' if full else 'incremental'}): ended first"
            )
            now = _everything(site)  # every blob of every listed route is there and decrypts
            done = f"第{n}次补写。" in now["students/S2025007/"][2]["h"]
            assert done or now == published, f"killed at {stage}: a mixed site"
            published, n = now, n + 1
    result = subprocess.run(_command(project), capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert _leftovers(project.parent) == []  # the killed builds' temporary folders are gone
    assert list(tmp.iterdir()) == []  # and their plaintext
    assert f"第{n - 1}次补写。" in _everything(site)["students/S2025007/"][2]["h"]


KILLED_WHILE_MOVING = """
import os, sys
from generator.build import publish
moved = []
def move(src, dest):
    if len(moved) == 3:
        os._exit(137)  # as a SIGKILL ends it: no cleaning up, no exception
    moved.append(dest)
    os.rename(src, dest)
publish._move = move
from generator.cli import main
main(sys.argv[1:])
"""


def test_a_rebuild_killed_while_moving_its_blobs_in_leaves_the_old_site(project: Path) -> None:
    """A rebuild moves its new blobs and keyrings into the published site, then replaces the
    login page: killed after the third file moved in, every reader still gets the old site
    whole; the next build publishes the change and removes what the killed one left."""
    site = project.parent / "site"
    published = _everything(site)
    before = {p.relative_to(site) for p in site.rglob("*") if p.is_file()}
    talk = project.parent / "archives" / TALK
    talk.write_text(talk.read_text(encoding="utf-8") + "\n搬入时中断的一句。\n", encoding="utf-8")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_MOVING, *_command(project)[1:]], capture_output=True, text=True
    )
    assert killed.returncode == 137, killed.stderr
    left = {p.relative_to(site) for p in site.rglob("*") if p.is_file()} - before
    assert len(left) == 3  # moved in, and named by nothing published
    assert _everything(site) == published
    result = subprocess.run(_command(project), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    after = {p.relative_to(site) for p in site.rglob("*") if p.is_file()}
    assert not left & after and len(after) == len(before)
    assert "搬入时中断的一句。" in _everything(site)["students/S2025007/"][2]["h"]
    assert _leftovers(project.parent) == []


def test_two_builds_at_once_are_refused(project: Path) -> None:
    site = project.parent / "site"
    with build_lock(site.resolve()):
        result = subprocess.run(_command(project), capture_output=True, text=True)
    assert result.returncode == 1
    assert f"another build of {site.resolve()} is running (pid {os.getpid()}); wait for it to finish" in (
        result.stdout + result.stderr
    )


def test_a_full_disk_leaves_the_old_site(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = project.parent / "site"
    before = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    talk = project.parent / "archives" / TALK
    talk.write_text(talk.read_text(encoding="utf-8") + "\n磁盘满时写的一句。\n", encoding="utf-8")
    from generator.protect import seal as protect

    def full(self, folder: str, name: str, payload: str) -> Path:  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.out / folder / f"{name}.js"))

    monkeypatch.setattr(protect.Publisher, "_write", full)
    result = CliRunner().invoke(main, _command(project)[1:])
    assert result.exit_code == 1
    assert "the disk is full" in result.output and "the previous site is unchanged" in result.output
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert _leftovers(project.parent) == []


def test_a_build_stopped_by_sigterm_removes_its_plaintext(project: Path) -> None:
    """A protected build keeps MkDocs' plaintext pages in a private temporary folder until
    they are sealed; SIGTERM (a service manager, a CI timeout) stops it as Ctrl-C does."""
    scratch = project.parent / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    shutil.rmtree(project.parent / ".cache", ignore_errors=True)  # a full build: pages take a while
    published = _everything(project.parent / "site")
    proc = subprocess.Popen(_command(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    while not any(scratch.glob("yidang-plain-*")) and proc.poll() is None:
        assert time.monotonic() < deadline, "the plaintext folder never appeared"
        time.sleep(0.01)
    proc.terminate()
    assert proc.wait(timeout=30) != 0  # stopped, not finished
    assert list(scratch.iterdir()) == []
    assert _everything(project.parent / "site") == published


def test_plaintext_left_by_a_killed_build_is_removed_by_the_next(project: Path) -> None:
    scratch = project.parent / "tmp"
    scratch.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that no longer runs
    stale = scratch / f"yidang-plain-{gone.pid}-abc123"
    (stale / "students" / "S2025007").mkdir(parents=True)
    (stale / "students" / "S2025007" / "index.html").write_text("明文", encoding="utf-8")
    alive = scratch / f"yidang-plain-{os.getpid()}-def456"  # a build still running: kept
    alive.mkdir()
    result = subprocess.run(
        _command(project), capture_output=True, text=True, env={**os.environ, "TMPDIR": str(scratch)}
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in scratch.iterdir()) == [alive.name]
