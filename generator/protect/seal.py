"""Protect stage: the plaintext site becomes a login page and encrypted blobs.

MkDocs builds the plaintext site into a private temporary folder; this module
publishes only Material's assets (no data in them), a login shell made from
Material's own home page with its article replaced, and blobs:

- ``d/<random id>.js``: one page (title and body, deflated), photo, booklet,
  search shard or leadership-only part of a page, sealed with the content key
  of its scope (AES-256-GCM, the blob id as associated data) after padding to
  a size bucket (``bucket``), base64-encoded inside a script that calls
  ``__yd`` — so the site also works from ``file://``, where ``fetch`` is refused.
- ``k/<name>.js``: one reader's keyring, named and boxed for this build from a
  value only their passphrase gives, through the PBKDF2 (``keyring``), so a copy
  of the site does not say whose it is, a guess at a passphrase costs a PBKDF2
  like any other, and no keyring shares a byte string with the account file or
  with another build. It holds their locked private keys in that box, one key
  wrapped to their public key (ECDH-ES + HKDF + AES-KW), and, sealed under that
  key, the content keys they may use and their page index. Every keyring of a
  build has the same size: it does not tell how much its reader may open.

Routes in the index are opaque tokens (``token``), which is what the browser's
address bar and history see. Rights come from ``access.rights``; a scope's key
is new whenever one of its readers lost the right or got a new key pair.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import zlib
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache, partial
from html import unescape
from pathlib import Path
from typing import Any

from generator.archive.model import Archive
from generator.core import crypto, labels
from generator.core.parallel import forked_map
from generator.core.problems import YidangError
from generator.protect import access, keyring

# 5: blobs bound to their routes; 4: leadership-only parts cut out without a trace; 3: padded
# blobs, hidden keyring names, opaque routes; 2: base64; 1: Z85. A new format seals every blob
# again (nothing of an older site is reused).
FORMAT = "yidang-site-5"
LEADERSHIP = "leadership"
# 2: no ¶, jump lists, booklet button or commit ids in the text; each page's lead marked
SEARCH_FORMAT = "search-2"
INDEX = "index"  # the route of leadership's one blob with every key and route (no page has it)
COUNSEL_INDEX = "counsel-index"  # the counsellor role's one blob of every student's counselling scope
MIN_BUCKET = 1024
PARALLEL_PAGES = 64  # pages to seal from which preparing them in parallel pays for the workers
PREPARED_AT_ONCE = 16  # pages a worker is handed at once: sealing follows them closely
COPY_THREADS = 8  # reused blobs copied at once: the copies wait on the disk, not the CPU
# What the published pages may load: the site's own scripts only (no inline script, no
# eval, no other origin). Styles may be inline: Material sets style attributes.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' blob: data:; font-src 'self' data:; connect-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'none'; object-src 'none'"
)
# A part of a page only leadership and the office may see (a teacher's former mentees,
# a class's closed cases): sealed apart, in the leadership scope. Record text cannot
# forge the marker: Markdown's raw HTML, comments included, never reaches a page.
RESTRICTED = re.compile(r"<!--yd:leadership-->(.*?)<!--/yd:leadership-->", re.S)
# A record of a need-to-know kind (心理辅导) on a student's page: its content is sealed apart,
# in the student's counselling scope (the record's writer, the counsellor role, leadership).
COUNSELLING = "counselling"  # the counsellors' page (every open case, the high risks): its scope and route
NEED_TO_KNOW = re.compile(r"<!--yd:need-->(.*?)<!--/yd:need-->", re.S)
TAG = re.compile(r"<[^>]+>")
NOBLE_PACKAGES = ("curves", "hashes", "ciphers")
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
# Material's bundle (114 KB: the drawer, tabs, the header on scroll) is not what the login needs:
# deferred, it no longer holds the login form back (yidang-shell.js shows it) on a slow phone.
MATERIAL_BUNDLE = re.compile(r'<script src="(assets/javascripts/bundle\.[0-9a-f]+\.min\.js)"></script>')


# What a page shows but search neither finds nor quotes: each heading's ¶, the jump lists (the
# headings again), the booklet's button (the same words on every student) and the git
# provenance line (a commit id, which means nothing to a teacher).
NOT_SEARCHED = re.compile(
    r'<a class="headerlink"[^>]*>.*?</a>|<nav class="yd-jump"[^>]*>.*?</nav>'
    r'|<p class="yd-booklet">.*?</p>|<p [^>]*data-provenance[^>]*>.*?</p>',
    re.S,
)
LEAD_END = re.compile(r"<h[1-6][ >]")


def page_text(html: str) -> str:
    """A page's readable text, for search (our own templates' HTML, not arbitrary HTML)."""
    return re.sub(r"\s+", " ", unescape(TAG.sub(" ", NOT_SEARCHED.sub(" ", html)))).strip()


def search_doc(route: str, title: str, html: str) -> dict[str, Any]:
    """A page as search knows it: route, title, text, and how much of the text is the page's
    lead (what stands before its first heading: a student's class, status and mentor), which
    a result whose title matched quotes (two students of one name tell apart by it)."""
    heading = LEAD_END.search(html)
    lead = page_text(html[: heading.start()]) if heading else ""
    return {"r": route, "t": title, "x": page_text(html), "l": len(lead)}


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data, 6)[2:-4]  # raw deflate: DecompressionStream("deflate-raw")


def bucket(size: int) -> int:
    """The padded size of ``size`` bytes: at least 1 KiB, then eight steps between two
    powers of two (1,024, 1,152, 1,280 … 2,048, 2,304 …): a blob's size tells its
    content's size to within 12.5 %, never more than that."""
    if size <= MIN_BUCKET:
        return MIN_BUCKET
    step = 1 << (size.bit_length() - 4)
    return -(-size // step) * step


def pad(data: bytes, size: int | None = None) -> bytes:
    """``data`` with its length in front (4 bytes, big-endian), zero-filled to ``size``
    (default: its bucket)."""
    total = size if size is not None else bucket(len(data) + 4)
    return len(data).to_bytes(4, "big") + data + bytes(total - 4 - len(data))


def unpad(data: bytes) -> bytes:
    return data[4 : 4 + int.from_bytes(data[:4], "big")]


def shard_route(scope: str) -> str:
    """Where a scope's search shard lives, inside the scope's own routes."""
    kind, _, ident = scope.partition(":")
    folder = {"student": "students", "class": "classes", "teacher": "teachers", "counsel": "counsel"}.get(
        kind
    )
    if scope == COUNSELLING:
        return f"{COUNSELLING}/search.json"
    return f"{folder}/{ident}/search.json" if folder else "search.json"


def scope_of(route: str) -> str:
    """Which content key a route belongs to: a student, class, teacher, or leadership."""
    parts = route.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "counsel":  # a student's need-to-know records
        return f"counsel:{parts[1]}"
    if len(parts) >= 2 and parts[0] == "activities":  # a group activity's photos
        return f"group:{parts[1]}"
    if parts[0] == COUNSELLING:  # the counsellors' page: the counsellor role and leadership
        return COUNSELLING
    if len(parts) == 2 and parts[0] == "full":  # a booklet with 心理辅导 content: who reads both
        return f"full:{parts[1].removesuffix('.pdf')}"
    if len(parts) >= 2 and parts[0] in ("students", "classes", "teachers"):
        return f"{parts[0][:-1] if parts[0] != 'classes' else 'class'}:{parts[1]}"
    if len(parts) >= 2 and parts[0] == "booklets":
        return f"student:{parts[1].removesuffix('.pdf')}"
    return LEADERSHIP


def split_restricted(html: str, marked: re.Pattern[str] = RESTRICTED) -> tuple[str, list[list[Any]]]:
    """A page without its leadership-only parts, and those parts as ``[offset, html]``: where
    each goes in the page without them, counted in UTF-16 code units as JavaScript counts
    (the browser splices them in for a reader who holds the leadership key). Nothing is
    left where a part was, so a reader's page does not show that anything was cut out."""
    parts: list[list[Any]] = []
    shown: list[str] = []
    last = at = 0
    for match in marked.finditer(html):
        before = html[last : match.start()]
        shown.append(before)
        at += len(before.encode("utf-16-le")) // 2
        parts.append([at, match.group(1)])
        last = match.end()
    shown.append(html[last:])
    return "".join(shown), parts


@dataclass(frozen=True)
class Prepared:
    """What sealing a page needs of it, worked out from its HTML alone: so other processes
    can work it out (``prepare_pages``) while this one seals the pages they handed back."""

    body: bytes  # the page's blob before padding: title and HTML without its parts, deflated
    doc: str  # its search document, as JSON
    parts: dict[str, tuple[bytes, str]]  # where → its parts' blob before padding, their search document


def page_digest(title: str, sha: str) -> str:
    """What a page's blob seals (``sha``: of its compressed HTML), as the next build compares it."""
    return hashlib.sha256(f"page|{title}|{sha}".encode()).hexdigest()


def cuts_of(route: str, restricted: bool) -> list[tuple[re.Pattern[str], str]]:
    """Where a page's parts go, by marker: need-to-know parts first (a page's leadership
    parts count without them), then leadership-only ones."""
    if not restricted:
        return []
    student = scope_of(route).removeprefix("student:") if route.startswith("students/") else ""
    return [*([(NEED_TO_KNOW, f"counsel/{student}")] if student else []), (RESTRICTED, LEADERSHIP)]


def prepare_page(route: str, title: str, html_z: bytes, restricted: bool) -> Prepared:
    """A page cut into what every reader of it sees and its parts for the scopes they are
    sealed in (``cuts_of``), each as its blob's content and its search document."""
    html = zlib.decompress(html_z).decode("utf-8")
    parts = {}
    for marked, where in cuts_of(route, restricted):
        html, found = split_restricted(html, marked)
        if found:
            packed = _deflate(json.dumps(found, ensure_ascii=False).encode())
            parts[where] = (packed, _doc(route, title, " ".join(h for _, h in found)))
    body = _deflate(json.dumps({"t": title, "h": html}, ensure_ascii=False).encode())
    return Prepared(body, _doc(route, title, html), parts)


def _has(made: Callable[[], Prepared], where: str) -> bool:
    return where in made().parts


def _doc(route: str, title: str, html: str) -> str:
    return json.dumps(search_doc(route, title, html), ensure_ascii=False)


PageSource = tuple[str, str, Callable[[], bytes], bool]  # route, title, its compressed HTML, restricted


def prepare_pages(pages: list[PageSource], jobs: int) -> Generator[Prepared | None, None, None]:
    """Each of ``pages`` prepared for sealing, in order, as ``jobs`` forked workers finish
    them (they read the pages where this process has them); None for each when they are
    few: each is then prepared as it is sealed. Sealing stays here, where the keys are,
    and goes on while the workers prepare the next pages: turning HTML into blob contents
    and search documents was 80 % of a full build's sealing (10 s for 2,000 pages) on one
    core while the other waited."""
    if jobs <= 1 or len(pages) < PARALLEL_PAGES:
        yield from (None for _ in pages)
    else:
        yield from forked_map(_prepare, pages, jobs, chunksize=PREPARED_AT_ONCE)


def _prepare(page: PageSource) -> Prepared:
    route, title, html_z, restricted = page
    return prepare_page(route, title, html_z(), restricted)


@dataclass
class Item:
    route: str  # e.g. "students/S1/" (a page) or "students/S1/photos/ab.jpg" (a file)
    kind: str  # page | part | image | pdf | search | todo
    title: str = ""


@dataclass
class Sealed:
    """One published blob, as the build cache remembers it for the next build."""

    item: Item
    blob: str
    digest: str  # of what was sealed: kind, title and content (or a cached file's stat)
    key_id: str  # the content key that sealed it
    size: int = 0  # of d/<blob>.js as written: checked before the file is reused
    mtime_ns: int = 0


@dataclass
class SiteState:
    """What the next build needs to reuse this one's blobs (kept in the 0600 build cache)."""

    site: str  # the published folder the blobs are in
    keys: dict[str, tuple[str, bytes]]  # scope → (key id, content key)
    readers: dict[str, frozenset[str]]  # scope → "teacher:key fingerprint" of its keyrings
    sealed: dict[str, Sealed]  # route → blob
    route_salt: str  # keys the opaque routes, so bookmarks last from build to build
    format: str = FORMAT
    stamp_ns: int = 0  # the build's one timestamp: every published file's (``stamp``)


@dataclass
class Publisher:
    """Seals pages and files into ``out``, reusing the previous build's blobs when it may.

    A blob is reused (left in the published site, or copied from it, not rendered or sealed
    again) when what it seals and the key of its scope are unchanged. Every file of the new
    site gets the build's one timestamp (``stamp_ns``, set by ``stamp`` when the site is
    published) and no hard link, so a copy of the site does not tell which blobs this build
    wrote. A scope keeps its key while none of its readers lost the right to read it or got
    a new key pair (``access passwd --reset``); otherwise (a mentor changes, an account is
    removed or reset), or when ``rotate`` is asked, the scope gets a new key and all its
    blobs are sealed again, so keys from before open nothing new.
    """

    out: Path
    rights: dict[str, access.Rights]  # teacher → what their keyring may open
    previous: SiteState | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)  # teacher → their key pair's
    rotate: bool = False  # new keys for every scope
    groups: dict[str, frozenset[str]] = field(default_factory=dict)  # group activity → its students
    uploads: dict[str, tuple[str, str]] = field(default_factory=dict)  # teacher → inbox user, password
    build: str = field(default_factory=lambda: secrets.token_hex(8))
    stamp_ns: int = field(default_factory=time.time_ns)  # every published file's mtime
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    readers: dict[str, frozenset[str]] = field(default_factory=dict)
    sealed: dict[str, Sealed] = field(default_factory=dict)
    pages: dict[str, list[tuple[str, Callable[[], str], str]]] = field(
        default_factory=dict
    )  # scope → its pages' search documents: route, the document (JSON), digest
    reused: int = 0
    written: list[str] = field(default_factory=list)  # site-relative files this build wrote
    rotated: list[str] = field(default_factory=list)  # scopes that got a new key
    fingerprinted: dict[str, frozenset[str]] = field(default_factory=dict)  # scope → readers' key pairs
    _copies: list[tuple[str, str]] = field(default_factory=list)  # reused blobs: (old site's, new)
    in_place: bool = False  # the new blobs go into the published site (see ``write_site``)

    def __post_init__(self) -> None:
        # Who may read each scope, inverted once from the rights: asking every reader
        # about every scope and route cost seconds with 200 accounts (500,000 calls).
        self._everyone = frozenset(t for t, r in self.rights.items() if r.everything)
        self._readers_of: dict[str, set[str]] = {}
        for teacher, r in self.rights.items():
            if not r.everything:
                scopes = (("student", r.students), ("class", r.classes), ("teacher", r.teachers))
                for kind, idents in (*scopes, ("counsel", r.counsel)):
                    for ident in idents:
                        self._readers_of.setdefault(f"{kind}:{ident}", set()).add(teacher)
                if r.counsellor:
                    self._readers_of.setdefault(COUNSELLING, set()).add(teacher)
                for sid in r.students & r.counsel:  # the full booklet: the file and its 心理辅导
                    self._readers_of.setdefault(f"full:{sid}", set()).add(teacher)
                # A group's photos show every student in it: readers of all of them alone.
                for stem, students in self.groups.items():
                    if students <= r.students:
                        self._readers_of.setdefault(f"group:{stem}", set()).add(teacher)
        keep = self.previous is not None and not self.rotate
        self.route_salt = self.previous.route_salt if keep and self.previous else secrets.token_hex(16)
        self._scope_of: dict[str, str] = {}
        self._routes: dict[str, list[str]] | None = None
        self._held: dict[str, list[str]] | None = None

    def scope(self, route: str) -> str:
        found = self._scope_of.get(route)
        if found is None:
            found = self._scope_of[route] = scope_of(route)
        return found

    def key(self, scope: str) -> tuple[str, bytes]:
        if scope not in self.keys:
            teachers = self._everyone | self._readers_of.get(scope, set())
            readers = frozenset(f"{t}:{self.fingerprints.get(t, '')}" for t in teachers)
            previous = self.previous if not self.rotate else None
            old = previous.keys.get(scope) if previous else None
            if previous and old is not None and previous.readers.get(scope, frozenset()) <= readers:
                self.keys[scope] = old
            else:
                if self.previous is not None and scope in self.previous.keys:
                    self.rotated.append(scope)
                self.keys[scope] = (secrets.token_hex(8), crypto.new_key())
            self.readers[scope] = frozenset(teachers)
            self.fingerprinted[scope] = readers
        return self.keys[scope]

    def token(self, route: str) -> str:
        """The opaque name of a route in the address bar (and so in the browser's history)."""
        return hashlib.sha256(f"{self.route_salt}|{route}".encode()).hexdigest()[:16]

    def _write(self, folder: str, name: str, payload: str) -> Path:
        path = self.out / folder / f"{name}.js"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'__yd("{name}","{payload}");\n', encoding="ascii")
        self.written.append(f"{folder}/{name}.js")
        return path

    def _seal_blob(self, key: bytes, plain: bytes, route: str) -> tuple[str, Path]:
        """A new blob: its id and its route are the associated data, so it opens only as
        itself, under its own route (``blob_aad``)."""
        blob = secrets.token_hex(12)
        sealed = crypto.seal(key, pad(plain), blob_aad(blob, route))
        return blob, self._write("d", blob, crypto.b64(sealed))

    def _reuse(self, old: Sealed) -> bool:
        """Whether the previous build's blob is still as written; if so it stays where it is
        (``in_place``) or is copied into ``out`` (``copy_reused``). A copy, not a hard link:
        a link count of two would say which blobs are old."""
        assert self.previous is not None
        name = f"d/{old.blob}.js"  # plain strings: pathlib cost 0.1 ms a blob, 2,500 blobs a build
        src, dest = f"{self.previous.site}/{name}", f"{self.out}/{name}"
        try:
            st = os.stat(src)
        except OSError:
            return False
        if (st.st_size, st.st_mtime_ns) != (old.size, old.mtime_ns):
            return False
        self._copies.append((src, dest))  # copied together, by threads (see copy_reused)
        return True

    def copy_reused(self) -> None:
        """Copy the reused blobs into ``out``: a few threads at once, since each copy waits
        on the file system (opening 3,000 files one after another was a second of a rebuild).
        A blob that cannot be copied now fails the build: the previous site stays."""
        if not self._copies:
            return
        os.makedirs(f"{self.out}/d", exist_ok=True)
        with ThreadPoolExecutor(COPY_THREADS) as pool:
            list(pool.map(lambda pair: shutil.copyfile(*pair), self._copies))
        self._copies = []

    def add(self, item: Item, data: bytes | Callable[[], bytes], digest: str) -> None:
        """Seal ``data`` (or reuse the blob that sealed the same ``digest`` with the same key)."""
        key_id, key = self.key(self.scope(item.route))
        old = self.previous.sealed.get(item.route) if self.previous else None
        if old is not None and old.digest == digest and old.key_id == key_id and self._reuse(old):
            self.sealed[item.route] = replace(old, mtime_ns=self.stamp_ns)
            self.reused += 1
            return
        blob, path = self._seal_blob(key, data() if callable(data) else data, item.route)
        self.sealed[item.route] = Sealed(item, blob, digest, key_id, path.stat().st_size, self.stamp_ns)

    def add_page(
        self,
        route: str,
        title: str,
        html_z: Callable[[], bytes],
        sha: str,
        restricted: bool = False,
        prepared: Prepared | None = None,
    ) -> None:
        """A page, from its zlib-compressed HTML (as rendered and cached), or as ``prepared``
        from it. A page with leadership-only parts (``restricted``) is sealed without them,
        and they apart. The page is prepared only when something sealed from it must be made
        again: an unchanged page's blobs are reused as they are (splitting 450 pages cost a
        second a rebuild)."""
        digest = page_digest(title, sha)

        @cache
        def made() -> Prepared:
            return prepared or prepare_page(route, title, html_z(), restricted)

        for _, where in cuts_of(route, restricted):
            if self._has_part(route, where, digest, partial(_has, made, where)):
                self._add_part(route, title, where, digest, made)
        self.add(Item(route, "page", title), lambda: made().body, digest)
        self.pages.setdefault(scope_of(route), []).append((route, lambda: made().doc, digest))

    def _has_part(self, route: str, where: str, digest: str, has: Callable[[], bool]) -> bool:
        """Whether the page has parts for ``where``: as the last build found, when the page
        is the same; else from the page itself."""
        old = self.previous.sealed if self.previous else {}
        if (part := old.get(f"{where}/{route}")) is not None and part.digest == f"part|{where}|{digest}":
            return True
        if (page := old.get(route)) is not None and page.digest == digest:
            return False
        return has()

    def _add_part(
        self, route: str, title: str, where: str, digest: str, made: Callable[[], Prepared]
    ) -> None:
        """A page's ``where`` parts, sealed apart at ``where/route`` in that route's scope (and
        its search shard), for the readers of that scope alone."""
        part = Item(f"{where}/{route}", "part", title)
        self.add(part, lambda: made().parts[where][0], f"part|{where}|{digest}")
        self.pages.setdefault(scope_of(f"{where}/{route}"), []).append(
            (route, lambda: made().parts[where][1], f"part|{digest}")
        )

    def add_data(self, item: Item, data: bytes) -> None:
        """A small JSON document (a to-do list): deflated like a page."""
        self.add(item, lambda: _deflate(data), f"{item.kind}|{hashlib.sha256(data).hexdigest()}")

    def add_file(self, item: Item, path: Path) -> None:
        """A photo or booklet from the build cache, where files are replaced, never edited:
        its size, mtime and inode stand for its content."""
        st = path.stat()
        self.add(item, path.read_bytes, f"{item.kind}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}")

    def add_search_shards(self) -> None:
        """One search shard per scope, among that scope's blobs: a reader can only ever
        decrypt the shards of what they may read. The browser searches them by substring,
        so any 2+ character run of Chinese text is found."""
        for scope, pages in self.pages.items():
            pages.sort(key=lambda page: (page[0], page[2]))
            digest = hashlib.sha256("\n".join(f"{r}|{d}" for r, _, d in pages).encode()).hexdigest()

            def body(pages: list[tuple[str, Callable[[], str], str]] = pages) -> bytes:
                docs = ", ".join(doc() for _, doc, _ in pages)  # as json.dumps writes a list
                return _deflate(f"[{docs}]".encode())

            # SEARCH_FORMAT: a shard made by an older page_text is made again, not reused
            self.add(Item(shard_route(scope), "search"), body, f"{SEARCH_FORMAT}|{digest}")

    def _routes_by_scope(self) -> dict[str, list[str]]:
        """The sealed routes of each scope (once every blob is sealed)."""
        if self._routes is None:
            self._routes = {}
            for route in self.sealed:
                self._routes.setdefault(self.scope(route), []).append(route)
        return self._routes

    def _scopes_of(self, teacher: str) -> list[str]:
        """The scopes a teacher's keyring holds, sorted (once every blob is sealed)."""
        if self._held is None:
            self._held = {}
            for scope in sorted(self.keys):
                for reader in self.readers[scope]:
                    self._held.setdefault(reader, []).append(scope)
        return self._held.get(teacher, [])

    def _index(self, scopes: list[str]) -> dict[str, Any]:
        """What a reader of ``scopes`` gets: their content keys, and token → [blob, kind,
        key index, title, route] for every route of those scopes."""
        index = {}
        routes = self._routes_by_scope()
        for at, scope in enumerate(scopes):
            for route in routes.get(scope, ()):
                sealed = self.sealed[route]
                index[self.token(route)] = [sealed.blob, sealed.item.kind, at, sealed.item.title, route]
        return {"keys": [crypto.b64(self.keys[s][1]) for s in scopes], "index": index}

    def _everything(self) -> list[Any]:
        """One blob with every key and route, sealed under the leadership key: leadership's
        keyrings point to it, so they are no larger than anyone else's."""
        blob, _ = self._seal_blob(
            self.key(LEADERSHIP)[1], json.dumps(self._index(sorted(self.keys))).encode(), INDEX
        )
        return [blob, 0]

    def _counselling(self) -> tuple[list[Any], set[str]]:
        """One blob with every student's counselling scope (keys and routes), sealed under the
        counsellors' key: the counsellor role's keyrings point to it. Listed in each of them,
        a thousand students' sessions made every keyring of the site 400 KB (all keyrings are
        padded to the largest), and sealing them was most of a rebuild."""
        scopes = sorted(s for s in self.keys if s.startswith("counsel:"))
        blob, _ = self._seal_blob(
            self.key(COUNSELLING)[1], json.dumps(self._index(scopes)).encode(), COUNSEL_INDEX
        )
        return [blob], set(scopes)

    def _ring(self, teacher: str, counselling: tuple[list[Any], set[str]] | None) -> dict[str, Any]:
        """A reader's own scopes; the counsellor role's counselling ones by reference."""
        scopes = self._scopes_of(teacher)
        if counselling is None or not self.rights[teacher].counsellor or COUNSELLING not in scopes:
            return self._index(scopes)
        blob, shared = counselling
        own = [s for s in scopes if s not in shared]
        return {**self._index(own), "cref": [*blob, own.index(COUNSELLING)]}

    def add_keyrings(self, accounts: list[access.Account]) -> None:
        """One keyring per account, all of one size (the largest, to its bucket)."""
        rings: dict[str, bytes] = {}
        everything = self._everything() if any(self.rights[a.teacher].everything for a in accounts) else None
        counsellors = [
            a for a in accounts if self.rights[a.teacher].counsellor and not self.rights[a.teacher].everything
        ]
        counselling = self._counselling() if counsellors and COUNSELLING in self.keys else None
        for account in accounts:
            if self.rights[account.teacher].everything:
                ring: dict[str, Any] = {"keys": [crypto.b64(self.key(LEADERSHIP)[1])], "ref": everything}
            else:
                ring = self._ring(account.teacher, counselling)
            if account.teacher in self.uploads:  # the inbox's credential: only this teacher gets it
                ring["upload"] = list(self.uploads[account.teacher])
            rings[account.teacher] = json.dumps(ring, ensure_ascii=False).encode()
        size = bucket(max(len(r) for r in rings.values()) + 4)
        for account in accounts:
            self._write_keyring(account, pad(rings[account.teacher], size))

    def _write_keyring(self, account: access.Account, ring: bytes) -> None:
        if not account.current or account.sign_locked is None:
            raise YidangError(labels.error("commands", "old_account", id=account.teacher))
        ring_key = crypto.new_key()
        info = f"{FORMAT}|{self.build}|{account.teacher}".encode()
        epk, (wrapped,) = crypto.wrap_for(account.public_raw, [ring_key], info)
        sealed = crypto.seal(ring_key, ring, f"{FORMAT}|ring|{self.build}".encode())
        # Both private keys, locked under the one passphrase key, in a box of this build's:
        # none of the account file's bytes, nor of an older keyring's, are in the site.
        locked = keyring.box(
            self.salt,
            self.build,
            account.teacher,
            account.lookup,
            account.private_locked,
            account.sign_locked,
        )
        text = json.dumps(
            {
                "lock": crypto.b64(locked),
                "epk": crypto.b64(epk),
                "key": crypto.b64(wrapped),
                "ring": crypto.b64(sealed),
            }
        )
        self._write("k", keyring.name(self.salt, account.lookup), crypto.b64(text.encode()))

    def state(self, site: Path) -> SiteState:
        return SiteState(
            str(site),
            dict(self.keys),
            dict(self.fingerprinted),
            dict(self.sealed),
            self.route_salt,
            stamp_ns=self.stamp_ns,
        )


