"""The protected site, in a real browser (Playwright + Debian's Chromium), and on disk."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from generator.core.crypto import CryptoError
from generator.protect import access
from generator.protect import audit as audit_module
from generator.protect.audit import CHUNK, PIECE, RUN, Needles, audit

from .browser import chromium, serve_folder, wait_until
from .conftest import REPO, SAMPLE
from .site_helpers import active, current, read_facts, title_of
from .site_reader import Reader, login, open_blob
from .test_site import DAY, write_config

SITE_NAME = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["site_name"]
DEMO = {
    c["user"]: c["passphrase"]
    for c in yaml.safe_load((SAMPLE / "access/demo-credentials.yml").read_text(encoding="utf-8"))
}
INTAKE_PASSPHRASE = DEMO.pop("intake")  # the school's intake key, not a reader
CREDS = DEMO  # the demo readers' logins


@pytest.fixture(scope="module")
def site(protected_sample: Path) -> Path:
    return protected_sample


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    with chromium() as b:
        yield b


def _login(page, url: str, user: str, passphrase: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.fill("#yd-user", user)
    page.fill("#yd-pass", passphrase or CREDS[user])
    page.click("#yd-login button[type=submit]")


def _reader(site: Path, user: str) -> Reader:
    return login(site, user, CREDS[user])


def _open(page, url: str, reader: Reader, route: str) -> str:  # type: ignore[no-untyped-def]
    """Open ``route`` the way a bookmark would (its opaque token); returns the page's h1."""
    token = reader.token(route) if route in reader.routes else "none"
    page.goto(f"{url}#/{token}")
    page.wait_for_selector(f'#yd-page[data-route="{token}"]:not([hidden])')
    return page.inner_text("#yd-page h1")


# --- on disk -----------------------------------------------------------------


