"""A labship schedule as Kubernetes' CronJob controller reads it (robfig/cron v3).

labship's schedules mean what Debian's cron means (``labship.project.cronexpr``). The
controller differs in two ways that change which days a job runs: weekday 7 is out of
range (Debian: Sunday), and the day-of-month and day-of-week fields are ANDed when either
has an element ``*`` (or ``*/1``), where Debian ANDs them when either field *starts* with
``*`` (``*/2`` included). Each field is written as labship wrote it, weekday 7 as 0; an
expression whose days still differ is refused with the reason. The API server also
refuses ``TZ=``/``CRON_TZ=`` in a schedule, which the schemas do not see: labship checks
the schedule and the zone itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from labship.errors import ConfigError

if TYPE_CHECKING:
    from labship.project import Job, Project
    from labship.project.cronexpr import CronExpr

_SEVEN = re.compile(r"(?<![0-9/])7(?![0-9])")


def k8s_schedule(project: Project, job: Job) -> str:
    """The job's schedule for a CronJob's ``schedule``; the same days and times."""
    from labship.project.cronexpr import DOW, parse
    from labship.project.settings import check_schedule

    where = f"{project.config_path}: [jobs.{job.name}] schedule"
    if "TZ=" in job.schedule:
        raise ConfigError(
            f"{where} = {job.schedule!r}: a zone inside the schedule is refused by Kubernetes",
            hint='put the zone in timezone = "Europe/Berlin" instead',
        )
    check_schedule(job.schedule, where)
    if job.timezone:
        _check_zone(project, job)
    expr = parse(job.schedule)
    fields = list(expr.fields)
    fields[DOW] = _weekdays(fields[DOW], expr)
    if not _same_days(expr, fields):
        raise ConfigError(
            f"{where} = {job.schedule!r}: Kubernetes would run it on other days than cron "
            "(it ORs day-of-month and day-of-week unless one is a plain '*')",
            hint="list the days instead of '*/n', e.g. '1,15' for the day of month",
        )
    return " ".join(fields)


def _check_zone(project: Project, job: Job) -> None:
    """An IANA name the API server takes: not the machine's own zone by another name."""
    from labship.project.settings import check_timezone

    where = f"{project.config_path}: [jobs.{job.name}] timezone"
    if job.timezone.lower() in {"local", "localtime"}:  # not a runtime
        raise ConfigError(
            f"{where} = {job.timezone!r} names no zone a cluster knows (Kubernetes refuses it)",
            hint='name the zone, e.g. timezone = "Europe/Berlin", or leave it out',
        )
    check_timezone(job.timezone, where)


def _weekdays(text: str, expr: CronExpr) -> str:
    """The day-of-week field without 7 (the controller's range is 0-6)."""
    from labship.project.cronexpr import DOW

    if not _SEVEN.search(text):
        return text
    days = sorted(expr.values[DOW])
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def _robfig_star(text: str) -> bool:
    return any(element in {"*", "*/1", "?"} for element in text.split(","))


def _same_days(expr: CronExpr, fields: list[str]) -> bool:
    """Whether Debian's cron and the controller pick the same (day, weekday) pairs."""
    from labship.project.cronexpr import DOM, DOW

    debian_and = expr.starred(DOM) or expr.starred(DOW)
    k8s_and = _robfig_star(fields[DOM]) or _robfig_star(fields[DOW])
    if debian_and == k8s_and:
        return True
    doms, dows = expr.values[DOM], expr.values[DOW]
    for day in range(1, 32):
        for weekday in range(7):
            pair = (day in doms, weekday in dows)
            debian = all(pair) if debian_and else any(pair)
            k8s = all(pair) if k8s_and else any(pair)
            if debian != k8s:
                return False
    return True
