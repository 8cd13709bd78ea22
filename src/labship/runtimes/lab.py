"""What every runtime's JupyterLab shares: the port check, the readiness probe, and the
record of a detached lab (``.labship/lab.json``) that ``labship stop`` reads.

The record names the runtime that started the lab and holds that runtime's own handle
(a process identity, a container name); only that runtime interprets it. A record that
cannot be read, or does not have the expected shape, means "no lab running": labship
never acts on state it cannot trust."""

from __future__ import annotations

import contextlib
import errno
import json
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship import state
from labship.atomicfile import write_text_atomic
from labship.errors import PortInUse, ToolError
from labship.inputs import read_text
from labship.runtimes.base import LabInfo
from labship.tools.process import wait_until

if TYPE_CHECKING:
    from labship.project import Project

LAB_STATE = state.LAB


def port_in_use(port: int) -> PortInUse:
    return PortInUse(
        f"port {port} on 127.0.0.1 is already in use",
        hint="stop what uses it, or pick another: labship lab --port N "
        "(or [lab] port in labship.toml)",
    )


def bind_error(port: int, host: str = "127.0.0.1") -> OSError | None:
    """Why a server could not listen on ``host:port`` now (None: it could)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def taken(exc: OSError) -> bool:
    """The port is someone else's (in use, or privileged)."""
    return exc.errno in (errno.EADDRINUSE, errno.EACCES)


def ensure_port_free(port: int) -> None:
    """Fail before the server does, with a message that says what to change."""
    exc = bind_error(port)
    if exc is not None:
        if taken(exc):
            raise port_in_use(port)
        raise PortInUse(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}")


def listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def ready(port: int, token: str) -> bool:
    """True when the server answers ``/api/status`` with 200 for this token."""
    from labship.tools import http

    url = f"http://127.0.0.1:{port}/api/status"
    return http.ok(url, headers={"Authorization": f"token {token}"})


def wait_ready(
    port: int,
    token: str,
    *,
    alive: Callable[[], bool] = lambda: True,
    log: Path | None = None,
    timeout: float = 90,
) -> None:
    """Until JupyterLab answers its REST API with our token, or it died, or time is up.

    The port is watched every 10 ms (a refused connect costs microseconds) and the REST
    API is asked once something listens: the lab is seen ready within about 10 ms of
    being so, not up to a poll interval later."""
    from labship.tools import http  # noqa: F401  (now, not in the moment the lab is ready)

    def answers() -> bool:
        return listening(port) and ready(port, token)

    if wait_until(answers, alive=alive, timeout=timeout, interval=0.01):
        return
    where = f"; see {log}" if log else ""
    raise ToolError(f"JupyterLab did not answer on 127.0.0.1:{port}{where}")


@dataclass(frozen=True)
class LabRecord:
    info: LabInfo
    handle: Mapping[str, Any]


def state_path(project: Project) -> Path:
    return state.of(project).lab


def write_record(project: Project, info: LabInfo, handle: Mapping[str, Any]) -> None:
    record: dict[str, Any] = {
        "runtime": info.runtime,
        "url": info.url,
        "port": info.port,
        "handle": handle,
    }
    if info.tracking_uri is not None:
        record["tracking_uri"] = info.tracking_uri
    write_text_atomic(state_path(project), json.dumps(record, indent=2) + "\n")


def read_record(project: Project) -> LabRecord | None:
    """The detached lab's record; None when there is none or it is malformed."""
    try:
        data = json.loads(read_text(state_path(project)))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    runtime, url, port, handle = (data.get(k) for k in ("runtime", "url", "port", "handle"))
    if not (
        isinstance(runtime, str)
        and isinstance(url, str)
        and isinstance(port, int)
        and not isinstance(port, bool)
        and 1 <= port <= 65535
        and isinstance(handle, dict)
    ):
        return None
    tracking = data.get("tracking_uri")
    if not (isinstance(tracking, str) and tracking.startswith("http://127.0.0.1:")):
        tracking = None
    return LabRecord(LabInfo(runtime, url, port, tracking), handle)


def clear_record(project: Project) -> None:
    with contextlib.suppress(OSError):
        state_path(project).unlink(missing_ok=True)
