"""The school year: `yidang rollover` on a git repository of the sample archive, from
2026—2027 to 2027—2028; every bad input refused with nothing changed."""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import SAMPLE

ENV = {
    "GIT_AUTHOR_NAME": "教务处",
    "GIT_AUTHOR_EMAIL": "office@school.test",
    "GIT_COMMITTER_NAME": "教务处",
    "GIT_COMMITTER_EMAIL": "office@school.test",
}
LAST_DAY = "2027-07-03"  # the end of 2026—2027's last term, from school.yml's term template


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env={**os.environ, **ENV}
    ).stdout


def _repo(base: Path) -> Path:
    repo = base / "school"
    shutil.copytree(SAMPLE, repo / "archives")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "archive")
    return repo


def _profiles(archive: Path) -> dict[str, dict]:
    return {
        p.parent.name: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted((archive / "students").glob("*/profile.yml"))
    }


def said_in_chinese_first(output: str) -> bool:
    """The command's error reads Chinese first (for the office), then English: 「错误 / error:
    中文说明 / English」."""
    line = next(line for line in output.splitlines() if line.startswith("错误 / error: "))
    chinese = line.removeprefix("错误 / error: ").split(" / ")[0]
    return any("\u4e00" <= ch <= "\u9fff" for ch in chinese)


def _state(repo: Path) -> tuple[str, str, str]:
    """Branches, HEAD and the working tree's status: what a refused command must leave alone."""
    return git(repo, "branch", "--list"), git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")


@pytest.fixture(scope="module")
def rolled(tmp_path_factory: pytest.TempPathFactory, run) -> tuple[Path, dict, dict, str]:  # type: ignore[no-untyped-def]
    """The sample repository after `yidang rollover --to 2027`, checked out on the new branch;
    the profiles before and after, and what the command printed."""
    repo = _repo(tmp_path_factory.mktemp("year"))
    before = _profiles(repo / "archives")
    result = run("rollover", "--to", "2027—2028", "--archive", repo / "archives")
    assert result.exit_code == 0, result.output
    assert git(repo, "status", "--porcelain") == ""  # the office's checkout untouched
    git(repo, "checkout", "-q", "rollover/2027")
    return repo, before, _profiles(repo / "archives"), result.output


def test_every_student_is_where_the_rules_say(rolled) -> None:  # type: ignore[no-untyped-def]
    repo, before, after, _ = rolled
    assert set(after) == set(before)
    classes = {c["id"]: c for c in yaml.safe_load((repo / "archives/classes.yml").read_text("utf-8"))}
    for sid, old in before.items():
        new = after[sid]
        grade, number = old["class"].split("-")
        expected = {"G1": f"G2-{number}", "G2": f"G3-{number}", "G3": f"G3-{number}-2027"}[grade]
        assert new["class"] == expected, sid
        assert classes[expected]["head_teacher"] == _head_teacher(old["class"]), sid
    assert classes["G2-03"]["name"] == "高二(3)班" and classes["G2-03"]["grade"] == "高二"
    assert classes["G3-01-2027"]["name"] == "高三(1)班(2027届)"
    assert len(classes) == 9  # nine classes before, nine after: none lost, none made up


def _head_teacher(class_id: str) -> str:
    rows = yaml.safe_load((SAMPLE / "classes.yml").read_text("utf-8"))
    return next(c["head_teacher"] for c in rows if c["id"] == class_id)


def test_graduates_are_closed_and_nothing_else_changed(rolled) -> None:  # type: ignore[no-untyped-def]
    _, before, after, _ = rolled
    graduates = [s for s, p in before.items() if p["class"].startswith("G3-") and p.get("status") != "closed"]
    assert len(graduates) == 9
    for sid, old in before.items():
        new = dict(after[sid])
        if sid in graduates:
            assert (new.pop("status"), str(new.pop("closed_on")), new.pop("closed_reason")) == (
                "closed",
                LAST_DAY,
                "毕业(2027届)",
            )
            for m_old, m_new in zip(old["mentors"], new["mentors"], strict=True):
                assert str(m_new.get("until")) == str(m_old.get("until") or LAST_DAY), sid
            old, new = _without(old, "mentors"), _without(new, "mentors")
        assert _without(new, "class") == _without(old, "class"), sid  # nothing else changed


