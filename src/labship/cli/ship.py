"""The commands that ship: push the prod image, run a pushed one, check the machine."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labship.cli.args import lock_flags, lock_mode, project_of
from labship.console import Console

Add = Callable[..., argparse.ArgumentParser]


def cmd_push(args: argparse.Namespace, console: Console) -> int:
    from labship import api
    from labship.pushes import run_commands

    project = project_of(args)
    result = api.push(project, to=args.to, lock_mode=lock_mode(args), console=console)
    record = result.record
    if record.uploaded:
        print(f"pushed {record.ref} in {result.seconds:.1f}s")
    else:
        print(f"already there: {record.ref} (nothing uploaded; asked in {result.seconds:.2f}s)")
    print(f"tags: {', '.join(f'{record.image}:{tag}' for tag in record.tags)}")
    jobs = {name: job.argv for name, job in project.settings.jobs.items()}
    if jobs:
        print("run exactly this image elsewhere (a .env_prod beside you):")
        for name, command in run_commands(record.ref, jobs):
            print(f"  {name}: {command}")
    return 0


def cmd_run_image(args: argparse.Namespace, console: Console) -> int:
    """``labship run --image REF [JOB]``: no project, only ``.env_<profile>`` here (or -C)."""
    from labship import api

    directory = getattr(args, "directory", None)
    folder = Path(directory) if directory else Path.cwd()
    code = api.run_image(
        args.image,
        args.job,
        folder=folder,
        profile_name=args.profile,
        runtime=args.runtime,
        console=console,
    )
    if code != 0:
        console.say(f"job exited with code {code}")
    return code


def cmd_doctor(args: argparse.Namespace, console: Console) -> int:
    from labship import api
    from labship.errors import NotAProjectError

    try:
        project = project_of(args)
    except NotAProjectError:
        project = None  # the machine alone
    report = api.doctor(project)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return report.exit_code
    width = max(len(c.name) for c in report.checks)
    for check in report.checks:
        mark = "ok" if check.ok else ("FAIL" if check.needed else "--")
        print(f"{mark:<5} {check.name:<{width}}  {check.detail}")
        if not check.ok and check.fix:
            print(f"{'':<5} {'':<{width}}  fix: {check.fix}")
    where = project.name if project else "this machine"
    ready = f"ready: {', '.join(report.ready)}" if report.ready else "nothing is ready"
    if report.ok:
        console.say(f"everything {where} needs is here ({ready})")
    else:
        missing = sum(1 for c in report.checks if c.needed and not c.ok)
        console.say(
            f"{missing} thing(s) {where} needs are missing (FAIL above): "
            f"{', '.join(report.not_ready)} will not work; {ready}"
        )
    return report.exit_code


def register(add: Add) -> None:
    p: Any = add("push", cmd_push, "push the prod image to the registry, pinned by digest")
    p.add_argument("--to", metavar="REGISTRY/NAME", help="default: labship.toml [docker] registry")
    lock_flags(p)
    p = add("doctor", cmd_doctor, "what is installed and reachable, and how to fix what is not")
    p.add_argument("--json", action="store_true")


__all__ = ["cmd_doctor", "cmd_push", "cmd_run_image", "register"]
