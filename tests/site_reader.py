"""Read a protected site as a reader would: log in, open every blob the keyring lists.

Does in Python what site_templates/protect/yidang-shell.js does in the browser
(the browser tests check that one), so tests can compare whole sites.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import access, crypto
from generator.protect import FORMAT

BLOB = re.compile(r'__yd\("([0-9a-f]+)","([^"]*)"\);\n')


def _payload(path: Path) -> str:
    match = BLOB.fullmatch(path.read_text(encoding="ascii"))
    assert match, f"{path} is not a blob file"
    return match.group(2)


def site_config(site: Path) -> dict[str, Any]:
    html = (site / "index.html").read_text(encoding="utf-8")
    return json.loads(re.search(r"window\.YD_CONFIG=(\{.*?\});</script>", html).group(1))  # type: ignore[union-attr]


@dataclass
class Reader:
    """One reader's view of a site: their content keys and their page index."""

    site: Path
    keys: list[bytes]
    index: dict[str, list[Any]]  # route → [blob, kind, key index, title]

    def raw(self, route: str) -> bytes:
        blob, _, at, _ = self.index[route]
        return crypto.open_sealed(self.keys[at], crypto.unb64(_payload(self.site / "d" / f"{blob}.js")),
                                  f"{FORMAT}|{blob}".encode())  # fmt: skip

    def open(self, route: str) -> Any:
        """A page as {"t": title, "h": html}, a search shard as a list, a file as bytes."""
        kind = self.index[route][1]
        data = self.raw(route)
        if kind in ("page", "search"):
            return json.loads(zlib.decompress(data, -15))
        return data

    def everything(self) -> dict[str, tuple[str, str, Any]]:
        """Route → (kind, title, content) for every route this reader may open."""
        return {route: (kind, title, self.open(route)) for route, (_, kind, _, title) in self.index.items()}


def login(site: Path, teacher: str, passphrase: str) -> Reader:
    config = site_config(site)
    name = hashlib.sha256(f"{config['salt']}|{teacher}".encode()).hexdigest()[:32]
    ring = json.loads(crypto.unb64(_payload(site / "k" / f"{name}.js")).decode("utf-8"))
    private = crypto.unlock_private_key(ring["priv"], access.normalise(passphrase), access._aad(teacher))
    info = f"{FORMAT}|{config['build']}|{teacher}".encode()
    keys = crypto.unwrap_with(
        private, crypto.unb64(ring["epk"]), [crypto.unb64(w) for w in ring["keys"]], info
    )
    index = json.loads(crypto.open_sealed(keys[0], crypto.unb64(ring["index"]),
                                          f"{FORMAT}|index|{config['build']}".encode()))  # fmt: skip
    return Reader(site, keys[1:], index)