def blob_aad(blob: str, route: str) -> bytes:
    """What a blob's AES-GCM tag covers besides its content: the format, its id and its
    route. A blob copied over another's file, or shown under another route, fails to open."""
    return f"{FORMAT}|{blob}|{route}".encode()


def shell(
    plain_index: str, login_html: str, config: dict[str, Any], site_name: str
) -> tuple[str, dict[str, str]]:
    """Material's home page with its article replaced by the login form and the app, and
    its inline scripts moved to files (returned: name → code) so the page's
    Content-Security-Policy allows no inline script at all."""
    start = plain_index.index('<article class="md-content__inner md-typeset">')
    end = plain_index.index("</article>", start)
    html = (
        plain_index[:start]
        + '<article class="md-content__inner md-typeset">'
        + login_html
        + plain_index[end:]
    )
    html = re.sub(r"<title>.*?</title>", f"<title>{site_name}</title>", html, count=1, flags=re.S)
    html = re.sub(r'<nav class="md-nav md-nav--secondary".*?</nav>', "", html, count=1, flags=re.S)
    moved: dict[str, str] = {}

    def to_file(match: re.Match[str]) -> str:
        name = f"assets/yidang-inline-{hashlib.sha256(match.group(1).encode()).hexdigest()[:12]}.js"
        moved[name] = match.group(1)
        return f'<script src="{name}"></script>'

    html = INLINE_SCRIPT.sub(to_file, html)
    html = MATERIAL_BUNDLE.sub(r'<script src="\1" defer></script>', html, count=1)
    csp = CSP
    if config.get("plain_http"):  # the @noble modules, by the import map (its hash in the policy)
        imports = json.dumps(
            {"imports": {f"@noble/{p}/": f"./assets/vendor/noble/{p}/" for p in NOBLE_PACKAGES}}
        )
        digest = base64.b64encode(hashlib.sha256(imports.encode()).digest()).decode()
        csp = CSP.replace("script-src 'self'", f"script-src 'self' 'sha256-{digest}'")
        noble = f'<script type="importmap">{imports}</script>'
        noble += '<script type="module" src="assets/yidang-noble.js"></script>'
        html = html.replace("</head>", noble + "</head>", 1)
    meta = (
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="referrer" content="no-referrer">'
    )
    html = html.replace('<meta charset="utf-8">', '<meta charset="utf-8">' + meta, 1)
    data = json.dumps(config).replace("<", "\\u003c")  # a data block: never run, never ends early
    script = (
        f'<script type="application/json" id="yd-config">{data}</script>'
        '<script src="yidang-shell.js"></script>'
    )
    return html.replace("</body>", script + "</body>", 1), moved


