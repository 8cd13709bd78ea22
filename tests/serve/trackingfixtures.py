"""A real MLflow tracking server (the heavy environment's mlflow, SQLite and a local
artifact folder it proxies) with the iris model logged in a run and registered."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import free_port
from serve.serverfixtures import stop, wait_ready

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Tracking:
    url: str
    run_id: str
    name: str  # the registered model: version 1, alias "champion"
    artifacts: Path  # the server's --artifacts-destination
    proc: subprocess.Popen[bytes]


def start_tracking(heavy: Path, tmp: Path) -> Tracking:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    python = str(heavy / "venv" / "bin" / "python")
    argv = [python, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}", "--workers", "1"]
    argv += ["--artifacts-destination", str(tmp / "artifacts")]
    log = tmp / "mlflow-server.log"
    # Without MLflow 3's job runner (a runner and three huey consumers): nothing here uses it.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        wait_ready(url, proc, timeout=300, path="/health")
        done = subprocess.run(
            [
                python,
                str(HERE / "log_models.py"),
                url,
                str(heavy / "models" / "iris"),
                "iris",
                str(tmp / "scratch"),
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(done.stderr[-3000:])
    except BaseException:
        stop(proc)
        raise
    run_id = done.stdout.strip().splitlines()[-1]
    return Tracking(url, run_id, "iris", tmp / "artifacts", proc)
