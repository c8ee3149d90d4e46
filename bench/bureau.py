"""A bureau hosting many schools: synthetic schools built one after another, then two at a time.

    .venv/bin/python bench/bureau.py                       # 20 schools × 300 students × 40 records
    .venv/bin/python bench/bureau.py --schools 4 --students 50 --records-per-student 10   # a quick look
    make bench-bureau

A county education bureau may keep one site per school on one server, each built by the
forge's CI from the school's archive. Each school here is its own synthetic archive
(`yidang synth`, seed 1, 2, …), with a reader account for every teacher, committed to git, and
its own mkdocs.yml, build cache and site folder, as a CI job would have them (all untimed).

Timed, each as a separate process measured as bench/run.py measures (wall time; CPU time of
the command and its workers; peak resident memory of the process tree, sampled every 20 ms):

1. serially: each school's full protected build (`yidang build --no-booklets`, no cache, no
   previous site), then the rebuild after one committed record (the common CI job when the
   runner keeps the cache);
2. in parallel: every school's full build again from nothing, ``--parallel`` at a time (two on
   this 2-core machine), as a runner with two job slots would take them.

Reported per school: wall, CPU, peak memory, and the disk used (allocated blocks) by the built
site, the build cache and the archive's checkout with its .git; then the total wall time of the
serial and the parallel round. Written into docs/performance.md between the bureau markers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (  # bench/run.py, the benchmark this one extends
    BIN,
    REPO,
    Run,
    _code_version,
    _commit,
    _edit_record,
    _forget,
    _machine,
    _reader_accounts,
    _write_docs,
    _yidang_config,
    machine_cpu,
    measure,
)

START, END = "<!-- bureau:start -->", "<!-- bureau:end -->"


@dataclass
class School:
    name: str
    work: Path  # its CI job's folder: archive/, mkdocs.yml, .cache/, site/
    runs: dict[str, Run] = field(default_factory=dict)
    disk: dict[str, float] = field(default_factory=dict)  # MiB: site, cache, archive

    @property
    def archive(self) -> Path:
        return self.work / "archive"

    @property
    def site(self) -> Path:
        return self.work / "site"

    @property
    def cache(self) -> Path:
        return self.work / ".cache"

    def build(self, booklets: bool) -> list[str]:
        cmd = [str(BIN / "yidang"), "build", "--config", str(self.work / "mkdocs.yml")]
        return [*cmd, *([] if booklets else ["--no-booklets"]), "--site-dir", str(self.site)]


def disk_mib(path: Path) -> float:
    """What ``path`` takes on the disk (allocated blocks, as du counts them), in MiB."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue
    return total / 2**20


def prepare(work: Path, schools: int, students: int, records: int) -> list[School]:
    """Each school's archive, accounts and config, committed (untimed). Schools whose teachers
    are the same ids share one set of account files (copied): an account costs a passphrase
    key derivation to make, and the build does the same work with a copy."""
    yidang = str(BIN / "yidang")
    made: dict[tuple[str, ...], Path] = {}  # teacher ids → an access folder with their accounts
    out = []
    for n in range(1, schools + 1):
        school = School(f"school-{n:02d}", work / f"school-{n:02d}")
        size = ["--students", str(students), "--records-per-student", str(records)]
        measure("synth", [yidang, "synth", *size, "--seed", str(n), str(school.archive)])
        _yidang_config(school.work, school.archive)
        teachers = yaml.safe_load((school.archive / "teachers.yml").read_text(encoding="utf-8"))
        ids = tuple(sorted(t["id"] for t in teachers))
        if ids in made:
            shutil.copytree(made[ids], school.archive / "access")
        else:
            _reader_accounts(school.archive)
            made[ids] = school.archive / "access"
        _commit(school.archive, "the synthetic archive")
        out.append(school)
        print(f"{time.strftime('%H:%M:%S')} prepared {school.name}", file=sys.stderr, flush=True)
    return out


