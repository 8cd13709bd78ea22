"""The same raw bytes to ``labship serve`` and to uvicorn (h11, its strict parser) serving
an app with the same routes: they must agree on the status and on whether the
connection stays open, wherever uvicorn is right (``DIFFERS`` says where it is not, and
why). Then a hypothesis fuzz over request bytes: no worker crashes, no desynchronised
connection (the next good request still gets its own answer), no memory growth."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serve.rawhttp import exchange
from serve.serverfixtures import free_port, start, stop
from serve.test_serve_http import CASES, PING, TIMEOUTS, serve_toy

pytestmark = pytest.mark.slow

UVICORN = ("uvicorn==0.54.0", "h11==0.16.0")
ROOT = Path(os.environ.get("LABSHIP_TEST_UVICORN", "/tmp/labship-test-uvicorn"))

# The app: the routes and methods of labship's server (the MLflow protocol's), and an
# answer that does not depend on the model.
APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        event = await receive()
        body += event.get("body", b"")
        if not event.get("more_body"):
            break
    path, method = scope["path"], scope["method"]
    routes = {"/ping": ("GET", "HEAD"), "/health": ("GET", "HEAD"), "/version": ("GET", "HEAD"),
              "/openapi.json": ("GET", "HEAD"), "/invocations": ("POST",)}
    if path in routes:
        status = 200 if method in routes[path] else 405
        if path == "/invocations" and status == 200 and body == b"{}":
            status = 400  # labship's model refuses an empty object
    elif method == "OPTIONS" and path == "*":
        status = 200
    else:
        status = 404
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})
"""

# Where uvicorn (h11) is not right, or the RFC leaves the choice: (labship's, uvicorn's).
DIFFERS = {
    # RFC 9112 9.3: an HTTP/1.0 client asking for keep-alive may keep its connection;
    # h11 always closes HTTP/1.0 (it may: persistence there is optional).
    "HTTP/1.0 keep-alive stays": "RFC 9112 9.3: optional; labship keeps it, as uvicorn-httptools",
    # RFC 9110 8.6: identical Content-Length values MAY be taken as one; h11 does (its 400
    # is the app's, for the body '{}'), the issue asks for 400 and close.
    "Content-Length twice, same": "RFC 9110 8.6: MAY accept; labship refuses",
    "Content-Length list": "RFC 9110 8.6: MAY accept; labship refuses",
    # RFC 9112 6.3: both headers MAY be processed as chunked, but the issue (smuggling)
    # asks for 400; h11 reads the chunked body.
    "Content-Length with chunked": "RFC 9112 6.3: MAY reject; labship does (no smuggling)",
    "chunked with Content-Length after": "RFC 9112 6.3: MAY reject; labship does",
    # RFC 9112 2.2: a bare LF MAY be accepted; llhttp refuses it, h11 accepts it.
    "bare LF": "RFC 9112 2.2: MAY accept; labship refuses (400)",
    # RFC 9112 5.2: obs-fold is rejected (400) or replaced by SP; h11 replaces.
    "header folding": "RFC 9112 5.2: reject or unfold; labship rejects",
    # RFC 9112 3.2.2: a server MUST accept the absolute form; uvicorn hands the app the
    # whole URL as its path (404).
    "absolute-form POST": "RFC 9112 3.2.2: MUST accept; uvicorn 404s",
    "absolute-form GET": "RFC 9112 3.2.2: MUST accept; uvicorn 404s",
    # RFC 9112 6.1: a coding the server does not understand SHOULD be 501; h11 says 501
    # only for some, and closes with 400 for others.
    "unknown coding gzip": "RFC 9112 6.1: 501 for an unknown transfer coding",
    "unknown coding before chunked": "RFC 9112 6.1: 501 for an unknown transfer coding",
    # RFC 9112 6.1: chunked only once and last; h11 reads 'gzip, chunked' the same.
    "unknown method": "RFC 9110 9.1: 501 for a method the server does not implement",
    "pipelined, then unknown method": "RFC 9110 9.1: 501 for an unknown method",
    "HTTP/2.0 request line": "RFC 9110 15.6.6: 505 for an unsupported major version",
    "over-long header line": "RFC 6585 5: 431 for header fields too large",
    "over-long head in many lines": "RFC 6585 5: 431 for header fields too large",
    "over-long target": "RFC 6585 5: 431 (a 414 would do too)",
    "body over the limit": "labship's 64 MiB limit (uvicorn has none)",
    "an expectation other than 100-continue": "RFC 9110 10.1.1: 417",
    "asterisk-form GET": "RFC 9112 3.2.4: '*' only for OPTIONS; the app sees no path",
    "Upgrade ignored, then close": "labship answers an upgrade request, then closes",
    "a bad body: the model's 400": "the model's answer, not HTTP's",
}


