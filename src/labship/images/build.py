"""Build an image: the project's dev or prod image, only when its inputs changed.

An image whose ``org.labship.context`` label equals ``context_digest`` needs no build,
not even a cached one. A build tags its image only once it succeeded, so a failed or
interrupted build leaves the previous image and tags untouched.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import EllipsisType
from typing import TYPE_CHECKING

from labship.errors import StaleLockError, UsageError
from labship.images import buildkit
from labship.images.base import base_image, check_python
from labship.images.ca import ca_bundle
from labship.images.context import hash_files, stage_context
from labship.images.dockerfile import DOCKERFILE, render_dockerfile, write_dockerfile
from labship.images.tags import (
    CONTEXT_LABEL,
    GitInfo,
    Target,
    git_info,
    labels,
    primary_tag,
    run_labels,
    tags,
)
from labship.locking import TOOL_TABLE

if TYPE_CHECKING:
    from labship.console import Console
    from labship.locking import Lock
    from labship.project import Project


@dataclass(frozen=True)
class BuiltImage:
    target: Target
    tags: tuple[str, ...]
    image_id: str
    created: bool = True


def build_user(target: Target, uid: int | None, gid: int | None) -> tuple[int, int] | None:
    """Who the dev image runs as (the host user, so mounted files stay theirs); the prod
    image has its own fixed user, so no host uid is part of it."""
    if target == "prod":
        return None
    return (os.getuid() if uid is None else uid, os.getgid() if gid is None else gid)


def context_digest(
    project: Project,
    lock: Lock,
    target: Target,
    *,
    uid: int | None,
    gid: int | None,
    git: GitInfo | EllipsisType | None = ...,
) -> str:
    """What the image is made of: the Dockerfile, the locked set, the base image, the
    build user (dev), and for prod the files baked in and the git commit. An image whose
    ``org.labship.context`` label equals this needs no build, not even a cached one."""
    from labship import __version__

    h = hashlib.sha256()
    dockerfile = project.root / DOCKERFILE
    body = (
        dockerfile.read_text(encoding="utf-8")
        if dockerfile.is_file()
        else render_dockerfile(project)
    )
    user = build_user(target, uid, gid)
    parts = [
        body,
        _read_or_empty(lock.path(dev=target == "dev")).partition(TOOL_TABLE)[0],
        lock.conda.hash if lock.conda is not None else "-",
        base_image(project),
        target,
        f"{user[0]}:{user[1]}" if user else "-",
        __version__,
    ]
    if target == "prod":
        info = git_info(project.root) if git is ... else git
        parts.append(f"{info.commit}:{info.dirty}" if info else "-")
        parts.extend(sorted(run_labels(project, lock).values()))  # a new job: a new label
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    if target == "prod":
        hash_files(h, project)
    return h.hexdigest()


def current_image(
    project: Project,
    lock: Lock,
    target: Target,
    *,
    uid: int | None = None,
    gid: int | None = None,
    git: GitInfo | EllipsisType | None = ...,
) -> str | None:
    """The image id when the target's tag names an image made of exactly today's inputs;
    None when it must be built. The one place that decides whether an image is fresh."""
    from labship.tools.docker import inspect_image

    found = inspect_image(primary_tag(project, lock, target))
    if found is None:
        return None
    label = (found.get("Config") or {}).get("Labels") or {}
    digest = context_digest(project, lock, target, uid=uid, gid=gid, git=git)
    return str(found["Id"]) if label.get(CONTEXT_LABEL) == digest else None


def _read_or_empty(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _request(
    project: Project,
    lock: Lock,
    target: Target,
    context: Path,
    *,
    uid: int | None = None,
    gid: int | None = None,
    no_cache: bool = False,
) -> buildkit.Build:
    user = build_user(target, uid, gid)
    digest = context_digest(project, lock, target, uid=uid, gid=gid)
    return buildkit.Build(
        what=f"{target} image",
        context=context,
        dockerfile=context / DOCKERFILE,
        stage=target,
        base=base_image(project),
        ca=ca_bundle(project),
        labels={**labels(project, lock, target), CONTEXT_LABEL: digest},
        build_args={"UID": str(user[0]), "GID": str(user[1])} if user else {},
        no_cache=no_cache,
    )


def build_argv(
    project: Project,
    lock: Lock,
    target: Target,
    context: Path,
    iidfile: Path,
    *,
    uid: int | None = None,
    gid: int | None = None,
) -> list[str]:
    """The arguments after 'docker build'; no -t: tags move only after a build succeeds."""
    return buildkit.argv(_request(project, lock, target, context, uid=uid, gid=gid), iidfile)


def build(
    project: Project,
    lock: Lock,
    target: Target,
    *,
    console: Console,
    uid: int | None = None,
    gid: int | None = None,
    force: bool = False,
    no_cache: bool = False,
) -> BuiltImage:
    """Build ``target`` and, only if it succeeds, point its tags at the new image: a
    failed or interrupted build leaves the previous image and tags untouched.
    ``force`` regenerates a hand-edited docker/Dockerfile; ``no_cache`` skips layer reuse."""
    from labship import envcheck

    check_target(target)
    lock_file = lock.path(dev=target == "dev")
    if not lock_file.is_file():
        raise StaleLockError(f"{lock_file} is missing", hint="run 'labship lock' first")
    client = buildkit.engine()
    check_python(project)  # one line and exit 78 before BuildKit, not a failed RUN step
    write_dockerfile(project, force=force, console=console)
    image_tags = tags(project, lock, target)
    console.say(f"building the {target} image {image_tags[0]} on {base_image(project)}")
    with stage_context(project, lock) as context:
        request = _request(project, lock, target, context, uid=uid, gid=gid, no_cache=no_cache)
        image_id = buildkit.run(
            request,
            image_tags,
            client,
            console=console,
            explain=lambda stderr: envcheck.image_error(project, lock, target, stderr),
        )
    console.say(f"built {target} image {image_id[:19]}: {', '.join(image_tags)}")
    return BuiltImage(target=target, tags=tuple(image_tags), image_id=image_id, created=True)


def ensure(
    project: Project,
    lock: Lock,
    target: Target,
    *,
    console: Console,
    uid: int | None = None,
    gid: int | None = None,
) -> BuiltImage:
    """The image for today's inputs: the existing one when fresh, else a new build.
    A fresh one costs one inspect over the engine's socket and one ``git status``."""
    git = git_info(project.root) if target == "prod" else None  # dev: no git in it
    found = current_image(project, lock, target, uid=uid, gid=gid, git=git)
    if found is not None:
        return BuiltImage(target, tuple(tags(project, lock, target, git=git)), found, created=False)
    return build(project, lock, target, console=console, uid=uid, gid=gid)


def check_target(target: str) -> Target:
    if target not in ("dev", "prod"):
        raise UsageError(f"unknown image target {target!r}", hint="use dev or prod")
    return "dev" if target == "dev" else "prod"