def timed(school: School, step: str, booklets: bool, fresh: bool = True) -> Run:
    if fresh:
        _forget(school.cache, school.site)
    run = measure(f"{school.name}: {step}", school.build(booklets), school.site)
    school.runs[step] = run
    print(
        f"{time.strftime('%H:%M:%S')} {run.name}: {run.seconds:.2f} s wall, {run.cpu:.2f} s CPU, "
        f"{run.peak_mib:.0f} MiB",
        file=sys.stderr,
        flush=True,
    )
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--students", type=int, default=300, help="students per school")
    parser.add_argument("--records-per-student", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=2, help="schools built at a time in the 2nd round")
    parser.add_argument("--booklets", action="store_true", help="build with the booklets (first run)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    parser.add_argument("--docs", type=Path, default=REPO / "docs" / "performance.md")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="yidang-bureau-"))
    load = os.getloadavg()[0]
    schools = prepare(work, args.schools, args.students, args.records_per_student)

    start = time.perf_counter()
    for school in schools:
        timed(school, "serial", args.booklets)
        school.disk = {
            "site": disk_mib(school.site),
            "cache": disk_mib(school.cache),
            "archive": disk_mib(school.archive),
        }
        _edit_record(school.archive)
        timed(school, "rebuild", args.booklets, fresh=False)
    serial = time.perf_counter() - start
    # other work while the builds ran (not while the benchmark itself committed an edit)
    others = [sum(s.runs["serial"].others_cpu + s.runs["rebuild"].others_cpu for s in schools)]

    start, busy = time.perf_counter(), machine_cpu()[0]
    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        list(pool.map(partial(timed, step="parallel", booklets=args.booklets), schools))
    parallel = time.perf_counter() - start
    # two at once: each run's "others" would count its sibling, so the whole round instead
    others.append(machine_cpu()[0] - busy - sum(s.runs["parallel"].cpu for s in schools))
    # the serial round includes the rebuilds; compare the full builds alone
    serial_builds = sum(s.runs["serial"].seconds for s in schools)

    load_after = os.getloadavg()[0]
    report = _report(args, schools, serial, serial_builds, parallel, (load, load_after), others)
    print(report)
    if not args.no_docs:
        _write_docs(report, args.docs, START, END)
    if args.keep:
        print(f"\nwork folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def _report(
    args: argparse.Namespace,
    schools: list[School],
    serial: float,
    serial_builds: float,
    parallel: float,
    load: tuple[float, float],
    others: list[float],
) -> str:
    def med(step: str, attr: str) -> float:
        return statistics.median(getattr(s.runs[step], attr) for s in schools)

    def most(step: str, attr: str) -> float:
        return max(getattr(s.runs[step], attr) for s in schools)

    booklets = "with booklets" if args.booklets else "`--no-booklets`"
    cores = os.cpu_count() or 1
    serial_timed = sum(s.runs["serial"].seconds + s.runs["rebuild"].seconds for s in schools)
    lines = [
        f"{args.schools} schools × {args.students} students × {args.records_per_student} records, "
        f"{dt.date.today()}, {booklets}. Code: {_code_version()}. Machine: {_machine()}; load average "
        f"{load[0]:.2f} before, {load[1]:.2f} after (other work on the machine counts in the times).",
        "",
        f"`.venv/bin/python bench/bureau.py --schools {args.schools} --students {args.students} "
        f"--records-per-student {args.records_per_student} --parallel {args.parallel}`",
        "",
        f"- One after another: the {args.schools} full builds took **{serial_builds:.0f} s** "
        f"({serial_builds / 60:.1f} min; {serial:.0f} s with each school's rebuild after them).",
        f"- {args.parallel} at a time: **{parallel:.0f} s** ({parallel / 60:.1f} min), "
        f"{serial_builds / parallel:.2f}× the throughput.",
        f"- Other work on the machine (every other process, from /proc/stat) took "
        f"{others[0]:.0f} CPU seconds of the {serial_timed * cores:.0f} the {cores} cores had while "
        f"the serial round's builds ran, {others[1]:.0f} of {parallel * cores:.0f} during the "
        "parallel round (there with the benchmark's own deleting of the previous site and cache).",
        f"- Per school, full build one at a time: median {med('serial', 'seconds'):.1f} s wall "
        f"(slowest {most('serial', 'seconds'):.1f}), {med('serial', 'cpu'):.1f} s CPU, peak "
        f"{med('serial', 'peak_mib'):.0f} MiB (largest {most('serial', 'peak_mib'):.0f}); "
        f"{args.parallel} at a time: median {med('parallel', 'seconds'):.1f} s wall "
        f"(slowest {most('parallel', 'seconds'):.1f}), {med('parallel', 'cpu'):.1f} s CPU, peak "
        f"{med('parallel', 'peak_mib'):.0f} MiB (largest {most('parallel', 'peak_mib'):.0f}).",
        f"- Rebuild after one committed record, cache kept: median {med('rebuild', 'seconds'):.2f} s "
        f"wall (slowest {most('rebuild', 'seconds'):.2f}), {med('rebuild', 'cpu'):.2f} s CPU, peak "
        f"{med('rebuild', 'peak_mib'):.0f} MiB.",
        "- Disk per school (allocated blocks): site "
        f"{statistics.median(s.disk['site'] for s in schools):.0f} MiB, build cache "
        f"{statistics.median(s.disk['cache'] for s in schools):.0f} MiB, archive checkout with "
        f".git {statistics.median(s.disk['archive'] for s in schools):.0f} MiB (medians).",
        "",
        "| school | full build: s wall | s CPU | peak MiB | 2 at a time: s wall | s CPU | peak MiB "
        "| rebuild: s wall | s CPU | site MiB | cache MiB | archive + .git MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if args.parallel != 2:
        lines[-2] = lines[-2].replace("2 at a time", f"{args.parallel} at a time")
    for s in schools:
        a, b, r = s.runs["serial"], s.runs["parallel"], s.runs["rebuild"]
        lines.append(
            f"| {s.name} | {a.seconds:.1f} | {a.cpu:.1f} | {a.peak_mib:.0f} | {b.seconds:.1f} | {b.cpu:.1f} "
            f"| {b.peak_mib:.0f} | {r.seconds:.2f} | {r.cpu:.2f} | {s.disk['site']:.0f} "
            f"| {s.disk['cache']:.0f} | {s.disk['archive']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
