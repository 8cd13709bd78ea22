"""The Airflow target: ``dags/<project>.py``, the project's jobs as Airflow 3 tasks.

``labship export airflow [JOB...] [--kubernetes]`` writes one DAG file per project; each
job is one task that runs the job's command in the project's prod image, as
``labship run JOB --profile P`` would in a container. Decisions:

- **One file, one DAG per schedule.** An Airflow DAG has one schedule, so the jobs are
  grouped by (schedule, time zone): one group is the DAG ``<project>``; several are
  ``<project>.<schedule>`` (e.g. ``churn.0_22_x_x_1-5``), jobs without a schedule are
  ``<project>.manual`` (``schedule=None``: triggered by hand). Adding a job with a new
  schedule therefore renames the one DAG; a job keeps its task id (its name) throughout.
  Every DAG has ``catchup=False``; a schedule is a ``CronTriggerTimetable`` in the job's
  ``timezone``, else a cron string in Airflow's ``default_timezone`` (UTC unless set).
- **The image by digest.** ``image`` is the last push's ``registry/name@sha256:...``
  (``labship.pushes``); before any push, the local prod tag, with a warning: it moves.
- **Docker** (default): the Docker provider's ``DockerOperator`` with
  ``auto_remove="success"``, ``mount_tmp_dir=False``, the job's exit code failing the
  task and its ``timeout`` as ``execution_timeout``.
- **Kubernetes** (``--kubernetes``): the cncf provider's ``KubernetesPodOperator``, as
  the image's non-root user, the profile's variables from the Kubernetes Secret
  ``<project>-<profile>`` (``envFrom``), requests from the job's ``cpu``/``memory``.
- **No value in the DAG file.** With Docker the profile's values are the Airflow
  Variable ``labship_<project>_<profile>`` (JSON), read by the task only when it runs and
  given to the container as ``private_environment``, which Airflow neither templates nor
  shows among the rendered fields; the values of ``[env] secret`` keys are also masked in
  the task log. ``labship export airflow`` writes that Variable's import file
  (``.labship/airflow/variables-<profile>.json``, mode 0600, git-ignored) and prints the
  ``airflow variables import`` command; the file is rewritten on every export.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import ConfigError, FileWriteError
from labship.generated import Header, Planned, with_header
from labship.targets.base import Context, distinct_names, selected_jobs

if TYPE_CHECKING:
    from labship.console import Console
    from labship.project import Job, Project

DAGS_DIR = "dags"
RUNTIME = "airflow"  # LABSHIP_RUNTIME in the job's environment, as labship's runtimes set it
DOCKER_URL = "unix://var/run/docker.sock"
HEADER = Header(
    sources="labship.toml and the last push",
    command="labship export airflow",
    takeover="run 'labship eject airflow' to take it over (labship then leaves it alone)",
)
_TASK_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_K8S_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True)
class Task:
    """One job as one task: what the template needs, names and numbers only."""

    task_id: str
    job: Job

    @property
    def environment(self) -> dict[str, str]:
        """What labship's runtimes add to a job's environment; no profile value."""
        return {
            "LABSHIP_RUNTIME": RUNTIME,
            "LABSHIP_PROFILE": self.job.profile,
            "LABSHIP_JOB": self.job.name,
        }

    @property
    def requests(self) -> dict[str, str]:
        """Kubernetes requests from the job's ``cpu``/``memory`` in labship.toml."""
        found = {"cpu": self.job.cpu, "memory": self.job.memory}
        return {key: value for key, value in found.items() if value}

    @property
    def limits(self) -> dict[str, str]:
        """Memory is also the limit; no CPU limit (it throttles rather than protects)."""
        return {key: value for key, value in self.requests.items() if key == "memory"}


@dataclass(frozen=True)
class Dag:
    dag_id: str
    cron: str | None  # five fields; None: triggered by hand
    timezone: str  # empty: Airflow's default_timezone
    tasks: tuple[Task, ...]


def dag_path(project: Project) -> Path:
    return project.root / DAGS_DIR / f"{project.name}.py"


def variable_name(project: Project, profile: str) -> str:
    """The Airflow Variable holding a profile's values (JSON)."""
    return f"labship_{project.name}_{profile}"


def variables_path(project: Project, profile: str) -> Path:
    """The ``airflow variables import`` file for a profile: machine-local, git-ignored."""
    from labship import state

    return state.of(project).airflow_variables(profile)


def secret_name(project: Project, profile: str) -> str:
    """The Kubernetes Secret with a profile's values (the Kubernetes target's name)."""
    name = f"{project.name}-{profile}"
    if len(name) > 253 or not _K8S_NAME.fullmatch(name):
        raise ConfigError(
            f"{project.config_path}: the Kubernetes Secret {name!r} (project-profile) "
            "is not a valid Kubernetes name",
            hint="use a lowercase profile name of letters, digits and '-'",
        )
    return name


def _task_id(job_name: str) -> str:
    return (_TASK_UNSAFE.sub("_", job_name).strip("._-") or "job")[:250]


