"""Property-based tests: any bytes in any archive file give either a valid
archive or `check` problems, never an unhandled exception.

Hypothesis runs a fixed budget of examples, derandomized, so CI is
reproducible; failing examples are shrunk and printed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.archive.load import (
    Located,
    YamlSyntaxError,
    _parse_composed,
    _parse_simple,
    split_front_matter,
)
from generator.archive.read import read_archive
from generator.core.problems import Problem

from .conftest import FIXTURES, SAMPLE

BUDGET = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

FILES = [
    "school.yml",
    "teachers.yml",
    "classes.yml",
    "students/S1/profile.yml",
    "students/S1/records/2026-03-05-talk.md",
]

# Text that looks like what teachers type: YAML punctuation, Chinese, digits, odd
# scalars (yes/no, 0755, 10:30, ~), tabs, CR, a BOM, and anything else.
YAMLISH = st.text(
    alphabet=st.sampled_from(
        list(":-#[]{},&*!|>'\"%@` \t\n\r\ufeff?~")
        + list("abcnoyes0123456789.")
        + list("学生谈话家访")
        + ["\x00", "\u2028", "\U0001f600"]
    ),
    max_size=300,
)


def _archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prop") / "a"
    shutil.copytree(FIXTURES / "tiny", root)
    return root


def _read(root: Path) -> list[Problem]:
    result = read_archive(root, jobs=1)
    assert result.ok == (result.archive is not None)
    for p in result.problems:  # every problem is located in a real file of the archive
        assert p.line >= 1 and p.col >= 1 and p.message
    return result.problems


@pytest.mark.parametrize("rel", FILES)
@BUDGET
@given(data=st.binary(max_size=400))
def test_any_bytes_in_a_file(rel: str, data: bytes, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = _archive(tmp_path_factory)
    (root / rel).write_bytes(data)
    _read(root)


@pytest.mark.parametrize("rel", FILES)
@BUDGET
@given(text=YAMLISH)
def test_any_yamlish_text_in_a_file(rel: str, text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = _archive(tmp_path_factory)
    prefix = "---\n" if rel.endswith(".md") else ""
    (root / rel).write_text(prefix + text, encoding="utf-8", errors="surrogatepass")
    _read(root)


@BUDGET
@given(value=YAMLISH)
def test_any_value_of_any_profile_field(value: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A valid file with one value replaced: the field gets a located problem or is accepted."""
    root = _archive(tmp_path_factory)
    path = root / "students/S1/profile.yml"
    lines = path.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if ": " in line and not line.startswith(" "):
            key = line.split(": ", 1)[0]
            lines[i] = f"{key}: {value}"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
            _read(root)
            lines[i] = line


# --- the fast path for simple front matter equals PyYAML --------------------------

KEYS = st.sampled_from(
    ["type", "date", "by", "mode", "met", "photos", "no", "on", "a_1", "Yes", "_x", "k-y", "0"]
)
# fmt: off
NEAR = st.sampled_from([
    "talk", "T0016", "2023-09-17", "in_person", "no", "yes", "on", "~", "null", "true", "1", "0101", "0x1F",
    "10:30", "1e3", ".inf", "-1", "+1", "1_000", "说起父母,想家", "a: b", "a #c", "C#", "a:", '"q"', "'s'",
    '"a\\"b"', '"x\\ty"', "'it''s'", '""', "''", "[a]", "{a: 1}", "&a x", "*a", "!!str 1", "|", ">", "- x",
    "? x", "%x", "@x", "`x", "x ", " x", "a\tb", "=", "<<", "2026-02-30", "12:30:00", "0o17", "1.5", "-.5",
])
# fmt: on
SCALARS = st.one_of(NEAR, YAMLISH.map(lambda t: t.replace("\n", " ")))
GOOD = st.sampled_from(
    [
        "talk",
        "T0016",
        "2023-09-17",
        "in_person",
        "说起父母,想家",
        "C#",
        "1",
        "no",
        "~",
        "x y",
        '"quoted: # [x]"',
        "'single'",
        "1.5",
        "0",
        "-1",
        "true",
        "a,b",
        "2026-02-30",
    ]
)
GOOD_KEYS = ["type", "date", "by", "mode", "met", "photos", "no", "on", "a_1", "Yes", "_x"]


@st.composite
def simple_documents(draw: st.DrawFn) -> str:
    """Front matter as teachers write it, with every near-miss of the fast path's grammar
    (about a third of the documents stay inside it)."""
    odd = draw(st.integers(0, 3)) == 0  # one document in four may have near-misses anywhere
    values = SCALARS if odd else st.one_of(GOOD, GOOD, GOOD, GOOD, NEAR)
    keys = draw(st.lists(KEYS, min_size=1, max_size=6) if odd else st.permutations(GOOD_KEYS))
    lines = []
    for name in keys[: draw(st.integers(1, 6))]:
        key = name + (draw(st.sampled_from([":", ": ", ":  ", " :"])) if odd else ":")
        shape = draw(st.sampled_from(["scalar", "scalar", "flow", "block"] + (["junk"] if odd else [])))
        if shape == "scalar":
            lines.append(f"{key} {draw(values)}".replace(": :", "::"))
        elif shape == "flow":
            items = draw(st.lists(values, max_size=3))
            sep = draw(st.sampled_from([", ", ",", " , "]))
            lines.append(
                f"{key} [{sep.join(items)}{draw(st.sampled_from(['', ' ', ',']) if odd else st.just(''))}]"
            )
        elif shape == "block":
            lines.append(key.rstrip())
            indent = draw(st.sampled_from(["", " ", "  "]))
            for _ in range(draw(st.integers(0 if odd else 1, 3))):
                indent = draw(st.sampled_from(["", " ", "  "])) if odd else indent
                lines.append(
                    indent + "-" + draw(st.sampled_from([" ", "  "] + ([""] if odd else []))) + draw(values)
                )
        else:
            lines.append(draw(st.sampled_from(["", "# note", "  more", "...", "- x"])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


def _same(fast: Located, slow: Located) -> None:
    assert repr(fast.data) == repr(slow.data)  # repr: True and 1 differ
    assert fast.raw == slow.raw
    assert fast.values == slow.values
    assert fast.keys == slow.keys
    assert fast.duplicates == slow.duplicates == []


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(text=simple_documents(), line0=st.sampled_from([0, 1]))
def test_fast_front_matter_equals_pyyaml(text: str, line0: int) -> None:
    fast = _parse_simple(text, line0)
    try:
        slow = _parse_composed(text, line0)
    except YamlSyntaxError:
        assert fast is None, text
        return
    if fast is not None:
        _same(fast, slow)


def test_sample_records_take_the_fast_path() -> None:
    """The speed of `check` rests on this: every record of the sample archive is read
    by the fast path, to the same values and positions as PyYAML gives."""
    records = sorted(SAMPLE.glob("students/*/records/*.md"))
    assert len(records) > 100
    for path in records:
        meta, _, _ = split_front_matter(path.read_text(encoding="utf-8"))
        fast = _parse_simple(meta, 1)
        assert fast is not None, path
        _same(fast, _parse_composed(meta, 1))
