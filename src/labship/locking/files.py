"""The two lock files: rendered, parsed back, and only then both replaced.

An invalid lock must never replace a valid one: run, ``lock --check`` and gc all read
it. So both files are rendered in full and read back (TOML, and the ``[tool.labship]``
table as it was meant) before either is touched; then both are written beside their
targets and renamed over them one after the other, signals held off in between, so a
failure while writing leaves both old files as they were.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labship.errors import Interrupted, ToolError
from labship.inputs import load_toml

TOOL_TABLE = "\n[tool.labship]\n"


def split(text: str) -> tuple[str, str]:
    """(packages part, tool table part) of a lock file labship wrote."""
    body, sep, tail = text.partition(TOOL_TABLE)
    return body, sep + tail


def render_lock(path: Path, body: str, meta: Mapping[str, Any], *, dev: bool) -> str:
    """``body`` (uv's export) with labship's table, checked by reading it back."""
    from labship.templates import render

    table = render("lock/labship-table.toml.j2", set="dev" if dev else "prod", **meta)
    text = body.rstrip("\n") + "\n" + table
    try:
        data = load_toml(text)
        tool = data["tool"]["labship"]
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise _broken(path, f"not valid TOML: {exc}") from None
    expected = {"python": meta["python"], "inputs": meta["inputs"], "variables": meta["variables"]}
    if {key: tool.get(key) for key in expected} != expected:
        raise _broken(path, "its [tool.labship] table does not read back as written")
    if split(text)[0] != body.rstrip("\n") + "\n":
        raise _broken(path, "the packages part does not read back as written")
    return text


def _broken(path: Path, why: str) -> ToolError:
    return ToolError(
        f"{path}: the lock labship made is unusable ({why}); the old lock files are unchanged",
        hint="report this as a bug in labship",
    )


def replace_together(files: Mapping[Path, str]) -> None:
    """Write every file beside its target, then rename them all over their targets; a
    signal meanwhile is acted on once both are in place, never between the two."""
    from labship.atomicfile import write_texts_atomic
    from labship.tools.process import deferred_signals

    with deferred_signals() as received:
        write_texts_atomic(files, unchanged="the old lock files are unchanged")
    if received:
        raise Interrupted("stopped by a signal (after writing the lock files)")
