"""A project's entries in the user's crontab: install, list, remove.

Every check comes before any write: each schedule is parsed and, with a ``timezone``,
rewritten in the zone Debian's cron runs in (``actions.crontime``), each wrapper's
ownership is checked, and only then are the wrappers written and the crontab replaced
(and only when its text changes, so running ``labship schedule`` twice changes nothing).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from labship.actions.crontime import NotExpressible, Zone, in_system_zone, next_runs, system_zone
from labship.errors import ConfigError, UsageError
from labship.generated import write_all
from labship.targets.cron import (
    MARKER,
    check_schedulable,
    planned,
    project_tag,
    scheduled_jobs,
    wrapper_path,
)
from labship.tools import crontab

if TYPE_CHECKING:
    from labship.console import Console
    from labship.project import Job, Project
    from labship.runlog import RunRecord


@dataclass(frozen=True)
class Installed:
    """One job in the crontab: its schedule as written and as cron reads it."""

    job: str
    schedule: str
    zone: str
    cron_schedule: str

    @property
    def moved(self) -> bool:
        """Whether cron reads another expression (the schedule moved to cron's zone)."""
        from labship.project.cronexpr import parse

        return parse(self.schedule).text != self.cron_schedule


@dataclass(frozen=True)
class Listed:
    """One scheduled job: its schedule, whether the crontab runs it, when it runs next
    (in its own zone), and how its last run went."""

    job: str
    schedule: str
    zone: str
    installed: str  # "yes", "no", "outdated" (differs from labship.toml), "orphan" (no job)
    next_runs: tuple[datetime, ...]
    last: RunRecord | None


def cron_schedule(
    project: Project, job: Job, system: Zone, now: datetime, *, where: str = ""
) -> str:
    """The job's schedule as a crontab line in ``system``'s zone, or ConfigError why not
    (naming ``where`` the schedule came from, by default labship.toml)."""
    from labship.project.cronexpr import parse

    expr = parse(job.schedule)  # valid: labship.toml was checked when read
    if not job.timezone:
        return expr.text
    try:
        return in_system_zone(expr, _zone(job.timezone), system, now)
    except NotExpressible as exc:
        raise ConfigError(
            f"{where or f'{project.config_path}: [jobs.{job.name}]'} cannot run in cron: {exc}",
            hint=f'write the schedule in {system.name} (timezone = "{system.name}"), '
            f"or set the machine's zone to {job.timezone} (/etc/timezone)",
        ) from None


def _zone(name: str) -> Zone:
    from zoneinfo import ZoneInfo

    return Zone(name, ZoneInfo(name))


def _entry(project: Project, job: Job, schedule: str) -> crontab.Entry:
    """``% `` would end the command in a crontab line; a newline would end the line."""
    command = shlex.quote(str(wrapper_path(project, job))).replace("%", "\\%")
    if "\n" in command:
        raise ConfigError(f"{project.root}: a crontab line cannot hold this path (a newline)")
    return crontab.Entry(f"{project_tag(project)} {job.name}", f"{schedule} /bin/sh {command}")


def _ours(project: Project, names: list[str] | None) -> Callable[[str], bool]:
    tag = project_tag(project)

    def drop(entry_tag: str) -> bool:
        owner, _, job = entry_tag.partition(" ")
        return owner == tag and (names is None or job in names)

    return drop


def schedule(
    project: Project,
    name: str | None = None,
    *,
    cron: str | None = None,
    timezone: str | None = None,
    force: bool = False,
    console: Console,
) -> list[Installed]:
    """``labship schedule [JOB] [--cron EXPR] [--timezone TZ]``: with ``cron`` or
    ``timezone``, checked, then written to labship.toml; then installed."""
    if cron is not None or timezone is not None:
        if name is None:
            raise UsageError(
                "--cron and --timezone set the schedule of one job",
                hint="labship schedule JOB --cron '0 22 * * *'",
            )
        project = _with_schedule(project, name, cron, timezone, console)
    names = None if name is None else [name]
    if cron is None and timezone is None:
        for job in scheduled_jobs(project, names):
            _check_runnable(project, job, console)
    installed = install(project, names, force=force)
    if crontab.daemon_running() is False:
        console.warn(
            "no cron daemon is running: the entries fire once it is started (service cron start)"
        )
    return installed


def _with_schedule(
    project: Project, name: str, cron: str | None, tz: str | None, console: Console
) -> Project:
    """The project after writing the job's new schedule, every check passed first."""
    from labship.project import Project as Loaded
    from labship.project.settings import check_schedule, check_timezone
    from labship.project.tomledit import set_schedule

    job = project.job(name)
    try:
        if cron is not None:
            check_schedule(cron, "--cron")
        if tz is not None:
            check_timezone(tz, "--timezone")
    except ConfigError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    new = replace(
        job,
        schedule=job.schedule if cron is None else cron,
        timezone=job.timezone if tz is None else tz,
    )
    if not new.schedule:
        raise UsageError(f"job {name!r} has no schedule to set a time zone for", hint="add --cron")
    try:
        where = f"--cron {new.schedule!r} --timezone {new.timezone}" if new.timezone else ""
        cron_schedule(project, new, system_zone(), datetime.now(UTC), where=where)
    except ConfigError as exc:
        raise UsageError(exc.message, hint=exc.hint) from None
    crontab.read()  # cron missing: stop before labship.toml changes
    _check_runnable(project, new, console)
    settings = set_schedule(project.config_path, name, schedule=cron, timezone=tz)
    return Loaded(project.root, settings)


def _check_runnable(project: Project, job: Job, console: Console) -> None:
    """What would make every scheduled run fail, said now rather than at 3 a.m."""
    from labship.errors import StaleLockError
    from labship.locking import read_lock
    from labship.profiles import load_profile

    settings = project.settings
    load_profile(project.root, job.profile, required=settings.required, secret=settings.secret)
    try:
        read_lock(project)
    except StaleLockError as exc:
        console.warn(
            f"{exc.message}: scheduled runs use --locked and stop (exit 77) until "
            "'labship lock' is run"
        )


def install(
    project: Project,
    names: list[str] | None = None,
    *,
    force: bool = False,
    system: Zone | None = None,
    now: datetime | None = None,
) -> list[Installed]:
    """Put the jobs (default: every scheduled one, and no other of the project's) in the
    user's crontab, each calling its freshly written wrapper."""
    jobs = scheduled_jobs(project, names)
    zone = system or system_zone()
    moment = now or datetime.now(UTC)
    for job in jobs:
        check_schedulable(project, job)
    lines = {job.name: cron_schedule(project, job, zone, moment) for job in jobs}
    current = crontab.read()  # cron missing: stop before writing any file
    write_all([planned(project, job) for job in jobs], force=force)
    add = [_entry(project, job, lines[job.name]) for job in jobs]
    _write_if_changed(current, crontab.replace(current, MARKER, _ours(project, names), add))
    return [
        Installed(job.name, job.schedule, job.timezone or zone.name, lines[job.name])
        for job in jobs
    ]


def remove(project: Project, names: list[str] | None = None) -> list[str]:
    """Take the project's entries (or those of ``names``) out of the crontab; the names
    of the jobs removed."""
    current = crontab.read()
    drop = _ours(project, names)
    removed = [e.tag.partition(" ")[2] for e in crontab.entries(current, MARKER) if drop(e.tag)]
    _write_if_changed(current, crontab.replace(current, MARKER, drop))
    return removed


def _write_if_changed(before: bytes, after: bytes) -> None:
    if after != before:
        crontab.write(after)


def listing(
    project: Project, *, system: Zone | None = None, now: datetime | None = None
) -> list[Listed]:
    """Every scheduled job, and every entry of the project's that no job claims."""
    from labship import runlog

    zone = system or system_zone()
    moment = now or datetime.now(UTC)
    installed = _installed(project)
    last = {r.job: r for r in runlog.read(project.state_dir).records}
    rows = []
    for job in scheduled_jobs(project):
        line = installed.pop(job.name, None)
        own = _zone(job.timezone) if job.timezone else zone
        rows.append(
            Listed(
                job.name,
                job.schedule,
                own.name,
                _state(project, job, line, zone, moment),
                _next(job.schedule, own, moment),
                last.get(job.name),
            )
        )
    for name, line in installed.items():
        schedule = " ".join(line.split()[:5])
        rows.append(
            Listed(
                name, schedule, zone.name, "orphan", _next(schedule, zone, moment), last.get(name)
            )
        )
    return rows


def _installed(project: Project) -> dict[str, str]:
    """Job name -> its cron line, for the project's entries in the crontab."""
    tag = project_tag(project)
    found = {}
    for entry in crontab.entries(crontab.read(), MARKER):
        owner, _, job = entry.tag.partition(" ")
        if owner == tag:
            found[job] = entry.line
    return found


def _state(project: Project, job: Job, line: str | None, zone: Zone, now: datetime) -> str:
    if line is None:
        return "no"
    try:
        expected = _entry(project, job, cron_schedule(project, job, zone, now)).line
    except ConfigError:
        return "outdated"
    return "yes" if line == expected else "outdated"


def _next(schedule: str, zone: Zone, now: datetime) -> tuple[datetime, ...]:
    """The next three run times in ``zone``; none for a line labship cannot read."""
    from labship.project.cronexpr import CronSyntaxError, parse

    try:
        text = parse(schedule).text
    except CronSyntaxError:
        return ()
    return tuple(t.astimezone(zone.info) for t in next_runs(text, zone.info, 3, now))
