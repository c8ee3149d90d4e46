"""yidang's benchmark: times and peak memory of each command on a synthetic archive.

    .venv/bin/python bench/run.py --students 1000 --records-per-student 150

Prints a table: `check`, the site build (`yidang build --no-booklets`), and a plain
`mkdocs build` of the same pages with the same theme and no yidang plugin
(the rendered pages are written out as Markdown files first, untimed), with the ratio of the
two builds, each command's peak memory (resident set of the whole process
tree, sampled every 20 ms), its CPU time (user + system, workers included) and the size of
what it wrote. Then booklets: pages per second at 1 and 2 jobs on synthetic students with 150
records each, the seconds per booklet (per worker), CPU per page and the peak memory of one
worker. In Chromium, the site served as docs/deploy.md's nginx serves it (gzip): login to first
content and page opens on a desktop, and the login form's first visit on a slow phone (CPU 4×,
1.6 Mbit/s).

Issue 27's targets are ratios to anchors measured in the same run on the same archive
(bench/anchors.py): the plain `mkdocs build` for the builds, the naive check (PyYAML's
safe_load of every profile and record front matter) for `check`, whole and after one
committed record changed, and the naive booklets (the same students' pages through
python-markdown and WeasyPrint, one process) for booklets' CPU per page. The report's first
table gives each target with its anchor, the measured value and the ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import http.server
import io
import json
import multiprocessing
import os
import platform
import re
import shutil
import statistics
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
from typing import TYPE_CHECKING, Any

import yaml
from pypdf import PdfReader

if TYPE_CHECKING:
    from generator.archive.read import ReadResult

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The anchors (bench/anchors.py), each a process of its own like yidang's commands.
ANCHORS = [sys.executable, str(REPO / "bench" / "anchors.py")]
ANCHOR_STEPS = {"plain mkdocs build", "naive check", "naive booklets"}


@dataclass
class Run:
    name: str
    seconds: float
    peak_mib: float
    out_mb: float | None = None
    output: str = ""
    worker_peak_mib: float = 0.0  # the largest single process of the tree
    cpu: float = 0.0  # user + system seconds of the process and every process it waited for
    machine_cpu: float = 0.0  # CPU seconds the whole machine was busy meanwhile (all processes)
    steal: float = 0.0  # CPU seconds the hypervisor gave to other VMs meanwhile

    @property
    def others_cpu(self) -> float:
        """CPU seconds other work on the machine took while this ran (nothing else is measured)."""
        return max(0.0, self.machine_cpu - self.cpu)


def machine_cpu() -> tuple[float, float]:
    """Seconds all cores were busy since boot, and seconds stolen by the hypervisor (/proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) / os.sysconf("SC_CLK_TCK") for x in fh.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq, steal


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
    """Run ``cmd``; fail loudly if it fails; return its wall time, CPU time and peak memory.

    CPU time is the command's user + system time with every process it waited for (its
    workers), from ``wait4``: exact, and safe with other commands measured at the same time
    in other threads (bench/bureau.py runs two at once)."""
    start, busy = time.perf_counter(), machine_cpu()
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
    assert proc.stdout is not None
    output = proc.stdout.read()  # until every process holding the pipe (workers too) is gone
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}):\n{output[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    after = machine_cpu()
    size = _size_mb(out) if out else None
    run = Run(name, seconds, peak / 1024, size, output, largest / 1024, cpu, after[0] - busy[0])
    run.steal = after[1] - busy[1]
    return run


def _size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _yidang_config(work: Path, archive: Path) -> Path:
    cfg = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    cfg["docs_dir"] = str(REPO / cfg["docs_dir"])
    cfg["plugins"] = [{"yidang": {"archive": str(archive)}}]
    path = work / "mkdocs.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _pages_of(work: Path, archive: Path) -> tuple[ReadResult, dict[str, Any]]:
    """Read ``archive`` as the build does, each student's page rendered in the worker that
    read the student; returns (the read's result, the labels)."""
    sys.path.insert(0, str(REPO))
    from generator.archive.read import read_archive
    from generator.render import templates as render
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
    return result, labels


def _markdown_page(title: str, html: str) -> str:
    """A page as the plain anchors get it: the same title and body, as a Markdown file
    (raw HTML is Markdown)."""
    from generator.site import pages as site_pages

    return site_pages.stub(title) + "\n" + html + "\n"


def _plain_project(work: Path, archive: Path) -> Path:
    """The same pages as Markdown files, and a mkdocs.yml without the plugin."""
    from generator.render import templates as render
    from generator.site import pages as site_pages

    result, labels = _pages_of(work, archive)
    assert result.archive is not None
    site = render.Site(result.archive, labels)
    site.periods = render.LazyPeriods(result.outputs)  # the real build's four-ones columns
    env = render.make_env(render.TEMPLATES_DIR, site)
    pages = [(spec, site_pages.render_page(site, env, spec)) for spec in site_pages.index_specs(site)]
    pages += [
        (site_pages.student_spec(s), result.outputs[s.id].page) for s in result.archive.students.values()
    ]
    docs = work / "plain-docs"
    for spec, page in pages:
        target = docs / spec.uri
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_markdown_page(spec.title, page.html), encoding="utf-8")
    (docs / "assets").mkdir(exist_ok=True)
    shutil.copy(render.TEMPLATES_DIR / "static" / "yidang.css", docs / "assets" / "yidang.css")
    cfg = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    cfg.update(docs_dir=str(docs), plugins=[], nav=site_pages.nav(labels), extra_css=["assets/yidang.css"])
    cfg["theme"]["custom_dir"] = str(render.TEMPLATES_DIR / "overrides")
    path = work / "plain.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def _student_markdown_pages(work: Path, archive: Path, out: Path) -> Path:
    """Each student's page of ``archive`` as the Markdown file the plain mkdocs anchor
    builds (made by the same code as _plain_project): out/<student id>.md, for the naive
    booklets."""
    from generator.site import pages as site_pages

    result, _labels = _pages_of(work, archive)
    assert result.archive is not None
    out.mkdir(parents=True, exist_ok=True)
    for s in result.archive.students.values():
        page = result.outputs[s.id].page
        text = _markdown_page(site_pages.student_spec(s).title, page.html)
        (out / f"{s.id}.md").write_text(text, encoding="utf-8")
    return out


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
    parser.add_argument(
        "--docs",
        type=Path,
        default=REPO / "docs" / "performance.md",
        help="the file whose bench:start … bench:end section the report replaces",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="yidang-bench-"))
    archive = work / "archive"
    yidang = str(BIN / "yidang")
    bench = Bench(args.repeat)
    bench.load.append(os.getloadavg()[0])
    size = ["--students", str(args.students), "--records-per-student", str(args.records_per_student)]
    bench.once("synth", [yidang, "synth", *size, "--seed", str(args.seed), str(archive)], archive)
    # --as-of inside synth's last term, so that check also works out the four ones
    check = [yidang, "check", str(archive), "--as-of", "2026-05-15"]  # keeps each student's verdict
    full_check = [*check, "--no-cache"]  # nothing kept, nothing reused: the whole archive read
    synthesised = set(os.listdir(archive))
    # Nothing cached: whatever a check leaves in the archive is removed before the next one.
    bench.repeat("check", full_check, before=partial(_forget_new, archive, synthesised))
    _forget_new(archive, synthesised)
    bench.repeat("naive check", [*ANCHORS, "check", str(archive)])
    config = _yidang_config(work, archive)
    passphrase = _reader_accounts(archive)
    _commit(archive, "the synthetic archive")
    # A pull request's check in CI, or the office's before intake: the archive was checked
    # at the last merge (untimed here), then one committed record changed.
    bench.once("check, archive in git (before the change)", check)
    bench.repeat("check after one record changed", check, before=partial(_edit_record, archive))
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
    bench.load.append(os.getloadavg()[0])
    report = _report(args, bench, browser, booklets)
    print(report)
    if not args.no_docs:
        _write_docs(report, args.docs)
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
        self.pages: dict[str, list[int]] = {}  # booklet runs → pages written, run by run
        self.load: list[float] = []  # the machine's 1-minute load average, at the start and the end

    def once(self, name: str, cmd: list[str], out: Path | None = None) -> Run:
        run = measure(name, cmd, out)
        self.runs.setdefault(name, []).append(run)
        print(
            f"{time.strftime('%H:%M:%S')} {name}: {run.seconds:.2f} s wall, {run.cpu:.2f} s CPU, "
            f"{run.peak_mib:.0f} MiB",
            file=sys.stderr,
            flush=True,
        )
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

    def median_cpu(self, name: str) -> float:
        return statistics.median(r.cpu for r in self.runs[name])

    def times(self, name: str) -> str:
        return ", ".join(f"{r.seconds:.2f}" for r in self.runs[name])

    def cpu_times(self, name: str) -> str:
        return ", ".join(f"{r.cpu:.2f}" for r in self.runs[name])

    def cpu_per_page(self, name: str) -> list[float]:
        """CPU seconds per page of each booklet run of ``name``."""
        return [r.cpu / n for r, n in zip(self.runs[name], self.pages[name], strict=True)]

    def peak(self) -> Run:
        """The largest peak of yidang's own commands (not of the anchors)."""
        ours = (r for name, runs in self.runs.items() if name not in ANCHOR_STEPS for r in runs)
        return max(ours, key=lambda r: r.peak_mib)


