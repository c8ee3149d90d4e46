"""The command line: the only module that prints or exits.

Each command turns library errors into clean messages (``YidangError`` →
exit 1 with one line, usage errors → exit 2), so bad input never shows a
traceback. Exit status: 0 success, 1 problems found in the input, 2 usage error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from generator.core.problems import ArchiveInvalid, Problem, UsageError, YidangError, counts, to_json

if TYPE_CHECKING:
    from generator.archive.model import Archive
    from generator.archive.read import ReadResult
    from generator.booklets.booklet import Report as BookletReport

DEFAULT_ARCHIVE = "archives"
archive_option = click.option(
    "--archive",
    default=DEFAULT_ARCHIVE,
    show_default=True,
    type=click.Path(file_okay=False),
    help="The archive folder.",
)


def as_of_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--as-of", "as_of", type=click.DateTime(["%Y-%m-%d"]), default=None, help=help_text)


passphrase_file_option = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the intake passphrase from this file (else $YIDANG_INTAKE_PASSPHRASE, else a prompt).",
)
INTAKE_PASSPHRASE_ENV = "YIDANG_INTAKE_PASSPHRASE"


def _intake_passphrase(passphrase_file: Path | None, prompt: str = "passphrase_prompt") -> str:
    """The intake passphrase: from a file, the environment (then taken out of it, so that no
    child process — git, its hooks, gh — inherits it), or a hidden prompt."""
    from generator.core.labels import shipped

    if passphrase_file is not None:
        return passphrase_file.read_text(encoding="utf-8").strip()
    from_env = os.environ.pop(INTAKE_PASSPHRASE_ENV, "")
    if from_env:
        return from_env
    words = shipped()["access" if prompt == "old_passphrase" else "intake"]
    return str(click.prompt(words[prompt], hide_input=True, err=True))


def _labels() -> dict[str, Any]:
    from generator.core.labels import shipped

    return shipped()


def _today(root: Path) -> dt.date:
    """Today in the school's time zone (school.yml ``timezone``)."""
    from generator.archive.read import school_today

    return school_today(root)


config_option = click.option(
    "--config",
    "config_file",
    default="mkdocs.yml",
    type=click.Path(dir_okay=False),
    help="The MkDocs configuration (default: mkdocs.yml).",
)


def _archive_dir(path: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise click.BadParameter(_say("archive_not_found", path=path), param_hint="ARCHIVE")
    return p


def _valid_archive(archive: str, as_of: dt.date | None = None) -> tuple[Path, Archive]:
    """The archive folder and its model; ArchiveInvalid (every error, printed) if it has errors."""
    from generator.archive.read import read_archive

    root = _archive_dir(archive)
    result = read_archive(root, as_of=as_of)
    if result.archive is None:
        raise ArchiveInvalid(result.problems, _say("archive_errors"))
    return root, result.archive


class _ChineseHelp(click.Command):
    """--help begins in Chinese: a line from the labels file (``help``, keyed by the command's
    path) before the English text, and the command lists show that line. The options and
    examples stay English: they are read by whoever sets the school up, beside the README's
    English reference, and a line of Chinese says what each command is for."""

    zh_key = ""  # the command's path below ``yidang``, set by _key_commands

    def _zh(self) -> str:
        from generator.core.labels import shipped

        return str(shipped()["help"].get(self.zh_key, ""))

    def get_short_help_str(self, limit: int = 45) -> str:
        return self._zh() or super().get_short_help_str(limit)

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self._zh():
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(self._zh())
        super().format_help_text(ctx, formatter)


class _Commands(_ChineseHelp, click.Group):
    """The command group that turns the project's errors into exit statuses, in one place:
    ``YidangError`` subclasses carry their ``exit_code`` (1 input, 2 usage)."""

    command_class = _ChineseHelp
    group_class = type  # subgroups are _Commands too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ArchiveInvalid as exc:
            _print_errors(exc.problems)
            _exit(exc.summary, exc.exit_code)
        except YidangError as exc:
            _exit(str(exc), exc.exit_code)
        except click.UsageError as exc:  # click's own words are English: say it in Chinese first
            command = exc.ctx.command_path if exc.ctx else "yidang"
            _exit(_say("usage", command=command, message=exc.format_message()), 2)


def _say(key: str, **values: Any) -> str:
    """A message from the labels file (``messages``), filled in."""
    from generator.core.labels import shipped

    return str(shipped()["messages"][key]).format(**values)


def _exit(message: str, code: int) -> None:
    click.echo(f"{_say('error')}: {message}", err=True)
    sys.exit(code)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="yidang")
def main() -> None:
    """yidang (一生一档): case files of special-care students → site and booklets.

    Every command's --help gives its options and an example. Exit status: 0
    success, 1 problems found in the input, 2 usage error.

    Example: yidang check && yidang build
    """


def run() -> None:
    """The ``yidang`` console script: :func:`main`, then an exit without the teardown.

    A build or a check holds a few million small objects (records, cache entries);
    the interpreter freeing them one by one at exit took 0.55 s of a 3 s rebuild.
    By the time a command returns, its files are written and closed (atomically
    replaced) and its worker pools are shut down, so only what was printed needs
    flushing. Tests call :func:`main`; only the installed command leaves this way.
    """
    _stop_like_ctrl_c()
    try:
        main()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if isinstance(code, str):  # sys.exit("message") prints it and exits 1
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else (0 if code is None else 1)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe must not turn success into a traceback
            stream.flush()
    os._exit(status)


