"""How a reader finds and opens their keyring in a published site, with one PBKDF2.

A copy of the site may be attacked offline for ever, so nothing in it may let a
passphrase guess be checked more cheaply than the PBKDF2 at 600,000 iterations
that locks the reader's private keys. Yet the build never knows a passphrase:
it can only use what the account file holds. So the account file carries a
value that itself needs the PBKDF2 output (the ``lookup``), and every keyring
is named and wrapped from it afresh for each build::

    salt   = SHA-256("yidang-access-1|salt|<teacher>")[:16]     (known before anything is fetched)
    key    = PBKDF2-HMAC-SHA256(passphrase, salt, 600,000)       (locks both private keys, as before)
    lookup = HKDF-SHA256(key, info "yidang-access-1|lookup|<teacher>")       (in the account file)
    name   = HKDF-SHA256(lookup, salt = build salt, info "yidang-keyring-2|name")[:16]  (k/<name>.js)
    wrap   = HKDF-SHA256(lookup, salt = build salt, info "yidang-keyring-2|wrap|<build>|<teacher>")

The keyring holds the locked private keys only inside an AES-256-GCM box under
``wrap``: none of its bytes are the account file's, and no name or byte string
is shared between two builds (each has its own random salt and build id). The
browser does the same from the teacher id and passphrase: one PBKDF2, then
HKDF, then it fetches ``k/<name>.js``.

Accounts made before this (a random PBKDF2 salt, ``lookup`` a plain SHA-256 of
the teacher id and passphrase: ``fast_lookup``) still get a keyring named and
wrapped from their ``lookup`` the same way, which the browser tries first (one
missing file, not a second PBKDF2); their name can be checked against a guess
without PBKDF2 until the account file is made again with ``lock`` (``hardened``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from generator.core import crypto

FORMAT = "yidang-keyring-2"  # 2: named and wrapped per build from a PBKDF2-derived lookup
ACCOUNT_FORMAT = "yidang-access-1"  # the account files' format: its labels name the derivations


def _hkdf(ikm: bytes, salt: bytes | None, info: str, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info.encode()).derive(ikm)


def account_salt(teacher: str) -> bytes:
    """The PBKDF2 salt of a teacher's account: from the teacher id alone, so the browser can
    run the one PBKDF2 before it knows which file is the keyring. Unique per account (ids are);
    a precomputed table for one id would have to span 120-bit passphrases."""
    return hashlib.sha256(f"{ACCOUNT_FORMAT}|salt|{teacher}".encode()).digest()[:16]


def lookup_from_key(key: bytes, teacher: str) -> str:
    """The account's ``lookup`` from its passphrase key (the PBKDF2 output): a one-way
    function of it, so publishing what it names says nothing about the key."""
    return _hkdf(key, None, f"{ACCOUNT_FORMAT}|lookup|{teacher}").hex()


def lookup(teacher: str, passphrase: str) -> str:
    """The ``lookup`` of a hardened account, from the (normalised) passphrase: costs one
    PBKDF2 at 600,000 iterations, as a guess at it must."""
    return lookup_from_key(crypto.passphrase_key(passphrase, account_salt(teacher)), teacher)


def fast_lookup(teacher: str, passphrase: str) -> str:
    """The ``lookup`` of an account made before: SHA-256 of the teacher id and the
    (normalised) passphrase, as the browser still tries first."""
    return hashlib.sha256(f"{ACCOUNT_FORMAT}|lookup|{teacher}|{passphrase}".encode()).hexdigest()


def lock(
    teacher: str, reading_pkcs8: bytes, signing_pkcs8: bytes, passphrase: str
) -> tuple[dict[str, object], dict[str, object], str]:
    """A hardened account's locked reading key, locked signing key and ``lookup``, from one
    PBKDF2 of the (normalised) passphrase under ``account_salt``."""
    salt = account_salt(teacher)
    key = crypto.passphrase_key(passphrase, salt)
    reading = crypto.lock_with_key(
        reading_pkcs8, key, salt, f"{ACCOUNT_FORMAT}|private-key|{teacher}".encode()
    )
    signing = crypto.lock_with_key(
        signing_pkcs8, key, salt, f"{ACCOUNT_FORMAT}|signing-key|{teacher}".encode()
    )
    return reading, signing, lookup_from_key(key, teacher)


def hardened(teacher: str, locked: dict[str, Any], lookup_hex: str) -> bool:
    """Whether an account's keyring needs PBKDF2 to be found: locked under ``account_salt``
    at the full iteration count (its ``lookup`` is then derived from that key)."""
    return (
        locked.get("salt") == crypto.b64(account_salt(teacher))
        and int(str(locked.get("iterations"))) == crypto.PBKDF2_ITERATIONS
        and len(lookup_hex) == 64
    )


def name(build_salt: str, lookup_hex: str) -> str:
    """A keyring's file name in one build: nobody without the ``lookup`` can tell whose it
    is, nor link it to the same reader's keyring in another build."""
    return _hkdf(bytes.fromhex(lookup_hex), bytes.fromhex(build_salt), f"{FORMAT}|name", 16).hex()


def wrap_key(build_salt: str, build: str, lookup_hex: str, teacher: str) -> bytes:
    """The key of the box in a keyring that holds the reader's locked private keys."""
    return _hkdf(bytes.fromhex(lookup_hex), bytes.fromhex(build_salt), f"{FORMAT}|wrap|{build}|{teacher}")


def lock_aad(build: str, teacher: str) -> bytes:
    return f"{FORMAT}|lock|{build}|{teacher}".encode()


def box(
    build_salt: str, build: str, teacher: str, lookup_hex: str, locked: dict[str, Any], sign: dict[str, Any]
) -> bytes:
    """The locked private keys (and the PBKDF2 salt and count they need), sealed under this
    build's ``wrap_key``: IV || AES-256-GCM."""
    inner = {
        "salt": locked["salt"],
        "iterations": locked["iterations"],
        "priv": locked["data"],
        "sign": sign["data"],
    }
    key = wrap_key(build_salt, build, lookup_hex, teacher)
    return crypto.seal(key, json.dumps(inner).encode(), lock_aad(build, teacher))


def unbox(build_salt: str, build: str, teacher: str, lookup_hex: str, sealed: bytes) -> dict[str, Any]:
    """What ``box`` sealed (tests and tools; the browser does the same)."""
    key = wrap_key(build_salt, build, lookup_hex, teacher)
    opened: dict[str, Any] = json.loads(crypto.open_sealed(key, sealed, lock_aad(build, teacher)))
    return opened
