"""Readers of the protected site: exactly the rights the archive gives them now, keys
that stop working when access shrinks, and keyrings and blobs that say nothing about
who reads how much.

The sample has a mentor change (S2025008: T010 until 2026-10-14, then T009) and a
closed case (S2024007 in G3-05, head teacher T013, mentored by T013 until it closed).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from generator.core import crypto
from generator.protect import access
from generator.protect.seal import bucket, pad, unpad

from .browser import chromium, serve_folder
from .conftest import SAMPLE
from .site_helpers import active, current, read_facts
from .site_reader import BLOB, Reader, login, opens_nothing, site_config
from .test_protect import CREDS, _login, _open
from .test_site import DAY, write_config

FORMER_MENTOR, MOVED = "T010", "S2025008"
HEAD_OF_CLOSED, CLOSED = "T013", "S2024007"


@pytest.fixture(scope="module")
def readers_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The sample with two more accounts: the former mentor, and the head teacher of the
    class with the closed case (who also mentored it)."""
    from click.testing import CliRunner

    from generator.cli import main

    work = tmp_path_factory.mktemp("readers")
    archive = work / "archives"
    shutil.copytree(SAMPLE, archive)
    passphrases = dict(CREDS)
    for teacher in (FORMER_MENTOR, HEAD_OF_CLOSED):
        account, passphrases[teacher] = access.create(teacher)
        access.save(archive, account)
    config = write_config(work, archive, protect=True)
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--site-dir", str(work / "site")])
    assert result.exit_code == 0, result.output
    return work / "site", passphrases


def _may_read(teacher: str) -> set[str]:
    """What the rights say, read from the YAML alone: current mentees and the current students
    of the classes this teacher heads; closed cases for nobody but leadership."""
    facts = read_facts(SAMPLE)
    heads = {c["id"] for c in facts.classes if c["head_teacher"] == teacher}
    return {
        sid
        for sid, p in facts.profiles.items()
        if active(p)
        and (p["class"] in heads or any(m["teacher"] == teacher and current(m, DAY) for m in p["mentors"]))
    }


def _text(content: object) -> str:
    """What a reader could search a route's content for: bytes of a file (a photo, a
    booklet) as they are, anything else as its JSON."""
    if isinstance(content, bytes):
        return content.decode("latin-1")
    return json.dumps(content, ensure_ascii=False)


@pytest.mark.parametrize("teacher", [FORMER_MENTOR, HEAD_OF_CLOSED, "T008", "T015"])
def test_every_page_a_reader_opens_shows_only_students_they_may_read_now(  # type: ignore[no-untyped-def]
    readers_site, teacher: str
) -> None:
    site, passphrases = readers_site
    facts = read_facts(SAMPLE)
    allowed = _may_read(teacher)
    reader = login(site, teacher, passphrases[teacher])
    students = {r.split("/")[1] for r in reader.routes if r.startswith("students/")}
    assert students == allowed
    names = {sid: p["name"] for sid, p in facts.profiles.items()}
    hidden = {names[s] for s in names if s not in allowed} - {names[s] for s in allowed}
    hidden |= {s for s in names if s not in allowed}  # and their ids
    seen = {route: _text(content) for route, (_, _, content) in reader.everything().items()}
    leaks = [(route, word) for route, text in seen.items() for word in hidden if word in text]
    assert leaks == []  # no page, part, search shard, photo or booklet names them
    titles = {title for _, _, _, title, _ in reader.index.values()}
    assert not titles & hidden


