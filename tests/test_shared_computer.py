"""A shared office computer: what the protected site leaves in the browser after a reader.

Real Chromium with a persistent profile on disk, as a school's PC has: the
session must end with the tab, and the profile must hold no student's name or
id — not in web storage, not in the history, session or autofill files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .browser import CHROMIUM, CHROMIUM_ARGS, serve_folder, wait_until
from .conftest import SAMPLE
from .site_helpers import active, current, read_facts
from .site_reader import login
from .test_protect import CREDS, _login
from .test_site import DAY

STORAGE = """async () => ({
  local: Object.keys(localStorage),
  session: Object.keys(sessionStorage),
  indexeddb: (await indexedDB.databases()).map((d) => d.name),
  caches: self.caches ? await caches.keys() : [],
  workers: navigator.serviceWorker ? (await navigator.serviceWorker.getRegistrations()).length : 0,
  cookies: document.cookie,
})"""
EMPTY = {"local": [], "session": [], "indexeddb": [], "caches": [], "workers": 0, "cookies": ""}


def _mentees(teacher: str) -> list[str]:
    facts = read_facts(SAMPLE)
    return sorted(
        sid
        for sid, p in facts.profiles.items()
        if active(p) and any(m["teacher"] == teacher and current(m, DAY) for m in p["mentors"])
    )


def _needles() -> dict[str, bytes]:
    """Every student's name and id, as UTF-8 and as UTF-16 (Chromium keeps both)."""
    facts = read_facts(SAMPLE)
    words = {p["name"] for p in facts.profiles.values()} | set(facts.profiles)
    return {f"{w} ({enc})": w.encode(enc) for w in words for enc in ("utf-8", "utf-16-le")}


def _found_in(folder: Path, needles: dict[str, bytes]) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path.relative_to(folder)}: {what}" for what, b in needles.items() if b in data]
    return hits


def _profile(playwright, folder: Path):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch_persistent_context(
        str(folder), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )


def test_closing_the_browser_ends_the_session_and_leaves_no_name(
    protected_sample: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    site = protected_sample

    mentees = _mentees("T015")
    folder = tmp_path / "profile"
    with serve_folder(site) as url, sync_playwright() as p:
        browser = _profile(p, folder)
        page = browser.pages[0] if browser.pages else browser.new_page()
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=students]")
        for n in range(len(mentees)):  # open each mentee as a teacher would, from the home list
            page.locator("[data-group=students] a").nth(n).click()
            page.wait_for_selector("#yd-page [data-section=profile]")
            page.go_back()
            page.wait_for_selector("[data-group=students]")
        name = page.locator("[data-group=students] a").first.inner_text()
        page.fill("#yd-search input", name)  # and looks one up by name
        page.press("#yd-search input", "Enter")
        page.wait_for_selector("#yd-page .yd-results")
        browser.close()  # the browser closed without 退出登录

        browser = _profile(p, folder)
        page = browser.pages[0] if browser.pages else browser.new_page()
        page.goto(url)
        page.wait_for_selector("#yd-login:not([hidden])")
        assert page.inner_text("#yd-page") == ""
        assert page.evaluate(STORAGE) == EMPTY
        browser.close()
    history = (folder / "Default" / "History").read_bytes()
    assert b"127.0.0.1" in history  # the profile did record the visits: the scan below is real
    assert _found_in(folder, _needles()) == []


ATTACKER = """<!doctype html><meta charset="utf-8"><title>x</title><script>
window.found = (async () => {
  const out = {local: Object.keys(localStorage), session: Object.keys(sessionStorage), indexeddb: []};
  for (const d of await indexedDB.databases()) {
    const db = await new Promise((ok) => {
      const r = indexedDB.open(d.name); r.onsuccess = () => ok(r.result);
    });
    for (const store of db.objectStoreNames) {
      const all = await new Promise((ok) => {
        const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => ok(r.result);
      });
      out.indexeddb.push([d.name, store, all.length]);
    }
  }
  return out;
})();
</script>"""


def test_another_local_file_reads_nothing(protected_sample: Path, tmp_path: Path) -> None:
    """Opened from disk, every file:// page shares one origin: another local page in the same
    browser, while a reader is logged in, finds no session, key or index to take."""
    from playwright.sync_api import sync_playwright

    site = protected_sample

    attacker = tmp_path / "attack.html"
    attacker.write_text(ATTACKER, encoding="utf-8")
    with sync_playwright() as p:
        browser = _profile(p, tmp_path / "profile")
        page = browser.pages[0] if browser.pages else browser.new_page()
        _login(page, (site / "index.html").as_uri(), "T015")
        page.wait_for_selector("[data-group=students]")
        page.locator("[data-group=students] a").first.click()
        page.wait_for_selector("#yd-page [data-section=profile]")
        other = browser.new_page()
        other.goto(attacker.as_uri())
        found = other.evaluate("window.found")
        assert found == {"local": [], "session": [], "indexeddb": []}
        assert wait_until(page, "!!document.querySelector('#yd-page [data-section=profile]')")  # still in
        browser.close()


