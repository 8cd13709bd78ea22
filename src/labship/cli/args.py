"""What every command reads from its parsed arguments."""

from __future__ import annotations

import argparse
import math
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    from labship.api import LockMode
    from labship.project import Project

    Number = TypeVar("Number", int, float)


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


def bounded(
    convert: Callable[[str], Number], low: float, high: float | None, what: str
) -> Callable[[str], Number]:
    """A numeric flag's parser: ``convert``'s number, finite (nan and inf are refused) and
    from ``low`` to ``high``; anything else is one line naming the flag (exit 64)."""

    def parse(text: str) -> Number:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


def finite(low: float, what: str) -> Callable[[str], float]:
    """A number of seconds or ms: at least ``low``."""
    return bounded(float, low, None, what)


# A TCP port, 1 to 65535: 0 would mean "any port", not the configured one.
port = bounded(int, 1, 65535, "a TCP port (1 to 65535)")
positive = bounded(int, 1, None, "a whole number from 1 up")
