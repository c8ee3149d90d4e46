"""Vetted primitives only, in formats WebCrypto reads directly.

- A reader's key pair: ECDH on P-256. The public key is the uncompressed
  X9.62 point; the private key is PKCS#8, encrypted with AES-256-GCM under a
  key derived from the passphrase with PBKDF2-HMAC-SHA256 at 600,000
  iterations (OWASP 2023).
- Content keys: random AES-256-GCM keys. They are wrapped to a reader's
  public key as JWE's ECDH-ES+A256KW does: an ephemeral ECDH agreement,
  HKDF-SHA256, then AES key wrap (RFC 3394). The build only ever sees public
  keys, so it needs no password.

Every ciphertext carries associated data naming what it is, so a blob cannot
be swapped for another; any flipped byte fails with :class:`CryptoError`.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from generator.core.problems import YidangError

PBKDF2_ITERATIONS = 600_000
CURVE = ec.SECP256R1()
IV_BYTES = 12
SALT_BYTES = 16


class CryptoError(YidangError):
    """Decryption failed: wrong passphrase, or data that was changed."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- symmetric ---------------------------------------------------------------


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM; returns IV || ciphertext+tag."""
    iv = os.urandom(IV_BYTES)
    return iv + AESGCM(key).encrypt(iv, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(blob[:IV_BYTES], blob[IV_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise CryptoError("decryption failed: wrong key or changed data") from None


# --- passphrase-protected private keys --------------------------------------


def passphrase_key(passphrase: str, salt: bytes, iterations: int = PBKDF2_ITERATIONS) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations)
    return kdf.derive(passphrase.encode("utf-8"))


@dataclass(frozen=True)
class KeyPair:
    public_raw: bytes  # uncompressed X9.62 point, 65 bytes
    private_pkcs8: bytes


def new_key_pair() -> KeyPair:
    private = ec.generate_private_key(CURVE)
    return KeyPair(
        _raw_public(private.public_key()),
        private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def _raw_public(public: ec.EllipticCurvePublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def lock_private_key(
    private_pkcs8: bytes, passphrase: str, aad: bytes, salt: bytes | None = None
) -> dict[str, object]:
    """The private key, encrypted under the passphrase (stored in archives/access/). Keys
    locked with the same ``salt`` open with one key derivation (a reader's two keys)."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    return lock_with_key(private_pkcs8, passphrase_key(passphrase, salt), salt, aad)


def lock_with_key(private_pkcs8: bytes, key: bytes, salt: bytes, aad: bytes) -> dict[str, object]:
    """As ``lock_private_key``, with the passphrase key already derived from ``salt`` (two
    keys locked with one PBKDF2)."""
    return {
        "kdf": "PBKDF2-HMAC-SHA256",
        "hash": "SHA-256",
        "iterations": PBKDF2_ITERATIONS,
        "salt": b64(salt),
        "cipher": "AES-256-GCM",
        "data": b64(seal(key, private_pkcs8, aad)),
    }


def unlock_private_key(locked: dict[str, object], passphrase: str, aad: bytes) -> bytes:
    key = passphrase_key(passphrase, unb64(str(locked["salt"])), int(str(locked["iterations"])))
    try:
        return open_sealed(key, unb64(str(locked["data"])), aad)
    except CryptoError:
        raise CryptoError("wrong passphrase (or the key file was changed)") from None


# --- wrapping content keys to a reader's public key --------------------------


def _kek(shared: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def wrap_for(public_raw: bytes, content_keys: list[bytes], info: bytes) -> tuple[bytes, list[bytes]]:
    """Wrap keys to one reader: (ephemeral public key, wrapped keys). ECDH-ES + HKDF + AES-KW."""
    ephemeral = ec.generate_private_key(CURVE)
    reader = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, public_raw)
    kek = _kek(ephemeral.exchange(ec.ECDH(), reader), info)
    return _raw_public(ephemeral.public_key()), [aes_key_wrap(kek, k) for k in content_keys]


def unwrap_with(private_pkcs8: bytes, ephemeral_raw: bytes, wrapped: list[bytes], info: bytes) -> list[bytes]:
    """The reader's side (the browser does the same with WebCrypto)."""
    private = serialization.load_der_private_key(private_pkcs8, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, ephemeral_raw)
    kek = _kek(private.exchange(ec.ECDH(), ephemeral), info)
    try:
        return [aes_key_unwrap(kek, w) for w in wrapped]
    except InvalidUnwrap:
        raise CryptoError("a wrapped key does not unwrap: wrong key or changed data") from None


# --- signatures (ECDSA P-256, SHA-256) ---------------------------------------------


def sign(private_pkcs8: bytes, data: bytes) -> bytes:
    """ECDSA P-256 / SHA-256, as WebCrypto writes it: r || s, 32 bytes each."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    private = serialization.load_der_private_key(private_pkcs8, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify(public_raw: bytes, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` (r || s) over ``data`` was made with ``public_raw``'s private key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    if len(signature) != 64:
        return False
    public = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, public_raw)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --- sealing to a public key (ECIES: ECDH-ES + HKDF-SHA256 + AES-256-GCM) -------------


def seal_to(public_raw: bytes, plaintext: bytes, info: bytes) -> tuple[bytes, bytes]:
    """Encrypt to the holder of ``public_raw``: (ephemeral public key, IV || ciphertext+tag).
    ``info`` names the format and the key; it is the HKDF info and the AES-GCM associated
    data, so a sealed file cannot be read as anything else."""
    ephemeral = ec.generate_private_key(CURVE)
    holder = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, public_raw)
    key = _kek(ephemeral.exchange(ec.ECDH(), holder), info)
    return _raw_public(ephemeral.public_key()), seal(key, plaintext, info)


def open_to(private_pkcs8: bytes, ephemeral_raw: bytes, sealed: bytes, info: bytes) -> bytes:
    """The holder's side of ``seal_to``; CryptoError when it was sealed to another key or changed."""
    private = serialization.load_der_private_key(private_pkcs8, password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    try:
        ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(CURVE, ephemeral_raw)
    except ValueError:
        raise CryptoError("not a public key: the file was changed") from None
    return open_sealed(_kek(private.exchange(ec.ECDH(), ephemeral), info), sealed, info)


def fingerprint(public_raw: bytes) -> str:
    """A short name for a public key (16 hex digits of its SHA-256)."""
    import hashlib

    return hashlib.sha256(public_raw).hexdigest()[:16]
