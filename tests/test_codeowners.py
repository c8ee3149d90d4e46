"""CODEOWNERS in both flavours, checked by matching sample paths with each flavour's
own rules (GitHub: gitignore wildmatch, last match wins; Gitea: Go regular
expressions), against owners worked out here from the YAML files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pathspec import GitIgnoreSpec

from .conftest import SAMPLE
from .site_helpers import active, current, read_facts
from .test_site import DAY

PATHS = [
    "students/S2025003/records/2026-09-08-talk.md",
    "students/S2025008/profile.yml",
    "students/S2024002/photos/2026-05-20-活动.jpg",
    "school.yml",
    "teachers.yml",
    "access/T008.json",
]


def _expected(path: str) -> set[str]:
    facts = read_facts(SAMPLE)
    users = {t["id"]: t.get("git_user") for t in facts.teachers}
    leaders = {f"@{users[r['teacher']]}" for r in facts.school["leadership"]}
    if not path.startswith("students/"):
        return leaders
    p = facts.profiles[path.split("/")[1]]
    head = next(c["head_teacher"] for c in facts.classes if c["id"] == p["class"])
    ids = [m["teacher"] for m in p["mentors"] if current(m, DAY)] + [head]
    assert active(p)
    return {f"@{users[t]}" for t in ids}


def _rules(text: str) -> list[tuple[str, list[str]]]:
    return [
        (line.split()[0], line.split()[1:])
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    ]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository whose archive lives in archives/, as in this project."""
    shutil.copytree(SAMPLE, tmp_path / "archives")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_github_flavour(repo: Path, run) -> None:
    assert run("codeowners", "--archive", repo / "archives").exit_code == 0
    rules = _rules((repo / "CODEOWNERS").read_text(encoding="utf-8"))
    for path in PATHS:
        full = f"archives/{path}"
        matching = [
            owners for pattern, owners in rules if GitIgnoreSpec.from_lines([pattern]).match_file(full)
        ]
        assert matching, path
        assert set(matching[-1]) == _expected(path), path  # GitHub: the last match wins


def test_gitea_flavour(repo: Path, run) -> None:
    assert run("codeowners", "--flavor", "gitea", "--archive", repo / "archives").exit_code == 0
    rules = _rules((repo / "CODEOWNERS").read_text(encoding="utf-8"))
    for path in PATHS:
        full = f"archives/{path}"
        matching = [owners for pattern, owners in rules if re.search(pattern, full)]
        assert len(matching) == 1, (path, matching)  # no overlap: any Gitea semantics agree
        assert set(matching[0]) == _expected(path), path
    assert not any(
        re.search(p, "archives/students/S2025003x/profile.yml") for p, _ in rules if "S2025003" in p
    )


def test_check_warns_when_codeowners_is_out_of_date(repo: Path, run) -> None:
    archive = repo / "archives"
    run("codeowners", "--archive", archive)
    assert "CODEOWNERS" not in run("check", archive, "--as-of", "2026-11-28").output
    profile = archive / "students/S2025003/profile.yml"
    data = profile.read_text(encoding="utf-8").replace("teacher: T008", "teacher: T015")
    profile.write_text(data, encoding="utf-8")
    result = run("check", archive, "--as-of", "2026-11-28")
    assert (
        "../CODEOWNERS:1:1: warning: CODEOWNERS is out of date (mentors or classes changed); "
        "run `yidang codeowners --flavor github`"
    ) in result.output
    assert yaml.safe_load(profile.read_text(encoding="utf-8"))["mentors"][0]["teacher"] == "T015"


def test_check_with_codeowners_reads_each_file_once(repo: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    """Comparing CODEOWNERS needs the archive's model; check builds it from its one read
    of the archive instead of reading all 150,000 files a second time."""
    from collections import Counter

    from generator.archive import load

    archive = repo / "archives"
    run("codeowners", "--archive", archive)
    reads: Counter[str] = Counter()
    real = load.read_bytes

    def counted(path, limit=load.MAX_TEXT_BYTES):  # type: ignore[no-untyped-def]
        reads[str(path)] += 1
        return real(path, limit)

    monkeypatch.setattr(load, "read_bytes", counted)
    result = run("check", archive, "--as-of", "2026-11-28", "--jobs", "1")
    assert result.exit_code == 0, result.output
    records = sorted(str(p) for p in archive.glob("students/*/records/*.md"))
    assert len(records) > 100
    assert [reads[r] for r in records] == [1] * len(records)
