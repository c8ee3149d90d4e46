"""Build cache: what the last build made, reused when its inputs did not change.

Entries live under ``.cache/yidang/`` next to ``mkdocs.yml``. Each is a
pickle (not compressed: decompressing cost more than reading) behind an
HMAC-SHA256 tag whose key is kept outside the project
(``$XDG_CACHE_HOME/yidang/cache.key``, mode 0600): a cache file that is
truncated, flipped or written by anyone else (a ``.cache`` folder committed
into a pull request) fails the tag and is rebuilt, never unpickled.

A student's entry is keyed by the content hashes of every file in the
student's folder. Hashing 150,000 files on every build would cost seconds,
so, as git's index does, a file whose size, mtime and inode are unchanged
keeps its recorded hash; a file modified within ``RACY`` seconds of being
hashed is hashed again next time, since a second edit in the same clock tick
would not move its mtime.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import hmac
import multiprocessing
import os
import pickle
import secrets
import time
from array import array
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from generator.core.files import write_atomic

TAG = 32  # bytes of HMAC-SHA256 in front of each entry
RACY = 2.0  # seconds: a file this fresh when hashed is hashed again next build
FORMAT = "yidang-cache-3"


def version() -> str:
    """The installed yidang's version and the source of its code: a cache from
    another version (or an edited checkout) is never trusted."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        ver = dist_version("yidang")
    except PackageNotFoundError:
        ver = "unknown"
    code = hashlib.sha256()
    package = Path(__file__).parent.parent
    # The labels too: cached problems carry their Chinese words from the check catalogue.
    for path in [
        *sorted(package.rglob("*.py")),
        *sorted((package.parent / "site_templates/labels").glob("*.yml")),
    ]:
        code.update(path.relative_to(package.parent).as_posix().encode() + b"\0" + path.read_bytes())
    return f"{FORMAT}|{ver}|{code.hexdigest()[:16]}"


def user_cache_dir() -> Path:
    """This user's yidang cache, outside any project: ``$XDG_CACHE_HOME/yidang``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "yidang"


@functools.cache
def code_version() -> str:
    """``version()``, once per process: every cache entry is stamped with it."""
    return version()


def _key_file() -> Path:
    return user_cache_dir() / "cache.key"


def machine_key() -> bytes:
    """This machine's cache key, created on first use (0600, outside the project)."""
    path = _key_file()
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    write_atomic(path, key, replace=True, mode=0o600)
    return key


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.hexdigest()


def tree_digest(folder: Path) -> str:
    """Content hash of every file under ``folder`` (templates, labels): small folders."""
    parts: list[str | bytes] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        parts += [path.relative_to(folder).as_posix(), path.read_bytes()]
    return digest(*parts)


