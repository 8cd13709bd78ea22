"""Capacity, timeouts and crashes, over HTTP against the real ``labship serve``: one
worker serving a model that sleeps or dies when asked."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serve.http_helpers import post
from serve.serverfixtures import labship_serve, stop

pytestmark = pytest.mark.slow

TIMEOUT = 3.0


def ask(x: float = 1.0, **extra: float) -> dict[str, object]:
    columns = ["x", *extra]
    return {"dataframe_split": {"columns": columns, "data": [[x, *extra.values()]]}}


@pytest.fixture(scope="module")
def tricky(heavy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    flags = ("--workers", "1", "--queue", "1", "--timeout", str(TIMEOUT))
    url, proc = labship_serve(heavy / "models" / "tricky", tmp_path_factory.mktemp("t"), *flags)
    yield url, proc.pid
    stop(proc)


def workers(labship_pid: int) -> list[int]:
    """The server's workers: the children of labship's child (the front)."""
    front = _children(labship_pid)
    return [pid for f in front for pid in _children(f)]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def test_a_slow_prediction_is_504_and_its_worker_replaced(tricky: tuple[str, int]) -> None:
    url, pid = tricky
    before = workers(pid)
    started = time.monotonic()
    status, answer = post(url, ask(sleep=30))
    assert status == 504 and answer["error_code"] == "DEADLINE_EXCEEDED"
    assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 2
    after = workers(pid)
    assert len(after) == 1 and set(after).isdisjoint(before)  # killed: its CPU is back
    assert post(url, ask(2)) == (200, {"predictions": [4.0]})


def test_beyond_the_queue_is_503(tricky: tuple[str, int]) -> None:
    url, _pid = tricky
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        busy = pool.submit(post, url, ask(sleep=1.5))
        time.sleep(0.3)
        queued = pool.submit(post, url, ask(3))
        time.sleep(0.3)
        status, answer = post(url, ask(4))
        assert status == 503 and answer["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert busy.result()[0] == 200
        assert queued.result() == (200, {"predictions": [6.0]})


def test_a_crashing_worker_is_replaced(tricky: tuple[str, int]) -> None:
    url, pid = tricky
    status, answer = post(url, ask(crash=1))
    assert status == 500 and answer["error_code"] == "INTERNAL_ERROR"
    assert post(url, ask(5)) == (200, {"predictions": [10.0]})
    (victim,) = workers(pid)
    os.kill(victim, signal.SIGKILL)  # killed from outside while idle
    time.sleep(0.5)
    assert post(url, ask(6)) == (200, {"predictions": [12.0]})
    assert victim not in workers(pid)


def test_others_keep_answering_while_one_crashes(heavy: Path, tmp_path: Path) -> None:
    url, proc = labship_serve(heavy / "models" / "tricky", tmp_path, "--workers", "2")
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            crash = pool.submit(post, url, ask(crash=1))
            answers = list(pool.map(lambda x: post(url, ask(x)), range(20)))
        assert crash.result()[0] == 500
        assert answers == [(200, {"predictions": [2.0 * x]}) for x in range(20)]
        assert len(workers(proc.pid)) == 2
    finally:
        stop(proc)
