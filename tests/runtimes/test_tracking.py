"""``[services] mlflow = true`` on the local runtime, end to end with a real MLflow server.

One example project (``labship new``) for the module, locked once (MLflow from the lock's
dev set, scikit-learn and pandas as the example pins them; uv's cache and the session
store make a second run quick). The fixture first checks the two ways a start must fail
(a taken configured port, a server that dies), then starts a detached lab with its
tracking server and runs the example job; the tests then look at the server over HTTP,
at its sockets, and at what ``labship stop`` leaves behind (the tests run in file order).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import labship
from helpers import LOCAL_BASE, free_port, require_tool

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Tracked:
    root: Path
    port: int  # the tracking server's
    taken: subprocess.CompletedProcess[str]  # lab -d while the configured port was taken
    broken: subprocess.CompletedProcess[str]  # lab -d with a store MLflow cannot open
    leftover: list[int]  # processes of that failed start still there afterwards
    started: subprocess.CompletedProcess[str]
    run: subprocess.CompletedProcess[str]
    server_pid: int
    lab_pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, "", exc.read()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def listening(port: int) -> list[str]:
    """The local addresses (hex, as /proc/net/tcp{,6} write them) listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table, encoding="ascii") as fh:
            for line in fh.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hexport = local.rpartition(":")
                if state == "0A" and int(hexport, 16) == port:
                    found.append(address)
    return found


def servers_on(port: int) -> list[int]:
    """Processes whose command line says ``--port PORT``."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and f"--port\0{port}\0" in (entry / "cmdline").read_text():
                found.append(int(entry.name))
    return found


def _set_up(root: Path, lab_port: int, port: int) -> None:
    toml = (root / "labship.toml").read_text()
    toml = toml.replace("port = 8888", f"port = {lab_port}")
    services = f"\n[services]\nmlflow = true\nmlflow_port = {port}\n"
    (root / "labship.toml").write_text(toml + services)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracked]:
    base = tmp_path_factory.mktemp("tracking")
    labship("new", "demo", cwd=base, check=True)
    root = base / "demo"
    port = free_port()
    _set_up(root, free_port(), port)
    labship("lock", cwd=root, check=True)
    with socket.socket() as holder:  # the configured port is taken: refused, nothing started
        holder.bind(("127.0.0.1", port))
        holder.listen()
        taken = labship("lab", "-d", cwd=root)
    store = root / ".labship" / "mlflow" / "mlflow.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text("not an SQLite database " * 8)  # MLflow exits at start
    broken = labship("lab", "-d", cwd=root)
    leftover = servers_on(port) + ([1] if (root / ".labship" / "lab.json").exists() else [])
    store.unlink()
    started = labship("lab", "-d", cwd=root)
    record = json.loads((root / ".labship" / "lab.json").read_text())
    server_pid, lab_pid = record["handle"]["tracking"]["pid"], record["handle"]["pid"]
    try:
        run = labship("run", "train", cwd=root)
        yield Tracked(root, port, taken, broken, leftover, started, run, server_pid, lab_pid)
    finally:
        labship("stop", cwd=root)
        for pid in (server_pid, lab_pid):  # whatever a failed test left: never an orphan
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_lock_puts_mlflow_in_the_dev_set_only(tracked: Tracked) -> None:
    dev = (tracked.root / "pylock.dev.toml").read_text()
    prod = (tracked.root / "pylock.toml").read_text()
    assert 'name = "mlflow"' in dev
    assert 'name = "mlflow"' not in prod
    assert labship("lock", "--check", cwd=tracked.root).returncode == 0
    toml = tracked.root / "labship.toml"
    text = toml.read_text()
    toml.write_text(text.replace("mlflow = true", "mlflow = false"))
    try:
        check = labship("lock", "--check", cwd=tracked.root)
        assert check.returncode == 77
        assert "[services] mlflow" in check.stderr
    finally:
        toml.write_text(text)


def test_taken_configured_port_is_refused(tracked: Tracked) -> None:
    assert tracked.taken.returncode == 75, tracked.taken.stderr
    error = [ln for ln in tracked.taken.stderr.splitlines() if "error:" in ln]
    assert len(error) == 1 and f"port {tracked.port}" in error[0] and "mlflow_port" in error[0]


def test_server_that_fails_leaves_nothing_up(tracked: Tracked) -> None:
    assert tracked.broken.returncode == 70, tracked.broken.stderr  # ToolError
    error = [ln for ln in tracked.broken.stderr.splitlines() if "error:" in ln]
    assert len(error) == 1 and "MLflow tracking server" in error[0], tracked.broken.stderr
    assert "Traceback" not in tracked.broken.stderr
    assert tracked.leftover == []


def group_commands(pgid: int) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            if entry.name.isdigit() and os.getpgid(int(entry.name)) == pgid:
                found.append((entry / "cmdline").read_text().replace("\0", " "))
    return found


def test_lab_and_server_start(tracked: Tracked) -> None:
    assert tracked.started.returncode == 0, tracked.started.stderr
    commands = group_commands(tracked.server_pid)
    assert commands and not any("huey" in c or "_job_runner" in c for c in commands), commands
    assert f"MLflow tracking server at {tracked.url}" in tracked.started.stderr
    from labship.api import tracking_uri
    from labship.project import load_project

    assert tracking_uri(load_project(tracked.root)) == tracked.url


def test_auto_follows_the_running_lab(tracked: Tracked, monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``auto``, a job goes where the lab runs (here local, even where a Docker engine
    and its base image would win auto-detection), so a dev job meets the lab's server."""
    import io

    from labship.api import select_runtime
    from labship.console import Console
    from labship.project import load_project

    monkeypatch.delenv("LABSHIP_RUNTIME", raising=False)
    monkeypatch.setenv("LABSHIP_BASE_IMAGE", "local/python:3.11-slim")
    said = io.StringIO()
    runtime = select_runtime(load_project(tracked.root), None, console=Console(stream=said))
    assert runtime.name == "local"
    assert said.getvalue() == "labship: runtime: local (the project's lab runs there)\n"


