"""labship doctor: checks as data, what the project needs decides the exit code, and the
registry checks against a real registry (with and without a login) never show a secret."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import labship
from dockerfixtures import write_project
from helpers import free_port
from labship import diagnosis as doctor
from labship.project import Project
from registryfixtures import Running, docker_config, serve_auth_registry

PASSWORD = "doctor-pass-0e9a77"
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def _checks(report: doctor.Report) -> dict[str, doctor.Check]:
    return {check.name: check for check in report.checks}


def test_the_machine_alone_is_checked_as_data() -> None:
    report = doctor.diagnose(None)
    names = list(_checks(report))
    for name in ("uv", "docker engine", "buildkit client", "compose", "cron", "crontab"):
        assert name in names
    assert _checks(report)["uv"].ok  # labship depends on uv: it is always here
    assert json.loads(json.dumps(report.to_json()))["checks"][0]["name"] == "uv"
    assert report.exit_code == (0 if report.ok else doctor.EXIT_MISSING)


def test_docker_runtime_without_an_engine_fails_with_its_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "p").root
    env = {**NO_ENGINE, "LABSHIP_RUNTIME": "docker"}
    proc = labship("doctor", cwd=root, env=env)
    assert proc.returncode == doctor.EXIT_MISSING == 69
    engine = next(line for line in proc.stdout.splitlines() if "docker engine" in line)
    assert engine.startswith("FAIL") and "cannot connect" in engine
    assert "fix: start it" in proc.stdout
    as_json = json.loads(labship("doctor", "--json", cwd=root, env=env).stdout)
    assert as_json["ok"] is False
    failed = [c["name"] for c in as_json["checks"] if c["needed"] and not c["ok"]]
    assert failed == ["docker engine"]


def test_local_runtime_needs_the_projects_python_not_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p")
    (project.root / "labship.toml").write_text(
        (project.root / "labship.toml").read_text().replace('python = "3.11"', 'python = "3.99"')
    )
    monkeypatch.setenv("LABSHIP_RUNTIME", "local")
    for key, value in NO_ENGINE.items():
        monkeypatch.setenv(key, value)
    from labship.project import load_project

    report = doctor.diagnose(load_project(project.root))
    checks = _checks(report)
    assert not checks["python 3.99"].ok and checks["python 3.99"].needed
    assert "labship never downloads" in checks["python 3.99"].fix
    assert "run" not in checks["docker engine"].commands  # the local runtime does without it
    assert checks["docker engine"].commands == ("build", "push")  # which need it
    assert report.exit_code == 69


def test_the_runtime_is_chosen_as_run_chooses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from labship.project import load_project

    project = load_project(write_project(tmp_path / "p").root)
    monkeypatch.setenv("LABSHIP_RUNTIME", "local")
    runtime = _checks(doctor.diagnose(project))["runtime"]
    assert runtime.ok and runtime.detail == "local (LABSHIP_RUNTIME)" and not runtime.needed
    monkeypatch.setenv("LABSHIP_RUNTIME", "podman")
    report = doctor.diagnose(project)
    runtime = _checks(report)["runtime"]
    assert not runtime.ok and "unknown runtime 'podman'" in runtime.detail
    assert "use one of auto," in runtime.fix and report.exit_code == 69


def test_process_running_reads_proc() -> None:
    own = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert doctor._process_running({own})
    assert not doctor._process_running({"no-such-process-name"})


# ---------------------------------------------------------------- a real registry


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_auth_registry(tmp_path_factory.mktemp("registry"), "tester", PASSWORD) as running:
        yield running


def _with_registry(tmp_path: Path, host: str) -> Project:
    return write_project(tmp_path / "p", extra_toml=f'registry = "{host}/team"\n')


def test_registry_login_missing_then_present_never_shown(
    auth_registry: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = auth_registry.host
    project = _with_registry(tmp_path, host)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty"))
    checks = _checks(doctor.diagnose(project))
    assert checks[f"registry {host}"].ok
    login = checks["registry login"]
    assert not login.ok and login.needed and login.fix == f"docker login {host}"
    config = docker_config(tmp_path / "cfg", host, "tester", PASSWORD)
    proc = labship("doctor", cwd=project.root, env={"DOCKER_CONFIG": str(config)})
    assert "registry login" in proc.stdout and "logged in (config.json)" in proc.stdout
    proc_json = labship("doctor", "--json", cwd=project.root, env={"DOCKER_CONFIG": str(config)})
    for text in (proc.stdout, proc.stderr, proc_json.stdout, proc_json.stderr):
        assert PASSWORD not in text
    wrong = docker_config(tmp_path / "wrong", host, "tester", "wrong-" + PASSWORD[:4])
    monkeypatch.setenv("DOCKER_CONFIG", str(wrong))
    refused = _checks(doctor.diagnose(project))["registry login"]
    assert not refused.ok and "refused docker's login" in refused.detail


def test_a_down_registry_is_a_failed_needed_check(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"
    report = doctor.diagnose(_with_registry(tmp_path, host))
    check = _checks(report)[f"registry {host}"]
    assert not check.ok and check.needed and "does not answer" in check.detail
    assert report.exit_code == 69


@pytest.mark.docker
def test_a_base_image_neither_here_nor_pullable_means_build_is_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(tmp_path / "p").root
    monkeypatch.setenv("LABSHIP_STORE", str(tmp_path / "store"))  # no remembered answer
    env = {"LABSHIP_RUNTIME": "local", "LABSHIP_BASE_IMAGE": "local/absent-base:0.0"}
    proc = labship("doctor", cwd=root, env=env)
    assert proc.returncode == doctor.EXIT_MISSING
    line = next(ln for ln in proc.stdout.splitlines() if "base image" in ln)
    assert line.startswith("FAIL") and "local/absent-base:0.0" in line
    assert "cannot be pulled" in line
    summary = proc.stderr.strip().splitlines()[-1]
    assert "build, push will not work" in summary and "ready: lock, run, lab" in summary
    assert all(len(ln) <= 300 for ln in (proc.stdout + proc.stderr).splitlines())


@pytest.mark.docker
def test_a_base_image_with_another_python_than_the_lock_is_named_with_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "p")
    config = project.root / "labship.toml"
    config.write_text(config.read_text().replace('python = "3.11"', 'python = "3.10"'))
    monkeypatch.setenv("LABSHIP_BASE_IMAGE", "local/python:3.11-slim")  # what CI builds on
    monkeypatch.setenv("LABSHIP_RUNTIME", "local")
    from labship.project import load_project

    report = doctor.diagnose(load_project(project.root))
    check = _checks(report)["base image python"]
    assert not check.ok and check.commands == ("build", "push")
    assert "has Python 3.11" in check.detail and "the lock is for Python 3.10" in check.detail
    assert 'base_image = "python:3.10-slim"' in check.fix
    assert report.not_ready == ["build", "push"]
