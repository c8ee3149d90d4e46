"""yidang's benchmark: times and peak memory of each command on a synthetic archive.

    .venv/bin/python bench/run.py --students 1000 --records-per-student 150

Prints a table: `check`, the site build (`yidang build --no-booklets`), and a plain
`mkdocs build` of the same pages with the same theme and no yidang plugin
(the rendered pages are written out as Markdown files first, untimed), with the ratio of the
two builds, each command's peak memory (resident set of the whole process
tree, sampled every 20 ms) and the size of what it wrote. Then booklets: pages
per second at 1 and 2 jobs on synthetic students with 150 records each, the
seconds per booklet (per worker) and the peak memory of one worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
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

    from generator import render
    from generator.archive import read_archive
    from generator.pages import StudentPages

    labels = render.load_labels(render.TEMPLATES_DIR, "zh")
    maker = partial(StudentPages, root=archive, labels=labels, templates_dir=render.TEMPLATES_DIR,
                    dir_urls=True, photo_cache=work / "photo-cache")  # fmt: skip
    result = read_archive(archive, hook_factory=maker)
    assert result.archive is not None, "the synthetic archive must be valid"
    site = render.Site(result.archive, labels)
    env = render.make_env(render.TEMPLATES_DIR, site)
    pages = [(spec, render.render_page(site, env, spec)) for spec in render.index_specs(site)]
    pages += [(render.student_spec(s), result.outputs[s.id].page)
              for s in result.archive.students.values()]  # fmt: skip
    docs = work / "plain-docs"
    for spec, page in pages:
        target = docs / spec.uri
        target.parent.mkdir(parents=True, exist_ok=True)
        # The same title and body, as a Markdown page (raw HTML is Markdown).
        target.write_text(render.stub(spec) + "\n" + page.html + "\n", encoding="utf-8")
    (docs / "assets").mkdir(exist_ok=True)
    shutil.copy(render.TEMPLATES_DIR / "static" / "yidang.css", docs / "assets" / "yidang.css")
    cfg = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    cfg.update(docs_dir=str(docs), plugins=[], nav=render.nav(labels), extra_css=["assets/yidang.css"])
    cfg["theme"]["custom_dir"] = str(render.TEMPLATES_DIR / "overrides")
    path = work / "plain.yml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--records-per-student", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--booklet-students",
        type=int,
        default=8,
        help="students (of 150 records each) for the booklet benchmark",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="yidang-bench-"))
    archive = work / "archive"
    yidang = str(BIN / "yidang")
    runs = [
        measure(
            "synth",
            [
                yidang,
                "synth",
                "--students",
                str(args.students),
                "--records-per-student",
                str(args.records_per_student),
                "--seed",
                str(args.seed),
                str(archive),
            ],
            archive,
        )
    ]
    # --as-of inside synth's last term, so that check also works out the four ones
    checks = sorted((measure("yidang check", [yidang, "check", str(archive), "--as-of", "2026-05-15"])
                     for _ in range(3)),
                    key=lambda r: r.seconds)  # fmt: skip
    runs.append(checks[1])  # the median of three: this machine's speed varies run to run
    spread = f"yidang check, three runs: {', '.join(f'{r.seconds:.2f}' for r in checks)} s"
    config = _yidang_config(work, archive)
    passphrase = _reader_account(archive)
    site = work / "site"
    runs.append(measure("yidang build", [yidang, "build", "--no-booklets", "--config", str(config),
                                         "--site-dir", str(site)], site))  # fmt: skip
    plain_yidang = work / "site-unprotected"
    runs.append(measure("yidang build --unprotected", [yidang, "build", "--no-booklets",
                                                       "--unprotected", "--config", str(config),
                                                       "--site-dir", str(plain_yidang)],
                        plain_yidang))  # fmt: skip
    plain = _plain_project(work, archive)
    plain_site = work / "plain-site"
    runs.append(
        measure(
            "plain mkdocs build",
            [str(BIN / "mkdocs"), "build", "-q", "-f", str(plain), "-d", str(plain_site)],
            plain_site,
        )
    )
    _print(args, runs)
    print(spread)
    _browser(site, passphrase)
    if args.booklet_students:
        _booklets(work, yidang, args.booklet_students)
    if args.keep:
        print(f"\nwork folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def _print(args: argparse.Namespace, runs: list[Run]) -> None:
    print(
        f"\n{args.students} students × {args.records_per_student} records, "
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}\n"
    )
    print("| step | seconds | peak memory (MiB, process tree) | output (MB) |")
    print("|---|---:|---:|---:|")
    for r in runs:
        out = f"{r.out_mb:.1f}" if r.out_mb is not None else ""
        print(f"| {r.name} | {r.seconds:.2f} | {r.peak_mib:.0f} | {out} |")
    build = next(r for r in runs if r.name == "yidang build")
    plain = next(r for r in runs if r.name == "plain mkdocs build")
    unprotected = next(r for r in runs if r.name == "yidang build --unprotected")
    print(
        f"\nprotected yidang build / plain mkdocs build: {build.seconds / plain.seconds:.2f}× time; "
        f"protected site / plaintext site: {(build.out_mb or 0) / (unprotected.out_mb or 1):.2f}× "
        f"size (/ plain mkdocs site: {(build.out_mb or 0) / (plain.out_mb or 1):.2f}×)"
    )


def _reader_account(archive: Path) -> str:
    """A leadership account in the synthetic archive (synth's T0001 leads); its passphrase."""
    sys.path.insert(0, str(REPO))
    from generator import access

    account, passphrase = access.create("T0001")
    access.save(archive, account)
    return passphrase


LOGIN_JS = """async ([user, pass]) => {
  const t = performance.now();
  document.querySelector('#yd-user').value = user;
  document.querySelector('#yd-pass').value = pass;
  document.querySelector('#yd-login button').click();
  while (document.querySelector('#yd-logout').hidden) await new Promise(r => setTimeout(r, 5));
  return performance.now() - t;
}"""
OPEN_JS = """async (route) => {
  const t = performance.now();
  location.hash = '#/' + route;
  const page = document.querySelector('#yd-page');
  while (page.dataset.route !== route) await new Promise(r => setTimeout(r, 2));
  return performance.now() - t;
}"""


def _browser(site: Path, passphrase: str) -> None:
    """Login and page-open times, measured in Chromium with performance.now()."""
    sys.path.insert(0, str(REPO))
    from tests.browser import chromium, serve_folder

    routes = sorted(f"students/{p.name}/" for p in (site.parent / "archive" / "students").iterdir())
    with serve_folder(site) as url, chromium() as browser:
        logins, opens = [], []
        for _ in range(3):
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#yd-login:not([hidden])")
            logins.append(page.evaluate(LOGIN_JS, ["T0001", passphrase]))
            opens += [page.evaluate(OPEN_JS, r) for r in routes[:: max(1, len(routes) // 20)][:20]]
            page.evaluate("sessionStorage.clear()")
            page.close()
    logins.sort()
    opens.sort()
    print(
        f"\nbrowser (Chromium, leadership account): login {logins[1]:.0f} ms (median of 3: "
        f"{', '.join(f'{x:.0f}' for x in logins)}); a student page opened after login: "
        f"median {opens[len(opens) // 2]:.0f} ms, slowest {opens[-1]:.0f} ms ({len(opens)} pages)"
    )


def _booklets(work: Path, yidang: str, students: int) -> None:
    """Pages per second at 1 and 2 jobs, on synthetic students with 150 records each."""
    archive = work / "booklet-archive"
    measure("synth", [yidang, "synth", "--students", str(students), "--records-per-student",
                      "150", "--seed", "2", str(archive)])  # fmt: skip
    print(f"\nbooklets: {students} synthetic students × 150 records, default fonts\n")
    print("| jobs | seconds | booklets | pages | pages/s | s/booklet | peak MiB per worker |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for jobs in (1, 2):
        out = work / f"booklets-{jobs}"
        run = measure(f"booklets x{jobs}", [yidang, "booklets", "--archive", str(archive),
                                            "--out", str(out), "--jobs", str(jobs), "--force",
                                            "--config", str(work / "none.yml")])  # fmt: skip
        pages = sum(len(PdfReader(p).pages) for p in out.glob("*.pdf"))
        count = len(list(out.glob("*.pdf")))
        print(
            f"| {jobs} | {run.seconds:.2f} | {count} | {pages} | {pages / run.seconds:.1f} | "
            f"{run.seconds * jobs / count:.2f} | {run.worker_peak_mib:.0f} |"
        )


if __name__ == "__main__":
    main()
