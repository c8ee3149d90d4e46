"""docs/deploy.md's nginx configuration, for real: nginx with TLS in front of a
protected site, a login through it in Chromium; and the plain-http LAN case."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.protect import access
from generator.protect.seal import CSP

from .browser import chromium, serve_folder
from .conftest import REPO
from .test_site import write_config

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LAN = "--host-resolver-rules=MAP yidang.school.test 127.0.0.1"  # a name that is not localhost


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _certificate(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yidang.school.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("yidang.school.test")]), False)
        .sign(key, hashes.SHA256())
    )
    crt, pem = folder / "fullchain.pem", folder / "privkey.pem"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return crt, pem


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The tiny archive with a reader (T2, mentor of S1) and an intake key, built with the
    record forms sending to /inbox/."""
    from click.testing import CliRunner

    from generator.cli import main

    work = tmp_path_factory.mktemp("deploy")
    archive = work / "tiny"
    shutil.copytree(REPO / "tests/fixtures/tiny", archive)
    account, passphrase = access.create("T2")
    access.save(archive, account)
    access.save_intake(archive, access.create_intake()[0])
    config = write_config(work, archive, protect=True, intake_url="/inbox/")
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--site-dir", str(work / "site")])
    assert result.exit_code == 0, result.output
    return work / "site", passphrase


def _nginx_block() -> str:
    text = (REPO / "docs/deploy.md").read_text(encoding="utf-8")
    block = re.search(r"```nginx\n(.*?)```", text, re.S).group(1)  # type: ignore[union-attr]
    return block[: block.index("\nserver {", 1)]  # the TLS server; the :80 redirect needs root


