"""``labship schedule``: the project's jobs in the user's crontab.

    labship schedule                       install every scheduled job of the project
    labship schedule JOB [--cron EXPR] [--timezone TZ]
                                           one job; --cron/--timezone write labship.toml
    labship schedule list [--json]         entries, next three runs, last run
    labship schedule remove [JOB]          take the project's entries (or one) out

``--event`` (hidden) is how the generated wrapper reports a run it skipped or stopped.
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from labship.cli.args import project_of
from labship.console import Console, columns
from labship.errors import UsageError

if TYPE_CHECKING:
    from labship.actions.schedule import Listed

Add = Callable[..., argparse.ArgumentParser]
_EVENTS = ("start", "end", "skipped")


def cmd_schedule(args: argparse.Namespace, console: Console) -> int:
    words: list[str] = args.words
    if args.event is not None:
        return _event(args, console)
    verb = words[0] if words and args.cron is None and args.timezone is None else None
    if verb == "remove":
        return _remove(args, console)
    if verb == "list" and len(words) == 1:
        return _list(args)
    if len(words) > 1:
        raise UsageError(
            f"labship schedule: one job at a time, not {len(words)}",
            hint="see 'labship schedule --help'",
        )
    return _install(args, console, words[0] if words else None)


def _install(args: argparse.Namespace, console: Console, job: str | None) -> int:
    from labship import api

    project = project_of(args)
    installed = api.schedule(
        project, job, cron=args.cron, timezone=args.timezone, force=args.force, console=console
    )
    if not installed:
        console.say(f"no job in {project.config_path.name} has a schedule; nothing installed")
    for entry in installed:
        cron = f"; cron: {entry.cron_schedule}" if entry.moved else ""
        console.say(f"scheduled {entry.job!r}: {entry.schedule} ({entry.zone}{cron})")
    if installed:
        console.say("'labship schedule list' shows the next runs; logs in .labship/cron/logs/")
    return 0


def _list(args: argparse.Namespace) -> int:
    from labship import api

    rows = api.schedule_list(project_of(args))
    if args.json:
        print(json.dumps([_as_json(row) for row in rows], indent=2))
    elif rows:
        print(_table(rows))
    else:
        print("no scheduled jobs")
    return 0


def _remove(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    if len(args.words) > 2:
        raise UsageError("labship schedule remove: one job at a time", hint="or none: all of them")
    project = project_of(args)
    job = args.words[1] if len(args.words) == 2 else None
    removed = api.unschedule(project, job)
    for name in removed:
        console.say(f"removed {name!r} from your crontab")
        if name in project.settings.jobs and project.settings.jobs[name].schedule:
            console.say("labship.toml still schedules it: 'labship schedule' installs it again")
    if not removed:
        what = f"no entry for {job!r}" if job else "no entry of this project"
        console.say(f"{what} in your crontab; nothing removed")
    return 0


def _event(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    if len(args.words) != 1 or args.started is None:
        raise UsageError("labship schedule --event needs one JOB and --started")
    api.schedule_event(
        project_of(args),
        args.words[0],
        args.event,
        started=args.started,
        exit_code=args.exit_code,
        timed_out=args.timed_out,
        console=console,
    )
    return 0


def _last(row: Listed) -> str:
    r = row.last
    if r is None:
        return "never"
    return (
        f"{r.start} exit {r.exit_code}{' ' + r.outcome if r.outcome else ''} ({r.duration_s:.1f}s)"
    )


def _as_json(row: Listed) -> dict[str, Any]:
    return {
        "job": row.job,
        "schedule": row.schedule,
        "timezone": row.zone,
        "installed": row.installed,
        "next_runs": [t.isoformat() for t in row.next_runs],
        "last_run": row.last.to_json() if row.last else None,
    }


def _table(rows: list[Listed]) -> str:
    head = ("job", "schedule", "zone", "installed", "next runs", "last run")
    body = [
        (
            shlex.quote(row.job),
            row.schedule,
            row.zone,
            row.installed,
            ", ".join(f"{t:%Y-%m-%d %H:%M}" for t in row.next_runs) or "-",
            _last(row),
        )
        for row in rows
    ]
    return columns([head, *body])


def register(add: Add) -> None:
    p = add("schedule", cmd_schedule, "install the project's scheduled jobs in your crontab")
    p.add_argument("words", nargs="*", metavar="[JOB | list | remove [JOB]]")
    p.add_argument("--cron", metavar="EXPR", help="set JOB's schedule (written to labship.toml)")
    p.add_argument("--timezone", metavar="TZ", help="the schedule's time zone, e.g. Europe/Berlin")
    p.add_argument("--force", action="store_true", help="overwrite hand-edited wrappers")
    p.add_argument("--json", action="store_true", help="with list: as JSON")
    p.add_argument("--event", choices=_EVENTS, help=argparse.SUPPRESS)
    p.add_argument("--started", type=int, help=argparse.SUPPRESS)
    p.add_argument("--exit-code", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--timed-out", action="store_true", help=argparse.SUPPRESS)
