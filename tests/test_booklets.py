"""PDF booklets, checked the way a reader would: by their text, fonts, pages,
bookmarks and images (pypdf and poppler's pdffonts), never by bytes."""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from pypdf import PdfReader

from generator.archive.load import split_front_matter
from generator.booklets.booklet import Fonts, check_fonts, make_booklets
from generator.core.problems import YidangError
from generator.render import templates as render

from .conftest import SAMPLE

STUDENTS = ["S2025003", "S2024007"]  # a photo and two terms; a closed case with an evaluation
LABELS = render.load_labels(render.TEMPLATES_DIR, "zh")


def _make(root: Path, out: Path, **kw):  # type: ignore[no-untyped-def]
    return make_booklets(root, out, LABELS, render.TEMPLATES_DIR, Fonts(), jobs=2, **kw)


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("booklets")
    report = _make(SAMPLE, out, students=STUDENTS)
    assert [r.status for r in report.results] == ["rendered", "rendered"]
    return out, report


def _text(pdf: Path) -> list[str]:
    """Each page's text with all whitespace removed (CJK extraction spaces freely)."""
    return [re.sub(r"\s+", "", page.extract_text() or "") for page in PdfReader(pdf).pages]


def _records(sid: str) -> list[tuple[dt.date, str]]:
    out = []
    for path in sorted((SAMPLE / "students" / sid / "records").glob("*.md")):
        meta, body, _ = split_front_matter(path.read_text(encoding="utf-8"))
        if yaml.safe_load(meta)["type"] == "counselling":
            continue  # need to know: the booklet says it took place, never what was said
        date = yaml.safe_load(meta)["date"]
        phrase = next(s for s in re.split(r"[。!?!?\n]", body) if len(s.strip()) >= 8)
        out.append((date, re.sub(r"\s+", "", phrase)[:12]))
    return out


@pytest.mark.parametrize("sid", STUDENTS)
def test_booklet_text_has_name_every_record_and_footers(made, sid: str) -> None:  # type: ignore[no-untyped-def]
    out, _ = made
    pages = _text(out / f"{sid}.pdf")
    whole = "".join(pages)
    name = yaml.safe_load((SAMPLE / "students" / sid / "profile.yml").read_text(encoding="utf-8"))["name"]
    assert name in pages[0] and "特殊群体学生关爱帮扶档案" in pages[0] and "内部资料注意保密" in pages[0]
    for date, phrase in _records(sid):
        assert f"{date.year}年{date.month}月{date.day}日" in whole, date
        assert phrase in whole, (date, phrase)
    n = len(pages)
    assert f"第1页共{n}页" in pages[0]
    assert f"第{n}页共{n}页" in pages[-1]


def test_bookmarks_name_every_section(made) -> None:  # type: ignore[no-untyped-def]
    out, _ = made
    reader = PdfReader(out / "S2025003.pdf")

    def titles(items) -> list[str]:  # type: ignore[no-untyped-def]
        flat = []
        for item in items:
            flat += titles(item) if isinstance(item, list) else [item.title]
        return flat

    found = titles(reader.outline)
    for section in (
        "封面",
        "目录",
        "一、学生关爱帮扶登记表",
        "二、帮扶计划",
        "三、帮扶记录",
        "四、学期评估",
        "2025—2026学年第二学期",
        "2026—2027学年第一学期",
    ):
        assert section in found, section
    assert "2026年9月8日 谈话记录" in found  # every record is a bookmark


def test_contents_page_has_page_numbers(made) -> None:  # type: ignore[no-untyped-def]
    out, _ = made
    contents = _text(out / "S2025003.pdf")[1]
    assert re.search(r"一、学生关爱帮扶登记表\.+3", contents), contents


