"""The ledger and the teachers' summary, read back as a spreadsheet program would."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import yaml
from openpyxl import load_workbook

from .conftest import SAMPLE

FALL = (dt.date(2026, 9, 1), dt.date(2027, 1, 15))


def _records(sid: str) -> list[dict]:
    out = []
    for path in (SAMPLE / "students" / sid / "records").glob("*.md"):
        out.append(yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1]))
    return out


def test_ledger_xlsx(tmp_path: Path, run) -> None:
    out = tmp_path / "台账.xlsx"
    result = run("export", "ledger", "--out", out, "--term", "2026-fall", "--as-of", "2026-11-28")
    assert result.exit_code == 0, result.output
    ws = load_workbook(out).active
    headers = [c.value for c in ws[1]]
    assert headers[:5] == ["学生编号", "姓名", "性别", "出生日期", "班级"] and headers[-1] == "四个一完成率"
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["F"].width >= 20  # categories: wide enough to read
    rows = {r[0]: dict(zip(headers, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    closed_before = {"S2024007"}  # closed on 2026-07-10, before the fall term: not in its ledger
    assert set(rows) == {p.name for p in (SAMPLE / "students").iterdir()} - closed_before
    for sid in ("S2026001", "S2025010", "S2024006"):  # counted here from the files
        records = [r for r in _records(sid) if FALL[0] <= r["date"] <= FALL[1]]
        assert rows[sid]["本学期谈话"] == sum(r["type"] == "talk" for r in records)
        visits = [r for r in records if r["type"] == "home_visit"]
        assert rows[sid]["本学期入户家访"] == sum(r["mode"] == "in_person" for r in visits)
        assert rows[sid]["本学期电话家访"] == sum(r["mode"] != "in_person" for r in visits)
    assert rows["S2026001"]["四个一完成率"] == "100%"
    assert rows["S2025010"]["四个一完成率"] != "100%"  # behind on purpose
    assert "13518760452" in rows["S2026001"]["监护人及电话"]


def test_ledger_csv_and_teachers(tmp_path: Path, run) -> None:
    assert (
        run(
            "export", "ledger", "--format", "csv", "--out", tmp_path / "l.csv", "--as-of", "2026-11-28"
        ).exit_code
        == 0
    )
    with open(tmp_path / "l.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "学生编号" and len(rows) == len(list((SAMPLE / "students").iterdir()))  # - S2024007
    spring = tmp_path / "spring.csv"
    run(
        "export",
        "ledger",
        "--format",
        "csv",
        "--term",
        "2026-spring",
        "--out",
        spring,
        "--as-of",
        "2026-11-28",
    )
    with open(spring, encoding="utf-8-sig", newline="") as fh:
        closed = [r for r in csv.reader(fh) if r[0] == "S2024007"]
    assert len(closed) == 1 and "已结案" in closed[0]  # closed on 2026-07-10: in the spring term's ledger
    assert (
        run(
            "export", "teachers", "--year", "2026", "--out", tmp_path / "t.xlsx", "--as-of", "2026-11-28"
        ).exit_code
        == 0
    )
    ws = load_workbook(tmp_path / "t.xlsx").active
    headers = [c.value for c in ws[1]]
    by_id = {r[0]: dict(zip(headers, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    # T015 mentors three students one-to-many; count their 2026 talks from the files
    talks = sum(
        1
        for sid in ("S2025002", "S2025007", "S2025011")
        for r in _records(sid)
        if r["type"] == "talk" and r["by"] == "T015" and r["date"].year == 2026
    )
    assert by_id["T015"]["结对学生"] == 3 and by_id["T015"]["谈话"] == talks
    assert run("export", "ledger", "--out", tmp_path / "x.xlsx", "--term", "nope").exit_code == 1


LEDGER_COLUMNS = ["学生编号", "姓名", "性别", "出生日期", "班级", "特殊群体类别", "帮扶教师", "监护人及电话"]
MAPPING = """columns:
  id: 学生编号
  name: 姓名
  gender: 性别
  birth_date: 出生日期
  class: 班级
  categories: 特殊群体类别
  mentors: 帮扶教师
  guardians: 监护人及电话
  address: 家庭住址
  support_received: 享受资助
  status: 状态
defaults:
  since: 2025-09-01
