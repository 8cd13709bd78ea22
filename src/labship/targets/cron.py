"""The cron target: each scheduled job as a crontab entry that calls a generated wrapper.

A crontab line is a poor place for a command (``%`` is a newline there, ``PATH`` is
``/usr/bin:/bin``, nothing of the user's shell is set), so each entry only runs
``/bin/sh .labship/cron/<job>.sh``. The wrapper (``templates/cron/job.sh.j2``) holds
what a run needs: the overlap lock (flock), the timeout, one log per run with
retention, ``labship run JOB --profile P --locked``, and calls back into labship for
what ``labship run`` cannot know (skipped and stopped runs, healthchecks pings:
``labship.actions.cronhook``).

Decisions:

- **Wrappers live in the project** (``.labship/cron/``, git-ignored machine state, with
  the run log and the logs they write). They are generated files (``labship.generated``):
  a hand edit is refused, ``labship eject cron`` hands them over and labship then runs
  them as they are. They hold paths and names, never a variable's value.
- **Marked entries.** Each entry sits under ``# labship:<project> <job>`` (``<project>``:
  12 hex digits of the project folder's path), so labship finds its own and never
  touches another line (``tools.crontab``).
- **Logs**: the last ``KEEP_LOGS`` runs of each job (fixed: a scheduled job's history
  is the run log; the logs are for reading the latest failures).
- **Docker**: a job on the docker runtime runs the image of the project's last push,
  by digest, when there is one (``last_pushed``); else ``labship run`` uses the local
  prod image.
- **Runtime**: the job's ``runtime``, else the project's; ``auto`` is decided by
  ``labship run`` when the job runs, as for any run.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import ConfigError, UsageError
from labship.generated import Header, Planned, with_header
from labship.targets.base import Context

if TYPE_CHECKING:
    from labship.project import Job, Project

MARKER = "labship:"
KEEP_LOGS = 30
KILL_MARGIN = 5  # labship run kills the job after its stop_timeout; then timeout kills
HEADER = Header(
    sources="labship.toml",
    command="labship schedule",
    takeover="run 'labship eject cron' to take it over (labship then runs it as it is)",
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_CRON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def project_tag(project: Project) -> str:
    """12 hex digits naming the project folder in crontab markers."""
    return hashlib.sha256(str(project.root.resolve()).encode()).hexdigest()[:12]


def cron_dir(project: Project) -> Path:
    from labship import state

    return state.of(project).cron


def _slug(name: str) -> str:
    """A file name for the job: itself when safe, else a safe form and a hash of it."""
    slug = _UNSAFE.sub("-", name).strip("-.") or "job"
    return slug if slug == name else f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def wrapper_path(project: Project, job: Job) -> Path:
    return cron_dir(project) / f"{_slug(job.name)}.sh"


def log_dir(project: Project, job: Job) -> Path:
    return cron_dir(project) / "logs" / _slug(job.name)


def runtime_of(project: Project, job: Job) -> str:
    return job.runtime or project.settings.runtime


def scheduled_jobs(project: Project, names: list[str] | None = None) -> list[Job]:
    """The jobs with a schedule (``names``: those, each of which must have one)."""
    if names is None:
        return [job for job in project.settings.jobs.values() if job.schedule]
    jobs = [project.job(name) for name in names]
    for job in jobs:
        if not job.schedule:
            raise UsageError(
                f"job {job.name!r} has no schedule in {project.config_path}",
                hint=f"labship schedule {shlex.quote(job.name)} --cron '0 22 * * *'",
            )
    return jobs


def check_schedulable(project: Project, job: Job) -> None:
    """A job name must fit on a crontab comment line."""
    if not job.name.isprintable():
        raise ConfigError(
            f"{project.config_path}: job {job.name!r} cannot be named in a crontab",
            hint="rename it without control characters",
        )


class CronTarget:
    """``.labship/cron/<job>.sh`` for every scheduled job: what its crontab entry runs."""

    name = "cron"

    def plan(self, context: Context) -> list[Planned]:
        return [planned(context.project, job) for job in scheduled_jobs(context.project)]


def planned(project: Project, job: Job) -> Planned:
    """The job's wrapper; a wrapper the user took over (ejected) is run as it is."""
    body = render_wrapper(project, job)
    return Planned(
        wrapper_path(project, job), with_header(HEADER, body), "keep", "labship eject cron"
    )


def render_wrapper(project: Project, job: Job) -> str:
    """The wrapper's body; only paths, names and numbers go in, never a value."""
    import os

    from labship import runtimes
    from labship.pushes import last_pushed
    from labship.templates import environment

    flags = ["--profile", job.profile, "--locked"]
    runtime = runtime_of(project, job)
    if runtime != runtimes.AUTO:
        flags += [runtimes.FLAG, runtime]
    runs_images = runtime in runtimes.names() and runtimes.get(runtime).runs_images
    pushed = last_pushed(project) if runs_images else None
    if pushed is not None:
        flags += ["--image", pushed.ref]
    store = os.environ.get("LABSHIP_STORE")
    env = environment().overlay()
    env.filters["sh"] = shlex.quote
    return env.get_template("cron/job.sh.j2").render(
        project=project.name,
        root=str(project.root),
        job=job.name,
        profile=job.profile,
        python=sys.executable,
        path=f"{Path(sys.executable).parent}:{_CRON_PATH}",
        environment=[("LABSHIP_STORE", store)] if store else [],
        logs=str(log_dir(project, job)),
        lock=str(cron_dir(project) / f"{_slug(job.name)}.lock"),
        keep=KEEP_LOGS,
        timeout=job.timeout,
        grace=job.stop_timeout + KILL_MARGIN,
        run_flags=shlex.join(flags),
    )
