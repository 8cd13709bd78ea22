"""``labship lab`` on the local runtime: a real JupyterLab, queried over HTTP.

One project and one lock for the module; one detached lab shared by the tests that
query it, stopped by ``test_stop`` (the tests run in file order).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import labship
from helpers import error_line, free_port

pytestmark = pytest.mark.slow

JUPYTERLAB = "jupyterlab==4.6.6"


@dataclass(frozen=True)
class Lab:
    root: Path
    token: str
    port: int
    started: subprocess.CompletedProcess[str]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def refused(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        try:
            sock.connect((host, port))
        except (ConnectionRefusedError, TimeoutError, OSError):
            return True
        return False


def non_loopback_ipv4() -> list[str]:
    """This machine's IPv4 addresses other than 127.0.0.0/8."""
    found: set[str] = set()
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5)
        found |= {a for a in out.stdout.split() if "." in a}
    except (OSError, subprocess.TimeoutExpired):
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.254", 9))  # no packet is sent for UDP connect
            found.add(sock.getsockname()[0])
        except OSError:
            pass
    return sorted(a for a in found if not a.startswith("127.") and a != "0.0.0.0")


@pytest.fixture(scope="module")
def lab_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lab") / "notes"
    for folder in ("code", "data", "notebooks"):
        (root / folder).mkdir(parents=True)
    (root / "code" / "train.py").write_text("print('train')\n")
    (root / "data" / "rows.csv").write_text("a,b\n1,2\n")
    (root / "notebooks" / "explore.ipynb").write_text(
        json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    (root / "requirements.txt").write_text("six==1.16.0\n")
    (root / "labship.toml").write_text(
        "[project]\n"
        'name = "notes"\n'
        f'python = "{sys.version_info.major}.{sys.version_info.minor}"\n'
        'spec = "requirements.txt"\n\n'
        '[jobs.train]\ncommand = "python code/train.py"\n\n'
        f'[lab]\npackages = ["{JUPYTERLAB}"]\n\n'
        '[env]\nsecret = ["JUPYTER_TOKEN"]\n'
    )
    (root / ".env_dev").write_text(f"JUPYTER_TOKEN={secrets.token_hex(24)}\n")
    labship("lock", cwd=root, check=True)
    return root


def _token(root: Path) -> str:
    return (root / ".env_dev").read_text().strip().partition("=")[2]


def _lab_pid(root: Path) -> int | None:
    try:
        pid = json.loads((root / ".labship" / "lab.json").read_text())["handle"]["pid"]
    except (OSError, ValueError, KeyError):
        return None
    return int(pid)


@pytest.fixture(scope="module")
def lab(lab_project: Path) -> Iterator[Lab]:
    port = free_port()
    started = labship("lab", "--detach", "--port", str(port), cwd=lab_project)
    pid = _lab_pid(lab_project)
    try:
        assert started.returncode == 0, started.stderr
        yield Lab(lab_project, _token(lab_project), port, started)
    finally:
        if _lab_pid(lab_project) is not None:
            labship("stop", cwd=lab_project)
        if pid is not None and _serves(pid, lab_project):  # should stop have failed
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _serves(pid: int, root: Path) -> bool:
    """``pid`` is still the JupyterLab started for ``root`` (not a reused pid)."""
    try:
        return f"root_dir={root}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_detached_lab_prints_its_url(lab: Lab) -> None:
    assert lab.started.stdout.strip() == f"http://127.0.0.1:{lab.port}/lab"
    state = json.loads((lab.root / ".labship" / "lab.json").read_text())
    assert state["runtime"] == "local" and state["port"] == lab.port
    os.kill(state["handle"]["pid"], 0)


def test_api_needs_the_token(lab: Lab) -> None:
    status, body = get(lab.url("/api/status"), lab.token)
    assert status == 200
    assert "started" in json.loads(body)
    assert get(lab.url("/api/status"))[0] == 403
    assert get(lab.url("/api/status"), "not-" + lab.token)[0] == 403


def test_lab_asks_nothing_about_jupyter_news(lab: Lab) -> None:
    """JupyterLab's "get notified about official Jupyter news?" prompt shows while its
    fetchNews setting is "none"; the dev environment's overrides make it "false"."""
    url = lab.url("/lab/api/settings/@jupyterlab/apputils-extension:notification")
    status, body = get(url, lab.token)
    assert status == 200, body
    # JupyterLab applies overrides.json as the schema's defaults
    defaults = {k: v.get("default") for k, v in json.loads(body)["schema"]["properties"].items()}
    assert defaults["fetchNews"] == "false" and defaults["checkForUpdates"] is False


def test_lab_listens_on_loopback_only(lab: Lab) -> None:
    assert not refused("127.0.0.1", lab.port)
    addresses = non_loopback_ipv4()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address")
    reachable = [a for a in addresses if not refused(a, lab.port)]
    assert not reachable, f"JupyterLab answers on {reachable}"


def test_lab_serves_the_project_folders(lab: Lab) -> None:
    status, body = get(lab.url("/api/contents/code"), lab.token)
    assert status == 200
    listing = json.loads(body)
    assert listing["type"] == "directory"
    assert [item["name"] for item in listing["content"]] == ["train.py"]
    for folder, name in (("data", "rows.csv"), ("notebooks", "explore.ipynb")):
        status, body = get(lab.url(f"/api/contents/{folder}"), lab.token)
        assert status == 200
        assert name in [item["name"] for item in json.loads(body)["content"]]


def test_token_is_never_printed(lab: Lab) -> None:
    assert lab.token not in lab.started.stdout + lab.started.stderr
    log = (lab.root / ".labship" / "lab.log").read_text()
    assert "Jupyter" in log, "the log holds nothing: the check below proves nothing"
    assert lab.token not in log
    # Nor on the server's command line, which every user of the machine can read.
    pid = _lab_pid(lab.root)
    assert pid is not None
    assert lab.token.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()


def test_second_lab_is_refused(lab: Lab) -> None:
    again = labship("lab", "--detach", "--port", str(free_port()), cwd=lab.root)
    line = error_line(again, 64)
    assert "already running" in line and f":{lab.port}/" in line
    assert lab.token not in again.stderr + again.stdout
    assert get(lab.url("/api/status"), lab.token)[0] == 200


def test_stop(lab: Lab) -> None:
    pid = _lab_pid(lab.root)
    assert pid is not None
    stopped = labship("stop", cwd=lab.root, check=True)
    assert "lab stopped" in stopped.stderr
    assert refused("127.0.0.1", lab.port)
    assert not (lab.root / ".labship" / "lab.json").exists()
    assert not _serves(pid, lab.root), "the server process is still there"
    assert "no lab was running" in labship("stop", cwd=lab.root, check=True).stderr


def test_port_in_use(lab_project: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        proc = labship("lab", "--detach", "--port", str(port), cwd=lab_project)
        line = error_line(proc, 75)
    assert f"port {port}" in line and "in use" in line
    assert time.monotonic() - started < 30
    assert not (lab_project / ".labship" / "lab.json").exists()


def test_lab_that_never_answers_leaves_no_server(
    lab_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that starts but never answers with the token is killed, not orphaned."""
    import functools
    import io
    import shutil

    from labship import api
    from labship.console import Console
    from labship.errors import ToolError
    from labship.project import load_project
    from labship.runtimes import lab

    root = tmp_path / "deaf"
    shutil.copytree(lab_project, root, ignore=shutil.ignore_patterns(".labship"))
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"base_url": "/elsewhere/"}})  # /api/status is a 404 now
    )
    with (root / ".env_dev").open("a") as env:
        env.write(f"JUPYTER_CONFIG_DIR={config}\n")
    # The local runtime imports its lab helpers when it starts a lab: patch them at home.
    monkeypatch.setattr(lab, "wait_ready", functools.partial(lab.wait_ready, timeout=20))

    def servers() -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                if (
                    entry.name.isdigit()
                    and f"root_dir={root}".encode() in (entry / "cmdline").read_bytes()
                ):
                    pids.append(int(entry.name))
            except OSError:
                continue
        return pids

    try:
        with pytest.raises(ToolError, match="did not answer"):
            api.lab(
                load_project(root),
                port=free_port(),
                detach=True,
                console=Console(stream=io.StringIO()),
            )
        assert "ServerApp" in (root / ".labship" / "lab.log").read_text(), "jupyter never ran"
        assert servers() == [], "the server that never answered was left running"
        assert not (root / ".labship" / "lab.json").exists()
    finally:
        for pid in servers():
            os.kill(pid, signal.SIGKILL)
