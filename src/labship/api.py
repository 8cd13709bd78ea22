"""The library's verbs: what every ``labship`` command does, callable from Python.

Orchestration that is the same on every runtime lives here: checking the lock,
loading and validating the profile, choosing the runtime (said aloud), the run log.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import ProfileError, UsageError
from labship.lock import read_lock
from labship.profiles import DEFAULT_PROFILE, Profile, load_profile, secret_values
from labship.project import RUNTIMES, Project

if TYPE_CHECKING:
    from labship.console import Console
    from labship.lock import Lock, LockResult
    from labship.profiles import EnvReport
    from labship.project.scaffold import ScaffoldResult
    from labship.runlog import RunRecord
    from labship.runtimes.base import LabInfo, Runtime
    from labship.store import GcResult
    from labship.targets.image import BuiltImage

LAB_TOKEN = "JUPYTER_TOKEN"


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    record: RunRecord


def select_runtime(project: Project, requested: str | None, *, console: Console) -> Runtime:
    """Precedence: the flag, then LABSHIP_RUNTIME, then labship.toml, then auto-detection."""
    choice, why = requested, "--runtime"
    if not choice and os.environ.get("LABSHIP_RUNTIME"):
        choice, why = os.environ["LABSHIP_RUNTIME"], "LABSHIP_RUNTIME"
    if not choice:
        choice, why = project.settings.runtime, "labship.toml"
    if choice not in RUNTIMES:
        raise UsageError(f"unknown runtime {choice!r} ({why})", hint="use local or docker")
    if choice == "auto":
        from labship.tools.docker import engine_reachable

        reachable = engine_reachable()
        choice = "docker" if reachable else "local"
        why = "a Docker engine answered" if reachable else "no Docker engine reachable"
    console.say(f"runtime: {choice} ({why})")
    if choice == "docker":
        from labship.runtimes.docker import DockerRuntime

        return DockerRuntime()
    from labship.runtimes.local import LocalRuntime

    return LocalRuntime()


def lock(project: Project, *, console: Console) -> LockResult:
    from labship.lock import lock as resolve

    return resolve(project, console=console)


def profile(project: Project, name: str = DEFAULT_PROFILE) -> Profile:
    """Load and validate a profile; the lock's spec variables are defaults beneath it."""
    settings = project.settings
    return load_profile(project.root, name, required=settings.required, secret=settings.secret)


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
    console: Console,
) -> RunOutcome:
    from labship import runlog
    from labship.tools.git import head_commit

    job = project.job(job_name)
    prof = profile(project, profile_name)
    console = console.with_secrets(secret_values(prof))
    lock = read_lock(project)
    prof = _with_spec_variables(prof, lock)
    rt = select_runtime(project, runtime, console=console)
    rt.prepare(project, lock, dev=False, console=console)
    if profile_name == "prod":
        console.say(f"running {job.name!r} with PRODUCTION variables from {prof.path.name}")
    else:
        console.say(f"running {job.name!r} with profile {profile_name!r}")
    started = time.time()
    code = rt.run(project, lock, job, prof, console=console)
    record = runlog.RunRecord(
        job=job.name,
        profile=profile_name,
        runtime=rt.name,
        start=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        duration_s=round(time.time() - started, 3),
        exit_code=code,
        lock_hash=lock.prod_hash,
        git_commit=head_commit(project.root),
    )
    runlog.append(project.state_dir, record)
    return RunOutcome(code, record)


def lab(
    project: Project,
    *,
    runtime: str | None = None,
    port: int | None = None,
    detach: bool = False,
    console: Console,
) -> LabInfo:
    from labship.runtimes.labstate import read_state

    state = read_state(project)
    if state is not None and _lab_alive(state):
        raise UsageError(
            f"a lab is already running for {project.name} at {state.get('url')}",
            hint="labship stop",
        )
    prof = profile(project, DEFAULT_PROFILE)
    token = prof.values.get(LAB_TOKEN, "")
    if not token:
        raise ProfileError(
            f"{prof.path}: no {LAB_TOKEN} for JupyterLab",
            hint=f"add a random one: {LAB_TOKEN}=$(python3 -c 'import secrets; "
            "print(secrets.token_hex(24))')",
        )
    prof = replace(prof, secret_keys=prof.secret_keys | {LAB_TOKEN})
    console = console.with_secrets(secret_values(prof))
    lock = read_lock(project)
    rt = select_runtime(project, runtime, console=console)
    return rt.lab(
        project,
        lock,
        _with_spec_variables(prof, lock),
        port=port or project.settings.lab_port,
        token=token,
        detach=detach,
        console=console,
    )


def _lab_alive(state: dict[str, object]) -> bool:
    pid, container = state.get("pid"), state.get("container")
    if isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    if isinstance(container, str):
        from labship.tools.docker import container_exists

        return container_exists(container) is not False
    return False


def stop(project: Project, *, console: Console) -> bool:
    """Stop the project's detached lab, on whichever runtime started it."""
    from labship.runtimes.labstate import read_state
    from labship.runtimes.local import LocalRuntime

    state = read_state(project)
    if state is None:
        return False
    if state.get("runtime") == "docker":
        from labship.runtimes.docker import DockerRuntime

        return DockerRuntime().stop(project, console=console)
    return LocalRuntime().stop(project, console=console)


def shell(
    project: Project,
    *,
    profile_name: str = DEFAULT_PROFILE,
    runtime: str | None = None,
    console: Console,
) -> int:
    prof = profile(project, profile_name)
    console = console.with_secrets(secret_values(prof))
    lock = read_lock(project)
    rt = select_runtime(project, runtime, console=console)
    return rt.shell(project, lock, _with_spec_variables(prof, lock), console=console)


def env_report(project: Project) -> EnvReport:
    from labship.profiles import env_report as report

    settings = project.settings
    return report(project.root, required=settings.required, secret=settings.secret)


def runs(project: Project) -> list[RunRecord]:
    from labship import runlog

    return runlog.read(project.state_dir)


def new(
    dest: Path, *, name: str | None = None, bare: bool = False, python: str | None = None
) -> ScaffoldResult:
    """A new project, with the compose files so it runs without labship too."""
    from labship.project.scaffold import new_project
    from labship.targets.compose import render_compose

    return new_project(
        dest, name=name, bare=bare, python=python, extra_files=lambda p: render_compose(p)
    )


def init(folder: Path, *, name: str | None = None, python: str | None = None) -> ScaffoldResult:
    """Make an existing folder a project, adding only the files it lacks."""
    from labship.project.scaffold import init_project

    return init_project(folder, name=name, python=python)


def gc(*, dry_run: bool = False, store_root: Path | None = None) -> GcResult:
    from labship.store import Store

    return Store(store_root).gc(dry_run=dry_run)


def build(
    project: Project,
    targets: tuple[str, ...] = ("dev", "prod"),
    *,
    force: bool = False,
    console: Console,
) -> list[BuiltImage]:
    """Build images from the lock; dev as the host user so mounted files stay theirs."""
    from labship.targets import image as images

    lock = read_lock(project)
    built = []
    for target in targets:
        if target not in ("dev", "prod"):
            raise UsageError(f"unknown image target {target!r}", hint="use dev or prod")
        built.append(
            images.build(
                project,
                lock,
                "dev" if target == "dev" else "prod",
                console=console,
                uid=os.getuid(),
                gid=os.getgid(),
                force=force,
            )
        )
    return built
