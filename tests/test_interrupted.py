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

from generator.cli import main
from generator.publish import build_lock

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
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--no-booklets",
                                       "--site-dir", str(tmp_path / "site")])  # fmt: skip
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


def _everything(site: Path) -> dict:
    return login(site, "T001", CREDS["T001"]).everything()


def _leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith(".site.") and not p.name.endswith(".lock")
    )


def test_a_build_killed_at_any_point_leaves_a_complete_site(project: Path) -> None:
    site = project.parent / "site"
    before = _everything(site)
    talk = project.parent / "archives" / TALK
    talk.write_text(talk.read_text(encoding="utf-8") + "\n被中断的构建之后补写的一句。\n", encoding="utf-8")
    killed = 0
    for delay in (0.2, 0.5, 0.9, 1.4, 2.0, 2.7, 3.5, 4.5):
        proc = subprocess.Popen(_command(project), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the build and its workers, mid-flight
            killed += 1
        proc.wait()
        now = _everything(site)  # every blob of every listed route is there and decrypts
        assert now.keys() == before.keys()
        if proc.returncode != 0:
            assert now == before, f"killed after {delay} s: the old site changed"
    assert killed >= 5  # most attempts were really cut short
    result = subprocess.run(_command(project), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert _leftovers(project.parent) == []  # the killed builds' temporary folders are gone
    assert "被中断的构建之后补写的一句。" in _everything(site)["students/S2025007/"][2]["h"]


def test_two_builds_at_once_are_refused(project: Path) -> None:
    site = project.parent / "site"
    with build_lock(site.resolve()):
        result = subprocess.run(_command(project), capture_output=True, text=True)
    assert result.returncode == 1
    assert f"another build of {site.resolve()} is running (pid {os.getpid()}); wait for it to finish" in (
        result.stdout + result.stderr)  # fmt: skip


def test_a_full_disk_leaves_the_old_site(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = project.parent / "site"
    before = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    talk = project.parent / "archives" / TALK
    talk.write_text(talk.read_text(encoding="utf-8") + "\n磁盘满时写的一句。\n", encoding="utf-8")
    from generator import protect

    def full(self, folder: str, name: str, payload: str) -> Path:  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.out / folder / f"{name}.js"))

    monkeypatch.setattr(protect.Publisher, "_write", full)
    result = CliRunner().invoke(main, _command(project)[1:])
    assert result.exit_code == 1
    assert "the disk is full" in result.output and "the previous site is unchanged" in result.output
    assert {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()} == before
    assert _leftovers(project.parent) == []
