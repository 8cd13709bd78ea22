"""Push the prod image to a registry, by its tags, and remember the digest it got there.

Order matters, so a failure changes nothing here: the registry is asked first (is it
there, does it let us in: one line and no build when not), then the image is made
fresh (``images.build.ensure``), then the registry is asked which digest each tag holds. When
every tag already names this image's digest, nothing is uploaded. Otherwise the
registry-named tags are set and pushed; if a push fails they are put back as they were,
and no record is written.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labship.errors import ConfigError, Interrupted, LabshipError, ToolError, UsageError
from labship.images.base import checked_reference
from labship.images.build import ensure
from labship.images.tags import git_info, image_name
from labship.pushes import PushRecord

if TYPE_CHECKING:
    from labship.console import Console
    from labship.locking import Lock
    from labship.project import Project
    from labship.tools.registry import Registry

_PUSHED = re.compile(r"digest: (sha256:[0-9a-f]{64})")
REGISTRY_HINT = (
    'set [docker] registry = "HOST[:PORT][/NAMESPACE]" in labship.toml, or pass --to '
    "REGISTRY/NAME (e.g. registry.example.com:5000/team/churn)"
)


@dataclass(frozen=True)
class Destination:
    """A registry that answered and let docker's login in, and the repository there."""

    repo: str  # registry/name
    path: str  # name, as the registry's API spells it
    registry: Registry


@dataclass(frozen=True)
class PushResult:
    record: PushRecord
    seconds: float  # the upload, or the registry's answer when nothing was uploaded


def destination(project: Project, to: str | None = None) -> str:
    """REGISTRY/NAME the prod image goes to: ``--to``, else ``[docker] registry`` followed
    by the image name (its own registry part, if any, replaced), else the image name when
    it names a registry itself."""
    from labship.tools.registry import split

    name = image_name(project)
    if to:
        where, ref = "--to", to
    elif project.settings.registry:
        where = f"{project.config_path}: [docker] registry"
        found = split(name)
        ref = f"{project.settings.registry.strip('/')}/{found[1] if found else name}"
    elif split(name) is not None:
        return name
    else:
        raise UsageError(f"{project.name}: no registry to push to", hint=REGISTRY_HINT)
    error = ConfigError if where != "--to" else UsageError  # the command line's is 64
    try:
        checked_reference(ref, where, tag=False)
        host = split(ref)  # its port checked too
    except ConfigError as exc:
        message = exc.message if exc.message.startswith(where) else f"{where}: {exc.message}"
        raise error(message, hint=exc.hint) from None
    if host is None:
        raise error(f"{where}: {ref!r} names no registry host", hint=REGISTRY_HINT)
    return ref


def registry_for(host: str) -> Registry:
    from labship.tools.docker import insecure_registry
    from labship.tools.registry import Registry, is_loopback

    return Registry(host, insecure=is_loopback(host) or insecure_registry(host))


def connect(project: Project, to: str | None = None) -> Destination:
    """Where to push, asked first: down, unknown or refused is one line before anything
    here changes (no lock, no build, no tag, no record)."""
    from labship.tools.registry import split

    repo = destination(project, to)
    host, path = split(repo) or ("", repo)
    registry = registry_for(host)
    registry.check(path)
    return Destination(repo, path, registry)


def push(project: Project, lock: Lock, where: Destination, *, console: Console) -> PushResult:
    """Make the prod image fresh and push it under its tags; see the module's docstring."""
    repo, path, registry = where.repo, where.path, where.registry
    built = ensure(project, lock, "prod", console=console)
    info = git_info(project.root)
    if info is not None and info.dirty:
        console.warn(
            f"code/, notebooks/, docker/ or the lock differ from commit {info.commit[:12]}: "
            "the pushed commit tag ends in -dirty (commit them for a clean one)"
        )
    started = time.monotonic()
    tags = [tag.rpartition(":")[2] for tag in built.tags]
    held = {tag: registry.digest(path, tag) for tag in tags}
    ours = _local_digests(built.image_id, repo)
    todo = [f"{repo}:{tag}" for tag in tags if held[tag] is None or held[tag] not in ours]
    if todo:
        console.say(f"pushing {built.tags[0]} to {repo} ({len(todo)} tags)")
        digest = _upload(built.image_id, todo, registry.host, console)
        digest = digest or registry.digest(path, tags[0])
    else:
        digest = held[tags[0]]
    if not digest:
        raise ToolError(f"docker push {repo} gave no digest, and the registry names none")
    record = PushRecord(
        image=repo,
        digest=digest,
        tags=tuple(tags),
        git_commit=info.commit if info else None,
        lock_hash=lock.prod_hash,
        time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        uploaded=bool(todo),
    )
    from labship import pushes

    pushes.append(project.state_dir, record)
    return PushResult(record, round(time.monotonic() - started, 3))


def _local_digests(image_id: str, repo: str) -> set[str]:
    """The digests this image had when it was last pushed to (or pulled from) ``repo``."""
    from labship.tools.docker import inspect_image

    found = inspect_image(image_id) or {}
    prefix = f"{repo}@"
    return {d[len(prefix) :] for d in found.get("RepoDigests") or [] if d.startswith(prefix)}


def _upload(image_id: str, refs: list[str], host: str, console: Console) -> str | None:
    """Tag and push each ref; the digest docker reports. On any failure the refs are put
    back as they were before, so a failed push leaves no tag behind."""
    from labship.tools.docker import docker, inspect_image

    before = {ref: (inspect_image(ref) or {}).get("Id") for ref in refs}
    digest = None
    try:
        for ref in refs:
            docker(["tag", image_id, ref], console=console)
        for ref in refs:
            result = docker(["push", ref], console=console, check=False)
            if result.returncode != 0:
                raise _push_error(host, ref, result.stderr)
            found = _PUSHED.search(result.stdout)
            digest = found.group(1) if found else digest
    except KeyboardInterrupt:
        _restore(before, console)
        raise Interrupted("push interrupted; local tags are as they were") from None
    except BaseException:
        _restore(before, console)
        raise
    return digest


def _push_error(host: str, ref: str, stderr: str) -> LabshipError:
    from labship.tools.registry import from_docker

    known = from_docker(host, stderr)
    if known is not None:
        return known
    last = stderr.strip().splitlines()[-1:] or ["no message"]
    return ToolError(f"docker push {ref} failed: {last[0]}", hint="nothing was recorded")


def _restore(before: dict[str, str | None], console: Console) -> None:
    from labship.tools.docker import docker

    for ref, image_id in before.items():
        argv = ["tag", image_id, ref] if image_id else ["rmi", "--no-prune", ref]
        docker(argv, console=console, check=False)


__all__ = ["Destination", "PushResult", "connect", "destination", "push", "registry_for"]
