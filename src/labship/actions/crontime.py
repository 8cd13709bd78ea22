"""When cron runs a job: the machine's time zone, a schedule moved into it, next run times.

Debian's cron (3.0pl1, checked on Debian 12) schedules every crontab in one time zone,
the machine's: cron(8) says it "will only handle tasks in a single timezone" and reads
``/etc/timezone``; ``CRON_TZ=`` and ``TZ=`` lines are only passed on to the commands (a
test entry at 10:07 with ``CRON_TZ=Asia/Tokyo`` on a UTC machine fired at 10:07 UTC).
So a job's ``timezone`` is honoured by rewriting its schedule in the machine's zone,
which is exact only when the two zones stay a fixed distance apart (the same zone, or
zones that change their clocks together, or that never do) and the move keeps every
field expressible. Anything else is refused with the reason: a schedule cron would run
at the wrong hour half of the year is worse than none.

cronsim (BSD, healthchecks.io's evaluator) computes next run times: it reproduces
Debian cron's day-field rule and its daylight-saving handling, and proves each rewrite
by comparing run times. It is imported only here, never by ``labship run``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from labship.project.cronexpr import DOM, DOW, HOUR, MINUTE, MONTH, CronExpr

_HORIZON = timedelta(days=400)  # a year and a bit: every clock change comes once
_SAMPLE = timedelta(minutes=30)  # zones change clocks on the half hour at the finest
_PROOF_RUNS = 60


class NotExpressible(ValueError):
    """Why no crontab line runs the schedule at the job's times in the machine's zone."""


@dataclass(frozen=True)
class Zone:
    """A time zone and the name said in messages."""

    name: str
    info: tzinfo


def system_zone(etc: Path = Path("/etc")) -> Zone:
    """The zone Debian's cron runs in: /etc/timezone, else /etc/localtime, else UTC."""
    try:
        name = (etc / "timezone").read_text(encoding="utf-8").strip()
        return Zone(name, ZoneInfo(name))
    except (OSError, ValueError, KeyError):
        pass
    localtime = etc / "localtime"
    try:
        target = str(localtime.resolve())
        if "/zoneinfo/" in target:
            name = target.split("/zoneinfo/", 1)[1]
            return Zone(name, ZoneInfo(name))
        with open(localtime, "rb") as fh:
            return Zone("the machine's local time", ZoneInfo.from_file(fh, key="localtime"))
    except (OSError, ValueError, KeyError):
        return Zone("UTC", UTC)


def in_system_zone(expr: CronExpr, job: Zone, system: Zone, now: datetime) -> str:
    """``expr`` (read in ``job``'s zone) as a crontab line for ``system``'s, or
    NotExpressible with the reason."""
    hourly = expr.every(HOUR) and _all_days(expr)
    if hourly and expr.every(MINUTE):
        return expr.text  # every minute is every minute in any zone
    distances = _distances(job, system, now)
    if hourly and len({d % timedelta(hours=1) for d in distances}) == 1:
        shift = next(iter(distances)) % timedelta(hours=1)  # every hour: minutes matter
    elif len(distances) == 1:
        shift = next(iter(distances))
    else:
        (first, _), (other, since) = sorted(distances.items(), key=lambda item: item[1])[:2]
        raise NotExpressible(
            f"{job.name} is {_hours(first)} from {system.name} (cron's own zone) now but "
            f"{_hours(other)} from {since:%Y-%m-%d %H:%M} UTC: one crontab line cannot "
            "follow both clocks"
        )
    if shift == timedelta(0):
        return expr.text
    moved = _moved(expr, -int(shift.total_seconds() // 60), job, system)
    if next_runs(expr.text, job.info, _PROOF_RUNS, now) != next_runs(
        moved, system.info, _PROOF_RUNS, now
    ):
        raise NotExpressible(
            f"'{expr.text}' in {job.name} has no exact equivalent in {system.name} "
            "(cron's own zone): their run times differ"
        )
    return moved


def next_runs(text: str, zone: tzinfo, count: int, after: datetime) -> list[datetime]:
    """The next ``count`` run times of ``text`` in ``zone``, as UTC."""
    from cronsim import CronSim

    runs = CronSim(text, after.astimezone(zone))
    return [t.astimezone(UTC) for t in itertools.islice(runs, count)]


def _distances(job: Zone, system: Zone, now: datetime) -> dict[timedelta, datetime]:
    """How far ahead ``job``'s clocks are of ``system``'s over the coming year, each
    distance with the first moment it holds."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    seen: dict[timedelta, datetime] = {}
    for moment in (start + i * _SAMPLE for i in range(int(_HORIZON / _SAMPLE))):
        seen.setdefault(_distance(job, system, moment), moment)
    return seen


def _all_days(expr: CronExpr) -> bool:
    return expr.every(DOM) and expr.every(MONTH) and expr.every(DOW)


def _distance(job: Zone, system: Zone, moment: datetime) -> timedelta:
    job_offset = moment.astimezone(job.info).utcoffset() or timedelta(0)
    return job_offset - (moment.astimezone(system.info).utcoffset() or timedelta(0))


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}h{rest:02d}" if rest else f"{sign}{hours}h"


def _moved(expr: CronExpr, minutes: int, job: Zone, system: Zone) -> str:
    """The expression with its times moved by ``minutes``, when fields can say it."""
    times = {
        (h * 60 + m + minutes) for h in expr.values[HOUR] for m in expr.values[MINUTE]
    }  # minutes since the job's midnight, in the machine's zone
    days = {t // 1440 for t in times}
    clock = {t % 1440 for t in times}
    hours, mins = {t // 60 for t in clock}, {t % 60 for t in clock}
    where = (
        f"'{expr.text}' in {job.name} ({_hours(timedelta(minutes=-minutes))} from {system.name})"
    )
    if len(hours) * len(mins) != len(clock):
        raise NotExpressible(
            f"{where}: in {system.name} its minutes differ from hour to hour, "
            "which one crontab line cannot say"
        )
    day_bound = not _all_days(expr)
    if day_bound and len(days) > 1:
        raise NotExpressible(f"{where}: some of its times fall on the previous or next day")
    fields = list(expr.fields)
    fields[MINUTE], fields[HOUR] = _field(mins, 60), _field(hours, 24)
    day = next(iter(days))
    if day_bound and day != 0:
        if not (expr.every(DOM) and expr.every(MONTH)):
            raise NotExpressible(
                f"{where}: it moves to another day, and its days of the month cannot"
            )
        fields[DOW] = _field({(d + day) % 7 for d in expr.values[DOW]}, 7)
    return " ".join(fields)


def _field(values: set[int], size: int) -> str:
    """Cron's text for ``values``: ``*`` for all, else a list with runs as ranges."""
    if len(values) == size:
        return "*"
    ordered = sorted(values)
    runs: list[list[int]] = []
    for value in ordered:
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)
