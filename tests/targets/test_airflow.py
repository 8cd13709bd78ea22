"""The Airflow target without Airflow (fast): what the DAG file says, how it is protected,
and the Variable's import file. Real Airflow and Docker: test_airflow_real.py."""

from __future__ import annotations

import ast
import io
import json
from pathlib import Path

import pytest

from conftest import MakeProject, labship
from labship import api, pushes, targets
from labship.console import Console
from labship.errors import ConfigError, ConflictError, UsageError
from labship.generated import state as file_state
from labship.project import Project, load_project
from labship.targets.base import Context

SECRET = "prod-secret-value-456"
DIGEST = "sha256:" + "ab" * 32


def _project(make_project: MakeProject, jobs: str) -> Project:
    root = make_project(jobs={"placeholder": "true"})
    toml = root / "labship.toml"
    text = toml.read_text().replace('[jobs.placeholder]\ncommand = "true"\n', jobs)
    toml.write_text(text)
    return load_project(root)


TWO_JOBS = """\
[jobs.hello]
command = "python code/hello.py"
schedule = "@daily"
timeout = "90s"

[jobs.other]
command = ["python", "code/hello.py", "x.sh"]
schedule = "0 0 * * *"
"""


def _export(project: Project, *jobs: str, kubernetes: bool = False) -> tuple[Path, str]:
    stream = io.StringIO()
    options = ["kubernetes"] if kubernetes else []
    (path,) = api.export(
        project, "airflow", console=Console(stream=stream), jobs=jobs, options=options
    )
    return path, stream.getvalue()


