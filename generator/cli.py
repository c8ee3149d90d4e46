"""The command line: the only module that prints or exits.

Each command turns library errors into clean messages (``YidangError`` →
exit 1 with one line, usage errors → exit 2), so bad input never shows a
traceback. Exit status: 0 success, 1 problems found in the input, 2 usage error.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from .problems import Problem, YidangError, counts, to_json

DEFAULT_ARCHIVE = "archives"


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"错误 / error: {message}", err=True)
    sys.exit(code)


def _archive_dir(path: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise click.BadParameter(f"archive folder not found: {path}", param_hint="ARCHIVE")
    return p


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="yidang")
def main() -> None:
    """yidang (一生一档): case files of special-care students → site and booklets."""


@main.command()
@click.argument("archive", default=DEFAULT_ARCHIVE, type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    help="text: path:line:col lines; github: workflow annotations; json.",
)
@click.option("--strict", is_flag=True, help="Warnings count as errors (exit 1).")
@click.option(
    "--as-of",
    "as_of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The day to check against (default today), e.g. 2026-11-30.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1),
    default=None,
    help="Worker processes (default: number of cores).",
)
def check(
    archive: str, fmt: str, strict: bool, as_of: dt.datetime | None, jobs: int | None
) -> None:
    """Check an archive and report every problem, one line each.

    Example: yidang check archives --format github
    """
    from .archive import read_archive

    root = _archive_dir(archive)
    try:
        result = read_archive(root, as_of=as_of.date() if as_of else None, keep=False, jobs=jobs)
    except YidangError as exc:
        _fail(str(exc), 2)
    problems = result.problems
    _print_problems(problems, fmt, root, result.files)
    errors, warnings = counts(problems)
    sys.exit(1 if errors or (strict and warnings) else 0)


def _print_problems(problems: list[Problem], fmt: str, root: Path, files: int) -> None:
    errors, warnings = counts(problems)
    if fmt == "json":
        click.echo(to_json(problems, files))
        return
    if fmt == "github":
        prefix = _github_prefix(root)
        for p in problems:
            click.echo(p.github(prefix))
    else:
        for p in problems:
            click.echo(p.text())
    click.echo(
        f"{files} files checked: {errors} error(s), {warnings} warning(s)", err=fmt != "text"
    )


def _github_prefix(root: Path) -> str:
    """Annotations need paths from the repository root (the working directory in CI)."""
    try:
        rel = os.path.relpath(root.resolve(), Path.cwd().resolve())
    except ValueError:
        return ""
    return "" if rel == "." else rel.replace(os.sep, "/") + "/"
