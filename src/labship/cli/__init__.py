"""The ``labship`` command: parse, call the library, print, map errors to exit codes.

Kept thin and quick to import: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from labship import __version__
from labship.cli.args import lock_flags, lock_mode, port, positive, project_of
from labship.console import Console
from labship.errors import Interrupted, LabshipError, UsageError

TYPE_CHECKING = False  # neither typing nor collections.abc is imported to start
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn

    from labship.locking import LockResult
    from labship.project import Project

    Handler = Callable[[argparse.Namespace, Console], int]
    Add = Callable[[str, Handler, str], argparse.ArgumentParser]


def cmd_new(args: argparse.Namespace, console: Console) -> int:
    import shlex
    from pathlib import Path

    from labship import api

    result = api.new(Path(args.name), bare=args.bare, python=args.python)
    console.say(f"created {result.root} ({len(result.created)} files)")
    for note in result.notes:
        console.say(note)
    print(f"next: cd {shlex.quote(args.name)} && labship run")
    return 0


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    from pathlib import Path

    from labship import api

    result = api.init(Path(args.path), name=args.name, python=args.python)
    for note in result.notes:
        console.say(note)
    console.say(
        f"{result.root}: added {len(result.created)} files, left {len(result.kept)} untouched"
    )
    if args.no_lock:
        return 0
    # Locking now finds every pin the project cannot use while the user is still
    # adopting it, rather than at its first run.
    from labship.project import load_project

    project = load_project(result.root)
    try:
        _say_locked(project, api.lock(project, console=console), console)
    except LabshipError:
        console.say(f"{project.root} is a labship project now, but its spec does not lock yet:")
        raise
    return 0


def cmd_lock(args: argparse.Namespace, console: Console) -> int:
    from labship import api
    from labship.errors import StaleLockError
    from labship.locking import read_lock

    project = project_of(args)
    if args.check:
        try:
            lock = read_lock(project)
        except StaleLockError as exc:
            console.error(str(exc))
            return exc.exit_code
        names = [project.lock_path.name, project.dev_lock_path.name]
        if lock.conda is not None:
            names.append(lock.conda.path.name)
        console.say(f"{', '.join(names[:-1])} and {names[-1]} are up to date")
        return 0
    _say_locked(project, api.lock(project, console=console), console)
    return 0


def _say_locked(project: Project, result: LockResult, console: Console) -> None:
    lock = result.lock
    verb = "updated" if result.changed else "unchanged"
    native = ""
    if lock.conda is not None:
        native = f", {lock.conda.path.name} ({len(lock.conda.records)} conda packages)"
    console.say(
        f"{verb}: {project.lock_path.name} ({len(lock.prod)} packages), "
        f"{project.dev_lock_path.name} ({len(lock.dev)} packages){native} "
        f"for Python {lock.python}"
    )


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    if args.image:
        from labship.cli import ship

        return ship.cmd_run_image(args, console)
    outcome = api.run(
        project_of(args),
        args.job,
        profile_name=args.profile,
        runtime=args.runtime,
        lock_mode=lock_mode(args),
        console=console,
    )
    if outcome.exit_code != 0:
        console.say(f"job {outcome.record.job!r} exited with code {outcome.exit_code}")
    return outcome.exit_code


def cmd_lab(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    info = api.lab(
        project_of(args),
        runtime=args.runtime,
        port=args.port,
        detach=args.detach,
        lock_mode=lock_mode(args),
        console=console,
    )
    if args.detach:
        print(info.url)
        console.say("log in with JUPYTER_TOKEN from .env_dev; stop it with 'labship stop'")
    return 0


def cmd_stop(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    stopped = api.stop(project_of(args), console=console)
    console.say("lab stopped" if stopped else "no lab was running")
    return 0


def cmd_shell(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    return api.shell(
        project_of(args),
        profile_name=args.profile,
        runtime=args.runtime,
        lock_mode=lock_mode(args),
        console=console,
    )


def cmd_env(args: argparse.Namespace, console: Console) -> int:
    import json

    from labship import api

    report = api.env_report(project_of(args))
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.to_text())
    return 0 if report.ok else 65


def cmd_runs(args: argparse.Namespace, console: Console) -> int:
    from labship import api, runlog

    records = api.runs(project_of(args), console=console)
    records = records[-args.last :] if args.last else records
    if args.json:
        import json

        print(json.dumps([r.to_json() for r in records], indent=2))
    elif records:
        print(runlog.table(records))
    else:
        console.say("no runs yet")
    return 0


def cmd_gc(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    result = api.gc(dry_run=args.dry_run, console=console)
    verb = "would remove" if args.dry_run else "removed"
    console.say(
        f"{verb} {len(result.removed)} environment(s), freed {_size(result.freed_bytes)}"
        f" ({_size(result.shared_bytes)} more was shared with uv's cache); "
        f"kept {result.kept} in use by projects"
        + (f", {len(result.in_use)} busy" if result.in_use else "")
    )
    return 0


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad command line is a UsageError: one line, exit 64, like every
    other error (argparse would print usage and exit 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", hint=f"see '{self.prog} --help'")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter for every add_argument, and HelpFormatter imports
        # shutil (and zlib, bz2, lzma) for the terminal's width: the same width, without.
        make: Any = self.formatter_class
        formatter: argparse.HelpFormatter = make(prog=self.prog, width=_terminal_width() - 2)
        return formatter


def _terminal_width() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    try:
        if int(os.environ["COLUMNS"]) > 0:
            return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):  # no stdout at all, or not a terminal
        return 80


def _global_flags(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """-C, -v, -q: accepted before the command and after it (``labship lock -v``)."""
    parser.add_argument("-C", dest="directory", default=default, help="the project folder")
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=default, help="show tools' output"
    )
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="only errors")


# Which registrar defines each command, in the order ``labship --help`` lists them. A
# command line that names one builds that command's parser alone and imports nothing
# the others need; help, a typo or no command build them all.
_GROUPS: dict[str, str] = {
    **dict.fromkeys(("new", "init", "lock"), "project"),
    **dict.fromkeys(("run", "lab", "stop", "shell"), "running"),
    **dict.fromkeys(("env", "runs", "gc"), "state"),
    **dict.fromkeys(("build", "export", "eject"), "targets"),
    "schedule": "schedule",
    **dict.fromkeys(("push", "doctor"), "ship"),
    "serve": "serve",
    "completion": "completion",
}
_FLAGS = frozenset(("-v", "--verbose", "-q", "--quiet"))


def command_in(argv: Sequence[str]) -> str | None:
    """The command a command line names (after -C DIR, -v, -q); "" for ``--version``;
    None when it names none that is known, or asks for anything else first (-h)."""
    words = iter(argv)
    for word in words:
        if word == "-C":
            next(words, None)
        elif word.startswith("-C") or word in _FLAGS:
            continue
        elif word == "--version":
            return ""
        else:
            return word if word in _GROUPS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only``, the top-level flags and that one command (an empty
    string: none), so ``labship run`` neither builds nor imports the other 17."""
    parser = _Parser(prog="labship", description="From notebook to production, reproducibly.")
    parser.add_argument("--version", action="version", version=f"labship {__version__}")
    _global_flags(parser, default=None)
    # After the command, the same flags must not reset what was given before it.
    common = _Parser(add_help=False)
    _global_flags(common, default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
        if only is not None and name != only:  # a sibling of the chosen command
            return _Parser(add_help=False)
        p = sub.add_parser(name, help=help, description=help, parents=[common])
        p.set_defaults(handler=handler)
        return p

    if only is None:
        for group in dict.fromkeys(_GROUPS.values()):
            _register(group, add)
    elif only:
        _register(_GROUPS[only], add)
    return parser


def _register(group: str, add: Add) -> None:
    if group == "project":
        _register_project_commands(add)
    elif group == "running":
        _register_running_commands(add)
    elif group == "state":
        _register_state_commands(add)
    elif group == "targets":
        from labship.cli import targets

        targets.register(add)
    elif group == "schedule":
        from labship.cli import schedule

        schedule.register(add)
    elif group == "ship":
        from labship.cli import ship

        ship.register(add)
    elif group == "serve":
        from labship.cli import serve

        serve.register(add)
    else:
        from labship.cli import completion

        completion.register(add)


def _register_project_commands(add: Add) -> None:
    """new, init, lock: the project and its lock."""
    p = add("new", cmd_new, "create a project")
    p.add_argument("name")
    p.add_argument("--bare", action="store_true", help="without the example job and notebook")
    p.add_argument("--python", help="Python version, e.g. 3.11 (default: this one)")

    p = add("init", cmd_init, "make an existing folder a project, losing nothing")
    p.add_argument("path", nargs="?", default=".")
    p.add_argument("--name")
    p.add_argument("--python")
    p.add_argument("--no-lock", action="store_true", help="do not lock the spec yet")

    p = add("lock", cmd_lock, "resolve the environment into pylock.toml + pylock.dev.toml")
    p.add_argument("--check", action="store_true", help="exit 77 if the lock is stale")


def _register_state_commands(add: Add) -> None:
    """env, runs, gc: what the project's profiles, run log and store hold."""
    p = add("env", cmd_env, "which variables each profile sets (secrets masked)")
    p.add_argument("--json", action="store_true")

    p = add("runs", cmd_runs, "the run log")
    p.add_argument("--json", action="store_true")
    p.add_argument("--last", type=positive, default=0, metavar="N")

    p = add("gc", cmd_gc, "remove environments no project refers to")
    p.add_argument("--dry-run", action="store_true")


def _register_running_commands(add: Add) -> None:
    """run, lab, stop, shell: what runs on a runtime."""
    from labship import runtimes

    def runtime_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--runtime", choices=runtimes.choices(), default=None)
        lock_flags(p)

    p = add("run", cmd_run, "run a job with a profile's variables")
    p.add_argument("job", nargs="?")
    p.add_argument("--profile", "-p", default="dev", help="default: dev; prod says it aloud")
    p.add_argument("--image", metavar="REF", help="a pushed image's job, without the project")
    runtime_flag(p)

    p = add("lab", cmd_lab, "start JupyterLab on 127.0.0.1")
    p.add_argument("--port", type=port, help="default: [lab] port in labship.toml")
    p.add_argument("--detach", "-d", action="store_true")
    runtime_flag(p)

    add("stop", cmd_stop, "stop the detached lab")

    p = add("shell", cmd_shell, "a shell in the dev environment")
    p.add_argument("--profile", "-p", default="dev")
    runtime_flag(p)


def _on_sigterm(signum: int, _frame: Any) -> None:
    raise Interrupted("stopped by SIGTERM")


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(command_in(words)).parse_args(words)
    except UsageError as exc:
        Console().error(str(exc))
        return exc.exit_code
    console = Console(verbose=bool(args.verbose), quiet=bool(args.quiet))
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code: int = args.handler(args, console)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``labship runs --json | head``): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except LabshipError as exc:
        console.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        console.error("interrupted")
        return Interrupted.exit_code
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
