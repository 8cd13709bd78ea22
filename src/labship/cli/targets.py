"""The commands that make files other systems run: images, compose files."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labship.cli.args import lock_flags, lock_mode, project_of
from labship.console import Console

Add = Callable[..., argparse.ArgumentParser]


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    if args.target == "serve" or args.model is not None:
        return _build_serve(args, console)
    targets = ("dev", "prod") if args.target == "all" else (args.target,)
    for image in api.build(
        project_of(args), targets, force=args.force, lock_mode=lock_mode(args), console=console
    ):
        print(f"{image.target}: {' '.join(image.tags)} ({image.image_id[:19]})")
    return 0


def _build_serve(args: argparse.Namespace, console: Console) -> int:
    """``labship build serve MODEL``: no project needed; prints the image's tag."""
    from labship import api
    from labship.errors import UsageError

    if args.target != "serve" or args.model is None:
        raise UsageError("'labship build serve' needs a MODEL folder (and only serve takes one)")
    print(api.build_serve(args.model, console=console).tag)
    return 0


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from labship import api, targets

    if args.format is None:  # no target: say which there are
        for name in targets.names():
            print(f"{name:10} {targets.summary(name)}")
        return 0
    options = ["kubernetes"] if args.kubernetes else []
    written = api.export(
        project_of(args),
        args.format,
        force=args.force,
        console=console,
        jobs=args.jobs,
        options=options,
        serve=args.serve or (),
    )
    for path in written:
        console.say(f"wrote {_shown_path(path)}")
    return 0


def _shown_path(path: Path) -> str:
    """The path as the user can open it: relative to where they are when it is below."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def cmd_eject(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    for path in api.eject(project_of(args), args.target):
        console.say(f"{path} is yours now: labship uses it as is and never rewrites it")
    return 0


class _Intermixed(argparse.ArgumentParser):
    """Options between job names (``export airflow --kubernetes JOB``): argparse alone
    takes no positional after an option that follows the first ones."""

    _mixing = False

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._mixing:  # parse_known_intermixed_args calls back here
            return super().parse_known_args(args, namespace)
        self._mixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._mixing = False


def _intermixed(p: argparse.ArgumentParser) -> None:
    p.__class__ = type("Intermixed", (_Intermixed, type(p)), {})


def register(add: Add) -> None:
    from labship import targets

    p: Any = add("build", cmd_build, "build the dev and/or prod image (Docker, BuildKit)")
    p.add_argument("target", nargs="?", choices=("dev", "prod", "all", "serve"), default="all")
    p.add_argument("model", nargs="?", help="serve: the MLflow model folder")
    p.add_argument("--force", action="store_true", help="regenerate a hand-edited Dockerfile")
    lock_flags(p)
    p = add("export", cmd_export, "write files other tools run without labship")
    p.add_argument("format", nargs="?", choices=targets.names(), help="none: list the targets")
    p.add_argument("jobs", nargs="*", metavar="JOB", help="airflow, k8s: only these jobs")
    p.add_argument("--force", action="store_true", help="overwrite hand-edited files")
    p.add_argument("--kubernetes", action="store_true", help="airflow: KubernetesPodOperator")
    p.add_argument(
        "--serve",
        action="append",
        metavar="MODEL",
        help="k8s: also a Deployment and a Service serving this MLflow model folder",
    )
    _intermixed(p)
    p = add("eject", cmd_eject, "take over generated files: labship stops generating them")
    p.add_argument("target", nargs="?", choices=targets.names(), default="image")