"""


def _school_only(tmp_path: Path) -> Path:
    import shutil

    archive = tmp_path / "new"
    archive.mkdir()
    for name in ("school.yml", "teachers.yml", "classes.yml"):
        shutil.copy(SAMPLE / name, archive / name)
    return archive


def test_export_then_import_reproduces_the_profiles(tmp_path: Path, run) -> None:
    assert (
        run(
            "export", "ledger", "--out", tmp_path / "l.xlsx", "--term", "2026-fall", "--as-of", "2026-11-28"
        ).exit_code
        == 0
    )
    (tmp_path / "map.yml").write_text(MAPPING, encoding="utf-8")
    archive = _school_only(tmp_path)
    args = ("import", "ledger", tmp_path / "l.xlsx", "--mapping", tmp_path / "map.yml", "--archive", archive)
    dry = run(*args, "--dry-run")
    assert "dry run" in dry.output and not (archive / "students").exists()
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("30 created, 0 updated, 0 skipped, 0 failed")
    fall = (dt.date(2026, 9, 1), dt.date(2027, 1, 15))
    for folder in sorted((archive / "students").iterdir()):
        new = yaml.safe_load((folder / "profile.yml").read_text(encoding="utf-8"))
        old = yaml.safe_load((SAMPLE / "students" / folder.name / "profile.yml").read_text(encoding="utf-8"))
        for key in ("id", "name", "gender", "birth_date", "class", "address"):
            assert str(new.get(key)) == str(old.get(key)), (folder.name, key)
        assert [(c["key"], c.get("kind"), str(c.get("until"))) for c in new["categories"]] == [
            (c["key"], c.get("kind"), str(c.get("until"))) for c in old["categories"]
        ]
        assert {m["teacher"] for m in new["mentors"]} == {
            m["teacher"]
            for m in old["mentors"]
            if m["since"] <= fall[1] and (m.get("until") is None or m["until"] >= fall[0])
        }
        assert [(g["relation"], g["name"], str(g.get("phone", ""))) for g in new["guardians"]] == [
            (g["relation"], g["name"], str(g.get("phone", ""))) for g in old["guardians"]
        ]
        assert new.get("support_received", []) == old.get("support_received", [])
    assert "0 error(s)" in run("check", archive, "--as-of", "2026-11-28").output
    again = run(*args)
    assert "0 created, 0 updated, 30 skipped, 0 failed" in again.output  # never overwritten
    assert "30 updated" in run(*args, "--update").output


def test_ended_cases_are_reported_not_guessed(tmp_path: Path, run) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append([*LEDGER_COLUMNS[:8], "家庭住址", "享受资助", "状态"])
    for sid, status in (("S9005", "已结案"), ("S9006", "已转出"), ("S9007", "帮扶中")):
        ws.append([sid, "某同学", "女", "2011-05-01", "高一(1)班", "留守儿童", "陈佳怡", "", "", "", status])
    wb.save(tmp_path / "in.xlsx")
    (tmp_path / "map.yml").write_text(MAPPING, encoding="utf-8")
    archive = _school_only(tmp_path)
    result = run(
        "import", "ledger", tmp_path / "in.xlsx", "--mapping", tmp_path / "map.yml", "--archive", archive
    )
    # a ledger has no closing date or reason: the office adds an ended case by hand
    assert "row 2 (S9005): failed: a case that ended (已结案)" in result.output
    assert "row 3 (S9006): failed: a case that ended (已转出)" in result.output
    assert result.output.strip().endswith("1 created, 0 updated, 0 skipped, 2 failed")
    assert result.exit_code == 1 and sorted(p.name for p in (archive / "students").iterdir()) == ["S9007"]


def test_bad_rows_are_reported_by_number(tmp_path: Path, run) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["学生编号", "姓名", "性别", "出生日期", "班级", "特殊群体类别", "帮扶教师"])
    ws.append(["S9001", "新同学", "女", "2011-05-01", "高一(1)班", "留守儿童", "陈佳怡"])
    ws.append(["S9002", "新同学二", "男", "2011-05-01", "高四(9)班", "留守儿童", "陈佳怡"])
    ws.append(["S9003", "新同学三", "男", "2011-13-40", "高一(1)班", "留守儿童", "陈佳怡"])
    ws.append(["S9004", "新同学四", "男", "2011-02-01", "高一(1)班", "外星学生", "陈佳怡"])
    wb.save(tmp_path / "in.xlsx")
    unused = ("guardians", "address", "support", "status")
    mapping = "\n".join(line for line in MAPPING.splitlines() if not line.strip().startswith(unused))
    (tmp_path / "map.yml").write_text(mapping, encoding="utf-8")
    archive = _school_only(tmp_path)
    result = run(
        "import", "ledger", tmp_path / "in.xlsx", "--mapping", tmp_path / "map.yml", "--archive", archive
    )
    lines = result.output.splitlines()
    assert any(
        line.endswith("row 3 (S9002): failed: 班级 '高四(9)班' is not in classes.yml") for line in lines
    )
    assert any("row 4 (S9003): failed: birth_date: " in line and "impossible date" in line for line in lines)
    assert any(
        line.endswith("row 5 (S9004): failed: 特殊群体类别 '外星学生' is not a category in school.yml")
        for line in lines
    )
    assert lines[-1] == "1 created, 0 updated, 0 skipped, 3 failed" and result.exit_code == 1
    assert (archive / "students/S9001/profile.yml").is_file()
