"""What many test modules share: a free port, a local HTTP server, the one error line,
the rule for a missing component, and the tests' own cache (built once, safely, whatever
runs in parallel).

A missing component (the Docker engine, its local base image, docker-compose, zsh, a
registry, cron, root) skips the test and says why; with ``LABSHIP_REQUIRE_DOCKER=1``
(CI, after ``scripts/engine-up.sh`` installed them all) it fails it instead, so nothing
CI is meant to run is skipped silently.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NoReturn

import pytest

LOCAL_BASE = "local/python:3.11-slim"


def required() -> bool:
    """CI: every component the tests use was installed, none may be missing."""
    return os.environ.get("LABSHIP_REQUIRE_DOCKER") == "1"


def missing(reason: str) -> NoReturn:
    """Skip: ``reason`` says what is missing here; fail instead where it is required."""
    if required():
        pytest.fail(f"required (LABSHIP_REQUIRE_DOCKER=1) but missing: {reason}", pytrace=False)
    pytest.skip(reason)


@cache
def docker_skip_reason() -> str | None:
    """Why the real-engine tests cannot run here (no engine, or no local base image)."""
    from labship.tools.docker import docker, engine_available

    reason = engine_available()
    if reason is not None:
        return f"no Docker engine: {reason}"
    base = os.environ.get("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    if docker(["image", "inspect", base], console=None, check=False).returncode != 0:
        return f"base image {base} missing (run scripts/engine-up.sh)"
    return None


def require_docker() -> None:
    """For a test that needs the engine without the ``docker`` marker's module-wide say."""
    reason = docker_skip_reason()
    if reason is not None:
        missing(reason)


def require_tool(*tools: str, why: str = "scripts/engine-up.sh installs it") -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            missing(f"{tool} is not installed ({why})")


NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


@cache
def _nobody_problem() -> str | None:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "needs root and setpriv, to run labship as nobody"
    probe = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import labship"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"nobody cannot run this checkout's labship (a private parent folder?): {last}"
    return None


def as_nobody() -> tuple[str, ...]:
    """The argv prefix that runs a command as nobody (root drops to uid 65534)."""
    problem = _nobody_problem()
    if problem is not None:
        missing(problem)
    return NOBODY


def free_port() -> int:
    """A loopback TCP port nothing listens on (a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def http_server(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server (the standard library's) on a free loopback port, in a thread,
    answering with ``handler``: its ``127.0.0.1:PORT``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class JSONHandler(BaseHTTPRequestHandler):
    """A stand-in server's handler: JSON answers, no request log on stderr."""

    def send_json(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def error_line(proc: subprocess.CompletedProcess[str], code: int, *, alone: bool = False) -> str:
    """The one ``labship: error:`` line of a command that exited ``code``, no traceback.
    ``alone``: every stderr line is labship's own (no tool's output leaked through)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("labship: error: ")]
    assert len(errors) == 1, proc.stderr
    if alone:
        foreign = [ln for ln in lines if not ln.startswith("labship: ")]
        assert not foreign, f"output not from labship: {foreign}"
    return errors[0]


# --------------------------------------------------------------------------- the cache


def cache_root() -> Path:
    """The tests' own cache: ``LABSHIP_TEST_CACHE``, else ``$XDG_CACHE_HOME/labship-tests``
    (``~/.cache`` without it). Made on first use: a fresh machine has neither folder."""
    explicit = os.environ.get("LABSHIP_TEST_CACHE")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    root = Path(explicit) if explicit else Path(xdg) / "labship-tests"
    root.mkdir(parents=True, exist_ok=True)
    return root


def heavy_cache() -> Path:
    """Where the heavy environments (Airflow, MLflow) are kept, each in a folder keyed by
    what it installs: ``LABSHIP_TEST_HEAVY_CACHE``, else ``heavy/`` in the tests' cache.
    CI names one that outlives its otherwise empty caches."""
    explicit = os.environ.get("LABSHIP_TEST_HEAVY_CACHE")
    root = Path(explicit) if explicit else cache_root() / "heavy"
    root.mkdir(parents=True, exist_ok=True)
    return root


def built_once(final: Path, build: Callable[[Path], None], *, done: str = ".complete") -> Path:
    """``final``, built by ``build(folder)`` unless already there. Built aside and renamed
    into place under a lock, so parallel workers build it once and never see half of it."""
    if (final / done).exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with open(final.parent / f".{final.name}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if (final / done).exists():
            return final
        aside = final.parent / f".build-{final.name}-{os.getpid()}"
        shutil.rmtree(aside, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)  # an older, interrupted attempt
        aside.mkdir()
        build(aside)
        (aside / done).touch()
        aside.rename(final)
    return final