def test_ui_answers_without_a_token(tracked: Tracked) -> None:
    status, content_type, body = get(f"{tracked.url}/")
    assert status == 200
    assert content_type.startswith("text/html") and b"<html" in body.lower()


def test_server_listens_on_loopback_only(tracked: Tracked) -> None:
    addresses = listening(tracked.port)
    assert addresses, "nothing listens on the tracking port"
    assert set(addresses) == {"0100007F"}, addresses  # 127.0.0.1, no 0.0.0.0, no IPv6


def test_job_logs_a_run_and_a_model(tracked: Tracked) -> None:
    assert tracked.run.returncode == 0, tracked.run.stderr
    printed = [ln for ln in tracked.run.stdout.splitlines() if ln.startswith("mlflow: run ")]
    assert len(printed) == 1, tracked.run.stdout
    run_id = printed[0].split()[-1]
    records = json.loads(labship("runs", "--json", cwd=tracked.root, check=True).stdout)
    assert records[-1]["mlflow_run_id"] == run_id
    assert run_id in labship("runs", cwd=tracked.root, check=True).stdout
    run = post(f"{tracked.url}/api/2.0/mlflow/runs/search", {"experiment_ids": ["1"]})
    assert [r["info"]["run_id"] for r in run["runs"]] == [run_id]  # type: ignore[index]
    found = json.loads(get(f"{tracked.url}/api/2.0/mlflow/runs/get?run_id={run_id}")[2])["run"]
    params = {p["key"]: p["value"] for p in found["data"]["params"]}
    tags = {t["key"]: t["value"] for t in found["data"]["tags"]}
    assert params["seed"] == "42"
    assert {m["key"] for m in found["data"]["metrics"]} == {"accuracy"}
    assert tags["labship.job"] == "train" and len(tags["labship.run_id"]) == 32
    models = post(
        f"{tracked.url}/api/2.0/mlflow/logged-models/search",
        {"experiment_ids": [found["info"]["experiment_id"]]},
    )["models"]
    assert [m["info"]["source_run_id"] for m in models] == [run_id]  # type: ignore[index]
    mlmodel = list((tracked.root / ".labship" / "mlflow" / "artifacts").rglob("MLmodel"))
    assert len(mlmodel) == 1 and "signature:" in mlmodel[0].read_text()


def test_serve_on_the_tracking_port_names_the_server(tracked: Tracked) -> None:
    """serve and the tracking server both default to MLflow's 5000: the clash says whose
    port it is and which to take (before any environment is built)."""
    mlmodel = next((tracked.root / ".labship" / "mlflow" / "artifacts").rglob("MLmodel"))
    done = labship("serve", str(mlmodel.parent), "--port", str(tracked.port), cwd=tracked.root)
    assert done.returncode == 75, done.stderr
    error = [ln for ln in done.stderr.splitlines() if ln.startswith("labship: error:")]
    assert error == [
        f"labship: error: port {tracked.port} on 127.0.0.1 is in use by the project's MLflow "
        f"tracking server; pass another --port (e.g. --port {tracked.port + 1})"
    ], done.stderr


