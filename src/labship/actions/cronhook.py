"""What the cron wrapper asks of labship around a run (``labship schedule --event``).

``labship run`` records every run it starts. The wrapper knows three things it cannot:
a run that was skipped (the previous one still held the lock), a run stopped by the
job's timeout, and a run that never reached the job (``--locked`` found the lock stale,
the profile is missing, ...: labship run exits before recording). Each gets its own
record, with ``outcome`` saying which (``skipped``, ``timeout``, ``error``).

With ``[jobs.X] ping_url``, the run is reported the healthchecks.io way: ``URL/start``
when it starts, ``URL`` when it succeeds, ``URL/<exit code>`` when it fails or times out.
A ping that fails is a warning in the run's log, never a failed run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from labship.targets.cron import runtime_of

if TYPE_CHECKING:
    from labship.console import Console
    from labship.project import Job, Project

Event = Literal["start", "end", "skipped"]
EVENTS: tuple[Event, ...] = ("start", "end", "skipped")
SKIPPED_EXIT = 75  # EX_TEMPFAIL: try again later
PING_TIMEOUT = 10.0
_ISO = "%Y-%m-%dT%H:%M:%SZ"


def event(
    project: Project,
    job_name: str,
    what: Event,
    *,
    started: int,
    exit_code: int = 0,
    timed_out: bool = False,
    console: Console,
) -> None:
    """Record and ping what the wrapper saw: ``started`` is when it began (epoch s)."""
    job = project.job(job_name)
    if what == "start":
        ping(job.ping_url, "start", console=console)
    elif what == "skipped":
        _record(project, job, started, SKIPPED_EXIT, "skipped")
    else:
        if timed_out:
            _record(project, job, started, exit_code, "timeout")
        elif not _recorded_since(project, job, started, exit_code):
            _record(project, job, started, exit_code, "error")
        failed = timed_out or exit_code != 0
        ping(job.ping_url, str(exit_code) if failed else "", console=console)


def _recorded_since(project: Project, job: Job, started: int, exit_code: int) -> bool:
    """Whether ``labship run`` recorded this run itself: a record of the job, started
    since the wrapper began, with the exit code the wrapper saw (a run of the same second
    that ended otherwise, e.g. a manual one just before, is not this one)."""
    from labship import runlog

    since = time.strftime(_ISO, time.gmtime(started))
    return any(
        r.job == job.name and r.start >= since and r.exit_code == exit_code
        for r in runlog.read(project.state_dir).records
    )


def _record(project: Project, job: Job, started: int, exit_code: int, outcome: str) -> None:
    from labship import runlog
    from labship.tools.git import head_commit

    runlog.append(
        project.state_dir,
        runlog.RunRecord(
            job=job.name,
            profile=job.profile,
            runtime=runtime_of(project, job),
            start=time.strftime(_ISO, time.gmtime(started)),
            duration_s=round(max(time.time() - started, 0.0), 3),
            exit_code=exit_code,
            lock_hash=_lock_hash(project),
            git_commit=head_commit(project.root),
            outcome=outcome,
        ),
    )


def _lock_hash(project: Project) -> str:
    """The prod lock's hash as it is on disk; "" when there is no readable lock."""
    from labship.errors import LabshipError
    from labship.locking import read_lock

    try:
        return read_lock(project, check=False).prod_hash
    except (LabshipError, OSError):
        return ""


def ping(url: str, suffix: str, *, console: Console) -> None:
    """GET ``url/suffix`` (``url`` alone for success); a failure is only a warning."""
    if not url:
        return
    from urllib.parse import urlsplit

    from labship.tools import http

    target = url.rstrip("/") + (f"/{suffix}" if suffix else "")
    try:
        http.request(target, headers={"User-Agent": "labship"}, timeout=PING_TIMEOUT)
    except http.HTTPError as exc:
        reason = exc.reason if exc.status is None else f"{exc.status} {exc.reason}"
        console.warn(f"ping to {urlsplit(url).netloc} failed ({reason}); the run is unaffected")