@main.command()
@click.argument("archive", default=DEFAULT_ARCHIVE, type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "github", "json"]),
    default="text",
    help="text: path:line:col lines; github: workflow annotations; json.",
)
@click.option("--strict", is_flag=True, help="Warnings count as errors (exit 1).")
@as_of_option("The day to check against (default today), e.g. 2026-11-30.")
@click.option(
    "--jobs",
    type=click.IntRange(1),
    default=None,
    help="Worker processes (default: number of cores).",
)
@click.option(
    "--cache/--no-cache",
    default=True,
    help="Reuse each student's verdict from the last check when its files did not change "
    "(default; kept in this user's cache, ~/.cache/yidang/check).",
)
def check(
    archive: str, fmt: str, strict: bool, as_of: dt.datetime | None, jobs: int | None, cache: bool
) -> None:
    """Check an archive and report every problem, one line each.

    Example: yidang check archives --format github
    """
    from generator.archive.read import read_archive
    from generator.review import codeowners as co

    root = _archive_dir(archive)
    owners = co.committed(root)
    keep = owners is not None  # the model (summaries): to compare a committed CODEOWNERS with it
    verdicts = _check_cache(root, keep) if cache else None
    result = read_archive(root, as_of=as_of.date() if as_of else None, keep=keep, jobs=jobs, cache=verdicts)
    problems = result.problems + _codeowners_problems(root, owners, result.archive) + _demo_problems(root)
    _print_problems(problems, fmt, root, result.files)
    errors, warnings = counts(problems)
    sys.exit(1 if errors or (strict and warnings) else 0)


def _check_cache(root: Path, keep: bool) -> Any:
    """Each student's verdict from the last check of this archive, by its files' content: a
    check after one change reads one folder. Kept in this user's cache, private (0700), by
    the archive's path; what spans students is checked again every time."""
    from generator.core.cache import Store, StudentCache, digest, user_cache_dir, version

    folder = user_cache_dir() / "check" / digest(str(root.resolve()))[:32]
    folder.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.parent.chmod(0o700)
    return StudentCache(Store(folder), digest(version(), f"check|{keep}"))


