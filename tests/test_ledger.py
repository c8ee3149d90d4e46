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
    assert headers[:4] == ["学生编号", "姓名", "性别", "班级"] and headers[-1] == "四个一完成率"
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["E"].width >= 20  # categories: wide enough to read
    rows = {r[0]: dict(zip(headers, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {p.name for p in (SAMPLE / "students").iterdir()}
    for sid in ("S2026001", "S2025010", "S2024006"):  # counted here from the files
        records = [r for r in _records(sid) if FALL[0] <= r["date"] <= FALL[1]]
        assert rows[sid]["本学期谈话"] == sum(r["type"] == "talk" for r in records)
        visits = [r for r in records if r["type"] == "home_visit"]
        assert rows[sid]["本学期入户家访"] == sum(r["mode"] == "in_person" for r in visits)
        assert rows[sid]["本学期电话家访"] == sum(r["mode"] != "in_person" for r in visits)
    assert rows["S2026001"]["四个一完成率"] == "100%"
    assert rows["S2025010"]["四个一完成率"] != "100%"  # behind on purpose
    assert rows["S2024007"]["状态"] == "已结案"
    assert "13518760452" in rows["S2026001"]["监护人及电话"]


def test_ledger_csv_and_teachers(tmp_path: Path, run) -> None:
    assert run("export", "ledger", "--format", "csv", "--out", tmp_path / "l.csv",
               "--as-of", "2026-11-28").exit_code == 0
    with open(tmp_path / "l.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][0] == "学生编号" and len(rows) == 1 + len(list((SAMPLE / "students").iterdir()))
    assert run("export", "teachers", "--year", "2026", "--out", tmp_path / "t.xlsx",
               "--as-of", "2026-11-28").exit_code == 0
    ws = load_workbook(tmp_path / "t.xlsx").active
    headers = [c.value for c in ws[1]]
    by_id = {r[0]: dict(zip(headers, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)}
    # T015 mentors three students one-to-many; count their 2026 talks from the files
    talks = sum(1 for sid in ("S2025002", "S2025007", "S2025011") for r in _records(sid)
                if r["type"] == "talk" and r["by"] == "T015" and r["date"].year == 2026)  # fmt: skip
    assert by_id["T015"]["结对学生"] == 3 and by_id["T015"]["谈话"] == talks
    assert run("export", "ledger", "--out", tmp_path / "x.xlsx", "--term", "nope").exit_code == 1