def _forget_new(folder: Path, known: set[str]) -> None:
    """Remove what was not in ``folder`` before (a cache a command may have left there)."""
    for name in set(os.listdir(folder)) - known:
        print(f"removing {folder / name}, left by a command", file=sys.stderr)
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


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
    """Pages per second and CPU per page at each job count, on synthetic students with 150
    records each; and the naive booklets of the same students, in turn with them."""
    archive = work / "booklet-archive"
    measure("synth", booklet_synth(yidang, students, archive))
    pages_dir = _student_markdown_pages(work, archive, work / "naive-booklet-pages")
    naive = [*ANCHORS, "booklets", str(pages_dir), str(work / "naive-booklets")]
    counts: dict[str, int] = {}  # booklets written

    def command(jobs: int) -> list[str]:
        out = work / f"booklets-{jobs}"
        return [
            *(yidang, "booklets", "--archive", str(archive), "--out", str(out)),
            *("--jobs", str(jobs), "--force", "--config", str(work / "none.yml")),
        ]

    # In turn, round by round, so that a slow phase of the machine hits both kinds alike.
    for _ in range(bench.repeats):
        for jobs in job_counts:
            name = f"booklets, {jobs} job(s)"
            bench.once(name, command(jobs))
            pdfs = list((work / f"booklets-{jobs}").glob("*.pdf"))
            bench.pages.setdefault(name, []).append(sum(len(PdfReader(p).pages) for p in pdfs))
            counts[name] = len(pdfs)
        run = bench.once("naive booklets", naive)
        said = json.loads(run.output.splitlines()[-1])
        bench.pages.setdefault("naive booklets", []).append(said["pages"])
        counts["naive booklets"] = said["booklets"]
    lines = [
        f"Booklets: {students} synthetic students × 150 records, default fonts, `--force`, "
        f"median of {bench.repeats} runs; CPU is user + system time of the command and its workers. "
        "The naive booklets (bench/anchors.py: the same students' pages as the plain mkdocs anchor "
        "builds them, python-markdown, WeasyPrint with a plain stylesheet and the installed Noto CJK "
        "faces, one process) ran in turn with them.",
        "",
        "| booklets | jobs | seconds (runs) | booklets | pages | pages/s | s/booklet | CPU s/page (runs) "
        "| peak MiB per worker |",
        "|---|---:|---|---:|---:|---:|---:|---|---:|",
    ]
    for jobs in [*job_counts, 0]:
        name = f"booklets, {jobs} job(s)" if jobs else "naive booklets"
        run, pages, count = bench.median(name), bench.pages[name][0], counts[name]
        per_page = bench.cpu_per_page(name)
        if jobs:
            bench.booklet_rate[jobs] = pages / run.seconds
            bench.pages_per_booklet = pages / count
        lines.append(
            f"| {'yidang' if jobs else 'naive'} | {jobs or 1} | {run.seconds:.2f} ({bench.times(name)}) | "
            f"{count} | {pages} | {pages / run.seconds:.1f} | {run.seconds * (jobs or 1) / count:.2f} | "
            f"{statistics.median(per_page) * 1000:.1f} ms ({', '.join(f'{x * 1000:.1f}' for x in per_page)}) "
            f"| {run.worker_peak_mib:.0f} |"
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


# Issue 27's targets, each a ratio to an anchor measured in the same run on the same archive:
# (work, yidang's step, anchor step, target ratio). Times are judged on wall time, as a
# school waits for them (the CPU ratio is shown beside it); booklets on CPU per page.
RATIO_TARGETS = [
    ("full protected build", "build", "plain mkdocs build", 0.4),
    ("rebuild after one committed record, edited", "rebuild, one record edited", "plain mkdocs build", 0.008),
    ("rebuild after one committed record, added", "rebuild, one record added", "plain mkdocs build", 0.008),
    ("`check`, whole archive, nothing cached", "check", "naive check", 0.5),
    ("`check` after one committed record changed", "check after one record changed", "naive check", 0.1),
]
ANCHOR_TEXT = {
    "plain mkdocs build": (
        "**plain mkdocs build**: `mkdocs build -q -f plain.yml`, MkDocs alone with the same theme, "
        "the same pages written out as Markdown files (untimed, `_plain_project` in bench/run.py) "
        "and no yidang plugin. Judged on wall time, as the issue's ratios are; MkDocs uses one "
        "core, yidang two."
    ),
    "naive check": (
        "**naive check**: `python bench/anchors.py check ARCHIVE`, PyYAML's `safe_load` ({loader}) "
        "of every profile.yml and every record's front matter, nothing else, in one process: the "
        "least any validator must do. yidang's `check ARCHIVE --as-of 2026-05-15` reads with "
        "workers on every core, so the CPU ratio is the one that does not depend on the number "
        "of cores."
    ),
    "naive booklets": (
        "**naive booklets**: `python bench/anchors.py booklets PAGES OUT`, each student's page as "
        "the plain mkdocs anchor gets it (same code) through python-markdown (mkdocs.yml's "
        "extensions) and WeasyPrint with a plain stylesheet and the installed Noto Serif/Sans CJK "
        "SC, one PDF per student, one process, on the same students as yidang's `booklets --jobs 2 "
        "--force`; CPU seconds (user + system, workers included) per page written."
    ),
}


def _ratio_table(bench: Bench) -> list[str]:
    """work | anchor | measured | ratio | target | status, for issue 27's targets."""

    def ok(good: bool) -> str:
        return "met" if good else "**not met**"

    loader = "?"
    if "naive check" in bench.runs:
        loader = json.loads(bench.runs["naive check"][0].output.splitlines()[-1])["loader"].split()[0]
    lines = [
        "| work | anchor | measured | ratio | target | status |",
        "|---|---|---|---|---|---|",
    ]
    for work, step, anchor, target in RATIO_TARGETS:
        if step not in bench.runs or anchor not in bench.runs:
            continue
        ours, theirs = bench.median(step), bench.median(anchor)
        cpu, anchor_cpu = bench.median_cpu(step), bench.median_cpu(anchor)
        wall_ratio, cpu_ratio = ours.seconds / theirs.seconds, cpu / anchor_cpu
        lines.append(
            f"| {work} | {anchor}: {theirs.seconds:.2f} s wall, {anchor_cpu:.2f} s CPU "
            f"| {ours.seconds:.2f} s wall, {cpu:.2f} s CPU "
            f"| **{wall_ratio:.3g}×** wall; {cpu_ratio:.3g}× CPU "
            f"| ≤ {target:g}× | {ok(wall_ratio <= target)} (CPU: {ok(cpu_ratio <= target)}) |"
        )
    booklets = next((n for n in ("booklets, 2 job(s)", *bench.pages) if n in bench.pages), None)
    if booklets and "naive booklets" in bench.pages:
        ours_pp = statistics.median(bench.cpu_per_page(booklets))
        theirs_pp = statistics.median(bench.cpu_per_page("naive booklets"))
        lines.append(
            f"| booklets, CPU per page | naive booklets: {theirs_pp * 1000:.1f} ms "
            f"({bench.pages['naive booklets'][0]} pages) | {booklets}: {ours_pp * 1000:.1f} ms "
            f"({bench.pages[booklets][0]} pages) | **{ours_pp / theirs_pp:.3g}×** | ≤ 0.7× "
            f"| {ok(ours_pp / theirs_pp <= 0.7)} |"
        )
    peak = bench.peak()
    lines.append(
        f"| peak memory, any command (process tree) | none: absolute | {peak.peak_mib:.0f} MiB ({peak.name}) "
        f"| — | ≤ 1 GiB | {ok(peak.peak_mib <= 1024)} |"
    )
    lines += ["", "Medians of the runs in the table of steps below. The anchors:", ""]
    lines += [f"- {text.format(loader=f'`{loader}`')}" for text in ANCHOR_TEXT.values()]
    return lines


def _code_version() -> str:
    """The commit measured, and whether the code differed from it."""
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    changed = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "generator", "site_templates", "bench"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not head:
        return "not a git checkout"
    return f"`{head}`" + (" with uncommitted changes" if changed else "")


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
        f"median of {bench.repeats} runs (every run listed). Code: {_code_version()}. "
        f"Machine: {_machine()}; load average {bench.load[0]:.2f} at the start, {bench.load[-1]:.2f} "
        "at the end (other work on the machine counts in the times).",
        "",
        *_ratio_table(bench),
        "",
        "The absolute targets of DESIGN.md, on this machine:",
        "",
        "| target (DESIGN.md) | measured | status |",
        "|---|---|---|",
    ]
    lines += [f"| {target} | {value} | {ok(good)} |" for target, value, good in rows]
    lines += [
        "",
        "| step | median seconds | runs | CPU seconds (runs) | other work's CPU seconds (runs) "
        "| peak memory (MiB, process tree) | output (MB) |",
        "|---|---:|---|---|---|---:|---:|",
    ]
    for name in bench.runs:
        r = m(name)
        out = f"{r.out_mb:.1f}" if r.out_mb is not None else ""
        others = ", ".join(f"{x.others_cpu:.0f}" for x in bench.runs[name])
        lines.append(
            f"| {name} | {r.seconds:.2f} | {bench.times(name)} | {bench.median_cpu(name):.2f} "
            f"({bench.cpu_times(name)}) | {others} | {r.peak_mib:.0f} | {out} |"
        )
    lines += [
        "",
        "Other work's CPU seconds: what the rest of the machine (every other process, all cores) "
        "used while the step ran, from /proc/stat; up to the step's wall time × "
        f"{os.cpu_count()} cores minus its own CPU. Where it is large, the step's wall time is "
        "inflated; its CPU time much less so.",
    ]
    lines += ["", browser.text, "", booklets]
    return "\n".join(lines)


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def _write_docs(report: str, path: Path, start: str = START, end: str = END) -> None:
    """Replace a benchmark's section (between ``start`` and ``end``) of docs/performance.md (or
    ``path``) with this run's."""
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        sys.exit(f"{path} has no {start} … {end} section to write into")
    head, rest = text.split(start, 1)
    path.write_text(f"{head}{start}\n{report}\n{end}{rest.split(end, 1)[1]}", encoding="utf-8")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
