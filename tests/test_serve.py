"""`yidang serve`: a local preview on 127.0.0.1 that says it is unprotected."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .test_site import write_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode("utf-8")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_serve_previews_on_localhost_with_a_banner(tiny: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, tiny)
    port = _free_port()
    yidang = Path(sys.executable).parent / "yidang"
    scratch = tmp_path / "tmp"  # where MkDocs keeps the preview's plaintext pages
    scratch.mkdir()
    proc = subprocess.Popen(
        [str(yidang), "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    try:
        html = _get(f"http://127.0.0.1:{port}/students/S1/", time.monotonic() + 60)
        assert "测试学生" in html
        assert "本地预览,未加密保护" in html
        listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
        local_addresses = [line.split()[3] for line in listening.splitlines()]
        assert local_addresses == [f"127.0.0.1:{port}"]
        assert any(scratch.glob("yidang-plain-*/mkdocs_*/students/S1/index.html"))  # in the scratch folder
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert list(scratch.iterdir()) == []  # stopped by SIGTERM, it removed them


def test_killed_preview_is_removed_by_the_next_build(tiny: Path, tmp_path: Path) -> None:
    """kill -9 leaves no chance to clean up: the preview's plaintext pages sit in a folder
    named with the dead process's id, which the next build removes."""
    config = write_config(tmp_path, tiny)
    port = _free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    yidang = Path(sys.executable).parent / "yidang"
    proc = subprocess.Popen(
        [str(yidang), "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        _get(f"http://127.0.0.1:{port}/students/S1/", time.monotonic() + 60)
        pages = list(scratch.glob(f"yidang-plain-{proc.pid}-*/mkdocs_*/students/S1/index.html"))
        assert pages, sorted(p.name for p in scratch.iterdir())
    finally:
        proc.kill()
        proc.wait(timeout=20)
    assert pages[0].is_file()  # left behind
    build = subprocess.run(
        [str(yidang), "build", "--config", str(config), "--no-booklets"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert build.returncode == 0, build.stderr
    assert list(scratch.iterdir()) == []
