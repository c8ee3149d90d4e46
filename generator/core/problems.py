"""Problems found in an archive, and the project's own error type.

Every stage reports bad input as :class:`Problem` values instead of raising on
the first one, so that ``yidang check`` can list everything in one run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding, located at ``path:line:col`` (path relative to the archive). ``message``
    is English (what ``--format json`` consumers read); ``message_zh`` the same in Chinese,
    what a teacher or the office reads first (the record form shows it under its field)."""

    path: str
    line: int
    col: int
    severity: Severity
    message: str
    message_zh: str = ""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle as a tuple: the build cache loads hundreds of thousands of these."""
        return (Problem, (self.path, self.line, self.col, self.severity, self.message, self.message_zh))

    @property
    def said(self) -> str:
        """Chinese first, then the English for whoever supports the school."""
        return f"{self.message_zh} / {self.message}" if self.message_zh else self.message

    def text(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.severity}: {self.said}"

    def github(self, prefix: str = "") -> str:
        """A GitHub workflow command, so the problem shows as an annotation."""
        message = self.said.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::{self.severity} file={prefix}{self.path},line={self.line},col={self.col}::{message}"


class YidangError(Exception):
    """An error the CLI reports as one clean message, never a traceback: something in the
    input (an archive, a file, a site) or the machine (a full disk) is wrong. Exit 1.

    Stage modules raise these and never print or exit; ``cli.py`` maps each class to
    its exit status in one place (``exit_code``)."""

    exit_code = 1


class UsageError(YidangError):
    """The command asked for something that does not exist or cannot be done as asked: a
    folder or file not found, an unknown student or teacher, a revision git does not
    know, a folder that must be empty. Exit 2."""

    exit_code = 2


class Refused(Exception):
    """A file from the inbox (a teacher's record, another school's transfer) that cannot
    be taken in; the message says why, and goes in the reason file beside it."""


class ArchiveInvalid(YidangError):
    """The archive has errors; carries every problem found (the CLI prints them all)."""

    def __init__(self, problems: list[Problem], summary: str = ""):
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        self.summary = summary or f"{len(errors)} error(s) in the archive"
        lines = "\n".join(p.text() for p in errors[:50])
        more = f"\n… and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"archive has {len(errors)} error(s):\n{lines}{more}")


def counts(problems: Iterable[Problem]) -> tuple[int, int]:
    """Return (errors, warnings)."""
    errors = warnings = 0
    for p in problems:
        if p.severity == "error":
            errors += 1
        else:
            warnings += 1
    return errors, warnings


def to_json(problems: list[Problem], files: int) -> str:
    errors, warnings = counts(problems)
    summary = {"errors": errors, "warnings": warnings, "files": files}
    return json.dumps(
        {"problems": [asdict(p) for p in problems], "summary": summary},
        ensure_ascii=False,
        indent=2,
    )
