"""Accounts and crypto: round trips, a wrong passphrase refused, a flipped byte fails
loudly, and reading rights derived from the archive."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from generator.archive.read import read_archive
from generator.core import crypto
from generator.protect import access

from .conftest import SAMPLE

AS_OF = dt.date(2026, 11, 28)


def test_private_key_round_trip_and_wrong_passphrase() -> None:
    account, passphrase = access.create("T1")
    private = account.unlock(passphrase)
    assert private.startswith(b"0\x81")  # DER SEQUENCE: a PKCS#8 private key
    assert account.unlock(passphrase.lower().replace("-", " ")) == private  # typing is forgiving
    with pytest.raises(crypto.CryptoError, match="wrong passphrase"):
        account.unlock(access.new_passphrase())


def test_account_file_is_bound_to_its_teacher() -> None:
    account, passphrase = access.create("T1")
    moved = access.Account("T2", account.public_raw, account.private_locked, account.created, account.lookup)
    with pytest.raises(crypto.CryptoError):
        moved.unlock(passphrase)


def test_account_file_format(tmp_path: Path) -> None:
    account, passphrase = access.create("T1")
    path = access.save(tmp_path, account)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["private_key"]["kdf"] == "PBKDF2-HMAC-SHA256"
    assert data["private_key"]["iterations"] >= 600_000
    assert len(crypto.unb64(data["public_key"])) == 65  # uncompressed P-256 point
    assert passphrase not in path.read_text(encoding="utf-8")
    assert access.load(tmp_path, "T1").unlock(passphrase)
    with pytest.raises(Exception, match="already has an account"):
        access.save(tmp_path, account)


def test_passphrases_are_strong_and_unambiguous() -> None:
    seen = {access.new_passphrase() for _ in range(200)}
    assert len(seen) == 200
    for p in seen:
        assert len(p.replace("-", "")) == 24 and not set(p) & set("ILOU")


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_a_flipped_byte_fails_loudly(position: int) -> None:
    key = crypto.new_key()
    blob = bytearray(crypto.seal(key, "谈话记录".encode(), b"page:1"))
    blob[position] ^= 0x01
    with pytest.raises(crypto.CryptoError):
        crypto.open_sealed(key, bytes(blob), b"page:1")


def test_sealed_blob_cannot_be_moved_to_another_name() -> None:
    key = crypto.new_key()
    blob = crypto.seal(key, b"x", b"page:1")
    with pytest.raises(crypto.CryptoError):
        crypto.open_sealed(key, blob, b"page:2")


def test_wrap_and_unwrap_content_keys() -> None:
    pair = crypto.new_key_pair()
    keys = [crypto.new_key() for _ in range(3)]
    ephemeral, wrapped = crypto.wrap_for(pair.public_raw, keys, b"yidang|T1")
    assert crypto.unwrap_with(pair.private_pkcs8, ephemeral, wrapped, b"yidang|T1") == keys
    other = crypto.new_key_pair()
    with pytest.raises(crypto.CryptoError):
        crypto.unwrap_with(other.private_pkcs8, ephemeral, wrapped, b"yidang|T1")


def test_rights_follow_the_archive() -> None:
    archive = read_archive(SAMPLE, as_of=AS_OF).archive
    assert archive is not None
    assert access.rights(archive, "T001").everything  # leader
    assert access.rights(archive, "T004").everything  # office
    mentor = access.rights(archive, "T015")
    assert not mentor.everything
    assert mentor.students == {s.id for s in archive.mentees("T015")}
    assert mentor.teachers == {"T015"} and not mentor.classes
    head = access.rights(archive, "T008")  # head teacher of G2-01, also a mentor
    assert head.classes == {"G2-01"}
    assert {s.id for s in archive.in_class("G2-01") if s.active} <= head.students


def test_ended_mentoring_is_no_longer_granted() -> None:
    """S2025008 changed mentor on 2026-10-15: T010 loses it, T009 gains it."""
    before = read_archive(SAMPLE, as_of=dt.date(2026, 10, 14)).archive
    after = read_archive(SAMPLE, as_of=dt.date(2026, 10, 15)).archive
    assert "S2025008" in access.rights(before, "T010").students
    assert "S2025008" not in access.rights(after, "T010").students
    assert "S2025008" in access.rights(after, "T009").students


def test_cli_add_list_passwd_remove(tmp_path: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "archives"
    shutil.copytree(SAMPLE, archive)
    added = run("access", "add", "T014", "--archive", archive)
    assert added.exit_code == 0
    passphrase = next(line.strip() for line in added.output.splitlines() if line.count("-") == 5)
    assert run("access", "add", "T014", "--archive", archive).exit_code == 1
    assert run("access", "add", "T999", "--archive", archive).exit_code == 2
    listing = run("access", "list", "--archive", archive, "--as-of", "2026-11-28").output
    assert "T014\t钟国栋\t3 students (S2026002, S2026006, S2026009)" in listing
    assert "T001\t周明远\t全部 / everything" in listing
    from click.testing import CliRunner

    from generator.cli import main

    changed = CliRunner().invoke(
        main, ["access", "passwd", "T014", "--archive", str(archive)], input=passphrase + "\n"
    )
    assert changed.exit_code == 0, changed.output
    new = next(line.strip() for line in changed.output.splitlines() if line.count("-") == 5)
    assert access.load(archive, "T014").unlock(new)
    refused = CliRunner().invoke(
        main, ["access", "passwd", "T014", "--archive", str(archive)], input=passphrase + "\n"
    )
    assert refused.exit_code == 1 and "wrong passphrase" in refused.output
    old_public = access.load(archive, "T014").public_raw
    reset = run("access", "passwd", "T014", "--reset", "--archive", archive)  # passphrase forgotten
    assert reset.exit_code == 0
    fresh = next(line.strip() for line in reset.output.splitlines() if line.count("-") == 5)
    assert access.load(archive, "T014").unlock(fresh)
    assert access.load(archive, "T014").public_raw != old_public  # a new key pair
    with pytest.raises(crypto.CryptoError):
        access.load(archive, "T014").unlock(new)
    assert run("access", "remove", "T014", "--yes", "--archive", archive).exit_code == 0
    assert not access.account_path(archive, "T014").exists()
    assert run("check", archive, "--as-of", "2026-11-28").exit_code == 0
