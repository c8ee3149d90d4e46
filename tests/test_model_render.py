"""Unit tests for the model (what "current" means) and the render helpers."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image

from generator.archive import photos
from generator.archive.model import Archive, pinyin_key
from generator.archive.read import read_archive
from generator.archive.shown import show
from generator.render import templates as render
from generator.site import pages as site_pages

from .conftest import SAMPLE


@pytest.fixture(scope="module")
def sample() -> Archive:
    result = read_archive(SAMPLE, as_of=dt.date(2026, 11, 28))
    assert result.archive is not None
    return result.archive


def test_mentor_change_mid_term(sample: Archive) -> None:
    """S2025008: T010 until 2026-10-14, then T009 from 2026-10-15."""
    s = sample.students["S2025008"]
    assert [m.teacher for m in s.mentors_on(dt.date(2026, 10, 14))] == ["T010"]
    assert [m.teacher for m in s.mentors_on(dt.date(2026, 10, 15))] == ["T009"]
    assert s in sample.mentees("T009")
    assert s not in sample.mentees("T010")
    assert s in sample.former_mentees("T010")


def test_ended_category_is_not_current(sample: Archive) -> None:
    """S2025006's dropout_risk ended on 2026-06-30."""
    s = sample.students["S2025006"]
    assert "dropout_risk" in {c.key for c in s.categories_on(dt.date(2026, 6, 30))}
    assert "dropout_risk" not in {c.key for c in s.categories_on(dt.date(2026, 7, 1))}
    assert s not in sample.in_category("dropout_risk")


def test_closed_case_leaves_current_lists(sample: Archive) -> None:
    closed = [s for s in sample.students.values() if not s.active]
    assert [s.id for s in closed] == ["S2024007"]
    assert all(closed[0] not in sample.in_category(k) for k in sample.school.categories)
    assert closed[0] in sample.in_class(closed[0].profile.class_)


def test_pinyin_order() -> None:
    names = ["张三", "安娜", "李四", "欧阳明"]
    assert sorted(names, key=pinyin_key) == ["安娜", "李四", "欧阳明", "张三"]


def test_records_sorted_by_date(sample: Archive) -> None:
    for s in sample.students.values():
        dates = [r.date for r in s.refs]
        assert dates == sorted(dates)
        assert s.last_record == (dates[-1] if dates else None)


def test_full_student_file_is_read_one_at_a_time() -> None:
    """The hook sees each valid student's whole file; the main process gets summaries."""
    seen: dict[str, int] = {}

    def factory(school, as_of):  # type: ignore[no-untyped-def]
        return lambda student: len(student.records) + (student.plan is not None)

    result = read_archive(SAMPLE, as_of=dt.date(2026, 11, 28), hook_factory=factory, jobs=1)
    for sid, summary in result.archive.students.items():
        seen[sid] = result.outputs[sid]
        assert seen[sid] == len(summary.refs) + 1  # every sample student has a plan


def test_body_renderer_keeps_markdown_and_drops_scripts() -> None:
    html = render.body_html("第一段**重点**\n第二行\n\n<script>x()</script><a href='javascript:x()'>链接</a>")
    assert "<strong>重点</strong>" in html
    assert "<br" in html  # a single newline is a line break in Chinese prose
    assert "<script" not in html and "javascript:" not in html


def test_show_formats_values() -> None:
    labels = render.load_labels(render.TEMPLATES_DIR, "zh")
    assert show(labels, dt.date(2026, 3, 5)) == "2026年3月5日"
    assert show(labels, ["甲", "乙"]) == "甲、乙"
    assert show(labels, True) == "是"
    assert show(labels, None) == ""


def test_nav_lists_index_pages_only() -> None:
    labels = render.load_labels(render.TEMPLATES_DIR, "zh")
    uris = [next(iter(item.values())) for item in site_pages.nav(labels)]
    assert uris == [
        "index.md",
        "dashboard/index.md",
        "categories/index.md",
        "teachers/index.md",
        "classes/index.md",
    ]


def _jpeg_with_gps(size: tuple[int, int], orientation: int | None = None) -> bytes:
    img = Image.new("RGB", size, "blue")
    exif = Image.Exif()
    exif[0x0110] = "Phone"
    exif.get_ifd(0x8825).update({1: "N", 2: (19.0, 14.0, 30.0)})
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_photo_is_resized_and_stripped() -> None:
    data = photos.prepare(_jpeg_with_gps((4000, 3000)))
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (1600, 1200)
        assert not img.getexif()
        assert "exif" not in img.info


def test_photo_orientation_is_applied_before_stripping() -> None:
    data = photos.prepare(_jpeg_with_gps((400, 300), orientation=6))  # "rotate 90° CW"
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (300, 400)


def test_prepared_photos_are_cached(tmp_path: Path) -> None:
    src = tmp_path / "p.jpg"
    src.write_bytes(_jpeg_with_gps((100, 80)))
    name, cached = photos.prepared(src, tmp_path / "cache")
    assert cached == tmp_path / "cache" / name
    first = cached.stat().st_mtime_ns
    assert photos.prepared(src, tmp_path / "cache") == (name, cached)
    assert cached.stat().st_mtime_ns == first  # not prepared again
