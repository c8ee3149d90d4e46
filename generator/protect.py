"""Protect stage: the plaintext site becomes a login page and encrypted blobs.

MkDocs builds the plaintext site into a private temporary folder; this module
publishes only Material's assets (no data in them), a login shell made from
Material's own home page with its article replaced, and blobs:

- ``d/<random id>.js``: one page (title and body, deflated), photo or booklet,
  sealed with the content key of its scope (AES-256-GCM, the blob id as
  associated data) and Z85-encoded inside a script that calls ``__yd`` — so
  the site also works from ``file://``, where ``fetch`` is refused.
- ``k/<keyed hash of the teacher id>.js``: one reader's keyring: the private
  key as in their account file, the content keys they may use wrapped to
  their public key (ECDH-ES + HKDF + AES-KW), and their page index (which
  routes exist for them), sealed; padded so its size says little.

Rights come from ``access.rights``; every build makes new content keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import zlib
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

from . import access, crypto
from .model import Archive
from .problems import YidangError

FORMAT = "yidang-site-1"
LEADERSHIP = "leadership"
PAD = 4096  # keyrings are padded to a multiple of this many bytes
Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"


def z85(data: bytes) -> str:
    """ZeroMQ's base-85: 25 % overhead (base64: 33 %), and no quote or backslash."""
    pad = -len(data) % 4
    data += b"\0" * pad
    out = []
    for i in range(0, len(data), 4):
        n = int.from_bytes(data[i : i + 4], "big")
        chunk = []
        for _ in range(5):
            n, r = divmod(n, 85)
            chunk.append(Z85[r])
        out.append("".join(reversed(chunk)))
    return f"{pad}{''.join(out)}"


def unz85(text: str) -> bytes:
    pad, body = int(text[0]), text[1:]
    out = bytearray()
    for i in range(0, len(body), 5):
        n = 0
        for ch in body[i : i + 5]:
            n = n * 85 + Z85.index(ch)
        out += n.to_bytes(4, "big")
    return bytes(out[: len(out) - pad] if pad else out)


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


def may_read(rights: access.Rights, scope: str) -> bool:
    if rights.everything:
        return True
    kind, _, ident = scope.partition(":")
    return ident in {"student": rights.students, "class": rights.classes,
                     "teacher": rights.teachers}.get(kind, ())  # fmt: skip


@dataclass
class Item:
    route: str  # e.g. "students/S1/" (a page) or "students/S1/photos/ab.jpg" (a file)
    kind: str  # page | image | pdf
    title: str = ""


@dataclass
class Publisher:
    out: Path
    build: str = field(default_factory=lambda: secrets.token_hex(8))
    salt: str = field(default_factory=lambda: secrets.token_hex(16))
    keys: dict[str, bytes] = field(default_factory=dict)
    items: dict[str, tuple[Item, str]] = field(default_factory=dict)  # route → (item, blob id)
    texts: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # scope → page texts

    def key(self, scope: str) -> bytes:
        if scope not in self.keys:
            self.keys[scope] = crypto.new_key()
        return self.keys[scope]

    def _write(self, folder: str, name: str, payload: str) -> None:
        path = self.out / folder / f"{name}.js"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'__yd("{name}","{payload}");\n', encoding="ascii")

    def add(self, item: Item, data: bytes) -> None:
        blob = secrets.token_hex(12)
        sealed = crypto.seal(self.key(scope_of(item.route)), data, f"{FORMAT}|{blob}".encode())
        self._write("d", blob, z85(sealed))
        self.items[item.route] = (item, blob)

    def add_page(self, route: str, title: str, html: str) -> None:
        body = json.dumps({"t": title, "h": html}, ensure_ascii=False).encode()
        self.add(Item(route, "page", title), _deflate(body))
        self.texts.setdefault(scope_of(route), []).append({"r": route, "t": title, "x": page_text(html)})

    def add_search_shards(self) -> None:
        """One search shard per scope, among that scope's blobs: a reader can only ever
        decrypt the shards of what they may read. The browser searches them by substring,
        so any 2+ character run of Chinese text is found."""
        for scope, docs in self.texts.items():
            body = json.dumps(docs, ensure_ascii=False).encode()
            self.add(Item(shard_route(scope), "search"), _deflate(body))

    def keyring_name(self, teacher: str) -> str:
        return hashlib.sha256(f"{self.salt}|{teacher}".encode()).hexdigest()[:32]

    def add_keyring(self, account: access.Account, rights: access.Rights) -> None:
        scopes = sorted(s for s in self.keys if may_read(rights, s))
        index_key = crypto.new_key()
        info = f"{FORMAT}|{self.build}|{account.teacher}".encode()
        epk, wrapped = crypto.wrap_for(account.public_raw, [index_key] + [self.keys[s] for s in scopes],
                                       info)  # fmt: skip
        index = {
            route: [blob, item.kind, scopes.index(scope_of(route)), item.title]
            for route, (item, blob) in self.items.items()
            if scope_of(route) in scopes
        }
        sealed_index = crypto.seal(index_key, json.dumps(index, ensure_ascii=False).encode(),
                                   f"{FORMAT}|index|{self.build}".encode())  # fmt: skip
        ring = {"priv": account.private_locked, "epk": crypto.b64(epk),
                "keys": [crypto.b64(w) for w in wrapped], "index": z85(sealed_index)}  # fmt: skip
        text = json.dumps(ring)
        text += " " * (-len(text) % PAD)
        self._write("k", self.keyring_name(account.teacher), z85(text.encode()))


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


def copy_assets(plain: Path, out: Path) -> None:
    """Material's CSS, JavaScript and images: code and style only, no data."""
    shutil.copytree(plain / "assets", out / "assets", dirs_exist_ok=True)


def ensure_accounts(archive_root: Path, archive: Archive) -> list[access.Account]:
    names = [t for t in access.accounts(archive_root) if t in archive.teachers]
    if not names:
        raise YidangError(
            "no reader accounts: nobody could open the protected site. Create one with "
            "`yidang access add <teacher id>` (or build with --unprotected for a local check)"
        )
    return [access.load(archive_root, t) for t in names]


def write_site(out: Path, publisher: Publisher, accounts: list[access.Account], archive: Archive,
               plain: Path, login_html: str, config: dict[str, Any]) -> None:  # fmt: skip
    """The keyrings, the assets and the login shell, once every blob is written."""
    publisher.add_search_shards()
    for account in accounts:
        publisher.add_keyring(account, access.rights(archive, account.teacher))
    copy_assets(plain, out)
    shell_js = Path(__file__).resolve().parent.parent / "site_templates" / "protect" / "yidang-shell.js"
    shutil.copy(shell_js, out / "yidang-shell.js")
    settings = {"build": publisher.build, "salt": publisher.salt, "format": FORMAT, **config}
    index = (plain / "index.html").read_text(encoding="utf-8")
    (out / "index.html").write_text(shell(index, login_html, settings, config["site_name"]),
                                    encoding="utf-8")  # fmt: skip
    os.utime(out)
