"""The built site of the sample archive: every index page lists exactly the right
students, computed here from the archive's YAML files, not by the code under test."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from pypinyin import Style, lazy_pinyin

from .conftest import AS_OF, REPO, SAMPLE
from .site_helpers import Facts, active, current, listed, read_facts, soup

DAY = dt.date.fromisoformat(AS_OF)


def write_config(
    dest: Path,
    archive: Path,
    booklets: bool = False,
    protect: bool = False,
    name: str = "mkdocs.yml",
    **plugin: str,
) -> Path:
    """A copy of the root mkdocs.yml pointing at ``archive``, with a fixed as_of.

    Booklets are off unless asked for: they have tests of their own, and the
    sample site's test builds them. Protection is off too: these tests read the
    plaintext pages; tests/test_protect.py tests the protected site.
    """
    cfg = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    cfg["docs_dir"] = str(REPO / cfg["docs_dir"])
    settings = {"archive": str(archive), "as_of": AS_OF, "booklets": booklets, "protect": protect, **plugin}
    cfg["plugins"] = [{"yidang": settings}]
    path = dest / name
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def facts() -> Facts:
    return read_facts(SAMPLE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from generator.cli import main

    work = tmp_path_factory.mktemp("sample-site")
    config = write_config(work, SAMPLE, booklets=True)
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--site-dir", str(work / "site")])
    assert result.exit_code == 0, result.output
    return work / "site"


def _pinyin(name: str) -> tuple[str, str]:
    return (" ".join(lazy_pinyin(name, style=Style.TONE3)), name)


def test_category_pages_list_exactly_the_current_members(site: Path, facts: Facts) -> None:
    class_order = [c["id"] for c in facts.classes]
    for key in facts.school["categories"]:
        expected: dict[str, set[str]] = defaultdict(set)
        for sid, p in facts.profiles.items():
            if active(p) and any(c["key"] == key and current(c, DAY) for c in p["categories"]):
                expected[p["class"]].add(sid)
        page = soup(site, f"categories/{key}")
        got = {cid: set(listed(page, f"category-{key}-{cid}")) for cid in class_order}
        assert {k: v for k, v in got.items() if v} == dict(expected), key
        shown = [d["data-class"] for d in page.find_all(attrs={"data-class": True})]
        assert shown == [c for c in class_order if c in expected], "classes in classes.yml order"


def test_teacher_pages_list_current_mentees_and_own_class(site: Path, facts: Facts) -> None:
    for t in facts.teachers:
        mentees = {
            sid
            for sid, p in facts.profiles.items()
            if active(p) and any(m["teacher"] == t["id"] and current(m, DAY) for m in p["mentors"])
        }
        page = soup(site, f"teachers/{t['id']}")
        assert set(listed(page, "mentees")) == mentees, t["id"]
        for c in facts.classes:
            if c["head_teacher"] == t["id"]:
                own = {sid for sid, p in facts.profiles.items() if p["class"] == c["id"] and active(p)}
                assert set(listed(page, f"head-{c['id']}")) == own


def test_class_pages_list_students_by_pinyin(site: Path, facts: Facts) -> None:
    for c in facts.classes:
        members = [(p["name"], sid) for sid, p in facts.profiles.items() if p["class"] == c["id"]]
        open_ = [
            sid
            for name, sid in sorted(
                (m for m in members if active(facts.profiles[m[1]])), key=lambda m: _pinyin(m[0])
            )
        ]
        closed = {sid for _, sid in members if not active(facts.profiles[sid])}
        page = soup(site, f"classes/{c['id']}")
        assert listed(page, "class") == open_, c["id"]
        assert set(listed(page, "closed")) == closed


def test_dashboard_counts_by_category_and_grade(site: Path, facts: Facts) -> None:
    grade_of = {c["id"]: c["grade"] for c in facts.classes}
    page = soup(site, "dashboard")
    for key in facts.school["categories"]:
        row = page.find("tr", attrs={"data-category": key})
        for cell in row.find_all("td", attrs={"data-grade": True}):
            expected = sum(
                1
                for p in facts.profiles.values()
                if active(p)
                and grade_of[p["class"]] == cell["data-grade"]
                and any(c["key"] == key and current(c, DAY) for c in p["categories"])
            )
            assert int(cell.text) == expected, (key, cell["data-grade"])


def test_dashboard_lists_students_quiet_for_30_days(site: Path, facts: Facts) -> None:
    quiet = set()
    for sid, p in facts.profiles.items():
        dates = [
            dt.date.fromisoformat(f.name[:10]) for f in (SAMPLE / "students" / sid / "records").glob("*.md")
        ]
        if active(p) and (not dates or max(dates) < DAY - dt.timedelta(days=30)):
            quiet.add(sid)
    assert set(listed(soup(site, "dashboard"), "quiet")) == quiet


def test_student_page_shows_every_record_newest_first(site: Path, facts: Facts) -> None:
    groups = {  # a group record (activities/) is each listed student's record too
        g: yaml.safe_load(g.read_text(encoding="utf-8").split("---")[1])["students"]
        for g in (SAMPLE / "activities").glob("*.md")
    }
    for sid in facts.profiles:
        own = [(f.name[:10], f.name) for f in (SAMPLE / "students" / sid / "records").glob("*.md")]
        held = [(g.name[:10], f"group-{g.name}") for g, students in groups.items() if sid in students]
        expected = [name for _, name in sorted(own + held, reverse=True)]  # by date, then name
        page = soup(site, f"students/{sid}")
        shown = [d["data-record"] for d in page.find_all(attrs={"data-record": True})]
        assert shown == expected
        for day, _ in sorted(own + held, reverse=True)[:3]:
            date = dt.date.fromisoformat(day)
            assert f"{date.year}年{date.month}月{date.day}日" in page.text


def test_student_page_has_registration_form_links_and_masked_id(site: Path, facts: Facts) -> None:
    sid, p = next((s, p) for s, p in facts.profiles.items() if p.get("id_number"))
    page = soup(site, f"students/{sid}")
    form = page.find(attrs={"data-section": "profile"})
    assert p["name"] in form.text
    assert p["id_number"] not in page.text
    assert p["id_number"][:4] + "*" * 10 + p["id_number"][-4:] in form.text
    hrefs = {a["href"] for a in page.find_all("a", href=True)}
    assert f"../../classes/{p['class']}/" in hrefs
    for c in p["categories"]:
        assert f"../../categories/{c['key']}/" in hrefs
    for m in p["mentors"]:
        assert f"../../teachers/{m['teacher']}/" in hrefs


def test_no_student_name_in_any_file_name_or_nav(site: Path, facts: Facts) -> None:
    names = {p["name"] for p in facts.profiles.values()}
    ids = set(facts.profiles)
    for path in site.rglob("*"):
        rel = str(path.relative_to(site))
        assert not any(n in rel for n in names), rel
    nav = soup(site, ".").find("nav", class_="md-nav--primary")
    nav_text = nav.get_text(" ")
    assert not any(n in nav_text for n in names)
    assert not any(f"students/{i}" in str(nav) for i in ids)


def test_search_is_off_and_banner_warns(site: Path) -> None:
    assert not (site / "search").exists()
    assert "尚未加密保护" in (site / "index.html").read_text(encoding="utf-8")


def test_material_ui_is_chinese(site: Path) -> None:
    html = (site / "index.html").read_text(encoding="utf-8")
    assert '<html lang="zh"' in html


def test_photos_are_resized_renamed_and_without_exif(site: Path) -> None:
    from PIL import Image

    published = list(site.glob("students/*/photos/*.jpg"))
    originals = list(SAMPLE.glob("students/*/photos/*.jpg"))
    assert published and len(published) >= len([o for o in originals if _referenced(o)])
    for path in published:
        with Image.open(path) as img:
            assert not img.getexif(), path
            assert max(img.size) <= 1600
        assert len(path.stem) == 20 and all(ch in "0123456789abcdef" for ch in path.stem)


def _referenced(photo: Path) -> bool:
    student = photo.parent.parent
    rel = str(photo.relative_to(student))
    return any(rel in f.read_text(encoding="utf-8") for f in (student / "records").glob("*.md"))


# --- the tiny archive: escaping, failed builds, the other entry points -------


def _build_tiny(tiny: Path, tmp_path: Path, run):  # type: ignore[no-untyped-def]
    config = write_config(tmp_path, tiny)
    return run("build", "--config", config, "--site-dir", tmp_path / "site"), tmp_path / "site"


def test_untrusted_record_text_cannot_run(tiny: Path, tmp_path: Path, run) -> None:
    talk = tiny / "students/S1/records/2026-03-05-talk.md"
    text = talk.read_text(encoding="utf-8")
    text = text.replace("topic: 开学适应", "topic: \"<script>alert('topic')</script>\"")
    text += "\n<script>alert('body')</script>\n\n<img src=x onerror=\"alert('img')\">\n\n**加粗**\n"
    talk.write_text(text, encoding="utf-8")
    result, site = _build_tiny(tiny, tmp_path, run)
    assert result.exit_code == 0, result.output
    html = (site / "students/S1/index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "onerror" not in html
    assert "&lt;script&gt;alert(&#39;topic&#39;)&lt;/script&gt;" in html  # shown, as text
    assert "<strong>加粗</strong>" in html  # Markdown still works


def test_failed_build_leaves_previous_site(tiny: Path, tmp_path: Path, run) -> None:
    result, site = _build_tiny(tiny, tmp_path, run)
    assert result.exit_code == 0
    before = (site / "students/S1/index.html").read_bytes()
    profile = tiny / "students/S1/profile.yml"
    profile.write_text(
        profile.read_text(encoding="utf-8").replace("class: C1", "class: C9"), encoding="utf-8"
    )
    result, site = _build_tiny(tiny, tmp_path, run)
    assert result.exit_code == 1
    assert (
        "students/S1/profile.yml:5:8: error: class:班级 'C9' 不在 classes.yml 里 / class: unknown class 'C9'"
        in (result.output)
    )
    assert (site / "students/S1/index.html").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == [".site.lock"]


def _mkdocs_build(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build` itself, as a user would run it (not through yidang)."""
    mkdocs = Path(sys.executable).parent / "mkdocs"
    cmd = [str(mkdocs), "build", "-q", "-f", str(config), "-d", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_plain_mkdocs_build_works(tiny: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path, tiny)
    proc = _mkdocs_build(config, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert "测试学生" in (tmp_path / "out/students/S1/index.html").read_text(encoding="utf-8")


def test_mkdocs_build_fails_cleanly_on_a_bad_archive(tiny: Path, tmp_path: Path) -> None:
    talk = tiny / "students/S1/records/2026-03-05-talk.md"
    talk.write_text(talk.read_text(encoding="utf-8").replace("by: T2", "by: T9"), encoding="utf-8")
    config = write_config(tmp_path, tiny)
    proc = _mkdocs_build(config, tmp_path / "out")
    assert proc.returncode == 1
    said = "by:教师编号 'T9' 不在 teachers.yml 里 / by: unknown teacher 'T9'"
    assert f"students/S1/records/2026-03-05-talk.md:4:5: error: {said}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_student_page_links_to_its_booklet(site: Path, facts: Facts) -> None:
    for sid in facts.profiles:
        link = soup(site, f"students/{sid}").find("a", attrs={"data-booklet": sid})
        assert link is not None and link["href"] == f"../../booklets/{sid}.pdf"
        assert (site / "booklets" / f"{sid}.pdf").read_bytes()[:5] == b"%PDF-"
    names = {p["name"] for p in facts.profiles.values()}
    assert not any(n in p.name for p in (site / "booklets").iterdir() for n in names)


def test_built_booklets_draw_from_the_font_subsets(site: Path) -> None:
    """`yidang build` prepares the common-character subsets too (in .cache/yidang/fonts)."""
    pdf = next((site / "booklets").glob("*.pdf"))
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "yidang-Noto-Serif-CJK-SC" in fonts and "yidang-Noto-Sans-CJK-SC" in fonts, fonts
    assert (site.parent / ".cache/yidang/fonts" / "fonts.conf").is_file()


def _overdue_rows(page, list_name: str) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    block = page.find(attrs={"data-list": list_name})
    return [
        (tr["data-student"], tr["data-requirement"], int(tr["data-days"]))
        for tr in block.find_all("tr", attrs={"data-student": True})
    ]


def test_four_ones_on_teacher_student_and_dashboard_pages(site: Path) -> None:
    """Hand counts (as of 2026-11-28) for three students behind on purpose."""
    t010 = soup(site, "teachers/T010")
    assert _overdue_rows(t010, "overdue") == [  # S2025010, poverty: four weeks without a talk
        ("S2025010", "talk", 41),
        ("S2025010", "talk", 34),
        ("S2025010", "talk", 27),
        ("S2025010", "talk", 13),
    ]
    grid = {
        (td.find_parent("tr")["data-student"], td["data-month"]): td["data-status"]
        for td in t010.find(attrs={"data-list": "grid"}).find_all("td", attrs={"data-month": True})
    }
    assert [grid[("S2025010", m)] for m in ("2026-09", "2026-10", "2026-11")] == ["met", "missed", "missed"]
    assert [grid[("S2025009", m)] for m in ("2026-09", "2026-10", "2026-11")] == ["met", "met", "met"]
    t015 = soup(site, "teachers/T015")
    assert _overdue_rows(t015, "overdue") == [("S2025002", "talk", 28), ("S2025007", "home_visit", 28)]
    student = soup(site, "students/S2026006")
    assert _overdue_rows(student, "student-overdue") == [("S2026006", "talk", 28)]
    dashboard = soup(site, "dashboard")
    longest = _overdue_rows(dashboard, "longest")
    assert len(longest) == 10 and longest == sorted(longest, key=lambda r: (-r[2], r[0]))
    assert dashboard.find(attrs={"data-rate": "school"}).strong.text.endswith("%")
    assert soup(site, "classes/G2-04").find(attrs={"data-rate": "term"}).strong.text.endswith("%")