@contextlib.contextmanager
def _nginx(site: Path, folder: Path) -> Iterator[str]:
    """nginx running docs/deploy.md's server block for ``site`` (inbox in ``folder``/inbox),
    on a free port with a throwaway certificate; yields the site's address."""
    crt, pem = _certificate(folder)
    port = _free_port()
    (folder / "inbox" / ".tmp").mkdir(parents=True)
    server = (
        _nginx_block()
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
        .replace("/etc/ssl/yidang/fullchain.pem", str(crt))
        .replace("/etc/ssl/yidang/privkey.pem", str(pem))
        .replace("/srv/yidang/site", str(site))
        .replace("/srv/yidang/inbox", str(folder / "inbox"))
        .replace("yidang.school.example", "yidang.school.test")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"user {getpass.getuser()};\n"  # pytest's folders are private to this user
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\ndaemon off;\n"
        "events {}\nhttp {\n  include /etc/nginx/mime.types;\n"
        f"  access_log {folder}/access.log;\n  client_body_temp_path {folder};\n"
        f"{server}\n}}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 10
        while True:  # until nginx listens; it failing to start, or 10 s, fails the test here
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, f"nginx not listening on port {port} after 10 s"
                time.sleep(0.05)
        yield f"https://yidang.school.test:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_nginx_config_from_the_docs_serves_the_site_over_tls(tiny_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site, passphrase = tiny_site
    with _nginx(site, tmp_path) as url, chromium(LAN) as browser:
        context = browser.new_context(ignore_https_errors=True)  # a throwaway certificate
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        response = page.goto(url)
        assert response.headers["content-security-policy"] == f"{CSP}; frame-ancestors 'none'"
        assert page.evaluate("window.isSecureContext")
        page.wait_for_selector("#yd-login:not([hidden])")
        assert errors == [], errors  # nothing blocked by the CSP, nothing missing
        page.fill("#yd-user", "T2")
        page.fill("#yd-pass", passphrase)
        page.click("#yd-login button[type=submit]")
        page.wait_for_selector("[data-group=students]")
        page.click("[data-group=students] a")
        page.wait_for_selector("#yd-page [data-section=profile]")
        context.close()
    # What the server's admin sees: requests for opaque files, never a login, id or query.
    requests = [line.split('"')[1] for line in (tmp_path / "access.log").read_text().splitlines()]
    files = r"|yidang-shell\.js|assets/\S+|k/[0-9a-f]{32}\.js|d/[0-9a-f]{24}\.js"
    allowed = re.compile(rf"GET /({files}) HTTP/1\.1")
    assert requests and all(allowed.fullmatch(r) for r in requests), requests
    assert any(r.startswith("GET /k/") for r in requests)
    assert any(r.startswith("GET /d/") for r in requests)


def _request(url: str, method: str, data: bytes | None = None) -> int:
    import ssl
    import urllib.error
    import urllib.request

    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE  # the throwaway certificate
    request = urllib.request.Request(url.replace("yidang.school.test", "127.0.0.1"), data, method=method)
    try:
        with urllib.request.urlopen(request, context=insecure, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_the_inbox_takes_new_sealed_files_and_gives_nothing_back(tiny_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site, passphrase = tiny_site
    inbox = tmp_path / "inbox"
    with _nginx(site, tmp_path) as url, chromium(LAN) as browser:
        context = browser.new_context(ignore_https_errors=True)
        page = context.new_page()
        page.goto(url)
        page.fill("#yd-user", "T2")
        page.fill("#yd-pass", passphrase)
        page.click("#yd-login button[type=submit]")
        page.wait_for_selector("[data-group=students]")
        page.click('.yd-write-type[data-type="talk"]')
        page.select_option("#yd-f-mode", "phone")
        page.fill("#yd-f-topic", "寒假安排")
        page.fill("#yd-f-narrative", "电话里聊了寒假的安排。")
        page.click("#yd-form button[type=submit]")
        page.wait_for_selector(".yd-sealed:not([hidden])")
        assert page.inner_text(".yd-sealed-says") == "已提交。"  # the page's PUT landed
        context.close()
        landed = [p for p in inbox.iterdir() if p.is_file()]
        assert len(landed) == 1 and landed[0].name.startswith("yidang-")
        name = landed[0].name
        assert _request(f"{url}inbox/{name}", "GET") == 403  # nothing comes back out
        assert _request(f"{url}inbox/", "GET") == 403  # no listing
        assert _request(f"{url}inbox/{name}", "PUT", b"other") == 409  # never over a file
        assert _request(f"{url}inbox/{name}", "DELETE") == 403
        assert _request(f"{url}inbox/notes.txt", "PUT", b"x") == 403  # only sealed-file names
        assert _request(f"{url}inbox/yidang-0123456789abcdef.yidang", "PUT", b"{}") == 201
    assert json.loads(landed[0].read_bytes())["format"] == "yidang-submission-1"


def test_plain_http_lan_address_says_what_to_do(tiny_site) -> None:  # type: ignore[no-untyped-def]
    site, _ = tiny_site
    with serve_folder(site) as url, chromium(LAN) as browser:
        page = browser.new_page()
        page.goto(url.replace("127.0.0.1", "yidang.school.test"))
        assert page.evaluate("window.isSecureContext") is False
        message = page.inner_text("#yd-error")
        assert "https://" in message and "localhost" in message and "index.html" in message
        assert page.locator("#yd-login").is_hidden()
        page.close()


def test_plain_http_opted_in_works_with_a_warning(tmp_path: Path) -> None:
    """A school without a certificate set plain_http: true. On a LAN name over plain http
    (no WebCrypto there) the page logs in with the @noble libraries, opens a page, and
    warns that the connection is not encrypted; the CSP still refuses any other script."""
    from click.testing import CliRunner

    from generator.cli import main

    archive = tmp_path / "tiny"
    shutil.copytree(REPO / "tests/fixtures/tiny", archive)
    account, passphrase = access.create("T2")
    access.save(archive, account)
    config = write_config(tmp_path, archive, protect=True, plain_http=True)
    result = CliRunner().invoke(
        main, ["build", "--config", str(config), "--site-dir", str(tmp_path / "site")]
    )
    assert result.exit_code == 0, result.output
    with serve_folder(tmp_path / "site") as url, chromium(LAN) as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url.replace("127.0.0.1", "yidang.school.test"))
        assert page.evaluate("window.isSecureContext") is False
        assert page.evaluate("!!(window.crypto && window.crypto.subtle)") is False
        page.wait_for_selector("#yd-login:not([hidden])")
        assert "未加密" in page.inner_text(".yd-insecure")
        page.fill("#yd-user", "T2")
        page.fill("#yd-pass", passphrase)
        page.click("#yd-login button[type=submit]")
        page.wait_for_selector("[data-group=students]", timeout=60_000)  # PBKDF2 in JavaScript: seconds
        page.click("[data-group=students] a")
        page.wait_for_selector("#yd-page [data-section=profile]")
        assert page.locator(".yd-insecure").is_visible()  # still said, on every page
        assert errors == [], errors
        page.close()
