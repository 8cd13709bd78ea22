"""The one wrapper for git: what commit a run or an image came from."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path


def _git(root: Path, *args: str) -> str | None:
    """git's stdout, or None outside a repository, before the first commit, or without git."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def head_commit(root: Path) -> str | None:
    """HEAD's hash; None outside git or before the first commit."""
    out = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    return out.strip() or None if out is not None else None


def is_dirty(root: Path, paths: Sequence[str]) -> bool:
    """Whether ``paths`` differ from HEAD (changed, added or untracked)."""
    out = _git(root, "status", "--porcelain", "--", *paths)
    return bool(out and out.strip())
