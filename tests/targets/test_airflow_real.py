"""The Airflow target against real Airflow 3 and the real Docker engine.

Airflow lives in its own virtual environment, built once by labship's uv and kept in a
folder keyed by its requirements (``airflow-<hash>`` in helpers.heavy_cache(): CI names
it with ``LABSHIP_TEST_HEAVY_CACHE``); each module gets its own AIRFLOW_HOME (SQLite).
One ``airflow dags test`` run covers the main path: the generated DAG runs the project's
prod image, the job's output reaches the task log, the profile's values reach the job,
a failing job fails its task, and the secret is nowhere but in the Variable.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import labship
from helpers import LOCAL_BASE, built_once, free_port, heavy_cache
from labship import targets
from labship.project import load_project
from labship.targets.base import Context
from labship.tools.uv import uv_bin, uv_env

pytestmark = [pytest.mark.slow, pytest.mark.docker]

AIRFLOW_REQUIREMENTS = (
    "apache-airflow==3.3.2",
    "apache-airflow-providers-docker==4.6.1",
    "apache-airflow-providers-cncf-kubernetes==10.25.0",
)
SECRET = "prod-secret-value-456"
SALT = "salt-value-789"
JOB = textwrap.dedent(
    """\
    import hashlib, os, sys
    print("greeting", os.environ["GREETING"], "from", os.environ["LABSHIP_JOB"])
    print("password-sha", hashlib.sha256(os.environ["DB_PASSWORD"].encode()).hexdigest()[:16])
    print("salt", os.environ["SIGNING_SALT"])
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    """
)


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """Python of a venv with Airflow and its Docker and Kubernetes providers, built once
    (relocatable: built aside, renamed into place; used only as ``python -m airflow``)."""
    key = hashlib.sha256("\n".join(AIRFLOW_REQUIREMENTS).encode()).hexdigest()[:12]

    def build(venv: Path) -> None:
        env, uv = uv_env(), str(uv_bin())
        argv = [uv, "venv", "-q", "--relocatable", "--python", sys.executable, str(venv)]
        subprocess.run(argv, env=env, check=True)
        python = str(venv / "bin" / "python")
        argv = [uv, "pip", "install", "-q", "--python", python, *AIRFLOW_REQUIREMENTS]
        subprocess.run(argv, env=env, check=True)

    return built_once(heavy_cache() / f"airflow-{key}", build) / "bin" / "python"


def _project(root: Path) -> Path:
    (root / "code").mkdir(parents=True)
    (root / "code" / "job.py").write_text(JOB)
    (root / "requirements.txt").write_text("six==1.16.0\n")
    (root / "labship.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "afdemo"
            python = "3.11"
            spec = "requirements.txt"

            [jobs.hello]
            command = "python code/job.py"
            schedule = "30 6 * * 1-5"
            timezone = "Asia/Kolkata"
            timeout = "10m"

            [jobs.boom]
            command = ["python", "code/job.py", "3"]
            schedule = "30 6 * * 1-5"
            timezone = "Asia/Kolkata"

            [jobs.report]
            command = "python code/job.py"

            [env]
            required = ["GREETING"]
            secret = ["DB_PASSWORD", "SIGNING_SALT"]
            """
        )
    )
    (root / ".env_prod").write_text(
        f"GREETING=prod-hello\nDB_PASSWORD={SECRET}\nSIGNING_SALT={SALT}\n"
    )
    (root / ".env_dev").write_text("GREETING=dev-hello\nDB_PASSWORD=dev\nSIGNING_SALT=dev\n")
    return root


