"""Fetch the browser libraries the site ships (npm packages, pinned and verified).

    .venv/bin/python scripts/vendor.py        (make runs it; nothing happens when they are here)

Each package is downloaded once from the npm registry as the tarball of one
exact version, checked against the registry's SHA-512 integrity value written
below (a changed tarball is refused), and only the files the site needs are
kept, in ``site_templates/vendor/`` (not in git). The published site then
carries them: nothing is fetched from the network when the site is viewed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent.parent / "site_templates" / "vendor"
PACKAGES = {  # name → (version, npm integrity, {file in the tarball: name in vendor/})
    "echarts": (
        "6.1.0",
        "sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==",
        {"package/dist/echarts.min.js": "echarts.min.js", "package/LICENSE": "echarts.LICENSE.txt"},
    ),
    # Only for a school that opts in to plain-http LAN use (mkdocs.yml: plain_http): the same
    # cryptography as WebCrypto, in audited JavaScript. Every module of the package is kept
    # (they import one another); "package/" means all its .js files and its LICENSE.
    "@noble/curves": (
        "2.4.0",
        "sha512-P4/62zrgfH33CneE3Dn4WhJVA22YUU0eR51wKIan4NVRvwsA0YnPTwWGpNbpuacSujmSFLvyzpyuR30+fbq2Ew==",
        {"package/": "noble/curves/"},
    ),
    "@noble/hashes": (
        "2.4.0",
        "sha512-X5XaVWZIBCT7HHZGm5I7ZQXDwLG+bGXuSrMQAW+7Zvl87h1kmc1ZB1VSRJcpUfoUrGQp4Fkoxm5kZ+Ms+aW+eA==",
        {"package/": "noble/hashes/"},
    ),
    "@noble/ciphers": (
        "2.4.0",
        "sha512-AnjFn0Jv92laAkvMrghlFZq4qQCIN/4DxFV/eooqtC2YTjB7kBeLMS2T9KJX4Dn+ZVXLOwK0lSgqDtx9gvxtiw==",
        {"package/": "noble/ciphers/"},
    ),
}
STAMP = VENDOR / "vendor.json"


def _wanted() -> dict[str, str]:
    return {name: f"{version}|{integrity}" for name, (version, integrity, _) in PACKAGES.items()}


def _tarball(name: str, version: str, integrity: str) -> bytes:
    url = f"{REGISTRY}/{name}/-/{name.rsplit('/', 1)[-1]}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=120) as response:
        data: bytes = response.read()
    algorithm, _, expected = integrity.partition("-")
    got = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if got != expected:
        sys.exit(f"{url}: integrity {algorithm}-{got} is not the pinned {integrity}; refusing it")
    return data


def _members(tar: tarfile.TarFile, member: str, target: str) -> list[tuple[str, str]]:
    """(file in the tarball, path in vendor/): one file, or a folder's .js files and LICENSE
    (not its TypeScript sources), keeping their relative paths."""
    if not member.endswith("/"):
        return [(member, target)]
    out = []
    for m in tar.getmembers():
        rel = m.name.removeprefix(member)
        inside = m.isfile() and m.name.startswith(member) and ".." not in rel.split("/")
        if inside and not rel.startswith("src/") and (rel.endswith(".js") or rel == "LICENSE"):
            out.append((m.name, target + rel))
    return out


def main() -> None:
    try:
        if json.loads(STAMP.read_text(encoding="utf-8")) == _wanted():
            return
    except (OSError, ValueError):
        pass
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, (version, integrity, files) in PACKAGES.items():
        with tarfile.open(fileobj=io.BytesIO(_tarball(name, version, integrity))) as tar:
            for member, target in files.items():
                for source, dest in _members(tar, member, target):
                    extracted = tar.extractfile(source)
                    if extracted is None:
                        sys.exit(f"{name} {version}: no {source} in the tarball")
                    (VENDOR / dest).parent.mkdir(parents=True, exist_ok=True)
                    (VENDOR / dest).write_bytes(extracted.read())
        print(f"vendored {name} {version}")
    STAMP.write_text(json.dumps(_wanted(), indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
