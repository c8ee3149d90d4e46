"""yidang's benchmark: times and peak memory of each command on a synthetic archive.

    .venv/bin/python bench/run.py --students 1000 --records-per-student 150

Prints a table: `check`, the site build (`yidang build --no-booklets`), and a plain
`mkdocs build` of the same pages with the same theme and no yidang plugin
(the rendered pages are written out as Markdown files first, untimed), with the ratio of the
two builds, each command's peak memory (resident set of the whole process
tree, sampled every 20 ms) and the size of what it wrote. Then booklets: pages
per second at 1 and 2 jobs on synthetic students with 150 records each, the
seconds per booklet (per worker) and the peak memory of one worker. In Chromium, the
site served as docs/deploy.md's nginx serves it (gzip): login to first content and page
opens on a desktop, and the login form's first visit on a slow phone (CPU 4×, 1.6 Mbit/s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.server
import io
import multiprocessing
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import yaml
from pypdf import PdfReader

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass
class Run:
    name: str
    seconds: float
    peak_mib: float
    out_mb: float | None = None
    output: str = ""
    worker_peak_mib: float = 0.0  # the largest single process of the tree


def _tree_rss_kib(pid: int) -> tuple[int, int]:
    """Resident memory of ``pid`` and all its descendants (total, largest one), from /proc."""
    total, largest, stack = 0, 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
                        total += rss
                        largest = max(largest, rss)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total, largest


def measure(name: str, cmd: list[str], out: Path | None = None) -> Run:
    """Run ``cmd``; fail loudly if it fails; return its wall time and peak memory."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = largest = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, largest
        while not done.is_set():
            total, one = _tree_rss_kib(proc.pid)
            peak, largest = max(peak, total), max(largest, one)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}):\n{output[-3000:]}")
    return Run(name, seconds, peak / 1024, _size_mb(out) if out else None, output, largest / 1024)


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _yidang_config(work: Path, archive: Path) -> Path:
    cfg = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    cfg["docs_dir"] = str(REPO / cfg["docs_dir"])
    cfg["plugins"] = [{"yidang": {"archive": str(archive)}}]
    path = work / "mkdocs.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _plain_project(work: Path, archive: Path) -> Path:
    """The same pages as Markdown files, and a mkdocs.yml without the plugin."""
    sys.path.insert(0, str(REPO))
    from functools import partial

    from generator.archive.read import read_archive
    from generator.render import templates as render
    from generator.site import pages as site_pages
    from generator.site.students import StudentPages

    labels = render.load_labels(render.TEMPLATES_DIR, "zh")
    maker = partial(
        StudentPages,
        root=archive,
        labels=labels,
        templates_dir=render.TEMPLATES_DIR,
        dir_urls=True,
        photo_cache=work / "photo-cache",
    )
    result = read_archive(archive, hook_factory=maker)
    assert result.archive is not None, "the synthetic archive must be valid"
    site = render.Site(result.archive, labels)
    site.periods = render.LazyPeriods(result.outputs)  # the same four-ones columns as the real build
    env = render.make_env(render.TEMPLATES_DIR, site)
    pages = [(spec, site_pages.render_page(site, env, spec)) for spec in site_pages.index_specs(site)]
    pages += [
        (site_pages.student_spec(s), result.outputs[s.id].page) for s in result.archive.students.values()
    ]
    docs = work / "plain-docs"
    for spec, page in pages:
        target = docs / spec.uri
        target.parent.mkdir(parents=True, exist_ok=True)
        # The same title and body, as a Markdown page (raw HTML is Markdown).
        target.write_text(site_pages.stub(spec.title) + "\n" + page.html + "\n", encoding="utf-8")
    (docs / "assets").mkdir(exist_ok=True)
    shutil.copy(render.TEMPLATES_DIR / "static" / "yidang.css", docs / "assets" / "yidang.css")
    cfg = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    cfg.update(docs_dir=str(docs), plugins=[], nav=site_pages.nav(labels), extra_css=["assets/yidang.css"])
    cfg["theme"]["custom_dir"] = str(render.TEMPLATES_DIR / "overrides")
    path = work / "plain.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--records-per-student", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing (the median is reported)")
    parser.add_argument(
        "--booklet-students",
        type=int,
        default=100,
        help="students (of 150 records each) for the booklet benchmark: enough that start-up "
        "does not dominate (8 students gave 23 pages/s where 100 give ~50)",
    )
    parser.add_argument("--booklet-jobs", type=int, nargs="+", default=[2], help="job counts to time")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="yidang-bench-"))
    archive = work / "archive"
    yidang = str(BIN / "yidang")
    bench = Bench(args.repeat)
    size = ["--students", str(args.students), "--records-per-student", str(args.records_per_student)]
    bench.once("synth", [yidang, "synth", *size, "--seed", str(args.seed), str(archive)], archive)
    # --as-of inside synth's last term, so that check also works out the four ones
    bench.repeat("check", [yidang, "check", str(archive), "--as-of", "2026-05-15"])
    config = _yidang_config(work, archive)
    passphrase = _reader_accounts(archive)
    _commit(archive, "the synthetic archive")
    site, plain_yidang, plain_site = work / "site", work / "site-unprotected", work / "plain-site"
    build = [yidang, "build", "--no-booklets", "--config", str(config)]
    fresh = partial(_forget, work / ".cache")  # a full build: no build cache, no previous site
    bench.repeat("build", [*build, "--site-dir", str(site)], site, before=lambda: fresh(site))
    bench.repeat(
        "rebuild, one record edited",
        [*build, "--site-dir", str(site)],
        site,
        before=partial(_edit_record, archive),
    )
    bench.repeat(
        "rebuild, one record added",
        [*build, "--site-dir", str(site)],
        site,
        before=partial(_add_record, archive),
    )
    bench.repeat(
        "build --unprotected",
        [*build, "--unprotected", "--site-dir", str(plain_yidang)],
        plain_yidang,
        before=lambda: fresh(plain_yidang),
    )
    plain = _plain_project(work, archive)
    bench.repeat(
        "plain mkdocs build",
        [str(BIN / "mkdocs"), "build", "-q", "-f", str(plain), "-d", str(plain_site)],
        plain_site,
    )
    browser = _browser(site, passphrase)
    booklets = ""
    if args.booklet_students:
        booklets = _booklets(work, yidang, args.booklet_students, args.booklet_jobs, bench)
    report = _report(args, bench, browser, booklets)
    print(report)
    if not args.no_docs:
        _write_docs(report)
    if args.keep:
        print(f"\nwork folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


class Bench:
    """Runs commands, keeps every run's time and memory; reports medians."""

    def __init__(self, repeats: int):
        self.repeats = max(1, repeats)
        self.runs: dict[str, list[Run]] = {}
        self.booklet_rate: dict[int, float] = {}  # jobs → pages per second
        self.pages_per_booklet = 0.0

    def once(self, name: str, cmd: list[str], out: Path | None = None) -> Run:
        run = measure(name, cmd, out)
        self.runs.setdefault(name, []).append(run)
        return run

    def repeat(
        self, name: str, cmd: list[str], out: Path | None = None, before: Callable[[], None] | None = None
    ) -> Run:
        for _ in range(self.repeats):
            if before is not None:
                before()
            self.once(name, cmd, out)
        return self.median(name)

    def median(self, name: str) -> Run:
        runs = sorted(self.runs[name], key=lambda r: r.seconds)
        return runs[len(runs) // 2]

    def times(self, name: str) -> str:
        return ", ".join(f"{r.seconds:.2f}" for r in self.runs[name])

    def peak(self) -> Run:
        return max((r for runs in self.runs.values() for r in runs), key=lambda r: r.peak_mib)


def _forget(cache: Path, site: Path) -> None:
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(site, ignore_errors=True)


def _commit(archive: Path, message: str) -> None:
    """Keep the archive in git, as a school does (untimed): the build then reads each
    file's last change from git, and a rebuild follows a merged pull request."""
    if not (archive / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=archive, check=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@school.test",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@school.test",
    }
    subprocess.run(["git", "add", "-A"], cwd=archive, check=True, env=env)
    subprocess.run(["git", "commit", "-qm", message], cwd=archive, check=True, env=env)


def _edit_record(archive: Path) -> None:
    """A teacher corrects a record: one sentence appended to an existing record; merged."""
    folders = sorted((archive / "students").iterdir())
    record = sorted((folders[len(folders) // 2] / "records").iterdir())[-1]
    with record.open("a", encoding="utf-8") as fh:
        fh.write("\n补充:已与班主任沟通,下周再次回访。\n")
    _commit(archive, "edit a record")


def _add_record(archive: Path) -> None:
    """A teacher adds a talk record (the common change: it also changes index pages); merged."""
    folders = sorted((archive / "students").iterdir())
    records = folders[len(folders) // 3] / "records"
    source = next(p for p in sorted(records.iterdir()) if p.name.endswith("-talk.md"))
    text = source.read_text(encoding="utf-8")
    n = len(list(records.glob("2026-05-14-talk*.md")))
    name = "2026-05-14-talk.md" if n == 0 else f"2026-05-14-talk-{n + 1}.md"
    date = re.search(r"^date: .*$", text, flags=re.M)
    assert date is not None
    (records / name).write_text(text.replace(date.group(0), "date: 2026-05-14", 1), encoding="utf-8")
    _commit(archive, "add a record")


def _reader_accounts(archive: Path) -> str:
    """An account for every teacher, as a school gives them (each build writes one
    keyring per account); returns the passphrase of T0001, who leads in synth's school."""
    sys.path.insert(0, str(REPO))
    from generator.protect import access

    teachers = [t["id"] for t in yaml.safe_load((archive / "teachers.yml").read_text(encoding="utf-8"))]
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        pool.map(partial(_new_account, archive), [t for t in teachers if t != "T0001"])
    account, passphrase = access.create("T0001")
    access.save(archive, account)
    return passphrase


def _new_account(archive: Path, teacher: str) -> None:
    from generator.protect import access

    account, _ = access.create(teacher)  # a passphrase key derivation: 0.2 s each
    access.save(archive, account)


LOGIN_JS = """async ([user, pass]) => {
  const t = performance.now();
  document.querySelector('#yd-user').value = user;
  document.querySelector('#yd-pass').value = pass;
  document.querySelector('#yd-login button[type=submit]').click();
  const page = document.querySelector('#yd-page');  // the first content: the home page, drawn
  while (page.dataset.route === undefined) await new Promise(r => setTimeout(r, 2));
  return performance.now() - t;
}"""
OPEN_JS = """async (token) => {
  const t = performance.now();
  location.hash = '#/' + token;
  const page = document.querySelector('#yd-page');
  while (page.dataset.route !== token) await new Promise(r => setTimeout(r, 2));
  return performance.now() - t;
}"""
# Run in the page before its own scripts (Playwright's init script, which the site's CSP does
# not govern): the moment the login form is usable — shown, its handler attached, the teacher
# id field focused (yidang-shell.js does that last) — and painted (the frame after), in ms
# since the navigation started, and the bytes downloaded by then.
USABLE_JS = """(() => {
  const seen = () => {
    const form = document.getElementById('yd-login');
    const field = document.activeElement;
    if (window.__ydSeen || !form || form.hidden || !field || field.id !== 'yd-user') return;
    window.__ydSeen = true;
    requestAnimationFrame(() => setTimeout(() => {
      const entries = ['navigation', 'resource'].flatMap((t) => performance.getEntriesByType(t));
      window.__ydUsable = [performance.now(), entries.reduce((n, e) => n + (e.transferSize || 0), 0)];
    }));
  };
  document.addEventListener('focusin', seen, true);
  new MutationObserver(seen).observe(document, { subtree: true, attributes: true, childList: true });
})();"""
# A slow phone, as Lighthouse's mobile profile: the CPU slowed 4×, 1.6 Mbit/s down, 750 kbit/s
# up, 150 ms round trips; a 390 px screen at 3× (a common phone); a first visit (no cache).
SLOW_PHONE = {"cpu": 4, "down_bps": 1_600_000, "up_bps": 750_000, "latency_ms": 150}


class _Deployed(http.server.SimpleHTTPRequestHandler):
    """Static files as docs/deploy.md's nginx serves them: HTML, CSS and JavaScript gzipped
    for a browser that accepts it (gzip_types), the rest as they are."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts and path.is_file() and path.suffix in (".html", ".css", ".js")):
            return super().send_head()
        data = gzip.compress(path.read_bytes(), 1)  # nginx's default gzip_comp_level
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return io.BytesIO(data)


@contextmanager
def _serve_as_deployed(site: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Deployed, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class BrowserTimes:
    text: str
    login_ms: float  # desktop: login submitted → the first page drawn
    open_ms: float  # desktop: a student page opened after login
    phone_ms: float  # slow phone, first visit: navigation → the login form usable
    phone_kb: float  # what the phone downloaded by then


def _browser(site: Path, passphrase: str) -> BrowserTimes:
    """Login-to-first-content and page-open times on a desktop, and the login form's first
    visit on a slow phone; measured in Chromium with performance.now()."""
    sys.path.insert(0, str(REPO))
    from tests.browser import chromium
    from tests.site_reader import login

    reader = login(site, "T0001", passphrase)  # the routes' tokens, as a bookmark holds them
    routes = sorted(
        reader.token(f"students/{p.name}/") for p in (site.parent / "archive" / "students").iterdir()
    )
    with _serve_as_deployed(site) as url, chromium() as browser:
        logins, opens = [], []
        for _ in range(3):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_selector("#yd-login:not([hidden])")
            logins.append(page.evaluate(LOGIN_JS, ["T0001", passphrase]))
            opens += [page.evaluate(OPEN_JS, r) for r in routes[:: max(1, len(routes) // 20)][:20]]
            page.close()
        phone = sorted(_slow_phone(browser, url) for _ in range(3))
    runs = ", ".join(f"{x:.0f}" for x in logins)
    phone_runs = ", ".join(f"{ms / 1000:.2f}" for ms, _ in phone)
    logins.sort()
    opens.sort()
    p = SLOW_PHONE
    text = (
        f"In Chromium, leadership account, desktop: login to first content (the home page drawn) "
        f"{logins[1]:.0f} ms (median of 3: {runs}); a student page opened after login: median "
        f"{opens[len(opens) // 2]:.0f} ms, slowest {opens[-1]:.0f} ms ({len(opens)} pages). "
        f"A slow phone's first visit (CPU slowed {p['cpu']}×, {p['down_bps'] / 1e6:g} Mbit/s down, "
        f"{p['up_bps'] / 1e6:g} up, {p['latency_ms']} ms latency, 390 px at 3×, no cache; served "
        f"gzipped as docs/deploy.md's nginx does): the login "
        f"form usable (shown, its script ready, the first field focused, painted) after "
        f"{phone[1][0] / 1000:.2f} s (median of 3: {phone_runs}), {phone[1][1] / 1024:.0f} KiB "
        "downloaded by then."
    )
    return BrowserTimes(text, logins[1], opens[len(opens) // 2], phone[1][0], phone[1][1] / 1024)


def _slow_phone(browser, url: str) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """One first visit to the login page on the slow phone: ms until the form is usable, bytes."""
    from tests.browser import wait_until

    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": SLOW_PHONE["cpu"]})
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": SLOW_PHONE["latency_ms"],
            "downloadThroughput": SLOW_PHONE["down_bps"] / 8,  # bytes per second
            "uploadThroughput": SLOW_PHONE["up_bps"] / 8,
        },
    )
    page.add_init_script(USABLE_JS)
    page.goto(url, wait_until="commit")
    usable: list[float] = wait_until(page, "window.__ydUsable", timeout=120)  # type: ignore[assignment]
    context.close()
    return usable[0], int(usable[1])


def booklet_synth(yidang: str, students: int, archive: Path) -> list[str]:
    """The command that makes the booklet benchmarks' archive (bench/pdfa.py uses it too)."""
    size = ["--students", str(students), "--records-per-student", "150"]
    return [yidang, "synth", *size, "--seed", "2", str(archive)]


def _booklets(work: Path, yidang: str, students: int, job_counts: list[int], bench: Bench) -> str:
    """Pages per second at each job count, on synthetic students with 150 records each."""
    archive = work / "booklet-archive"
    measure("synth", booklet_synth(yidang, students, archive))
    lines = [
        f"Booklets: {students} synthetic students × 150 records, default fonts, `--force`, "
        f"median of {bench.repeats} runs.",
        "",
        "| jobs | seconds (runs) | booklets | pages | pages/s | s/booklet | peak MiB per worker |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for jobs in job_counts:
        out = work / f"booklets-{jobs}"
        cmd = [
            yidang,
            "booklets",
            "--archive",
            str(archive),
            "--out",
            str(out),
            "--jobs",
            str(jobs),
            "--force",
            "--config",
            str(work / "none.yml"),
        ]
        run = bench.repeat(f"booklets, {jobs} job(s)", cmd)
        pages = sum(len(PdfReader(p).pages) for p in out.glob("*.pdf"))
        count = len(list(out.glob("*.pdf")))
        bench.booklet_rate[jobs] = pages / run.seconds
        bench.pages_per_booklet = pages / count
        lines.append(
            f"| {jobs} | {run.seconds:.2f} ({bench.times(f'booklets, {jobs} job(s)')}) | {count} | "
            f"{pages} | {pages / run.seconds:.1f} | {run.seconds * jobs / count:.2f} | "
            f"{run.worker_peak_mib:.0f} |"
        )
    return "\n".join(lines)


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    mem = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    from importlib.metadata import version

    return (
        f"{os.cpu_count()} cores ({cpu}), {mem / 1024 / 1024:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, MkDocs {version('mkdocs')}, "
        f"Material {version('mkdocs-material')}, WeasyPrint {version('weasyprint')}"
    )


def _report(args: argparse.Namespace, bench: Bench, browser: BrowserTimes, booklets: str) -> str:
    """The Markdown written to docs/performance.md: the table of targets, then the details."""
    m = bench.median
    build, plain, unprotected = m("build"), m("plain mkdocs build"), m("build --unprotected")
    edited, added = m("rebuild, one record edited"), m("rebuild, one record added")
    size = (build.out_mb or 0) / (unprotected.out_mb or 1)
    peak = bench.peak()
    rate = bench.booklet_rate.get(2, 0.0)

    def ok(good: bool) -> str:
        return "met" if good else "**not met**"

    # 1,000 students' booklets at the measured rate (pages per booklet as in the sample run)
    first_run = args.students * bench.pages_per_booklet / rate / 60 if rate else float("inf")
    rows = [
        ("`check` ≤ 3 s", f"{m('check').seconds:.2f} s ({bench.times('check')})", m("check").seconds <= 3),
        (
            "full protected build ≤ 0.4 × plain `mkdocs build`",
            f"{build.seconds:.1f} s / {plain.seconds:.1f} s = {build.seconds / plain.seconds:.2f}×",
            build.seconds <= 0.4 * plain.seconds,
        ),
        (
            "rebuild after one committed record ≤ 1 s",
            f"edited {edited.seconds:.2f} s ({bench.times('rebuild, one record edited')}); "
            f"added {added.seconds:.2f} s ({bench.times('rebuild, one record added')})",
            max(edited.seconds, added.seconds) <= 1,
        ),
        ("peak memory ≤ 1 GiB, any command", f"{peak.peak_mib:.0f} MiB ({peak.name})", peak.peak_mib <= 1024),
        (
            "protected site ≤ 1.3 × the plaintext build",
            f"{build.out_mb:.1f} MB / {unprotected.out_mb:.1f} MB = {size:.2f}×",
            size <= 1.3,
        ),
        (
            "login to first content / open a page, desktop Chromium ≤ 0.3 s / ≤ 0.2 s",
            f"{browser.login_ms / 1000:.2f} s / {browser.open_ms / 1000:.2f} s",
            browser.login_ms <= 300 and browser.open_ms <= 200,
        ),
        (
            "login form usable, first visit on a slow phone (4× CPU, 1.6 Mbit/s, 150 ms) ≤ 2 s",
            f"{browser.phone_ms / 1000:.2f} s ({browser.phone_kb:.0f} KiB)",
            browser.phone_ms <= 2000,
        ),
        (
            f"booklets for {args.students} students, first run, 2 cores ≤ 10 min",
            f"{rate:.1f} pages/s on {args.booklet_students} students → {first_run:.1f} min",
            first_run <= 10,
        ),
    ]
    lines = [
        f"{args.students} students × {args.records_per_student} records, {dt.date.today()}, "
        f"median of {bench.repeats} runs (every run listed). Machine: {_machine()}.",
        "",
        "| target (DESIGN.md) | measured | status |",
        "|---|---|---|",
    ]
    lines += [f"| {target} | {value} | {ok(good)} |" for target, value, good in rows]
    lines += [
        "",
        "| step | median seconds | runs | peak memory (MiB, process tree) | output (MB) |",
        "|---|---:|---|---:|---:|",
    ]
    for name in bench.runs:
        r = m(name)
        out = f"{r.out_mb:.1f}" if r.out_mb is not None else ""
        lines.append(f"| {name} | {r.seconds:.2f} | {bench.times(name)} | {r.peak_mib:.0f} | {out} |")
    lines += ["", browser.text, "", booklets]
    return "\n".join(lines)


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _write_docs(report: str) -> None:
    """Replace the benchmark's section of docs/performance.md with this run's."""
    path = REPO / "docs" / "performance.md"
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        sys.exit(f"{path} has no {START} … {END} section to write into")
    head, rest = text.split(START, 1)
    path.write_text(f"{head}{START}\n{report}\n{END}{rest.split(END, 1)[1]}", encoding="utf-8")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
