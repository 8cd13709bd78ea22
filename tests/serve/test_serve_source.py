"""``labship serve runs:/...`` and ``models:/...``: fetched from a real MLflow tracking
server over HTTP, reused from the store, and the one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from labship.console import Console
from labship.errors import UsageError
from labship.serving.source import model_folder
from serve.http_helpers import post
from serve.serverfixtures import free_port, start, stop
from serve.trackingfixtures import Tracking

pytestmark = pytest.mark.slow

ROWS = {
    "dataframe_split": {
        "columns": [
            "sepal length (cm)",
            "sepal width (cm)",
            "petal length (cm)",
            "petal width (cm)",
        ],
        "data": [
            [5.1, 3.5, 1.4, 0.2],
            [6.2, 2.9, 4.3, 1.3],
            [6.7, 3.0, 5.2, 2.3],
            [5.9, 3.0, 4.2, 1.5],
        ],
    }
}


def _serve_uri(
    ref: str, tracking_uri: str, logs: Path, *flags: str
) -> tuple[str, subprocess.Popen[bytes], Path]:
    port = free_port()
    argv = [sys.executable, "-m", "labship", "serve", ref, "--tracking-uri", tracking_uri]
    argv += ["--port", str(port), "--workers", "1", *flags]
    log = logs / f"labship-{port}.log"
    return f"http://127.0.0.1:{port}", start(argv, port, log), log


def _serve_fails(
    ref: str, *flags: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labship", "serve", ref, "--port", str(free_port()), *flags],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def _error(stderr: str) -> str:
    """The one error line, the last (progress lines may come before it)."""
    lines = stderr.splitlines()
    assert [line for line in lines if line.startswith("labship: error:")] == lines[-1:], stderr
    return lines[-1]


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.mark.parametrize("ref", ["runs:/{run}/model", "models:/iris/1"])
def test_a_uri_serves_the_same_predictions_as_the_folder(
    ref: str, tracking: Tracking, iris_labship: str, tmp_path: Path
) -> None:
    url, proc, log = _serve_uri(ref.format(run=tracking.run_id), tracking.url, tmp_path)
    try:
        assert post(url, ROWS) == post(iris_labship, ROWS)
        assert post(url, ROWS)[0] == 200
    finally:
        stop(proc)
    assert "downloading" in log.read_text() or "downloaded before" in log.read_text()


def test_a_run_is_downloaded_once_and_reused_without_the_server(tracking: Tracking) -> None:
    """The second serve of a run asks nobody: its tracking URI is a port nobody answers.
    A taken port stops it right after the model is found, before the environment."""
    import socket

    ref = f"runs:/{tracking.run_id}/model"
    first = model_folder(ref, tracking_uri=tracking.url, console=Console(quiet=True))
    assert (first / "MLmodel").is_file() and (first / "requirements.txt").is_file()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = _serve_fails(ref, "--tracking-uri", _dead_url(), "--port", port)
    assert done.returncode == 75, done.stderr
    assert f"downloaded before to {first}" in done.stderr
    assert not [p for p in first.parent.iterdir() if p.name.startswith(f".{first.name}")]


def test_an_alias_is_resolved_each_time_and_its_version_reused(tracking: Tracking) -> None:
    quiet = Console(quiet=True)
    version = model_folder("models:/iris/1", tracking_uri=tracking.url, console=quiet)
    alias = model_folder("models:/iris@champion", tracking_uri=tracking.url, console=quiet)
    assert alias == version
    with pytest.raises(UsageError, match="alias 'nope'"):
        model_folder("models:/iris@nope", tracking_uri=tracking.url, console=quiet)


@pytest.mark.parametrize(
    ("ref", "said"),
    [
        (
            "runs:/0123456789abcdef0123456789abcdef/model",
            "run 0123456789abcdef0123456789abcdef not found",
        ),
        ("runs:/{run}/nothing", "has no model at 'nothing'"),
        ("models:/no-such-model/1", "version 1 of model 'no-such-model' not found"),
        ("models:/iris/99", "version 99 of model 'iris' not found"),
        ("runs:/{run}/broken", "cannot be served"),
    ],
)
def test_unknown_things_are_one_line_exit_64(tracking: Tracking, ref: str, said: str) -> None:
    done = _serve_fails(ref.format(run=tracking.run_id), "--tracking-uri", tracking.url)
    assert done.returncode == 64, done.stderr
    assert said in _error(done.stderr), done.stderr


def test_a_failed_download_leaves_nothing_in_the_store(tracking: Tracking) -> None:
    """A file the server lists but cannot send (a socket in its artifact folder, listed
    after MLmodel): the error names it, and no half model is kept or reused."""
    from labship.store import Store

    partial = tracking.artifacts / "0" / tracking.run_id / "artifacts" / "partial"
    assert (partial / "MLmodel").is_file()
    if not (partial / "zz-socket").exists():
        os.mknod(partial / "zz-socket", 0o600 | stat.S_IFSOCK)
    models = Store().root / "serve" / "models"
    before = set(models.iterdir()) if models.is_dir() else set()
    for _ in range(2):
        done = _serve_fails(f"runs:/{tracking.run_id}/partial", "--tracking-uri", tracking.url)
        assert done.returncode == 69 and "did not send" in _error(done.stderr), done.stderr
        assert "partial/zz-socket (500" in done.stderr
        assert set(models.iterdir()) == before


def test_mlflow_tracking_uri_is_the_default(tracking: Tracking) -> None:
    done = _serve_fails("models:/iris/99", env={"MLFLOW_TRACKING_URI": tracking.url})
    assert done.returncode == 64 and "version 99 of model 'iris' not found" in _error(done.stderr)


def test_in_the_project_that_logged_it_the_prod_lock_is_used(
    tracking: Tracking, locked_project: Path
) -> None:
    """The project's run log names the model's run: serve says it keeps the prod lock
    (the resolution itself is tested in test_serve_source_unit). A taken port stops it
    before any environment is built."""
    import socket

    from conftest import labship

    ref = f"runs:/{tracking.run_id}/model"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = ["serve", ref, "--tracking-uri", tracking.url, "--port", port]
        outside = labship(*args, cwd=locked_project.parent)
        assert outside.returncode == 75 and "not a run of a project here" in outside.stderr
        line = json.dumps({**_RECORD, "mlflow_run_id": tracking.run_id})
        (locked_project / ".labship").mkdir(exist_ok=True)
        with (locked_project / ".labship" / "runs.jsonl").open("a") as log:
            log.write(line + "\n")
        inside = labship("-C", str(locked_project), *args, cwd=locked_project.parent)
    assert inside.returncode == 75, inside.stderr
    assert f"keeps {locked_project / 'pylock.toml'}'s versions" in inside.stderr


_RECORD = {
    "job": "hello",
    "profile": "prod",
    "runtime": "local",
    "start": "2026-01-01T00:00:00+00:00",
    "duration_s": 1.0,
    "exit_code": 0,
    "lock_hash": "x",
    "git_commit": None,
}
