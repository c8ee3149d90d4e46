"""What the school's people meet, in Chromium at phone and desktop width: the words on the
page (Chinese, no English or library credit), what a page says when it cannot open, and a
record a mentor writes that must not be lost between sealing and sending.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .browser import chromium, serve_folder
from .conftest import REPO
from .site_reader import login
from .test_browser import PHONE
from .test_protect import CREDS, _login

DESKTOP = {"width": 1280, "height": 900}
LABELS = yaml.safe_load((REPO / "site_templates/labels/zh.yml").read_text(encoding="utf-8"))
WIDTHS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


def test_no_page_credits_the_theme_in_english(protected_sample: Path) -> None:
    """The footer is the school's: no "Made with Material for MkDocs" in any published file."""
    for path in protected_sample.rglob("*.html"):
        assert "Made with" not in path.read_text(encoding="utf-8"), path


@WIDTHS
def test_offline_a_page_never_opened_says_it_needs_the_network_once(
    protected_sample: Path, browser, viewport: dict
) -> None:  # type: ignore[no-untyped-def]
    reader = login(protected_sample, "T015", CREDS["T015"])
    student = sorted(r for r in reader.routes if r.startswith("students/") and r.endswith("/"))[0]
    with serve_folder(protected_sample) as url:
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=students]")
        context.set_offline(True)  # in a village without signal
        page.goto(f"{url}#/{reader.token(student)}")
        page.wait_for_selector("#yd-page .yd-blob-error")
        assert page.inner_text("#yd-page .yd-blob-error") == LABELS["protect"]["offline"]
        context.close()
