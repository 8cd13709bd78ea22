"""What a target is: it renders the project, its lock and a profile into files another
system runs (``plan``); ``labship.targets`` checks and writes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from labship.generated import Planned
    from labship.locking import Lock
    from labship.project import Job, Project


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


def selected_jobs(context: Context) -> list[Job]:
    """The jobs named in the context (each must exist), else every job of the project."""
    from labship.errors import UsageError

    project = context.project
    if context.jobs:
        return [project.job(name) for name in dict.fromkeys(context.jobs)]
    if not project.settings.jobs:
        raise UsageError(
            f"{project.config_path}: no jobs to export",
            hint="add a [jobs.NAME] table with a command",
        )
    return list(project.settings.jobs.values())


def distinct_names(
    project: Project, jobs: Iterable[Job], name_of: Callable[[str], str], what: str, allowed: str
) -> list[tuple[str, Job]]:
    """Each job's name in another system (a compose service, an Airflow task, a
    Kubernetes resource); two jobs that would get one name are refused, naming both."""
    from labship.errors import ConfigError

    seen: dict[str, Job] = {}
    for job in jobs:
        name = name_of(job.name)
        if name in seen:
            raise ConfigError(
                f"{project.config_path}: jobs {seen[name].name!r} and {job.name!r} would both "
                f"be the {what} {name!r}",
                hint=f"rename one of them ({allowed})",
            )
        seen[name] = job
    return list(seen.items())
