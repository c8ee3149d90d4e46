"""The site in a real browser (Playwright + Debian's Chromium): phone width, links."""

from __future__ import annotations

from pathlib import Path

import pytest

from .browser import chromium, serve_folder
from .test_site import site  # noqa: F401 - the built sample site (module fixture)

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


def test_student_page_fits_a_phone(site: Path, browser) -> None:  # noqa: F811
    with serve_folder(site) as url:
        page = browser.new_page(viewport=PHONE, device_scale_factor=2)
        page.goto(url + "students/S2025003/")
        assert page.title().startswith("符小雨")
        # Nothing pushes the page sideways: wide tables scroll inside their own box.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.locator(".md-banner").is_visible()
        # The navigation sits behind the menu button at phone width.
        assert not page.locator(".md-sidebar--primary").is_visible() or page.evaluate(
            "document.querySelector('.md-sidebar--primary').getBoundingClientRect().right <= 0"
        )
        page.close()


def test_links_from_an_index_reach_a_student(site: Path, browser) -> None:  # noqa: F811
    with serve_folder(site) as url:
        page = browser.new_page()
        page.goto(url + "classes/G2-01/")
        page.locator('[data-list="class"] tr[data-student="S2025003"] a').first.click()
        page.wait_for_url("**/students/S2025003/")
        assert page.locator('[data-section="profile"]').inner_text().find("符小雨") >= 0
        page.close()
