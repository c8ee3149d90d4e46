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

from generator.archive import read_archive
from generator.problems import Problem

from .conftest import FIXTURES

BUDGET = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip

FILES = ["school.yml", "teachers.yml", "classes.yml", "students/S1/profile.yml",
         "students/S1/records/2026-03-05-talk.md"]  # fmt: skip

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
