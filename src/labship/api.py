"""The library's verbs: what every ``labship`` command does, callable from Python.

Orchestration that is the same on every runtime lives here: checking the lock,
loading and validating the profile, choosing the runtime (said aloud), the run log.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from labship.errors import ConfigError, ProfileError, UsageError
from labship.profiles import DEFAULT_PROFILE, Profile, load_profile, secret_values
from labship.project import Project

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from labship.actions.cronhook import Event
    from labship.actions.push import PushResult
    from labship.actions.schedule import Installed, Listed
    from labship.console import Console
    from labship.diagnosis import Report
    from labship.images.build import BuiltImage
    from labship.images.serve import ServeImage
    from labship.locking import Lock, LockResult
    from labship.profiles import EnvReport
    from labship.profiles.report import RuntimeVariables
    from labship.project.scaffold import ScaffoldResult
    from labship.runlog import RunRecord
    from labship.runtimes.base import Interactive, LabInfo, Runtime
    from labship.store import GcResult

LAB_TOKEN = "JUPYTER_TOKEN"
TRIGGER_ENV = "LABSHIP_TRIGGER"  # "schedule" in the cron wrapper's run: the run log says so
MIN_TOKEN_LENGTH = 16  # 64 bits as hex; labship new writes 48 characters


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    record: RunRecord


def _console(console: Console | None) -> Console:
    """The caller's console, or, for a library caller who passed none, the default one
    (progress and warnings on stderr, as the CLI without ``-v``)."""
    from labship.console import Console

    return Console() if console is None else console


def select_runtime(
    project: Project, requested: str | None, *, console: Console | None = None
) -> Runtime[Any]:
    """``runtimes.select``: the flag, then LABSHIP_RUNTIME, then labship.toml, then the
    running lab's, then auto-detection; said aloud with where it came from."""
    console = _console(console)
    from labship import runtimes

    return runtimes.select(project, requested, console=console)


def lock(project: Project, *, console: Console | None = None) -> LockResult:
    console = _console(console)
    from labship.locking import lock as resolve

    return resolve(project, console=console)


LockMode = Literal["auto", "locked", "frozen"]


def current_lock(
    project: Project, mode: LockMode = "auto", *, console: Console | None = None
) -> Lock:
    """The lock a command runs on. ``auto``: lock first when it is missing or stale,
    saying why (as uv run does); ``locked``: a missing or stale lock is an error (exit 77,
    for CI and production); ``frozen``: the lock as it is, never resolved."""
    console = _console(console)
    from labship.errors import StaleLockError
    from labship.locking import read_lock

    if mode == "frozen":
        return read_lock(project, check=False)
    try:
        return read_lock(project)
    except StaleLockError as exc:
        if mode == "locked":
            raise
        console.say(f"{exc.message}: locking first")
    return lock(project, console=console).lock


def profile(project: Project, name: str = DEFAULT_PROFILE) -> Profile:
    """Load and validate a profile; the lock's spec variables are defaults beneath it."""
    settings = project.settings
    return load_profile(
        project.root,
        name,
        required=settings.required,
        secret=settings.secret,
        public=settings.public,
    )


def _with_spec_variables(prof: Profile, lock: Lock) -> Profile:
    variables = dict(lock.meta.get("variables", {}))
    if not variables:
        return prof
    return replace(prof, values={**variables, **prof.values})


