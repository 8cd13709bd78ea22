"""The front process: HTTP on asyncio, predictions in forked worker processes.

Requests beyond the workers wait in a bounded queue (503 when it is full); a prediction
slower than the timeout is answered 504 and its worker is killed and replaced, so its
CPU comes back; a worker that dies is replaced while the others keep answering.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import os
import signal
import socket
import sys
from pathlib import Path

from . import openapi, protocol, worker

VERSION = b'"labship-serve 0.1.0"'


class Slot:
    """One worker process and the front's end of its socket."""

    def __init__(self, model: worker.Model) -> None:
        front, back = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the worker: no asyncio, no signals, no sockets of the front
            _become_worker(back.fileno())
            worker.serve_forever(model, back)
        back.close()
        self.pid = pid
        self.sock = front
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def send(self, items: list[Pending]) -> None:
        if self.streams is None:
            self.streams = await asyncio.open_connection(sock=self.sock)
        frame = [worker.FRAME.pack(len(items))]
        for item in items:
            frame += [worker.REQUEST.pack(len(item.body), len(item.ctype)), item.ctype, item.body]
        self.streams[1].write(b"".join(frame))

    async def answer(self) -> tuple[int, int, bytes]:
        """(index in the frame, status, body) of the next answer."""
        assert self.streams is not None
        reader = self.streams[0]
        index, status, size = worker.ANSWER.unpack(await reader.readexactly(worker.ANSWER.size))
        return index, status, await reader.readexactly(size)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        if self.streams is not None:
            self.streams[1].close()
        else:
            self.sock.close()


