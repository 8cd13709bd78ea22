"""Model URIs and the project's prod lock, without a tracking server: parsing, the
errors given before any download, and the constraints a project's run adds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labship.console import Console
from labship.errors import UsageError
from labship.serving.env import constraints
from labship.serving.model import ModelFolder
from labship.serving.origin import ProdPins, prod_pins
from labship.serving.source import Ref, model_folder, parse
from serve.serverfixtures import free_port


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("runs:/abc/model", Ref("runs:/abc/model", "run", "abc", "model")),
        ("runs:/abc/model/sub/", Ref("runs:/abc/model/sub/", "run", "abc", "model/sub")),
        ("models:/iris/3", Ref("models:/iris/3", "version", "iris", "3")),
        ("models:/iris@champion", Ref("models:/iris@champion", "alias", "iris", "champion")),
        ("models:/m-0a1b", Ref("models:/m-0a1b", "logged", "m-0a1b")),
    ],
)
def test_parse(text: str, want: Ref) -> None:
    assert parse(text) == want


@pytest.mark.parametrize(
    "text", ["runs:/abc", "runs:/abc/../x", "models:/iris", "models:/iris/Production", "models:/"]
)
def test_malformed_uris_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse(text)


def test_a_folder_is_returned_as_it_is(tmp_path: Path) -> None:
    folder = model_folder(str(tmp_path), tracking_uri=None, console=Console(quiet=True))
    assert folder == tmp_path


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.run(
        [sys.executable, "-m", "labship", "serve", *args, "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
    )


def test_no_tracking_server_is_exit_64_saying_how_to_give_one() -> None:
    done = _serve("models:/iris/1")
    assert done.returncode == 64 and done.stderr.count("\n") == 1
    assert "--tracking-uri" in done.stderr and "MLFLOW_TRACKING_URI" in done.stderr


def test_a_tracked_project_whose_server_is_stopped_is_exit_69_saying_to_start_it(
    tmp_path: Path,
) -> None:
    """Inside a project with [services] mlflow and no lab running: not "none is given",
    but that the project's server is stopped and how to start it."""
    made = subprocess.run(
        [sys.executable, "-m", "labship", "-q", "new", "p", "--bare"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    project = tmp_path / "p"
    with (project / "labship.toml").open("a") as toml:
        toml.write("\n[services]\nmlflow = true\n")
    done = _serve("runs:/0123456789abcdef/model", "-C", str(project))
    assert done.returncode == 69 and done.stderr.count("\n") == 1, done.stderr
    assert "is not running" in done.stderr and "labship lab" in done.stderr
    elsewhere = _serve(
        "runs:/0123456789abcdef/model",
        "-C",
        str(project),
        env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"},
    )
    assert elsewhere.returncode == 69 and "does not answer" in elsewhere.stderr


def test_a_tracking_uri_that_is_not_http_is_exit_64() -> None:
    done = _serve("models:/iris/1", "--tracking-uri", "sqlite:///mlflow.db")
    assert done.returncode == 64 and "not an http(s) URL" in done.stderr


def test_a_server_down_is_exit_69_with_its_credentials_masked() -> None:
    dead = f"http://ann:s3cret-pw@127.0.0.1:{free_port()}"
    for done in (
        _serve("models:/iris/1", "--tracking-uri", dead),
        _serve("runs:/0123456789abcdef/model", env={"MLFLOW_TRACKING_URI": dead}),
    ):
        assert done.returncode == 69, done.stderr
        assert done.stderr.count("\n") == 1 and "does not answer" in done.stderr
        assert "s3cret-pw" not in done.stderr and "ann:****@127.0.0.1" in done.stderr


# The project's prod lock: a model logged by one of the project's runs keeps its versions.


def _model(folder: Path, run_id: str | None) -> ModelFolder:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function: {python_version: 3.11.7}\n"
        + (f"run_id: {run_id}\n" if run_id else "")
    )
    (folder / "requirements.txt").write_text("six\n")
    return ModelFolder(folder, "3.11", ("six",))


def _log_run(project: Path, mlflow_run_id: str) -> None:
    record = {
        "job": "hello",
        "profile": "prod",
        "runtime": "local",
        "start": "2026-01-01T00:00:00+00:00",
        "duration_s": 1.0,
        "exit_code": 0,
        "lock_hash": "x",
        "git_commit": None,
        "mlflow_run_id": mlflow_run_id,
    }
    (project / ".labship").mkdir(exist_ok=True)
    with (project / ".labship" / "runs.jsonl").open("a") as log:
        log.write(json.dumps(record) + "\n")


def test_a_model_outside_any_project_or_without_a_run_has_no_prod_pins(tmp_path: Path) -> None:
    assert prod_pins(_model(tmp_path / "m", "abc"), tmp_path) is None
    (tmp_path / "labship.toml").write_text("this is not read: the model names no run\n")
    assert prod_pins(_model(tmp_path / "n", None), tmp_path) is None


@pytest.mark.slow
def test_a_run_the_project_did_not_log_has_no_prod_pins(locked_project: Path) -> None:
    _log_run(locked_project, "run-of-the-project")
    assert prod_pins(_model(locked_project / "m", "another-run"), locked_project) is None


@pytest.mark.slow
def test_a_model_of_the_projects_run_gets_the_prod_lock_pins(locked_project: Path) -> None:
    _log_run(locked_project, "run-of-the-project")
    found = prod_pins(_model(locked_project / "m", "run-of-the-project"), locked_project / "m")
    assert found is not None
    assert found.lock == locked_project / "pylock.toml" and "six==1.16.0" in found.pins


@pytest.mark.slow
def test_prod_pins_constrain_the_models_resolution(tmp_path: Path) -> None:
    """six unpinned resolves to its newest release; within a prod lock pinning 1.16.0,
    to that (uv pip compile -c), in a lock of its own."""
    from labship.serving.env import model_lock
    from labship.store import Store

    store, quiet = Store(tmp_path / "store"), Console(quiet=True)
    model = _model(tmp_path / "m", "r")
    pins = ProdPins(tmp_path / "pylock.toml", "r", ("six==1.16.0", "pyyaml==6.0.1"))
    free = model_lock(model, store, console=quiet).prod
    kept = model_lock(model, store, console=quiet, constraints=constraints(pins)).prod
    assert kept["six"] == "1.16.0" and kept["pyyaml"] == "6.0.1"
    assert free["six"] != "1.16.0" and free["pyyaml"] != "6.0.1"


def test_a_download_a_killed_labship_left_is_removed(tmp_path: Path) -> None:
    from labship.serving.source import _remove_abandoned

    final = tmp_path / "abc"
    dead, live = tmp_path / ".abc-999999999", tmp_path / f".abc-{os.getpid()}"
    dead.mkdir()
    live.mkdir()
    _remove_abandoned(final)
    assert not dead.exists() and live.is_dir()
