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
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.build.publish import build_lock
from generator.cli import main

from .conftest import SAMPLE
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


def test_a_build_killed_at_any_point_leaves_a_complete_site(project: Path) -> None:
    """Builds killed with SIGKILL after computed delays. The sleep below is the kill's
    timing, not a wait for something to happen: no condition marks "mid-flight", and the
    delays are fractions of a build timed on this machine, so they track its speed."""
    site = project.parent / "site"
    talk = project.parent / "archives" / TALK
    killed = 0
    # Each kind of build is timed once here, then killed at fractions of that time: full
    # builds (cache removed) from early to late, incremental ones too. Fixed delays went
    # stale as builds got faster.
    lasts = {full: _timed_build(project, full) for full in (True, False)}
    published = _everything(site)
    plan = [(True, f) for f in (0.06, 0.25, 0.45, 0.65, 0.8)] + [(False, f) for f in (0.1, 0.3, 0.5, 0.7)]
    for n, (full, fraction) in enumerate(plan):
        delay = lasts[full] * fraction
        talk.write_text(talk.read_text(encoding="utf-8") + f"\n第{n}次补写。\n", encoding="utf-8")
        if full:
            shutil.rmtree(project.parent / ".cache", ignore_errors=True)
        proc = subprocess.Popen(
            _command(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the build and its workers, mid-flight
            killed += 1
        proc.wait()
        now = _everything(site)  # every blob of every listed route is there and decrypts
        if proc.returncode != 0:  # killed: the old site, or the new one if it was already swapped in
            done = f"第{n}次补写。" in now["students/S2025007/"][2]["h"]
            assert done or now == published, f"attempt {n}, killed after {delay:.2f} s: a mixed site"
        published = now
    assert killed >= 7  # nearly every attempt was really cut short
    result = subprocess.run(_command(project), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert _leftovers(project.parent) == []  # the killed builds' temporary folders are gone
    assert "第8次补写。" in _everything(site)["students/S2025007/"][2]["h"]


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
