"""The one wrapper for ``crontab``: read and replace the current user's crontab, and
find, replace or drop the entries a caller marked as its own.

An entry is a pair of lines, a marker comment and the cron line under it::

    # labship:3f2a9c1b7e0d train
    0 22 * * * /bin/sh /home/me/churn/.labship/cron/train.sh

Every other line (the user's entries, comments, ``MAILTO=``, ``PATH=``) is kept exactly
as it was, in its place. The daemon reads crontabs only through ``crontab`` (it reloads
when the spool changes), so nothing here touches the spool files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labship.errors import RuntimeUnavailable, ToolError
from labship.tools.process import failure_message, run_tool

INSTALL_HINT = "install cron (Debian/Ubuntu: sudo apt-get install cron)"
PIDFILE = Path("/run/crond.pid")  # Debian's cron writes it when it starts


@dataclass(frozen=True)
class Entry:
    """A marked entry: the text after the marker prefix (``tag``) and its cron line."""

    tag: str
    line: str


def _crontab() -> str:
    found = shutil.which("crontab")
    if found is None:
        raise RuntimeUnavailable("crontab is not installed (not found on PATH)", hint=INSTALL_HINT)
    return found


def read() -> str:
    """The user's crontab; "" when they have none yet."""
    argv = [_crontab(), "-l"]
    result = run_tool("crontab", argv, check=False)
    if result.returncode == 0:
        return result.stdout
    if "no crontab for" in result.stderr:
        return ""
    raise ToolError(failure_message("crontab", argv, result, None))


def write(text: str) -> None:
    """Replace the user's crontab; crontab checks every line and refuses bad ones."""
    run_tool("crontab", [_crontab(), "-"], stdin=text if text.endswith("\n") else text + "\n")


def daemon_running(pidfile: Path = PIDFILE) -> bool | None:
    """Whether the cron daemon that wrote ``pidfile`` still runs; None where it cannot
    be told (no permission to signal it)."""
    try:
        os.kill(int(pidfile.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError) as exc:
        return None if isinstance(exc, PermissionError) else False
    return True


def entries(text: str, prefix: str) -> list[Entry]:
    """The pairs whose marker comment starts with ``# {prefix}``, in order."""
    found = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        tag = _tag(line, prefix)
        if tag is not None:
            following = lines[index + 1] if index + 1 < len(lines) else ""
            found.append(Entry(tag, "" if _tag(following, prefix) is not None else following))
    return found


def replace(text: str, prefix: str, drop: Callable[[str], bool], add: Sequence[Entry] = ()) -> str:
    """``text`` without the marked pairs whose tag ``drop`` selects, with ``add`` in the
    place of the first pair dropped (else at the end). Other lines stay as they are."""
    out: list[str] = []
    where: int | None = None
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        tag = _tag(lines[index], prefix)
        if tag is None or not drop(tag):
            out.append(lines[index])
            index += 1
            continue
        where = len(out) if where is None else where
        following = lines[index + 1] if index + 1 < len(lines) else None
        pair = following is not None and following.strip() and _tag(following, prefix) is None
        index += 2 if pair else 1
    at = len(out) if where is None else where
    out[at:at] = [f"# {prefix}{e.tag}\n{e.line}" for e in add]
    return "".join(f"{line}\n" for line in out)


def _tag(line: str, prefix: str) -> str | None:
    marker = f"# {prefix}"
    return line[len(marker) :] if line.startswith(marker) else None
