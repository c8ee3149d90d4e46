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
