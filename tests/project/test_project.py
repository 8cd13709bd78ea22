"""labship.project: finding the project root and loading it (no subprocesses but one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import as_nobody
from labship.errors import NotAProjectError, UsageError
from labship.project import find_root, load_project


def _write_project(root: Path, body: str = "") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "labship.toml").write_text(f'[project]\nname = "demo"\n{body}')


def test_find_root_walks_up(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _write_project(root)
    deep = root / "code" / "sub" / "deeper"
    deep.mkdir(parents=True)
    assert find_root(deep) == root.resolve()
    assert find_root(root) == root.resolve()
    assert load_project(deep).root == root.resolve()
    assert load_project(str(deep)).root == root.resolve()  # a string, as users type it


def test_find_root_nearest_wins(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    _write_project(outer)
    _write_project(inner)
    (inner / "code").mkdir()
    assert find_root(inner / "code") == inner.resolve()


def test_find_root_ignores_a_folder_named_labship_toml(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    _write_project(outer)
    inner = outer / "inner"
    (inner / "labship.toml").mkdir(parents=True)
    assert find_root(inner) == outer.resolve()


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(NotAProjectError) as info:
        find_root(tmp_path)
    assert info.value.exit_code == 66
    assert str(tmp_path.resolve()) in str(info.value)


def test_job_selection(tmp_path: Path) -> None:
    _write_project(tmp_path / "one", '[jobs.train]\ncommand = "python t.py"\n')
    one = load_project(tmp_path / "one")
    assert one.job(None).name == "train"
    with pytest.raises(UsageError, match="train"):
        one.job("nope")
    _write_project(tmp_path / "none")
    with pytest.raises(UsageError, match="no jobs"):
        load_project(tmp_path / "none").job(None)


def test_unreadable_folder_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """As nobody, below a folder only root may enter (pytest's own temp root)."""
    (tmp_path / "labship.toml").write_text('[project]\nname = "x"\n')
    proc = subprocess.run(
        [*as_nobody(), sys.executable, "-m", "labship", "-C", str(tmp_path), "runs"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 66, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "permission denied" in proc.stderr


def test_no_job_says_what_a_job_looks_like(tmp_path: Path) -> None:
    (tmp_path / "labship.toml").write_text('[project]\nname = "demo"\n')
    with pytest.raises(UsageError, match="no jobs defined") as raised:
        load_project(tmp_path).job(None)
    assert '[jobs.train] command = "python train.py"' in (raised.value.hint or "")
