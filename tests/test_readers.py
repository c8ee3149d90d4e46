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
from generator.protect import access, keyring
from generator.protect.seal import bucket, pad, unpad

from .browser import chromium, serve_folder
from .conftest import SAMPLE
from .site_helpers import active, current, read_facts
from .site_reader import BLOB, Reader, login, opens_nothing, site_config
from .test_protect import CREDS, _login, _open
from .test_site import DAY, write_config

FORMER_MENTOR, MOVED = "T010", "S2025008"
HEAD_OF_CLOSED, CLOSED = "T013", "S2024007"


def _account_made_before(teacher: str) -> tuple[access.Account, str]:
    """An account file as yidang made them before hardened keyrings (as a school's existing
    ones are): a random PBKDF2 salt, and ``lookup`` a fast hash of the teacher id and
    passphrase."""
    passphrase = access.new_passphrase()
    reading, signing = crypto.new_key_pair(), crypto.new_key_pair()
    locked = crypto.lock_private_key(reading.private_pkcs8, passphrase, access._aad(teacher))
    salt = crypto.unb64(str(locked["salt"]))
    sign = crypto.lock_private_key(signing.private_pkcs8, passphrase, access._sign_aad(teacher), salt)
    found = keyring.fast_lookup(teacher, passphrase)
    return access.Account(
        teacher, reading.public_raw, locked, "2026-09-01", found, signing.public_raw, sign
    ), passphrase


