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


def inside_repository(root: Path) -> bool:
    """Whether ``root`` is already in a git work tree (a monorepo, say)."""
    out = _git(root, "rev-parse", "--is-inside-work-tree")
    return out is not None and out.strip() == "true"


def init_repository(root: Path) -> str | None:
    """``git init`` in ``root``; None when done, else why not (no git on PATH, ...)."""
    try:
        out = subprocess.run(
            ["git", "init", "-q", str(root)], capture_output=True, text=True, timeout=10
        )
    except FileNotFoundError:
        return "git is not installed"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if out.returncode == 0 else (out.stderr.strip().splitlines() or ["failed"])[-1]
