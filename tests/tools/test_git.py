"""HEAD read from .git's files agrees with git itself, in every layout git makes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labship.tools.git import _read_head, head_commit


def git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    out = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)
    return out.stdout.decode().strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("a\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-q", "-m", "one")
    return root


def test_loose_ref_from_a_subfolder(repo: Path) -> None:
    (repo / "sub").mkdir()
    assert _read_head(str(repo / "sub")) == git(repo, "rev-parse", "HEAD")


def test_packed_ref_and_detached_head(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git/refs/heads/main").exists()
    assert _read_head(str(repo)) == first
    (repo / "a.txt").write_text("b\n")
    git(repo, "commit", "-q", "-am", "two")  # a loose ref again, newer than the packed one
    assert _read_head(str(repo)) == git(repo, "rev-parse", "HEAD") != first
    git(repo, "checkout", "-q", "--detach", first)
    assert _read_head(str(repo)) == first


def test_worktree_reads_its_own_head_and_the_shared_refs(repo: Path, tmp_path: Path) -> None:
    git(repo, "pack-refs", "--all")
    git(repo, "worktree", "add", "-q", "-b", "side", str(tmp_path / "wt"))
    (tmp_path / "wt/a.txt").write_text("side\n")
    git(tmp_path / "wt", "commit", "-q", "-am", "side")
    side = git(tmp_path / "wt", "rev-parse", "HEAD")
    assert _read_head(str(tmp_path / "wt")) == side != _read_head(str(repo))


def test_outside_a_repository_and_before_the_first_commit(tmp_path: Path) -> None:
    assert head_commit(tmp_path) is None
    git(tmp_path, "init", "-q")
    assert _read_head(str(tmp_path)) is None  # an unborn branch: git is asked, and says none
    assert head_commit(tmp_path) is None


def test_git_variables_leave_it_to_git(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    assert _read_head(str(repo)) is None
    assert head_commit(repo) == git(repo, "rev-parse", "HEAD")
