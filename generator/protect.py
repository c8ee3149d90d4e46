"""Protect stage: the plaintext site becomes a login page and encrypted blobs.

MkDocs builds the plaintext site into a private temporary folder; this module
publishes only Material's assets (no data in them), a login shell made from
Material's own home page with its article replaced, and blobs:

- ``d/<random id>.js``: one page (title and body, deflated), photo or booklet,
  sealed with the content key of its scope (AES-256-GCM, the blob id as
  associated data) and base64-encoded (URL alphabet) inside a script that
  calls ``__yd`` — so the site also works from ``file://``, where ``fetch`` is
  refused. (Z85 was 6 % smaller but a Python loop: 2 s per full build, and a
  second per rebuild for 200 keyrings; base64 is the C library's.)
- ``k/<keyed hash of the teacher id>.js``: one reader's keyring: the private
  key as in their account file, the content keys they may use wrapped to
  their public key (ECDH-ES + HKDF + AES-KW), and their page index (which
  routes exist for them), sealed; padded so its size says little.

Rights come from ``access.rights``; every build makes new content keys.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

from . import access, crypto
from .model import Archive
from .problems import YidangError

FORMAT = "yidang-site-2"  # 2: payloads in base64 (1: Z85)
LEADERSHIP = "leadership"
PAD = 4096  # keyrings are padded to a multiple of this many bytes


TAG = re.compile(r"<[^>]+>")


def page_text(html: str) -> str:
    """A page's readable text, for search (our own templates' HTML, not arbitrary HTML)."""
    return re.sub(r"\s+", " ", unescape(TAG.sub(" ", html))).strip()


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data, 6)[2:-4]  # raw deflate: DecompressionStream("deflate-raw")


def shard_route(scope: str) -> str:
    """Where a scope's search shard lives, inside the scope's own routes."""
    kind, _, ident = scope.partition(":")
    folder = {"student": "students", "class": "classes", "teacher": "teachers"}.get(kind)
    return f"{folder}/{ident}/search.json" if folder else "search.json"


def scope_of(route: str) -> str:
    """Which content key a route belongs to: a student, class, teacher, or leadership."""
    parts = route.strip("/").split("/")
    if len(parts) >= 2 and parts[0] in ("students", "classes", "teachers"):
        return f"{parts[0][:-1] if parts[0] != 'classes' else 'class'}:{parts[1]}"
    if len(parts) >= 2 and parts[0] == "booklets":
        return f"student:{parts[1].removesuffix('.pdf')}"
    return LEADERSHIP


@dataclass
class Item:
    route: str  # e.g. "students/S1/" (a page) or "students/S1/photos/ab.jpg" (a file)
    kind: str  # page | image | pdf
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
    readers: dict[str, frozenset[str]]  # scope → the teachers whose keyrings held its key
    sealed: dict[str, Sealed]  # route → blob
    format: str = FORMAT


@dataclass
class Publisher:
    """Seals pages and files into ``out``, reusing the previous build's blobs when it may.

    A blob is reused (hard-linked from the published site) when what it seals
    and the key of its scope are unchanged. A scope keeps its key while
    nobody loses the right to read it; when someone does (a mentor changes, an
    account is removed), the scope gets a new key and all its blobs are sealed
    again, so an old keyring opens nothing new.
    """

    out: Path
    rights: dict[str, access.Rights]  # teacher → what their keyring may open
    previous: SiteState | None = None
    build: str = field(default_factory=lambda: secrets.token_hex(8))
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    keys: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    readers: dict[str, frozenset[str]] = field(default_factory=dict)
    sealed: dict[str, Sealed] = field(default_factory=dict)
    pages: dict[str, list[tuple[str, str, bytes, str]]] = field(default_factory=dict)  # scope → pages
    reused: int = 0
    written: list[str] = field(default_factory=list)  # site-relative files this build wrote
    rotated: list[str] = field(default_factory=list)  # scopes that got a new key
    _blob_dir: bool = False

    def __post_init__(self) -> None:
        # Who may read each scope, inverted once from the rights: asking every reader
        # about every scope and route cost seconds with 200 accounts (500,000 calls).
        self._everyone = frozenset(t for t, r in self.rights.items() if r.everything)
        self._readers_of: dict[str, set[str]] = {}
        for teacher, r in self.rights.items():
            if not r.everything:
                for kind, idents in (("student", r.students), ("class", r.classes), ("teacher", r.teachers)):
                    for ident in idents:
                        self._readers_of.setdefault(f"{kind}:{ident}", set()).add(teacher)
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
            readers = self._everyone | self._readers_of.get(scope, set())
            old = self.previous.keys.get(scope) if self.previous else None
            if old is not None and self.previous.readers.get(scope, frozenset()) <= readers:  # type: ignore[union-attr]
                self.keys[scope] = old
            else:
                if old is not None:
                    self.rotated.append(scope)
                self.keys[scope] = (secrets.token_hex(8), crypto.new_key())
            self.readers[scope] = readers
        return self.keys[scope]

    def _write(self, folder: str, name: str, payload: str) -> Path:
        path = self.out / folder / f"{name}.js"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'__yd("{name}","{payload}");\n', encoding="ascii")
        self.written.append(f"{folder}/{name}.js")
        return path

    def _reuse(self, old: Sealed) -> bool:
        """Link the previous build's blob into ``out`` if it is still as written."""
        assert self.previous is not None
        name = f"d/{old.blob}.js"  # plain strings: pathlib cost 0.1 ms a blob, 2,500 blobs a build
        src, dest = f"{self.previous.site}/{name}", f"{self.out}/{name}"
        try:
            st = os.stat(src)
            if (st.st_size, st.st_mtime_ns) != (old.size, old.mtime_ns):
                return False
            if not self._blob_dir:
                os.makedirs(f"{self.out}/d", exist_ok=True)
                self._blob_dir = True
            try:
                os.link(src, dest)
            except OSError:  # another file system: copy, keeping the mtime checked above
                shutil.copy2(src, dest)
        except OSError:
            return False
        return True

    def add(self, item: Item, data: bytes | Callable[[], bytes], digest: str) -> None:
        """Seal ``data`` (or reuse the blob that sealed the same ``digest`` with the same key)."""
        key_id, key = self.key(self.scope(item.route))
        old = self.previous.sealed.get(item.route) if self.previous else None
        if old is not None and old.digest == digest and old.key_id == key_id and self._reuse(old):
            self.sealed[item.route] = old
            self.reused += 1
            return
        blob = secrets.token_hex(12)
        plain = data() if callable(data) else data
        sealed = crypto.seal(key, plain, f"{FORMAT}|{blob}".encode())
        st = self._write("d", blob, crypto.b64(sealed)).stat()
        self.sealed[item.route] = Sealed(item, blob, digest, key_id, st.st_size, st.st_mtime_ns)

    def add_page(self, route: str, title: str, html_z: bytes) -> None:
        """A page, from its zlib-compressed HTML (as rendered and cached)."""
        digest = hashlib.sha256(f"page|{title}|".encode() + html_z).hexdigest()

        def body() -> bytes:
            html = zlib.decompress(html_z).decode("utf-8")
            return _deflate(json.dumps({"t": title, "h": html}, ensure_ascii=False).encode())

        self.add(Item(route, "page", title), body, digest)
        self.pages.setdefault(scope_of(route), []).append((route, title, html_z, digest))

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
            pages.sort()
            digest = hashlib.sha256("\n".join(f"{r}|{d}" for r, _, _, d in pages).encode()).hexdigest()

            def body(pages: list[tuple[str, str, bytes, str]] = pages) -> bytes:
                docs = [{"r": r, "t": t, "x": page_text(zlib.decompress(z).decode("utf-8"))}
                        for r, t, z, _ in pages]  # fmt: skip
                return _deflate(json.dumps(docs, ensure_ascii=False).encode())

            self.add(Item(shard_route(scope), "search"), body, f"search|{digest}")

    def keyring_name(self, teacher: str) -> str:
        return hashlib.sha256(f"{self.salt}|{teacher}".encode()).hexdigest()[:32]

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

    def add_keyring(self, account: access.Account) -> None:
        teacher = account.teacher
        scopes = self._scopes_of(teacher)
        index_key = crypto.new_key()
        info = f"{FORMAT}|{self.build}|{teacher}".encode()
        epk, wrapped = crypto.wrap_for(account.public_raw, [index_key] + [self.keys[s][1] for s in scopes],
                                       info)  # fmt: skip
        index = {}
        routes = self._routes_by_scope()
        for at, scope in enumerate(scopes):
            for route in routes.get(scope, ()):
                sealed = self.sealed[route]
                index[route] = [sealed.blob, sealed.item.kind, at, sealed.item.title]
        sealed_index = crypto.seal(index_key, json.dumps(index, ensure_ascii=False).encode(),
                                   f"{FORMAT}|index|{self.build}".encode())  # fmt: skip
        ring = {"priv": account.private_locked, "epk": crypto.b64(epk),
                "keys": [crypto.b64(w) for w in wrapped], "index": crypto.b64(sealed_index)}  # fmt: skip
        text = json.dumps(ring)
        text += " " * (-len(text) % PAD)
        self._write("k", self.keyring_name(account.teacher), crypto.b64(text.encode()))

    def state(self, site: Path) -> SiteState:
        return SiteState(str(site), dict(self.keys), dict(self.readers), dict(self.sealed))


