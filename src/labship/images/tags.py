"""Tags and labels: the names an image is known by, and what it says about itself.

dev and prod never share a tag (dev tags start with 'dev', prod tags never do); the
stable tags are what compose files and manifests name, the lock-keyed ones what a
runtime looks an image up by.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING, Literal

from labship.errors import ConfigError
from labship.images.base import checked_reference
from labship.images.context import CONTEXT_DIRS, CONTEXT_FILES

if TYPE_CHECKING:
    from labship.locking import Lock
    from labship.project import Project

Target = Literal["dev", "prod"]
CONTEXT_LABEL = "org.labship.context"  # the digest of what the image is made of
_TAG_BAD = re.compile(r"[^A-Za-z0-9_.\-]")


def image_name(project: Project) -> str:
    """The repository the project's images are tagged in (``[docker] image``, else the
    project name)."""
    return checked_reference(project.image, f"{project.config_path}: [docker] image", tag=False)


@dataclass(frozen=True)
class GitInfo:
    commit: str
    dirty: bool


def git_info(root: Path) -> GitInfo | None:
    """The commit the image's inputs come from; dirty when those inputs differ from it."""
    from labship.tools.git import head_commit, is_dirty

    commit = head_commit(root)
    if commit is None:
        return None
    return GitInfo(commit, dirty=is_dirty(root, [*CONTEXT_FILES, *CONTEXT_DIRS]))


def _version_tag(project: Project) -> str:
    """The project version as a tag; never one that reads as a dev tag."""
    version = _TAG_BAD.sub("-", project.settings.version).lstrip(".-")[:100] or "0"
    if version == "dev" or version.startswith("dev-"):
        raise ConfigError(
            f"{project.config_path}: [project] version {version!r} would clash with dev tags",
            hint='use a release version, e.g. "0.1.0"',
        )
    return version


def stable_tags(project: Project) -> tuple[str, str]:
    """(dev, prod) tags that do not change with the lock: what compose files name."""
    return f"{image_name(project)}:dev", f"{image_name(project)}:{_version_tag(project)}"


def primary_tag(project: Project, lock: Lock, target: Target) -> str:
    """The tag a runtime looks the image up by (the first of ``tags``), without git."""
    if target == "dev":
        return f"{image_name(project)}:dev-{lock.dev_hash[:12]}"
    return stable_tags(project)[1]


def tags(
    project: Project, lock: Lock, target: Target, *, git: GitInfo | EllipsisType | None = ...
) -> list[str]:
    """dev and prod never share a tag: dev tags start with 'dev', prod tags never do.
    ``git``: the project's git_info when the caller has it already (one ``git status``)."""
    dev, prod = stable_tags(project)
    image = image_name(project)
    if target == "dev":
        return [primary_tag(project, lock, target), dev]
    out = [prod]
    info = git_info(project.root) if git is ... else git
    if info is not None:
        out.append(f"{prod}-{info.commit[:12]}{'-dirty' if info.dirty else ''}")
    out.append(f"{image}:prod-{lock.prod_hash[:12]}")
    return out


def labels(project: Project, lock: Lock, target: Target) -> dict[str, str]:
    from labship import __version__

    out = {
        "org.labship.project": project.name,
        "org.labship.target": target,
        "org.labship.lock": lock.hash(dev=target == "dev"),
        "org.labship.version": __version__,
        "org.opencontainers.image.title": project.name,
        "org.opencontainers.image.version": project.settings.version,
    }
    info = git_info(project.root)
    if info is not None:
        out["org.opencontainers.image.revision"] = info.commit
        out["org.labship.dirty"] = "true" if info.dirty else "false"
    if target == "prod":
        out.update(run_labels(project, lock))
    return out


def run_labels(project: Project, lock: Lock) -> dict[str, str]:
    """What ``labship run --image`` needs on a machine without the project: each job's
    argv, the variable names a profile must set or mask, and the spec's defaults."""
    import json

    from labship.images import container

    settings = project.settings
    jobs = {name: list(job.argv) for name, job in settings.jobs.items()}
    env = {
        "required": list(settings.required),
        "secret": list(settings.secret),
        "defaults": dict(lock.meta.get("variables", {})),
    }
    return {
        container.JOBS_LABEL: json.dumps(jobs, separators=(",", ":"), sort_keys=True),
        container.ENV_LABEL: json.dumps(env, separators=(",", ":"), sort_keys=True),
    }
