"""HTTP/1.1 (RFC 9112) on one connection, parsed by httptools (llhttp, uvicorn's parser).

llhttp does the framing: exactly one ``Content-Length`` of digits (a duplicate, a sign,
``1_9`` or a comma list is an error), chunked bodies, ``Content-Length`` with
``Transfer-Encoding`` refused, HTTP/1.0 and ``Connection: close`` (``should_keep_alive``).
This module adds what a parser leaves to its server:

- limits: the request head (64 KiB, 431) and the body (64 MiB, 413);
- ``Transfer-Encoding`` other than ``chunked``: 501; ``Expect: 100-continue`` answered
  when the request is next in line (another expectation: 417); HTTP/1.1 without exactly
  one ``Host``: 400;
- pipelining: requests are answered in order from a queue, never by recursion; an error
  is answered in its place after the good requests before it, then the connection closes;
- backpressure: while a request is waiting for its answer (or the client does not read
  its answers) the connection is not read further;
- timeouts: the head must arrive within ``header_timeout`` of its first byte, the body
  within ``body_timeout`` of the head (408 and close), and an idle connection is closed
  after ``keep_alive`` seconds;
- draining: once the server stops, requests already received are answered (the last
  with ``Connection: close``), a new request is not read, and ``/ping`` answers 503.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

import httptools

from . import protocol
from .pool import Pool

MAX_BODY = 64 << 20
SWEEP = 0.1  # seconds between two looks at the deadlines (of connections, predictions)
MAX_HEAD = 64 << 10

_REASONS = {
    100: b"Continue",
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    415: b"Unsupported Media Type",
    417: b"Expectation Failed",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
    505: b"HTTP Version Not Supported",
}
_ERRORS = {  # MLflow's error codes for the statuses the front answers itself
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "BAD_REQUEST",
    408: "BAD_REQUEST",
    413: "BAD_REQUEST",
    417: "BAD_REQUEST",
    431: "BAD_REQUEST",
    501: "BAD_REQUEST",
    503: "TEMPORARILY_UNAVAILABLE",
    505: "BAD_REQUEST",
}
_GET = frozenset({b"GET", b"HEAD"})
_ALLOW = {
    b"/ping": b"GET, HEAD",
    b"/health": b"GET, HEAD",
    b"/version": b"GET, HEAD",
    b"/openapi.json": b"GET, HEAD",
    b"/invocations": b"POST",
}


@dataclass
class Settings:
    """What every connection shares: the pool, the fixed answers, the timeouts."""

    pool: Pool
    version: bytes
    spec: bytes
    keep_alive: float = 5.0
    header_timeout: float = 10.0
    body_timeout: float = 60.0


class Front:
    """The open connections, and whether the server is draining."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.connections: set[Http] = set()
        self.draining = False
        self.empty = asyncio.Event()
        self.empty.set()
        self.sweeper = asyncio.get_running_loop().call_later(SWEEP, self._sweep)

    def _sweep(self) -> None:
        """Expire what is late: one timer for all, not one per request."""
        now = time.monotonic()
        for conn in list(self.connections):
            if conn.expire is not None and conn.deadline <= now:
                expire, conn.expire = conn.expire, None
                expire()
        self.settings.pool.sweep(now)
        self.sweeper = asyncio.get_running_loop().call_later(SWEEP, self._sweep)

    def close(self) -> None:
        self.sweeper.cancel()

    def __call__(self) -> Http:
        return Http(self)

    def opened(self, conn: Http) -> None:
        self.connections.add(conn)
        self.empty.clear()

    def closed(self, conn: Http) -> None:
        self.connections.discard(conn)
        if not self.connections:
            self.empty.set()

    def drain(self) -> None:
        """Stop reading new requests; close each connection once it has answered."""
        self.draining = True
        for conn in list(self.connections):
            conn.drain()

    def abort(self) -> None:
        for conn in list(self.connections):
            conn.abort()


class Request:
    """A request being read, then waiting in its connection's queue."""

    __slots__ = (
        "body",
        "close",
        "ctype",
        "error",
        "expect",
        "head",
        "hosts",
        "length",
        "lengths",
        "method",
        "size",
        "te",
        "url",
    )

    def __init__(self) -> None:
        self.url = b""
        self.method = b""
        self.ctype = b""
        self.te: bytes | None = None
        self.expect: bytes | None = None
        self.hosts = 0
        self.lengths = 0
        self.length = 0
        self.head = 0  # bytes of the request line and headers
        self.size = 0  # bytes of the body
        self.body: list[bytes] = []
        self.close = False
        self.error: tuple[int, str] | None = None  # answered in its turn, then close


class _Stop(Exception):
    """Raised from a parser callback: the request is answered with ``error``, the
    connection is read no further."""


