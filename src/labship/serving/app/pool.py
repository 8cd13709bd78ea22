"""The worker pool: forked worker processes, the bounded queue of requests waiting for one,
micro-batching, and a prediction's time limit.

Requests beyond the workers wait in a bounded queue (503 when it is full); a prediction
slower than the timeout is answered 504 and its worker is killed and replaced, so its
CPU comes back; a worker that dies is replaced while the others keep answering.

Everything runs on the front's event loop with callbacks, no task per request: a request
is handed over with a function to call with its answer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import signal
import socket
import time
from collections.abc import Callable

from . import protocol, worker

Done = Callable[[int, bytes], None]  # (status, body)


class Pending:
    """A request waiting for its answer. ``alone``: it was in a batch that timed out or
    killed its worker, and is tried again by itself."""

    __slots__ = ("alone", "body", "ctype", "done", "since")

    def __init__(self, ctype: bytes, body: bytes, done: Done, since: float) -> None:
        self.ctype, self.body, self.done, self.since = ctype, body, done, since
        self.alone = False

    def answer(self, status: int, body: bytes) -> None:
        done, self.done = self.done, _answered
        done(status, body)


def _answered(_status: int, _body: bytes) -> None:
    """What a request answered once already calls when a late answer comes."""


class Channel(asyncio.Protocol):
    """The front's end of one worker's socket: answers, parsed as they come."""

    def __init__(self, slot: Slot) -> None:
        self.slot = slot
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        head = worker.ANSWER.size
        while len(buf) >= head:
            index, status, size = worker.ANSWER.unpack_from(buf)
            if len(buf) < head + size:
                return
            body = bytes(buf[head : head + size])
            del buf[: head + size]
            self.slot.answered(index, status, body)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.slot.lost()


class Slot:
    """One worker process and the front's end of its socket; at most one frame at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        front, back = socket.socketpair()
        pid = os.fork()
        if pid == 0:  # the worker: no asyncio, no signals, no sockets of the front
            _become_worker(back.fileno())
            worker.serve_forever(pool.model, back)
        back.close()
        self.pid = pid
        self.sock = front
        self.channel: Channel | None = None
        self.left: dict[int, Pending] = {}
        self.deadline = 0.0  # of the prediction in progress (Pool.sweep)
        self.dead = False

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        _t, self.channel = await loop.create_connection(lambda: Channel(self), sock=self.sock)

    def send(self, items: list[Pending]) -> None:
        assert self.channel is not None and self.channel.transport is not None
        self.left = dict(enumerate(items))
        frame = [worker.FRAME.pack(len(items))]
        for item in items:
            frame += [worker.REQUEST.pack(len(item.body), len(item.ctype)), item.ctype, item.body]
        self.channel.transport.write(b"".join(frame))
        self._arm()

    def _arm(self) -> None:
        self.deadline = time.monotonic() + self.pool.timeout

    def answered(self, index: int, status: int, body: bytes) -> None:
        item = self.left.pop(index, None)
        if item is not None:
            item.answer(status, body)
        if self.left:
            self._arm()  # each prediction of the frame has the whole timeout
            return
        self.pool.finished(self)

    def timed_out(self) -> None:
        self.pool.failed(
            self,
            504,
            "DEADLINE_EXCEEDED",
            f"the prediction took longer than {self.pool.timeout:g}s",
        )

    def lost(self) -> None:
        if not self.dead:
            self.pool.failed(
                self,
                500,
                "INTERNAL_ERROR",
                "the worker died during the prediction; it was replaced",
            )

    def kill(self) -> None:
        self.dead = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        if self.channel is not None and self.channel.transport is not None:
            self.channel.transport.abort()
        else:
            self.sock.close()


def _become_worker(keep: int) -> None:
    """Drop what the fork copied from the front: its clients' sockets (a client would
    never see its connection close), the listening socket, the event loop's signals. A
    worker ignores SIGTERM and SIGINT (a process group's stop reaches it too): the front
    finishes the requests in flight, then closes the worker's socket, and the worker exits."""
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)


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
        self.size = size
        self.timeout = timeout
        self.queue = queue
        self.batch = max(1, batch)
        self.wait = wait
        self.slots: list[Slot] = []
        self.idle: collections.deque[Slot] = collections.deque()
        self.waiting: collections.deque[Pending] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.stopped = False
        self.requests = 0  # answered by workers ...
        self.frames = 0  # ... in this many frames

    async def start(self) -> None:
        """Fork the workers (after the model and the heavy imports are loaded)."""
        self.slots = [Slot(self) for _ in range(self.size)]
        for slot in self.slots:
            await slot.connect()
        self.idle.extend(self.slots)

    def submit(self, content_type: bytes, body: bytes, done: Done) -> None:
        """Predict on a request; ``done(status, body)`` is called with its answer."""
        if not self.idle and len(self.waiting) >= self.queue:
            done(
                503,
                protocol.error_body(
                    "TEMPORARILY_UNAVAILABLE", "the server is at capacity; retry later"
                ),
            )
            return
        loop = asyncio.get_running_loop()
        self.waiting.append(Pending(content_type, body, done, loop.time()))
        self.requests += 1
        self._dispatch()

    def _dispatch(self) -> None:
        """Give waiting requests to free workers, one frame each."""
        while self.idle and self.waiting and not self.stopped:
            items = self._next_frame()
            if items is None:
                return
            self.frames += 1
            self.idle.popleft().send(items)

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

    def finished(self, slot: Slot) -> None:
        self.idle.append(slot)
        self._dispatch()

    def failed(self, slot: Slot, status: int, code: str, message: str) -> None:
        """A prediction timed out or killed its worker: the worker is replaced; the
        requests of the frame not answered yet, if more than one, are tried again one by
        one (one of them is the culprit); a single one gets ``status``."""
        left = list(slot.left.values())
        slot.left = {}
        if self.stopped:
            return
        self._replace(slot)  # first: when the client reads its 504, the worker is gone
        retry = len(left) > 1
        for item in reversed(left):
            if retry:
                item.alone = True
                self.waiting.appendleft(item)
            else:
                item.answer(status, protocol.error_body(code, message))
        self._dispatch()

    def _replace(self, dead: Slot) -> None:
        if dead in self.idle:
            self.idle.remove(dead)
        dead.kill()
        fresh = Slot(self)
        self.slots[self.slots.index(dead)] = fresh
        task = asyncio.ensure_future(self._join(fresh))
        task.add_done_callback(_quiet)

    async def _join(self, slot: Slot) -> None:
        await slot.connect()
        if self.stopped:
            slot.kill()
            return
        self.idle.append(slot)
        self._dispatch()

    def reap(self) -> None:
        """Replace idle workers that died between requests (killed from outside)."""
        for slot in list(self.idle):
            try:
                done, _status = os.waitpid(slot.pid, os.WNOHANG)
            except ChildProcessError:
                done = slot.pid
            if done:
                self._replace(slot)

    def sweep(self, now: float) -> None:
        """Time out the predictions past their deadline (the front calls this often)."""
        for slot in list(self.slots):
            if slot.left and not slot.dead and slot.deadline <= now:
                slot.timed_out()

    @property
    def busy(self) -> bool:
        """Predictions in progress or waiting."""
        return bool(self.waiting) or any(slot.left for slot in self.slots)

    def stop(self) -> None:
        self.stopped = True
        if self.timer is not None:
            self.timer.cancel()
        for slot in self.slots:
            slot.kill()


def _quiet(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: a replacement that failed to connect is not logged