@contextlib.contextmanager
def paused_gc(freeze: bool = False) -> Iterator[None]:
    """Unpickling creates many objects at once; each allocation burst would trigger
    Python's cycle collector over the growing heap (it doubled the load time).
    ``freeze`` moves what was loaded out of the collector's sight until the build
    ends (the plugin unfreezes it in ``on_post_build``): the build's thousand
    cached entries live until then, and the first collection after loading them
    would otherwise walk them all (0.1 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


@dataclass
class Store:
    """A folder of tagged entries. ``corrupt`` counts entries that failed their tag."""

    folder: Path
    key: bytes = field(default_factory=machine_key)
    corrupt: int = 0

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.bin"

    def get(self, name: str) -> Any:
        try:
            data = self._path(name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        tag, body = data[:TAG], data[TAG:]
        if not hmac.compare_digest(tag, hmac.new(self.key, body, "sha256").digest()):
            self.corrupt += 1
            return None
        try:
            with paused_gc():
                made_by, value = pickle.loads(body)
        except Exception:  # a tag that matches but does not load: treat as missing
            self.corrupt += 1
            return None
        # Written by another version of yidang: its objects may have another shape.
        return value if made_by == code_version() else None

    def put(self, name: str, value: Any) -> None:
        body = pickle.dumps((code_version(), value), protocol=pickle.HIGHEST_PROTOCOL)
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tagged = hmac.new(self.key, body, "sha256").digest() + body
        write_atomic(path, tagged, replace=True, mode=0o600, sync=False)


# --- the files of one student folder -----------------------------------------

Stat = tuple[int, int, int]  # size, mtime_ns, inode


def folder_stats(folder: Path) -> dict[str, Stat]:
    """Every file under a student folder (two levels: records/, photos/), by relative path.
    Listed through directory descriptors, so each stat resolves one name instead of
    the whole path (15 % of 150,000 stats)."""
    out: dict[str, Stat] = {}
    try:
        top = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return out
    try:
        for entry in list(os.scandir(top)):
            if entry.is_dir(follow_symlinks=False):
                try:
                    sub = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=top)
                except OSError:
                    continue
                try:
                    _stat_into(out, f"{entry.name}/", list(os.scandir(sub)))
                finally:
                    os.close(sub)
            else:
                _stat_into(out, "", [entry])
    finally:
        os.close(top)
    return out


def _stat_into(out: dict[str, Stat], prefix: str, entries: list[os.DirEntry[str]]) -> None:
    """One loop per folder, inlined: it runs 150,000 times per build."""
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:
            out[prefix + entry.name] = (-1, 0, 0)  # unreadable: never equal to a recorded stat
            continue
        out[prefix + entry.name] = (st.st_size, st.st_mtime_ns, st.st_ino)


PARALLEL_STATS = 200  # folders; below this, forking costs more than it saves


def _stamps_of(args: tuple[Path, list[str], Path | None]) -> tuple[dict[str, str], dict[str, FolderHashes]]:
    """The stats stamp of each folder (in a child process: only the stamps travel back), and
    the hashes of those without an entry in ``entries`` (a first build: hashing 150,000 files
    in the parent held every worker back for seconds)."""
    base, folders, entries = args
    stamps, hashed = {}, {}
    for f in folders:
        stats = folder_stats(base / f)
        stamps[f] = stats_stamp(stats)
        if entries is not None and not (entries / f"{f}.bin").exists():
            hashed[f] = hash_folder(base / f, stats, None)
    return stamps, hashed


@dataclass
class FolderHashes:
    """Content hashes of a folder's files, with the stats they were taken at."""

    stats: dict[str, Stat]
    hashes: dict[str, str]
    hashed_at: float
    key: str = ""  # of all the hashes together: the folder's content key
    settled: bool = False  # no file was modified within RACY seconds of being hashed

    def trusted(self, rel: str, stat: Stat) -> bool:
        """The recorded hash may be reused: same stat, and not modified racily close to hashing."""
        old = self.stats.get(rel)
        return old == stat and stat[1] / 1e9 < self.hashed_at - RACY


def hash_folder(folder: Path, stats: dict[str, Stat], previous: FolderHashes | None) -> FolderHashes:
    """Hashes of every file in ``stats``; reuses ``previous`` ones whose stat is unchanged."""
    if previous is not None and previous.settled and previous.stats == stats:
        return previous  # the common case: one dict comparison, in C
    now = time.time()
    hashes = {}
    for rel, stat in stats.items():
        if previous is not None and previous.trusted(rel, stat):
            hashes[rel] = previous.hashes[rel]
            continue
        try:
            hashes[rel] = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
        except OSError:
            hashes[rel] = "unreadable"
    key = digest(*(f"{rel}:{h}" for rel, h in sorted(hashes.items())))
    settled = all(stat[1] / 1e9 < now - RACY for stat in stats.values())
    return FolderHashes(stats, hashes, now, key, settled)


@dataclass
class StudentEntry:
    """One student's cached result. The folder's per-file hashes are a separate entry
    (``hashes/<folder>``), loaded only when a file's stat changed: a rebuild loads
    1,000 of these, and 150 stats and hashes each would triple their size."""

    key: str  # everything the result depends on: the folder's content and its context
    stamp: str  # digest of the folder's file stats when hashed (see ``stats_stamp``)
    settled: bool  # no file was modified within RACY seconds of being hashed
    content: str  # the folder's content key (of all the file hashes)
    result: Any  # archive.StudentResult, with the hook's output


def stats_stamp(stats: dict[str, Stat]) -> str:
    """Digest of the names and stats, in the dict's order (``folder_stats`` lists a
    folder in the directory's own order, stable while it is unchanged): a folder
    listed in another order only costs a comparison of contents, never a wrong hit.
    Packed as 64-bit integers: formatting 150,000 tuples as text took 0.3 s."""
    stamp = hashlib.sha1("\0".join(stats).encode(), usedforsecurity=False)
    try:
        stamp.update(array("q", chain.from_iterable(stats.values())).tobytes())
    except OverflowError:  # an inode number over 2**63
        stamp.update(repr(list(stats.values())).encode())
    return stamp.hexdigest()


