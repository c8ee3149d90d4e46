"""Fast where it is felt, in Chromium at phone (390 px) and desktop (1280 px) width: the login
page downloads no chart code (ECharts comes after login, for a page with a chart); what a
finger taps on a phone is 44 px tall; the phone's header shows the site's title whole; search
lists students first, grouped, with clean snippets; each page change focuses its heading.

Screenshots of the header are written beside the site (``felt-*.png``) for a person to look at.
"""

from __future__ import annotations

import itertools
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


def _short(page, selector: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The targets matched by ``selector`` (visible ones) that are less than 44 px tall."""
    found = page.locator(selector)
    assert found.count(), selector
    low = []
    for i in range(found.count()):
        box = found.nth(i).bounding_box()
        if box and box["height"] < TOUCH - 0.5:
            low.append(f"{selector} #{i} {found.nth(i).inner_text()!r}: {box['height']:.0f} px")
    return low


def test_what_a_finger_taps_on_a_phone_is_44px_tall(protected_sample: Path, browser) -> None:  # type: ignore[no-untyped-def]
    """At 390 px: the write buttons, the to-do's names, links and 去填写, the students listed
    on the home page, a student page's jump links, the names in a class's table (cards)."""
    mentor = login(protected_sample, MENTOR, CREDS[MENTOR])
    with serve_folder(protected_sample) as url:
        page = browser.new_context(viewport=PHONE).new_page()
        _logged_in(page, url, MENTOR)
        low = _short(page, ".yd-write .md-button")
        low += _short(page, ".yd-todo-item a")
        low += _short(page, ".yd-todo-item .md-button")
        low += _short(page, "[data-group=students] a")
        student = sorted(r for r in mentor.routes if r.startswith("students/") and r.count("/") == 2)[0]
        _open(page, url, mentor, student)
        low += _short(page, "#yd-page nav.yd-jump a")
        low += _short(page, "#yd-page > .yd-write .md-button")
        _logged_in(page, url, HEAD)  # a head teacher's class: its students in a table
        head = login(protected_sample, HEAD, CREDS[HEAD])
        _open(page, url, head, "classes/G2-01/")
        low += _short(page, "#yd-page [data-list] td a")
        assert low == []
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.context.close()


HEADER = """() => {
  const box = (el) => el.getBoundingClientRect();
  const title = document.querySelector('.md-header__topic:first-child .md-ellipsis');
  const search = document.querySelector('#yd-search input');
  const logout = document.querySelector('#yd-logout');
  return { text: title.innerText.trim(), scroll: title.scrollWidth, client: title.clientWidth,
           right: box(title).right, searchLeft: box(search).left, searchRight: box(search).right,
           logoutLeft: box(logout).left, logoutRight: box(logout).right,
           placeholder: search.placeholder, label: search.getAttribute('aria-label'), width: innerWidth };
}"""


@WIDTHS
def test_the_header_shows_the_title_whole(protected_sample: Path, browser, viewport: dict) -> None:  # type: ignore[no-untyped-def]
    """The title is not cut (on a phone its short form, 一生一档); the search box, its
    placeholder and the logout button fit beside it without overlapping."""
    with serve_folder(protected_sample) as url:
        page = browser.new_context(viewport=viewport).new_page()
        _logged_in(page, url, MENTOR)
        h = page.evaluate(HEADER)
        assert h["scroll"] <= h["client"], h
        assert h["text"] == ("一生一档" if viewport is PHONE else "一生一档 · 特殊群体学生关爱帮扶档案")
        edges = ["right", "searchLeft", "searchRight", "logoutLeft", "logoutRight", "width"]
        in_a_row = [h[e] for e in edges]
        assert in_a_row == sorted(in_a_row), h  # side by side, none over another, none cut off
        assert h["placeholder"] == ("搜索" if viewport is PHONE else h["label"])
        page.screenshot(path=str(protected_sample.parent / f"felt-header-{viewport['width']}.png"))
        page.click("#yd-logout")
        expect(page.locator("#yd-login")).to_be_visible()
        title = page.locator(".md-header__topic:first-child .md-ellipsis")
        assert title.evaluate("(t) => t.scrollWidth <= t.clientWidth")  # the login page too
        page.context.close()


RESULTS = """() => [...document.querySelectorAll('#yd-page .yd-results li')].map((li) => ({
  group: li.closest('ul').dataset.group, route: li.dataset.route, text: li.innerText }))"""


@WIDTHS
def test_search_lists_students_first_with_clean_snippets(
    protected_sample: Path, browser, viewport: dict
) -> None:  # type: ignore[no-untyped-def]
    """Leadership looks up 麦晓彤 (two students of that name, also named on class, teacher and
    category pages): the students come first, then the other pages by kind, each kind under
    its heading; each student's result says her class; no result shows ¶ or an internal id."""
    with serve_folder(protected_sample) as url:
        page = browser.new_context(viewport=viewport).new_page()
        _logged_in(page, url, LEADER)
        page.fill("#yd-search input", "麦晓彤")
        page.press("#yd-search input", "Enter")
        page.wait_for_selector("#yd-page .yd-results")
        results = page.evaluate(RESULTS)
        groups = [r["group"] for r in results]
        assert groups[:2] == ["students", "students"] and "students" not in groups[2:], groups
        assert {"classes", "teachers"} <= set(groups)
        kinds = list(dict.fromkeys(groups))  # each kind once, in one block
        assert [g for g, _ in itertools.groupby(groups)] == kinds
        headings = page.locator("#yd-page h2").all_inner_texts()
        assert headings[0] == "学生档案" and len(headings) == len(kinds)
        students = [r["text"] for r in results[:2]]
        assert all(t.startswith("麦晓彤") for t in students)
        assert any("高二(4)班" in t for t in students) and any("高三(2)班" in t for t in students)
        dirty = [r["text"] for r in results if INTERNAL.search(r["text"])]
        assert dirty == []
        page.fill("#yd-search input", "谈话")  # words inside records: snippets from the text
        page.press("#yd-search input", "Enter")
        expect(page.locator("#yd-page > h1")).to_have_text("搜索:谈话")
        results = page.evaluate(RESULTS)
        assert results and [r["text"] for r in results if INTERNAL.search(r["text"])] == []
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


def test_search_text_leaves_out_what_is_not_the_pages_words() -> None:
    """The text search finds and quotes: no heading's ¶, no jump list, no booklet button, no
    commit id; the lead (before the first heading) is marked, for a result whose title matched."""
    from generator.protect.seal import search_doc

    html = (
        '<div class="yd-facts"><p class="yd-booklet"><a class="md-button" href="b.pdf">下载档案册</a></p>'
        '<nav class="yd-jump" aria-label="本页"><a href="#plan">帮扶计划</a></nav>'
        '<p><a href="../../classes/G3-02/">高三(2)班</a> · 帮扶中</p></div>'
        '<h2 id="records">帮扶记录<a class="headerlink" href="#records" title="Link">&para;</a></h2>'
        '<p class="yd-meta yd-provenance" data-provenance>最后修改:学校办公室,2026-11-29(提交 2eab603)</p>'
        "<p>谈话内容</p>"
    )
    doc = search_doc("students/S2024010/", "麦晓彤", html)
    assert doc["x"] == "高三(2)班 · 帮扶中 帮扶记录 谈话内容"
    assert doc["x"][: doc["l"]] == "高三(2)班 · 帮扶中"
    assert (doc["r"], doc["t"]) == ("students/S2024010/", "麦晓彤")