def test_former_mentees_and_closed_cases_are_for_leadership_only(  # type: ignore[no-untyped-def]
    readers_site,
) -> None:
    site, passphrases = readers_site
    former = login(site, FORMER_MENTOR, passphrases[FORMER_MENTOR])
    head = login(site, HEAD_OF_CLOSED, passphrases[HEAD_OF_CLOSED])
    leader = login(site, "T001", passphrases["T001"])
    with serve_folder(site) as url, chromium() as browser:
        for teacher, reader, route, section, student in (
            (FORMER_MENTOR, former, f"teachers/{FORMER_MENTOR}/", "former", MOVED),
            (HEAD_OF_CLOSED, head, "classes/G3-05/", "closed", CLOSED),
        ):
            page = browser.new_page()
            _login(page, url, teacher, passphrases[teacher])
            page.wait_for_selector("#yd-logout:not([hidden])")
            _open(page, url, reader, route)
            assert page.locator(f"[data-list={section}]").count() == 0
            assert f"leadership/{route}" not in reader.routes
            page.close()
            page = browser.new_page()
            _login(page, url, "T001")
            page.wait_for_selector("#yd-logout:not([hidden])")
            _open(page, url, leader, route)
            row = page.locator(f'[data-list={section}] tr[data-student="{student}"]')
            assert row.count() == 1  # filled in from the leadership-only part
            page.close()


def _utf16(html: str, at: int) -> int:
    """A part's offset (UTF-16 code units, as JavaScript counts) as a Python string index."""
    return len(html.encode("utf-16-le")[: 2 * at].decode("utf-16-le"))


def _with_parts(html: str, parts: list[list[Any]]) -> str:
    """A page as leadership's browser assembles it: each sealed-apart part spliced in at its
    offset in the page without the parts."""
    for at, part in reversed(parts):
        cut = _utf16(html, at)
        html = html[:cut] + part + html[cut:]
    return html


def _seam(html: str, at: int) -> str:
    """The run of white space around ``at``: what meets where a part was cut out."""
    start, end = at, at
    while start and html[start - 1].isspace():
        start -= 1
    while end < len(html) and html[end].isspace():
        end += 1
    return html[start:end]


def test_a_page_shows_no_trace_of_a_part_cut_out(readers_site) -> None:  # type: ignore[no-untyped-def]
    """A class page without its closed cases, and a teacher page without the former mentees,
    are exactly leadership's page without those parts: no placeholder, no empty element, no
    marker, not even a different line break where the part was (compared with a page of the
    same kind that never had such a part)."""
    site, passphrases = readers_site
    leader = login(site, "T001", passphrases["T001"])
    for teacher, route, section, student in (
        (HEAD_OF_CLOSED, "classes/G3-05/", "closed", CLOSED),
        (FORMER_MENTOR, f"teachers/{FORMER_MENTOR}/", "former", MOVED),
    ):
        shown = login(site, teacher, passphrases[teacher]).open(route)["h"]
        parts = leader.open(f"leadership/{route}")
        assert leader.open(route)["h"] == shown  # one blob for both: the page without the parts
        whole = _with_parts(shown, parts)
        assert f'data-list="{section}"' in whole and f'data-student="{student}"' in whole  # leadership's
        assert f'data-list="{section}"' not in shown and student not in shown
        for trace in ("yd-part", "data-part", "<!--", "yd:leadership"):
            assert trace not in shown, (route, trace)
        empty = re.compile(r"<(\w+)\b[^>]*>\s*</\1>")  # cutting left no element emptied
        in_parts = Counter(e for _, part in parts for e in empty.findall(part))
        assert Counter(empty.findall(shown)) == Counter(empty.findall(whole)) - in_parts
        kind = route.split("/")[0]
        for at, _ in parts:
            cut = _utf16(shown, at)
            # A page of the same kind without such a part, where the same two things meet:
            # the end of the section before (a table, a chart), and the next section or the end.
            before, after = shown[:cut].rstrip()[-9:], shown[cut:].lstrip()[:14]
            pages = [
                leader.open(r)["h"]
                for r in sorted(leader.routes)
                if r.startswith(f"{kind}/")
                and leader.routes[r][1] == "page"
                and f"leadership/{r}" not in leader.routes
            ]
            sibling, there = next(
                (h, pos)
                for h in pages
                for pos in [h.find(after) if after else len(h.rstrip())]
                if pos >= 0 and h[:pos].rstrip().endswith(before)
            )
            assert _seam(shown, cut) == _seam(sibling, there), route


