"""Messy and hostile input: one fixture per kind, each answered with the exact,
located message a teacher can act on — and nothing a teacher wrote is lost."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from PIL import Image

from .test_site import write_config

PROFILE = "students/S1/profile.yml"
TALK = "students/S1/records/2026-03-05-talk.md"


@pytest.fixture
def run(run_en):  # type: ignore[no-untyped-def]
    """This module asserts where each problem is and its English; the Chinese that comes
    first on each line has tests of its own (test_check_errors.py, at the end)."""
    return run_en


def _check(run, root: Path) -> str:  # type: ignore[no-untyped-def]
    result = run("check", root)
    assert result.exit_code == 1, result.output
    return result.output


def _edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- encodings ---------------------------------------------------------------


def test_bom_crlf_and_tabs_in_the_body_are_accepted(tiny: Path, run) -> None:
    for rel in (PROFILE, TALK, "school.yml"):
        path = tiny / rel
        text = path.read_text(encoding="utf-8").replace("\n", "\r\n")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    _edit(tiny, TALK, "孩子说", "\t孩子说")
    result = run("check", tiny)
    assert result.exit_code == 0, result.output


def test_a_gbk_file_is_named_with_the_command_that_converts_it(tiny: Path, run) -> None:
    path = tiny / PROFILE
    path.write_bytes(path.read_text(encoding="utf-8").encode("gbk"))
    quoted = shlex.quote(str(path))
    assert (
        f"{PROFILE}:2:7: error: the file is in GBK/GB18030 (a Chinese Windows encoding), not UTF-8; "
        f"save it as UTF-8 (记事本:另存为 → 编码 UTF-8), or convert it: "
        f"iconv -f GB18030 -t UTF-8 {quoted} -o {quoted}.utf8 && mv {quoted}.utf8 {quoted}"
    ) in _check(run, tiny)


def test_a_utf16_file_is_named(tiny: Path, run) -> None:
    path = tiny / TALK
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    assert f"{TALK}:1:1: error: the file is UTF-16 text, not UTF-8" in _check(run, tiny)


def test_a_tab_in_yaml_indentation_is_located(tiny: Path, run) -> None:
    _edit(tiny, PROFILE, "  - teacher: T2", "\t- teacher: T2")
    assert f"{PROFILE}:11:1: error: YAML syntax" in _check(run, tiny)


# --- YAML's silent conversions -------------------------------------------------


def test_duplicate_keys_are_errors(tiny: Path, run) -> None:
    _edit(tiny, PROFILE, "gender: 女\n", "gender: 女\nname: 另一个名字\n")
    assert (
        f"{PROFILE}:4:1: error: duplicate field 'name': write each field once (YAML would "
        "silently keep only the last one)"
    ) in _check(run, tiny)


@pytest.mark.parametrize(
    ("field", "written", "said"),
    [
        ("ethnicity", "no", "the boolean false (yes/no/on/off are booleans in YAML)"),
        ("ethnicity", "yes", "the boolean true (yes/no/on/off are booleans in YAML)"),
        ("household_registration", "1.10", "the number 1.1"),
        ("address", "12", "the number 12"),
    ],
)
def test_text_fields_that_yaml_reads_as_numbers_or_booleans(
    tiny: Path, run, field: str, written: str, said: str
) -> None:
    _edit(tiny, PROFILE, "gender: 女\n", f"gender: 女\n{field}: {written}\n")
    assert (
        f"{PROFILE}:4:{len(field) + 3}: error: {field}: YAML reads {written} as {said}; "
        f'this field is text: write it in quotes, e.g. "{written}"'
    ) in _check(run, tiny)


@pytest.mark.parametrize(("written", "number"), [("0101", 65), ("10:30", 630), ("0x1F", 31)])
def test_a_leading_zero_or_a_time_is_never_turned_into_another_number(
    tiny: Path, run, written: str, number: int
) -> None:
    _edit(tiny, PROFILE, "class: C1", f"class: {written}")
    assert (
        f"{PROFILE}:5:8: error: class: YAML reads {written} as the number {number} (YAML 1.1: a "
        f"leading 0 means octal, 10:30 is base 60); if you mean the text, write it in quotes: "
        f'"{written}"; if a number, write it plainly'
    ) in _check(run, tiny)


def test_an_unquoted_phone_number_is_reported_with_its_digits(tiny: Path, run) -> None:
    _edit(tiny, PROFILE, 'phone: "13900000000"', "phone: 13900000000")
    assert (
        "guardians[0].phone: YAML reads 13900000000 as the number 13900000000; this field is text: "
        'write it in quotes, e.g. "13900000000"'
    ) in _check(run, tiny)


# --- hostile content ---------------------------------------------------------


HOSTILE = """
<script>alert("x")</script>
<img src="x" onerror="alert(1)">
[点我](javascript:alert(2)) <a href="javascript:alert(3)" onclick="alert(4)">链接</a>
<iframe src="https://example.com"></iframe><style>body{display:none}</style>

