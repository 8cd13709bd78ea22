"""The MLflow tracking server beside the lab (``[services] mlflow = true``): where its data
lives, its command line, its port, its readiness, and what its REST API says about a job.

- **Data inside the project, out of git**: ``.labship/mlflow/mlflow.db`` (SQLite, runs and
  registered models) and ``.labship/mlflow/artifacts/`` (models, files). ``.labship/`` is
  git-ignored by the scaffold, and the folder holds its own ``.gitignore`` (``*``) so a
  project ``labship init`` adopted with its own ``.gitignore`` does not commit it either.
- **Artifacts through the server** (MLflow's ``--serve-artifacts``, its default): clients
  upload to ``mlflow-artifacts:/`` over HTTP, so a job or notebook needs only the URI,
  never the folder (a container reaches it too).
- **127.0.0.1 only** on the local runtime, MLflow's own host-header and CORS defaults,
  no token: it is a development server on this machine, like MLflow's own default.
- **Without MLflow's job runner.** ``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` unless the
  caller's environment says otherwise: the runner (GenAI scorers, prompt optimisation)
  adds eight processes; measured here, the server then starts in 39 s instead of 89 s on a
  loaded machine, with 2 processes and 0.5 GB instead of 10 and 1.2 GB.
- **Which run a job logged**: labship gives each tracked job ``LABSHIP_RUN_ID`` and
  ``MLFLOW_RUN_CONTEXT`` (a JSON object of tags that MLflow's ``SystemEnvironmentContext``
  adds to every run the process starts), so the job's runs carry the tag
  ``labship.run_id`` without the job doing anything; after the job labship asks
  ``/api/2.0/mlflow/runs/search`` for that tag. An exact match, never a guess by time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship import state
from labship.errors import PortInUse, ToolError
from labship.project.settings import DEFAULT_MLFLOW_PORT
from labship.tools.process import wait_until

if TYPE_CHECKING:
    from labship.project import Project

DATA_DIR = state.MLFLOW  # under .labship/
DB_NAME = "mlflow.db"
ARTIFACTS = "artifacts"
LOG_NAME = state.MLFLOW_LOG  # under .labship/
PORT_SPAN = 20  # without a configured port: the first free one from 5000 to 5019
READY_TIMEOUT = 120.0  # a first start creates the SQLite schema: seconds, not milliseconds
URI_VAR = "MLFLOW_TRACKING_URI"
CONTEXT_VAR = "MLFLOW_RUN_CONTEXT"  # MLflow: tags (JSON) every run of the process gets
RUN_ID_VAR = "LABSHIP_RUN_ID"
RUN_TAG = "labship.run_id"
JOB_TAG = "labship.job"


def data_dir(project: Project) -> Path:
    return state.of(project).mlflow


def ensure_data_dir(project: Project) -> Path:
    """``.labship/mlflow/`` with its artifact folder and a ``.gitignore`` that ignores all."""
    from labship.atomicfile import write_error

    folder = data_dir(project)
    try:
        (folder / ARTIFACTS).mkdir(parents=True, exist_ok=True)
        ignore = folder / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# MLflow's runs and artifacts: machine-local, never committed\n*\n")
    except OSError as exc:
        raise write_error(exc, folder, "the tracking server was not started") from None
    return folder


JOBS_VAR = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"


def server_environment(caller: Mapping[str, str]) -> dict[str, str]:
    """What the server gets beside the base environment: no job runner, unless asked."""
    return {JOBS_VAR: caller.get(JOBS_VAR) or "false"}


def server_args(*, host: str, port: int, folder: str, workers: int = 1) -> list[str]:
    """``mlflow server``'s arguments (after the program): the store in ``folder``."""
    return [
        "server",
        "--host",
        host,
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{folder}/{DB_NAME}",
        "--artifacts-destination",
        f"{folder}/{ARTIFACTS}",
        "--workers",
        str(workers),
    ]


def container_command() -> list[str]:
    """The server in a container (compose, the docker runtime): all interfaces of its own
    network namespace (the host publishes it on 127.0.0.1 only), the store mounted at
    ``container.MLFLOW_DATA``, reachable from the lab by the name ``mlflow``."""
    from labship.images import container

    return [
        "mlflow",
        *server_args(host="0.0.0.0", port=container.MLFLOW_PORT, folder=container.MLFLOW_DATA),
        "--allowed-hosts",
        container.MLFLOW_ALLOWED_HOSTS,
    ]


