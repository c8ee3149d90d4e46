"""Booklets: one printable A4 PDF per student (WeasyPrint), the school's paper file.

Each booklet is rendered in the worker process that read the student (see
``archive.read_archive``'s hook). A content hash of everything a booklet is
made from — the student's files and photos, the school files, the templates,
the labels and the font settings — is kept next to the PDFs, so an unchanged
student is skipped. Missing glyphs are errors: WeasyPrint only logs a
``.notdef`` warning and draws a box, which must never reach a printed file.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import itertools
import json
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from generator.archive import groups, photos
from generator.archive.model import Archive, RecordEntry, Student
from generator.archive.provenance import Changes, last_changes
from generator.archive.read import SchoolFiles, read_archive, source_files
from generator.archive.schema import RECORD_KINDS
from generator.booklets import fontsubset
from generator.core import labels
from generator.core.files import atomic_path, write_atomic
from generator.core.problems import Problem, YidangError
from generator.render import templates as render

DIGESTS = ".yidang-booklets.json"
VERSION = "2"  # bump when the booklet's Python side changes what it renders
NOTDEF = ".notdef glyph rendered"


@dataclass(frozen=True)
class Fonts:
    body: str = "Noto Serif CJK SC"
    heading: str = "Noto Sans CJK SC"


# --- start-up checks ---------------------------------------------------------


def check_fonts(fonts: Fonts) -> None:
    """Stop early, with the fix, when the PDFs would be slow or full of boxes."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    if harfbuzz_subset is None or not harfbuzz.hb_version_atleast(4, 1, 0):
        raise YidangError(labels.error("commands", "no_subset"))
    for family in dict.fromkeys((fonts.body, fonts.heading)):
        if not _has_chinese_font(family):
            raise YidangError(labels.error("commands", "no_cjk_font", family=family))


def ready_fonts(fonts: Fonts, cache: Path) -> Path | None:
    """check_fonts, then the faces' common-character subsets in ``cache`` (fontsubset):
    the folder for Booklets.font_dir, or None to use the installed fonts alone."""
    check_fonts(fonts)
    return fontsubset.prepare((fonts.body, fonts.heading), cache)


