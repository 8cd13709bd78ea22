"""Run an external tool: stream its output through the console, fail with its own words."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from labship.console import Console
from labship.errors import ToolError

_TAIL = 20


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    stdout: str
    stderr: str


def run_tool(
    tool: str,
    argv: Sequence[str],
    *,
    console: Console | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> ToolResult:
    """Run ``argv``; stderr lines stream to the console as they come, stdout is captured.

    On failure raise ToolError carrying the tool's last lines of stderr (masked), so
    the user sees the tool's own message, not ours.
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            text=True,
            errors="replace",
        )
    except FileNotFoundError:
        raise ToolError(f"{tool} not found ({argv[0]})", hint=f"install {tool}") from None
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    # stdout may be large (docker save, uv export); read it on a thread while stderr streams.
    import threading

    out_chunks: list[str] = []
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None
    reader = threading.Thread(target=lambda: out_chunks.append(stdout.read()))
    reader.start()
    err_lines: list[str] = []
    with proc:  # closes the pipes whatever happens
        try:
            for line in stderr:
                err_lines.append(line)
                if console is not None:
                    console.tool_line(line.rstrip("\n"))
            proc.wait()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
        finally:
            reader.join()
    result = ToolResult(proc.returncode, "".join(out_chunks), "".join(err_lines))
    if check and proc.returncode != 0:
        raise ToolError(failure_message(tool, argv, result, console))
    return result


def failure_message(
    tool: str, argv: Sequence[str], result: ToolResult, console: Console | None
) -> str:
    lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
    tail = " | ".join(lines[-_TAIL:]) or f"exit code {result.returncode}"
    message = f"{tool} failed ({' '.join(argv[:3])} ...): {tail}"
    return console.mask(message) if console is not None else message
