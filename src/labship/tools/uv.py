"""The one wrapper for uv: find it, call it, never let it download an interpreter."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

from labship.console import Console
from labship.errors import PythonNotFound, ToolError
from labship.tools.process import ToolResult, run_tool


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
    env.pop("VIRTUAL_ENV", None)  # uv would target the caller's venv otherwise
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
    return run_tool("uv", [uv_bin(), *args], console=console, cwd=cwd, env=uv_env(env), check=check)


@cache
def uv_version() -> str:
    return uv(["--version"]).stdout.split()[1]


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