class Http(asyncio.Protocol):
    """One client connection."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.settings = front.settings
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.current: Request | None = None  # being read
        self.queue: collections.deque[Request] = collections.deque()  # read, not answered
        self.busy = False  # the first in the queue waits for its prediction
        self.ended = False  # nothing more is read (an error, Connection: close, EOF)
        self.eof = False  # the client half-closed: answer what was read, then close
        self.paused = False  # reading
        self.blocked = False  # writing: the client does not read its answers
        self.deadline = 0.0  # when ``expire`` is called (Front's sweep, every SWEEP s)
        self.expire: Callable[[], None] | None = None
        self.continued = False  # 100 Continue sent for the current request

    # -- asyncio --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.front.opened(self)
        if self.front.draining:
            transport.close()
            return
        self._arm(self.settings.keep_alive, self._idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._disarm()
        self.front.closed(self)

    def data_received(self, data: bytes) -> None:
        if self.ended:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.ended = True  # the request is answered as if without Upgrade, then close
            if self.queue:
                self.queue[-1].close = True
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, _Stop):
                raise
            self.ended = True
        except httptools.HttpParserError as exc:
            self._parse_error(exc)
        self._pump()

    def eof_received(self) -> bool:
        """A half-close: the requests read so far are still answered."""
        self.eof = True
        if self.current is not None and self.current.head and not self.ended:
            self.current = None  # a request cut short is dropped
        self.ended = True
        self._pump()
        return self.transport is not None

    def pause_writing(self) -> None:
        self.blocked = True

    def resume_writing(self) -> None:
        self.blocked = False
        self._pump()

    # -- httptools callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.front.draining:
            raise _Stop  # a new request while stopping: not read
        self.current = Request()
        self.continued = False
        if not self.paused:
            self._arm(self.settings.header_timeout, self._late)

    def on_url(self, url: bytes) -> None:
        req = self._req()
        req.url += url
        self._count(req, len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        req = self._req()
        self._count(req, len(name) + len(value) + 4)
        name = name.lower()
        if name == b"content-type":
            req.ctype = value
        elif name == b"content-length":  # llhttp has checked: digits, and only one
            req.lengths += 1
            req.length = int(value) if value.strip().isdigit() else 0
        elif name == b"transfer-encoding":
            req.te = value if req.te is None else req.te + b"," + value
        elif name == b"host":
            req.hosts += 1
        elif name == b"expect":
            req.expect = value

    def on_headers_complete(self) -> None:
        req = self._req()
        parser = self.parser
        req.method = parser.get_method()
        req.close = not parser.should_keep_alive()
        version = parser.get_http_version()
        if version not in ("1.1", "1.0"):
            self._stop(req, 505, f"HTTP/{version} is not supported; use HTTP/1.1")
        if version == "1.1" and req.hosts != 1:
            self._stop(req, 400, "an HTTP/1.1 request needs exactly one Host header")
        if req.te is not None:
            if req.lengths:
                self._stop(req, 400, "Content-Length and Transfer-Encoding together")
            if _unknown(req.te):
                self._stop(req, 501, "the only transfer coding supported is chunked")
            if [c.strip().lower() for c in req.te.split(b",")] != [b"chunked"]:
                self._stop(req, 400, "chunked must be the last transfer coding, and only once")
        if req.length > MAX_BODY:
            self._stop(req, 413, f"the body is over {MAX_BODY >> 20} MiB ({req.length} bytes)")
        if req.expect is not None:
            if req.expect.strip().lower() != b"100-continue":
                self._stop(req, 417, "the only expectation supported is 100-continue")
            if version == "1.0":
                req.expect = None  # RFC 9110: ignored in an HTTP/1.0 request
        if not self.paused:
            self._arm(self.settings.body_timeout, self._late)
        self._continue()

    def on_body(self, body: bytes) -> None:
        req = self._req()
        req.size += len(body)
        if req.size > MAX_BODY:
            self._stop(req, 413, f"the body is over {MAX_BODY >> 20} MiB")
        req.body.append(body)

    def on_message_complete(self) -> None:
        req = self._req()
        self.current = None
        self.queue.append(req)
        self._disarm()
        if req.close:
            raise _Stop  # nothing after it is read

    # -- the queue ----------------------------------------------------------------------

    def _pump(self) -> None:
        """Answer the queue in order, as far as it can be answered now."""
        while self.queue and not self.busy and not self.blocked and self.transport is not None:
            req = self.queue[0]
            if req.error is not None:
                status, message = req.error
                body = protocol.error_body(_ERRORS[status], message)
                self._send(req, status, body, close=True)
                return
            self._route(req)
        if self.transport is None:
            return
        done = not self.queue and not self.busy
        if done and (self.ended or (self.front.draining and self.current is None)):
            self.transport.close()
            self.transport = None
            self._disarm()
            return
        # Not read further while a request waits: paused once more bytes came meanwhile
        # (a client sending one request at a time costs no pause and resume).
        waiting = len(self.queue) > (1 if self.busy else 0) or self.current is not None
        if self.blocked or ((self.queue or self.busy) and waiting):
            if not self.paused:
                self.paused = True
                self.transport.pause_reading()
                self._disarm()  # the client cannot send while it is not read
        elif self.paused:
            self.paused = False
            self.transport.resume_reading()
            if self.current is not None:
                self._arm(self.settings.header_timeout, self._late)
                self._continue()
        if done and self.current is None and not self.paused and self.expire is None:
            self._arm(self.settings.keep_alive, self._idle)

    def _route(self, req: Request) -> None:
        target = req.url
        if target.startswith(b"/"):
            path = target.split(b"?", 1)[0]
        elif target == b"*":
            path = b"*"
        else:
            try:
                path = httptools.parse_url(target).path or b"/"
            except httptools.HttpParserInvalidURLError:
                path = b""
        method = req.method
        settings = self.settings
        if path == b"/invocations" and method == b"POST":
            self.busy = True
            self.settings.pool.submit(req.ctype, b"".join(req.body), self._answered)
            return
        if path in (b"/ping", b"/health") and method in _GET:
            if self.front.draining:
                self._send(req, 503, protocol.error_body("TEMPORARILY_UNAVAILABLE", "stopping"))
            else:
                self._send(req, 200, b"\n")
        elif path == b"/version" and method in _GET:
            self._send(req, 200, settings.version)
        elif path == b"/openapi.json" and method in _GET:
            self._send(req, 200, settings.spec)
        elif path == b"*" and method == b"OPTIONS":
            self._send(req, 200, b"", allow=b"GET, HEAD, POST, OPTIONS")
        elif path in _ALLOW:
            body = protocol.error_body("BAD_REQUEST", "method not allowed")
            self._send(req, 405, body, allow=_ALLOW[path])
        elif path == b"*" or not path.startswith(b"/"):
            self._send(req, 400, protocol.error_body("BAD_REQUEST", "bad request target"))
        else:
            self._send(req, 404, protocol.error_body("NOT_FOUND", "not found"))

    def _answered(self, status: int, body: bytes) -> None:
        self.busy = False
        if self.transport is not None and self.queue:
            self._send(self.queue[0], status, body)
        self._pump()

    def _send(
        self, req: Request, status: int, body: bytes, *, close: bool = False, allow: bytes = b""
    ) -> None:
        assert self.transport is not None
        self.queue.popleft()
        close = (
            close
            or req.close
            or (self.front.draining and not self.queue)
            or (self.eof and not self.queue)
        )
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n" % (
            status,
            _REASONS.get(status, b"Error"),
            len(body),
        )
        if allow:
            head += b"allow: " + allow + b"\r\n"
        head += b"connection: close\r\n\r\n" if close else b"\r\n"
        self.transport.write(head if req.method == b"HEAD" else head + body)
        if close:
            self.ended = True
            self.queue.clear()
            self.transport.close()
            self.transport = None
            self._disarm()

    # -- errors, limits, timers -------------------------------------------------------

    def _req(self) -> Request:
        if self.current is None:  # a callback out of order: llhttp never does this
            self.current = Request()
        return self.current

    def _count(self, req: Request, size: int) -> None:
        req.head += size
        if req.head > MAX_HEAD:
            self._stop(req, 431, f"the request head is over {MAX_HEAD >> 10} KiB")

    def _stop(self, req: Request, status: int, message: str) -> None:
        req.error = (status, message)
        self.queue.append(req)
        self.current = None
        raise _Stop

    def _fail(self, status: int, message: str) -> None:
        """A request the parser refused: answered in its place, then close."""
        req = self.current or Request()
        req.method = b""
        self.current = None
        req.error = (status, message)
        self.queue.append(req)
        self.ended = True

    def _parse_error(self, exc: Exception) -> None:
        """llhttp's error as a status: an unknown method or transfer coding is 501 (RFC
        9112 6.1), everything else 400."""
        text = str(exc)
        req = self.current
        if isinstance(exc, httptools.HttpParserInvalidMethodError):
            self._fail(501, f"the method is not implemented ({text})")
        elif req is not None and req.te is not None and not req.lengths and _unknown(req.te):
            self._fail(501, f"the only transfer coding supported is chunked ({text})")
        else:
            self._fail(400, f"malformed request ({text})")

    def _continue(self) -> None:
        """100 Continue for the request being read, once it is next in line."""
        req = self.current
        if (
            req is not None
            and req.expect is not None
            and req.error is None
            and not self.continued
            and not self.queue
            and not self.busy
            and self.transport is not None
        ):
            self.continued = True
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _arm(self, seconds: float, then: Callable[[], None]) -> None:
        self.deadline = time.monotonic() + seconds
        self.expire = then

    def _disarm(self) -> None:
        self.expire = None

    def _idle(self) -> None:
        if self.transport is not None and not self.queue and not self.busy:
            self.transport.close()

    def _late(self) -> None:
        """The head or the body did not arrive in time: 408, then close."""
        if self.current is None or self.transport is None:
            return
        req, self.current = self.current, None
        req.error = (408, "the request did not arrive in time")
        self.queue.append(req)
        self.ended = True
        self._pump()

    def drain(self) -> None:
        if not self.queue and not self.busy and self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _unknown(te: bytes) -> bool:
    """Whether a Transfer-Encoding names a coding other than chunked."""
    return any(c.strip().lower() != b"chunked" for c in te.split(b","))