def _demo_problems(root: Path) -> list[Problem]:
    """The sample's demo keys (their passphrases are in the README) in an archive that is not
    the sample (school.yml without ``demo: true``): a warning for each file."""
    import yaml

    from generator.protect import access as acc

    try:
        demo = bool(yaml.safe_load((root / "school.yml").read_text(encoding="utf-8")).get("demo"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        demo = False
    if demo:
        return []
    text = _labels()["access"]["demo_key"]
    return [Problem(path, 1, 1, "warning", text) for path in acc.demo_keys(root)]


def _codeowners_problems(root: Path, path: Path | None, archive: Archive | None) -> list[Problem]:
    """A committed CODEOWNERS that no longer matches the archive is a warning."""
    import os

    from generator.review import codeowners as co

    reason = co.stale(root, archive) if path is not None and archive is not None else None
    rel = os.path.relpath(path, root).replace(os.sep, "/") if path is not None else ""
    return [Problem(rel, 1, 1, "warning", f"CODEOWNERS is {reason}")] if reason else []


def _print_problems(problems: list[Problem], fmt: str, root: Path, files: int) -> None:
    errors, warnings = counts(problems)
    if fmt == "json":
        click.echo(to_json(problems, files))
        return
    if fmt == "github":
        prefix = _github_prefix(root)
        for p in problems:
            click.echo(p.github(prefix))
    else:
        for p in problems:
            click.echo(p.text())
    click.echo(_say("checked", files=files, errors=errors, warnings=warnings), err=fmt != "text")


def _github_prefix(root: Path) -> str:
    """Annotations need paths from the repository root (the working directory in CI)."""
    try:
        rel = os.path.relpath(root.resolve(), Path.cwd().resolve())
    except ValueError:
        return ""
    return "" if rel == "." else rel.replace(os.sep, "/") + "/"


@main.command()
@config_option
@click.option(
    "--archive",
    type=click.Path(file_okay=False),
    default=None,
    help="Archive folder (default: the plugin's `archive` setting).",
)
@click.option(
    "--site-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to publish the site (default: mkdocs.yml's site_dir).",
)
@click.option("--no-booklets", is_flag=True, help="Skip the PDF booklets (faster).")
@click.option("--unprotected", is_flag=True, help="Plaintext site, for local checks only: never publish it.")
@click.option(
    "--rotate-keys",
    is_flag=True,
    help="New content keys for everything: keys from before open nothing in the new site.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show MkDocs' progress messages.")
def build(
    config_file: str,
    archive: str | None,
    site_dir: str | None,
    no_booklets: bool,
    unprotected: bool,
    rotate_keys: bool,
    verbose: bool,
) -> None:
    """Check the archive, build the protected site, and publish it in one step.

    The published site is a login page and encrypted files; readers are the
    accounts in archives/access/. The new site replaces the old one only if
    the whole build succeeded.

    Example: yidang build --site-dir /srv/yidang/site
    """
    from generator.build.stages import build_site, quiet_mkdocs_logging

    config = Path(config_file)
    quiet_mkdocs_logging(verbose)
    built = build_site(
        config,
        Path(site_dir) if site_dir else None,
        Path(archive) if archive else None,
        booklets=False if no_booklets else None,
        protect=False if unprotected else None,
        progress=_student_bar,
        rotate_keys=rotate_keys,
    )
    _report(built.report)
    kind = _say("protected_site" if built.protected else "unprotected_site")
    click.echo(_say("built", kind=kind, site=built.site_dir, students=built.students, pages=built.pages))
    if not built.protected:
        click.secho(
            f"{_say('unprotected_warning')}\n"
            "WARNING: this site is NOT protected: every child's file is in plaintext. "
            "Local checks only; never copy or publish it.",
            fg="red",
            bold=True,
            err=True,
        )


@contextlib.contextmanager
def _student_bar(total: int) -> Iterator[Callable[[], None]]:
    """One tick per student read, on stderr (the report and the result go to stdout)."""
    with click.progressbar(length=total, label="students", file=sys.stderr) as bar:
        yield lambda: bar.update(1)


REPORT = ("students", "index", "booklets", "blobs")  # the build's report lines, in this order


def _report(report: dict[str, Any]) -> None:
    """What this build redid and what it reused from the last one."""
    for key in REPORT:
        if key in report:
            click.echo(_say(f"report_{key}", did=report[key][0], kept=report[key][1]))
    if report.get("shell") == "reused":
        click.echo(_say("report_shell"))
    if report.get("rotated"):
        click.echo(
            f"new content keys (a reader lost access or got a new key, or --rotate-keys): "
            f"{report['rotated']} scope(s)"
        )


def _precheck(config: Path, archive: Path | None) -> ReadResult:
    """Read the archive first, so errors come out as `yidang check` lines, not a traceback."""
    from generator.build.stages import read_for_build

    result = read_for_build(config, archive)
    if not result.ok:
        raise ArchiveInvalid(result.problems)
    return result


def _print_errors(problems: list[Problem]) -> None:
    for p in problems:
        if p.severity == "error":
            click.echo(p.text(), err=True)


@main.command()
@config_option
@click.option("--port", default=8000, show_default=True, help="Port on 127.0.0.1.")
def serve(config_file: str, port: int) -> None:
    """Preview the site on http://127.0.0.1:PORT/ while you edit the archive.

    Every page carries a banner: this preview is not protected. It listens on
    127.0.0.1 only, so other machines cannot reach it.

    Example: yidang serve --port 8001
    """
    import shutil
    import tempfile

    from mkdocs.commands.serve import serve as mkdocs_serve

    from generator.build.stages import quiet_mkdocs_logging
    from generator.build.state import private_plain_dir

    _precheck(Path(config_file), None)
    quiet_mkdocs_logging(True)
    click.secho(_say("preview"), fg="red", err=True)
    # MkDocs keeps the preview's plaintext pages in mkdtemp("mkdocs_"). Inside a folder
    # named with this process's id, the next build removes them even after a kill -9.
    private = private_plain_dir()
    tempfile.tempdir = str(private)
    try:
        mkdocs_serve(config_file=config_file, dev_addr=f"127.0.0.1:{port}")
    finally:
        tempfile.tempdir = None
        shutil.rmtree(private, ignore_errors=True)


def _stop_like_ctrl_c() -> None:
    """SIGTERM (a service manager, `kill`) and SIGHUP (the terminal closed) end any
    command as Ctrl-C does, so its cleanup runs. Plaintext lives in temporary folders
    while a command works (MkDocs' serve preview, a protected build's pages before
    they are sealed); a command stopped any other way left them readable in /tmp."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


@main.command()
@click.option("--students", type=click.IntRange(1), required=True, help="Number of students.")
@click.option("--records-per-student", type=click.IntRange(0), required=True, help="Records per student.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.argument("out_dir", type=click.Path(file_okay=False))
def synth(students: int, records_per_student: int, seed: int, out_dir: str) -> None:
    """Write a valid synthetic archive of the given size (for benchmarks and tests).

    Refuses to write into a folder that is not empty, so it never overwrites an archive.

    Example: yidang synth --students 1000 --records-per-student 150 /tmp/big
    """
    from generator.synth import synthesize

    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise UsageError(_say("synth_not_empty", out=out_dir))
    synthesize(out, students, records_per_student, seed)
    click.echo(_say("synth_wrote", students=students, records=records_per_student, out=out_dir))


@main.command()
@archive_option
@click.option(
    "--out",
    "out_dir",
    default="booklets",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to write <student id>.pdf.",
)
@click.option(
    "--student", "students", multiple=True, metavar="ID", help="Only this student (repeat for more)."
)
@click.option("--class", "class_id", metavar="ID", help="Only the students of this class.")
@click.option(
    "--jobs", type=click.IntRange(1), default=None, help="Worker processes (default: number of cores)."
)
@click.option("--force", is_flag=True, help="Render every booklet, even unchanged ones.")
@as_of_option("The day they are made for (default today); an earlier one reaches files now past retention.")
@config_option
def booklets(
    archive: str,
    out_dir: str,
    students: tuple[str, ...],
    class_id: str | None,
    jobs: int | None,
    force: bool,
    as_of: dt.datetime | None,
    config_file: str,
) -> None:
    """Write one printable PDF booklet per student: OUT/<student id>.pdf.

    Booklets whose inputs (records, photos, templates, settings) did not change
    are skipped. Fonts come from the yidang plugin in mkdocs.yml
    (booklet_font, booklet_heading_font) when that file exists.

    A file past the school's retention period is left out; to archive it before
    it is purged, give a day inside the period with --as-of (docs/school-year.md).

    Example: yidang booklets --class G2-01 --out /srv/print
    """
    from generator.booklets.booklet import make_booklets

    root = _archive_dir(archive)
    settings = _booklet_settings(Path(config_file))
    total = len(students) or sum(1 for p in (root / "students").glob("*/") if p.is_dir())
    with click.progressbar(length=total, label="booklets", file=sys.stderr) as bar:
        report = make_booklets(
            root,
            Path(out_dir),
            *settings,
            students=list(students) or None,
            class_id=class_id,
            jobs=jobs,
            force=force,
            as_of=as_of.date() if as_of else None,
            progress=lambda: bar.update(1),
        )
    _print_booklet_report(report, Path(out_dir))


def _booklet_settings(config: Path) -> tuple[dict[str, Any], Path, Any]:
    """(labels, templates dir, fonts) from the yidang plugin in mkdocs.yml, or defaults."""
    from generator.booklets.booklet import Fonts
    from generator.build import settings
    from generator.render import templates as render

    if not config.is_file():
        return render.load_labels(render.TEMPLATES_DIR, "zh"), render.TEMPLATES_DIR, Fonts()
    plugin = settings.plugin_settings(settings.load(config))
    fonts = Fonts(plugin.booklet_font, plugin.booklet_heading_font)
    folder = settings.templates_dir(plugin)
    return render.load_labels(folder, plugin.language), folder, fonts


def _print_booklet_report(report: BookletReport, out: Path) -> None:
    errors = [p for p in report.problems if p.severity == "error"]
    _print_errors(errors)
    for r in report.results:
        if r.status == "failed":
            chars = ", ".join(f"'{ch}' (U+{ord(ch):04X})" for ch in r.missing)
            click.echo(
                f"students/{r.student}: error: no installed font can draw {chars}; "
                "the booklet was not written",
                err=True,
            )
    seconds = sum(r.seconds for r in report.results)
    rate = f", {report.pages / seconds:.1f} pages/s of rendering" if seconds else ""
    click.echo(
        f"{report.count('rendered')} rendered ({report.pages} pages{rate}), "
        f"{report.count('skipped')} skipped (unchanged), {report.count('failed')} failed "
        f"→ {out}"
    )
    if errors or report.count("failed"):
        raise YidangError(_say("booklet_problems", n=len(errors) + report.count("failed")))


@main.group()
def access() -> None:
    """Reader accounts: key pairs and passphrases (no password ever enters the build).

    Example: yidang access add T008
    """


def _archive_with_teacher(archive: str, teacher_id: str) -> tuple[Path, Archive]:
    root, model = _valid_archive(archive)
    if teacher_id not in model.teachers:
        raise UsageError(_say("unknown_teacher", id=teacher_id))
    return root, model


def _show_passphrase(teacher: str, passphrase: str) -> None:
    click.echo(f"{_say('passphrase_of', teacher=teacher)}\n\n    {passphrase}\n")
    click.echo(
        "Give it to the teacher in person or on paper. It cannot be recovered: "
        f"if it is lost, run `yidang access passwd {teacher} --reset`.",
        err=True,
    )


@access.command("add")
@click.argument("teacher_id")
@archive_option
def access_add(teacher_id: str, archive: str) -> None:
    """Create TEACHER_ID's key pair and passphrase; the passphrase is printed once.

    Writes archives/access/TEACHER_ID.json: the public key and the private key
    encrypted under the passphrase. Commit it; the passphrase is never stored.

    Example: yidang access add T008
    """
    from generator.protect import access as acc

    root, _ = _archive_with_teacher(archive, teacher_id)
    account, passphrase = acc.create(teacher_id)
    path = acc.save(root, account)
    click.echo(_say("wrote", path=path), err=True)
    _show_passphrase(teacher_id, passphrase)


@access.command("passwd")
@click.argument("teacher_id")
@click.option(
    "--reset",
    is_flag=True,
    help="Forgotten or exposed passphrase: a new key pair; the next build rotates the content keys "
    "of everything this teacher could read.",
)
@archive_option
def access_passwd(teacher_id: str, reset: bool, archive: str) -> None:
    """Give TEACHER_ID a new passphrase (asks for the current one unless --reset).

    Example: yidang access passwd T008
    """
    from generator.protect import access as acc

    root, _ = _archive_with_teacher(archive, teacher_id)
    current = acc.load(root, teacher_id)
    if reset:
        account, passphrase = acc.create(teacher_id)
    else:
        old = click.prompt("current passphrase", hide_input=True, err=True)
        account, passphrase = acc.relock(current, old)
    acc.save(root, account, replace=True)
    _show_passphrase(teacher_id, passphrase)
    if reset:
        click.echo(
            f"the next build gives everything {teacher_id} could read new content keys: "
            "keys taken with the old passphrase open nothing in it",
            err=True,
        )


@access.command("remove")
@click.argument("teacher_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@archive_option
def access_remove(teacher_id: str, yes: bool, archive: str) -> None:
    """Delete TEACHER_ID's account: the next build no longer lets them in.

    Copies of sites built before stay readable to them; see docs/security.md.

    Example: yidang access remove T008 --yes
    """
    from generator.protect import access as acc

    path = acc.account_path(_archive_dir(archive), teacher_id)
    if not path.exists():
        raise UsageError(_say("no_account", id=teacher_id))
    if not yes:
        click.confirm(f"remove {teacher_id}'s account ({path})?", abort=True, err=True)
    path.unlink()
    click.echo(
        f"removed {path}; the next build takes it out and gives everything {teacher_id} "
        "could read new content keys"
    )


@access.command("intake")
@click.option("--rotate", is_flag=True, help="Replace the intake key; asks for the current passphrase.")
@click.option(
    "--lost", is_flag=True, help="With --rotate: the current passphrase is lost (old files stay shut)."
)
@click.option(
    "--card",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Make no key: write the current key's card (public key, school name) for other schools.",
)
@passphrase_file_option
@archive_option
def access_intake(
    rotate: bool, lost: bool, card: Path | None, passphrase_file: Path | None, archive: str
) -> None:
    """Make the school's intake key: teachers' record forms seal to its public part.

    Writes archives/access/intake.json (the public key, and the private key under a
    new passphrase, printed once). The office needs that passphrase for yidang
    intake. --rotate makes a new one and asks for the current passphrase: the old
    key retires (access/intake-retired/) under the new passphrase, so files sealed
    to it before the site was rebuilt are still taken in for 60 days. --card FILE
    writes the key card other schools seal a transferring student's file to
    (yidang transfer --to).

    Example: yidang access intake --card 本校接收卡.json
    """
    from generator.protect import access as acc

    root = _archive_dir(archive)
    if card is not None:
        _write_card(root, card)
        return
    if lost and not rotate:
        raise UsageError(_labels()["access"]["errors"]["lost_alone"])
    if not rotate:
        key, passphrase = acc.create_intake(_today(root))
        path = acc.save_intake(root, key)
        click.echo(_say("intake_key_made", path=path, fingerprint=key.fingerprint), err=True)
    else:
        old = None if lost else _intake_passphrase(passphrase_file, "old_passphrase")
        key, passphrase, kept = acc.rotate_intake(root, old, _today(root))
        click.echo(
            _labels()["access"]["rotated"].format(
                fingerprint=key.fingerprint, kept=kept, days=acc.INTAKE_GRACE_DAYS
            ),
            err=True,
        )
    click.echo(f"{_say('passphrase_of', teacher='intake')}\n\n    {passphrase}\n")
    click.echo(_labels()["access"]["intake_lost"], err=True)


@access.command("inbox")
@click.option("--rotate", is_flag=True, help="A new inbox secret: every teacher's upload credential changes.")
@click.option(
    "--htpasswd",
    "htpasswd_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write nginx's list of who may upload (every account now) to this file.",
)
@archive_option
def access_inbox(rotate: bool, htpasswd_file: Path | None, archive: str) -> None:
    """Upload credentials for the inbox: one per teacher, checked by nginx (docs/deploy.md).

    Without options, makes the school's inbox secret (access/inbox.json); the
    build then seals each teacher's credential into their keyring. --htpasswd
    FILE writes nginx's auth_basic_user_file for the accounts that exist now:
    write it again after adding, resetting or removing an account.

    Example: yidang access inbox --htpasswd /srv/yidang/inbox.htpasswd
    """
    from generator.core.files import write_atomic
    from generator.protect import inbox

    root = _archive_dir(archive)
    words = _labels()["access"]
    if htpasswd_file is None or rotate:
        click.echo(words["inbox_made"].format(path=inbox.create(root, rotate=rotate)), err=True)
    if htpasswd_file is not None:
        text = inbox.htpasswd(root)
        write_atomic(htpasswd_file, text, replace=True, mode=0o640)
        click.echo(words["htpasswd_written"].format(path=htpasswd_file, n=text.count("\n")), err=True)


def _write_card(root: Path, card: Path) -> None:
    from generator.core.files import write_atomic
    from generator.protect import access as acc
    from generator.review.transfer import card_json

    key = acc.load_intake(root)
    if key is None:
        raise UsageError(labels_error("intake", "no_key"))
    school = _school_name(root)
    try:
        write_atomic(card, card_json(school, key))
    except FileExistsError:
        raise UsageError(_say("card_exists", card=card)) from None
    click.echo(
        f"wrote {card} ({school}, fingerprint {key.fingerprint}): give it to the sending school", err=True
    )


def _school_name(root: Path) -> str:
    import yaml

    return str(yaml.safe_load((root / "school.yml").read_text(encoding="utf-8"))["name"])


@access.command("list")
@archive_option
@as_of_option("The day rights are computed for (default today).")
def access_list(archive: str, as_of: dt.datetime | None) -> None:
    """Who has an account, and what each may read (derived from the archive).

    Example: yidang access list
    """
    from generator.protect import access as acc

    root, a = _valid_archive(archive, as_of.date() if as_of else None)
    for tid in acc.accounts(root):
        name = a.teachers[tid].name if tid in a.teachers else "(not in teachers.yml: no access)"
        if tid not in a.teachers:
            click.echo(f"{tid}\t{name}")
            continue
        r = acc.rights(a, tid)
        what = (
            _say("everything")
            if r.everything
            else (
                f"{len(r.students)} students ({', '.join(sorted(r.students)) or '-'}); "
                f"classes: {', '.join(sorted(r.classes)) or '-'}; "
                f"teacher pages: {', '.join(sorted(r.teachers))}"
            )
        )
        click.echo(f"{tid}\t{name}\t{what}")


@main.command("audit")
@click.argument("site_dir", type=click.Path(file_okay=False))
@click.option(
    "--archive",
    default=DEFAULT_ARCHIVE,
    show_default=True,
    type=click.Path(file_okay=False),
    help="The archive the site was built from.",
)
def audit_command(site_dir: str, archive: str) -> None:
    """Scan a built site for anything readable about a student; exit 1 on a hit.

    Looks in every file (and file name) for student names and ids, guardian
    names and phones, and any 12-character run of record text. Every
    protected build runs it and refuses to publish on a hit.

    Example: yidang audit site
    """
    from generator.protect.audit import audit

    site = Path(site_dir)
    if not site.is_dir():
        raise UsageError(_say("site_not_found", path=site_dir))
    hits = audit(site, _archive_dir(archive))
    for hit in hits:
        click.echo(hit.text())
    files = sum(1 for p in site.rglob("*") if p.is_file())
    click.echo(_say("audited", files=files, hits=len(hits)))
    sys.exit(1 if hits else 0)


class _NewKind(click.ParamType):
    """A kind of record of the registry (as it stands when the command runs: a school's or a
    test's own kind is offered too), or plan."""

    name = "kind"

    def kinds(self) -> list[str]:
        from generator.archive.schema import RECORD_KINDS

        return [*RECORD_KINDS, "plan"]

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "|".join(self.kinds())

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value in self.kinds():
            return str(value)
        self.fail(f"{value!r} is not one of {', '.join(self.kinds())}", param, ctx)


@main.command("new")
@click.argument("kind", type=_NewKind())
@click.argument("student_id")
@click.option(
    "--date",
    "date",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Date of the record (default today).",
)
@click.option("--by", default=None, metavar="TEACHER", help="Who writes it (default: the current mentor).")
@archive_option
def new_command(kind: str, student_id: str, date: dt.datetime | None, by: str | None, archive: str) -> None:
    """Start a record of any kind (talk, home_visit, evaluation…) or a plan from a template.

    Fills in the date, the current mentor, the file name and the term; the
    narrative prompts (请填写…) are for you to replace. Never overwrites a file.

    Example: yidang new talk S2025003 --date 2026-12-01
    """
    from generator.render import templates as render
    from generator.review.new import new_file

    day = date.date() if date else _today(_archive_dir(archive))
    root, model = _valid_archive(archive, day)
    path = new_file(model, root, render.TEMPLATES_DIR, kind, student_id, day, by)
    click.echo(f"{_say('wrote', path=path)}\n{_say('new_written')}")


@main.command()
@click.option(
    "--flavor",
    type=click.Choice(["github", "gitea"]),
    default="github",
    show_default=True,
    help="github: gitignore-style patterns; gitea: Go regular expressions.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write it (default: CODEOWNERS at the repository's root).",
)
@archive_option
def codeowners(flavor: str, out: str | None, archive: str) -> None:
    """Write CODEOWNERS: each student's folder to their mentor's and head teacher's git users.

    The school-level files go to the leadership group. `yidang check` warns
    when the committed file is out of date.

    Example: yidang codeowners --flavor gitea
    """
    from generator.review import codeowners as co

    root, model = _valid_archive(archive)
    prefix = co.repo_prefix(root)
    target = Path(out) if out else (root / ("../" * prefix.count("/")) / "CODEOWNERS").resolve()
    target.write_text(co.render(model, flavor, prefix), encoding="utf-8")
    missing = sorted(t.id for t in model.teachers.values() if not t.git_user)
    if missing:
        click.echo(_say("no_git_user", ids=", ".join(missing)), err=True)
    click.echo(_say("wrote", path=target))


@main.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
def init_command(directory: str) -> None:
    """Create a new school archive repository in DIRECTORY (which must be new or empty).

    An example archive to replace, mkdocs.yml, .gitignore, pull-request
    templates, and CI workflows for GitHub Actions and Gitea Actions.

    Example: yidang init yunxi-archive
    """
    from generator.render import templates as render
    from generator.review.init import init

    written, passphrase = init(Path(directory), render.TEMPLATES_DIR)
    click.echo(f"{_say('passphrase_of', teacher='intake')}\n\n    {passphrase}\n")
    click.echo(_labels()["access"]["intake_lost"], err=True)
    click.echo(
        f"created {directory} ({len(written)} files). Next:\n"
        f"  cd {directory}\n"
        "  edit archives/school.yml, teachers.yml, classes.yml; replace students/S0001\n"
        "  yidang access add T001          # a login for the leadership group\n"
        "  yidang check && yidang build\n"
        "  yidang codeowners --flavor gitea # or github; then commit and push"
    )


@main.command("intake")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@archive_option
@click.option(
    "--base", default="main", show_default=True, help="The branch each record's branch starts from."
)
@click.option("--dry-run", is_flag=True, help="Open and check every file; make no branch, move no file.")
@click.option(
    "--push", "remote", default=None, metavar="REMOTE", help="Push each branch there; print its PR link."
)
@click.option("--open-pr", is_flag=True, help="Open each pull request with gh (GitHub) or tea (Gitea).")
@passphrase_file_option
@click.option("--class", "class_id", metavar="ID", help="For a student transferred in: their class here.")
@click.option("--mentor", metavar="TEACHER", help="For a student transferred in: their mentor here.")
@as_of_option("For a student transferred in: the day they join (default today).")
def intake_command(
    sources: tuple[Path, ...],
    archive: str,
    base: str,
    dry_run: bool,
    remote: str | None,
    open_pr: bool,
    passphrase_file: Path | None,
    class_id: str | None,
    mentor: str | None,
    as_of: dt.datetime | None,
) -> None:
    """Take in records teachers sealed in the site: one review branch per record.

    Each file (or every *.yidang file in a folder) is opened with the intake key,
    its signature checked against the teacher's account, every field checked,
    the teacher's right to write for the student checked, and the record checked
    as `yidang check --strict` does; then it is committed, with the teacher as
    author, on a new branch from --base. Taken-in files move to processed/,
    refused ones to rejected/ with a .reason.txt; one bad file never stops the
    others. Exit 1 when any file was refused. For a CI job, give the passphrase
    in $YIDANG_INTAKE_PASSPHRASE or --passphrase-file.

    A student's file from another school (yidang transfer there) becomes a new
    student folder on a branch transfer/in-ID: give the class and mentor they
    get here with --class and --mentor.

    Example: yidang intake ~/收件箱 --push origin
    """
    from generator.review.intake import Placement, intake

    root = _archive_dir(archive)
    passphrase = _intake_passphrase(passphrase_file)
    today = _today(root)
    day = as_of.date() if as_of else today
    placement = Placement(class_id, mentor, day) if class_id and mentor else None
    outcomes = intake(
        root, list(sources), passphrase, base=base, dry_run=dry_run, placement=placement, today=today
    )
    words = _labels()["intake"]
    unsent = 0
    for o in outcomes:
        _say_outcome(o, words)
        if remote and o.status == "accepted" and o.branch:
            unsent += not _push_branch(root, remote, o.branch, base, open_pr, words)
    refused = sum(o.status == "rejected" for o in outcomes)
    click.echo(
        words["summary"].format(taken=len(outcomes) - refused, refused=refused)
        + (words["dry_run"] if dry_run else "")
    )
    sys.exit(1 if refused or unsent else 0)


def _say_outcome(o: Any, words: dict[str, Any]) -> None:
    """One line per file; the file's name is the sender's, so it is shown escaped."""
    from generator.core.text import terminal

    status = {"accepted": words["accepted"], "rejected": words["rejected"]}.get(
        o.status, words["would_accept"]
    )
    name = terminal(o.file.name, 80)
    if o.branch is None:
        click.echo(f"{status}: {name}: {o.reason}")
        return
    if o.submission is not None:
        s = o.submission
        kind = _labels()["types"].get(s.type, s.type)
        what = words["what_record"].format(type=kind, student=s.whom, date=s.date, teacher=s.teacher)
    else:
        a = o.arrival
        what = words["what_transfer"].format(
            old_id=a.old_id, school=terminal(a.school, 60), id=a.id, records=a.records
        )
    click.echo(f"{status}: {name}: {what} → {o.branch}")


def _push_branch(
    root: Path, remote: str, branch: str, base: str, open_pr: bool, words: dict[str, Any]
) -> bool:
    """Push a branch; a failed push leaves it safe here, and says how to push later."""
    from generator.core.git import GitError
    from generator.review.intake import push

    try:
        url = push(root, remote, branch, base)
    except GitError as exc:
        click.echo(labels_error("intake", "push_failed", branch=branch, remote=remote, why=exc), err=True)
        return False
    click.echo(words["pushed"].format(branch=branch))
    click.echo(words["pull_request"].format(url=url))
    if open_pr:
        _open_pull_request(root, branch, base)
    return True


def labels_error(section: str, key: str, **values: object) -> str:
    from generator.core import labels

    return labels.error(section, key, **values)


@main.command("push")
@click.argument("remote", default="origin")
@archive_option
@click.option("--base", default="main", show_default=True, help="The branch pull requests go into.")
@click.option("--open-pr", is_flag=True, help="Open each pull request with gh (GitHub) or tea (Gitea).")
def push_command(remote: str, archive: str, base: str, open_pr: bool) -> None:
    """Push every review branch not pushed yet (intake/…, transfer/…, rollover/…): after a push
    that failed (no network, the forge down), the records wait safely on local branches.

    Branches already merged into --base are left alone. Prints each pull request's link.

    Example: yidang push origin --open-pr
    """
    from generator.review.intake import unpushed

    root = _archive_dir(archive)
    words = _labels()["intake"]
    branches = unpushed(root, remote, base)
    failed = sum(not _push_branch(root, remote, branch, base, open_pr, words) for branch in branches)
    if not branches:
        click.echo(words["nothing_to_push"])
    sys.exit(1 if failed else 0)


@main.command("transfer")
@click.argument("student_id", metavar="STUDENT")
@click.option(
    "--to",
    "card",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The receiving school's intake key card (yidang access intake --card, at that school).",
)
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The sealed file to write."
)
@click.option(
    "--fingerprint",
    metavar="FP",
    help="The card's fingerprint as the receiving school read it out by phone (else asked for).",
)
@as_of_option("The day the student leaves (default today).")
@archive_option
@click.option("--base", default="main", show_default=True, help="The branch the transfer starts from.")
@click.option(
    "--config", "config_file", default="mkdocs.yml", show_default=True, help="For the booklet's fonts."
)
def transfer_command(
    student_id: str,
    card: Path,
    out: Path,
    fingerprint: str | None,
    as_of: dt.datetime | None,
    archive: str,
    base: str,
    config_file: str,
) -> None:
    """Seal a student's whole file for the school they move to; mark them transferred.

    The bundle holds the registration form, plan, records and photos, and the
    transfer copy of the booklet (PDF/A-3, the same files attached), sealed to
    the receiving school's intake key: only that school's intake passphrase opens
    it (yidang intake there). Here, on a new branch transfer/STUDENT, the student
    is marked transferred (status, date, destination) and their mentoring ends;
    the file stays in this archive. Nothing is sealed until the card's fingerprint
    is confirmed: phone the receiving school and have them read theirs out (a card
    sent by chat or e-mail can be swapped on the way).

    Example: yidang transfer S2025003 --to 二中接收卡.json --fingerprint "1a2b 3c4d 5e6f 7a8b" --out S3.yidang
    """
    from generator.review.transfer import BookletSettings, read_card, send, spoken

    root = _archive_dir(archive)
    if fingerprint is None:
        found = read_card(card)
        prompt = _labels()["transfer"]["errors"]["fingerprint_prompt"]
        fingerprint = str(
            click.prompt(prompt.format(school=found.school, card=spoken(found.fingerprint)), err=True)
        )
    labels, templates_dir, fonts = _booklet_settings(Path(config_file))
    sent = send(
        root,
        student_id,
        card,
        out,
        BookletSettings(labels, templates_dir, fonts),
        fingerprint=fingerprint,
        on=as_of.date() if as_of else _today(root),
        base=base,
    )
    click.echo(
        f"{sent.out}: {sent.files} file(s) and the booklet, sealed to {sent.school} ({sent.fingerprint})"
    )
    click.echo(_say("transfer_branch", branch=sent.branch, student=sent.student))


@main.command("rollover")
@click.option(
    "--to", "to", required=True, metavar="YEAR", help="The new school year: 2027, 2027—2028 or a term id."
)
@archive_option
@click.option("--base", default="main", show_default=True, help="The branch the rollover starts from.")
@click.option("--dry-run", is_flag=True, help="Print what would change; make no branch.")
def rollover_command(to: str, archive: str, base: str, dry_run: bool) -> None:
    """Move the school year on, as a branch to review: classes up, graduates closed.

    Follows the `rollover:` rules in school.yml: each class moves up a grade
    under its new id (students, head teacher and history with it); the classes
    of a grade not listed graduate, their students' cases closed on the last
    day of the school year and the class kept under an id with the year; the
    missing terms are added. Everything is committed on a new branch
    rollover/YEAR from --base; review it (yidang review) and merge it.

    Example: yidang rollover --to 2027 --dry-run
    """
    from generator.review.rollover import rollover, summary_line

    plan = rollover(_archive_dir(archive), to, base=base, dry_run=dry_run)
    for line in summary_line(plan):
        click.echo(line)
    dry = _say("dry_run_prefix") if dry_run else ""
    click.echo(_say("rollover_done", dry=dry, branch=plan.branch, n=len(plan.graduates)))


def _open_pull_request(archive: Path, branch: str, base: str) -> None:
    """The pull request, opened with gh or tea, its body the review summary."""
    import shutil
    import subprocess

    from generator.core.git import child_env
    from generator.review.branch import markdown, review

    body = markdown(review(archive, base, branch))
    title = branch.removeprefix("intake/")
    if shutil.which("gh"):
        cmd = ["gh", "pr", "create", "--head", branch, "--base", base, "--title", title, "--body", body]
    elif shutil.which("tea"):
        cmd = [
            "tea",
            "pr",
            "create",
            "--head",
            branch,
            "--base",
            base,
            "--title",
            title,
            "--description",
            body,
        ]
    else:
        click.echo(_labels()["intake"]["no_pr_tool"], err=True)
        return
    subprocess.run(cmd, cwd=archive, check=False, env=child_env())  # no passphrase for gh or tea


@main.command("review")
@click.option("--base", required=True, help="The branch or commit the change starts from, e.g. main.")
@click.option("--head", default="HEAD", show_default=True, help="The changed branch or commit.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "text", "json"]),
    default="markdown",
    show_default=True,
    help="markdown is ready to post as a pull-request comment.",
)
@as_of_option("The day 'current' mentors and categories refer to (default today).")
@archive_option
def review_command(base: str, head: str, fmt: str, as_of: dt.datetime | None, archive: str) -> None:
    """Summarise a change student by student: records, profile changes, reviewers, problems.

    Example: yidang review --base main --format text
    """
    import json

    from generator.review.branch import markdown, review, text

    rv = review(_archive_dir(archive), base, head, as_of.date() if as_of else None)
    if fmt == "json":
        click.echo(json.dumps(rv.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(markdown(rv) if fmt == "markdown" else text(rv), nl=False)


@main.group()
def export() -> None:
    """Spreadsheets: the ledger for the education bureau, teachers' yearly summaries.

    Example: yidang export ledger --format xlsx --out 台账.xlsx
    """


def _export_format() -> Any:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["xlsx", "csv"]),
        default="xlsx",
        show_default=True,
        help="xlsx (Excel, WPS) or csv (UTF-8 with BOM).",
    )


@export.command("ledger")
@_export_format()
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The file to write.")
@click.option("--term", "term_id", default=None, help="Term id (default: the current term).")
@as_of_option("The day the four-ones rate is computed for (default today).")
@archive_option
def export_ledger(fmt: str, out: str, term_id: str | None, as_of: dt.datetime | None, archive: str) -> None:
    """The ledger (台账): one row per student, with the term's four-ones counts and rate.

    Example: yidang export ledger --format xlsx --out 台账.xlsx --term 2026-fall
    """
    from generator.ledger.export import ledger, write

    root = _archive_dir(archive)
    headers, rows, term = ledger(root, term_id, as_of.date() if as_of else _today(root))
    write(Path(out), fmt, headers, rows, _say("ledger_sheet", term=term))
    click.echo(_say("ledger_wrote", out=out, n=len(rows), term=term))


@export.command("teachers")
@click.option("--year", type=int, required=True, help="Calendar year, e.g. 2026.")
@_export_format()
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The file to write.")
@as_of_option("Count only up to this day (default today).")
@archive_option
def export_teachers(year: int, fmt: str, out: str, as_of: dt.datetime | None, archive: str) -> None:
    """Teachers' yearly summary: mentees, talks, home visits, evaluations, four-ones rate.

    Example: yidang export teachers --year 2026 --format csv --out teachers-2026.csv
    """
    from generator.ledger.export import teachers, write

    root = _archive_dir(archive)
    headers, rows = teachers(root, year, as_of.date() if as_of else _today(root))
    write(Path(out), fmt, headers, rows, _say("teachers_sheet", year=year))
    click.echo(_say("teachers_wrote", out=out, n=len(rows), year=year))


@main.group("import")
def import_group() -> None:
    """Bring a school's existing records into the archive.

    Example: yidang import ledger 台账.xlsx --mapping mapping.yml --dry-run
    """


@import_group.command("ledger")
@click.argument("xlsx", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--mapping",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="YAML: columns (profile field → column header) and defaults (since).",
)
@click.option("--dry-run", is_flag=True, help="Say what would happen; write nothing.")
@click.option("--update", is_flag=True, help="Replace the profile of students already in the archive.")
@archive_option
def import_ledger_command(xlsx: str, mapping: str, dry_run: bool, update: bool, archive: str) -> None:
    """Create student folders and profiles from an Excel ledger (台账).

    Every row that cannot be imported is reported with its row number and
    why; existing students are left alone unless --update.

    Example: yidang import ledger 台账.xlsx --mapping mapping.yml --dry-run
    """
    from generator.ledger.importer import import_ledger

    root, model = _valid_archive(archive)
    rows = import_ledger(Path(xlsx), Path(mapping), root, model, dry_run, update)
    for r in rows:
        if r.action in ("failed", "skipped"):
            click.echo(f"{xlsx}: row {r.row} ({r.student or '?'}): {r.action}: {r.reason}")
    tally = {a: sum(r.action == a for r in rows) for a in ("created", "updated", "skipped", "failed")}
    prefix = "dry run — would have: " if dry_run else ""
    click.echo(prefix + ", ".join(f"{n} {a}" for a, n in tally.items()))
    sys.exit(1 if tally["failed"] else 0)


def _key_commands(group: click.Group, path: str = "") -> None:
    """Give every command its key in the labels' ``help`` catalogue: its path (access add)."""
    for name, command in group.commands.items():
        key = f"{path} {name}".strip()
        if isinstance(command, _ChineseHelp):
            command.zh_key = key
        if isinstance(command, click.Group):
            _key_commands(command, key)


_key_commands(main)
