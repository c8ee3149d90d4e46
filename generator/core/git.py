"""The one way yidang runs git: provenance, review, CODEOWNERS, init and intake use it.

``run`` raises :class:`GitError` (a clean message naming the command) when git
fails or is missing; ``maybe`` returns ``None`` instead, for callers to whom
"not a repository" is an answer, not an error (provenance outside git).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

from generator.core.problems import UsageError, YidangError


class GitError(YidangError):
    """A git command failed (or git is not installed)."""


def run(repo: Path, *args: str, env: Mapping[str, str] | None = None, data: bytes | None = None) -> str:
    """``git ARGS`` in ``repo``; its standard output as text."""
    return run_bytes(repo, *args, env=env, data=data).decode("utf-8", "replace")


def run_bytes(
    repo: Path, *args: str, env: Mapping[str, str] | None = None, data: bytes | None = None
) -> bytes:
    """``git ARGS`` in ``repo``; its standard output as bytes (``git archive``, ``git show`` of a photo)."""
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, env=env, input=data)
    except FileNotFoundError:
        raise GitError("git is not installed (apt-get install git)") from None
    except NotADirectoryError:
        raise GitError(f"not a folder: {repo}") from None
    except subprocess.CalledProcessError as exc:
        why = exc.stderr.decode("utf-8", "replace").strip()
        raise GitError(f"git {' '.join(args)}: {why}") from None
    return done.stdout


def maybe(repo: Path, *args: str) -> str | None:
    """``git ARGS`` in ``repo``, or ``None`` if it fails (outside a repository, no git)."""
    try:
        return run(repo, *args)
    except GitError:
        return None


def toplevel(path: Path) -> Path | None:
    """The top of the repository ``path`` is in, or ``None`` outside git."""
    top = maybe(path, "rev-parse", "--show-toplevel")
    return Path(top.strip()) if top else None


@contextlib.contextmanager
def worktree(repo: Path, ref: str, branch: str | None = None) -> Iterator[Path]:
    """A temporary work tree of ``ref`` (on a new ``branch`` when given), removed afterwards:
    intake and rollover write their branches there, never touching the office's own
    checkout or its uncommitted files. A ref git does not know is a usage error."""
    folder = Path(tempfile.mkdtemp(prefix="yidang-worktree-"))
    tree = folder / "tree"
    try:
        args = ["-b", branch] if branch else ["--detach"]
        run(repo, "worktree", "add", "--quiet", *args, str(tree), ref)
    except GitError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise UsageError(str(exc)) from None
    try:
        yield tree
    finally:
        maybe(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def new_branch(repo: Path, base: str, branch: str) -> Iterator[Path]:
    """A temporary work tree on a new ``branch`` from ``base`` (see ``worktree``). A branch
    with no commit of its own when the block ends — the change was refused, failed, or was
    a dry run — is deleted again: nothing half-made is left for the office to find."""
    start = maybe(repo, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    try:
        with worktree(repo, base, branch) as tree:
            yield tree
    finally:
        head = maybe(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        if start is not None and head is not None and head.strip() == start.strip():
            maybe(repo, "branch", "-D", branch)


def commit(
    tree: Path,
    message: str,
    committer: tuple[str, str],
    *,
    add: tuple[str, ...] = (".",),
    author: str | None = None,
) -> None:
    """Add ``add`` (everything, by default) and commit it as the office (``committer``: the
    name and email used when git has no identity of its own), or with ``author``."""
    run(tree, "add", "--all", *add)
    authored = [f"--author={author}"] if author else []
    run(tree, "commit", "--quiet", *authored, "-m", message, env=committer_env(tree, *committer))


def committer_env(tree: Path, name: str, email: str) -> dict[str, str]:
    """The environment for a commit the office makes: its own git identity, or ``name`` and
    ``email`` when git has none (as in a fresh CI job or a new office PC). An ``--author``
    given to ``git commit`` still wins over the author set here."""
    env = dict(os.environ)
    if not (maybe(tree, "config", "user.name") or "").strip():
        env.setdefault("GIT_COMMITTER_NAME", name)
        env.setdefault("GIT_AUTHOR_NAME", name)
    if not (maybe(tree, "config", "user.email") or "").strip():
        env.setdefault("GIT_COMMITTER_EMAIL", email)
        env.setdefault("GIT_AUTHOR_EMAIL", email)
    return env
