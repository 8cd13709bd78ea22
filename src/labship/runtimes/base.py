"""What a runtime is: the one interface behind ``lab``, ``run``, ``shell`` and ``build``.

A runtime turns (project, lock, profile) into running things. The orchestration that
is the same everywhere (checking the lock, validating the profile, the run log) lives
in ``labship.api``; a runtime only does what differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from labship.console import Console
    from labship.lock import Lock
    from labship.profiles import Profile
    from labship.project import Job, Project


@dataclass(frozen=True)
class Prepared:
    """A ready environment: a venv path (local) or an image reference (docker)."""

    runtime: str
    ref: str
    created: bool


@dataclass(frozen=True)
class LabInfo:
    runtime: str
    url: str
    port: int
    pid: int | None = None
    container: str | None = None


class Runtime(Protocol):
    name: str

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> Prepared:
        """Make the environment for ``lock`` exist: the prod set, or prod + dev (idempotent,
        atomic; a failure leaves the previous environment in place)."""
        ...

    def run(
        self, project: Project, lock: Lock, job: Job, profile: Profile, *, console: Console
    ) -> int:
        """Run ``job`` with exactly the profile's variables; stream output; return its code."""
        ...

    def lab(
        self,
        project: Project,
        lock: Lock,
        profile: Profile,
        *,
        port: int,
        token: str,
        detach: bool,
        console: Console,
    ) -> LabInfo:
        """Start JupyterLab on 127.0.0.1:port (blocks unless ``detach``)."""
        ...

    def stop(self, project: Project, *, console: Console) -> bool:
        """Stop this project's detached lab; False when none was running."""
        ...

    def shell(self, project: Project, lock: Lock, profile: Profile, *, console: Console) -> int:
        """An interactive shell in the dev environment."""
        ...