def _become_worker(keep: int) -> None:
    """Drop what the fork copied from the front: its clients' sockets (a client would
    never see its connection close), the listening socket, the event loop's signals."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)


class Pending:
    """A request waiting for its answer. ``alone``: it was in a batch that timed out or
    killed its worker, and is tried again by itself."""

    __slots__ = ("alone", "body", "ctype", "future", "since")

    def __init__(
        self, ctype: bytes, body: bytes, future: asyncio.Future[tuple[int, bytes]]
    ) -> None:
        self.ctype, self.body, self.future = ctype, body, future
        self.since = future.get_loop().time()
        self.alone = False


class Pool:
    """Idle workers, and the requests waiting for one (at most ``queue``).

    Micro-batching (``batch`` > 1): a free worker takes the oldest waiting request with
    the ones after it, up to ``batch`` requests, in one frame (the worker predicts
    together those it can concatenate). It waits for more -- at most ``wait`` seconds
    after the oldest arrived -- only while every other worker is busy; a worker that
    is free while the others are free too (low load) takes what there is at once.
    """

    def __init__(
        self,
        model: worker.Model,
        size: int,
        queue: int,
        timeout: float,
        batch: int = 1,
        wait: float = 0.0,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.queue = queue
        self.batch = max(1, batch)
        self.wait = wait
        self.slots = [Slot(model) for _ in range(size)]
        self.idle: collections.deque[Slot] = collections.deque(self.slots)
        self.waiting: collections.deque[Pending] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.running: set[asyncio.Task[None]] = set()
        self.requests = 0  # answered by workers ...
        self.frames = 0  # ... in this many frames

    async def predict(self, content_type: bytes, body: bytes) -> tuple[int, bytes]:
        if not self.idle and len(self.waiting) >= self.queue:
            return 503, protocol.error_body(
                "TEMPORARILY_UNAVAILABLE", "the server is at capacity; retry later"
            )
        future: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        self.waiting.append(Pending(content_type, body, future))
        self.requests += 1
        self._dispatch()
        return await future

    def _dispatch(self) -> None:
        """Give waiting requests to free workers, one frame each."""
        while self.idle and self.waiting:
            items = self._next_frame()
            if items is None:
                return
            self.frames += 1
            task = asyncio.ensure_future(self._run(self.idle.popleft(), items))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    def _next_frame(self) -> list[Pending] | None:
        """The requests of the next frame, taken from the queue; None: wait for more."""
        waiting = self.waiting
        if self.batch == 1 or waiting[0].alone:
            return [waiting.popleft()]
        count = 1
        for item in itertools.islice(waiting, 1, self.batch):
            if item.alone:
                break
            count += 1
        if count < self.batch and self.wait > 0 and len(self.idle) == 1 < len(self.slots):
            loop = asyncio.get_running_loop()
            deadline = waiting[0].since + self.wait
            if loop.time() < deadline:  # the others are busy: more may come meanwhile
                if self.timer is None:
                    self.timer = loop.call_at(deadline, self._timer_fired)
                return None
        return [waiting.popleft() for _ in range(count)]

    def _timer_fired(self) -> None:
        self.timer = None
        self._dispatch()

    async def _run(self, slot: Slot, items: list[Pending]) -> None:
        """One frame: answers resolve their requests as they come; each prediction has
        ``timeout`` seconds. When a prediction times out or kills the worker, the
        requests of the frame not answered yet, if more than one, are tried again one by
        one; a single one gets the 504 or 500."""
        left = dict(enumerate(items))
        try:
            await slot.send(items)
            while left:
                index, status, answer = await asyncio.wait_for(slot.answer(), self.timeout)
                item = left.pop(index)
                if not item.future.done():
                    item.future.set_result((status, answer))
        except TimeoutError:
            self._lost(
                slot,
                list(left.values()),
                504,
                "DEADLINE_EXCEEDED",
                f"the prediction took longer than {self.timeout:g}s",
            )
        except (asyncio.IncompleteReadError, ConnectionError):
            self._lost(
                slot,
                list(left.values()),
                500,
                "INTERNAL_ERROR",
                "the worker died during the prediction; it was replaced",
            )
        else:
            self.idle.append(slot)
        self._dispatch()

    def _lost(
        self,
        slot: Slot,
        left: list[Pending],
        status: int,
        code: str,
        message: str,
    ) -> None:
        self._replace(slot)
        retry = len(left) > 1  # one of them is the culprit: each alone, first in line
        for item in reversed(left):
            if retry:
                item.alone = True
                self.waiting.appendleft(item)
            elif not item.future.done():
                item.future.set_result((status, protocol.error_body(code, message)))

    def _replace(self, dead: Slot) -> None:
        dead.kill()
        fresh = Slot(self.model)
        self.slots[self.slots.index(dead)] = fresh
        self.idle.append(fresh)

    def reap(self) -> None:
        """Replace idle workers that died between requests (killed from outside)."""
        for slot in list(self.idle):
            try:
                done, _status = os.waitpid(slot.pid, os.WNOHANG)
            except ChildProcessError:
                done = slot.pid
            if done:
                self.idle.remove(slot)
                self._replace(slot)
        self._dispatch()

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        for slot in self.slots:
            slot.kill()


_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Payload Too Large",
    415: b"Unsupported Media Type",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}
MAX_BODY = 64 << 20


class Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, one request at a time per connection."""

    def __init__(self, pool: Pool, version: bytes, spec: bytes) -> None:
        self.pool = pool
        self.version = version
        self.spec = spec
        self.buf = bytearray()
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def _next(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > 65536:
                self._send(413, protocol.error_body("BAD_REQUEST", "headers too large"), True)
            return
        method, path, headers = _head(bytes(self.buf[:end]))
        size = int(headers.get(b"content-length", b"0") or 0)
        if size > MAX_BODY:
            self._send(413, protocol.error_body("BAD_REQUEST", "body too large"), True)
            return
        if len(self.buf) < end + 4 + size:
            return
        body = bytes(self.buf[end + 4 : end + 4 + size])
        del self.buf[: end + 4 + size]
        close = headers.get(b"connection", b"").lower() == b"close"
        self._route(method, path, headers.get(b"content-type", b""), body, close)

    def _route(self, method: bytes, path: bytes, ctype: bytes, body: bytes, close: bool) -> None:
        path = path.split(b"?", 1)[0]
        if path in (b"/ping", b"/health") and method == b"GET":
            self._send(200, b"\n", close)
        elif path == b"/version" and method == b"GET":
            self._send(200, self.version, close)
        elif path == b"/openapi.json" and method == b"GET":
            self._send(200, self.spec, close)
        elif path == b"/invocations" and method == b"POST":
            self.busy = True
            self.task = asyncio.ensure_future(self._invoke(ctype, body, close))
        elif path in (b"/ping", b"/health", b"/version", b"/invocations", b"/openapi.json"):
            self._send(405, protocol.error_body("BAD_REQUEST", "method not allowed"), close)
        else:
            self._send(404, protocol.error_body("NOT_FOUND", "not found"), close)

    async def _invoke(self, ctype: bytes, body: bytes, close: bool) -> None:
        status, answer = await self.pool.predict(ctype, body)
        self.busy = False
        self._send(status, answer, close)

    def _send(self, status: int, body: bytes, close: bool) -> None:
        if self.transport is None:
            return
        head = b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        self.transport.write(
            head % (status, _REASONS.get(status, b"Error"), len(body))
            + (b"connection: close\r\n\r\n" if close else b"\r\n")
            + body
        )
        if close:
            self.transport.close()
            self.transport = None
        elif self.buf and not self.busy:
            self._next()


def _head(raw: bytes) -> tuple[bytes, bytes, dict[bytes, bytes]]:
    lines = raw.split(b"\r\n")
    parts = lines[0].split(b" ")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return parts[0], parts[1] if len(parts) > 1 else b"/", headers


def _mlflow_version(model: worker.Model) -> bytes:
    """mlflow's version, as mlflow's /version; without mlflow (a sklearn model's set) the
    one that saved the model."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlflow").encode()
    except PackageNotFoundError:
        return model.mlflow_version.encode() if model.mlflow_version else VERSION


def _openapi(folder: Path) -> bytes:
    """The OpenAPI document, built once; a generic one if the signature cannot be read."""
    try:
        return openapi.document(folder)
    except Exception as exc:  # never a reason not to serve the model
        print(f"labship-serve: generic OpenAPI document: {exc!r}", file=sys.stderr, flush=True)
        return protocol.dumps(openapi.build({}, None, None, None))


LOAD_FAILED = 65  # labship's exit code for a model folder it cannot use (SpecError)


def _load(folder: Path) -> worker.Model:
    """The model, loaded once before the workers fork; one line and exit 65 when it does
    not load (a corrupt or foreign file, a flavour whose module is missing)."""
    try:
        return worker.Model(folder)
    except Exception as exc:
        first = " ".join(str(exc).split())[:300]  # one line, however many it had
        print(
            f"labship: error: {folder}: the model does not load ({type(exc).__name__}: "
            f"{first}); check that mlflow.pyfunc.load_model loads it where it was saved",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(LOAD_FAILED) from None


async def _main(args: argparse.Namespace, model: worker.Model) -> None:
    pool = Pool(model, args.workers, args.queue, args.timeout, args.batch, args.batch_wait / 1000)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGCHLD, pool.reap)
    version = _mlflow_version(model)
    spec = _openapi(Path(args.model))
    server = await loop.create_server(
        lambda: Http(pool, version, spec), args.host, args.port, reuse_address=True, backlog=2048
    )
    print(
        f"labship-serve: listening on http://{args.host}:{args.port} "
        f"({args.workers} workers, queue {args.queue}, timeout {args.timeout:g}s"
        + (
            f", batches of up to {args.batch}, wait {args.batch_wait:g} ms)"
            if args.batch > 1
            else ")"
        ),
        file=sys.stderr,
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        server.close()
        pool.stop()
        if args.batch > 1:
            print(
                f"labship-serve: {pool.requests} requests in {pool.frames} frames",
                file=sys.stderr,
                flush=True,
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="labship-serve")
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--queue", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--batch", type=int, default=1)  # requests a frame may carry
    parser.add_argument("--batch-wait", type=float, default=0.0)  # ms, see Pool
    args = parser.parse_args(argv)
    asyncio.run(_main(args, _load(Path(args.model))))


if __name__ == "__main__":
    main()
