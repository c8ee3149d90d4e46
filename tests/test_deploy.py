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

from generator.protect import access, inbox
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
    inbox.create(archive)
    config = write_config(work, archive, protect=True, intake_url="/inbox/")
    result = CliRunner().invoke(main, ["build", "--config", str(config), "--site-dir", str(work / "site")])
    assert result.exit_code == 0, result.output
    return work / "site", passphrase


def _nginx_blocks() -> tuple[str, str]:
    """docs/deploy.md's two nginx blocks: the inbox's limits (http context) and the TLS server
    (the :80 redirect after it needs root)."""
    text = (REPO / "docs/deploy.md").read_text(encoding="utf-8")
    limits, site = re.findall(r"```nginx\n(.*?)```", text, re.S)[:2]
    return limits, site[: site.index("\nserver {", 1)]


@contextlib.contextmanager
def _nginx(site: Path, folder: Path, htpasswd: str = "") -> Iterator[str]:
    """nginx running docs/deploy.md's server block for ``site`` (inbox in ``folder``/inbox),
    on a free port with a throwaway certificate; yields the site's address."""
    crt, pem = _certificate(folder)
    port = _free_port()
    (folder / "inbox" / ".tmp").mkdir(parents=True)
    (folder / "inbox.htpasswd").write_text(htpasswd, encoding="utf-8")
    limits, block = _nginx_blocks()
    server = (
        block.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
        .replace("/etc/ssl/yidang/fullchain.pem", str(crt))
        .replace("/etc/ssl/yidang/privkey.pem", str(pem))
        .replace("/srv/yidang/site", str(site))
        .replace("/srv/yidang/inbox.htpasswd", str(folder / "inbox.htpasswd"))
        .replace("/srv/yidang/inbox", str(folder / "inbox"))
        .replace("yidang.school.example", "yidang.school.test")
    )
    conf = folder / "nginx.conf"
    conf.write_text(
        f"user {getpass.getuser()};\n"  # pytest's folders are private to this user
        f"pid {folder}/nginx.pid;\nerror_log {folder}/error.log;\ndaemon off;\n"
        "events {}\nhttp {\n  include /etc/nginx/mime.types;\n"
        f"  access_log {folder}/access.log;\n  client_body_temp_path {folder};\n"
        f"{limits}\n{server}\n}}\n",
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
        encoding: dict[str, str | None] = {}  # file name → how it came
        page.on(
            "response",
            lambda r: encoding.update({r.url.rsplit("/", 1)[-1]: r.headers.get("content-encoding")}),
        )
        response = page.goto(url)
        assert response.headers["content-security-policy"] == f"{CSP}; frame-ancestors 'none'"
        assert page.evaluate("window.isSecureContext")
        page.wait_for_selector("#yd-login:not([hidden])")
        assert errors == [], errors  # nothing blocked by the CSP, nothing missing
        css = next(name for name in encoding if name.startswith("main.") and name.endswith(".css"))
        assert encoding["yidang-shell.js"] == encoding[css] == "gzip"  # a slow phone's login, sooner
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


def _request(url: str, method: str, data: bytes | None = None, user: tuple[str, str] | None = None) -> int:
    import base64
    import ssl
    import urllib.error
    import urllib.request

    insecure = ssl.create_default_context()
    insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE  # the throwaway certificate
    request = urllib.request.Request(url.replace("yidang.school.test", "127.0.0.1"), data, method=method)
    if user is not None:
        token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, context=insecure, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _send_from_the_form(page, url: str, passphrase: str) -> str:  # type: ignore[no-untyped-def]
    """T2 logs in, fills a talk and seals it; what the page says about sending it."""
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
    return str(page.inner_text(".yd-sealed-says"))


def test_the_inbox_takes_new_sealed_files_and_gives_nothing_back(tiny_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    site, passphrase = tiny_site
    stored = tmp_path / "inbox"
    user = _upload_credential(site)
    with _nginx(site, tmp_path, inbox.htpasswd(site.parent / "tiny")) as url, chromium(LAN) as browser:
        context = browser.new_context(ignore_https_errors=True)
        said = _send_from_the_form(context.new_page(), url, passphrase)  # with T2's credential
        assert said == "已提交到学校收件箱,办公室会审核后收入档案。"
        context.close()
        landed = [p for p in stored.iterdir() if p.is_file()]
        assert len(landed) == 1 and landed[0].name.endswith(".yidang")
        name = landed[0].name.split("-", 1)[1]  # the server put the request's id before the name
        assert _request(f"{url}inbox/{name}", "GET", None, user) == 403  # nothing comes back out
        assert _request(f"{url}inbox/", "GET", None, user) == 403  # no listing
        assert _request(f"{url}inbox/{name}", "DELETE", None, user) == 403
        assert _request(f"{url}inbox/notes.txt", "PUT", b"x", user) == 403  # only sealed-file names
        assert _request(f"{url}inbox/{name}", "PUT", b"other", user) == 201  # a second file, beside it
        assert sorted(p.read_bytes()[:7] for p in stored.iterdir() if p.is_file()) == [b"other", b'{"forma']
    assert json.loads(landed[0].read_bytes())["format"] == "yidang-submission-1"


def test_a_refused_upload_says_so_and_the_file_can_still_be_sent(tiny_site, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """T2's account is not on the server's list (not written again since it was made): the
    page says the upload failed, and offers the sealed file (no browser login box)."""
    site, passphrase = tiny_site
    with _nginx(site, tmp_path, "") as url, chromium(LAN) as browser:
        context = browser.new_context(ignore_https_errors=True, accept_downloads=True)
        page = context.new_page()
        assert _send_from_the_form(page, url, passphrase) == "自动提交没有成功,请下载封装文件后发给办公室。"
        with page.expect_download() as download:
            page.click("[data-sealed]")
        assert json.loads(Path(download.value.path()).read_bytes())["format"] == "yidang-submission-1"
        context.close()
    assert [p for p in (tmp_path / "inbox").iterdir() if p.is_file()] == []


def _upload_credential(site: Path, teacher: str = "T2") -> tuple[str, str]:
    archive = site.parent / "tiny"
    key = inbox.secret(archive)
    assert key is not None
    found = inbox.credential(key, access.load(archive, teacher))
    return found.user, found.password


def test_the_inbox_takes_uploads_only_with_a_credential_and_replaces_nothing(
    tiny_site, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    site, _ = tiny_site
    archive = site.parent / "tiny"
    user = _upload_credential(site)
    stored = tmp_path / "inbox"
    with _nginx(site, tmp_path, inbox.htpasswd(archive)) as url:
        name = f"{url}inbox/yidang-0123456789abcdef.yidang"
        assert _request(name, "PUT", b"x") == 401  # no credential
        assert _request(name, "PUT", b"x", (user[0], "wrong")) == 401
        assert _request(name, "PUT", b"x", ("T9", user[1])) == 401  # no such account
        with ThreadPoolExecutor(2) as pool:  # two uploads of one name at the same time
            codes = list(pool.map(lambda body: _request(name, "PUT", body, user), [b"first", b"second"]))
        assert codes == [201, 201]
        assert sorted(p.read_bytes() for p in stored.iterdir() if p.is_file()) == [b"first", b"second"]
        assert _request(name, "PUT", b"x" * (41 * 1024 * 1024), user) == 413
        assert _request(name, "GET", None, user) == 403 and _request(name, "DELETE", None, user) == 403
        flood = [_request(f"{url}inbox/yidang-{n:016x}.yidang", "PUT", b"y", user) for n in range(30)]
    assert 429 in flood and flood.count(201) <= 11, flood  # the burst, then refused
    assert len([p for p in stored.iterdir() if p.is_file()]) == 2 + flood.count(201)  # refused: not stored


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
        phone = browser.new_page(viewport={"width": 390, "height": 844})  # no folder to double-click
        phone.goto(url.replace("127.0.0.1", "yidang.school.test"))
        message = phone.inner_text("#yd-error")
        assert "联系学校帮扶办公室" in message and "https://" in message and "index.html" not in message
        phone.close()


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
