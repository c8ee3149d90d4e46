"""What archival booklets cost: the same booklets written as plain PDF, PDF/A-3b and
PDF/A-3a (tagged, what yidang writes), and as the transfer copy (PDF/A-3a with the
student's source files attached).

    .venv/bin/python bench/pdfa.py [--students 10] [--rounds 3] [--work DIR]

One worker, in-process, so the variants are timed on the same documents without the
pool's start-up in the numbers (the booklet benchmark in bench/run.py times the real
command with its workers). Prints a Markdown table: seconds, pages per second, and the
total size of the files.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.booklets import booklet  # noqa: E402
from generator.booklets.booklet import Fonts, make_booklets  # noqa: E402
from generator.render import templates as render  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from run import booklet_synth  # noqa: E402

VARIANTS = [  # (label, pdf_variant, attach the sources)
    ("plain PDF 1.7", None, False),
    ("PDF/A-3b", "pdf/a-3b", False),
    ("PDF/A-3a, tagged (the booklets)", "pdf/a-3a", False),
    ("PDF/A-3a + sources (transfer copy)", "pdf/a-3a", True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=10, help="synthetic students, 150 records each")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of the four variants (the median is shown)"
    )
    parser.add_argument("--work", type=Path, help="folder for the archive and booklets (default: a temp one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yidang-pdfa-") as tmp:
        work = args.work or Path(tmp)
        print(measure(work, args.students, args.rounds))


def measure(work: Path, students: int, rounds: int) -> str:
    archive = work / "archive"
    if not archive.exists():
        yidang = str(Path(sys.executable).parent / "yidang")
        subprocess.run(booklet_synth(yidang, students, archive), check=True, capture_output=True)
    labels = render.load_labels(render.TEMPLATES_DIR, "zh")
    # Warm up: the first booklet of a process also makes the font subsets (cached after).
    first = sorted(p.name for p in (archive / "students").iterdir())[:1]
    make_booklets(archive, work / "warm-up", labels, render.TEMPLATES_DIR, Fonts(), jobs=1, students=first)
    times: dict[int, list[float]] = {i: [] for i in range(len(VARIANTS))}
    pages, sizes = {}, {}
    for _ in range(rounds):  # the variants in turn, so a slow phase of the machine hits them all
        for i, (_label, variant, attach) in enumerate(VARIANTS):
            booklet.PDF_VARIANT = variant  # type: ignore[assignment]
            out = work / f"out-{i}"
            start = time.perf_counter()
            report = make_booklets(
                archive, out, labels, render.TEMPLATES_DIR, Fonts(), jobs=1, force=True, attach=attach
            )
            times[i].append(time.perf_counter() - start)
            pages[i] = sum(r.pages for r in report.results)
            sizes[i] = sum(p.stat().st_size for p in out.glob("*.pdf"))
    rows = [
        f"Booklets of {students} synthetic students × 150 records, one worker, `--force`; "
        f"median of {rounds} rounds, the variants in turn.",
        "",
        "| variant | seconds (runs) | pages | pages/s | MB | vs plain: time | vs plain: size |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    base = statistics.median(times[0]), sizes[0]
    for i, (label, _variant, _attach) in enumerate(VARIANTS):
        seconds = statistics.median(times[i])
        runs = ", ".join(f"{t:.1f}" for t in times[i])
        rows.append(
            f"| {label} | {seconds:.1f} ({runs}) | {pages[i]} | {pages[i] / seconds:.1f} | "
            f"{sizes[i] / 1e6:.1f} | {seconds / base[0] - 1:+.0%} | {sizes[i] / base[1] - 1:+.0%} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
