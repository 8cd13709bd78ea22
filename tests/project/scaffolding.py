"""What the new and adopt tests both look at: files, modes, specs and env files."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import yaml

HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def files_under(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below root: its bytes and permission bits."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def spec_dependencies(path: Path) -> list[object]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    assert isinstance(deps, list)
    return deps


def env_values(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#")
    )
    return {key: value for key, value in pairs}
