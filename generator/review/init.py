"""``yidang init``: a new school archive repository, ready for pull-request review.

Writes the archive skeleton (a fictional example school, teachers, class and
student, each file marked 示例/请替换), ``mkdocs.yml``, a ``.gitignore`` that
keeps built sites, caches and booklets out of git, pull-request templates and
CI workflows for GitHub Actions and Gitea Actions. Refuses a folder that is
not empty, so it never overwrites anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2

from generator.core import git, labels
from generator.core.problems import UsageError
from generator.protect import access

# (template, destination) — the archive lives in archives/, beside mkdocs.yml.
FILES = [
    ("school.yml", "archives/school.yml"),
    ("teachers.yml", "archives/teachers.yml"),
    ("classes.yml", "archives/classes.yml"),
    ("profile.yml", "archives/students/S0001/profile.yml"),
    ("plan.md", "archives/students/S0001/plan.md"),
    ("record.md", "archives/students/S0001/records/2026-09-08-talk.md"),
    ("mkdocs.yml", "mkdocs.yml"),
    ("gitignore", ".gitignore"),
    ("pull_request_template.md", ".github/pull_request_template.md"),
    ("pull_request_template.md", ".gitea/pull_request_template.md"),
]
WORKFLOWS = {  # GitHub shows check lines as annotations; Gitea's runner has upload-artifact v3
    ".github/workflows/yidang.yml": {"check_format": "github", "upload_version": "v4"},
    ".gitea/workflows/yidang.yml": {"check_format": "text", "upload_version": "v3"},
}


def init(target: Path, templates_dir: Path) -> tuple[list[Path], str]:
    """Create the repository at ``target``; returns the files written and the passphrase of
    the school's own new intake key (printed once: a school that began from a copy of the
    sample would keep the demo key, whose passphrase the README prints)."""
    if target.exists() and any(target.iterdir()):
        raise UsageError(labels.error("commands", "not_empty", path=target))
    source = templates_dir / "init"
    written = []
    for name, dest in FILES:
        path = target / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, path)
        written.append(path)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(source), keep_trailing_newline=True, autoescape=False
    )  # YAML, not HTML
    for dest, values in WORKFLOWS.items():
        path = target / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template("workflow.yml.j2").render(**values), encoding="utf-8")
        written.append(path)
    (target / "site_docs").mkdir()
    (target / "site_docs" / ".gitkeep").touch()
    (target / "archives" / "access").mkdir()
    key, passphrase = access.create_intake()
    written.append(access.save_intake(target / "archives", key))
    if shutil.which("git"):
        git.maybe(target, "init", "-q", "-b", "main")  # the files are written: a repository is a bonus
    return written, passphrase