def test_reset_remove_and_rotate_leave_old_keys_opening_nothing(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "archives"
    shutil.copytree(SAMPLE, archive)
    config = write_config(tmp_path, archive, protect=True)
    site = tmp_path / "site"

    def build(*extra: str) -> str:
        result = run("build", "--config", config, "--site-dir", site, *extra)
        assert result.exit_code == 0, result.output
        return result.output

    def now() -> Reader:  # leadership, for the routes of this build's blobs
        return login(site, "T001", CREDS["T001"])

    build()
    mentor = login(site, "T015", CREDS["T015"]).keys
    head = login(site, "T008", CREDS["T008"]).keys
    leader = login(site, "T001", CREDS["T001"]).keys
    reset = run("access", "passwd", "T015", "--reset", "--archive", archive)
    assert reset.exit_code == 0 and "new content keys" in reset.output
    assert "new content keys" in build()
    assert opens_nothing(site, mentor, now())  # keys taken before the reset open nothing now
    assert not opens_nothing(site, head, now())  # scopes T015 could not read kept their keys
    with pytest.raises(Exception):  # noqa: B017 - the old passphrase finds no keyring
        login(site, "T015", CREDS["T015"])
    assert run("access", "remove", "T008", "--yes", "--archive", archive).exit_code == 0
    build()
    assert opens_nothing(site, head, now())
    assert not opens_nothing(site, leader, now())
    assert "new content keys" in build("--rotate-keys")
    assert opens_nothing(site, leader, now())  # everything has new keys


def test_keyrings_say_neither_whose_nor_how_much(readers_site) -> None:  # type: ignore[no-untyped-def]
    site, passphrases = readers_site
    config = site_config(site)
    rings = sorted((site / "k").glob("*.js"))
    assert len(rings) == len(passphrases)
    assert len({p.stat().st_size for p in rings}) == 1  # leadership's and a mentor's alike
    names = {p.stem for p in rings}
    teachers = [t["id"] for t in read_facts(SAMPLE).teachers]
    guesses = {hashlib.sha256(f"{config['salt']}|{t}".encode()).hexdigest()[:32] for t in teachers}
    assert not names & guesses  # the published salt and a teacher id do not find a keyring
    ring = json.loads(crypto.unb64(BLOB.fullmatch(rings[0].read_text()).group(2)))  # type: ignore[union-attr]
    assert set(ring) == {
        "priv",
        "sign",
        "epk",
        "key",
        "ring",
    }  # one wrapped key, whatever the reader may read


def test_blobs_are_padded_to_buckets(readers_site) -> None:  # type: ignore[no-untyped-def]
    site, _ = readers_site
    sizes = []
    for path in (site / "d").glob("*.js"):
        sealed = crypto.unb64(BLOB.fullmatch(path.read_text()).group(2))  # type: ignore[union-attr]
        plain = len(sealed) - 12 - 16  # IV and tag
        assert bucket(plain) == plain, path
        sizes.append(plain)
    assert min(sizes) == 1024 and len(set(sizes)) < len(sizes) / 3


def test_buckets() -> None:
    assert [bucket(n) for n in (0, 1024, 1025, 1152, 1153, 2048, 2049, 100_000)] == [
        1024,
        1024,
        1152,
        1152,
        1280,
        2048,
        2304,
        106_496,
    ]
    assert all(bucket(n) <= n * 1.125 for n in range(1024, 300_000, 97))
    data = "谈话记录".encode()
    assert len(pad(data)) == 1024 and unpad(pad(data)) == data
    assert unpad(pad(data, 4096)) == data and len(pad(data, 4096)) == 4096


def test_reader_index_routes_are_opaque(readers_site) -> None:  # type: ignore[no-untyped-def]
    site, passphrases = readers_site
    reader: Reader = login(site, "T015", passphrases["T015"])
    again = login(site, "T001", passphrases["T001"])
    for token, entry in reader.index.items():
        assert len(token) == 16 and all(c in "0123456789abcdef" for c in token)
        assert again.token(entry[4]) == token  # one token per route in a build: bookmarks work
