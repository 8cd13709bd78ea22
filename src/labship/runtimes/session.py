"""One lab session, written once for every runtime: the port check, MLflow's tracking
server beside the lab, the lab's record and the clean-up are here; a runtime supplies
only its ``LabParts`` (how it starts a process or a container)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from labship.runtimes.base import LabInfo
from labship.runtimes.lab import clear_record, ensure_port_free, write_record

if TYPE_CHECKING:
    from labship.console import Console
    from labship.profiles import Profile
    from labship.project import Project


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