def test_published_files_are_opaque(site: Path) -> None:
    facts = read_facts(SAMPLE)
    rel = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    top = {r.split("/")[0] for r in rel}
    assert top == {"index.html", "yidang-shell.js", "assets", "d", "k"}
    assert not (site / "sitemap.xml").exists() and not (site / "search").exists()
    assert len(list((site / "k").iterdir())) == len(CREDS)
    names = {p["name"] for p in facts.profiles.values()} | set(facts.profiles)
    assert not any(n in r for r in rel for n in names)
    assert audit(site, SAMPLE) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_audit_finds_a_planted_leak(
    site: Path, tmp_path: Path, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planted in a copy of the site: record text of a student read early and of one read
    last (by the second of two workers, when the records are read in parallel), and a name."""
    monkeypatch.setattr(audit_module, "PARALLEL_STUDENTS", 1)
    monkeypatch.setattr(audit_module.os, "cpu_count", lambda: workers)
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    facts = read_facts(SAMPLE)
    planted = []
    for sid in ("S2024002", "S2026010"):
        record = next(iter(sorted((SAMPLE / f"students/{sid}/records").glob("*.md"))))
        sentence = record.read_text(encoding="utf-8").split("---\n", 2)[2].strip().splitlines()[0][:14]
        (copy / "assets" / f"notes-{sid}.txt").write_text(f"…{sentence}…", encoding="utf-8")
        planted.append(f"assets/notes-{sid}.txt: contains text from students/{sid}/records/{record.name}")
    (copy / "d" / "leak.js").write_text(
        f'__yd("ab","{facts.profiles["S2024001"]["name"]}");\n', encoding="utf-8"
    )
    found = {h.text() for h in audit(copy, SAMPLE)}
    assert set(planted) <= found
    assert "d/leak.js: contains the name of student S2024001" in found


def test_audit_finds_a_run_of_record_text_cut_at_any_offset(tmp_path: Path) -> None:
    """The audit looks for runs only in the lines of record text that share a piece with the
    files it reads (a full build's 150,000 records made millions of runs): a run cut from any
    offset of a line, inside a minified script's one long line, is still found."""
    record = next(iter(sorted((SAMPLE / "students/S2025003/records").glob("*.md"))))
    line = max(record.read_text(encoding="utf-8").split("---\n", 2)[2].splitlines(), key=len).strip()
    assert len(line) >= RUN + 2 * PIECE
    for offset in range(2 * PIECE + 1):
        run = line[offset : offset + RUN]
        site = tmp_path / f"site-{offset}"
        (site / "assets").mkdir(parents=True)
        (site / "assets" / "bundle.js").write_text(
            "var a=1;" * 2000 + run + "b" * 500 + "搜索", encoding="utf-8"
        )
        found = [h.text() for h in audit(site, SAMPLE)]
        assert any(h.startswith("assets/bundle.js: contains text from students/") for h in found), (
            offset,
            run,
        )
    (site / "assets" / "bundle.js").write_text("var a=1;" + line[: RUN - 1] + "b", encoding="utf-8")
    assert audit(site, SAMPLE) == []  # one character short of a run: nothing


def test_audit_finds_names_across_its_chunks() -> None:
    """Large files are scanned in chunks: a name or phone cut by a chunk's end is still found."""
    found = Needles({"张小明": "a name", "13800001111": "a phone", "S1": "an id"}, {})
    for cut in range(1, 4):
        text = "x" * (CHUNK - cut) + "张小明" + "y" * (CHUNK - 5) + "13800001111" + "z"
        assert found.found_in(text) == {"张小明", "13800001111"}  # "S1": file names only
    assert found.found_in("张小 13800001112") == set()
    # inside a minified script's tokens and quotes, as a substring
    assert found.found_in('var a="x1380000111122";b=张小明的') == {"张小明", "13800001111"}
    # file names: short ids count there too
    assert found.in_name("d/S1-张小明.js") == ["a name", "an id"]
    assert found.in_name("d/0a1b2c.js") == []


# --- in the browser ------------------------------------------------------------


def test_leadership_reads_every_student(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    facts = read_facts(SAMPLE)
    with serve_folder(site) as url:
        page = browser.new_page()
        _login(page, url, "T001")
        page.wait_for_selector("#yd-logout:not([hidden])")
        reader = _reader(site, "T001")
        for sid in facts.profiles:
            assert _open(page, url, reader, f"students/{sid}/") == title_of(facts, sid)
            assert page.title() == SITE_NAME  # never the student's name: titles go into the history
            assert sid not in page.url
        assert _open(page, url, reader, "dashboard/") == "仪表盘"
        page.close()


def test_a_page_asked_for_while_the_home_page_loads_is_the_one_shown(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    """A bookmark or link followed before the home page after the login has been decrypted:
    the slower home page, when it is ready, must not draw over the page asked for last."""
    leader = _reader(site, "T001")
    todo = leader.routes["todo.json"][0]  # the home page waits for the school's to-do list
    held: list = []  # type: ignore[type-arg]
    with serve_folder(site) as url:
        page = browser.new_page()
        page.route(f"**/d/{todo}.js", lambda r: held.append(r) if not held else r.continue_())
        with page.expect_request(f"**/d/{todo}.js"):
            _login(page, url, "T001")
        token = leader.token("teachers/T008/")
        page.goto(f"{url}#/{token}")
        page.wait_for_selector(f'#yd-page[data-route="{token}"]:not([hidden])')
        assert held and page.locator(".yd-todo").count() == 0  # the home page is still waiting
        page.evaluate(
            """() => { window.drawn = [];
                new MutationObserver(() => drawn.push(document.querySelector('#yd-page h1').textContent))
                  .observe(document.querySelector('#yd-page'), {childList: true}); }"""
        )
        held[0].continue_()  # the home page's to-do list arrives, after the teacher's page
        page.goto(f"{url}#/")  # then the reader goes home: it is drawn once, by that visit
        page.wait_for_selector('#yd-page[data-route=""] .yd-todo')
        assert page.evaluate("drawn") == [page.inner_text("#yd-page h1")]
        page.close()


def test_mentor_reads_exactly_their_mentees(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    facts = read_facts(SAMPLE)
    mentees = {
        sid
        for sid, p in facts.profiles.items()
        if active(p) and any(m["teacher"] == "T015" and current(m, DAY) for m in p["mentors"])
    }
    with serve_folder(site) as url:
        page = browser.new_page()
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=students]")
        listed = set(page.locator("[data-group=students] li > a").all_inner_texts())
        assert listed == {title_of(facts, s) for s in mentees}
        reader = _reader(site, "T015")
        for sid in mentees:
            assert _open(page, url, reader, f"students/{sid}/") == title_of(facts, sid)
        # A leader's bookmark of another student, or of the dashboard, opens nothing for T015.
        leader = _reader(site, "T001")
        other = next(s for s in facts.profiles if s not in mentees)
        for route in (f"students/{other}/", "dashboard/"):
            page.goto(f"{url}#/{leader.token(route)}")
            page.wait_for_selector(f'#yd-page[data-route="{leader.token(route)}"]')
            assert page.inner_text("#yd-page h1") == "无权查看"
            assert "您没有查看此页面的权限" in page.inner_text("#yd-page")
        page.close()


def test_wrong_passphrase_is_refused(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    with serve_folder(site) as url:
        page = browser.new_page()
        _login(page, url, "T015", access.new_passphrase())
        wait_until(page, "document.querySelector('#yd-error').textContent.includes('不正确')")
        assert page.locator("#yd-page").is_hidden()
        _login(page, url, "T999", CREDS["T015"])
        wait_until(page, "document.querySelector('#yd-error').textContent.includes('不正确')")
        page.close()


def test_photo_and_booklet_open_after_login(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    with serve_folder(site) as url:
        page = browser.new_page()
        _login(page, url, "T008")  # head teacher of G2-01: S2025003 is in the class
        page.wait_for_selector("#yd-logout:not([hidden])")
        _open(page, url, _reader(site, "T008"), "students/S2025003/")
        # The one plaintext copy a reader can make is announced beside its button.
        note = page.locator("[data-booklet=S2025003] ~ [data-note=plaintext]").inner_text()
        assert "未加密" in note
        page.locator("#yd-page img").first.scroll_into_view_if_needed()  # photos load lazily
        wait_until(
            page,
            "[...document.querySelectorAll('#yd-page img')]"
            ".some(i => i.src.startsWith('blob:') && i.naturalWidth > 0)",
        )
        with page.expect_download() as info:
            page.click("[data-booklet=S2025003]")
        assert Path(info.value.path()).read_bytes()[:5] == b"%PDF-"
        assert "S2025003" not in info.value.suggested_filename  # the browser keeps download names
        page.close()


def test_session_lives_in_the_page_only(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    """Moving between pages keeps the session; a reload, a new tab, logout and idle end it."""
    with serve_folder(site) as url:
        context = browser.new_context()
        page = context.new_page()
        page.clock.install()
        _login(page, url, "T015")
        page.wait_for_selector("[data-group=students]")
        page.locator("[data-group=students] a").first.click()
        page.wait_for_selector("#yd-page [data-section=profile]")
        bookmark = page.url
        page.go_back()
        page.wait_for_selector("[data-group=students]")  # still logged in
        page.reload()
        page.wait_for_selector("#yd-login:not([hidden])")  # a reload asks again
        assert page.inner_text("#yd-page") == ""
        other = context.new_page()
        other.goto(bookmark)
        other.wait_for_selector("#yd-login:not([hidden])")  # so does a new tab
        _login(other, bookmark, "T015")
        other.wait_for_selector("#yd-page [data-section=profile]")  # the bookmark's page, after login
        other.close()
        _login(page, url, "T015")
        page.wait_for_selector("#yd-logout:not([hidden])")
        page.clock.fast_forward("31:00")  # idle_minutes is 30
        page.wait_for_selector("#yd-login:not([hidden])")
        assert "自动退出" in page.inner_text("#yd-error")
        _login(page, url, "T015")
        page.wait_for_selector("#yd-logout:not([hidden])")
        page.click("#yd-logout")
        page.wait_for_selector("#yd-login:not([hidden])")
        assert page.inner_text("#yd-page") == ""
        context.close()


def test_a_blob_copied_over_another_pages_file_is_refused(site: Path, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A page's blob file replaced by another page's (a careless copy, or files swapped on
    purpose) is refused with a message in Chinese that says so; the page never waits for it
    forever. With the id inside the file changed to match, it does not decrypt: the blob's id
    and route are its associated data, so it opens only as itself, under its own route."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    reader = _reader(copy, "T008")  # head teacher of G2-01
    own, other = sorted(r for r in reader.routes if r.startswith("students/") and r.endswith("/"))[:2]
    mine, theirs = reader.routes[own][0], reader.routes[other][0]
    with pytest.raises(CryptoError):  # the right key and id, another route: refused
        open_blob(copy, theirs, reader.keys[reader.routes[other][2]], own)
    swapped = (copy / "d" / f"{theirs}.js").read_text(encoding="ascii")
    labels = yaml.safe_load((REPO / "site_templates/labels/zh.yml").read_text(encoding="utf-8"))["protect"]
    with serve_folder(copy) as url:
        for content, said in (
            (swapped, labels["blob_mismatch"]),  # names another blob
            (swapped.replace(theirs, mine), labels["blob_damaged"]),  # names this one: does not open
        ):
            (copy / "d" / f"{mine}.js").write_text(content, encoding="ascii")
            context = browser.new_context()  # nothing cached from the last round
            page = context.new_page()
            _login(page, url, "T008")
            page.wait_for_selector("#yd-logout:not([hidden])")
            token = reader.token(own)
            page.goto(f"{url}#/{token}")
            page.wait_for_selector(f'#yd-page[data-route="{token}"][data-view="error"]')
            assert page.inner_text("#yd-page .yd-blob-error") == said
            assert page.locator("[data-section=profile]").count() == 0
            page.click("#yd-page a[href='#/']")  # still logged in: home is a click away
            page.wait_for_selector("[data-group=students]")
            context.close()


def test_a_swapped_photo_or_booklet_says_so_where_it_would_be(site: Path, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A photo's and a booklet's blob file replaced by another student's: the page says so in
    Chinese where the photo would be, and beside the booklet's link, instead of nothing."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    reader = _reader(copy, "T008")
    own = "students/S2025003/"
    photo = next(r for r in reader.routes if r.startswith(own) and reader.routes[r][1] == "image")
    other_pdf = next(r for r in reader.routes if reader.routes[r][1] == "pdf" and "S2025003" not in r)
    for mine, theirs in ((photo, own), ("booklets/S2025003.pdf", other_pdf)):  # another blob's file
        blobs = copy / "d"
        shutil.copy(blobs / f"{reader.routes[theirs][0]}.js", blobs / f"{reader.routes[mine][0]}.js")
    said = yaml.safe_load((REPO / "site_templates/labels/zh.yml").read_text(encoding="utf-8"))["protect"]
    with serve_folder(copy) as url:
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        _login(page, url, "T008")
        page.wait_for_selector("#yd-logout:not([hidden])")
        page.goto(f"{url}#/{reader.token(own)}")
        page.wait_for_selector("#yd-page [data-section=profile]")
        page.wait_for_selector("#yd-page img + .yd-blob-error")
        assert page.inner_text("#yd-page img + .yd-blob-error") == said["blob_mismatch"]
        page.click("#yd-page a[data-file]")
        page.wait_for_selector("#yd-page a[data-file] + .yd-blob-error")
        assert page.inner_text("#yd-page a[data-file] + .yd-blob-error") == said["blob_mismatch"]
        context.close()


def test_works_from_file_url(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    _login(page, (site / "index.html").as_uri(), "T015")
    page.wait_for_selector("[data-group=students]")
    page.locator("[data-group=students] a").first.click()
    page.wait_for_selector("#yd-page [data-section=profile]")
    page.close()


def test_planted_script_does_not_run(tiny: Path, tmp_path: Path, browser, run) -> None:  # type: ignore[no-untyped-def]
    talk = tiny / "students/S1/records/2026-03-05-talk.md"
    talk.write_text(
        talk.read_text(encoding="utf-8").replace(
            "topic: 开学适应", 'topic: "<img src=x onerror=window.__pwned=1>"'
        )
        + '\n<script>window.__pwned = 2</script>\n\n<img src=y onerror="window.__pwned=3">\n',
        encoding="utf-8",
    )
    account, passphrase = access.create("T2")
    access.save(tiny, account)
    config = write_config(tmp_path, tiny, protect=True)
    built = run("build", "--config", config, "--site-dir", tmp_path / "site")
    assert built.exit_code == 0, built.output
    with serve_folder(tmp_path / "site") as url:
        page = browser.new_page()
        _login(page, url, "T2", passphrase)
        page.wait_for_selector("#yd-logout:not([hidden])")
        # _open waits for the page drawn under its route (show() sets data-route last), so it
        # is finished: no handler or script in it, so nothing planted can run later either.
        assert _open(page, url, login(tmp_path / "site", "T2", passphrase), "students/S1/") == "测试学生"
        handlers = page.evaluate("""[...document.querySelectorAll('#yd-page *')]
            .flatMap((e) => [...e.attributes].map((a) => a.name)).filter((n) => n.startsWith('on'))""")
        assert handlers == []
        assert page.locator("#yd-page script, #yd-page img").count() == 0  # both stripped; S1 has no photo
        assert page.evaluate("window.__pwned") is None
        assert "<img src=x onerror" in page.inner_text("#yd-page")  # shown as text
        page.close()


def test_build_without_accounts_is_refused(tiny: Path, tmp_path: Path, run) -> None:
    result = run(
        "build", "--config", write_config(tmp_path, tiny, protect=True), "--site-dir", tmp_path / "site"
    )
    assert result.exit_code == 1
    assert "no reader accounts" in result.output
    assert not (tmp_path / "site").exists()


def _phrase(sid: str) -> str:
    """A run of 6 Chinese characters from the middle of one of the student's records."""
    for record in sorted((SAMPLE / "students" / sid / "records").glob("*.md")):
        body = record.read_text(encoding="utf-8").split("---\n", 2)[2]
        for run in re.findall(r"[\u4e00-\u9fff]{10,}", body):
            return run[2:8]
    raise AssertionError(sid)


def test_search_finds_only_what_the_reader_may_read(site: Path, browser) -> None:  # type: ignore[no-untyped-def]
    mine, other = _phrase("S2025002"), _phrase("S2025003")  # T015 mentors S2025002, not S2025003
    with serve_folder(site) as url:
        page = browser.new_page()
        _login(page, url, "T015")
        page.wait_for_selector("#yd-search:not([hidden])")
        page.fill("#yd-search input", mine)
        page.press("#yd-search input", "Enter")
        page.wait_for_selector("#yd-page .yd-results")
        assert page.locator('.yd-results li[data-route="students/S2025002/"]').count() == 1
        assert mine not in page.url and "search" in page.url  # the words stay out of the history
        page.fill("#yd-search input", mine[:2])  # any 2-character run is enough
        page.press("#yd-search input", "Enter")
        page.wait_for_selector(f'.yd-results li[data-route="students/S2025002/"] >> text=/{mine[:2]}/')
        page.fill("#yd-search input", other)
        page.press("#yd-search input", "Enter")
        page.wait_for_selector("#yd-page .yd-results-none")
        page.close()


def test_unprotected_build_warns_loudly(tiny: Path, tmp_path: Path, run) -> None:
    config = write_config(tmp_path, tiny, protect=True)
    result = run("build", "--unprotected", "--config", config, "--site-dir", tmp_path / "site")
    assert result.exit_code == 0
    assert "WARNING: this site is NOT protected" in result.output
    assert "未加密" in result.output
    assert "测试学生" in (tmp_path / "site/students/S1/index.html").read_text(encoding="utf-8")
    assert run("audit", tmp_path / "site", "--archive", tiny).exit_code == 1
