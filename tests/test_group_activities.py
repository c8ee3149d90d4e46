"""Group activities (activities/<date>-<slug>.md): one file for an activity held for many
students. The sample's 感恩父母主题班会 (2026-11-20, by T008, head teacher of 高二(1)班) lists
the class's four students. Each listed student's file shows it as their record — with how
many took part, never who — and its photo only to those who may read all four files."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from .conftest import AS_OF, SAMPLE
from .site_reader import login
from .test_protect import CREDS

GROUP = "activities/2026-11-20-gratitude.md"
THEME = "感恩父母主题班会"
LISTED = ("S2025001", "S2025002", "S2025003", "S2025004")
NAMES = ("陈永康", "林诗琪", "符小雨", "郭子涵")
PHOTOS = "activities/2026-11-20-gratitude/photos/"


def _sample(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("access"))
    return root


def _problems(run: Callable[..., Any], root: Path) -> list[str]:
    out = run("check", str(root), "--as-of", AS_OF).output
    return [line for line in out.splitlines() if line.startswith("activities/")]


def test_check_locates_each_bad_student_of_a_group(run: Callable[..., Any], tmp_path: Path) -> None:
    root = _sample(tmp_path)
    (root / GROUP).write_text(
        "---\ntype: activity\ndate: 2026-11-20\nby: T008\nkind: 感恩教育\ntheme: 班会\n"
        "students:\n  - S2025001\n  - S9999999\n  - S2025001\n  - S2024007\n---\n\n班会。\n",
        encoding="utf-8",
    )
    found = _problems(run, root)
    assert f"{GROUP}:9:5: error: students[1]:students/ 里没有学生 'S9999999'" in found[0]
    assert f"{GROUP}:10:5: error: students[2]:学生 'S2025001' 列了两次" in found[1]
    assert len(found) == 2  # a bad list leaves the group out: no third error for the closed case

    (root / GROUP).write_text(  # S2024007's case closed before the activity
        "---\ntype: activity\ndate: 2026-11-20\nby: T099\nkind: 感恩教育\ntheme: 班会\n"
        "students: [S2025001, S2024007]\n---\n\n班会。\n",
        encoding="utf-8",
    )
    found = _problems(run, root)
    assert any(re.match(rf"{GROUP}:4:5: error: by.*T099", line) for line in found), found
    closed = [line for line in found if "S2024007" in line]
    assert closed and closed[0].startswith(f"{GROUP}:7:") and "不在帮扶期内" in closed[0], found


def test_check_refuses_a_group_file_by_its_name_and_date(run: Callable[..., Any], tmp_path: Path) -> None:
    root = _sample(tmp_path)
    text = (root / GROUP).read_text(encoding="utf-8")
    (root / "activities" / "班会.md").write_text(text, encoding="utf-8")
    (root / "activities" / "2026-11-21-gratitude.md").write_text(text, encoding="utf-8")
    (root / "activities" / "2026-11-20-talk.md").write_text(
        "---\ntype: talk\ndate: 2026-11-20\nby: T008\nmode: in_person\ntopic: 谈心\n"
        "students: [S2025001, S2025002]\n---\n\n谈话。\n",
        encoding="utf-8",
    )
    found = _problems(run, root)
    assert any(line.startswith("activities/班会.md:1:1: error: 集体活动的文件名") for line in found), found
    talk = (
        "activities/2026-11-20-talk.md:2:7: error: type:'talk' 类的记录不能作为集体记录(可以的类型:activity)"
    )
    assert any(line.startswith(talk) for line in found), found
    assert any(
        line.startswith("activities/2026-11-21-gratitude.md:3:7: error: 日期 2026-11-20") for line in found
    ), found


def _group_record(html: str) -> str:
    found = re.search(
        r'<div class="yd-record" data-record="group-2026-11-20-gratitude\.md".*?</div>\n</div>', html, re.S
    )
    assert found, "the group activity is not on the page"
    return found.group(0)


def test_each_listed_student_shows_it_without_the_others(protected_sample: Path) -> None:
    leader = login(protected_sample, "T001", CREDS["T001"])
    for sid, name in zip(LISTED, NAMES, strict=True):
        record = _group_record(leader.open(f"students/{sid}/")["h"])
        assert THEME in record and "集体活动,共 4 名学生参加" in record
        assert "结对帮扶的同学都写完了信" in record  # the narrative, once per student
        others = [n for n in NAMES if n != name] + [s for s in LISTED if s != sid]
        assert [o for o in others if o in record] == []  # who else took part is not said
    assert THEME not in leader.open("students/S2024002/")["h"]  # not listed: not shown


def test_the_photo_reaches_only_readers_of_every_student(protected_sample: Path) -> None:
    head = login(protected_sample, "T008", CREDS["T008"])  # heads 高二(1)班: reads all four
    photos = [r for r in head.routes if r.startswith(PHOTOS)]
    assert len(photos) == 1 and head.open(photos[0])[:3] == b"\xff\xd8\xff"  # a JPEG
    page = head.open("students/S2025002/")["h"]
    assert f'src="../../{photos[0]}"' in page

    mentor = login(protected_sample, "T015", CREDS["T015"])  # mentors S2025002 alone of the four
    record = _group_record(mentor.open("students/S2025002/")["h"])
    assert THEME in record and "data-unseen" in record  # the record, and where its photo was
    assert [r for r in mentor.routes if r.startswith("activities/")] == []
    blob = head.routes[photos[0]][0]
    assert not any(
        _opens(protected_sample, blob, key, photos[0]) for key in mentor.keys
    )  # no key of hers opens it


def _opens(site: Path, blob: str, key: bytes, route: str) -> bool:
    from .site_reader import open_blob

    try:
        open_blob(site, blob, key, route)
    except Exception:
        return False
    return True


def test_the_booklet_holds_it_without_the_photo(protected_sample: Path) -> None:
    mentor = login(protected_sample, "T015", CREDS["T015"])
    pdf = PdfReader(io.BytesIO(mentor.open("booklets/S2025002.pdf")))
    text = "".join(p.extract_text() for p in pdf.pages).replace(" ", "").replace("\n", "")
    assert THEME in text and "集体活动,共4名学生参加" in text
    assert "集体活动照片不印入个人档案册" in text
    assert [n for n in NAMES if n != "林诗琪" and n in text] == []
