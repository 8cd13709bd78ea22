"""The one wrapper for git: what commit a run or an image came from.

Every run records HEAD's commit. Reading it from ``.git`` (HEAD, the loose ref, else
packed-refs) costs a few file reads where ``git rev-parse`` costs a process; anything
this reader does not know for certain (git's environment variables, a repository owned
by another user, reftable, an unborn branch) is left to git itself.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

# Variables that change which repository or HEAD git sees: with any set, git decides.
_GIT_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES")
_HEX = frozenset("0123456789abcdef")


def _git(root: Path, *args: str) -> str | None:
    """git's stdout, or None outside a repository, before the first commit, or without git."""
    import subprocess

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
    found = _read_head(str(root))
    if found is not None:
        return found or None
    out = _git(root, "rev-parse", "--verify", "-q", "HEAD")
    return out.strip() or None if out is not None else None


def _read_head(root: str) -> str | None:
    """HEAD's hash read from the files; "" outside any repository; None: ask git."""
    if any(os.environ.get(name) for name in _GIT_VARIABLES):
        return None
    try:
        git_dir = _find_git_dir(os.path.abspath(root))
        if git_dir is None:
            return ""
        if os.stat(git_dir).st_uid != os.geteuid():  # git's safe.directory rules apply
            return None
        common = _common_dir(git_dir)
        head = _read(os.path.join(git_dir, "HEAD"))
        if not head.startswith("ref: "):
            return _commit(head)
        ref = head[5:]
        if not ref.startswith("refs/heads/") or ref.endswith("/.invalid"):  # reftable
            return None
        try:
            return _commit(_read(os.path.join(common, ref)))
        except FileNotFoundError:
            return _packed(os.path.join(common, "packed-refs"), ref)
    except (OSError, UnicodeDecodeError):
        return None


def _find_git_dir(start: str) -> str | None:
    """The repository of ``start``: the nearest ``.git`` folder, or the folder a ``.git``
    file names (a worktree, a submodule), looking upwards as git does."""
    folder, device = start, os.stat(start).st_dev
    while True:
        dot_git = os.path.join(folder, ".git")
        if os.path.isdir(dot_git):
            return dot_git
        if os.path.isfile(dot_git):
            pointer = _read(dot_git)
            if not pointer.startswith("gitdir: "):
                raise OSError(f"{dot_git}: not a gitdir pointer")
            return os.path.normpath(os.path.join(folder, pointer[8:]))
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        if os.stat(parent).st_dev != device:  # git stops here unless told otherwise
            raise OSError(f"{parent}: another file system")
        folder = parent


def _common_dir(git_dir: str) -> str:
    """Where a worktree's branches live (its main repository); the repository itself else."""
    try:
        return os.path.normpath(os.path.join(git_dir, _read(os.path.join(git_dir, "commondir"))))
    except FileNotFoundError:
        return git_dir


def _packed(path: str, ref: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                sha, _, name = line.rstrip("\n").partition(" ")
                if name == ref:
                    return _commit(sha)
    except FileNotFoundError:
        pass
    return None  # no such branch yet (before the first commit): git says so


def _commit(text: str) -> str | None:
    sha = text.strip()
    return sha if len(sha) in (40, 64) and set(sha) <= _HEX else None


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as file:
        return file.read().strip()


def is_dirty(root: Path, paths: Sequence[str]) -> bool:
    """Whether ``paths`` differ from HEAD (changed, added or untracked)."""
    out = _git(root, "status", "--porcelain", "--", *paths)
    return bool(out and out.strip())
