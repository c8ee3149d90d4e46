"""Load stage: values and positions from YAML and front matter."""

from __future__ import annotations

import pytest

from generator.archive.load import (
    FrontMatterMissing,
    YamlSyntaxError,
    parse_markdown,
    parse_yaml,
    split_front_matter,
)


def test_values_keep_dates_as_text_and_scalars_typed() -> None:
    doc = parse_yaml("d: 2026-02-30\nn: 3\nb: true\nz: null\nf: 1.5\ns: '3'\n")
    assert doc.data == {"d": "2026-02-30", "n": 3, "b": True, "z": None, "f": 1.5, "s": "3"}


def test_positions_of_values_and_keys() -> None:
    doc = parse_yaml("a: 1\nlist:\n  - x: 1\n    y: [p, q]\n")
    assert doc.at(("a",)) == (1, 4)
    assert doc.at(("list", 0, "y", 1)) == (4, 12)
    assert doc.key_at(("list", 0, "y")) == (4, 5)
    assert doc.at(("list", 0, "missing")) == (3, 5)  # nearest located parent


def test_duplicate_keys_are_noted() -> None:
    doc = parse_yaml("a: 1\nb: 2\na: 3\n")
    assert doc.duplicates == [(("a",), (3, 1))]


def test_syntax_error_is_located() -> None:
    with pytest.raises(YamlSyntaxError) as info:
        parse_yaml("a: 1\nb: [x,\nc: 2\n")
    assert (info.value.line, info.value.col) == (4, 1)


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(YamlSyntaxError, match="unsupported tag"):
        parse_yaml("a: !!python/object:os.system x\n")


def test_front_matter_lines_are_file_lines() -> None:
    md = parse_markdown("---\ntype: talk\ndate: 2026-03-05\n---\n\n正文\n")
    assert md.meta.at(("date",)) == (3, 7)
    assert md.body == "正文"
    assert md.body_line == 6  # the first line of text, after the blank line


@pytest.mark.parametrize("text", ["type: talk\n", "---\ntype: talk\n"])
def test_front_matter_must_be_fenced(text: str) -> None:
    with pytest.raises(FrontMatterMissing):
        split_front_matter(text)


def test_windows_line_endings_and_bom() -> None:
    meta, body, line = split_front_matter("\ufeff---\r\na: 1\r\n---\r\n正文")
    assert (meta, body, line) == ("a: 1\r\n", "正文", 4)


def test_aliases_are_refused_not_expanded() -> None:
    with pytest.raises(YamlSyntaxError, match="aliases") as info:
        parse_yaml("a: &x [1, 2]\nb: *x\n")
    assert (info.value.line, info.value.col) == (1, 4)  # the anchored value
    with pytest.raises(YamlSyntaxError, match="aliases"):
        parse_yaml("a: &x [*x]\n")


def test_read_text_of_a_file_larger_than_one_chunk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from generator.archive.load import read_text

    text = "一生一档\n" * 40_000  # ~520 kB, several 64 kB reads
    (tmp_path / "big.md").write_text(text, encoding="utf-8")
    assert read_text(tmp_path / "big.md") == text