def run(
    project: Project,
    job_name: str | None = None,
    *,
    profile_name: str = DEFAULT_PROFILE,
    runtime: str | None = None,
    lock_mode: LockMode = "auto",
    console: Console | None = None,
) -> RunOutcome:
    console = _console(console)
    from labship import runlog
    from labship.tools.git import head_commit

    job = project.job(job_name)
    prof = profile(project, profile_name)
    console = console.with_secrets(secret_values(prof))
    rt = select_runtime(project, runtime, console=console)
    lock = current_lock(project, lock_mode, console=console)
    prof = _with_spec_variables(prof, lock)
    tracked = _tracked(project, rt, profile_name)
    if project.settings.mlflow and profile_name == DEFAULT_PROFILE and not tracked:
        console.say(f"MLflow tracking is on, but jobs on the {rt.name} runtime are not tracked")
    run_id = server = None
    if tracked:  # the dev set (it has MLflow), this lab's server, tags naming this run
        prof, run_id, server = _with_tracking(project, job.name, prof, console)
    env = rt.prepare(project, lock, dev=tracked, console=console)
    if profile_name == "prod":
        console.say(f"running {job.name!r} with PRODUCTION variables from {prof.path.name}")
    else:
        console.say(f"running {job.name!r} with profile {profile_name!r}")
    started = time.time()
    ended = rt.run(project, env, job, prof, console=console)
    mlflow_run = _tracked_run(server, run_id, console) if server and run_id else None
    record = runlog.RunRecord(
        job=job.name,
        profile=profile_name,
        runtime=rt.name,
        start=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        duration_s=round(time.time() - started, 3),
        exit_code=ended.exit_code,
        lock_hash=lock.hash(dev=tracked),
        git_commit=head_commit(project.root),
        signal=ended.signal_name,
        killed=ended.killed,
        mlflow_run_id=mlflow_run,
        scheduled=os.environ.get(TRIGGER_ENV) == "schedule",
    )
    _log_run(project, record, console)
    return RunOutcome(ended.exit_code, record)


def _tracked(project: Project, rt: Runtime[Any], profile_name: str) -> bool:
    """A run MLflow tracks: ``[services] mlflow`` on, the lab's profile (dev), a runtime
    whose jobs can reach the lab's server (local). Off: no import, no HTTP."""
    return project.settings.mlflow and profile_name == DEFAULT_PROFILE and rt.tracks_jobs


def _with_tracking(
    project: Project, job: str, prof: Profile, console: Console
) -> tuple[Profile, str, str | None]:
    """The profile plus what a tracked job gets (``runtimes.tracking.job_variables``), the
    id labship gives the run, and the lab's tracking server URI (None: not running)."""
    import secrets

    from labship.runtimes import tracking

    run_id = secrets.token_hex(16)
    server = tracking_uri(project)
    if server is None and not prof.values.get(tracking.URI_VAR):
        console.say(
            "MLflow tracking is on but no tracking server is running for this project "
            "(labship lab starts one): this run is not tracked"
        )
    extra = tracking.job_variables(prof.values, server, run_id, job)
    if prof.values.get(tracking.URI_VAR):
        server = None  # the profile's own server: labship does not ask it about the run
    return replace(prof, values={**prof.values, **extra}), run_id, server


def _tracked_run(server: str, run_id: str, console: Console) -> str | None:
    """The MLflow run the job logged, asked of the tracking server by its tag."""
    from labship.runtimes import tracking

    found = tracking.find_run(server, run_id)
    if found is None:
        return None
    console.say(f"MLflow run {found[0]}: {tracking.run_url(server, *found)}")
    return found[0]


def tracking_uri(project: Project) -> str | None:
    """The URI of the MLflow tracking server running beside the project's lab (on this
    machine: http://127.0.0.1:PORT), while it is the one labship started; else None."""
    rt = _recorded_runtime(project)
    return rt.tracking_running(project) if rt is not None else None


def _log_run(project: Project, record: RunRecord, console: Console) -> None:
    """Append to the run log; the job has run, so a log that cannot be written (read-only
    or full disk) is a warning: the job's own exit code is what cron must see."""
    from labship import runlog, state

    try:
        runlog.append(project.state_dir, record)
    except OSError as exc:
        console.warn(
            f"cannot record the run in {state.of(project).runs}: "
            f"{exc.strerror or type(exc).__name__}; the job's exit code stands"
        )


