"""``yidang check`` keeps each student's verdict by the content of their files: after one change
it reads one folder. What it reports must be exactly what a check from nothing reports, after
every kind of change: a record edited, added or removed; a profile's mentor changed; a teacher
removed from teachers.yml; school.yml's rules changed; a group record changed."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.core import cache

from .conftest import AS_OF, SAMPLE

STUDENT = "S2025007"  # mentored by T015


def _checked(run: Callable[..., Any], root: Path, *flags: str) -> tuple[int, list[dict[str, Any]]]:
    out = run("check", root, "--as-of", AS_OF, "--format", "json", *flags)
    data = json.loads(out.output)
    return out.exit_code, data["problems"]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _records(root: Path) -> Path:
    return root / "students" / STUDENT / "records"


def _edit_record(root: Path) -> None:
    record = sorted(_records(root).glob("*-talk.md"))[0]
    _edit(record, "mode: ", "mode: by_pigeon\nmood_x: ")  # a bad value and an unknown field


def _add_record(root: Path) -> None:
    (_records(root) / "2026-11-26-talk.md").write_text(
        "---\ntype: talk\ndate: 2026-11-26\nby: T099\nmode: phone\ntopic: 期末\n---\n\n电话。\n",
        encoding="utf-8",
    )


def _remove_record(root: Path) -> None:
    sorted(_records(root).glob("*-home_visit.md"))[-1].unlink()


def _change_mentor(root: Path) -> None:
    _edit(root / "students" / STUDENT / "profile.yml", "teacher: T015", "teacher: T098")  # no such teacher


def _remove_teacher(root: Path) -> None:
    teachers = yaml.safe_load((root / "teachers.yml").read_text(encoding="utf-8"))
    kept = [t for t in teachers if t["id"] != "T015"]
    (root / "teachers.yml").write_text(yaml.safe_dump(kept, allow_unicode=True), encoding="utf-8")


def _change_rules(root: Path) -> None:
    school = yaml.safe_load((root / "school.yml").read_text(encoding="utf-8"))
    for category in school["categories"].values():
        category.setdefault("rules", {})["talk"] = "week"
    (root / "school.yml").write_text(yaml.safe_dump(school, allow_unicode=True), encoding="utf-8")


def _change_group(root: Path) -> None:
    _edit(root / "activities" / "2026-11-20-gratitude.md", "S2025004]", "S2025004, S2024007]")


CHANGES = {
    "record edited": _edit_record,
    "record added": _add_record,
    "record removed": _remove_record,
    "mentor changed": _change_mentor,
    "teacher removed": _remove_teacher,
    "rules changed": _change_rules,
    "group changed": _change_group,
}


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.mark.parametrize("children", [False, True], ids=["stat-here", "stat-and-hash-in-children"])
def test_an_incremental_check_says_what_a_full_check_says(
    run: Callable[..., Any], tmp_path: Path, cache_home: Path, children: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From 200 students on (``PARALLEL_STATS``), child processes stat each folder and, on a
    first check, hash its files: lowered to 1 here, the sample takes that way too."""
    if children:
        monkeypatch.setattr(cache, "PARALLEL_STATS", 1)
    root = tmp_path / "archive"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("access"))
    jobs = ("--jobs", "2")
    assert _checked(run, root, *jobs) == _checked(run, root, "--no-cache")  # the first, filling the cache
    before = _checked(run, root, *jobs)
    for name, change in CHANGES.items():
        change(root)
        incremental, full = _checked(run, root, *jobs), _checked(run, root, "--no-cache")
        assert incremental == full, name
        assert incremental != before, f"{name}: the change was not seen at all"
        before = incremental
    assert (cache_home / "yidang" / "check").stat().st_mode & 0o077 == 0  # the verdicts are private


def test_a_first_read_hashes_new_folders_in_the_children_as_the_parent_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first build or check hashes every file of every folder: in the child processes that
    stat them (the parent hashing 150,000 files held the workers back). The keys are the
    ones the parent makes, so the next run finds the entries."""
    monkeypatch.setattr(cache, "PARALLEL_STATS", 1)
    folders = sorted(p.name for p in (SAMPLE / "students").iterdir() if p.is_dir())
    made = {}
    for children in (True, False):
        store = cache.Store(tmp_path / f"store-{children}", key=bytes(32))
        student_cache = cache.StudentCache(store, "key")
        if children:
            student_cache.prefetch(SAMPLE, folders, 2)  # the children are forked here
        here: list[str] = []
        hash_folder = cache.hash_folder
        monkeypatch.setattr(
            cache, "hash_folder", lambda *a, here=here, real=hash_folder: here.append(a[0]) or real(*a)
        )
        assert student_cache.lookup_all(SAMPLE, folders, "context") == {}  # nothing kept yet
        made[children] = {f: key for f, (key, _) in student_cache._pending_save.items()}
        assert len(here) == (0 if children else len(folders))  # which process hashed
        monkeypatch.setattr(cache, "hash_folder", hash_folder)
    assert made[True] == made[False] and len(made[True]) == len(folders)
