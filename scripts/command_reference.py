"""The README's command reference, generated from every command's ``--help``.

Walks ``yidang`` and all its commands and subcommands, renders each one's help
exactly as click prints it (at a fixed width of 100 columns, whatever the
terminal), and writes it as Markdown between the markers
``<!-- commands:start -->`` and ``<!-- commands:end -->`` in README.md.
tests/test_docs.py fails when the two drift apart. Run from the repository root:

    .venv/bin/python scripts/command_reference.py           # print the section
    .venv/bin/python scripts/command_reference.py --write   # replace it in README.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import click
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a file, the script's folder comes first on the path
    sys.path.insert(0, str(REPO))

from generator.cli import main  # noqa: E402

README = REPO / "README.md"
START = "<!-- commands:start -->"
END = "<!-- commands:end -->"
WIDTH = 100  # the help's line width; fixed so the output is the same on every terminal


def command_paths(command: click.Command = main, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's path below ``yidang``, ``()`` for ``yidang`` itself, in help order."""
    paths = [path]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):  # the order `--help` lists them in
            paths += command_paths(command.commands[name], (*path, name))
    return paths


def help_text(path: tuple[str, ...]) -> str:
    """``yidang PATH --help``, as click prints it at :data:`WIDTH` columns."""
    result = CliRunner().invoke(
        main, [*path, "--help"], prog_name="yidang", terminal_width=WIDTH, catch_exceptions=False
    )
    if result.exit_code != 0:
        raise RuntimeError(f"yidang {' '.join(path)} --help exited {result.exit_code}: {result.output}")
    return "\n".join(line.rstrip() for line in result.output.rstrip().splitlines())


def render() -> str:
    """The Markdown that goes between the markers: a heading and a text block per command."""
    parts = []
    for path in command_paths():
        title = " ".join(("yidang", *path))
        parts.append(f"#### {title}\n\n```text\n{help_text(path)}\n```\n")
    return "\n".join(parts)


def replace_section(readme: str, section: str) -> str:
    """README text with everything between the markers replaced by ``section``."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs {START} followed by {END}")
    return readme[: start + len(START)] + "\n\n" + section + "\n" + readme[end:]


def current_section(readme: str) -> str:
    """What README.md has between the markers now (in the form :func:`render` returns)."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs {START} followed by {END}")
    return readme[start + len(START) : end].strip("\n") + "\n"


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print or --write the README's command reference.")
    parser.add_argument("--write", action="store_true", help="Replace the section in README.md.")
    args = parser.parse_args(argv)
    section = render()
    if not args.write:
        sys.stdout.write(section)
        return 0
    old = README.read_text(encoding="utf-8")
    new = replace_section(old, section)
    if new != old:
        README.write_text(new, encoding="utf-8")
    print(f"{README.name}: command reference {'updated' if new != old else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
