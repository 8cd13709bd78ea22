"""run / lab / shell / build lock first when the lock is missing or stale (as uv run does);
--locked stops instead (exit 77, for CI and production); --frozen never resolves."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from conftest import MakeProject, labship

JOB = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('idna') else 9)"


def _digest(root: Path) -> str:
    return hashlib.sha256(
        (root / "pylock.toml").read_bytes() + (root / "pylock.dev.toml").read_bytes()
    ).hexdigest()


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    root = make_project(jobs={"hello": "python code/hello.py", "idna": "python code/check_idna.py"})
    (root / "code" / "check_idna.py").write_text(JOB + "\n")
    return root


@pytest.mark.slow
def test_run_locks_a_new_project_first(project: Path) -> None:
    proc = labship("run", "hello", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "no lock" in proc.stderr and "locking first" in proc.stderr
    assert (project / "pylock.toml").is_file() and (project / "pylock.dev.toml").is_file()
    assert "six 1.16.0" in proc.stdout
    again = labship("run", "hello", cwd=project)
    assert "locking first" not in again.stderr and again.returncode == 0


@pytest.mark.slow
def test_a_changed_spec_is_locked_and_installed_before_the_run(project: Path) -> None:
    labship("lock", cwd=project, check=True)
    assert labship("run", "idna", cwd=project).returncode == 9
    before = _digest(project)
    (project / "requirements.txt").write_text("six==1.16.0\nidna==3.7\n")

    locked = labship("run", "idna", "--locked", cwd=project)
    assert locked.returncode == 77, locked.stderr
    assert "stale" in locked.stderr and "Traceback" not in locked.stderr
    assert _digest(project) == before
    assert labship("run", "idna", cwd=project, env={"LABSHIP_LOCKED": "1"}).returncode == 77

    frozen = labship("run", "idna", "--frozen", cwd=project)
    assert frozen.returncode == 9, frozen.stderr  # the old lock, as it is
    assert _digest(project) == before

    proc = labship("run", "idna", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert "is stale" in proc.stderr and "locking first" in proc.stderr
    assert _digest(project) != before
    assert labship("lock", "--check", cwd=project).returncode == 0


def test_locked_and_frozen_together_is_a_usage_error(project: Path) -> None:
    proc = labship("run", "--locked", "--frozen", cwd=project)
    assert proc.returncode == 64
    assert "not allowed with" in proc.stderr


def test_frozen_without_a_lock_cannot_run(project: Path) -> None:
    proc = labship("run", "hello", "--frozen", cwd=project)
    assert proc.returncode == 77
    assert "no lock" in proc.stderr
    assert not (project / "pylock.toml").exists()
