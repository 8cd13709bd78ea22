"""RFC 9112 through a real ``labship serve``, on raw sockets: framing, limits, pipelining,
100-continue, HTTP/1.0, targets, methods, timeouts, backpressure and the graceful stop.

The model is the toy of ``toymodel`` (its environment is the server's packages only).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from serve.rawhttp import exchange
from serve.serverfixtures import free_port, start, stop
from serve.toymodel import make_toy

pytestmark = pytest.mark.slow

TIMEOUTS = ("--keep-alive", "1.5", "--header-timeout", "1", "--body-timeout", "1")


def serve_toy(tmp: Path, *flags: str) -> tuple[int, subprocess.Popen[bytes], Path]:
    model = make_toy(tmp / "toy")
    port = free_port()
    log = tmp / f"serve-{port}.log"
    argv = [sys.executable, "-m", "labship", "serve", str(model), "--port", str(port), *flags]
    return port, start(argv, port, log), log


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port, proc, _log = serve_toy(tmp_path_factory.mktemp("toy"), "--workers", "2", *TIMEOUTS)
    yield port
    stop(proc)


def post(rows: list[float], *, extra: bytes = b"", path: bytes = b"/invocations") -> bytes:
    body = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[r] for r in rows]}})
    return (
        b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n%s\r\n%s" % (path, len(body), extra, body.encode())
    )


def chunked(body: bytes, size: int = 7) -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


PING = b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"
BODY = json.dumps({"dataframe_split": {"columns": ["x"], "data": [[1], [2]]}}).encode()
HEAD = b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"

# (name, bytes, statuses, the connection stays open)
CASES: list[tuple[str, bytes, list[int], bool]] = [
    ("GET /ping", PING, [200], True),
    ("CRLF, query string", b"GET /ping?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", [200], True),
    ("HTTP/1.0 closes", b"GET /ping HTTP/1.0\r\n\r\n", [200], False),
    (
        "HTTP/1.0 keep-alive stays",
        b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        [200],
        True,
    ),
    (
        "Connection: close",
        b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        [200],
        False,
    ),
    ("Content-Length abc", HEAD + b"Content-Length: abc\r\n\r\n" + PING, [400], False),
    ("Content-Length -5", HEAD + b"Content-Length: -5\r\n\r\n" + PING + PING, [400], False),
    ("Content-Length 1_9", HEAD + b"Content-Length: 1_9\r\n\r\n" + b"x" * 19, [400], False),
    (
        "Content-Length twice, same",
        HEAD + b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        [400],
        False,
    ),
    (
        "Content-Length twice, conflicting",
        HEAD + b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}",
        [400],
        False,
    ),
    ("Content-Length list", HEAD + b"Content-Length: 2, 2\r\n\r\n{}", [400], False),
    (
        "Content-Length with chunked",
        HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(BODY),
        [400],
        False,
    ),
    (
        "chunked with Content-Length after",
        HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunked(BODY),
        [400],
        False,
    ),
    ("unknown coding gzip", HEAD + b"Transfer-Encoding: gzip\r\n\r\n", [501], False),
    (
        "unknown coding before chunked",
        HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked(BODY),
        [501],
        False,
    ),
    ("chunked body", HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(BODY), [200], True),
    (
        "chunked, extension and trailer",
        HEAD
        + b"Transfer-Encoding: chunked\r\n\r\n"
        + b"%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (len(BODY), BODY),
        [200],
        True,
    ),
    (
        "chunked then a request",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(BODY) + PING,
        [200, 200],
        True,
    ),
    ("bare LF", b"GET /ping HTTP/1.1\nHost: t\n\n", [400], False),
    ("header folding", b"GET /ping HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", [400], False),
    ("space before colon", b"GET /ping HTTP/1.1\r\nHost : t\r\n\r\n", [400], False),
    ("NUL in a value", b"GET /ping HTTP/1.1\r\nHost: t\x00\r\n\r\n", [400], False),
    (
        "over-long header line",
        b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
        [431],
        False,
    ),
    (
        "over-long head in many lines",
        b"GET /ping HTTP/1.1\r\nHost: t\r\n"
        + b"X-A: "
        + b"a" * 1000
        + b"\r\n" * 1
        + b"".join(b"X-%d: %s\r\n" % (i, b"b" * 1000) for i in range(70))
        + b"\r\n",
        [431],
        False,
    ),
    ("over-long target", b"GET /" + b"p" * 70_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", [431], False),
    ("no Host in HTTP/1.1", b"GET /ping HTTP/1.1\r\n\r\n", [400], False),
    ("two Hosts", b"GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", [400], False),
    ("HTTP/2.0 request line", b"GET /ping HTTP/2.0\r\nHost: t\r\n\r\n", [505], False),
    ("absolute-form POST", post([1.0], path=b"http://t/invocations"), [200], True),
    ("absolute-form GET", b"GET http://t:80/ping?a=b HTTP/1.1\r\nHost: t\r\n\r\n", [200], True),
    ("asterisk-form OPTIONS", b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", [200], True),
    ("asterisk-form GET", b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", [400], True),
    ("unknown method", b"FOO /ping HTTP/1.1\r\nHost: t\r\n\r\n", [501], False),
    ("PUT /ping: 405", b"PUT /ping HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", [405], True),
    ("GET /invocations: 405", b"GET /invocations HTTP/1.1\r\nHost: t\r\n\r\n", [405], True),
    ("unknown path", b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", [404], True),
    ("body over the limit", HEAD + b"Content-Length: %d\r\n\r\n" % ((64 << 20) + 1), [413], False),
    (
        "an expectation other than 100-continue",
        HEAD + b"Content-Length: 2\r\nExpect: teapot\r\n\r\n{}",
        [417],
        False,
    ),
    ("a bad body: the model's 400", HEAD + b"Content-Length: 2\r\n\r\n{}", [400], True),
    (
        "Upgrade ignored, then close",
        b"GET /ping HTTP/1.1\r\nHost: t\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
        [200],
        False,
    ),
    (
        "pipelined good, bad, good",
        PING + HEAD + b"Content-Length: x\r\n\r\n" + PING,
        [200, 400],
        False,
    ),
    (
        "pipelined, then unknown method",
        post([1.0]) + PING + b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n",
        [200, 200, 501],
        False,
    ),
    (
        "pipelined after Connection: close",
        b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + PING,
        [200],
        False,
    ),
]


@pytest.mark.parametrize(("name", "data", "statuses", "open_"), CASES, ids=[c[0] for c in CASES])
def test_conformance(toy: int, name: str, data: bytes, statuses: list[int], open_: bool) -> None:
    got = exchange(toy, data, expect=len(statuses))
    assert got.statuses == statuses, (name, got.raw[:300])
    assert got.closed is not open_, (name, got.raw[:300])
    for answer in got.answers:
        if answer.status >= 400 and answer.body:
            assert "error_code" in json.loads(answer.body)
    if not open_ and statuses and statuses[-1] >= 400:
        assert got.answers[-1].headers.get("connection") == "close"


def test_the_table_has_30_cases_or_more() -> None:
    assert len(CASES) >= 30


def test_head_has_no_body_and_keeps_the_connection(toy: int) -> None:
    got = exchange(toy, b"HEAD /ping HTTP/1.1\r\nHost: t\r\n\r\n" + PING, expect=2, heads=1)
    assert got.statuses == [200, 200] and not got.closed
    assert got.answers[0].headers["content-length"] == "1" and got.answers[1].body == b"\n"


def test_600_pipelined_pings_answered_in_order(toy: int) -> None:
    got = exchange(toy, PING * 600, expect=600)
    assert got.statuses == [200] * 600 and not got.closed


def test_pipelined_predictions_come_back_in_order(toy: int) -> None:
    data = b"".join(post([float(i)]) for i in range(40))
    got = exchange(toy, data, expect=40)
    assert [json.loads(a.body)["predictions"] for a in got.answers] == [
        [2.0 * i] for i in range(40)
    ]


def test_chunked_body_is_the_request_body(toy: int) -> None:
    got = exchange(toy, HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(BODY, 3), expect=1)
    assert json.loads(got.answers[0].body) == {"predictions": [2.0, 4.0]}


def test_100_continue_before_the_body(toy: int) -> None:
    head = HEAD + b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(BODY)
    got = exchange(toy, [head, BODY], expect=1)
    assert got.statuses == [100, 200] and not got.closed
    assert json.loads(got.answers[1].body) == {"predictions": [2.0, 4.0]}


def test_100_continue_refused_for_a_body_over_the_limit(toy: int) -> None:
    head = HEAD + b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % ((64 << 20) + 1)
    got = exchange(toy, head, expect=1)
    assert got.statuses == [413] and got.closed


def test_half_close_after_the_post_still_gets_its_answer(toy: int) -> None:
    got = exchange(toy, post([3.0]), expect=1, shut=True)
    assert got.statuses == [200] and got.closed
    assert json.loads(got.answers[0].body) == {"predictions": [6.0]}


def test_idle_connection_is_closed_after_keep_alive(toy: int) -> None:
    with socket.create_connection(("127.0.0.1", toy), timeout=10) as sock:
        sock.sendall(PING)
        sock.recv(1024)
        sock.settimeout(10)
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, not the timeout
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "part",
    [b"GET /ping HTTP/1.1\r\nHost:", HEAD + b'Content-Length: 100\r\n\r\n{"data'],
    ids=["head", "body"],
)
def test_slow_head_or_body_gets_408_and_close(toy: int, part: bytes) -> None:
    got = exchange(toy, part, expect=1, timeout=10)
    assert got.statuses == [408] and got.closed


def test_a_connection_with_a_request_waiting_is_not_read(toy: int) -> None:
    """Backpressure: while a prediction is slow, the client can push little more than
    the sockets' buffers (the front stops reading), not 64 MiB."""
    slow = json.dumps({"dataframe_split": {"columns": ["x", "sleep"], "data": [[1, 2]]}})
    first = HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(slow), slow.encode())
    with socket.create_connection(("127.0.0.1", toy), timeout=10) as sock:
        sock.sendall(first)
        time.sleep(0.3)
        sock.setblocking(False)
        pushed, chunk = 0, PING * 4096
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and pushed < 64 << 20:
            try:
                pushed += sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        assert pushed < 16 << 20, pushed


