"""What a runtime is: the one interface behind ``labship run`` (and, optionally, ``lab``,
``shell`` and ``stop``).

A runtime turns (project, lock, profile) into running things. ``prepare`` makes the
environment for a lock exist and returns it; ``run`` receives that environment, so
nothing is prepared twice. The orchestration that is the same everywhere (checking the
lock, validating the profile, the run log) lives in ``labship.api``; a runtime only does
what differs. A runtime that can host JupyterLab and shells also implements
``Interactive``; each keeps its own record of a detached lab.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from labship.console import Console
    from labship.locking import Lock
    from labship.profiles import Profile
    from labship.project import Job, Project
    from labship.tools.process import Ended


@dataclass(frozen=True)
class Environment:
    """A ready set of packages for one lock: runtimes subclass it with their own handle
    (a venv folder, an image id)."""

    runtime: str
    lock_hash: str
    dev: bool
    created: bool


@dataclass(frozen=True)
class LabInfo:
    runtime: str
    url: str
    port: int
    tracking_uri: str | None = None  # the MLflow tracking server beside it, on this machine


E = TypeVar("E", bound=Environment)


@runtime_checkable
class Runtime(Protocol, Generic[E]):
    """What every caller may use; nothing is read with ``getattr``."""

    name: str
    # Jobs run in containers of an image (a pushed prod image can run as it is; ``serve``
    # builds and runs the serving image; doctor needs the engine, not a Python).
    runs_images: bool
    # A dev job can reach the MLflow tracking server beside this runtime's lab.
    tracks_jobs: bool

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> E:
        """Make the environment for ``lock`` exist: the prod set, or prod + dev (idempotent,
        atomic; a failure leaves the previous environment in place)."""
        ...

    def run(
        self, project: Project, env: E, job: Job, profile: Profile, *, console: Console
    ) -> Ended:
        """Run ``job`` with exactly the profile's variables; stream output; return how it
        ended (its code, and the signal it was sent and whether it had to be killed)."""
        ...


@runtime_checkable
class Interactive(Runtime[E], Protocol):
    """The optional part: JupyterLab and shells."""

    def lab(
        self,
        project: Project,
        env: E,
        profile: Profile,
        *,
        port: int,
        token: str,
        detach: bool,
        console: Console,
    ) -> LabInfo:
        """Start JupyterLab on 127.0.0.1:port (blocks unless ``detach``)."""
        ...

    def lab_running(self, project: Project) -> LabInfo | None:
        """This runtime's detached lab for the project, if it is still the one it started."""
        ...

    def stop(self, project: Project, *, console: Console) -> bool:
        """Stop this project's detached lab; False when none was running."""
        ...

    def shell(self, project: Project, env: E, profile: Profile, *, console: Console) -> int:
        """An interactive shell in the dev environment."""
        ...

    def tracking_running(self, project: Project) -> str | None:
        """The URI (on this machine) of the MLflow tracking server this runtime started
        beside the project's lab, while it is still the one it started; else None."""
        ...
