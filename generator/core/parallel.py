"""Work spread over forked worker processes, for the stages that run in the build process.

A forked worker inherits everything the build holds (the archive's summaries, the
templates' environment, the pages' bodies): what it is to work on is never pickled, only
each result travels back. So the function may be a closure, and the items anything.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from generator.core import labels
from generator.core.problems import YidangError

T = TypeVar("T")
R = TypeVar("R")

_work: tuple[Callable[[Any], Any], Sequence[Any]] | None = None  # what the workers inherit


def forked_map(fn: Callable[[T], R], items: Sequence[T], jobs: int, chunksize: int = 1) -> Iterator[R]:
    """``fn(item)`` for each of ``items``, in order, as ``jobs`` forked workers finish them
    (``chunksize`` items a hand-out); in this process when ``jobs`` is 1. One at a time: the
    workers fork when the first result is asked for, and the map ends with the iteration
    (close the iterator to end it early)."""
    global _work
    if jobs <= 1:
        yield from map(fn, items)
        return
    if _work is not None:
        raise RuntimeError("forked_map is already running")
    _work = (fn, items)
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(_one, range(len(items)), chunksize=chunksize)
    except BrokenProcessPool:  # a worker killed (the kernel's OOM killer): said, not a traceback
        raise YidangError(labels.error("commands", "worker_died")) from None
    finally:
        _work = None


def _one(n: int) -> Any:
    assert _work is not None
    fn, items = _work
    return fn(items[n])