def shell(plain_index: str, login_html: str, config: dict[str, Any], site_name: str) -> str:
    """Material's home page with its article replaced by the login form and the app."""
    start = plain_index.index('<article class="md-content__inner md-typeset">')
    end = plain_index.index("</article>", start)
    html = (plain_index[:start] + '<article class="md-content__inner md-typeset">' + login_html
            + plain_index[end:])  # fmt: skip
    html = re.sub(r"<title>.*?</title>", f"<title>{site_name}</title>", html, count=1, flags=re.S)
    html = re.sub(r'<nav class="md-nav md-nav--secondary".*?</nav>', "", html, count=1, flags=re.S)
    script = f'<script>window.YD_CONFIG={json.dumps(config)};</script><script src="yidang-shell.js"></script>'
    return html.replace("</body>", script + "</body>", 1)


def copy_assets(plain: Path, out: Path, previous: Path | None = None) -> list[str]:
    """Material's CSS, JavaScript and images: code and style only, no data. A file
    identical to the previous site's is linked from it; returns the files copied."""
    copied = []
    for src in sorted(p for p in (plain / "assets").rglob("*") if p.is_file()):
        rel = src.relative_to(plain).as_posix()
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        old = previous / rel if previous is not None else None
        if old is not None and old.is_file() and old.read_bytes() == src.read_bytes():
            with contextlib.suppress(OSError):
                os.link(old, dest)
                continue
        shutil.copy2(src, dest)
        copied.append(rel)
    return copied


