"""The docs follow the code: schema.md is generated, every command is in the README."""

from __future__ import annotations

from generator import schemadoc
from generator.cli import main

from .conftest import REPO


def test_schema_doc_is_up_to_date() -> None:
    current = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    assert current == schemadoc.render(), (
        "docs/schema.md is stale: .venv/bin/python -m generator.schemadoc > docs/schema.md"
    )


def test_schema_doc_covers_every_model_field() -> None:
    text = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    for _, _, models in schemadoc.SECTIONS:
        for model in models:
            for name, info in model.model_fields.items():
                assert f"`{info.alias or name}`" in text, (model.__name__, name)


def test_readme_shows_every_command_with_an_example() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in main.commands:
        assert f"yidang {name}" in readme, name
    assert "make demo" in readme and "make test" in readme


def test_security_doc_claims_only_what_a_test_shows() -> None:
    """Every test docs/security.md names exists (a renamed or deleted test fails here)."""
    import re

    text = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    module, cited = None, []
    for code in re.findall(r"`([^`]+)`", text):
        found = re.fullmatch(r"(test_\w+\.py)?(?:::(test_\w+))?(?:\[\w+\])?", code)
        if not found or not any(found.groups()):
            continue
        module = found.group(1) or module
        if found.group(2):
            cited.append((module, found.group(2)))
    assert len(cited) >= 15
    for module, name in cited:
        source = (REPO / "tests" / module).read_text(encoding="utf-8")
        assert f"def {name}(" in source, f"docs/security.md cites {module}::{name}, which does not exist"