class Airflow:
    """One AIRFLOW_HOME (SQLite) and the DAG folder it reads."""

    def __init__(self, python: Path, home: Path, dags: Path) -> None:
        self.python, self.home, self.dags = python, home, dags
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.python), "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
        return proc

    @contextmanager
    def api_server(self) -> Iterator[Callable[[], None]]:
        """The execution API the executor's tasks talk to, on a free port, while inside;
        it starts in the background: call what this gives to wait until it answers."""
        port = free_port()
        argv = [str(self.python), "-m", "airflow", "api-server", "--port", str(port)]
        with open(self.home / "api-server.log", "wb") as log:
            proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        self.env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"{url}/execution/"
        try:
            yield lambda: _wait_for(f"{url}/api/v2/version", proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def task_log(self, dag_id: str, task_id: str) -> str:
        (path,) = (self.home / "logs" / f"dag_id={dag_id}").glob(f"*/task_id={task_id}/*.log")
        return path.read_text()

    def python_json(self, code: str, *args: str) -> object:
        """Run ``code`` in Airflow's Python; it prints one JSON document last."""
        proc = subprocess.run(
            [str(self.python), "-c", code, *args], env=self.env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def db_rows(self) -> dict[str, str]:
        """Each table's rows as text, to look for a value anywhere in the database."""
        with sqlite3.connect(self.home / "airflow.db") as db:
            tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
            return {t: repr(db.execute(f'select * from "{t}"').fetchall()) for t in tables}


def _wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"airflow api-server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"airflow api-server did not answer {url} in {seconds:.0f}s")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The project, locked, with its prod image built."""
    root = _project(tmp_path_factory.mktemp("airflow") / "afdemo")
    env = {"LABSHIP_BASE_IMAGE": os.environ.get("LABSHIP_BASE_IMAGE", LOCAL_BASE)}
    labship("lock", cwd=root, env=env, check=True)
    labship("build", "prod", cwd=root, env=env, check=True)
    yield root


@pytest.fixture(scope="module")
def airflow(built: Path, airflow_python: Path) -> Airflow:
    home = built.parent / "airflow-home"
    home.mkdir()
    af = Airflow(airflow_python, home, built / "dags")
    af("db", "migrate")
    return af


DAGBAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "schedule": [type(dag.timetable).__name__, getattr(dag.timetable, "expression", None),
                     str(getattr(dag.timetable, "timezone", ""))],
        "catchup": dag.catchup,
        "tasks": {t.task_id: TASK(t) for t in dag.tasks},
    }
print(json.dumps(out, default=str))
"""
DOCKER_TASK = """
def TASK(t):
    return {"type": type(t).__mro__[1].__name__, "image": t.image, "command": t.command,
            "auto_remove": t.auto_remove, "mount_tmp_dir": t.mount_tmp_dir,
            "timeout": t.execution_timeout and t.execution_timeout.total_seconds(),
            "environment": t.environment, "xcom": t.do_xcom_push}
"""


def test_the_dag_folder_imports_cleanly(airflow: Airflow, built: Path) -> None:
    labship("export", "airflow", cwd=built, check=True)
    found = airflow.python_json(DOCKER_TASK + DAGBAG, str(airflow.dags))
    assert isinstance(found, dict)
    assert found["errors"] == {}
    dags = found["dags"]
    assert set(dags) == {"afdemo.30_6_x_x_1-5.Asia-Kolkata", "afdemo.manual"}
    scheduled = dags["afdemo.30_6_x_x_1-5.Asia-Kolkata"]
    assert scheduled["catchup"] is False
    assert scheduled["schedule"] == ["CronTriggerTimetable", "30 6 * * 1-5", "Asia/Kolkata"]
    assert dags["afdemo.manual"]["schedule"][0] == "NullTimetable"
    hello = scheduled["tasks"]["hello"]
    assert hello == {
        "type": "DockerOperator",
        "image": "afdemo:0.1.0",
        "command": ["python", "code/job.py"],
        "auto_remove": "success",
        "mount_tmp_dir": False,
        "timeout": 600.0,
        "environment": {
            "LABSHIP_RUNTIME": "airflow",
            "LABSHIP_PROFILE": "prod",
            "LABSHIP_JOB": "hello",
        },
        "xcom": False,
    }
    assert set(dags["afdemo.manual"]["tasks"]) == {"report"}


def test_a_run_through_the_executor(airflow: Airflow, built: Path) -> None:
    """``dags test --use-executor``: the tasks run as the scheduler runs them (LocalExecutor,
    the task supervisor, the execution API), so their logs are the files the UI shows."""
    labship("export", "airflow", cwd=built, check=True)
    variables = built / ".labship" / "airflow" / "variables-prod.json"
    assert variables.stat().st_mode & 0o777 == 0o600
    dag_id = "afdemo.30_6_x_x_1-5.Asia-Kolkata"
    with airflow.api_server() as ready:  # it starts while the Variable is imported
        airflow("variables", "import", str(variables))
        ready()
        run = airflow("dags", "test", dag_id, "--use-executor", check=False)
    output = run.stdout + run.stderr
    with sqlite3.connect(airflow.home / "airflow.db") as db:
        query = "select task_id, state from task_instance where dag_id = ?"
        states = dict(db.execute(query, (dag_id,)))
    assert states == {"hello": "success", "boom": "failed"}, output[-3000:]
    # The job's output reached the task log, with the profile's values; the value of a
    # secret key is masked there even under a name Airflow would not guess (SIGNING_SALT).
    log = airflow.task_log(dag_id, "hello")
    assert "greeting prod-hello from hello" in log
    sha = hashlib.sha256(SECRET.encode()).hexdigest()[:16]
    assert f"password-sha {sha}" in log
    assert "salt ***" in log and SALT not in log
    assert "greeting prod-hello from boom" in airflow.task_log(dag_id, "boom")
    # The secret is in the Variable only: not in the DAG folder, the run's output, the
    # rendered fields, XComs, the stored DAG code or any other table.
    assert SECRET not in output
    for path in airflow.dags.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    rows = airflow.db_rows()
    assert "labship_afdemo_prod" in rows["variable"]  # stored encrypted (Fernet)
    assert rows["rendered_task_instance_fields"] == "[]"  # no field templated, none rendered
    assert [t for t, text in rows.items() if "code/job.py" in text]  # the scan sees the DAG
    assert [t for t, text in rows.items() if SECRET in text or SALT in text] == []


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: none, user: {}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
"""
PODS = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from kubernetes.client import ApiClient
bag = DagBag(dag_folder=sys.argv[1])
pods = {t.task_id: ApiClient().sanitize_for_serialization(t.build_pod_request_obj())
        for dag in bag.dags.values() for t in dag.tasks}
timeouts = {t.task_id: t.execution_timeout and t.execution_timeout.total_seconds()
            for dag in bag.dags.values() for t in dag.tasks}
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "pods": pods, "timeouts": timeouts}))
"""


def test_the_kubernetes_dag_imports_and_builds_the_pods(
    airflow: Airflow, built: Path, tmp_path: Path
) -> None:
    """No cluster here: the pods KubernetesPodOperator would create are checked instead
    (a kubeconfig naming an unreachable server, so nothing is contacted)."""
    project = load_project(built)
    hello = project.settings.jobs["hello"]
    sized = {**project.settings.jobs, "hello": replace(hello, cpu="500m", memory="1Gi")}
    project = replace(project, settings=replace(project.settings, jobs=sized))
    context = Context(project, jobs=("hello", "report"), options=frozenset({"kubernetes"}))
    (path,) = targets.export(context, "airflow", force=True)
    assert SECRET not in path.read_text()
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    airflow.env["KUBECONFIG"] = str(tmp_path / "kubeconfig")
    found = airflow.python_json(PODS, str(airflow.dags))
    assert isinstance(found, dict)
    assert found["errors"] == {}
    assert set(found["pods"]) == {"hello", "report"}
    assert found["timeouts"] == {"hello": 600.0, "report": None}
    spec = found["pods"]["hello"]["spec"]
    assert spec["securityContext"] == {
        "runAsGroup": 10001,
        "runAsNonRoot": True,
        "runAsUser": 10001,
    }
    (container,) = spec["containers"]
    assert container["image"] == "afdemo:0.1.0"
    assert container["args"] == ["python", "code/job.py"]
    assert container["command"] == []  # the image's entrypoint (tini) stays
    assert container["envFrom"] == [{"secretRef": {"name": "afdemo-prod"}}]
    assert {e["name"]: e["value"] for e in container["env"]} == {
        "LABSHIP_RUNTIME": "airflow",
        "LABSHIP_PROFILE": "prod",
        "LABSHIP_JOB": "hello",
    }
    assert container["resources"] == {
        "limits": {"memory": "1Gi"},
        "requests": {"cpu": "500m", "memory": "1Gi"},
    }
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "resources" not in found["pods"]["report"]["spec"]["containers"][0]