def test_tracking_data_is_git_ignored(tracked: Tracked) -> None:
    require_tool("git", why="apt-get install git")
    subprocess.run(["git", "init", "-q"], cwd=tracked.root, check=True)
    db = ".labship/mlflow/mlflow.db"
    ignored = ["git", "check-ignore", "-q", db]
    assert subprocess.run(ignored, cwd=tracked.root).returncode == 0
    (tracked.root / ".gitignore").rename(tracked.root / "gitignore.kept")  # an adopted project
    try:
        assert subprocess.run(ignored, cwd=tracked.root).returncode == 0
    finally:
        (tracked.root / "gitignore.kept").rename(tracked.root / ".gitignore")


def test_stop_leaves_no_process(tracked: Tracked) -> None:
    assert group_alive(tracked.server_pid)
    stopped = labship("stop", cwd=tracked.root)
    assert stopped.returncode == 0 and "lab stopped" in stopped.stderr
    assert f"MLflow tracking server stopped ({tracked.url})" in stopped.stderr
    assert not group_alive(tracked.server_pid), "a process of the tracking server is left"
    assert not group_alive(tracked.lab_pid)
    assert listening(tracked.port) == []
    from labship.api import tracking_uri
    from labship.project import load_project

    assert tracking_uri(load_project(tracked.root)) is None


def test_runs_without_tracking_still_work(tracked: Tracked) -> None:
    dev = labship("run", "train", cwd=tracked.root)
    assert dev.returncode == 0, dev.stderr
    assert "no tracking server is running" in dev.stderr
    assert "mlflow: run" not in dev.stdout
    env_prod = tracked.root / ".env_prod"  # prod's own URI, and no mlflow in the prod set
    env_prod.write_text(env_prod.read_text() + f"MLFLOW_TRACKING_URI={tracked.url}\n")
    prod = labship("run", "train", "--profile", "prod", cwd=tracked.root)
    assert prod.returncode == 0, prod.stderr
    assert "mlflow: not installed" in prod.stdout
    records = json.loads(labship("runs", "--json", cwd=tracked.root, check=True).stdout)
    assert [r.get("mlflow_run_id") for r in records[-2:]] == [None, None]


@pytest.mark.docker
def test_docker_lab_runs_the_tracking_server_beside_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The docker runtime: the server in its own container of the dev image, the lab's
    notebooks log to it by name, the host reaches it on 127.0.0.1, stop removes all."""
    base = tmp_path_factory.mktemp("docker-tracking")
    labship("new", "demo", cwd=base, check=True)
    root, port = base / "demo", free_port()
    _set_up(root, free_port(), port)
    env = {"LABSHIP_BASE_IMAGE": LOCAL_BASE, "LABSHIP_RUNTIME": "docker"}
    labship("lock", cwd=root, check=True)
    started = labship("lab", "-d", cwd=root, env=env)

    def ours(kind: str) -> list[str]:
        listing = subprocess.run(
            ["docker", kind, "ls", *(["-a"] if kind == "container" else []), "--filter",
             f"label=org.labship.root={root}", "--format", "{{.Name}}" if kind == "network"
             else "{{.Names}}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return listing.stdout.split()

    try:
        assert started.returncode == 0, started.stderr
        url = f"http://127.0.0.1:{port}"
        status, content_type, _ = get(f"{url}/")
        assert status == 200 and content_type.startswith("text/html")
        record = json.loads((root / ".labship" / "lab.json").read_text())
        lab, server = record["handle"]["container"], record["handle"]["tracking"]["container"]
        published = subprocess.run(["docker", "port", server], capture_output=True, text=True)
        assert published.stdout.strip() == f"5000/tcp -> 127.0.0.1:{port}"
        logged = subprocess.run(
            ["docker", "exec", lab, "python", "-c",
             "import mlflow\nwith mlflow.start_run() as r:\n    mlflow.log_text('hi', 'n.txt')\n"
             "print(r.info.run_id)"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert logged.returncode == 0, logged.stderr
        run_id = logged.stdout.split()[-1]
        found = json.loads(get(f"{url}/api/2.0/mlflow/runs/get?run_id={run_id}")[2])
        assert found["run"]["info"]["run_id"] == run_id
        (note,) = (root / ".labship" / "mlflow" / "artifacts").rglob("n.txt")
        assert note.stat().st_uid == os.getuid()  # written as the host user
        from labship.api import tracking_uri
        from labship.project import load_project

        assert tracking_uri(load_project(root)) == url
    finally:
        stopped = labship("stop", cwd=root)
    assert stopped.returncode == 0 and "lab stopped" in stopped.stderr
    assert "MLflow tracking server stopped (container " in stopped.stderr
    assert ours("container") == [] and ours("network") == []