@pytest.fixture(scope="module")
def readers_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The sample with two more accounts: the former mentor (made by `yidang access add`'s
    code), and the head teacher of the class with the closed case, who also mentored it (an
    account file made before hardened keyrings)."""
    from click.testing import CliRunner

    from generator.cli import main

    work = tmp_path_factory.mktemp("readers")
    archive = work / "archives"
    shutil.copytree(SAMPLE, archive)
    passphrases = dict(CREDS)
    for teacher, make in ((FORMER_MENTOR, access.create), (HEAD_OF_CLOSED, _account_made_before)):
        account, passphrases[teacher] = make(teacher)
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


def _counselled(teacher: str) -> set[str]:
    """Students whose 心理辅导 records a teacher reads without being their mentor: every
    counselled student's for the counsellor role, else those they wrote one for. The
    counsellor role also has every open case's name on its page (counselling/), to write a
    first session: names, never anything of the file (the other checks here)."""
    facts = read_facts(SAMPLE)
    role = any(t["id"] == teacher and "counsellor" in t["roles"] for t in facts.teachers)
    found = (
        {sid for sid, p in facts.profiles.items() if p.get("status", "active") == "active"} if role else set()
    )
    for path in SAMPLE.glob("students/*/records/*-counselling.md"):
        if role or f"by: {teacher}\n" in path.read_text(encoding="utf-8"):
            found.add(path.parts[-3])
    return found


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
    known = allowed | _counselled(teacher)  # whose counselling a counsellor reads: by name, too
    hidden = {names[s] for s in names if s not in known} - {names[s] for s in known}
    hidden |= {s for s in names if s not in known}  # and their ids
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
                and r != f"{kind}/"  # a class's (a teacher's) page, not the list of them
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


def _keyring_files(site: Path) -> dict[str, dict[str, bytes]]:
    """Each keyring of a site: its file name → its fields, base64-decoded, and its JSON text."""
    out = {}
    for path in sorted((site / "k").glob("*.js")):
        text = crypto.unb64(BLOB.fullmatch(path.read_text()).group(2))  # type: ignore[union-attr]
        out[path.stem] = {k: crypto.unb64(v) for k, v in json.loads(text).items()} | {"json": text}
    return out


def _windows(data: bytes, size: int = 16) -> set[bytes]:
    return {data[i : i + size] for i in range(len(data) - size + 1)}


def test_keyrings_say_neither_whose_nor_how_much(readers_site) -> None:  # type: ignore[no-untyped-def]
    site, passphrases = readers_site
    config = site_config(site)
    rings = sorted((site / "k").glob("*.js"))
    assert len(rings) == len(passphrases)
    assert len({p.stat().st_size for p in rings}) == 1  # leadership's and a mentor's alike
    names = {p.stem for p in rings}
    teachers = [t["id"] for t in read_facts(SAMPLE).teachers]
    guesses = {hashlib.sha256(f"{config['salt']}|{t}".encode()).hexdigest()[:32] for t in teachers}
    guesses |= {keyring.name(config["salt"], hashlib.sha256(t.encode()).hexdigest()) for t in teachers}
    guesses |= {keyring.name(config["salt"], keyring.account_salt(t).hex() * 2) for t in teachers}
    assert not names & guesses  # the published salt and a teacher id do not find a keyring
    for fields in _keyring_files(site).values():  # one wrapped key, whatever the reader may read
        assert set(fields) == {"lock", "epk", "key", "ring", "json"}


def test_keyrings_share_no_bytes_with_account_files_or_another_build(readers_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A keyring carries the reader's locked private keys only inside a box of its build's:
    no run of 16 bytes of an account file (locked keys, salt, public keys, lookup) is in any
    keyring, decoded or as text; and a second build of the same archive has keyrings with
    other names and not one 16-byte run of key material in common with the first's."""
    from click.testing import CliRunner

    from generator.cli import main

    site, _ = readers_site
    work = site.parent
    secret = set()
    texts = []
    for path in sorted((work / "archives" / "access").glob("T*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for locked in (data["private_key"], data["sign_private_key"]):
            secret |= _windows(crypto.unb64(locked["data"])) | _windows(crypto.unb64(locked["salt"]))
            texts += [locked["data"][i : i + 22] for i in range(0, len(locked["data"]) - 22, 11)]
        secret |= _windows(crypto.unb64(data["public_key"])) | _windows(crypto.unb64(data["sign_public_key"]))
        secret |= _windows(bytes.fromhex(data["lookup"])) | _windows(data["lookup"].encode())
    first = _keyring_files(site)
    assert len(first) == 5 and len(secret) > 2000
    for name, fields in first.items():
        for field, value in fields.items():
            assert not _windows(value) & secret, (name, field)
        assert not [t for t in texts if t.encode() in fields["json"]], name
    result = CliRunner().invoke(
        main, ["build", "--config", str(work / "mkdocs.yml"), "--site-dir", str(tmp_path / "again")]
    )
    assert result.exit_code == 0, result.output
    second = _keyring_files(tmp_path / "again")
    assert len(second) == len(first) and not set(second) & set(first)  # no name in common
    material = {w for f in first.values() for k in ("lock", "epk", "key", "ring") for w in _windows(f[k])}
    for name, fields in second.items():
        for field in ("lock", "epk", "key", "ring"):
            assert not _windows(fields[field]) & material, (name, field)


def _documented_name(build_salt: str, teacher: str, passphrase: str) -> str:
    """A hardened account's keyring name, from docs/security.md's derivation, with hashlib and
    pyca's HKDF (not generator.protect.keyring): PBKDF2 first, the name from what it gives."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def hkdf(ikm: bytes, salt: bytes | None, info: str, length: int) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info.encode()).derive(ikm)

    salt = hashlib.sha256(f"yidang-access-1|salt|{teacher}".encode()).digest()[:16]
    key = hashlib.pbkdf2_hmac("sha256", access.normalise(passphrase).encode(), salt, 600_000)
    lookup = hkdf(key, None, f"yidang-access-1|lookup|{teacher}", 32)
    return hkdf(lookup, bytes.fromhex(build_salt), "yidang-keyring-2|name", 16).hex()


def test_a_passphrase_guess_costs_a_pbkdf2(readers_site, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A hardened account's keyring is named from the PBKDF2 output: recomputed by the
    documented derivation, its name is in the site; without the PBKDF2, even the right
    passphrase hashed as before (two SHA-256), or the published salt with the teacher id,
    finds nothing; and the derivation in the code runs the PBKDF2 at 600,000 iterations.
    An account file made before (T013 here) keeps its fast name until it is made again: the
    exception docs/security.md states."""
    site, passphrases = readers_site
    salt = site_config(site)["salt"]
    names = {p.stem for p in (site / "k").glob("*.js")}
    work = site.parent / "archives"
    hardened = {
        t
        for t in passphrases
        if access.load(work, t).private_locked["salt"] == crypto.b64(keyring.account_salt(t))
    }
    assert {"T001", "T008", "T015"} <= hardened and HEAD_OF_CLOSED not in hardened  # the demo accounts are
    for teacher in sorted(hardened):
        passphrase = passphrases[teacher]
        assert _documented_name(salt, teacher, passphrase) in names
        fast = hashlib.sha256(
            f"yidang-access-1|lookup|{teacher}|{access.normalise(passphrase)}".encode()
        ).hexdigest()
        assert keyring.name(salt, fast) not in names  # the right passphrase, without PBKDF2: nothing
        assert hashlib.sha256(f"{salt}|{fast}".encode()).hexdigest()[:32] not in names  # the old naming
        assert keyring.name(salt, keyring.account_salt(teacher).hex() * 2) not in names
    for teacher in sorted(set(passphrases) - hardened):
        fast = keyring.fast_lookup(teacher, access.normalise(passphrases[teacher]))
        assert keyring.name(salt, fast) in names  # found by the fast hash: an account made before
    calls: list[int] = []
    real = crypto.passphrase_key

    def counted(passphrase: str, salt: bytes, iterations: int = crypto.PBKDF2_ITERATIONS) -> bytes:
        calls.append(iterations)
        return real(passphrase, salt, iterations)

    monkeypatch.setattr(crypto, "passphrase_key", counted)
    assert keyring.lookup("T008", access.normalise(passphrases["T008"])) == access.load(work, "T008").lookup
    assert calls == [600_000]  # the lookup is the PBKDF2's output, through HKDF


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
