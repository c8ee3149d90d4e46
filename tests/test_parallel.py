"""forked_map: what the build's stages hand to forked workers comes back whole, in order."""

from __future__ import annotations

import os

import pytest

from generator.core.parallel import forked_map
from generator.core.problems import YidangError


def test_forked_workers_run_a_closure_on_what_they_inherit_and_keep_the_order() -> None:
    parent = os.getpid()
    inherited = {n: f"第{n}页" for n in range(50)}  # never pickled: the workers fork with it
    results = list(forked_map(lambda n: (inherited[n], os.getpid()), list(range(50)), 2, chunksize=3))
    assert [text for text, _ in results] == [inherited[n] for n in range(50)]
    assert parent not in {pid for _, pid in results}  # the work ran in the workers


def test_one_job_runs_here_and_a_second_map_inside_the_first_is_refused() -> None:
    assert list(forked_map(lambda n: os.getpid(), [1, 2], 1)) == [os.getpid()] * 2
    outer = forked_map(lambda n: n, [1, 2, 3], 2)
    assert next(outer) == 1
    with pytest.raises(RuntimeError):
        next(forked_map(lambda n: n, [1], 2))
    outer.close()  # its workers end with it; another map may start
    assert list(forked_map(lambda n: n * 2, [1, 2], 2)) == [2, 4]


def test_a_worker_killed_is_said_in_chinese_not_a_traceback() -> None:
    """The kernel's OOM killer ends a worker: the build stops with a message a teacher reads."""
    with pytest.raises(YidangError) as failed:
        list(forked_map(lambda n: os._exit(9) if n == 3 else n, list(range(8)), 2))
    assert "工作进程意外退出" in str(failed.value) and "原来的站点不变" in str(failed.value)
