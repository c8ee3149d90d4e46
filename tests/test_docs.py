"""The docs follow the code: schema.md and the README's command reference are generated."""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterator
from types import ModuleType

import click
from click.testing import CliRunner

from generator.archive import schemadoc
from generator.cli import main

from .conftest import REPO


def test_schema_doc_is_up_to_date() -> None:
    current = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    assert current == schemadoc.render(), (
        "docs/schema.md is stale: .venv/bin/python -m generator.archive.schemadoc > docs/schema.md"
    )


def test_schema_doc_covers_every_model_field() -> None:
    text = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    for _, _, models in schemadoc.sections():
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


@functools.cache
def _command_reference() -> ModuleType:
    """scripts/command_reference.py (scripts/ is not a package)."""
    path = REPO / "scripts" / "command_reference.py"
    spec = importlib.util.spec_from_file_location("command_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _all_commands(
    command: click.Command = main, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """yidang itself, then every command and subcommand, however deep, with its path."""
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _all_commands(sub, (*path, name))


def test_all_commands_recurses_into_groups() -> None:
    paths = [path for path, _ in _all_commands()]
    assert ("access", "add") in paths and ("export", "teachers") in paths and ("import", "ledger") in paths
    assert len(paths) == len(set(paths)) >= 20


def test_readme_command_reference_is_generated_from_help() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    reference = _command_reference()
    assert reference.current_section(readme) == reference.render(), (
        "README.md's command reference differs from the commands' --help: "
        ".venv/bin/python scripts/command_reference.py --write"
    )


def test_every_command_and_subcommand_has_help_with_its_own_example() -> None:
    """Each help (as printed at the reference's width) has a line `Example: yidang <its path> …`."""
    width = _command_reference().WIDTH
    for path, command in _all_commands():
        name = " ".join(("yidang", *path))
        assert command.help and command.help.strip(), f"{name} has no help"
        result = CliRunner().invoke(
            main, [*path, "--help"], prog_name="yidang", terminal_width=width, catch_exceptions=False
        )
        assert result.exit_code == 0, (name, result.output)
        prefix = f"Example: {name}"
        examples = [line.strip() for line in result.output.splitlines() if line.strip().startswith(prefix)]
        assert any(line == prefix or line[len(prefix)] == " " for line in examples), (
            f"{name}'s help has no line '{prefix} …'"
        )


def test_command_reference_covers_every_command() -> None:
    reference = _command_reference()
    section = reference.current_section((REPO / "README.md").read_text(encoding="utf-8"))
    headings = [line for line in section.splitlines() if line.startswith("#### ")]
    expected = [f"#### {' '.join(('yidang', *path))}" for path, _ in _all_commands()]
    assert sorted(headings) == sorted(expected), "the reference lacks a command or has a removed one"
    assert sorted(reference.command_paths()) == sorted(path for path, _ in _all_commands())
