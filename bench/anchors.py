"""The anchors yidang's targets are ratios to (issue 27): what a school could do without it.

    .venv/bin/python bench/anchors.py check ARCHIVE
    .venv/bin/python bench/anchors.py booklets PAGES_DIR OUT_DIR

Each is run by bench/run.py as a process of its own, like yidang's commands, so its wall
time, CPU time (the process and anything it waited for) and peak memory are measured the
same way. Both print one line of JSON on stdout for the benchmark to read.

- ``check``, the naive check: PyYAML's ``safe_load`` of every student's profile.yml and of
  every record's front matter, nothing else: no schema, no references, no four ones, one
  process. The least any validator of the archive must do; with the C loader
  (``yaml.CSafeLoader``, libyaml) when PyYAML has it, as a careful script would.
- ``booklets``, the naive booklets: each student's page, the same Markdown file the plain
  ``mkdocs build`` anchor builds (the page's title and its HTML body; raw HTML is Markdown),
  through python-markdown with mkdocs.yml's extensions and WeasyPrint with a plain stylesheet
  (A4, the system's Noto CJK faces at the booklets' size, bordered tables, page numbers),
  one PDF per student, one process. What a school would do by hand. Pages are counted from
  WeasyPrint's own document.

No yidang code is imported here: an anchor must not get faster or slower with yidang.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent

# The system CJK fonts, by the same family names the booklets use by default
# (generator/booklets/booklet.py, Fonts): the installed faces, not yidang's subsets.
BODY_FONT = "Noto Serif CJK SC"
HEADING_FONT = "Noto Sans CJK SC"
PLAIN_CSS = f"""
@page {{ size: A4; margin: 20mm; @bottom-center {{ content: counter(page); font-size: 9pt; }} }}
html {{ font-family: "{BODY_FONT}", serif; font-size: 10.5pt; line-height: 1.65; }}
h1, h2, h3, th {{ font-family: "{HEADING_FONT}", sans-serif; }}
table {{ border-collapse: collapse; width: 100%; margin: 0 0 3mm; }}
th, td {{ border: .5pt solid #888; padding: 1mm 2mm; vertical-align: top; }}
img {{ max-width: 80mm; }}
"""


def loader() -> tuple[type[Any], str]:
    """PyYAML's C safe loader when it was built with libyaml, else the pure-Python one."""
    if getattr(yaml, "CSafeLoader", None) is not None:
        return yaml.CSafeLoader, "yaml.CSafeLoader (libyaml)"
    return yaml.SafeLoader, "yaml.SafeLoader (pure Python: PyYAML has no libyaml here)"


def naive_check(archive: Path) -> dict[str, Any]:
    """safe_load every profile and every record's front matter; count what was read."""
    load, name = loader()
    profiles = records = 0
    students = archive / "students"
    for folder in sorted(os.listdir(students)):
        base = students / folder
        profile = base / "profile.yml"
        if profile.is_file():
            yaml.load(profile.read_text(encoding="utf-8"), Loader=load)  # a safe loader
            profiles += 1
        records_dir = base / "records"
        if not records_dir.is_dir():
            continue
        for entry in sorted(os.listdir(records_dir)):
            if not entry.endswith(".md"):
                continue
            text = (records_dir / entry).read_text(encoding="utf-8")
            if text.startswith("---"):  # the front matter: from the first line to the next '---'
                end = text.find("\n---", 3)
                yaml.load(text[3 : end if end > 0 else len(text)], Loader=load)
            records += 1
    return {"loader": name, "profiles": profiles, "records": records}


def naive_booklets(pages: Path, out: Path) -> dict[str, Any]:
    """Each Markdown page → python-markdown → WeasyPrint (plain CSS) → out/<name>.pdf."""
    import markdown
    from weasyprint import CSS, HTML

    config = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))
    extensions = [e if isinstance(e, str) else next(iter(e)) for e in config.get("markdown_extensions", [])]
    css = CSS(string=PLAIN_CSS)
    out.mkdir(parents=True, exist_ok=True)
    count = total = 0
    for page in sorted(pages.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        title = ""
        if text.startswith("---"):  # the title stub MkDocs reads; the page gets it as <h1>
            head, _, text = text[3:].partition("\n---\n")
            title = str((yaml.safe_load(head) or {}).get("title", ""))
        body = markdown.markdown(text, extensions=extensions)
        html = f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><h1>{title}</h1>{body}</html>'
        document = HTML(string=html, base_url=str(pages)).render(stylesheets=[css])
        document.write_pdf(out / f"{page.stem}.pdf")
        total += len(document.pages)
        count += 1
    return {"booklets": count, "pages": total, "extensions": extensions, "fonts": [BODY_FONT, HEADING_FONT]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="anchor", required=True)
    check = sub.add_parser("check", help="the naive check of an archive")
    check.add_argument("archive", type=Path)
    booklets = sub.add_parser("booklets", help="the naive booklets of a folder of Markdown pages")
    booklets.add_argument("pages", type=Path)
    booklets.add_argument("out", type=Path)
    args = parser.parse_args()
    result = naive_check(args.archive) if args.anchor == "check" else naive_booklets(args.pages, args.out)
    print(json.dumps(result, ensure_ascii=False))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