@pytest.mark.parametrize("where", ["http", "file"])
def test_csp_lets_the_site_work_and_refuses_injected_script(protected_sample: Path, where: str) -> None:
    from playwright.sync_api import sync_playwright

    site = protected_sample

    from generator.protect.seal import CSP

    html = (site / "index.html").read_text(encoding="utf-8")
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    assert "<script>" not in html  # no inline script at all: nothing for an attacker to hide among
    with serve_folder(site) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        # Collect every violation from the first moment (an init script is not subject to CSP).
        page.add_init_script(
            "window.__csp = []; document.addEventListener('securitypolicyviolation',"
            " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        _login(page, url if where == "http" else (site / "index.html").as_uri(), "T008")
        page.wait_for_selector("[data-group=students]")
        page.locator("[data-group=students] a").first.click()
        page.wait_for_selector("#yd-page [data-section=profile]")
        page.fill("#yd-search input", "谈话")
        page.press("#yd-search input", "Enter")
        page.wait_for_selector("#yd-page .yd-results")
        assert page.evaluate("window.__csp") == []  # the site works under its policy
        page.evaluate(
            "const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
            " document.body.appendChild(s);"
            " document.querySelector('#yd-page').insertAdjacentHTML('beforeend',"
            " '<img src=x onerror=\"window.__ran = 2\">');"
        )
        violations = wait_until(page, "window.__csp.length >= 2 && window.__csp")
        assert page.evaluate("window.__ran") is None
        assert all(v.startswith("script-src") for v in violations), violations  # type: ignore[union-attr]
        browser.close()


# Every value reachable from the page's scripts after a session: a walk over what ``window``
# holds (own properties, array items, Map and Set entries), the DOM left out (its text is read
# on its own). Strings are searched for the session's words; arrays are compared with the
# session's chart series.
REACHABLE = """([words, series]) => {
  const wanted = new Set(series.map((s) => JSON.stringify(s)));
  const seen = new Set();
  const queue = [];
  const hits = [];
  for (const k of Object.getOwnPropertyNames(window)) {
    try { queue.push([k, window[k]]); } catch (e) { /* a getter that throws */ }
  }
  let at = 0;
  for (; at < queue.length && at < 400000; at++) {
    const [path, v] = queue[at];
    if (typeof v === "string") {
      for (const w of words) if (v.includes(w)) hits.push(`${path}: ${w}`);
      continue;
    }
    if (v === null || (typeof v !== "object" && typeof v !== "function") || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Node || v === window) continue;
    const numbers = Array.isArray(v) && v.length > 2 && v.every((x) => x === null || typeof x === "number");
    if (numbers && wanted.has(JSON.stringify(v))) hits.push(`${path}: series`);
    let keys = [];
    try { keys = Object.getOwnPropertyNames(v); } catch (e) { continue; }
    for (const k of keys) {
      let x;
      try { x = v[k]; } catch (e) { continue; }
      queue.push([`${path}.${k}`, x]);
    }
    try {
      if (v instanceof Map) for (const [k, x] of v) queue.push([`${path}<value>`, x], [`${path}<key>`, k]);
      if (v instanceof Set) for (const x of v) queue.push([`${path}<item>`, x]);
    } catch (e) { /* a foreign object */ }
  }
  return { hits, walked: at };
}"""
CHARTS = """() => [...document.querySelectorAll('#yd-page [_echarts_instance_]')].map((el) => {
  const o = window.echarts.getInstanceByDom(el).getOption();
  const axes = [...(o.xAxis || []), ...(o.yAxis || [])].filter((a) => a.type === 'category');
  return { id: el.getAttribute('_echarts_instance_'), words: axes.flatMap((a) => a.data),
           series: o.series.map((s) => s.data) };
})"""
AFTER = """(ids) => ({
  instances: ids.filter((id) => window.echarts.getInstanceById(id)),
  elements: document.querySelectorAll('[_echarts_instance_]').length,
  user: document.querySelector('#yd-user').value,
  pass: document.querySelector('#yd-pass').value,
  text: document.body.innerText,
})"""


@pytest.mark.parametrize("how", ["logout", "idle"])
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_logout_leaves_nothing_of_the_session_reachable(
    protected_sample: Path, screen: str, how: str
) -> None:
    """Leadership opens the dashboard and a class page (charts of teachers', classes' and
    students' rates), then logs out or is logged out for being idle. The next person at the
    same tab, with the console, finds no chart in ECharts' registry (not even by the ids the
    charts had), no chart element, no global holding a name or a series of rates, nothing of
    them in the page's text, and no teacher id left in the login form."""
    from playwright.sync_api import sync_playwright

    facts = read_facts(SAMPLE)
    leader = login(protected_sample, "T001", CREDS["T001"])
    viewport = {"width": 390, "height": 844} if screen == "phone" else {"width": 1280, "height": 900}
    with serve_folder(protected_sample) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(viewport=viewport).new_page()
        page.clock.install()
        _login(page, url, "T001")
        page.wait_for_selector("#yd-logout:not([hidden])")
        drawn = []
        for route in ("dashboard/", "classes/G2-01/"):
            token = leader.token(route)
            page.goto(f"{url}#/{token}")
            page.wait_for_selector(f'#yd-page[data-route="{token}"] figure.yd-chart[data-drawn="1"]')
            drawn += page.evaluate(CHARTS)
        words = {w for c in drawn for w in c["words"] if len(w) >= 2}
        series = [s for c in drawn for s in c["series"] if len(s) > 2]
        names = {p["name"] for p in facts.profiles.values()} | {t["name"] for t in facts.teachers}
        assert words & names and series  # the charts did show names and rates
        assert page.evaluate(REACHABLE, [sorted(words), series])["hits"]  # the walk finds them now
        if how == "logout":
            page.click("#yd-logout")
        else:
            page.clock.fast_forward("31:00")  # idle_minutes is 30
        page.wait_for_selector("#yd-login:not([hidden])")
        assert ("自动退出" in page.inner_text("#yd-error")) == (how == "idle")
        after = page.evaluate(AFTER, [c["id"] for c in drawn])
        assert after["instances"] == [] and after["elements"] == 0
        assert after["user"] == "" and after["pass"] == ""
        assert [w for w in words | names if w in after["text"]] == []
        found = page.evaluate(REACHABLE, [sorted(words | names), series])
        assert found["hits"] == [] and found["walked"] > 1000, found
        browser.close()
