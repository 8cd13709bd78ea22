"""runtimes.tracking without a server: what a tracked job gets, ports, the data folder,
staleness of the lock when the setting changes. The real server: test_tracking.py."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from labship.errors import PortInUse
from labship.locking import input_digest
from labship.project import load_project
from labship.runtimes import tracking


def test_a_tracked_job_gets_the_uri_the_run_id_and_tags() -> None:
    extra = tracking.job_variables({}, "http://127.0.0.1:5000", "abc", "train")
    assert extra["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"
    assert extra["LABSHIP_RUN_ID"] == "abc"
    assert json.loads(extra["MLFLOW_RUN_CONTEXT"]) == {
        "labship.run_id": "abc",
        "labship.job": "train",
    }


def test_the_profiles_own_uri_is_never_overridden() -> None:
    own = {"MLFLOW_TRACKING_URI": "https://mlflow.example.com"}
    assert "MLFLOW_TRACKING_URI" not in tracking.job_variables(
        own, "http://127.0.0.1:5000", "a", "j"
    )


def test_the_profiles_own_run_context_is_kept() -> None:
    merged = tracking.job_variables({"MLFLOW_RUN_CONTEXT": '{"team": "x"}'}, None, "a", "j")
    assert json.loads(merged["MLFLOW_RUN_CONTEXT"])["team"] == "x"
    assert "MLFLOW_TRACKING_URI" not in merged  # no server: no URI
    odd = tracking.job_variables({"MLFLOW_RUN_CONTEXT": "not json"}, None, "a", "j")
    assert "MLFLOW_RUN_CONTEXT" not in odd  # left as the profile has it


def test_a_taken_configured_port_is_refused() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(PortInUse) as info:
            tracking.choose_port(port, avoid=8888)
    assert info.value.exit_code == 75
    assert f"port {port}" in str(info.value) and "mlflow_port" in str(info.value)


def test_without_a_configured_port_the_first_free_one_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        monkeypatch.setattr(tracking, "DEFAULT_MLFLOW_PORT", port)
        chosen = tracking.choose_port(None, avoid=port + 1)
    assert port + 1 < chosen < port + tracking.PORT_SPAN  # not the taken one, not the lab's


def test_the_data_folder_ignores_itself(tmp_path: Path, make_project) -> None:  # type: ignore[no-untyped-def]
    project = load_project(make_project())
    folder = tracking.ensure_data_dir(project)
    assert folder == project.root / ".labship" / "mlflow"
    assert (folder / "artifacts").is_dir()
    subprocess.run(["git", "init", "-q"], cwd=project.root, check=True)
    (folder / "mlflow.db").write_text("")
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".labship/mlflow/mlflow.db"], cwd=project.root
    )
    assert ignored.returncode == 0


def test_find_run_without_a_server_is_none() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
    assert tracking.find_run(f"http://127.0.0.1:{port}", "abc", timeout=1) is None


def test_turning_tracking_on_or_off_makes_the_lock_stale(make_project) -> None:  # type: ignore[no-untyped-def]
    root = make_project()
    off = input_digest(load_project(root), "3.11")
    toml = root / "labship.toml"
    toml.write_text(toml.read_text() + "\n[services]\nmlflow = false\n")
    assert input_digest(load_project(root), "3.11") == off  # off written out: the same lock
    toml.write_text(toml.read_text().replace("mlflow = false", "mlflow = true"))
    assert input_digest(load_project(root), "3.11") != off


def test_labship_version_imports_nothing_of_tracking() -> None:
    code = "import sys, labship.cli; labship.cli.main(['--version']); print(sorted(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert "labship.runtimes.tracking" not in out and "urllib.request" not in out


def test_the_server_runs_without_mlflows_job_runner_unless_asked() -> None:
    assert tracking.server_environment({}) == {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    asked = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"}
    assert tracking.server_environment(asked) == asked