def lab(
    project: Project,
    *,
    runtime: str | None = None,
    port: int | None = None,
    detach: bool = False,
    lock_mode: LockMode = "auto",
    console: Console | None = None,
) -> LabInfo:
    console = _console(console)
    running = lab_running(project)
    if running is not None:
        raise UsageError(
            f"a lab is already running for {project.name} at {running.url}",
            hint="labship stop",
        )
    if port is not None and not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port", hint="use a number from 1 to 65535")
    prof = profile(project, DEFAULT_PROFILE)
    token = _lab_token(prof)
    prof = replace(prof, secret_keys=prof.secret_keys | {LAB_TOKEN})
    console = console.with_secrets(secret_values(prof))
    rt = _interactive(select_runtime(project, runtime, console=console), "lab")
    lock = current_lock(project, lock_mode, console=console)
    if not any(_normalized(name) == "jupyterlab" for name in lock.dev):
        raise ConfigError(
            f"{project.config_path}: JupyterLab is not in the dev set ([lab] packages)",
            hint='add "jupyterlab" to [lab] packages, then run labship lab again',
        )
    env = rt.prepare(project, lock, dev=True, console=console)
    return rt.lab(
        project,
        env,
        _with_spec_variables(prof, lock),
        port=port or project.settings.lab_port,
        token=token,
        detach=detach,
        console=console,
    )


def _normalized(name: str) -> str:
    """A package name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _lab_token(prof: Profile) -> str:
    """The profile's JUPYTER_TOKEN, refused when it is missing or too short to guess at:
    it is the only lock on a server that runs code."""
    token = prof.values.get(LAB_TOKEN, "")
    if len(token) >= MIN_TOKEN_LENGTH:
        return token
    what = (
        f"{LAB_TOKEN} is too short for JupyterLab ({len(token)} characters, "
        f"at least {MIN_TOKEN_LENGTH})"
        if token
        else f"no {LAB_TOKEN} for JupyterLab"
    )
    import secrets  # a fresh token for the user to paste: never one that is in use

    raise ProfileError(
        f"{prof.path}: {what}",
        hint=f"put this line, a new random token, in {prof.path.name}: "
        f"{LAB_TOKEN}={secrets.token_hex(24)}",
    )


def _interactive(rt: Runtime[Any], verb: str) -> Interactive[Any]:
    from labship.runtimes.base import Interactive

    if not isinstance(rt, Interactive):
        from labship.runtimes import FLAG, interactive_names

        able = " or ".join(f"{FLAG} {name}" for name in interactive_names())
        raise UsageError(f"the {rt.name} runtime has no {verb}", hint=f"use {able}")
    return rt


def _recorded_runtime(project: Project) -> Interactive[Any] | None:
    """The runtime that started the project's detached lab, per its record; or None."""
    from labship import runtimes
    from labship.runtimes.base import Interactive
    from labship.runtimes.lab import read_record

    record = read_record(project)
    if record is None or record.info.runtime not in runtimes.names():
        return None
    rt = runtimes.get(record.info.runtime)
    return rt if isinstance(rt, Interactive) else None


def lab_running(project: Project) -> LabInfo | None:
    """The project's detached lab, when the runtime that started it confirms it is its own."""
    rt = _recorded_runtime(project)
    return rt.lab_running(project) if rt is not None else None


def stop(project: Project, *, console: Console | None = None) -> bool:
    """Stop the project's detached lab, on whichever runtime started it."""
    console = _console(console)
    from labship.runtimes.lab import clear_record

    rt = _recorded_runtime(project)
    if rt is None:
        clear_record(project)  # malformed or foreign: nothing labship can stop
        return False
    return rt.stop(project, console=console)


def shell(
    project: Project,
    *,
    profile_name: str = DEFAULT_PROFILE,
    runtime: str | None = None,
    lock_mode: LockMode = "auto",
    console: Console | None = None,
) -> int:
    console = _console(console)
    prof = profile(project, profile_name)
    console = console.with_secrets(secret_values(prof))
    rt = _interactive(select_runtime(project, runtime, console=console), "shell")
    lock = current_lock(project, lock_mode, console=console)
    env = rt.prepare(project, lock, dev=True, console=console)
    return rt.shell(project, env, _with_spec_variables(prof, lock), console=console)


def env_report(project: Project) -> EnvReport:
    from labship.profiles import env_report as report

    settings = project.settings
    found = report(
        project.root, required=settings.required, secret=settings.secret, public=settings.public
    )
    native = _native_variables(project)
    return replace(found, runtime_variables=native) if native else found