def test_nan_and_inf_flags_are_exit_64(tmp_path: Path) -> None:
    model = make_toy(tmp_path / "toy")
    for flag, value in [
        ("--timeout", "nan"),
        ("--timeout", "inf"),
        ("--batch-wait", "nan"),
        ("--keep-alive", "inf"),
        ("--header-timeout", "-inf"),
        ("--body-timeout", "NaN"),
        ("--graceful-timeout", "infinity"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "labship", "serve", str(model), flag, value],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 64, (flag, value, done.stderr)
        assert flag in done.stderr and len(done.stderr.strip().splitlines()) <= 2


def test_the_in_environment_server_refuses_nan_too() -> None:
    from labship.serving.app import server

    for flag in ("--timeout", "--keep-alive", "--graceful-timeout", "--batch-wait"):
        with pytest.raises(SystemExit) as stopped:
            server.arguments().parse_args(["--model", "m", flag, "nan"])
        assert stopped.value.code == 64


def test_defaults_agree_with_labships_flags() -> None:
    from labship.serving import DEFAULT_TIMEOUTS
    from labship.serving.app import server

    args = server.arguments().parse_args(["--model", "m"])
    assert {name: getattr(args, name) for name in DEFAULT_TIMEOUTS} == DEFAULT_TIMEOUTS


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)