def container_uri() -> str:
    """The server's URI from the lab's container."""
    from labship.images import container

    return f"http://{container.MLFLOW_HOST}:{container.MLFLOW_PORT}"


def keep_profile_uri(argv: list[str] | tuple[str, ...], uri: str) -> list[str]:
    """``argv`` run with MLFLOW_TRACKING_URI set to ``uri`` unless the container's
    environment (the profile) already sets it: compose's ``environment:`` would win over
    ``env_file:``, so the default is given inside the container."""
    script = f'export {URI_VAR}="${{{URI_VAR}:-{uri}}}"; exec "$@"'
    return ["sh", "-c", script, "sh", *argv]


def port_taken(port: int) -> PortInUse:
    return PortInUse(
        f"port {port} on 127.0.0.1 for the MLflow tracking server is already in use",
        hint="stop what uses it, or set another in labship.toml: [services] mlflow_port = N",
    )


def _taken(port: int) -> PortInUse | None:
    from labship.runtimes.lab import bind_error, taken

    exc = bind_error(port)
    if exc is None:
        return None
    if taken(exc):
        return port_taken(port)
    return PortInUse(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}")


def choose_port(configured: int | None, *, avoid: int) -> int:
    """The configured port, which must be free; else the first free one from 5000."""
    if configured is not None:
        problem = _taken(configured)
        if problem is not None:
            raise problem
        return configured
    for port in range(DEFAULT_MLFLOW_PORT, DEFAULT_MLFLOW_PORT + PORT_SPAN):
        if port != avoid and _taken(port) is None:
            return port
    last = DEFAULT_MLFLOW_PORT + PORT_SPAN - 1
    raise PortInUse(
        f"no free port for the MLflow tracking server on 127.0.0.1 "
        f"({DEFAULT_MLFLOW_PORT} to {last} are taken)",
        hint="set one in labship.toml: [services] mlflow_port = N",
    )


def healthy(url: str) -> bool:
    """True when the server answers ``/health`` with 200."""
    from labship.tools import http

    return http.ok(f"{url}/health")


def wait_healthy(
    url: str, *, alive: Callable[[], bool], where: str, timeout: float = READY_TIMEOUT
) -> None:
    if wait_until(lambda: healthy(url), alive=alive, timeout=timeout, interval=0.2):
        return
    why = "exited before it was ready" if not alive() else f"did not answer within {timeout:.0f} s"
    raise ToolError(f"the MLflow tracking server at {url} {why}; see {where}")


def job_variables(
    profile: Mapping[str, str], uri: str | None, run_id: str, job: str
) -> dict[str, str]:
    """What a tracked job gets beside its profile: this server's URI (never over the
    profile's own), the run id, and the tags every MLflow run it starts carries."""
    extra = {RUN_ID_VAR: run_id}
    if uri is not None and not profile.get(URI_VAR):
        extra[URI_VAR] = uri
    tags: dict[str, Any] = {}
    own = profile.get(CONTEXT_VAR)
    if own:
        try:
            tags = json.loads(own)
        except ValueError:
            return extra  # the profile's own, not JSON: MLflow's business, left as it is
        if not isinstance(tags, dict):
            return extra
    extra[CONTEXT_VAR] = json.dumps({**tags, RUN_TAG: run_id, JOB_TAG: job})
    return extra


def find_run(url: str, run_id: str, *, timeout: float = 5.0) -> tuple[str, str] | None:
    """(MLflow run id, experiment id) of the run tagged ``labship.run_id = run_id``: the
    first one the job started when it started several (nested ones come after their
    parent). None when there is none, or the server cannot say."""
    from labship.errors import LabshipError
    from labship.tools.mlflow import Client

    try:
        client = Client(url, {}, timeout=timeout)  # labship's own server: no credentials
    except LabshipError:
        return None
    return client.run_tagged(RUN_TAG, run_id)


def run_url(url: str, run_id: str, experiment_id: str) -> str:
    """The run's page in the MLflow UI."""
    return f"{url}/#/experiments/{experiment_id}/runs/{run_id}"
