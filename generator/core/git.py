"""The one way yidang runs git: provenance, review, CODEOWNERS, init and intake use it.

``run`` raises :class:`GitError` (a clean message naming the command) when git
fails or is missing; ``maybe`` returns ``None`` instead, for callers to whom
"not a repository" is an answer, not an error (provenance outside git).

Every git child gets an environment without yidang's passphrases (``child_env``):
a repository's hooks, or a credential helper, never see them.

Commands that change the archive for review (intake, rollover, transfer) work in
a temporary work tree. It is a plaintext copy of the archive, so it lives inside
the repository's own git folder (``.git/yidang-work/``), which holds the same
plaintext in its objects anyway, never in ``/tmp``; and a run that was killed
leaves nothing behind for long: the next command that makes a work tree, and
every build, removes the work trees of runs whose process is gone (each run
holds a lock on its folder while it lives) and the branches they made that
carry no commit of their own.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from generator.core.files import process_alive
from generator.core.problems import UsageError, YidangError

WORK_DIR = "yidang-work"  # in the repository's git folder: one folder per live run
LOCK, BRANCH = "lock", "branch"  # a run's lock file; the branch it made and where it started
ORPHAN_AGE = 600  # seconds: a folder with no lock file yet is a run starting, or one killed at once


class GitError(YidangError):
    """A git command failed (or git is not installed)."""


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) without yidang's passphrases, for any child process."""
    out = dict(os.environ if env is None else env)
    for name in [n for n in out if n.startswith("YIDANG_") and "PASSPHRASE" in n]:
        del out[name]
    return out


def run(repo: Path, *args: str, env: Mapping[str, str] | None = None, data: bytes | None = None) -> str:
    """``git ARGS`` in ``repo``; its standard output as text."""
    return run_bytes(repo, *args, env=env, data=data).decode("utf-8", "replace")