def ensure_accounts(archive_root: Path, archive: Archive) -> list[access.Account]:
    names = [t for t in access.accounts(archive_root) if t in archive.teachers]
    if not names:
        raise YidangError(
            "no reader accounts: nobody could open the protected site. Create one with "
            "`yidang access add <teacher id>` (or build with --unprotected for a local check)"
        )
    return [access.load(archive_root, t) for t in names]


def write_site(out: Path, publisher: Publisher, accounts: list[access.Account],
               plain: Path, login_html: str, config: dict[str, Any]) -> list[str]:  # fmt: skip
    """The keyrings, the assets and the login shell, once every blob is written.
    Returns the site-relative files written (not linked from the previous site)."""
    publisher.add_search_shards()
    for account in accounts:
        publisher.add_keyring(account)
    previous = Path(publisher.previous.site) if publisher.previous else None
    copied = copy_assets(plain, out, previous)
    shell_js = Path(__file__).resolve().parent.parent / "site_templates" / "protect" / "yidang-shell.js"
    shutil.copy(shell_js, out / "yidang-shell.js")
    settings = {"build": publisher.build, "salt": publisher.salt, "format": FORMAT, **config}
    index = (plain / "index.html").read_text(encoding="utf-8")
    (out / "index.html").write_text(shell(index, login_html, settings, config["site_name"]),
                                    encoding="utf-8")  # fmt: skip
    os.utime(out)
    return [*publisher.written, *copied, "yidang-shell.js", "index.html"]
