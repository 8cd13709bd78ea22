"""The one wrapper for ``crontab``: read and replace the current user's crontab, and
find, replace or drop the entries a caller marked as its own.

An entry is a pair of lines, a marker comment and the cron line under it::

    # labship:3f2a9c1b7e0d train
    0 22 * * * /bin/sh /home/me/churn/.labship/cron/train.sh

Every other line (the user's entries, comments, ``MAILTO=``, ``PATH=``) is kept exactly
as it was, in its place: the crontab is bytes from ``crontab -l`` to ``crontab -``, never
decoded, so a line in Latin-1 (``caf\xe9``) survives byte for byte. The daemon reads
crontabs only through ``crontab`` (it reloads when the spool changes), so nothing here
touches the spool files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labship.errors import RuntimeUnavailable, ToolError
from labship.tools.process import BytesResult, ToolResult, failure_message, run_bytes

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


def read() -> bytes:
    """The user's crontab as bytes, exactly; b"" when they have none yet."""
    argv = [_crontab(), "-l"]
    result = run_bytes("crontab", argv)
    if result.returncode == 0:
        return result.stdout
    if "no crontab for" in result.stderr:
        return b""
    raise ToolError(failure_message("crontab", argv, _as_text(result), None))


def write(data: bytes) -> None:
    """Replace the user's crontab; crontab checks every line and refuses bad ones."""
    argv = [_crontab(), "-"]
    result = run_bytes("crontab", argv, stdin=data if data.endswith(b"\n") else data + b"\n")
    if result.returncode != 0:
        raise ToolError(failure_message("crontab", argv, _as_text(result), None))


def _as_text(result: BytesResult) -> ToolResult:
    return ToolResult(result.returncode, "", result.stderr)


def daemon_running(pidfile: Path = PIDFILE) -> bool | None:
    """Whether the cron daemon that wrote ``pidfile`` still runs; None where it cannot
    be told (no permission to signal it)."""
    try:
        os.kill(int(pidfile.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError) as exc:
        return None if isinstance(exc, PermissionError) else False
    return True


def _lines(data: bytes) -> list[bytes]:
    """The lines of ``data``, split at LF only: a CR, a form feed or a byte that is no
    UTF-8 inside someone else's line stays where it is."""
    lines = data.split(b"\n")
    return lines[:-1] if lines and lines[-1] == b"" else lines


def entries(data: bytes, prefix: str) -> list[Entry]:
    """The pairs whose marker comment starts with ``# {prefix}``, in order."""
    found = []
    lines = _lines(data)
    for index, line in enumerate(lines):
        tag = _tag(line, prefix)
        if tag is not None:
            following = lines[index + 1] if index + 1 < len(lines) else b""
            text = "" if _tag(following, prefix) is not None else _text(following)
            found.append(Entry(tag, text))
    return found


def replace(
    data: bytes, prefix: str, drop: Callable[[str], bool], add: Sequence[Entry] = ()
) -> bytes:
    """``data`` without the marked pairs whose tag ``drop`` selects, with ``add`` in the
    place of the first pair dropped (else at the end). Other lines stay byte for byte."""
    out: list[bytes] = []
    where: int | None = None
    lines = _lines(data)
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
    out[at:at] = [f"# {prefix}{e.tag}\n{e.line}".encode() for e in add]
    return b"".join(line + b"\n" for line in out)


def _text(line: bytes) -> str:
    """One of labship's own lines (written as UTF-8) as text."""
    return line.decode("utf-8", errors="replace")


def _tag(line: bytes, prefix: str) -> str | None:
    marker = f"# {prefix}".encode()
    return _text(line[len(marker) :]) if line.startswith(marker) else None