def _schedule(project: Project, job: Job) -> tuple[str | None, str]:
    """(five cron fields or None, time zone) for the job's DAG."""
    if not job.schedule:
        return None, ""
    from labship.project.cronexpr import CronSyntaxError, parse

    try:
        return parse(job.schedule).text, job.timezone
    except CronSyntaxError as exc:
        raise ConfigError(f"{project.config_path}: [jobs.{job.name}] schedule {exc}") from None


def _slug(cron: str | None, timezone: str) -> str:
    """A DAG id's tail naming a schedule: '0 22 * * 1-5' -> '0_22_x_x_1-5'."""
    if cron is None:
        return "manual"
    text = "_".join(cron.split()).replace("*", "x").replace("/", "-").replace(",", ".")
    return f"{text}.{timezone.replace('/', '-')}" if timezone else text


def dags(project: Project, jobs: Iterable[Job]) -> list[Dag]:
    """The jobs grouped by schedule, in labship.toml's order: one DAG each."""
    groups: dict[tuple[str | None, str], list[Task]] = {}
    allowed = "letters, digits, '.', '_', '-'"
    for task_id, job in distinct_names(project, jobs, _task_id, "Airflow task", allowed):
        groups.setdefault(_schedule(project, job), []).append(Task(task_id, job))
    single = len(groups) == 1
    return [
        Dag(project.name if single else f"{project.name}.{_slug(*key)}", *key, tuple(tasks))
        for key, tasks in groups.items()
    ]


def image_ref(project: Project) -> tuple[str, bool]:
    """(image, pinned): the last push by digest, else the local prod tag (not pinned)."""
    from labship.images.tags import stable_tags
    from labship.pushes import last_pushed

    pushed = last_pushed(project)
    if pushed is not None:
        return pushed.ref, True
    return stable_tags(project)[1], False


def render_dag(project: Project, jobs: Iterable[Job], *, kubernetes: bool = False) -> str:
    """The DAG file's body (without the header): names, commands and numbers only."""
    from labship.images.container import APP_UID
    from labship.templates import environment

    found = dags(project, jobs)
    tasks = [task for dag in found for task in dag.tasks]
    profiles = sorted({task.job.profile for task in tasks})
    env = environment().overlay()
    env.filters["py"] = repr
    return env.get_template("airflow/dag.py.j2").render(
        project=project.name,
        dags=found,
        image=image_ref(project)[0],
        kubernetes=kubernetes,
        variables={p: variable_name(project, p) for p in profiles},
        import_files={p: _relative(project, variables_path(project, p)) for p in profiles},
        secrets={p: secret_name(project, p) for p in profiles} if kubernetes else {},
        secret_keys=sorted(project.settings.secret),
        docker_url=DOCKER_URL,
        app_uid=APP_UID,
    )


def _relative(project: Project, path: Path) -> str:
    return str(path.relative_to(project.root))


class AirflowTarget:
    """``dags/<project>.py``: the project's jobs as Airflow tasks (Docker or Kubernetes)."""

    name = "airflow"
    accepts = frozenset({"jobs", "kubernetes"})

    def plan(self, context: Context) -> list[Planned]:
        project = context.project
        body = render_dag(
            project,
            selected_jobs(context),
            kubernetes="kubernetes" in context.options,
        )
        text = with_header(HEADER, body)
        return [Planned(dag_path(project), text, "refuse", "labship eject airflow")]

    def after_export(self, context: Context, console: Console | None) -> None:
        """Write the Variables' import files; say where the image comes from and how the
        profiles' values reach Airflow."""
        from labship.console import Console

        console = console or Console(stream=io.StringIO())  # said to no one
        project = context.project
        image, pinned = image_ref(project)
        if not pinned:
            console.warn(
                f"no push recorded: the DAG runs the local tag {image}, which the next "
                "build moves; run 'labship push' and export again to pin it by digest"
            )
        for profile in sorted({job.profile for job in selected_jobs(context)}):
            if "kubernetes" in context.options:
                name = secret_name(project, profile)
                console.say(
                    f"the tasks read the Kubernetes Secret {name}: make it from .env_{profile}"
                )
            elif (path := write_variables(project, profile)) is None:
                console.warn(f"no .env_{profile}: create it and export again")
            else:
                console.say(
                    f"load the {profile} profile into Airflow: airflow variables import {path}"
                )


def write_variables(project: Project, profile: str) -> Path | None:
    """The profile's values as an ``airflow variables import`` file (mode 0600); None
    when the profile does not exist."""
    from labship.atomicfile import write_text_atomic
    from labship.profiles import load_profile, profile_path

    if not profile_path(project.root, profile).is_file():
        return None
    loaded = load_profile(
        project.root, profile, required=project.settings.required, secret=project.settings.secret
    )
    path = variables_path(project, profile)
    document = {
        variable_name(project, profile): {
            "value": loaded.values,
            "description": f"labship: profile {profile} of {project.name} (.env_{profile})",
        }
    }
    try:
        write_text_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        os.chmod(path, 0o600)
    except OSError as exc:
        raise FileWriteError(
            f"cannot write {path}: {exc.strerror}", hint="check the folder's permissions"
        ) from None
    return path


__all__ = ["DAGS_DIR", "HEADER", "AirflowTarget", "dag_path", "secret_name", "variable_name"]
