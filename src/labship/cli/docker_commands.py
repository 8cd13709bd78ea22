"""The commands that make files other systems run: images, compose files."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from labship.console import Console

Add = Callable[..., argparse.ArgumentParser]


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    from labship import api
    from labship.cli import _project

    targets = ("dev", "prod") if args.target == "all" else (args.target,)
    for image in api.build(_project(args), targets, force=args.force, console=console):
        print(f"{image.target}: {' '.join(image.tags)} ({image.image_id[:19]})")
    return 0


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from labship.cli import _project
    from labship.targets.compose import export_compose

    for path in export_compose(_project(args), force=args.force):
        console.say(f"wrote {path.name}")
    return 0


def cmd_eject(args: argparse.Namespace, console: Console) -> int:
    from labship.cli import _project
    from labship.targets.image import eject

    path = eject(_project(args))
    console.say(f"{path} is yours now: labship builds it as is and never rewrites it")
    return 0


def register(add: Add) -> None:
    p: Any = add("build", cmd_build, "build the dev and/or prod image (Docker, BuildKit)")
    p.add_argument("target", nargs="?", choices=("dev", "prod", "all"), default="all")
    p.add_argument("--force", action="store_true", help="regenerate a hand-edited Dockerfile")
    p = add("export", cmd_export, "write files other tools run without labship")
    p.add_argument("format", choices=("compose",))
    p.add_argument("--force", action="store_true", help="overwrite hand-edited files")
    add("eject", cmd_eject, "take over docker/Dockerfile: labship stops generating it")
