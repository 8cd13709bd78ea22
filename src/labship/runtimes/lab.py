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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from labship import state
from labship.atomicfile import write_text_atomic
from labship.errors import PortInUse, ToolError
from labship.runtimes.base import LabInfo
from labship.tools.process import wait_until

if TYPE_CHECKING:
    from labship.console import Console
    from labship.profiles import Profile
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
    """Until JupyterLab answers its REST API with our token, or it died, or time is up."""
    if wait_until(lambda: ready(port, token), alive=alive, timeout=timeout):
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
        data = json.loads(state_path(project).read_text(encoding="utf-8"))
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


# ------------------------------------------------------------------ the session

Handle = dict[str, object]


class LabParts(Protocol):
    """What differs between runtimes in a lab session; ``session`` does the rest (the
    port check, the tracking server beside the lab, the record, the clean-up)."""

    def handle(self) -> Handle:
        """What names the lab before it starts (a container name; nothing for a process)."""
        ...

    def start_tracking(self, port: int) -> tuple[Handle, str]:
        """MLflow's tracking server answering on 127.0.0.1:port (``/health``); its handle
        and the URI the lab's kernels reach it at."""
        ...

    def stop_tracking(self, handle: object) -> None: ...

    def start_detached(self, extra: dict[str, str], info: LabInfo, handle: Handle) -> Handle:
        """JupyterLab in the background, returned once it answers; what identifies it."""
        ...

    def run_foreground(self, extra: dict[str, str], info: LabInfo, handle: Handle) -> None:
        """JupyterLab until it ends (Ctrl-C)."""
        ...

    def discard(self, handle: Handle) -> None:
        """Whatever an ended or failed lab left (a container)."""
        ...


def session(
    project: Project,
    profile: Profile,
    parts: LabParts,
    *,
    runtime: str,
    port: int,
    token: str,
    detach: bool,
    console: Console,
) -> LabInfo:
    """One lab session, on any runtime: JupyterLab on 127.0.0.1:port with ``extra``
    variables (the profile's name, the token, the tracking URI unless the profile has its
    own), MLflow's tracking server beside it with ``[services] mlflow``, the record
    (``.labship/lab.json``) that ``stop``, ``lab_running`` and dev runs read, and nothing
    left behind by a foreground lab that ended or a start that failed."""
    from labship.runtimes import tracking

    ensure_port_free(port)
    tracking_port = None
    if project.settings.mlflow:
        tracking_port = tracking.choose_port(project.settings.mlflow_port, avoid=port)
    extra = {"LABSHIP_PROFILE": profile.name, "JUPYTER_TOKEN": token}
    info = LabInfo(runtime, f"http://127.0.0.1:{port}/lab", port)
    handle = parts.handle()
    up = wrote = False
    try:
        if tracking_port is not None:
            handle["tracking"], reached_at = parts.start_tracking(tracking_port)
            info = replace(info, tracking_uri=f"http://127.0.0.1:{tracking_port}")
            if not profile.values.get(tracking.URI_VAR):  # never over the profile's own
                extra[tracking.URI_VAR] = reached_at
            console.say(f"MLflow tracking server at {info.tracking_uri}")
        if detach:
            handle.update(parts.start_detached(extra, info, handle))
            write_record(project, info, handle)
            up = True
            return info
        if handle:  # so dev runs find the lab and its server while it runs
            write_record(project, info, handle)
            wrote = True
        parts.run_foreground(extra, info, handle)
        return info
    finally:
        if not up:  # a foreground lab ended, or a start failed: nothing stays up
            parts.discard(handle)
            if "tracking" in handle:
                parts.stop_tracking(handle["tracking"])
            if wrote:
                clear_record(project)
