"""``labship completion bash|zsh``: shell completion for commands, flags, jobs and profiles.

The script is rendered from the parser itself, so a new command or flag completes
without anyone editing the script. Jobs and profiles belong to the project the user is
in, so the script asks ``labship completion --list jobs|profiles`` while completing:
that answer reads labship.toml and the folder's listing only, and never fails (a broken
project completes nothing, rather than printing an error into a half-typed command).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from labship.console import Console
from labship.errors import LabshipError, UsageError

Add = Callable[..., argparse.ArgumentParser]
SHELLS = ("bash", "zsh")
LISTS = ("jobs", "profiles")

# What an argument's value is, by its dest: asked of the project, or folders.
_VALUES = {"job": "jobs", "profile": "profiles", "directory": "dirs", "path": "dirs"}


class Completes(NamedTuple):
    """One command as the script sees it: its flags, and what each value is."""

    name: str
    flags: tuple[str, ...]
    values: tuple[tuple[str, str], ...]  # (flag, kind) for flags that take a value
    positional: str  # kind: "jobs", "profiles", "dirs", "words a b", or "" (nothing)


def register(add: Add) -> None:
    p = add("completion", cmd_completion, "print a shell completion script (bash or zsh)")
    p.add_argument("shell", nargs="?", choices=SHELLS)
    p.add_argument("--list", choices=LISTS, help=argparse.SUPPRESS)


def cmd_completion(args: argparse.Namespace, console: Console) -> int:
    if args.list:
        names = listed(args.list, args.directory)
        if names:
            print("\n".join(names))
        return 0
    if args.shell is None:
        raise UsageError(
            "labship completion: say which shell: bash or zsh",
            hint='e.g. eval "$(labship completion bash)" in ~/.bashrc',
        )
    from labship.cli import build_parser  # all of it: the script completes every command

    print(script(args.shell, build_parser()), end="")
    return 0


def listed(kind: str, directory: str | None) -> list[str]:
    """The project's jobs or profiles; nothing at all when that cannot be known."""

    from labship.inputs import load_toml, read_text
    from labship.profiles import list_profiles
    from labship.project import CONFIG_NAME, find_root

    try:
        root = find_root(Path(directory) if directory else None)
        if kind == "profiles":
            return list_profiles(root)
        jobs = load_toml(read_text(root / CONFIG_NAME)).get("jobs")
    except (LabshipError, OSError, ValueError):  # ValueError: bad TOML, not UTF-8
        return []
    return sorted(str(name) for name in jobs) if isinstance(jobs, dict) else []


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    from labship.templates import render

    top = _completes("", parser)
    return render(
        f"completion/{shell}.j2",
        global_flags=top.flags,
        global_values=top.values,
        commands=[_completes(name, p) for name, p in _subcommands(parser).items()],
    )


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _completes(name: str, parser: argparse.ArgumentParser) -> Completes:
    flags: list[str] = []
    values: list[tuple[str, str]] = []
    positional = ""
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        if not action.option_strings:  # the first one (export TARGET [JOB...]: the target)
            positional = positional or _kind(action)
            continue
        flags += action.option_strings
        if action.nargs != 0:  # it takes a value
            values += [(flag, _kind(action)) for flag in action.option_strings]
    return Completes(name, tuple(flags), tuple(values), positional)


def _kind(action: argparse.Action) -> str:
    if action.choices:
        choices: Any = action.choices
        return "words " + " ".join(str(c) for c in choices)
    return _VALUES.get(action.dest, "")
