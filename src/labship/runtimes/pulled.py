"""``labship run --image REF``: a pushed prod image run on a machine without the project.

The image carries what a run needs besides the variables (``labship build`` labels it:
``container.JOBS_LABEL``, ``container.ENV_LABEL``); the folder holds only
``.env_<profile>``. From the labels a small stand-in ``Project`` is made (name, jobs,
required and secret names; rooted at the folder), so the docker runtime runs the job
exactly as ``labship run`` does: the same variables, signals, exit code.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.errors import LabshipError, ToolError, UsageError
from labship.images import container

if TYPE_CHECKING:
    from labship.console import Console
    from labship.profiles import Profile
    from labship.project import Job, Project
    from labship.runtimes.base import Runtime

REBUILD = "push it again with this labship ('labship push' in the project)"


def run_image(
    ref: str,
    job_name: str | None,
    runtime: Runtime[Any],
    *,
    folder: Path,
    profile_name: str,
    console: Console,
) -> int:
    """Run ``job_name`` from image ``ref`` (pulled when not here) with ``folder``'s profile,
    on ``runtime`` (one that ``runs_images``: ``runtimes.running_images`` chose it)."""
    from labship.images.base import checked_reference
    from labship.profiles import secret_values
    from labship.runtimes.docker import Image
    from labship.tools.docker import ping

    try:
        checked_reference(ref, "--image")
    except LabshipError as exc:
        hint = "e.g. registry.example.com/team/churn@sha256:..."
        raise UsageError(exc.message, hint=hint) from None
    ping()
    found = _local_or_pulled(ref, console)
    labels: dict[str, str] = (found.get("Config") or {}).get("Labels") or {}
    project = image_project(folder, ref, labels)
    job = image_job(project, ref, job_name)
    profile = _profile(project, profile_name, labels)
    console = console.with_secrets(secret_values(profile))
    image = Image(runtime.name, labels.get("org.labship.lock", ""), False, False, found["Id"], ref)
    vars_from = "PRODUCTION variables" if profile_name == "prod" else f"profile {profile_name!r}"
    console.say(f"running {job.name!r} from {ref} with {vars_from} from {profile.path.name}")
    return runtime.run(project, image, job, profile, console=console).exit_code


def _local_or_pulled(ref: str, console: Console) -> dict[str, Any]:
    """The engine's view of ``ref``, pulling it first when it is not on this machine."""
    from labship.tools.docker import docker, inspect_image
    from labship.tools.registry import DOCKER_HUB, from_docker, split

    found = inspect_image(ref)
    if found is not None:
        return found
    console.say(f"pulling {ref}")
    result = docker(["pull", ref], console=console, check=False)
    if result.returncode != 0:
        host = (split(ref) or (DOCKER_HUB, ""))[0]
        known = from_docker(host, result.stderr)
        low = result.stderr.lower()
        if known is None and ("manifest unknown" in low or "not found" in low):
            known = UsageError(
                f"image {ref} is neither on this machine nor in registry {host}",
                hint="build and push it ('labship push' in the project), or check the reference",
            )
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise known or ToolError(f"docker pull {ref} failed: {last}")
    found = inspect_image(ref)
    if found is None:
        raise ToolError(f"docker pulled {ref} but the engine does not show it")
    return found


def _json_label(labels: dict[str, str], key: str, ref: str) -> Any:
    try:
        return json.loads(labels[key])
    except KeyError:
        message = f"image {ref} has no {key} label: not built by labship"
        raise UsageError(message, hint=REBUILD) from None
    except ValueError:
        raise UsageError(f"image {ref}: its {key} label is not JSON", hint=REBUILD) from None


def image_project(folder: Path, ref: str, labels: dict[str, str]) -> Project:
    """A stand-in project for the image: its name, jobs and variable names, at ``folder``."""
    from labship.project import Job, Project, Settings
    from labship.project.settings import valid_name

    raw_jobs = _json_label(labels, container.JOBS_LABEL, ref)
    env = _json_label(labels, container.ENV_LABEL, ref) if container.ENV_LABEL in labels else {}
    jobs: dict[str, Job] = {}
    for name, argv in raw_jobs.items() if isinstance(raw_jobs, dict) else []:
        if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
            jobs[str(name)] = Job(str(name), tuple(argv))
    name = labels.get("org.labship.project", "")
    settings = Settings(
        name=name if valid_name(name) else "image",
        jobs=jobs,
        required=_names(env, "required"),
        secret=_names(env, "secret"),
    )
    return Project(root=folder.resolve(), settings=settings)


def _names(env: Any, key: str) -> tuple[str, ...]:
    found = env.get(key) if isinstance(env, dict) else None
    return tuple(v for v in found if isinstance(v, str)) if isinstance(found, list) else ()


def image_job(project: Project, ref: str, name: str | None) -> Job:
    """The job to run: the one named, or the only one; said in terms of the image."""
    jobs = project.settings.jobs
    known = ", ".join(sorted(jobs)) or "none"
    if name is None and len(jobs) == 1:
        return next(iter(jobs.values()))
    if name is None:
        raise UsageError(f"image {ref} has several jobs ({known}), none named", hint="say which")
    if name not in jobs:
        raise UsageError(f"unknown job {name!r} in image {ref}", hint=f"jobs in it: {known}")
    return jobs[name]


def _profile(project: Project, name: str, labels: dict[str, str]) -> Profile:
    """``.env_<name>`` from the folder, over the spec's defaults recorded in the image."""
    from labship.profiles import load_profile

    settings = project.settings
    profile = load_profile(project.root, name, required=settings.required, secret=settings.secret)
    env = json.loads(labels.get(container.ENV_LABEL, "{}"))  # checked by image_project
    defaults = env.get("defaults") if isinstance(env, dict) else None
    if not isinstance(defaults, dict):
        return profile
    values = {str(k): str(v) for k, v in defaults.items()}
    return replace(profile, values={**values, **profile.values})


__all__ = ["image_job", "image_project", "run_image"]
