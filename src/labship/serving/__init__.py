"""``labship serve``: an MLflow model folder as an MLflow-compatible REST API.

labship's side (this package but ``app/``) reads the folder, locks and builds the model's
environment in the store, and starts the server in it in the foreground; ``app/`` is
the server, which runs inside that environment without labship (see ``app/__init__``).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.errors import LabshipError, PortInUse, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from labship.console import Console
    from labship.runtimes.base import Runtime

DEFAULT_PORT = 5000  # mlflow models serve's
# The server's timeouts (seconds), as app/server.py's defaults (a test checks they agree):
# keep-alive as uvicorn's; the graceful stop below the Kubernetes grace (targets/k8s.py).
DEFAULT_TIMEOUTS = {
    "keep_alive": 5.0,
    "header_timeout": 10.0,
    "body_timeout": 60.0,
    "graceful_timeout": 20.0,
}
STOP_MARGIN = 5.0  # labship kills the server this long after its graceful timeout
MAX_BATCH = 4096  # the worker frame's count is 16 bits; past a few hundred nothing gains


@dataclass(frozen=True)
class ServeOptions:
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    workers: int | None = None  # None: the CPUs this process may use
    queue: int | None = None  # None: 64 per worker
    timeout: float = 60.0  # seconds a prediction may take before 504
    batch: int = 1  # requests one prediction may combine (1: no micro-batching)
    batch_wait: float = 0.0  # ms a batch may wait for more while the other workers are busy
    keep_alive: float = DEFAULT_TIMEOUTS["keep_alive"]  # an idle connection is closed
    header_timeout: float = DEFAULT_TIMEOUTS["header_timeout"]  # a request's head (then 408)
    body_timeout: float = DEFAULT_TIMEOUTS["body_timeout"]  # its body, after the head
    graceful_timeout: float = DEFAULT_TIMEOUTS["graceful_timeout"]  # to finish on SIGTERM


def serve(
    model: str | Path,
    options: ServeOptions,
    *,
    console: Console,
    runtime: str | None = None,
    tracking_uri: str | None = None,
    directory: Path | None = None,
    lab_uri: Callable[[], str | None] | None = None,
) -> int:
    """Serve until stopped; the server's exit code (0 after SIGTERM/SIGINT). ``model`` is
    a folder or a ``runs:/`` / ``models:/`` URI; ``directory`` is where to look for the
    project whose prod lock a model of its own runs keeps (default: the working folder)."""
    from labship.serving.app.cpus import usable_cpus
    from labship.serving.env import PACKAGE, constraints, environment, stage_code
    from labship.serving.model import read_model
    from labship.serving.origin import prod_pins
    from labship.serving.source import model_folder
    from labship.store import Store
    from labship.tools.process import run_foreground

    _check_options(options)
    store = Store()
    folder = read_model(
        model_folder(
            str(model), tracking_uri=tracking_uri, console=console, store=store, lab_uri=lab_uri
        )
    )
    prod = prod_pins(folder, directory)
    if prod is not None:
        console.say(
            f"the model was logged by this project's run (MLflow run {prod.run_id}): "
            f"its environment keeps {prod.lock}'s versions"
        )
    else:
        console.say(
            f"versions from {folder.path / 'requirements.txt'} (not a run of a project here)"
        )
    where = serve_runtime(runtime, console=console)  # said once the model is known to be good
    _port_free(options.host, options.port, lab_uri)
    if where.runs_images:
        from labship.serving.container import serve_container

        return serve_container(folder, options, console=console, constraints=constraints(prod))
    env = environment(folder, store, console=console, prod=prod)
    code = stage_code(store)
    workers = options.workers or usable_cpus()
    queue = options.queue if options.queue is not None else 64 * workers
    argv = [str(env / "bin" / "python"), "-m", f"{PACKAGE}.server", "--model", str(folder.path)]
    argv += ["--host", options.host, "--port", str(options.port), "--workers", str(workers)]
    argv += ["--queue", str(queue), "--timeout", f"{options.timeout!r}"]
    argv += ["--keep-alive", f"{options.keep_alive!r}"]
    argv += ["--header-timeout", f"{options.header_timeout!r}"]
    argv += ["--body-timeout", f"{options.body_timeout!r}"]
    argv += ["--graceful-timeout", f"{options.graceful_timeout!r}"]
    if options.batch > 1:
        argv += ["--batch", str(options.batch), "--batch-wait", f"{options.batch_wait:g}"]
    variables = {**os.environ, "PYTHONPATH": str(code), "PYTHONNOUSERSITE": "1"}
    variables.pop("VIRTUAL_ENV", None)
    # The environment is labship's, not the user's sources: its bytecode is written on the
    # first start (uv installs none), or every start would compile pandas and scikit-learn
    # again (10 s here); the serving image compiles it when it is built.
    variables.pop("PYTHONDONTWRITEBYTECODE", None)
    console.say(
        f"serving {folder.path} on http://{options.host}:{options.port} ({workers} workers)"
    )
    with store.in_use(env):
        ended = run_foreground(
            argv,
            env=variables,
            cwd=folder.path,
            what="serve",
            grace=options.graceful_timeout + STOP_MARGIN,
        )
    return 0 if ended.signal is not None and not ended.killed else ended.exit_code


def serve_runtime(requested: str | None, *, console: Console) -> Runtime[Any]:
    """Where the server runs: ``runtimes.select`` without a project and without probing:
    ``--runtime``, then LABSHIP_RUNTIME, then the default. Auto-detection would put every
    ``labship serve`` through an image build when an engine answers, where the default
    starts a built environment in a second; a runtime that runs images is asked for by
    name."""
    from labship.runtimes import select

    return select(None, requested, console=console, probe=False)


def _check_options(options: ServeOptions) -> None:
    if not 1 <= options.port <= 65535:
        raise UsageError(f"--port {options.port} is not a TCP port", hint="use 1 to 65535")
    if options.workers is not None and options.workers < 1:
        raise UsageError("--workers must be at least 1")
    for flag, value, low in (
        ("--timeout", options.timeout, 0.001),
        ("--keep-alive", options.keep_alive, 0.001),
        ("--header-timeout", options.header_timeout, 0.001),
        ("--body-timeout", options.body_timeout, 0.001),
        ("--graceful-timeout", options.graceful_timeout, 0.0),
        ("--batch-wait", options.batch_wait, 0.0),
    ):
        if not math.isfinite(value) or value < low:
            raise UsageError(f"{flag} must be a finite number, at least {low:g}")
    if not 1 <= options.batch <= MAX_BATCH:
        raise UsageError(f"--batch must be 1 to {MAX_BATCH} requests")
    if not 0 <= options.batch_wait <= 60_000:
        raise UsageError("--batch-wait must be 0 to 60000 ms")


def _port_free(host: str, port: int, lab_uri: Callable[[], str | None] | None = None) -> None:
    """Refuse a taken port before the environment is built (exit 75), naming the project's
    tracking server when it is what listens there (both default to MLflow's 5000)."""
    from labship.runtimes.lab import bind_error

    exc = bind_error(port, host)
    if exc is None:
        return
    if exc.errno != errno.EADDRINUSE:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}")
    tracking = None
    with contextlib.suppress(LabshipError):  # not running: not what listens there
        tracking = lab_uri() if lab_uri is not None else None
    whose = (
        " by the project's MLflow tracking server"
        if tracking is not None and tracking.endswith(f":{port}")
        else ""
    )
    raise PortInUse(
        f"port {port} on {host} is in use{whose}",
        hint=f"pass another --port (e.g. --port {port + 1 if port < 65535 else 8080})",
    )
