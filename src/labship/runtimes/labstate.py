"""What every runtime's JupyterLab shares: the port check, the readiness probe, and the
record of a detached lab (``.labship/lab.json``) that ``labship stop`` reads."""

from __future__ import annotations

import errno
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.atomicfile import write_text_atomic
from labship.errors import PortInUse, ToolError

if TYPE_CHECKING:
    from labship.project import Project
    from labship.runtimes.base import LabInfo

LAB_STATE = "lab.json"


def port_in_use(port: int) -> PortInUse:
    return PortInUse(
        f"port {port} on 127.0.0.1 is already in use",
        hint="stop what uses it, or pick another: labship lab --port N "
        "(or [lab] port in labship.toml)",
    )


def ensure_port_free(port: int) -> None:
    """Fail before the server does, with a message that says what to change."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise port_in_use(port) from None
            raise


def ready(port: int, token: str) -> bool:
    """True when the server answers ``/api/status`` with 200 for this token."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def wait_ready(
    port: int,
    token: str,
    *,
    alive: Callable[[], bool] | None = None,
    log: Path | None = None,
    timeout: float = 90,
) -> None:
    """Until JupyterLab answers its REST API with our token, or it died, or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            break
        if ready(port, token):
            return
        time.sleep(0.3)
    where = f"; see {log}" if log else ""
    raise ToolError(f"JupyterLab did not answer on 127.0.0.1:{port}{where}")


def state_path(project: Project) -> Path:
    return project.state_dir / LAB_STATE


def write_state(project: Project, info: LabInfo) -> None:
    record = {
        "runtime": info.runtime,
        "url": info.url,
        "port": info.port,
        "pid": info.pid,
        "container": info.container,
    }
    write_text_atomic(state_path(project), json.dumps(record, indent=2) + "\n")


def read_state(project: Project) -> dict[str, Any] | None:
    try:
        data = json.loads(state_path(project).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def clear_state(project: Project) -> None:
    state_path(project).unlink(missing_ok=True)