def _native_variables(project: Project) -> tuple[RuntimeVariables, ...]:
    """What the local runtime sets for each set's conda prefix: the prod environment runs
    jobs, the dev one the lab, the shell and jobs the lab's MLflow tracks."""
    from labship.errors import StaleLockError
    from labship.locking import read_lock
    from labship.profiles.report import RuntimeVariables
    from labship.store import Store, native_layout

    if not project.settings.conda:
        return ()
    try:
        lock = read_lock(project, check=False)
    except StaleLockError:
        return ()
    if lock.conda is None or not lock.conda.records:
        return ()
    store = Store()
    found = []
    for dev, name, used_by in (
        (False, "prod", "jobs"),
        (True, "dev", "the lab, the shell, jobs tracked by the lab's MLflow"),
    ):
        paths, variables = native_layout(store.env_path(lock.env_key(dev=dev)))
        found.append(RuntimeVariables(name, used_by, tuple(paths), tuple(variables.items())))
    return tuple(found)


def runs(project: Project, *, console: Console | None = None) -> list[RunRecord]:
    """The run log's records; lines that are not one are skipped, and said (``console``)."""
    from labship import runlog, state

    log = runlog.read(project.state_dir)
    if log.skipped and console is not None:
        console.warn(
            f"{state.of(project).runs}: skipped {log.skipped} line(s) that are "
            "not run records (cut short, edited, or not UTF-8)"
        )
    return log.records


def new(
    dest: Path, *, name: str | None = None, bare: bool = False, python: str | None = None
) -> ScaffoldResult:
    """A new project, with the compose files so it runs without labship too."""
    from labship import targets
    from labship.project.scaffold import new_project
    from labship.targets.base import Context

    def compose_files(project: Project) -> dict[str, str]:
        return targets.render(Context(project), "compose")

    result = new_project(dest, name=name, bare=bare, python=python, extra_files=compose_files)
    return replace(result, notes=(*result.notes, _git_init(result.root)))


def _git_init(root: Path) -> str:
    """``new`` makes the project a git repository (it commits nothing: the first commit
    is the user's), so runs and pushed images carry a commit from the start; not inside
    an existing repository, whose history the project then shares."""
    from labship.tools.git import init_repository, inside_repository

    if inside_repository(root.parent):
        return "git: inside an existing repository, so no new one"
    why = init_repository(root)
    if why is not None:
        return f"git: no repository made ({why}); runs and images name a commit once there is one"
    return "git: an empty repository made; commit once, and runs and pushed images name the commit"


def init(folder: Path, *, name: str | None = None, python: str | None = None) -> ScaffoldResult:
    """Make an existing folder a project, adding only the files it lacks."""
    from labship.project.scaffold import init_project

    return init_project(folder, name=name, python=python)


def gc(
    *, dry_run: bool = False, store_root: Path | None = None, console: Console | None = None
) -> GcResult:
    """Remove environments no project uses. Conservative: a project whose lock cannot be
    read keeps what it used last, and an unreadable registry entry keeps everything."""
    console = _console(console)
    from labship.errors import LabshipError
    from labship.locking import read_lock
    from labship.project import CONFIG_NAME, load_project
    from labship.store import Store

    store = Store(store_root)
    entries, unreadable = store.registered()
    keep: set[str] = set()
    for entry in entries:
        if not (entry.root / CONFIG_NAME).is_file():
            store.forget(entry)  # the project is gone
            continue
        try:
            found = read_lock(load_project(entry.root), check=False)
            keep |= {store.env_path(found.env_key(dev=d)).name for d in (False, True)}
        except (LabshipError, OSError) as exc:
            console.warn(f"{entry.root}: cannot read its lock ({exc}); keeping what it used")
            keep |= set(entry.envs)
    if unreadable:
        console.warn(
            f"cannot read {len(unreadable)} store registry entries ({unreadable[0]}, ...): "
            "keeping every environment; remove the broken entries to let gc work"
        )
        keep |= {p.name for p in store.envs.iterdir()} if store.envs.is_dir() else set()
    return store.gc(keep, dry_run=dry_run)


