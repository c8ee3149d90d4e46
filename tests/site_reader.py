"""Read a protected site as a reader would: log in, open every blob the keyring lists.

Does in Python what site_templates/protect/yidang-shell.js does in the browser
(the browser tests check that one), so tests can compare whole sites.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.core import crypto
from generator.protect import access, keyring
from generator.protect.seal import COUNSEL_INDEX, FORMAT, INDEX, blob_aad, unpad

BLOB = re.compile(r'__yd\("([0-9a-f]+)","([^"]*)"\);\n')


def _payload(path: Path) -> str:
    match = BLOB.fullmatch(path.read_text(encoding="ascii"))
    assert match, f"{path} is not a blob file"
    return match.group(2)


def site_config(site: Path) -> dict[str, Any]:
    html = (site / "index.html").read_text(encoding="utf-8")
    found = re.search(r'<script type="application/json" id="yd-config">(\{.*?\})</script>', html)
    assert found, "no yd-config in index.html"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def open_blob(site: Path, blob: str, key: bytes, route: str) -> bytes:
    """A blob's content: it opens only with its key, under its own id and route."""
    sealed = crypto.unb64(_payload(site / "d" / f"{blob}.js"))
    return unpad(crypto.open_sealed(key, sealed, blob_aad(blob, route)))


@dataclass
class Reader:
    """One reader's view of a site: their content keys and their page index."""

    site: Path
    keys: list[bytes]
    index: dict[str, list[Any]]  # token → [blob, kind, key index, title, route]

    @property
    def routes(self) -> dict[str, list[Any]]:
        """Route → its index entry."""
        return {e[4]: e for e in self.index.values()}

    def token(self, route: str) -> str:
        """What the address bar shows for ``route``."""
        return next(t for t, e in self.index.items() if e[4] == route)

    def raw(self, route: str) -> bytes:
        blob, _, at, _, _ = self.routes[route]
        return open_blob(self.site, blob, self.keys[at], route)

    def open(self, route: str) -> Any:
        """A page as {"t": title, "h": html}, a search shard or a page's parts as a list,
        a file as bytes."""
        kind = self.routes[route][1]
        data = self.raw(route)
        if kind in ("page", "search", "part", "todo"):
            return json.loads(zlib.decompress(data, -15))
        return data

    def everything(self) -> dict[str, tuple[str, str, Any]]:
        """Route → (kind, title, content) for every route this reader may open."""
        return {route: (kind, title, self.open(route)) for _, kind, _, title, route in self.index.values()}


def find_keyring(site: Path, teacher: str, passphrase: str) -> tuple[str, dict[str, Any]]:
    """The reader's ``lookup`` and keyring, as the browser finds them: by the fast lookup of
    an account made before hardened ones, else by the one PBKDF2 (``keyring``)."""
    salt, pass_ = site_config(site)["salt"], access.normalise(passphrase)
    for lookup in (keyring.fast_lookup(teacher, pass_), keyring.lookup(teacher, pass_)):
        path = site / "k" / f"{keyring.name(salt, lookup)}.js"
        if path.is_file():
            return lookup, json.loads(crypto.unb64(_payload(path)).decode("utf-8"))
    raise FileNotFoundError(f"no keyring for {teacher} with this passphrase")


def login(site: Path, teacher: str, passphrase: str) -> Reader:
    config = site_config(site)
    lookup, ring = find_keyring(site, teacher, passphrase)
    box = keyring.unbox(config["salt"], config["build"], teacher, lookup, crypto.unb64(ring["lock"]))
    locked = {"salt": box["salt"], "iterations": box["iterations"], "data": box["priv"]}
    private = crypto.unlock_private_key(locked, access.normalise(passphrase), access._aad(teacher))
    info = f"{FORMAT}|{config['build']}|{teacher}".encode()
    (ring_key,) = crypto.unwrap_with(private, crypto.unb64(ring["epk"]), [crypto.unb64(ring["key"])], info)
    sealed = crypto.unb64(ring["ring"])
    own = json.loads(unpad(crypto.open_sealed(ring_key, sealed, f"{FORMAT}|ring|{config['build']}".encode())))
    if "ref" in own:  # leadership: everything, in one blob under the leadership key
        own = json.loads(open_blob(site, own["ref"][0], crypto.unb64(own["keys"][0]), INDEX))
    if "cref" in own:  # the counsellor role: every counselling scope, in one blob
        blob, at = own["cref"]
        more = json.loads(open_blob(site, blob, crypto.unb64(own["keys"][at]), COUNSEL_INDEX))
        offset = len(own["keys"])
        own["keys"] += more["keys"]
        for token, entry in more["index"].items():
            own["index"][token] = [*entry[:2], entry[2] + offset, *entry[3:]]
    return Reader(site, [crypto.unb64(k) for k in own["keys"]], own["index"])


def opens_nothing(site: Path, keys: list[bytes], now: Reader) -> bool:
    """No blob of ``site`` opens with any of ``keys`` (a reader's keys from before), each tried
    under its own route as its old reader knew it (``now``: a reader of everything in this
    build, for the routes; the one blob no route names is leadership's index)."""
    routes = {e[0]: e[4] for e in now.index.values()}
    for path in (site / "d").glob("*.js"):
        for key in keys:
            try:
                open_blob(site, path.stem, key, routes.get(path.stem, INDEX))
            except crypto.CryptoError:
                continue
            return False
    return True
