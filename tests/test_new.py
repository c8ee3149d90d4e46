"""`yidang new`: the right file, the required fields filled in, prompts reported, nothing overwritten."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.archive.schema import RECORD_KINDS

from .conftest import SAMPLE


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    dest = tmp_path / "archives"
    shutil.copytree(SAMPLE, dest)
    return dest


@pytest.mark.parametrize("kind", list(RECORD_KINDS))  # activity and aid: from the declaration alone
def test_new_record_is_valid_with_prompts_reported(archive: Path, run, kind: str) -> None:
    result = run("new", kind, "S2025008", "--date", "2026-11-28", "--archive", archive)
    assert result.exit_code == 0, result.output
    path = archive / f"students/S2025008/records/2026-11-28-{kind}.md"
    text = path.read_text(encoding="utf-8")
    assert "date: 2026-11-28" in text
    assert "by: T009" in text  # S2025008's mentor since 2026-10-15 (T010 before)
    checked = run("check", archive, "--as-of", "2026-11-28")
    assert checked.exit_code == 0  # valid; the prompts are warnings
    rel = f"students/S2025008/records/2026-11-28-{kind}.md"
    assert f"{rel}:" in checked.output and "still the template's prompt" in checked.output
    if kind == "evaluation":
        assert "term: 2026-fall" in text
    assert run("check", archive, "--as-of", "2026-11-28", "--strict").exit_code == 1


def test_mentor_on_the_day_and_explicit_teacher(archive: Path, run) -> None:
    assert run("new", "talk", "S2025008", "--date", "2026-10-01", "--archive", archive).exit_code == 0
    assert "by: T010" in (archive / "students/S2025008/records/2026-10-01-talk.md").read_text(
        encoding="utf-8"
    )
    run("new", "talk", "S2025008", "--date", "2026-10-01", "--by", "T004", "--archive", archive)
    second = archive / "students/S2025008/records/2026-10-01-talk-2.md"
    assert "by: T004" in second.read_text(encoding="utf-8")


def test_never_overwrites(archive: Path, run) -> None:
    plan = archive / "students/S2025008/plan.md"
    before = plan.read_bytes()
    result = run("new", "plan", "S2025008", "--archive", archive)
    assert result.exit_code == 1 and "never overwrites" in result.output
    assert plan.read_bytes() == before


def test_new_plan_and_bad_input(archive: Path, run) -> None:
    (archive / "students/S2025008/plan.md").unlink()
    assert run("new", "plan", "S2025008", "--date", "2026-11-28", "--archive", archive).exit_code == 0
    assert "term: 2026-fall" in (archive / "students/S2025008/plan.md").read_text(encoding="utf-8")
    assert run("check", archive, "--as-of", "2026-11-28").exit_code == 0
    assert run("new", "talk", "S9999999", "--archive", archive).exit_code == 2
    assert run("new", "talk", "S2025008", "--by", "T999", "--archive", archive).exit_code == 2
    assert run("new", "letter", "S2025008", "--archive", archive).exit_code == 2
