"""Micro-batching (``--batch N --batch-wait MS``) over HTTP against the real server:
batched answers equal unbatched ones, a bad request in a batch fails alone, and a
request is not held back when no other worker is busy."""

from __future__ import annotations

import concurrent.futures
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from serve.http_helpers import post
from serve.serverfixtures import labship_serve, stop

pytestmark = pytest.mark.slow

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def iris_rows(seed: int, count: int) -> list[list[float]]:
    """Rows across the three classes, different for every seed."""
    return [
        [4.5 + (seed * 7 + i) % 30 / 10, 2.5 + (seed + i) % 12 / 10, 1.0 + (seed * 3 + i) % 55 / 10,
         0.1 + (seed + 2 * i) % 24 / 10]
        for i in range(count)
    ]  # fmt: skip


def iris_request(seed: int) -> tuple[Any, str]:
    """One of several formats, 1 to 7 rows: the fast path and pandas' path mixed."""
    rows = iris_rows(seed, 1 + seed % 7)
    if seed % 5 == 3:
        return {"dataframe_records": [dict(zip(COLUMNS, r, strict=True)) for r in rows]}, (
            "application/json"
        )
    if seed % 5 == 4:
        lines = [",".join(COLUMNS), *(",".join(map(str, r)) for r in rows)]
        return "\n".join(lines) + "\n", "text/csv"
    if seed % 5 == 2:  # the columns in another order
        return {
            "dataframe_split": {"columns": COLUMNS[::-1], "data": [r[::-1] for r in rows]}
        }, "application/json"
    return {"dataframe_split": {"columns": COLUMNS, "data": rows}}, "application/json"


def frames(log: Path) -> tuple[int, int]:
    """(requests, frames) from the line the server writes when it stops."""
    found = re.search(r"(\d+) requests in (\d+) frames", log.read_text())
    assert found, log.read_text()[-2000:]
    return int(found.group(1)), int(found.group(2))


def served(model: Path, tmp: Path, *flags: str) -> tuple[str, Any, Path]:
    url, proc = labship_serve(model, tmp, *flags)
    return url, proc, tmp / f"labship-{url.rsplit(':', 1)[1]}.log"


def test_batched_answers_equal_unbatched_ones(
    heavy: Path, iris_labship: str, tmp_path: Path
) -> None:
    requests = [iris_request(seed) for seed in range(160)]
    url, proc, log = served(heavy / "models" / "iris", tmp_path, "--workers", "1", "--batch", "16")
    try:
        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            batched = list(pool.map(lambda r: post(url, *r), requests))
    finally:
        stop(proc)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        plain = list(pool.map(lambda r: post(iris_labship, *r), requests))
    assert all(status == 200 for status, _ in plain)
    assert len({len(answer["predictions"]) for _, answer in plain}) == 7
    assert batched == plain
    count, used = frames(log)
    assert count == len(requests) and used < count  # some requests were predicted together


def ask(x: float, **extra: float) -> dict[str, Any]:
    columns = ["x", *extra]
    return {"dataframe_split": {"columns": columns, "data": [[x, *extra.values()]]}}


@pytest.fixture(scope="module")
def tricky_batched(
    heavy: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """One worker, batches of up to 16: the model sleeps for the first row's ``sleep``."""
    tmp = tmp_path_factory.mktemp("batch")
    url, proc, log = served(heavy / "models" / "tricky", tmp, "--workers", "1", "--batch", "16")
    yield url, log
    stop(proc)


def behind_a_blocker(url: str, seconds: float, bodies: list[Any]) -> list[tuple[int, Any]]:
    """Occupy the worker ``seconds``, then send ``bodies`` in order while it is busy:
    they queue, and the worker takes them together when it is free."""
    with concurrent.futures.ThreadPoolExecutor(len(bodies) + 1) as pool:
        blocker = pool.submit(post, url, ask(0, sleep=seconds))
        time.sleep(0.4)
        answers = []
        for body in bodies:  # one after another: their order in the queue is known
            answers.append(pool.submit(post, url, body))
            time.sleep(0.02)
        assert blocker.result() == (200, {"predictions": [0.0]})
        return [a.result() for a in answers]


def test_queued_requests_are_predicted_once(tricky_batched: tuple[str, Path]) -> None:
    url, _log = tricky_batched
    started = time.monotonic()
    answers = behind_a_blocker(url, 1.5, [ask(x, sleep=0.5) for x in range(8)])
    took = time.monotonic() - started
    assert answers == [(200, {"predictions": [2.0 * x]}) for x in range(8)]
    assert took < 1.5 + 0.5 + 1.5  # one prediction of 0.5 s, not eight (4 s)


def test_a_crash_in_a_batch_fails_only_its_request(tricky_batched: tuple[str, Path]) -> None:
    url, _log = tricky_batched
    bodies = [ask(1, crash=1), *(ask(x) for x in range(2, 8))]
    answers = behind_a_blocker(url, 1.0, bodies)
    assert answers[0][0] == 500 and answers[0][1]["error_code"] == "INTERNAL_ERROR"
    assert answers[1:] == [(200, {"predictions": [2.0 * x]}) for x in range(2, 8)]


def test_a_bad_request_in_a_batch_gets_its_own_400(heavy: Path, tmp_path: Path) -> None:
    url, proc, log = served(
        heavy / "models" / "tricky", tmp_path, "--workers", "1", "--batch", "16"
    )
    try:
        bodies = [
            ask(1, sleep=-1.0),  # first in the batch: the model fails on the whole batch
            {"dataframe_split": {"columns": ["x"], "data": "not rows"}},  # fails to parse
            *(ask(x, sleep=0.0) for x in range(2, 8)),
        ]
        answers = behind_a_blocker(url, 1.5, bodies)
    finally:
        stop(proc)
    assert answers[0][0] == 400 and "sleep length must be non-negative" in answers[0][1]["message"]
    assert answers[1][0] == 400 and answers[1][1]["error_code"] == "BAD_REQUEST"
    assert answers[2:] == [(200, {"predictions": [2.0 * x]}) for x in range(2, 8)]
    assert frames(log) == (1 + len(bodies), 2)  # the blocker, then all of them in one frame


WAIT = 1.5  # seconds


@pytest.fixture(scope="module")
def tricky_waiting(heavy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two workers, batches of up to 16 that may wait ``WAIT`` for more."""
    tmp = tmp_path_factory.mktemp("wait")
    flags = ("--workers", "2", "--batch", "16", "--batch-wait", f"{WAIT * 1000:g}")
    url, proc, _log = served(heavy / "models" / "tricky", tmp, *flags)
    yield url
    stop(proc)


def test_no_wait_when_no_other_worker_is_busy(tricky_waiting: str) -> None:
    for x in range(3):
        started = time.monotonic()
        assert post(tricky_waiting, ask(x)) == (200, {"predictions": [2.0 * x]})
        assert time.monotonic() - started < WAIT * 2 / 3  # not held back for company


def test_the_wait_for_more_is_bounded(tricky_waiting: str) -> None:
    """With the other worker busy, a lone request waits for company at most the wait."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        blocker = pool.submit(post, tricky_waiting, ask(0, sleep=6))
        time.sleep(0.4)
        started = time.monotonic()
        assert post(tricky_waiting, ask(3)) == (200, {"predictions": [6.0]})
        took = time.monotonic() - started
        assert blocker.result()[0] == 200
    assert WAIT - 0.1 < took < WAIT + 2.5  # the wait, not the other worker's 6 s