def test_fonts_are_embedded_cjk_and_never_type3(made) -> None:  # type: ignore[no-untyped-def]
    out, _ = made
    listing = subprocess.run(
        ["pdffonts", str(out / "S2025003.pdf")], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert any("CJK" in line for line in listing)
    for line in listing:
        assert "Type 3" not in line, line
        assert " yes " in line, f"not embedded: {line}"


def pdfa_claims(pdf: PdfReader) -> dict[str, str]:
    """What the XMP metadata says of PDF/A (part, conformance) once an sRGB output intent
    is there too; {} when either is missing."""
    xmp = pdf.xmp_metadata
    if xmp is None:
        return {}
    pdfaid = "{http://www.aiim.org/pdfa/ns/id/}"
    described = {  # XMP says it as attributes or as elements: both count
        k.removeprefix(pdfaid): v
        for d in ET.fromstring(xmp.stream.get_data()).iter(
            "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}Description"
        )
        for k, v in [*d.attrib.items(), *((c.tag, c.text or "") for c in d)]
        if k.startswith(pdfaid)
    }
    intents = pdf.trailer["/Root"].get("/OutputIntents", [])
    pdfa = any(str(i.get_object().get("/S")) == "/GTS_PDFA1" for i in intents)
    srgb = any("sRGB" in str(i.get_object().get("/OutputConditionIdentifier", "")) for i in intents)
    return described if pdfa and srgb else {}


def test_a_booklet_is_a_tagged_pdf_a_3_with_metadata(made) -> None:  # type: ignore[no-untyped-def]
    """Kept for a student's whole school career and handed on: PDF/A-3 (level A, tagged for
    screen readers), an sRGB output intent, title, subject and dates in its metadata."""
    out, _ = made
    pdf = PdfReader(out / "S2025003.pdf")
    assert pdfa_claims(pdf) == {"part": "3", "conformance": "A"}
    root = pdf.trailer["/Root"]
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root  # tagged
    info = pdf.metadata
    assert info is not None and info.title == LABELS["booklet"]["title"]
    assert "一生一档" in (info.subject or "")
    assert info.creation_date is not None and info.modification_date is not None
    assert "符小雨" not in str(out / "S2025003.pdf")  # never a name in a file name


def _identifying(sid: str) -> set[str]:
    """What names or dates this student: id, name, class, birth and ID-card data, guardians,
    address, mentors, and the dates the case and its categories began and ended (as ISO dates
    and as PDF dates, D:YYYYMMDD)."""

    def read(rel: str) -> Any:
        return yaml.safe_load((SAMPLE / rel).read_text(encoding="utf-8"))

    p = read(f"students/{sid}/profile.yml")
    classes = {c["id"]: c["name"] for c in read("classes.yml")}
    teachers = {t["id"]: t["name"] for t in read("teachers.yml")}
    words = {sid, p["name"], p["class"], classes[p["class"]], p.get("address") or sid}
    words |= {str(p.get(k)) for k in ("id_number", "enrolled_on", "closed_on") if p.get(k)}
    words |= {g[k] for g in p.get("guardians", []) for k in ("name", "phone") if g.get(k)}
    words |= {w for m in p["mentors"] for w in (m["teacher"], teachers[m["teacher"]])}
    dates = [p["birth_date"], *(c[k] for c in p["categories"] for k in ("since", "until") if c.get(k))]
    dates += [m[k] for m in p["mentors"] for k in ("since", "until") if m.get(k)]
    words |= {str(d) for d in dates} | {f"D:{d:%Y%m%d}" for d in dates}
    return words


@pytest.mark.parametrize("sid", STUDENTS)
def test_booklet_metadata_names_no_student(made, sid: str) -> None:  # type: ignore[no-untyped-def]
    """A downloaded booklet's metadata (the PDF's Info dictionary and its XMP packet) names the
    kind of file and the school, nothing of the student: a PDF viewer shows the title in its
    window, the browser keeps it in its history, and file search indexes all of it. The
    booklet's own pages are for its reader (test_booklet_text_has_name_every_record_and_footers)."""
    out, _ = made
    pdf = PdfReader(out / f"{sid}.pdf")
    assert pdf.metadata is not None and pdf.xmp_metadata is not None
    info = " ".join(f"{k}={v}" for k, v in pdf.metadata.items())
    xmp = pdf.xmp_metadata.stream.get_data().decode("utf-8")
    title = LABELS["booklet"]["title"]  # the kind of file, nothing more
    assert pdf.metadata.title == title and title in xmp
    for where, text in (("Info", info), ("XMP", xmp)):
        assert sorted(w for w in _identifying(sid) if w in text) == [], where
    made_on, changed = pdf.metadata.creation_date, pdf.metadata.modification_date
    assert made_on is not None and made_on.date() == dt.date.today()  # not the day the case began
    assert changed is not None and changed.date() == made_on.date()


def test_photos_embedded_without_exif(made) -> None:  # type: ignore[no-untyped-def]
    out, _ = made
    images = [img for page in PdfReader(out / "S2025003.pdf").pages for img in page.images]
    assert images, "the home-visit photo is in the booklet"
    for img in images:
        assert b"Exif" not in img.data
        with Image.open(io.BytesIO(img.data)) as pic:
            assert not pic.getexif()


def test_home_visits_have_signature_lines(made) -> None:  # type: ignore[no-untyped-def]
    out, _ = made
    whole = "".join(_text(out / "S2025003.pdf"))
    visits = len(list((SAMPLE / "students/S2025003/records").glob("*home_visit*")))
    assert whole.count("帮扶教师签名") == visits
    assert whole.count("家长签名") == visits


def test_signature_fields_share_one_line(made) -> None:  # type: ignore[no-untyped-def]
    """Three fields side by side (inline-blocks of fixed width, not a flex row): none wraps."""
    out, _ = made
    lines = [
        line
        for page in PdfReader(out / "S2025003.pdf").pages
        for line in (page.extract_text() or "").splitlines()
        if "签名" in line
    ]
    assert lines and all("帮扶教师签名" in line and "家长签名" in line and "日期" in line for line in lines)


def test_cycle_collector_left_as_found(tmp_path: Path) -> None:
    """make_booklets freezes the objects it starts with (so the workers' collections skip
    them) and unfreezes them when it returns: a long-lived process (serve) must not leak.
    Collection is off while a booklet renders (here in this process: one student) and
    back on afterwards."""
    import gc

    assert gc.get_freeze_count() == 0 and gc.isenabled()
    report = _make(SAMPLE, tmp_path, students=STUDENTS[:1])
    assert [r.status for r in report.results] == ["rendered"]
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_second_run_renders_nothing(made) -> None:  # type: ignore[no-untyped-def]
    out, _ = made
    report = _make(SAMPLE, out, students=STUDENTS)
    assert [r.status for r in report.results] == ["skipped", "skipped"]


def test_changing_one_record_rerenders_exactly_that_booklet(tmp_path: Path) -> None:
    archive = tmp_path / "archives"
    shutil.copytree(SAMPLE, archive)
    out = tmp_path / "out"
    first = _make(archive, out, students=STUDENTS)
    assert first.count("rendered") == 2
    record = (
        archive
        / "students/S2024007/records"
        / sorted(p.name for p in (archive / "students/S2024007/records").iterdir())[0]
    )
    record.write_text(
        record.read_text(encoding="utf-8") + "\n补记:本次谈话后已电话告知家长。\n", encoding="utf-8"
    )
    second = _make(archive, out, students=STUDENTS)
    assert {r.student: r.status for r in second.results} == {"S2024007": "rendered", "S2025003": "skipped"}
    assert "补记:本次谈话后已电话告知家长" in "".join(_text(out / "S2024007.pdf"))
    forced = _make(archive, out, students=STUDENTS, force=True)
    assert forced.count("rendered") == 2


def test_missing_font_is_a_clear_error_not_boxes(tmp_path: Path) -> None:
    with pytest.raises(YidangError, match="apt-get install fonts-noto-cjk"):
        make_booklets(
            SAMPLE, tmp_path, LABELS, render.TEMPLATES_DIR, Fonts(body="No Such Font"), students=["S2025003"]
        )
    assert not list(tmp_path.glob("*.pdf"))


def test_missing_harfbuzz_subset_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint.text.ffi as ffi

    monkeypatch.setattr(ffi, "harfbuzz_subset", None)
    with pytest.raises(YidangError, match="apt-get install libharfbuzz-subset0"):
        check_fonts(Fonts())


def test_character_no_font_has_fails_that_booklet(tiny: Path, tmp_path: Path, run) -> None:
    talk = tiny / "students/S1/records/2026-03-05-talk.md"
    talk.write_text(talk.read_text(encoding="utf-8") + "\n私用区字符:\U0010fffd\n", encoding="utf-8")
    result = run("booklets", "--archive", tiny, "--out", tmp_path / "out", "--config", tmp_path / "none.yml")
    assert result.exit_code == 1
    assert (
        "students/S1: error: no installed font can draw '\U0010fffd' (U+10FFFD); "
        "the booklet was not written" in result.output
    )
    assert not (tmp_path / "out/S1.pdf").exists()


def test_cli_reports_rendered_and_skipped(tiny: Path, tmp_path: Path, run) -> None:
    args = ("booklets", "--archive", tiny, "--out", tmp_path / "out", "--config", tmp_path / "x.yml")
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert "1 rendered" in first.output and (tmp_path / "out/S1.pdf").is_file()
    assert "0 rendered (0 pages), 1 skipped (unchanged)" in run(*args).output
    assert run("booklets", "--archive", tiny, "--student", "S9").exit_code == 2