@pytest.fixture(scope="module")
def uvicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    from labship.tools.uv import uv_bin, uv_env

    key = hashlib.sha256("\n".join(UVICORN).encode()).hexdigest()[:16]
    venv = ROOT / key
    if not (venv / "bin" / "uvicorn").is_file():  # relocatable: built aside, renamed
        tmp = ROOT / f".build-{key}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        env = uv_env()
        subprocess.run(
            [uv_bin(), "venv", "-q", "--relocatable", "--python", "3.11", str(tmp)],
            env=env,
            check=True,
        )
        subprocess.run(
            [uv_bin(), "pip", "install", "-q", "--python", str(tmp / "bin" / "python"), *UVICORN],
            env=env,
            check=True,
        )
        shutil.rmtree(venv, ignore_errors=True)
        tmp.rename(venv)
    work = tmp_path_factory.mktemp("uvicorn")
    (work / "diffapp.py").write_text(APP)
    port = free_port()
    argv = [str(venv / "bin" / "python"), "-m", "uvicorn", "diffapp:app", "--http", "h11"]
    argv += ["--port", str(port)]
    argv += ["--log-level", "warning", "--app-dir", str(work)]
    proc = start(argv, port, work / "uvicorn.log")
    yield port
    stop(proc)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port, proc, _log = serve_toy(tmp_path_factory.mktemp("toy"), "--workers", "2", *TIMEOUTS)
    yield port
    stop(proc)


AGREE = [c for c in CASES if c[0] not in DIFFERS]


@pytest.mark.parametrize(("name", "data", "statuses", "open_"), AGREE, ids=[c[0] for c in AGREE])
def test_same_bytes_same_answer_as_uvicorn(
    toy: int, uvicorn: int, name: str, data: bytes, statuses: list[int], open_: bool
) -> None:
    ours = exchange(toy, data, expect=len(statuses))
    theirs = exchange(uvicorn, data, expect=len(statuses))
    assert (ours.statuses, ours.closed) == (theirs.statuses, theirs.closed), (
        name,
        theirs.raw[:300],
    )


def test_the_differences_are_only_named_cases() -> None:
    assert set(DIFFERS) <= {c[0] for c in CASES}
    assert len(AGREE) >= 20


# -- fuzz ---------------------------------------------------------------------------------

TOKENS = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"FOO ",
    b"/ping",
    b"/invocations",
    b"*",
    b"http://t/ping",
    b" HTTP/1.1",
    b" HTTP/1.0",
    b" HTTP/2.0",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b":",
    b"Host: t",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip",
    b"Connection: close",
    b"Expect: 100-continue",
    b"0",
    b"5",
    b"-1",
    b"ffffffffffffffff",
    b"\x00",
    b"\xff",
    b'{"dataframe_split": {"columns": ["x"], "data": [[1]]}}',
    b"0\r\n\r\n",
]
request = st.lists(
    st.one_of(st.sampled_from(TOKENS), st.binary(max_size=40)), min_size=1, max_size=30
).map(b"".join)


def _rss(pid: int) -> int:
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    kids = [int(p) for p in out.stdout.split()]
    return kids + [g for k in kids for g in _children(k)]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    port, proc, log = serve_toy(tmp_path_factory.mktemp("fuzz"), "--workers", "2", *TIMEOUTS)
    yield port, proc.pid
    stop(proc)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@settings(
    max_examples=int(os.environ.get("LABSHIP_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(junk=request, shut=st.booleans())
def test_fuzz_never_desynchronises(fuzzed: tuple[int, int], junk: bytes, shut: bool) -> None:
    """Any bytes (then a half-close, or not): every answer is a real status, nothing is
    answered after an error (the connection closes there), and a good request on the
    next connection gets its own answer."""
    port, _pid = fuzzed
    got = exchange(port, junk, expect=10, shut=shut, timeout=3, linger=0.2)
    statuses = got.statuses
    for i, status in enumerate(statuses):
        assert 100 <= status <= 599
        if status >= 400:
            assert i == len(statuses) - 1 and got.closed, statuses
    assert got.raw == b"" or got.raw.startswith(b"HTTP/1.1 ")
    fresh = exchange(port, PING + PING, expect=2)
    assert fresh.statuses == [200, 200] and fresh.answers[1].body == b"\n"


def test_fuzz_keeps_workers_and_memory(fuzzed: tuple[int, int]) -> None:
    """After the fuzz (it ran first in this module), the workers are the same processes,
    and cut-off requests leave no memory behind."""
    port, pid = fuzzed
    workers = sorted(_children(pid))
    rss = _rss(pid)
    cut = b"POST /invocations HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n"
    for _ in range(100):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(cut + b"x" * 500_000)
    assert exchange(port, PING, expect=1).statuses == [200]
    assert sorted(_children(pid)) == workers
    assert _rss(pid) - rss < 32 << 10, (_rss(pid), rss)  # KiB: 100 x 0.5 MB not kept
