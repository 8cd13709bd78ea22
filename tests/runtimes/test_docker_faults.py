"""Docker faults with the real client and the real engine: one line, exit 69, the hint.

The fast tests in test_images.py drive a stand-in client; these make the real one fail:
a daemon that is not there (a socket nobody listens on), and a socket this user may not
open (the engine's own, reached as an unprivileged user).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import MakeProject, labship

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


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
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
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    proc = subprocess.run(
        [*nobody, sys.executable, "-m", "labship", "build", "prod"],
        cwd=root,
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 69, proc.stderr
    _assert_one_clear_line(proc.stderr, "permission denied on the Docker socket")