def build(
    project: Project,
    targets: tuple[str, ...] = ("dev", "prod"),
    *,
    force: bool = False,
    lock_mode: LockMode = "auto",
    console: Console | None = None,
) -> list[BuiltImage]:
    """Build images from the lock; dev as the host user so mounted files stay theirs."""
    console = _console(console)
    from labship.images import build as image

    lock = current_lock(project, lock_mode, console=console)
    checked = [image.check_target(t) for t in targets]
    return [image.build(project, lock, t, console=console, force=force) for t in checked]


def export(
    project: Project,
    target: str,
    *,
    force: bool = False,
    console: Console | None = None,
    jobs: Sequence[str] = (),
    options: Iterable[str] = (),
    serve: Iterable[str | Path] = (),
) -> list[Path]:
    """Write a target's files (``labship export compose``; ``labship export airflow JOB
    --kubernetes``: ``jobs`` and ``options`` for the targets that accept them)."""
    console = _console(console)
    from labship import targets
    from labship.targets.base import Context

    # --serve MODEL (k8s): the model folder travels as the switch "serve=<folder>"
    folders = [model_folder(m, directory=project.root, console=console) for m in serve]
    asked = [*options, *(f"serve={folder.resolve()}" for folder in folders)]
    context = Context(project, jobs=tuple(jobs), options=frozenset(asked))
    return targets.export(context, target, force=force, console=console)


def eject(project: Project, target: str = "image") -> list[Path]:
    """Hand a target's files to the user: labship stops generating them."""
    from labship import targets
    from labship.targets.base import Context

    return targets.eject(Context(project), target)


def schedule(
    project: Project,
    job_name: str | None = None,
    *,
    cron: str | None = None,
    timezone: str | None = None,
    force: bool = False,
    console: Console | None = None,
) -> list[Installed]:
    """Put the project's scheduled jobs (or one) in the user's crontab; ``cron`` and
    ``timezone`` set the job's schedule in labship.toml first."""
    console = _console(console)
    from labship.actions import schedule as cronschedule

    return cronschedule.schedule(
        project, job_name, cron=cron, timezone=timezone, force=force, console=console
    )


def schedule_list(project: Project) -> list[Listed]:
    """Each scheduled job: installed or not, its next three runs, its last run."""
    from labship.actions import schedule as cronschedule

    return cronschedule.listing(project)


def unschedule(project: Project, job_name: str | None = None) -> list[str]:
    """Take the project's entries (or one job's) out of the user's crontab."""
    from labship.actions import schedule as cronschedule

    removed = cronschedule.remove(project, None if job_name is None else [job_name])
    if job_name is not None and not removed and job_name not in project.settings.jobs:
        project.job(job_name)  # neither installed nor a job: a typo, said as `run` says it
    return removed


def schedule_event(
    project: Project,
    job_name: str,
    event: Event,
    *,
    started: int,
    exit_code: int = 0,
    timed_out: bool = False,
    console: Console | None = None,
) -> None:
    """What the cron wrapper reports around a run: records and pings."""
    console = _console(console)
    from labship.actions import cronhook

    cronhook.event(
        project,
        job_name,
        event,
        started=started,
        exit_code=exit_code,
        timed_out=timed_out,
        console=console,
    )


def push(
    project: Project,
    *,
    to: str | None = None,
    lock_mode: LockMode = "auto",
    console: Console | None = None,
) -> PushResult:
    """Push the prod image (built first when its inputs changed) to ``[docker] registry``
    or ``to`` (REGISTRY/NAME), recording its digest; see ``labship.actions.push``."""
    console = _console(console)
    from labship.actions import push as pushing

    where = pushing.connect(project, to)  # the registry first: a refusal changes nothing
    lock = current_lock(project, lock_mode, console=console)
    return pushing.push(project, lock, where, console=console)


