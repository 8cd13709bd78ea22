"""What every command reads from its parsed arguments."""

from __future__ import annotations

import argparse
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from labship.api import LockMode
    from labship.project import Project


def project_of(args: argparse.Namespace) -> Project:
    """The project named by ``-C DIR``, else the one here or above."""
    from pathlib import Path

    from labship.project import load_project

    directory = getattr(args, "directory", None)
    return load_project(Path(directory) if directory else None)


def lock_flags(parser: argparse.ArgumentParser) -> None:
    """--locked / --frozen, for the commands that run on the lock."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--locked",
        action="store_const",
        const="locked",
        dest="lock_mode",
        help="stop (exit 77) if the lock is missing or stale, instead of locking",
    )
    group.add_argument(
        "--frozen",
        action="store_const",
        const="frozen",
        dest="lock_mode",
        help="use the lock as it is, never resolve",
    )


def lock_mode(args: argparse.Namespace) -> LockMode:
    """The flag, else LABSHIP_LOCKED=1 / LABSHIP_FROZEN=1 (CI, cron), else auto-lock."""
    chosen: LockMode | None = getattr(args, "lock_mode", None)
    if chosen is not None:
        return chosen
    if os.environ.get("LABSHIP_FROZEN") == "1":
        return "frozen"
    if os.environ.get("LABSHIP_LOCKED") == "1":
        return "locked"
    return "auto"
