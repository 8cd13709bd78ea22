"""The serving image on the real engine: ``labship build serve`` of the heavy fixture's
iris model builds once and then reuses its tag; the container runs as the non-root user,
turns healthy, and answers as the local runtime does; ``labship serve --runtime docker``
answers and Ctrl-C (SIGINT) removes its container; no env file or secret is in an image."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import LOCAL_BASE, free_port
from serve.http_helpers import post
from serve.serverfixtures import wait_ready

pytestmark = [pytest.mark.slow, pytest.mark.docker]

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 2.8, 4.3, 1.3]]
SECRET = "serve-secret-value-6671"


def _labship(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LABSHIP_BASE_IMAGE": os.environ.get("LABSHIP_BASE_IMAGE", LOCAL_BASE)}
    return subprocess.run(
        [sys.executable, "-m", "labship", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    from labship.tools.docker import binary

    return subprocess.run([binary(), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def built(heavy: Path) -> tuple[str, str]:
    """(the first call's stderr, the tag it printed)."""
    done = _labship("build", "serve", str(heavy / "models" / "iris"))
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stderr, done.stdout.strip()


@pytest.fixture(scope="module")
def container(built: tuple[str, str]) -> Iterator[tuple[str, str]]:
    """(name, url) of the image run detached, as a cluster or a user would run it."""
    port = free_port()
    name = f"labship-test-serve-{os.getpid()}"
    ran = _docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", built[1])
    assert ran.returncode == 0, ran.stderr
    yield name, f"http://127.0.0.1:{port}"
    _docker("rm", "-f", name)


def test_build_serve_builds_once_and_then_reuses_the_tag(
    built: tuple[str, str], heavy: Path
) -> None:
    first_err, tag = built
    assert tag.startswith("labship-serve/iris:")
    assert tag in first_err  # built now, or found from an earlier run: either way named
    started = time.monotonic()
    again = _labship("build", "serve", str(heavy / "models" / "iris"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == tag
    assert "is up to date" in again.stderr and "building" not in again.stderr
    assert time.monotonic() - started < 30  # no build, not even a cached one


def test_the_container_is_non_root_turns_healthy_and_answers_like_the_local_runtime(
    container: tuple[str, str], built: tuple[str, str], iris_labship: str
) -> None:
    name, url = container
    deadline = time.monotonic() + 180
    health = ""
    while time.monotonic() < deadline:
        health = _docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()
        if health in ("healthy", "unhealthy"):
            break
        time.sleep(1)
    assert health == "healthy", _docker("logs", name).stderr[-2000:]
    assert _docker("exec", name, "id", "-u").stdout.strip() == "10001"
    config = json.loads(_docker("image", "inspect", built[1]).stdout)[0]["Config"]
    assert config["User"] == "10001:10001"
    assert "8080/tcp" in config["ExposedPorts"]
    body = {"dataframe_split": {"columns": COLUMNS, "data": ROWS}}
    in_docker = post(url, body)
    local = post(iris_labship, body)
    assert in_docker == local
    assert in_docker[0] == 200 and len(in_docker[1]["predictions"]) == 3


def test_the_image_has_no_mlflow_and_no_pip(container: tuple[str, str]) -> None:
    name, _url = container
    probe = "import importlib.util as u; print(u.find_spec('mlflow'), u.find_spec('pip'))"
    assert _docker("exec", name, "python", "-c", probe).stdout.strip() == "None None"


def test_serve_runtime_docker_answers_and_sigint_removes_the_container(
    heavy: Path, built: tuple[str, str], tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    argv = [sys.executable, "-m", "labship", "serve", str(heavy / "models" / "iris")]
    argv += ["--runtime", "docker", "--port", str(port), "--workers", "1"]
    env = {**os.environ, "LABSHIP_BASE_IMAGE": os.environ.get("LABSHIP_BASE_IMAGE", LOCAL_BASE)}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, timeout=300)
        body = {"dataframe_split": {"columns": COLUMNS, "data": ROWS[:1]}}
        assert post(f"http://127.0.0.1:{port}", body) == (200, {"predictions": [0]})
        names = _docker("ps", "-q", "--filter", f"publish={port}").stdout.split()
        assert len(names) == 1
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert proc.wait(timeout=60) == 0, log.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _docker("ps", "-aq", "--filter", f"id={names[0]}").stdout.strip() == ""
    assert "runtime: docker (--runtime)" in log.read_text()


def test_no_env_file_or_secret_reaches_the_image(heavy: Path, tmp_path: Path) -> None:
    model = tmp_path / "leaky"
    shutil.copytree(heavy / "models" / "iris", model)
    (model / ".env").write_text(f"TOKEN={SECRET}\n")
    (model / ".env_prod").write_text(f"DB_PASSWORD={SECRET}\n")
    (model / ".git").mkdir()
    (model / ".git" / "config").write_text(f"[credential]\n\ttoken = {SECRET}\n")
    done = _labship("build", "serve", str(model))
    assert done.returncode == 0, done.stderr[-3000:]
    tag = done.stdout.strip()
    try:
        listing = _docker("run", "--rm", "--entrypoint", "sh", tag, "-c", "ls -A /model")
        assert sorted(listing.stdout.split()) == sorted(
            p.name for p in (heavy / "models" / "iris").iterdir()
        )
        grep = f"grep -rl {SECRET} /model /opt /tmp /home /etc 2>/dev/null; true"
        found = _docker("run", "--rm", "--entrypoint", "sh", tag, "-c", grep)
        assert found.stdout.strip() == ""
        history = _docker("history", "--no-trunc", tag).stdout
        assert SECRET not in history and SECRET not in _docker("image", "inspect", tag).stdout
    finally:
        _docker("rmi", tag)