def shell_files(
    mkdocs_output: dict[str, bytes], login_html: str, config: dict[str, Any], site_name: str
) -> dict[str, bytes]:
    """Every file of the site that is not a blob or a keyring: the login page (cut from
    MkDocs' home page, with this build's settings), its scripts, and Material's assets
    (code and style only, no data)."""
    index = mkdocs_output["index.html"].decode("utf-8")
    page, scripts = shell(index, login_html, config, site_name)
    shell_js = Path(__file__).resolve().parents[2] / "site_templates" / "protect" / "yidang-shell.js"
    files = {rel: data for rel, data in mkdocs_output.items() if rel.startswith("assets/")}
    files |= {name: code.encode("utf-8") for name, code in scripts.items()}
    return {**files, "yidang-shell.js": shell_js.read_bytes(), "index.html": page.encode("utf-8")}


def same_shell(live: Path, files: dict[str, bytes]) -> bool:
    """Whether the published site at ``live`` has exactly these files besides its blobs and
    keyrings, byte for byte (its login page aside, which is new in every build): then a
    rebuild only adds and removes blobs and keyrings there (``publish.update_in_place``)."""
    found: set[str] = set()
    for folder, dirs, names in os.walk(live):
        if folder == str(live):
            dirs[:] = [d for d in dirs if d not in ("d", "k")]
        rel = os.path.relpath(folder, live)
        found.update(name if rel == "." else f"{rel}/{name}" for name in names)
    if found != set(files):
        return False
    return all((live / rel).read_bytes() == data for rel, data in files.items() if rel != "index.html")


