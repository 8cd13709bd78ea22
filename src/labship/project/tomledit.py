"""Set keys of one ``[jobs.NAME]`` table in a labship.toml a person wrote, losing nothing.

``render_settings`` writes whole files for ``new`` and ``init``; a user's file has their
comments, order and spacing, which a render would drop. So ``labship schedule JOB
--cron`` edits text: it finds the job's table, replaces the key's line or adds one after
the table's last key, and keeps every other byte. The edit is then proved: the new text
must parse to exactly the settings wanted (the old ones with those keys changed), or
nothing is written and the user is told what to add by hand. A TOML library that keeps
formatting (tomlkit) would be a dependency for these few lines; the proof is what makes
the small edit safe.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from labship.atomicfile import write_text_atomic
from labship.errors import ConfigError, FileWriteError
from labship.inputs import load_toml, read_text
from labship.project.settings import Settings, parse_settings, read_settings
from labship.templates import toml_key, toml_value

_HEADER = re.compile(r"\s*\[")  # a table or array-of-tables header starts here


def set_schedule(
    path: Path, job: str, *, schedule: str | None = None, timezone: str | None = None
) -> Settings:
    """Write the given keys into ``[jobs.<job>]`` of ``path``; the settings after."""
    before = read_settings(path)
    text = read_text(path)
    old = before.jobs[job]
    new = replace(
        old,
        schedule=old.schedule if schedule is None else schedule,
        timezone=old.timezone if timezone is None else timezone,
    )
    wanted = replace(before, jobs={**before.jobs, job: new})
    values = {k: v for k, v in (("schedule", schedule), ("timezone", timezone)) if v is not None}
    by_hand = ", ".join(f"{k} = {toml_value(v)}" for k, v in values.items())
    edited = _edited(text, job, values)
    if edited is None or _parsed(edited, path) != wanted:
        raise ConfigError(
            f"{path}: cannot find a [jobs.{toml_key(job)}] table to edit safely",
            hint=f"add {by_hand} to the job's table by hand, then run 'labship schedule'",
        )
    mode = path.stat().st_mode & 0o7777
    try:
        write_text_atomic(path, edited)
        os.chmod(path, mode)
    except OSError as exc:
        raise FileWriteError(f"cannot write {path}: {exc.strerror}; it is unchanged") from None
    return wanted


def _parsed(text: str, path: Path) -> Settings | None:
    try:
        return parse_settings(load_toml(text), source=str(path))
    except (tomllib.TOMLDecodeError, ConfigError):
        return None


def _edited(text: str, job: str, values: Mapping[str, str]) -> str | None:
    """``text`` with the keys set in the job's table; None without such a table."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _table(line) == ("jobs", job)), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if _HEADER.match(lines[i])), len(lines))
    for key, value in values.items():
        line = f"{key} = {toml_value(value)}\n"
        at = next((i for i in range(start + 1, end) if _key(lines[i]) == key), None)
        if at is not None:
            lines[at] = line
            continue
        last = max((i for i in range(start + 1, end) if _key(lines[i]) is not None), default=start)
        if not lines[last].endswith("\n"):
            lines[last] += "\n"
        lines.insert(last + 1, line)
        end += 1
    return "".join(lines)


def _table(line: str) -> tuple[str, ...] | None:
    """The key path of a ``[a.b]`` header line; None for anything else."""
    if not _HEADER.match(line) or line.lstrip().startswith("[["):
        return None
    try:
        data: object = tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return None
    path: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        key, data = next(iter(data.items()))
        path.append(key)
    return tuple(path)


def _key(line: str) -> str | None:
    """The bare or quoted key a ``key = value`` line sets; None for other lines."""
    match = re.match(r"\s*(?:([A-Za-z0-9_-]+)|\"([^\"\\]*)\")\s*=", line)
    return None if match is None else match.group(1) or match.group(2)
