"""The one wrapper for uv: find it, call it, never let it download an interpreter.

uv runs in its own process group. When labship is interrupted (SIGINT, SIGTERM, SIGHUP)
uv and the source builds it started are stopped together, and the build folders those
builds were using are removed: uv, killed, leaves them in its cache.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from types import FrameType

from labship.console import Console
from labship.errors import Interrupted, PythonNotFound, ToolError
from labship.tools.process import ToolResult, deferred_signals, run_tool, signals_handled

STOP_GRACE = 3.0  # seconds uv and its builds get to exit on SIGTERM before SIGKILL
_BUILD_DIR = re.compile(r"/[^\0\s]*/builds-v\d+/\.tmp[A-Za-z0-9_]+")


@cache
def uv_bin() -> str:
    """uv from labship's own installation first (a dependency), then PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv")
    if found is None:
        raise ToolError("uv not found", hint="pip install uv (labship depends on it)")
    return found


def uv_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.setdefault("UV_NO_PROGRESS", "1")
    # labship uses pylock.toml on purpose: uv's "experimental" warning is noise in its output.
    features = env.get("UV_PREVIEW_FEATURES", "")
    env["UV_PREVIEW_FEATURES"] = f"{features},pylock" if features else "pylock"
    env.pop("VIRTUAL_ENV", None)  # uv would target the caller's venv otherwise
    # Bytecode uv compiles belongs in the environment, beside its sources, where every
    # process finds it (the import check runs with -I, which ignores these variables).
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra or {})
    return env


def uv(
    args: Sequence[str],
    *,
    console: Console | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> ToolResult:
    # uv is not in labship's process group, so a terminal's SIGHUP no longer reaches it:
    # labship must take that signal (and SIGTERM) itself to stop uv on the way out.
    with signals_handled(_interrupted, (signal.SIGTERM, signal.SIGHUP)):
        return run_tool(
            "uv",
            [uv_bin(), *args],
            console=console,
            cwd=cwd,
            env=uv_env(env),
            check=check,
            stop=_stop_group,
        )


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise Interrupted(f"stopped by {signal.Signals(signum).name}")


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """End uv and everything it started, then remove the build folders they used."""
    with deferred_signals():  # a second Ctrl-C must not cut the clean-up short
        builds = {path for pid in _group(proc.pid) for path in _build_dirs(pid)}
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=STOP_GRACE)
        _signal_group(proc.pid, signal.SIGKILL)  # what ignored SIGTERM, and uv's orphans
        proc.wait()
        for path in builds:
            shutil.rmtree(path, ignore_errors=True)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group(pgid: int) -> list[int]:
    """The processes in process group ``pgid`` (Linux /proc; none elsewhere)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2:3] == [str(pgid)]:
            members.append(int(stat.parent.name))
    return members


def _build_dirs(pid: int) -> set[Path]:
    """uv's build folders a process runs from (its command line names them)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return set()
    return {Path(found) for found in _BUILD_DIR.findall(cmdline)}


@cache
def uv_version() -> str:
    return uv(["--version"]).stdout.split()[1]


def find_python(version: str) -> str | None:
    """An installed interpreter for ``version`` ("3.11"), found without running one: on
    PATH (pyenv shims aside: one for a version no pyenv setting selects only fails),
    in pyenv's versions (which count even when no shim selects them), or uv's own."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    on_path = shutil.which(f"python{version}")
    if on_path and not Path(on_path).is_relative_to(pyenv / "shims"):
        return on_path
    uv_pythons = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or _data_home() / "uv" / "python")
    candidates = [
        *pyenv.glob(f"versions/{version}.*/bin/python{version}"),
        *uv_pythons.glob(f"cpython-{version}.*/bin/python{version}"),
    ]
    exact = re.compile(rf"(?:cpython-)?{re.escape(version)}\.(\d+)(?:-.*)?")
    found = [
        (int(match.group(1)), str(path))
        for path in candidates
        if (match := exact.fullmatch(path.parent.parent.name)) and os.access(path, os.X_OK)
    ]
    return max(found)[1] if found else None


def _data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


_NO_PYTHON = ("No interpreter found", "Failed to inspect Python interpreter")


def missing_python(uv_stderr: str) -> bool:
    """uv found no usable interpreter for the requested version (none, or a broken shim)."""
    return any(text in uv_stderr for text in _NO_PYTHON)


def python_not_found(version: str, why: str) -> PythonNotFound:
    return PythonNotFound(
        f"Python {version} is not installed on this machine ({why})",
        hint=f"install it (apt-get install python{version}, pyenv install "
        f"{version}, or uv python install {version}); labship never "
        "downloads interpreters on its own",
    )
