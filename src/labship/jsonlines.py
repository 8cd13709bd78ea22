"""Append-only JSON-lines files (``.labship/*.jsonl``): one record a line, one write each,
and a reader that skips what a crash or a hand edit left broken instead of failing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labship.atomicfile import append_line
from labship.inputs import read_text


def append(path: Path, data: dict[str, Any]) -> None:
    """One short write in append mode: two writers at once do not interleave lines."""
    path.parent.mkdir(exist_ok=True)
    append_line(path, json.dumps(data, separators=(",", ":")) + "\n")


def read(path: Path) -> Iterator[Any]:
    """Each line that parses as JSON, oldest first; none when the file is missing."""
    try:
        lines = read_text(path, errors="replace").splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash, or not JSON at all