@dataclass
class StudentCache:
    """Per-student results of the last read (problems, summary, page, booklet).

    ``key`` covers what every student depends on (yidang's version, the
    school files, ``as_of``, templates and settings, given by the caller);
    ``extra`` gives what one folder depends on besides its files (its git
    provenance); ``usable`` says whether a cached output's files still exist.
    """

    store: Store
    key: str
    extra: Any = None  # Callable[[str], str] | None
    usable: Any = None  # Callable[[Any], bool] | None
    hits: int = 0
    misses: int = 0
    reused: set[str] = field(default_factory=set)  # folders whose cached result was used
    _pending_save: dict[str, tuple[str, FolderHashes]] = field(default_factory=dict)
    _pool: ProcessPoolExecutor | None = None
    _pending: list[Any] = field(default_factory=list)  # futures of prefetch's stat calls
    _hashed: dict[str, FolderHashes] = field(default_factory=dict)  # by prefetch: folders new to it

    def prefetch(self, root: Path, folders: list[str], jobs: int) -> None:
        """Start stat-ing the folders' files in child processes and return at once: the
        150,000 stat calls take a second in the kernel, while this process reads the
        school files and loads the entries. :meth:`lookup_all` collects them."""
        if jobs > 1 and len(folders) >= PARALLEL_STATS:
            self._pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"))
            base, entries = root / "students", self.store.folder / "students"
            self._pending = [
                self._pool.submit(_stamps_of, (base, folders[i::jobs], entries)) for i in range(jobs)
            ]

    @property
    def prefetching(self) -> bool:
        return bool(self._pending)

    def lookup_all(self, root: Path, folders: list[str], context: str) -> dict[str, Any]:
        """Cached results of the ``folders`` read in ``context`` (the school files and
        ``as_of``) that are still valid; the others' hashes wait for :meth:`save`."""
        with paused_gc(freeze=True):
            entries = {f: self.store.get(f"students/{f}") for f in folders}
        stamps: dict[str, str] = {}
        try:
            for part in self._pending:
                got, hashed = part.result()
                stamps.update(got)
                self._hashed.update(hashed)
        finally:
            self.close()
        missing = [f for f in folders if f not in stamps]
        stamps.update(_stamps_of((root / "students", missing, None))[0])
        found = {}
        with paused_gc():
            for folder in folders:
                hit = self._check(root, folder, context, entries[folder], stamps[folder])
                if hit is not None:
                    found[folder] = hit
        return found

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self._pool, self._pending = None, []

    def _check(self, root: Path, folder: str, context: str, entry: Any, stamp: str | None) -> Any:
        """A hit when the folder's stats are as when its entry was made (``stamp``) and
        nothing else changed; otherwise hash what changed and compare contents."""
        if not isinstance(entry, StudentEntry):
            entry = None
        extra = self.extra(folder) if self.extra else ""
        usable = entry is not None and (self.usable is None or self.usable(entry.result))
        fast = entry is not None and usable and entry.settled and entry.stamp == stamp
        if fast and entry.key == digest(self.key, context, entry.content, extra):
            self.hits += 1
            self.reused.add(folder)
            return entry.result
        hashes = self._hashed.pop(folder, None) if entry is None else None
        if hashes is None:
            previous = self.store.get(f"hashes/{folder}")
            stats = folder_stats(root / "students" / folder)
            hashes = hash_folder(
                root / "students" / folder, stats, previous if isinstance(previous, FolderHashes) else None
            )
        key = digest(self.key, context, hashes.key, extra)
        if entry is not None and usable and entry.key == key:  # touched, same content
            self.hits += 1
            self.reused.add(folder)
            self._put(folder, key, hashes, entry.result)
            return entry.result
        self.misses += 1
        self._pending_save[folder] = (key, hashes)
        return None

    def _put(self, folder: str, key: str, hashes: FolderHashes, result: Any) -> None:
        self.store.put(f"hashes/{folder}", hashes)
        entry = StudentEntry(key, stats_stamp(hashes.stats), hashes.settled, hashes.key, result)
        self.store.put(f"students/{folder}", entry)

    def save(self, folder: str, result: Any) -> None:
        key, hashes = self._pending_save.pop(folder)
        self._put(folder, key, hashes, result)
