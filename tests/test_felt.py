"""Fast where it is felt, in Chromium at phone (390 px) and desktop (1280 px) width: the login
page downloads no chart code (ECharts comes after login, for a page with a chart); what a
finger taps on a phone is 44 px tall; the phone's header shows the site's title whole; search
lists students first, grouped, with clean snippets; each page change focuses its heading.

Screenshots of the header are written beside the site (``felt-*.png``) for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .browser import chromium, serve_folder
from .site_reader import Reader, login
from .test_browser import PHONE
from .test_protect import CREDS, _login

DESKTOP = {"width": 1280, "height": 900}
WIDTHS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
MENTOR, HEAD, LEADER = "T015", "T008", "T001"
# What a reader must never see in a search result: a heading's ¶, an id of a student, teacher
# or class, a commit, a file name.
INTERNAL = re.compile(r"¶|\bS\d{7}\b|\bT\d{3}\b|\bG\d-\d\d\b|提交 ?[0-9a-f]{7}|\.(md|yml|jpg|pdf)\b")
TOUCH = 44  # px, WCAG 2.5.5


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


def _open(page, url: str, reader: Reader, route: str) -> None:  # type: ignore[no-untyped-def]
    """Open ``route`` as a bookmark would (its token), once logged in; wait until it is shown."""
    token = reader.token(route)
    page.goto(f"{url}#/{token}")
    page.wait_for_selector(f'#yd-page[data-route="{token}"]')


def _logged_in(page, url: str, user: str) -> None:  # type: ignore[no-untyped-def]
    _login(page, url, user)
    page.wait_for_selector('#yd-page[data-view="home"]')


@WIDTHS
def test_the_login_page_loads_no_chart_code_and_a_chart_page_draws_after_login(
    protected_sample: Path, browser, viewport: dict
) -> None:  # type: ignore[no-untyped-def]
    """Before login, nothing of ECharts is downloaded (nor on the home page after it); the
    dashboard draws its charts after login, from the site's own copy; a class page's charts
    reuse it."""
    leader = login(protected_sample, LEADER, CREDS[LEADER])
    with serve_folder(protected_sample) as url:
        page = browser.new_context(viewport=viewport).new_page()
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))
        page.goto(url, wait_until="networkidle")
        expect(page.locator("#yd-login")).to_be_visible()
        assert asked and not [u for u in asked if "echarts" in u]
        assert all(u.startswith(url) for u in asked)  # nothing from another origin
        _logged_in(page, url, LEADER)
        assert not [u for u in asked if "echarts" in u]  # the home page has no chart
        _open(page, url, leader, "dashboard/")
        expect(page.locator('#yd-page figure.yd-chart[data-drawn="1"] svg').first).to_be_visible()
        assert [u for u in asked if "echarts" in u] == [f"{url}assets/vendor/echarts.min.js"]
        _open(page, url, leader, "classes/G2-01/")
        expect(page.locator('#yd-page figure.yd-chart[data-drawn="1"] svg').first).to_be_visible()
        assert len([u for u in asked if "echarts" in u]) == 1  # loaded once, for the session
        page.context.close()


@WIDTHS
def test_each_page_change_focuses_its_heading(protected_sample: Path, browser, viewport: dict) -> None:  # type: ignore[no-untyped-def]
    """After login, after following a link, after a search and after Back, the focus is on the
    new page's h1 (a screen reader announces it), not left on <body>."""
    with serve_folder(protected_sample) as url:
        page = browser.new_context(viewport=viewport).new_page()
        heading = page.locator("#yd-page > h1")
        _logged_in(page, url, MENTOR)
        expect(heading).to_be_focused()
        assert heading.get_attribute("tabindex") == "-1"
        name = page.locator("[data-group=students] a").first
        who = name.inner_text()
        name.click()
        expect(heading).to_have_text(who)
        expect(heading).to_be_focused()
        page.fill("#yd-search input", who)
        page.press("#yd-search input", "Enter")
        expect(heading).to_have_text(f"搜索:{who}")
        expect(heading).to_be_focused()
        page.go_back()
        expect(heading).to_have_text(who)
        expect(heading).to_be_focused()
        page.context.close()