def run_bytes(
    repo: Path, *args: str, env: Mapping[str, str] | None = None, data: bytes | None = None
) -> bytes:
    """``git ARGS`` in ``repo``; its standard output as bytes (``git archive``, ``git show`` of a photo).

    git runs in a process group of its own: when yidang is stopped (Ctrl-C, SIGTERM), the
    whole group is killed and waited for before the cleanup runs — ``git worktree add``
    checks out in a child of its own, which otherwise went on writing plaintext into a
    folder the cleanup had just removed."""
    try:
        proc = subprocess.Popen(
            ["git", *args],
            cwd=repo,
            stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(env),
            process_group=0,
            preexec_fn=_die_with_parent,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (apt-get install git)") from None
    except NotADirectoryError:
        raise GitError(f"not a folder: {repo}") from None
    try:
        out, err = proc.communicate(data)
    except BaseException:
        _stop_group(proc)
        raise
    if proc.returncode != 0:
        why = err.decode("utf-8", "replace").strip()
        raise GitError(f"git {' '.join(args)}: {why}")
    return out


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill git and every process it started, and wait until they are gone."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _die_with_parent() -> None:
    """In a git child, before it runs: a SIGKILL for it when yidang dies. A killed intake's
    ``git worktree add`` went on writing the archive's plaintext into a folder the next
    run had already cleared."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


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


def branch_exists(repo: Path, branch: str) -> bool:
    return bool(maybe(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"))


def valid_branch(repo: Path, name: str) -> bool:
    """Whether git accepts ``name`` as a branch name (``git check-ref-format --branch``)."""
    return not name.startswith("-") and maybe(repo, "check-ref-format", "--branch", name) is not None


# --- temporary work trees ------------------------------------------------------------


def _work_root(repo: Path) -> Path:
    common = Path(run(repo, "rev-parse", "--git-common-dir").strip())
    return (common if common.is_absolute() else repo / common) / WORK_DIR


STOPS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def scratch(repo: Path) -> Iterator[Path]:
    """A private folder of this run's inside the repository's git folder (mode 0700), locked
    while the run lives and removed when it ends, with any work tree made in it. Ctrl-C and
    SIGTERM wait while the folder is made and locked, so the cleanup always knows it."""
    clean_dead(repo)
    root = _work_root(repo)
    root.mkdir(mode=0o700, exist_ok=True)
    folder: Path | None = None
    lock = None
    try:
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
        try:
            folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=root))
            lock = open(folder / LOCK, "w")  # noqa: SIM115 - held open for the life of the run
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        yield folder
    finally:
        if folder is not None:
            _remove(repo, folder)
        if lock is not None:
            lock.close()


@contextlib.contextmanager
def worktree(repo: Path, ref: str, branch: str | None = None) -> Iterator[Path]:
    """A temporary work tree of ``ref`` (on a new ``branch`` when given), removed afterwards:
    intake and rollover write their branches there, never touching the office's own
    checkout or its uncommitted files. A ref git does not know is a usage error."""
    with scratch(repo) as folder:
        tree = folder / f"tree-{folder.name}"  # git names its record of the tree after this: unique
        args = ["-b", branch] if branch else ["--detach"]
        if branch:
            start = (maybe(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}") or "").strip()
            (folder / BRANCH).write_text(f"{branch} {start}\n", encoding="utf-8")
        try:
            run(repo, "worktree", "add", "--quiet", *args, str(tree), ref)
        except GitError as exc:
            raise UsageError(str(exc)) from None
        yield tree


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
        if start is not None:
            _drop_if_empty(repo, branch, start.strip())


def _drop_if_empty(repo: Path, branch: str, start: str) -> None:
    head = maybe(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
    if start and head is not None and head.strip() == start:
        maybe(repo, "branch", "-D", branch)


def _remove(repo: Path, folder: Path) -> None:
    """A run's folder gone: its work tree (locked or half made: --force twice), git's record
    of it (named after the tree; a tree killed while being made is locked, and no prune
    removes it), the branch the run made if that has no commit, and the folder."""
    tree = folder / f"tree-{folder.name}"
    if tree.exists():
        maybe(repo, "worktree", "remove", "--force", "--force", str(tree))
    shutil.rmtree(_work_root(repo).parent / "worktrees" / tree.name, ignore_errors=True)
    made = folder / BRANCH
    with contextlib.suppress(OSError, ValueError):
        branch, start = made.read_text(encoding="utf-8").split()
        _drop_if_empty(repo, branch, start)
    shutil.rmtree(folder, ignore_errors=True)
    maybe(repo, "worktree", "prune")


def clean_dead(repo: Path) -> list[Path]:
    """Remove what runs that were killed left in the repository: their work trees (plaintext)
    and the branches they had just made. A run is dead when its lock is free."""
    try:
        root = _work_root(repo)
    except GitError:
        return []
    removed = []
    for folder in sorted(root.glob("*")) if root.is_dir() else []:
        if folder.is_dir() and _dead(folder):
            _remove(repo, folder)
            removed.append(folder)
    return removed


def clean_dead_near(path: Path) -> list[Path]:
    """``clean_dead`` for the repository ``path`` is in, found without running git (a build
    calls it every time: a rebuild must not pay for a git process when nothing is left)."""
    for folder in (path.resolve(), *path.resolve().parents):
        git_dir = folder / ".git"
        if git_dir.exists():
            return clean_dead(folder) if (git_dir / WORK_DIR).is_dir() else []
    return []


def busy(folder: Path) -> bool:
    """Whether a process works inside ``folder`` (its current folder is there): a git that
    outlived the run that started it (``kill -9`` of yidang leaves git's own children)."""
    inside = str(folder.resolve())
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if os.readlink(proc / "cwd").startswith(inside):
                return True
    return False


def _dead(folder: Path) -> bool:
    if busy(folder):
        return False
    lock = folder / LOCK
    if not lock.exists():  # killed as it began (or beginning now: then its process lives)
        pid = folder.name.split("-", 1)[0]
        gone = pid.isdigit() and not process_alive(int(pid))
        return gone or time.time() - folder.stat().st_mtime > ORPHAN_AGE
    with open(lock, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        return True


# --- commits -------------------------------------------------------------------------


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


def commit_files(
    repo: Path,
    base: str,
    branch: str,
    files: Mapping[str, bytes],
    message: str,
    committer: tuple[str, str],
    author: tuple[str, str] | None = None,
) -> str:
    """One commit of ``base`` plus ``files`` (repository paths → content) on a new ``branch``,
    made without a work tree or hooks. The branch appears with its commit in one step
    (``update-ref`` with an empty old value refuses a name that exists), so no run, killed
    or refused, leaves an empty branch. Returns the commit."""
    with scratch(repo) as folder:
        env = {**committer_env(repo, *committer), "GIT_INDEX_FILE": str(folder / "index")}
        if author is not None:
            env.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1])
        start = run(repo, "rev-parse", "--verify", f"{base}^{{commit}}").strip()
        run(repo, "read-tree", start, env=env)
        entries = "".join(
            f"100644 {run(repo, 'hash-object', '-w', '--stdin', data=data).strip()}\t{path}\n"
            for path, data in files.items()
        )
        run(repo, "update-index", "--index-info", env=env, data=entries.encode("utf-8"))
        tree = run(repo, "write-tree", env=env).strip()
        made = run(repo, "commit-tree", tree, "-p", start, env=env, data=message.encode("utf-8")).strip()
        run(repo, "update-ref", f"refs/heads/{branch}", made, "")
        return made


def committer_env(tree: Path, name: str, email: str) -> dict[str, str]:
    """The environment for a commit the office makes: its own git identity, or ``name`` and
    ``email`` when git has none (as in a fresh CI job or a new office PC). An ``--author``
    given to ``git commit`` still wins over the author set here."""
    env = child_env()
    if not (maybe(tree, "config", "user.name") or "").strip():
        env.setdefault("GIT_COMMITTER_NAME", name)
        env.setdefault("GIT_AUTHOR_NAME", name)
    if not (maybe(tree, "config", "user.email") or "").strip():
        env.setdefault("GIT_COMMITTER_EMAIL", email)
        env.setdefault("GIT_AUTHOR_EMAIL", email)
    return env
