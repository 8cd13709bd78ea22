"""Docker faults with the real client and the real engine: one line, exit 69, the hint.

The fast tests in test_images.py drive a stand-in client; these make the real one fail:
a daemon that is not there (a socket nobody listens on), a socket this user may not
open (the engine's own, reached as an unprivileged user), and an engine that answers but
cannot pull the base image (no registry reachable, or a tag that exists nowhere).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import MakeProject, labship
from helpers import LOCAL_BASE, as_nobody
from labship import api
from labship.console import Console
from labship.project import load_project
from labship.tools.docker import inspect_image, pull_problem

pytestmark = pytest.mark.docker


def _assert_one_clear_line(stderr: str, what: str) -> None:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("labship: error:")]
    assert len(lines) == 1, stderr
    assert what in lines[0], stderr
    assert "--runtime local" in lines[0], stderr
    assert "Traceback" not in stderr


@pytest.fixture
def locked(make_project: MakeProject) -> Path:
    root = make_project()
    labship("lock", cwd=root, check=True)
    return root


def test_daemon_down_is_one_line_with_the_local_hint(locked: Path) -> None:
    dead = {"DOCKER_HOST": f"unix://{locked}/no-engine.sock"}
    for argv in (["build", "prod"], ["run", "--runtime", "docker"]):
        proc = labship(*argv, cwd=locked, env=dead)
        assert proc.returncode == 69, proc.stderr
        _assert_one_clear_line(proc.stderr, "cannot connect to the Docker engine")


def test_no_permission_on_the_socket_is_one_line_with_the_local_hint(locked: Path) -> None:
    # A world-writable copy of the project (pytest's own temp root is root's alone),
    # run as nobody against the engine's socket.
    home = Path(tempfile.mkdtemp(prefix="labship-nobody-"))
    try:
        _build_as_nobody(locked, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _build_as_nobody(locked: Path, home: Path) -> None:
    root = home / "project"
    shutil.copytree(locked, root)
    for path in [home, *home.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    env = {**os.environ, "HOME": str(home), "LABSHIP_STORE": str(home / "store")}
    env.pop("DOCKER_HOST", None)
    proc = subprocess.run(
        [*as_nobody(), sys.executable, "-m", "labship", "build", "prod"],
        cwd=root,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 69, proc.stderr
    _assert_one_clear_line(proc.stderr, "permission denied on the Docker socket")


# ------------------------------------------------ an engine that cannot pull images

DEFAULT_BASE = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"


def _unpullable(ref: str) -> str | None:
    """Why ``ref`` cannot be had here, or None when this engine has it or can pull it."""
    return None if inspect_image(ref) is not None else pull_problem(ref)


def _assert_short_cause(line: str) -> None:
    """The cause in a few words (DNS failure, refused, timed out, not found, ...), never
    the registry's raw error. Not compared with ``_unpullable``'s: a flaky resolver may
    time out once and fail the next time."""
    cause = line.split("cannot be pulled: ", 1)[1].split(";", 1)[0]
    assert 0 < len(cause) < 90, line
    assert "dial tcp" not in cause and 'Head "' not in cause and "://" not in cause, line


@pytest.mark.parametrize(
    "base", [DEFAULT_BASE, f"local/labship-missing-{os.getpid()}:1"], ids=["default", "local"]
)
def test_a_base_image_that_cannot_be_pulled_is_one_short_line(locked: Path, base: str) -> None:
    if _unpullable(base) is None:
        pytest.skip(f"this engine can get {base}: nothing to test")
    env = {"LABSHIP_BASE_IMAGE": "" if base == DEFAULT_BASE else base}
    for argv in (["build", "prod"], ["run", "--runtime", "docker"]):
        proc = labship(*argv, cwd=locked, env=env)
        assert proc.returncode == 69, proc.stderr
        _assert_one_clear_line(proc.stderr, f"the base image {base} is not on this machine")
        line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("labship: error:"))
        _assert_short_cause(line)
        assert "[docker] base_image or LABSHIP_BASE_IMAGE" in line
        assert len(line) < 300, line
        assert "load metadata" not in proc.stderr and "failed to solve" not in proc.stderr


def test_auto_detection_falls_back_to_local_when_the_base_cannot_be_pulled(
    locked: Path,
) -> None:
    if _unpullable(DEFAULT_BASE) is None:
        pytest.skip(f"this engine can get {DEFAULT_BASE}: docker is the right choice")
    proc = labship("run", cwd=locked, env={"LABSHIP_RUNTIME": "", "LABSHIP_BASE_IMAGE": ""})
    assert proc.returncode == 0, proc.stderr
    assert "six 1.16.0" in proc.stdout
    said = next(ln for ln in proc.stderr.splitlines() if ln.startswith("labship: runtime:"))
    assert said.startswith("labship: runtime: local (a Docker engine answered, but the base")
    assert f"{DEFAULT_BASE} is not on this machine and cannot be pulled: " in said
    _assert_short_cause(said)
    assert "to use Docker, point [docker] base_image or LABSHIP_BASE_IMAGE at a local image" in said


def test_auto_detection_keeps_docker_when_the_base_image_is_here(
    locked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABSHIP_RUNTIME", raising=False)
    monkeypatch.setenv("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    said = io.StringIO()
    runtime = api.select_runtime(load_project(locked), None, console=Console(stream=said))
    assert runtime.name == "docker"
    assert said.getvalue() == "labship: runtime: docker (a Docker engine answered)\n"
