"""Raw bytes to a server and its answers back, without an HTTP client in between: what
the server answered (status, headers, body, in order) and whether it closed."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Exchange:
    answers: list[Answer] = field(default_factory=list)
    closed: bool = False
    raw: bytes = b""

    @property
    def statuses(self) -> list[int]:
        return [a.status for a in self.answers]


def parse(raw: bytes, heads: int = 0) -> list[Answer]:
    """The complete answers in ``raw`` (``content-length`` framed; 1xx have no body; the
    first ``heads`` non-1xx answers are to HEAD: no body)."""
    out: list[Answer] = []
    while True:
        end = raw.find(b"\r\n\r\n")
        if end < 0:
            return out
        lines = raw[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        size = 0
        if status >= 200:
            size = int(headers.get("content-length", "0"))
            if heads:
                heads -= 1
                size = 0
            elif headers.get("transfer-encoding", "").lower() == "chunked":
                body, rest = _chunks(raw[end + 4 :])
                if body is None:
                    return out
                out.append(Answer(status, headers, body))
                raw = rest
                continue
        if len(raw) < end + 4 + size:
            return out
        out.append(Answer(status, headers, raw[end + 4 : end + 4 + size]))
        raw = raw[end + 4 + size :]


def _chunks(raw: bytes) -> tuple[bytes | None, bytes]:
    """A chunked body (for the other servers' answers): (body, the rest), or None."""
    body = b""
    while True:
        line_end = raw.find(b"\r\n")
        if line_end < 0:
            return None, raw
        size = int(raw[:line_end].split(b";")[0], 16)
        if size == 0:
            trailer_end = raw.find(b"\r\n\r\n", line_end - 2 if line_end >= 2 else 0)
            if raw[line_end : line_end + 4] == b"\r\n\r\n":
                return body, raw[line_end + 4 :]
            if trailer_end < 0:
                return None, raw
            return body, raw[trailer_end + 4 :]
        if len(raw) < line_end + 2 + size + 2:
            return None, raw
        body += raw[line_end + 2 : line_end + 2 + size]
        raw = raw[line_end + 2 + size + 2 :]


def exchange(
    port: int,
    data: bytes | list[bytes],
    *,
    expect: int,
    heads: int = 0,
    shut: bool = False,
    timeout: float = 10.0,
    linger: float = 0.3,
) -> Exchange:
    """Send ``data`` (a list: each part after the answers so far arrived) and read until
    ``expect`` final answers (1xx not counted) came and the connection closed, or
    ``linger`` seconds passed after them without a close (then: open)."""
    parts = data if isinstance(data, list) else [data]
    got = Exchange()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        deadline = time.monotonic() + timeout
        for i, part in enumerate(parts):
            sock.sendall(part)
            if i == len(parts) - 1 and shut:
                sock.shutdown(socket.SHUT_WR)
            if i < len(parts) - 1:  # wait for the answer (or 100) to this part
                want = len(got.answers) + 1
                while len(parse(got.raw, heads)) < want and time.monotonic() < deadline:
                    if not _read(sock, got, deadline):
                        break
                got.answers = parse(got.raw, heads)
        while time.monotonic() < deadline and not got.closed:
            final = [a for a in parse(got.raw, heads) if a.status >= 200]
            if len(final) >= expect:
                sock.settimeout(linger)
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    break
                except ConnectionResetError:
                    chunk = b""
                if not chunk:
                    got.closed = True
                got.raw += chunk
                continue
            if not _read(sock, got, deadline):
                break
    got.answers = parse(got.raw, heads)
    return got


def _read(sock: socket.socket, got: Exchange, deadline: float) -> bool:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        chunk = sock.recv(65536)
    except TimeoutError:
        return False
    except ConnectionResetError:
        chunk = b""
    if not chunk:
        got.closed = True
        return False
    got.raw += chunk
    return True
