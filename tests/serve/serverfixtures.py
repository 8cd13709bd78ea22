"""Real servers for the serve tests: labship's (through the CLI) and mlflow's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from helpers import free_port


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout: float, path: str = "/ping"
) -> None:
    """Until ``url + path`` answers 200 (a model server's /ping, a tracking server's
    /health); an AssertionError when the server exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url + path, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} not ready after {timeout}s")


def start(
    argv: list[str], port: int, log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, timeout=600)
    except AssertionError:
        stop(proc)
        raise AssertionError(log.read_text()[-3000:]) from None
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left after 10 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def labship_serve(model: Path, tmp: Path, *flags: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    argv = [sys.executable, "-m", "labship", "serve", str(model), "--port", str(port), *flags]
    proc = start(argv, port, tmp / f"labship-{port}.log")
    return f"http://127.0.0.1:{port}", proc


def mlflow_serve(
    heavy: Path, model: Path, tmp: Path, workers: int
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    argv = [
        str(heavy / "venv" / "bin" / "python"),
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        str(model),
    ]
    argv += ["--env-manager", "local", "--port", str(port), "--workers", str(workers)]
    env = {**os.environ, "PATH": f"{heavy / 'venv' / 'bin'}:{os.environ['PATH']}"}
    proc = start(argv, port, tmp / f"mlflow-{port}.log", env)
    return f"http://127.0.0.1:{port}", proc