def _has_chinese_font(family: str) -> bool:
    try:
        out = subprocess.run(
            ["fc-list", f"{family}:lang=zh-cn", "family"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except FileNotFoundError:
        raise YidangError(labels.error("commands", "no_fontconfig")) from None
    names = {n.strip() for line in out.stdout.splitlines() for n in line.split(",")}
    return family in names


# --- one booklet ---------------------------------------------------------------


@dataclass(frozen=True)
class BookletResult:
    student: str
    status: str  # rendered | skipped | failed
    path: Path
    digest: str = ""
    pages: int = 0
    seconds: float = 0.0
    missing: tuple[str, ...] = ()  # characters no font could draw
    error: str = ""


# A file kept for a student's whole school career and handed to the next school: a long-term
# archival PDF (PDF/A-3, the part that may carry attached source files), level A: tagged, so
# screen readers follow its structure. WeasyPrint embeds every font and an sRGB output intent.
PDF_VARIANT = "pdf/a-3a"
FULL = "full"  # the full booklets' folder, and their published route (full/<id>.pdf)


class _MissingGlyphs(Exception):
    """A booklet drew a character no installed font has (see ``_Glyphs``)."""


class _Glyphs(logging.Handler):
    """Collects the characters WeasyPrint drew as .notdef boxes."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.missing: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith(NOTDEF) and isinstance(record.args, tuple) and record.args:
            self.missing.append(str(record.args[0]))


@dataclass
class Booklets:
    """Called once per student, in a worker: renders the booklet unless unchanged."""

    school: SchoolFiles
    as_of: dt.date
    root: Path
    labels: dict[str, Any]
    templates_dir: Path
    out_dir: Path
    fonts: Fonts
    photo_cache: Path
    force: bool = False
    previous: dict[str, str] = field(default_factory=dict)
    select: Callable[[Student], bool] | None = None
    provenance: Changes | None = None  # the archive's git history (None: not in git)
    font_dir: Path | None = None  # subset fonts and their Fontconfig file (fontsubset)
    attach: bool = False  # the transfer copy: the student's source files inside the PDF/A-3
    _env: jinja2.Environment | None = None
    _font_config: tuple[int, Any] | None = None  # (pid, WeasyPrint FontConfiguration)

    def __post_init__(self) -> None:
        assert self.school.school is not None
        archive = Archive(self.school.school, self.school.teachers, self.school.classes, {}, self.as_of)
        self.site = render.Site(archive, self.labels, provenance=self.provenance)
        self.key = inputs_key(self.root, self.templates_dir, self.labels, self.fonts)

    def __call__(self, student: Student, full: bool = False) -> BookletResult | None:
        """The student's booklet: every reader's, with need-to-know records (心理辅导) as facts
        only; ``full``, the one with their content too, for those who read both (``full/``)."""
        if self.select is not None and not self.select(student):
            return None
        name = f"{FULL}/{student.id}" if full else student.id  # its file, and its key in the digests
        target = self.out_dir / f"{name}.pdf"
        shown = "|".join(self.site.provenance_text(r.path) for r in student.records)
        shown += groups.key_of(r for r in student.records if r.group)  # activities/ files too
        digest = student_digest(self.root / student.folder, f"{self.key}|{shown}|{full}")
        if not self.force and target.is_file() and self.previous.get(name) == digest:
            return BookletResult(name, "skipped", target, digest)
        try:
            return self._render(student, target, digest, full)
        except Exception as exc:  # one broken booklet must not stop the others
            return BookletResult(name, "failed", target, error=f"{type(exc).__name__}: {exc}")

    def full(self, student: Student) -> BookletResult | None:
        """The full booklet, for a student who has need-to-know records; else None."""
        need = any(RECORD_KINDS[r.meta.type].need_to_know for r in student.records)
        return self(student, full=True) if need else None

    def _render(self, student: Student, target: Path, digest: str, full: bool = False) -> BookletResult:
        from weasyprint import HTML

        start = time.perf_counter()
        target.parent.mkdir(parents=True, exist_ok=True)
        html = self.html(student, full)
        glyphs = _Glyphs()
        try:
            with atomic_path(target) as tmp:
                files = self.sources(student) if self.attach else []
                pages = self._write_pdf(HTML(string=html, base_url=str(self.root)), tmp, glyphs, files)
                if glyphs.missing:
                    raise _MissingGlyphs  # the PDF has boxes for them: it is not put in place
        except _MissingGlyphs:
            missing = tuple(dict.fromkeys(glyphs.missing))
            return BookletResult(
                target.relative_to(self.out_dir).as_posix()[:-4], "failed", target, missing=missing
            )
        name = target.relative_to(self.out_dir).as_posix()[:-4]
        return BookletResult(name, "rendered", target, digest, pages, time.perf_counter() - start)

    def sources(self, student: Student) -> list[Any]:
        """The student's source files as PDF attachments named by their path in the folder
        (``records/2026-09-08-talk.md``): the PDF/A-3 then carries the whole case, byte for byte,
        the same files a transfer sends."""
        from weasyprint import Attachment

        return [
            Attachment(filename=str(path), name=rel, relationship="Source")
            for rel, path in source_files(self.root / student.folder)
        ]

    def _write_pdf(self, html: Any, path: Path, glyphs: logging.Handler, files: list[Any]) -> int:
        """Render and write one booklet (with ``files`` attached); returns its page count."""
        logger = logging.getLogger("weasyprint")
        logger.addHandler(glyphs)  # .notdef is logged while drawing, inside write_pdf
        # No cycle collection while WeasyPrint works: its boxes and styles live until the
        # PDF is written, so each collection would only walk them again (the young ones
        # up to three times as they age); the first collection after the booklet walks
        # them once. Peak memory stays the same (250-265 MiB a worker).
        collecting = gc.isenabled()
        gc.disable()
        try:
            document = html.render(font_config=self.font_config())
            document.write_pdf(path, pdf_variant=PDF_VARIANT, attachments=files)
            return len(document.pages)
        finally:
            if collecting:
                gc.enable()
            logger.removeHandler(glyphs)

    def font_config(self) -> Any:
        """One WeasyPrint font configuration per process: Pango's font map and its caches
        (fonts loaded, strut layouts) then serve every booklet the worker renders."""
        from weasyprint.text.fonts import FontConfiguration

        if self._font_config is None or self._font_config[0] != os.getpid():
            with fontsubset.fontconfig_file(self.font_dir):
                self._font_config = (os.getpid(), FontConfiguration())
        return self._font_config[1]

    def html(self, student: Student, full: bool = False) -> str:
        if self._env is None:  # built once per worker, after the fork
            self._env = render.make_env(self.templates_dir, self.site)
        env = self._env
        # CSS is not HTML: the template turns autoescaping off (it would make quotes
        # &#34;). Its only inputs are the labels file and the font names, which
        # _css_family cleans, so it is inserted as it is.
        subset = self.font_dir is not None
        css = Markup(
            env.get_template("booklet.css.j2").render(
                body_font=_css_family(self.fonts.body, subset),
                heading_font=_css_family(self.fonts.heading, subset),
            )
        )
        photo_src = {  # a group's photos are not printed: they show other students
            r.photo_path(ph): photos.prepared(self.root / r.photo_path(ph), self.photo_cache)[1].as_uri()
            for r in student.records
            if not r.group
            for ph in r.meta.photos
        }
        return env.get_template("booklet.html.j2").render(
            student=student,
            css=css,
            produced=dt.date.today(),
            photo_src=photo_src,
            record_groups=self.record_groups(student.records),
            full=full,
        )

    def record_groups(self, records: tuple[RecordEntry, ...]) -> list[tuple[str, str, list[RecordEntry]]]:
        """Records in date order, grouped by term; records between terms get their own group."""
        archive = self.site.archive
        groups = []
        for n, (term, items) in enumerate(itertools.groupby(records, lambda r: archive.term_of(r.meta.date))):
            name = term.name if term else self.labels["booklet"]["outside_terms"]
            groups.append((name, f"t-{term.id if term else 'x'}-{n}", list(items)))
        return groups


def _css_family(name: str, subset: bool = False) -> str:
    """A font name from mkdocs.yml as a CSS family list, unable to break out of the rule;
    its common-character subset first when there is one (fontsubset)."""
    clean = "".join(ch for ch in name if ch not in '"\\;{}<>')
    first = f'"{fontsubset.subset_family(clean)}", ' if subset else ""
    return f'{first}"{clean}", "Noto Sans CJK SC", sans-serif'


def describe_failure(result: BookletResult) -> str:
    """One line a teacher can act on: which student, which characters or error."""
    student = result.student.removeprefix(f"{FULL}/")  # the full booklet's is the student's too
    if result.missing:
        chars = ", ".join(f"'{ch}' (U+{ord(ch):04X})" for ch in result.missing)
        return f"students/{student}: error: no installed font can draw {chars}; the booklet was not written"
    return f"students/{student}: error: booklet failed: {result.error}"


# --- content hashes --------------------------------------------------------------


def inputs_key(root: Path, templates_dir: Path, labels: dict[str, Any], fonts: Fonts) -> str:
    """Hash of what every booklet depends on besides the student's own files."""
    h = hashlib.sha256(f"yidang-booklet-{VERSION}|{fonts.body}|{fonts.heading}".encode())
    h.update(json.dumps(labels, sort_keys=True, ensure_ascii=False, default=str).encode())
    for path in sorted((templates_dir / "booklet").iterdir()):
        h.update(path.name.encode() + path.read_bytes())
    for name in ("school.yml", "teachers.yml", "classes.yml"):
        h.update(name.encode() + (root / name).read_bytes())
    return h.hexdigest()


def student_digest(folder: Path, key: str) -> str:
    """Hash of every file in the student's folder (records, plan, profile, photos)."""
    h = hashlib.sha256(key.encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def load_digests(out_dir: Path) -> dict[str, str]:
    try:
        return json.loads((out_dir / DIGESTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save_digests(out_dir: Path, digests: dict[str, str]) -> None:
    write_atomic(out_dir / DIGESTS, json.dumps(digests, indent=1, sort_keys=True), replace=True, sync=False)


# --- many booklets ---------------------------------------------------------------


@dataclass
class Report:
    results: list[BookletResult]
    problems: list[Problem]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def pages(self) -> int:
        return sum(r.pages for r in self.results)


def make_booklets(
    root: Path,
    out_dir: Path,
    labels: dict[str, Any],
    templates_dir: Path,
    fonts: Fonts,
    *,
    students: list[str] | None = None,
    class_id: str | None = None,
    jobs: int | None = None,
    force: bool = False,
    as_of: dt.date | None = None,
    photo_cache: Path | None = None,
    progress: Callable[[], None] | None = None,
    attach: bool = False,
) -> Report:
    """Render the booklets of the archive at ``root`` (or the students/class named)."""
    root, out_dir = root.resolve(), out_dir.resolve()  # photos reach WeasyPrint as file:// URIs
    font_dir = ready_fonts(fonts, out_dir / ".fonts")
    previous = load_digests(out_dir)

    def select(student: Student) -> bool:
        return class_id is None or student.profile.class_ == class_id

    def factory(school: SchoolFiles, day: dt.date) -> Booklets:
        return Booklets(
            school,
            day,
            root,
            labels,
            templates_dir,
            out_dir,
            fonts,
            photo_cache or out_dir / ".photos",
            force,
            previous,
            select,
            last_changes(root),
            font_dir,
            attach,
        )

    # WeasyPrint makes some 10⁵ short-lived objects per booklet, and each full collection
    # of Python's cycle collector walks every object the process holds (the modules,
    # WeasyPrint's, pydantic's, the archive): ~10 % of rendering. Freezing what exists now
    # takes it out of those walks, in the workers forked below too.
    gc.collect()
    gc.freeze()
    try:
        result = read_archive(
            root, as_of=as_of, jobs=jobs, hook_factory=factory, folders=students, progress=progress
        )
    finally:
        gc.unfreeze()
    results = [r for r in result.outputs.values() if r is not None]
    digests = dict(previous)
    for r in results:
        if r.status == "failed":
            digests.pop(r.student, None)
        else:
            digests[r.student] = r.digest
    save_digests(out_dir, digests)
    return Report(sorted(results, key=lambda r: r.student), result.problems)
