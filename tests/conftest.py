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


@pytest.fixture(scope="session")
def protected_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample archive built as a protected site, with booklets (built once per run)."""
    from .test_site import write_config

    work = tmp_path_factory.mktemp("protected")
    config = write_config(work, SAMPLE, booklets=True, protect=True)
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--site-dir", str(work / "site")])
    assert result.exit_code == 0, result.output
    assert "protected site" in result.output
    return work / "site"