正文仍然保留。
"""


def test_hostile_markdown_never_runs_and_the_text_survives(tiny: Path, tmp_path: Path, run) -> None:
    talk = tiny / TALK
    talk.write_text(talk.read_text(encoding="utf-8") + HOSTILE, encoding="utf-8")
    _edit(tiny, TALK, "topic: 开学适应", 'topic: "<script>alert(5)</script>开学适应"')
    config = write_config(tmp_path, tiny, booklets=True)
    result = run("build", "--config", config, "--unprotected", "--site-dir", tmp_path / "site")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "site/students/S1/index.html").read_text(encoding="utf-8")
    article = page[page.index("<article") : page.index("</article>")]
    for bad in ("<script", "onerror", "onclick", "javascript:", "<iframe", "<style"):
        assert bad not in article.lower(), bad
    assert "正文仍然保留。" in article and "&lt;script&gt;alert(5)&lt;/script&gt;开学适应" in article
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "site/booklets/S1.pdf").pages)
    assert "正文仍然保留" in text.replace("\n", "")


@pytest.mark.parametrize("photo", ["../../../school.yml", "/etc/passwd", "photos/link.jpg"])
def test_photo_paths_cannot_leave_the_student_folder(tiny: Path, run, photo: str) -> None:
    (tiny / "students/S1/photos").mkdir()
    os.symlink(tiny / "school.yml", tiny / "students/S1/photos/link.jpg")
    _edit(tiny, TALK, "topic: 开学适应", f"topic: 开学适应\nphotos: ['{photo}']")
    assert f"{TALK}:7:10: error: photos[0]: photo path '{photo}' leaves the student's folder" in _check(
        run, tiny
    )


def test_an_oversized_record_is_refused_before_it_is_read(tiny: Path, run) -> None:
    os.truncate(tiny / TALK, 50 * 1000 * 1000)  # 50 MB, sparse: never read into memory
    assert (
        f"{TALK}:1:1: error: the file is 50.0 MB; an archive text file may be at most 1 MB "
        "(is it the right file?)"
    ) in _check(run, tiny)


def _with_photo(tiny: Path, name: str) -> Path:
    (tiny / "students/S1/photos").mkdir(exist_ok=True)
    _edit(tiny, TALK, "topic: 开学适应", f"topic: 开学适应\nphotos: [photos/{name}]")
    return tiny / "students/S1/photos" / name


def test_an_oversized_photo_is_refused(tiny: Path, run) -> None:
    path = _with_photo(tiny, "big.jpg")
    path.write_bytes(b"\xff\xd8\xff")
    os.truncate(path, 200 * 1000 * 1000)
    assert (
        f"{TALK}:7:10: error: photos[0]: photo 'photos/big.jpg' is 200.0 MB; a photo may be at most "
        "20 MB (resize it first)"
    ) in _check(run, tiny)


def test_a_broken_photo_is_reported(tiny: Path, run) -> None:
    _with_photo(tiny, "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert (
        f"{TALK}:7:10: error: photos[0]: photo 'photos/broken.jpg' is not a readable image "
        "(JPEG, PNG or WebP); export it again as JPEG or PNG"
    ) in _check(run, tiny)


def test_a_decompression_bomb_is_refused(tiny: Path, run) -> None:
    path = _with_photo(tiny, "bomb.png")
    Image.new("1", (10000, 10000)).save(path)  # 100 megapixels in a few kilobytes
    assert path.stat().st_size < 100_000
    assert (
        f"{TALK}:7:10: error: photos[0]: photo 'photos/bomb.png' is 10000×10000 pixels; a photo may "
        "have at most 60,000,000 (resize it first)"
    ) in _check(run, tiny)


def test_a_number_in_a_list_file_is_reported_with_its_digits(tiny: Path, run) -> None:
    """teachers.yml is a list: each item keeps what was written, like a single document."""
    text = (tiny / "teachers.yml").read_text(encoding="utf-8")
    assert "phone" not in text.split("\n")[0]
    path = tiny / "teachers.yml"
    path.write_text(text.replace("name:", "phone: 13900000000, name:", 1), encoding="utf-8")
    assert (
        "teachers.yml:1:19: error: phone: YAML reads 13900000000 as the number 13900000000; this "
        'field is text: write it in quotes, e.g. "13900000000"'
    ) in _check(run, tiny)