def stamp(out: Path, ns: int) -> None:
    """Give every file and folder of ``out`` the same access and modification time: a copy
    of the site then says when it was built, not which of its files each build wrote."""
    for folder, _dirs, files in os.walk(out):
        for name in files:
            os.utime(os.path.join(folder, name), ns=(ns, ns), follow_symlinks=False)
        os.utime(folder, ns=(ns, ns))


def ensure_accounts(archive_root: Path, archive: Archive) -> list[access.Account]:
    names = [t for t in access.accounts(archive_root) if t in archive.teachers]
    if not names:
        raise YidangError(labels.error("commands", "no_accounts"))
    return [access.load(archive_root, t) for t in names]


def write_site(
    out: Path,
    publisher: Publisher,
    accounts: list[access.Account],
    mkdocs_output: dict[str, bytes],
    login_html: str,
    config: dict[str, Any],
) -> list[str]:
    """The keyrings, the assets and the login shell (cut from MkDocs' home page, in
    ``mkdocs_output``), once every blob is written. Returns the site-relative files
    written (not copied unchanged from the previous site).

    When the published site's assets and scripts are what this build would write (every
    rebuild but one after an upgrade or a change of mkdocs.yml), ``out`` gets only the new
    blobs, the keyrings and the login page, to be moved into the site (``in_place``);
    otherwise it is a whole site, the unchanged blobs copied into it, to be swapped in."""
    publisher.add_search_shards()
    publisher.add_keyrings(accounts)
    settings = {
        "build": publisher.build,
        "salt": publisher.salt,
        "format": FORMAT,
        "keyring": keyring.FORMAT,
        "iterations": crypto.PBKDF2_ITERATIONS,  # the one PBKDF2, run before a keyring is found
        # whether to try an older account's fast keyring name first (a missing file otherwise)
        "legacy": any(not keyring.hardened(a.teacher, a.private_locked, a.lookup) for a in accounts),
        **config,
    }
    files = shell_files(mkdocs_output, login_html, settings, config["site_name"])
    previous = Path(publisher.previous.site) if publisher.previous else None
    publisher.in_place = previous is not None and same_shell(previous, files)
    if publisher.in_place:
        (out / "index.html").write_bytes(files["index.html"])
        return [*publisher.written, "index.html"]
    publisher.copy_reused()
    written = []
    for rel, data in sorted(files.items()):
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        old = previous / rel if previous is not None else None
        if old is None or not old.is_file() or old.read_bytes() != data or rel == "index.html":
            written.append(rel)  # the others were audited when the previous site was built
        dest.write_bytes(data)
    return [*publisher.written, *written]
