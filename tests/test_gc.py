"""``labship gc`` is conservative, through the real CLI: when in doubt it keeps.

Each test has a store of its own (gc removes what no registered project uses, so it
must not see the session store other tests share).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import MakeProject, labship

pytestmark = pytest.mark.slow


def _envs(store: Path) -> set[str]:
    folder = store / "envs"
    return (
        {p.name for p in folder.iterdir() if not p.name.startswith(".")}
        if folder.is_dir()
        else set()
    )


def _in(store: Path) -> dict[str, str]:
    return {"LABSHIP_STORE": str(store), "UV_OFFLINE": "1"}


def _run(root: Path, store: Path, *args: str) -> set[str]:
    """``labship run``; the environments it added to the store."""
    before = _envs(store)
    labship("run", *args, cwd=root, env=_in(store), check=True)
    return _envs(store) - before


def _gc(root: Path, store: Path) -> list[str]:
    proc = labship("gc", cwd=root, env=_in(store))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr.splitlines()


def _orphan(make_project: MakeProject, store: Path) -> str:
    """An environment only a deleted project used: gc's to remove."""
    gone = make_project("gone", requirements="iniconfig==2.0.0\n", jobs={"noop": "python -c pass"})
    labship("lock", cwd=gone, env=_in(store), check=True)
    (env,) = _run(gone, store)
    (gone / "labship.toml").unlink()
    return env


def _used_and_orphan(make_project: MakeProject, store: Path) -> tuple[Path, str, str]:
    """(a project that ran, the environment it uses, one no project uses any more)."""
    root = make_project()
    labship("lock", cwd=root, env=_in(store), check=True)
    (used,) = _run(root, store)
    return root, used, _orphan(make_project, store)


def test_a_project_whose_lock_cannot_be_read_keeps_what_it_used_last(
    make_project: MakeProject, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    root, used, orphan = _used_and_orphan(make_project, store)
    lock = root / "pylock.toml"
    lock.write_text(lock.read_text() + "<<<<<<< HEAD\n")  # a merge gone wrong
    said = _gc(root, store)
    assert _envs(store) == {used}, said
    assert any("cannot read its lock" in ln and "keeping what it used" in ln for ln in said)
    assert orphan not in _envs(store)


def test_a_corrupt_registry_entry_keeps_every_environment(
    make_project: MakeProject, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    root, used, orphan = _used_and_orphan(make_project, store)
    (store / "projects" / "0123456789abcdef.json").write_text('{"root": ')  # cut short
    said = _gc(root, store)
    assert _envs(store) == {used, orphan}, said
    assert any("cannot read 1 store registry entries" in ln for ln in said), said
    (store / "projects" / "0123456789abcdef.json").unlink()
    _gc(root, store)
    assert _envs(store) == {used}  # once the entry is gone, gc does its work


HOLD = """\
import pathlib, time
pathlib.Path(".started").write_text("1")
while not pathlib.Path(".release").exists():
    time.sleep(0.05)
"""


def test_an_environment_a_job_runs_in_is_busy_not_removed(
    make_project: MakeProject, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    root = make_project(jobs={"hold": "python code/hold.py"})
    (root / "code" / "hold.py").write_text(HOLD)
    labship("lock", cwd=root, env=_in(store), check=True)
    job = subprocess.Popen(
        [sys.executable, "-m", "labship", "run"],
        cwd=root,
        env={**os.environ, **_in(store)},
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not (root / ".started").exists():
            assert job.poll() is None and time.monotonic() < deadline, "the job did not start"
            time.sleep(0.05)
        (env,) = _envs(store)
        (root / "labship.toml").rename(root / "labship.toml.away")  # nobody refers to it now
        said = _gc(tmp_path, store)
        assert _envs(store) == {env}, said
        assert "1 busy" in said[-1], said
    finally:
        (root / ".release").write_text("1")
        _, err = job.communicate(timeout=60)
    assert job.returncode == 0, err
    _gc(tmp_path, store)
    assert _envs(store) == set()  # the job is over: now it goes


def test_a_project_is_registered_before_its_environment_is_built(
    make_project: MakeProject, tmp_path: Path
) -> None:
    """A build that fails (or a gc that runs while it finishes) still finds the project
    registered: gc keeps the environment its lock names."""
    store = tmp_path / "store"
    root = make_project()
    labship("lock", cwd=root, env=_in(store), check=True)
    lock = root / "pylock.toml"
    text = lock.read_text()
    lock.write_text(re.sub(r'sha256 = "[0-9a-f]{64}"', 'sha256 = "' + "0" * 64 + '"', text))
    failed = labship("run", cwd=root, env=_in(store))
    assert failed.returncode == 70, failed.stderr
    assert _envs(store) == set()
    from labship.locking import read_lock
    from labship.project import load_project
    from labship.store import MARKER, Store

    wanted = Store(store).env_path(read_lock(load_project(root), check=False).prod_hash)
    wanted.mkdir(parents=True)  # as a concurrent build of the same lock would leave it
    (wanted / MARKER).write_text("{}")
    said = _gc(root, store)
    assert _envs(store) == {wanted.name}, said