def _without(profile: dict, key: str) -> dict:
    return {k: v for k, v in profile.items() if k != key}


def test_only_profiles_classes_and_terms_changed(rolled) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, _ = rolled
    changed = git(repo, "diff", "--name-only", "main", "rollover/2027").split()
    assert all(
        p.endswith("/profile.yml") or p in {"archives/classes.yml", "archives/school.yml"} for p in changed
    )
    school = yaml.safe_load((repo / "archives/school.yml").read_text("utf-8"))
    terms = {t["id"]: (str(t["start"]), str(t["end"])) for t in school["terms"]}
    assert terms["2027-spring"] == ("2027-02-23", LAST_DAY)
    assert terms["2027-fall"] == ("2027-09-01", "2028-01-15") and "2028-spring" in terms
    assert school["rollover"]["done"] == [2027]
    # records are never touched: a student's history stays exactly as written
    assert not [p for p in changed if "/records/" in p]


def test_check_is_clean_and_the_site_builds(rolled, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, _ = rolled
    checked = run("check", repo / "archives", "--as-of", "2026-11-30")
    assert checked.exit_code == 0 and " 0 error(s)" in checked.output, checked.output
    shutil.copy(SAMPLE.parent / "site_templates/init/mkdocs.yml", repo / "mkdocs.yml")
    (repo / "site_docs").mkdir(exist_ok=True)
    built = run("build", "--config", repo / "mkdocs.yml", "--site-dir", tmp_path / "site", "--no-booklets")
    assert built.exit_code == 0, built.output
    assert (tmp_path / "site/index.html").is_file()


def _graduates(rolled) -> set[str]:  # type: ignore[no-untyped-def]
    _, before, after, _ = rolled
    return {
        s for s, p in after.items() if p.get("status") == "closed" and before[s].get("status") != "closed"
    }


def test_ended_cases_are_counted_and_shown_where_the_rules_say(rolled, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """In the new school year: the class list puts the graduated classes under their 届, the
    home page counts them as closed, only leadership may read them, and the ledger has them in
    the term they closed in, not in the next."""
    from generator.archive.read import read_archive
    from generator.protect import access

    from .site_helpers import soup
    from .test_site import write_config

    repo, _, after, _ = rolled
    graduates, day = _graduates(rolled), "2027-09-10"
    config = write_config(tmp_path, repo / "archives", as_of=day)
    assert run("build", "--config", config, "--site-dir", tmp_path / "site", "--no-booklets").exit_code == 0
    classes = soup(tmp_path / "site", "classes")
    listed = {tr["data-class"] for tr in classes.select('[data-list="graduated-2027"] tr[data-class]')}
    assert listed == {"G3-01-2027", "G3-02-2027", "G3-05-2027"} and "2027届(已毕业)" in classes.text
    in_grades = {tr["data-class"] for tr in classes.select('[data-list^="classes-"] tr[data-class]')}
    assert not in_grades & listed
    home = soup(tmp_path / "site", "")
    active = sum(p.get("status", "active") == "active" for p in after.values())
    assert home.select_one('[data-count="active"]').text == str(active)
    assert home.select_one('[data-count="closed"]').text == str(len(after) - active)

    archive = read_archive(repo / "archives", as_of=dt.date.fromisoformat(day)).archive
    assert archive is not None
    readers = {t: access.rights(archive, t) for t in archive.teachers}
    for sid in graduates:
        allowed = {t for t, r in readers.items() if r.everything or sid in r.students}
        assert allowed == {"T001", "T002", "T003", "T004"}, sid  # leadership and the office only
    assert not readers["T011"].classes  # 高三(1)班's head teacher: the class has graduated

    ledgers = {}
    for term in ("2027-spring", "2027-fall"):
        out = tmp_path / f"{term}.csv"
        args = ("export", "ledger", "--format", "csv", "--term", term, "--out", out, "--as-of", day)
        assert run(*args, "--archive", repo / "archives").exit_code == 0
        ledgers[term] = {r[0]: r for r in csv.reader(out.open(encoding="utf-8-sig"))}
    assert all("已结案" in ledgers["2027-spring"][sid] for sid in graduates)
    assert not graduates & set(ledgers["2027-fall"])


def test_a_second_rollover_leaves_graduated_classes_alone(rolled, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "school"
    shutil.copytree(rolled[0], repo)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "rollover/2027")
    before = (repo / "archives/classes.yml").read_text("utf-8")
    result = run("rollover", "--to", "2028", "--archive", repo / "archives")
    assert result.exit_code == 0, result.output
    assert "G3-01-2027 →" not in result.output
    git(repo, "checkout", "-q", "rollover/2028")
    classes = {c["id"]: c for c in yaml.safe_load((repo / "archives/classes.yml").read_text("utf-8"))}
    for line in before.splitlines():
        if "graduated: 2027" in line:
            assert line in (repo / "archives/classes.yml").read_text("utf-8")  # as it was
    assert classes["G3-01-2028"]["graduated"] == 2028 and classes["G3-01-2028"]["head_teacher"] == "T008"
    assert {c for c in classes if c.endswith("-2027-2028")} == set()
    checked = run("check", repo / "archives", "--as-of", "2028-09-10")
    assert checked.exit_code == 0 and " 0 error(s)" in checked.output, checked.output


def test_an_open_case_in_a_graduated_class_is_an_error(rolled, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "archives"
    shutil.copytree(rolled[0] / "archives", archive)
    sid = sorted(_graduates(rolled))[0]
    profile = archive / "students" / sid / "profile.yml"
    text = profile.read_text("utf-8")
    profile.write_text(text.replace("status: closed", "status: active"), encoding="utf-8")
    checked = run("check", archive, "--as-of", "2027-09-10")
    assert checked.exit_code == 1
    assert f"students/{sid}/profile.yml:" in checked.output and "graduated in 2027" in checked.output


def test_the_plan_and_the_review_go_class_by_class(rolled, run) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, printed = rolled
    assert "G2-01 → G3-01 高三(1)班:4 名学生随班升级" in printed
    assert f"G3-01 → G3-01-2027 高三(1)班(2027届):毕业,3 名在帮学生于 {LAST_DAY} 结案" in printed
    assert "新增学期 2027-fall" in printed
    md = run("review", "--base", "main", "--head", "rollover/2027", "--archive", repo / "archives").output
    assert md.startswith("## yidang review:31 名学生的档案有改动")
    assert md.count("\n| G") == 9  # one table row per class move; the class the rules left alone...
    assert md.count("\n### S") == 1  # ...S2024007, closed long ago, only changes class: one student
    assert len(md.splitlines()) < 40


def test_already_rolled_over_is_refused(rolled, run) -> None:  # type: ignore[no-untyped-def]
    repo, _, _, _ = rolled
    state = _state(repo)
    result = run("rollover", "--to", "2027", "--base", "rollover/2027", "--archive", repo / "archives")
    assert result.exit_code == 2 and "already rolled over to 2027" in result.output
    assert _state(repo) == state


def test_dry_run_changes_nothing(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    repo = _repo(tmp_path)
    state = _state(repo)
    result = run("rollover", "--to", "2027", "--dry-run", "--archive", repo / "archives")
    said = "(试运行)rollover/2027:9 个案例结案 / rollover/2027: 9 cases closed"
    assert result.exit_code == 0 and said in result.output
    assert _state(repo) == state


@pytest.mark.parametrize(
    ("edit", "args", "message"),
    [
        (None, ("--to", "autumn"), "unknown term or school year 'autumn'"),
        (
            ("class_ids: {G1: G2, G2: G3}", "class_ids: {G1: G3, G2: G3}"),
            ("--to", "2027"),
            "the same id 'G3-01'",
        ),
        (("class_ids: {G1: G2, G2: G3}", "class_ids: {G1: G2}"), ("--to", "2027"), "no entry for 'G2'"),
        (("rollover:", "rollover_rules:"), ("--to", "2027"), "no `rollover:` rules"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(tmp_path: Path, run, edit, args, message) -> None:  # type: ignore[no-untyped-def]
    repo = _repo(tmp_path)
    if edit:
        school = repo / "archives/school.yml"
        school.write_text(school.read_text("utf-8").replace(*edit), encoding="utf-8")
        git(repo, "commit", "-qam", "rules")
    state = _state(repo)
    result = run("rollover", *args, "--archive", repo / "archives")
    assert result.exit_code == 2 and message in result.output, result.output
    assert said_in_chinese_first(result.output)
    assert _state(repo) == state


# --- retention --------------------------------------------------------------------

CLOSED = "S2024007"  # the sample's one closed case: closed on 2026-07-10


def _small_archive(dest: Path, years: int) -> Path:
    """The sample with three students (the closed case, a classmate, one more), and a
    retention period in school.yml."""
    archive = dest / "archives"
    shutil.copytree(SAMPLE, archive)
    for folder in (archive / "students").iterdir():
        if folder.name not in {CLOSED, "S2024008", "S2025001"}:
            shutil.rmtree(folder)
    shutil.rmtree(archive / "activities")  # its group lists students no longer here
    with (archive / "school.yml").open("a", encoding="utf-8") as f:
        f.write(f"retention: {{years: {years}}}\n")
    return archive


def _site_files(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_check_lists_files_past_retention(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = _small_archive(tmp_path, years=1)
    before = run("check", archive, "--as-of", "2027-07-10")
    assert before.exit_code == 0 and "已过保存期限" not in before.output
    after = run("check", archive, "--as-of", "2027-07-11")
    assert after.exit_code == 0, after.output
    flagged = [line for line in after.output.splitlines() if "已过保存期限" in line]
    assert len(flagged) == 1 and flagged[0].startswith(f"students/{CLOSED}/profile.yml:")
    assert "2026-07-10" in flagged[0] and "2027-07-10" in flagged[0]


def test_the_build_leaves_out_exactly_the_expired_files(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    from .test_site import write_config

    archive = _small_archive(tmp_path, years=1)
    sites = {}
    for day in ("2027-07-10", "2027-07-11"):
        config = write_config(tmp_path, archive, booklets=True, as_of=day, name=f"{day}.yml")
        built = run("build", "--config", config, "--site-dir", tmp_path / day)
        assert built.exit_code == 0, built.output
        sites[day] = _site_files(tmp_path / day)
    kept, cut = sites["2027-07-10"], sites["2027-07-11"]
    gone = set(kept) - set(cut)
    assert gone and all(CLOSED in path for path in gone), gone  # the page, the booklet, the photos
    assert any(path.endswith(".pdf") for path in gone) and set(cut) <= set(kept)
    name = yaml.safe_load((archive / f"students/{CLOSED}/profile.yml").read_text("utf-8"))["name"]
    assert not [p for p, data in cut.items() if CLOSED.encode() in data or name.encode() in data]
    assert [p for p, data in kept.items() if name.encode() in data]  # the test would see it


def test_a_file_past_retention_can_still_be_archived_as_a_booklet(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = _small_archive(tmp_path, years=1)
    args = (
        "booklets",
        "--archive",
        archive,
        "--student",
        CLOSED,
        "--jobs",
        "1",
        "--config",
        tmp_path / "none.yml",
    )
    past = run(*args, "--out", tmp_path / "past", "--as-of", "2027-07-11")
    assert past.exit_code == 0 and not (tmp_path / "past" / f"{CLOSED}.pdf").exists()
    kept = run(*args, "--out", tmp_path / "archived", "--as-of", "2027-07-10")  # the last day kept
    assert kept.exit_code == 0, kept.output
    assert (tmp_path / "archived" / f"{CLOSED}.pdf").read_bytes().startswith(b"%PDF")