def test_sigterm_finishes_requests_in_flight_and_exits_0(tmp_path: Path) -> None:
    """SIGTERM to the whole process group (as a terminal or a container stop): the slow
    request in flight and the ping read behind it are answered (the ping 503, draining),
    new connections are refused, and the server exits 0 without a traceback."""
    port, proc, log = serve_toy(tmp_path, "--workers", "2", "--graceful-timeout", "15")
    slow = json.dumps({"dataframe_split": {"columns": ["x", "sleep"], "data": [[4, 2]]}})
    first = HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(slow), slow.encode())
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(first + PING)
        time.sleep(0.5)
        _stop_group(proc)
        time.sleep(0.3)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    from serve.rawhttp import parse

    answers = parse(raw)
    assert [a.status for a in answers] == [200, 503], raw
    assert json.loads(answers[0].body) == {"predictions": [8.0]}
    assert answers[1].headers.get("connection") == "close"
    assert proc.wait(timeout=30) == 0
    text = log.read_text()
    assert "Traceback" not in text and "Error" not in text, text


def test_sigterm_when_idle_exits_0_at_once_without_traceback(tmp_path: Path) -> None:
    port, proc, log = serve_toy(tmp_path, "--workers", "2")
    idle = socket.create_connection(("127.0.0.1", port), timeout=10)
    exchange(port, PING, expect=1)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # labship alone: it passes the signal on
    assert proc.wait(timeout=30) == 0
    assert time.monotonic() - started < 10
    assert idle.recv(10) == b""
    idle.close()
    assert "Traceback" not in log.read_text()


def test_the_graceful_timeout_cuts_what_is_left(tmp_path: Path) -> None:
    port, proc, log = serve_toy(tmp_path, "--graceful-timeout", "1")
    slow = json.dumps({"dataframe_split": {"columns": ["x", "sleep"], "data": [[1, 30]]}})
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(slow), slow.encode()))
        time.sleep(0.5)
        started = time.monotonic()
        _stop_group(proc)
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 10
    assert "Traceback" not in log.read_text()
