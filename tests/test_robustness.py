"""Bad input never gives a traceback: every truncation of every file of the tiny
archive, and files of the wrong shape, end in exit 0 or 1 with located lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

LINE = re.compile(r"^[^:]+:\d+:\d+: (error|warning): .+$")


def _assert_clean_report(result) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code in (0, 1), result.output
    *lines, summary = result.output.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert summary.endswith("warning(s)")


def test_every_truncation_of_every_file(tiny: Path, run) -> None:
    files = sorted(p for p in tiny.rglob("*") if p.is_file())
    for path in files:
        original = path.read_text(encoding="utf-8")
        for cut in range(0, len(original), 7):
            path.write_text(original[:cut], encoding="utf-8")
            _assert_clean_report(run("check", tiny))
        path.write_text(original, encoding="utf-8")


@pytest.mark.parametrize(
    "content", ["", "- a\n- b\n", "just text\n", "42\n", "{a: [}\n", "a: !!binary 'xx'\n", "a: &x [*x]\n"]
)
@pytest.mark.parametrize("rel", ["school.yml", "teachers.yml", "classes.yml", "students/S1/profile.yml"])
def test_files_of_the_wrong_shape(tiny: Path, run, rel: str, content: str) -> None:
    (tiny / rel).write_text(content, encoding="utf-8")
    result = run("check", tiny)
    _assert_clean_report(result)
    assert result.exit_code == 1


def test_odd_things_in_folders(tiny: Path, run) -> None:
    (tiny / "students/S1/records/2026-03-06-talk.md").mkdir()
    (tiny / "students/S1/notes.txt").write_text("x", encoding="utf-8")
    (tiny / "students/S2").mkdir()
    _assert_clean_report(run("check", tiny))
