"""What a target is: it renders the project, its lock and a profile into files another
system runs (``plan``); ``labship.targets`` checks and writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from labship.lock import Lock
    from labship.project import Project
    from labship.targets.generated import Planned


@dataclass(frozen=True)
class Context:
    """What every target renders from: the project, its lock when the target needs
    exact packages, and the profile whose variables (by name, never by value) it uses."""

    project: Project
    lock: Lock | None = None
    profile: str = "prod"
    jobs: tuple[str, ...] = ()  # only these jobs (targets that accept "jobs"); empty: all
    options: frozenset[str] = frozenset()  # switches a target accepts, e.g. "kubernetes"


class Target(Protocol):
    name: str

    def plan(self, context: Context) -> list[Planned]:
        """The files this target writes, rendered; nothing is written here."""
        ...