def run_image(
    ref: str,
    job_name: str | None = None,
    *,
    folder: Path | None = None,
    profile_name: str = DEFAULT_PROFILE,
    runtime: str | None = None,
    console: Console | None = None,
) -> int:
    """Run a job of a pushed image with ``folder``'s ``.env_<profile>``, no project needed,
    on ``runtime`` (None: the first that runs images)."""
    console = _console(console)
    from labship.runtimes import running_images
    from labship.runtimes.pulled import run_image as run

    rt = running_images(runtime, console=console)
    folder = folder or Path.cwd()
    return run(ref, job_name, rt, folder=folder, profile_name=profile_name, console=console)


def doctor(project: Project | None) -> Report:
    """What is installed and reachable for ``project`` (or this machine), with fixes."""
    from labship.diagnosis import diagnose

    return diagnose(project)


def serve(
    model: str | Path,
    *,
    port: int = 5000,
    workers: int | None = None,
    timeout: float = 60.0,
    queue: int | None = None,
    tracking_uri: str | None = None,
    directory: Path | None = None,
    batch: int = 1,
    batch_wait: float = 0.0,
    keep_alive: float | None = None,
    header_timeout: float | None = None,
    body_timeout: float | None = None,
    graceful_timeout: float | None = None,
    host: str = "127.0.0.1",
    runtime: str | None = None,
    console: Console | None = None,
) -> int:
    """Serve an MLflow model (a folder, ``runs:/<id>/<path>``, ``models:/<name>/<version>``
    or ``models:/<name>@<alias>`` from the tracking server) over HTTP (MLflow's protocol)
    until stopped, in an environment locked and built from the model's own requirements,
    within the prod lock of the project at ``directory`` when one of its runs logged it
    (``runtime`` docker: in its serving image)."""
    console = _console(console)
    from labship.serving import ServeOptions
    from labship.serving import serve as _serve

    options = ServeOptions(
        port=port,
        host=host,
        workers=workers,
        queue=queue,
        timeout=timeout,
        batch=batch,
        batch_wait=batch_wait,
        **{
            name: value
            for name, value in (
                ("keep_alive", keep_alive),
                ("header_timeout", header_timeout),
                ("body_timeout", body_timeout),
                ("graceful_timeout", graceful_timeout),
            )
            if value is not None
        },
    )
    return _serve(
        model,
        options,
        console=console,
        runtime=runtime,
        tracking_uri=tracking_uri,
        directory=directory,
        lab_uri=lambda: _lab_tracking_uri(directory),
    )


def build_serve(
    model: str | Path, *, tracking_uri: str | None = None, console: Console | None = None
) -> ServeImage:
    """``labship build serve MODEL``: the model's serving image (its tag is keyed by its
    content: an unchanged model is not rebuilt)."""
    console = _console(console)
    from labship.serving.container import build_image

    return build_image(
        model_folder(model, tracking_uri=tracking_uri, console=console), console=console
    )


def model_folder(
    model: str | Path,
    *,
    tracking_uri: str | None = None,
    directory: Path | None = None,
    console: Console | None = None,
) -> Path:
    """MODEL as the user gave it (a folder, ``runs:/`` or ``models:/``) as a local MLflow
    model folder, downloaded into the store from the tracking server when it is a URI:
    ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else the project's lab server."""
    console = _console(console)
    from labship.serving.source import model_folder as fetch

    return fetch(
        str(model),
        tracking_uri=tracking_uri,
        console=console,
        lab_uri=lambda: _lab_tracking_uri(directory),
    )


def _lab_tracking_uri(directory: Path | None) -> str | None:
    """The tracking server beside the lab of the project at ``directory``, if any; a
    project with ``[services] mlflow`` whose server is not running is exit 69, saying how
    to start it (its runs' models are on that server)."""
    from labship.errors import NotAProjectError, RuntimeUnavailable
    from labship.project import load_project

    try:
        project = load_project(directory)
    except NotAProjectError:
        return None
    uri = tracking_uri(project)
    if uri is None and project.settings.mlflow:
        raise RuntimeUnavailable(
            f"the MLflow tracking server of {project.root} is not running",
            hint="start it with 'labship lab --detach', or pass --tracking-uri URL "
            "or set MLFLOW_TRACKING_URI",
        )
    return uri