def _module(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def _calls(path: Path, name: str) -> list[dict[str, object]]:
    """The literal keyword arguments of every call to ``name`` in the file."""
    out = []
    for node in ast.walk(_module(path)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == name:
            kwargs = {}
            for kw in node.keywords:
                try:
                    kwargs[str(kw.arg)] = ast.literal_eval(kw.value)
                except ValueError:
                    kwargs[str(kw.arg)] = ast.unparse(kw.value)
            out.append(kwargs)
    return out


def test_one_schedule_is_one_dag_with_a_task_per_job(make_project: MakeProject) -> None:
    project = _project(make_project, TWO_JOBS)
    path, said = _export(project)
    assert path == project.root / "dags" / "demo.py"
    (dag,) = _calls(path, "DAG")
    assert dag == {
        "dag_id": "demo",
        "schedule": "0 0 * * *",  # @daily, as five fields
        "catchup": False,
        "tags": ["labship"],
    }
    hello, other = _calls(path, "LabshipJob")
    assert hello["task_id"] == "hello"
    assert hello["command"] == ["python", "code/hello.py"]
    assert hello["image"] == "IMAGE"
    assert hello["execution_timeout"] == "datetime.timedelta(seconds=90)"
    assert hello["auto_remove"] == "success" and hello["mount_tmp_dir"] is False
    assert hello["do_xcom_push"] is False
    assert other["command"] == ["python", "code/hello.py", "x.sh"]
    assert "execution_timeout" not in other
    assert "IMAGE = 'demo:0.1.0'" in path.read_text()
    assert "warning: no push recorded" in said


def test_different_schedules_are_dags_named_after_them(make_project: MakeProject) -> None:
    jobs = TWO_JOBS.replace('schedule = "0 0 * * *"', 'schedule = "*/5 9-17 * * 1,3"')
    jobs += '\n[jobs.zoned]\ncommand = "true"\nschedule = "@daily"\ntimezone = "Asia/Kolkata"\n'
    jobs += '\n[jobs.manual]\ncommand = "true"\n'
    path, _ = _export(_project(make_project, jobs))
    dags = {d["dag_id"]: d["schedule"] for d in _calls(path, "DAG")}
    assert dags == {
        "demo.0_0_x_x_x": "0 0 * * *",
        "demo.x-5_9-17_x_x_1.3": "*/5 9-17 * * 1,3",
        "demo.0_0_x_x_x.Asia-Kolkata": "CronTriggerTimetable('0 0 * * *', timezone='Asia/Kolkata')",
        "demo.manual": None,
    }
    assert [c["task_id"] for c in _calls(path, "LabshipJob")] == [
        "hello",
        "other",
        "zoned",
        "manual",
    ]


def test_the_image_is_the_last_push_by_digest(make_project: MakeProject) -> None:
    project = _project(make_project, TWO_JOBS)
    record = pushes.PushRecord("127.0.0.1:5000/team/demo", DIGEST, ("0.1.0",), None, "x", "t")
    pushes.append(project.state_dir, record)
    path, said = _export(project)
    assert f"IMAGE = '127.0.0.1:5000/team/demo@{DIGEST}'" in path.read_text()
    assert "warning" not in said


def test_no_value_in_the_dag_the_values_in_a_private_import_file(
    make_project: MakeProject,
) -> None:
    project = _project(make_project, TWO_JOBS)
    path, said = _export(project)
    assert SECRET not in path.read_text() and "prod-hello" not in path.read_text()
    variables = project.state_dir / "airflow" / "variables-prod.json"
    assert variables.stat().st_mode & 0o777 == 0o600
    assert json.loads(variables.read_text()) == {
        "labship_demo_prod": {
            "value": {"GREETING": "prod-hello", "DB_PASSWORD": SECRET},
            "description": "labship: profile prod of demo (.env_prod)",
        }
    }
    assert f"airflow variables import {variables}" in said
    assert SECRET not in said
    text = path.read_text()
    assert "VARIABLES = {'prod': 'labship_demo_prod'}" in text
    assert "SECRET_KEYS = ['DB_PASSWORD']" in text


def test_a_missing_profile_is_a_warning_the_dag_is_written(make_project: MakeProject) -> None:
    project = _project(make_project, TWO_JOBS)
    (project.root / ".env_prod").unlink()
    path, said = _export(project)
    assert path.is_file()
    assert "warning: no .env_prod: create it and export again" in said
    assert not (project.state_dir / "airflow" / "variables-prod.json").exists()


def test_the_file_is_protected_like_the_others(make_project: MakeProject) -> None:
    project = _project(make_project, TWO_JOBS)
    path, _ = _export(project)
    first = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o644  # Airflow may run as another user
    path.chmod(0o640)
    _export(project)
    assert path.read_text() == first and file_state(path) == "generated"
    path.write_text(first.replace("catchup=False", "catchup=True"))
    with pytest.raises(ConflictError, match="edited by hand"):
        _export(project)
    api.export(project, "airflow", force=True, console=Console(quiet=True))
    assert path.read_text() == first
    assert path.stat().st_mode & 0o777 == 0o640  # a rewrite keeps the owner's choice
    api.eject(project, "airflow")
    assert file_state(path) == "user"
    with pytest.raises(ConflictError, match="not written by labship"):
        _export(project)


def test_only_the_named_jobs(make_project: MakeProject) -> None:
    project = _project(make_project, TWO_JOBS)
    path, _ = _export(project, "other")
    assert [c["task_id"] for c in _calls(path, "LabshipJob")] == ["other"]
    with pytest.raises(UsageError):
        _export(project, "nosuch")
    (project.root / "labship.toml").write_text('[project]\nname = "demo"\n')
    with pytest.raises(UsageError, match="no jobs to export"):
        _export(load_project(project.root))


def test_commands_and_names_stay_literals(make_project: MakeProject) -> None:
    """Quotes, triple quotes, Jinja and newlines in a job are data in the DAG file."""
    argv = ["python", "-c", "print('''a\"\"\"b''') # {{ ds }} {% x %}\n\\x00"]
    jobs = f'[jobs."odd job/1"]\ncommand = {json.dumps(argv)}\n'
    path, _ = _export(_project(make_project, jobs))
    (task,) = _calls(path, "LabshipJob")
    assert task["command"] == argv
    assert task["task_id"] == "odd_job_1"
    assert task["environment"] == {
        "LABSHIP_RUNTIME": "airflow",
        "LABSHIP_PROFILE": "prod",
        "LABSHIP_JOB": "odd job/1",
    }


def test_jobs_that_would_share_a_task_id_are_refused(make_project: MakeProject) -> None:
    jobs = '[jobs."a b"]\ncommand = "true"\n[jobs.a_b]\ncommand = "true"\n'
    with pytest.raises(ConfigError, match="would both be the Airflow task 'a_b'"):
        _export(_project(make_project, jobs))


def test_kubernetes_tasks_read_a_secret_and_run_as_the_image_user(
    make_project: MakeProject,
) -> None:
    project = _project(make_project, TWO_JOBS)
    path, said = _export(project, "hello", kubernetes=True)
    (task,) = _calls(path, "LabshipJob")
    assert task["arguments"] == ["python", "code/hello.py"]
    assert "V1SecretEnvSource(name='demo-prod')" in str(task["env_from"])
    assert "run_as_non_root=True, run_as_user=10001" in str(task["security_context"])
    assert "container_resources" not in task  # no cpu/memory keys in labship.toml yet
    assert "the tasks read the Kubernetes Secret demo-prod: make it from .env_prod" in said
    assert not (project.state_dir / "airflow").exists()


def test_a_profile_that_cannot_name_a_secret_is_refused(make_project: MakeProject) -> None:
    jobs = '[jobs.hello]\ncommand = "true"\nprofile = "Prod_EU"\n'
    project = _project(make_project, jobs)
    with pytest.raises(ConfigError, match="not a valid Kubernetes name"):
        targets.export(Context(project, options=frozenset({"kubernetes"})), "airflow")


def test_export_without_a_target_lists_them(make_project: MakeProject) -> None:
    root = make_project()
    proc = labship("export", cwd=root, check=True)
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert names == list(targets.names()) and "airflow" in names
    assert "dags/<project>.py" in proc.stdout


def test_job_names_and_switches_only_where_a_target_takes_them(
    make_project: MakeProject,
) -> None:
    root = make_project()
    for args, words in (
        (["export", "compose", "hello"], "takes no job names"),
        (["export", "cron", "--kubernetes"], "takes no --kubernetes"),
    ):
        proc = labship(*args, cwd=root)
        assert proc.returncode == 64 and words in proc.stderr, proc.stderr
    proc = labship("export", "airflow", "--kubernetes", "hello", "-q", cwd=root, check=True)
    assert "KubernetesPodOperator" in (root / "dags" / "demo.py").read_text()
