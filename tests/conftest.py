"""Shared fixtures: small archives on disk, and a CLI runner."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generator.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = REPO / "archives"
AS_OF = "2026-11-28"  # the sample archive's "today": its records end on 2026-11-27


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """A copy of the tiny valid archive, free to break."""
    dest = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "tiny", dest)
    return dest


@pytest.fixture
def run() -> Callable[..., Result]:
    """Run the yidang CLI in-process; returns click's Result (exit_code, output)."""

    def _run(*args: str) -> Result:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return _run
