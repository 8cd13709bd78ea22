"""Images: render docker/Dockerfile from the project and the lock, and build it.

The Dockerfile is generated (a header with a checksum marks it, so a hand edit is
caught) until the user ejects it; from then on labship builds it as is. Builds run
on a context labship stages itself from an allow-list (see ``stage_context``), so
env files, data and git history cannot reach an image whatever .dockerignore says.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from labship.errors import (
    ConfigError,
    Interrupted,
    LabshipError,
    RuntimeUnavailable,
    StaleLockError,
    ToolError,
    UsageError,
)
from labship.generated import Header, Planned, with_header
from labship.lock import TOOL_TABLE
from labship.targets.base import Context

if TYPE_CHECKING:
    from labship.console import Console
    from labship.lock import Lock
    from labship.project import Project
    from labship.tools.docker import Client

Target = Literal["dev", "prod"]

HEADER = Header(
    sources="labship.toml + pylock.toml + pylock.dev.toml",
    command="labship build",
    takeover="run 'labship eject' to take it over (labship then builds it as is)",
)
DOCKERFILE = Path("docker") / "Dockerfile"
# uv inside the builder stage: pinned, so the same Dockerfile builds the same on every
# machine (the host's uv version must not change the image). When labship's own uv is
# exactly this version and a Linux x86-64 ELF, it is staged in the context (uv/uv) and
# copied in, saving the pip install of uv (~3 s of a cold build); the Dockerfile checks
# it runs and reports this version in the base image, else pip-installs this version.
UV_VERSION = "0.13.9"
STAGED_UV_DIR = "uv"
STAGED_CHECK_DIR = "labship-check"  # the import check's probe and names (labship.envcheck)
BASE_IMAGE_ENV = "LABSHIP_BASE_IMAGE"
DEFAULT_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_ENV_VARS = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")

# What may enter a build context, and what never may even inside those folders.
CONTEXT_FILES = ("pylock.toml", "pylock.dev.toml")
CONTEXT_LABEL = "org.labship.context"
CONTEXT_DIRS = ("code", "notebooks", "docker")
_NEVER = re.compile(r"^(\.env.*|\.git|\.venv|\.labship|__pycache__|\.ipynb_checkpoints)$")
_APT_NAME = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(:[a-z0-9]+)?(=[A-Za-z0-9.+~:\-]+)?$")
_TAG_BAD = re.compile(r"[^A-Za-z0-9_.\-]")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_NAME = re.compile(rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*")
_IMAGE_REF = re.compile(
    rf"{_IMAGE_NAME.pattern}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?"
)


@dataclass(frozen=True)
class BuiltImage:
    target: Target
    tags: tuple[str, ...]
    image_id: str
    created: bool = True


# ---------------------------------------------------------------- Dockerfile


def python_version(project: Project) -> str:
    return project.settings.python or f"{sys.version_info.major}.{sys.version_info.minor}"


def default_base_image(project: Project) -> str:
    """The Dockerfile's ARG default: labship.toml, else the official slim image."""
    configured = project.settings.base_image
    if configured:
        return checked_reference(configured, f"{project.config_path}: [docker] base_image")
    return f"python:{python_version(project)}-slim"


def base_image(project: Project) -> str:
    """The base actually built on: LABSHIP_BASE_IMAGE wins (tests, air-gapped machines)."""
    override = os.environ.get(BASE_IMAGE_ENV)
    if override:
        return checked_reference(override, BASE_IMAGE_ENV)
    return default_base_image(project)


def image_name(project: Project) -> str:
    """The repository the project's images are tagged in (``[docker] image``, else the
    project name)."""
    return checked_reference(project.image, f"{project.config_path}: [docker] image", tag=False)


def checked_reference(ref: str, where: str, *, tag: bool = True) -> str:
    """``ref`` when it is an image reference (a name, optionally a tag and a digest):
    anything else would be injected into the Dockerfile or a docker command line."""
    pattern = _IMAGE_REF if tag else _IMAGE_NAME
    if not pattern.fullmatch(ref):
        shown = ref if ref.isprintable() and len(ref) <= 80 else repr(ref[:80])
        raise ConfigError(
            f"{where}: {shown!r} is not an image reference",
            hint="e.g. python:3.11-slim, registry.example.com:5000/team/base:1.2",
        )
    return ref


def _apt_packages(project: Project) -> list[str]:
    packages = ["tini"]
    for name in project.settings.system_packages:
        if not _APT_NAME.fullmatch(name):
            raise ConfigError(
                f"{project.config_path}: [docker] system_packages: {name!r} is not a "
                "Debian package name",
                hint='e.g. system_packages = ["unixodbc"]',
            )
        if name not in packages:
            packages.append(name)
    return packages


def _body(project: Project) -> str:
    import json

    from labship.images import container
    from labship.store import JUPYTERLAB_OVERRIDES
    from labship.targets.bakedfiles import code_entries, import_root, package_entries
    from labship.templates import environment

    own = import_root(project)
    env = environment().overlay(trim_blocks=False, lstrip_blocks=False)
    return env.get_template("docker/Dockerfile.j2").render(
        baked=code_entries(project),
        package=package_entries(project),
        package_path=f"{container.APP_DIR}/{own}".rstrip("/.") if own else "",
        lab_overrides=json.dumps(JUPYTERLAB_OVERRIDES, separators=(",", ":")),
        name=project.name,
        base_image=default_base_image(project),
        uv_version=UV_VERSION,
        apt_packages=_apt_packages(project),
        app_uid=container.APP_UID,
        app_dir=container.APP_DIR,
        venv=container.VENV,
        lab_command=container.LAB_COMMAND,
        lab_port=container.LAB_PORT,
        check_dir=STAGED_CHECK_DIR,
    )


class ImageTarget:
    """docker/Dockerfile: generated until ejected, then the user's and built as is."""

    name = "image"

    def plan(self, context: Context) -> list[Planned]:
        project = context.project
        return [
            Planned(
                path=project.root / DOCKERFILE,
                text=with_header(HEADER, _body(project)),
                user_owned="keep",
                takeover="labship eject",
            )
        ]


def render_dockerfile(project: Project) -> str:
    """The generated Dockerfile: header, checksum of the rest, then the rest."""
    return ImageTarget().plan(Context(project))[0].text


def write_dockerfile(
    project: Project, *, force: bool = False, console: Console | None = None
) -> Path:
    """Write docker/Dockerfile unless the user owns it; a hand edit is never overwritten
    silently (ConflictError), an ejected file is used as is. ``force`` regenerates."""
    from labship import targets

    return targets.export(Context(project), ImageTarget.name, force=force, console=console)[0]


# ---------------------------------------------------------------- tags and labels


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


def tags(project: Project, lock: Lock, target: Target) -> list[str]:
    """dev and prod never share a tag: dev tags start with 'dev', prod tags never do."""
    dev, prod = stable_tags(project)
    image = image_name(project)
    if target == "dev":
        return [f"{image}:dev-{lock.dev_hash[:12]}", dev]
    out = [prod]
    info = git_info(project.root)
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


def build_user(target: Target, uid: int | None, gid: int | None) -> tuple[int, int] | None:
    """Who the dev image runs as (the host user, so mounted files stay theirs); the prod
    image has its own fixed user, so no host uid is part of it."""
    if target == "prod":
        return None
    return (os.getuid() if uid is None else uid, os.getgid() if gid is None else gid)


def context_digest(
    project: Project, lock: Lock, target: Target, *, uid: int | None, gid: int | None
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
        base_image(project),
        target,
        f"{user[0]}:{user[1]}" if user else "-",
        __version__,
    ]
    if target == "prod":
        info = git_info(project.root)
        parts.append(f"{info.commit}:{info.dirty}" if info else "-")
        parts.extend(sorted(run_labels(project, lock).values()))  # a new job: a new label
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    if target == "prod":
        _hash_context_files(h, project)
    return h.hexdigest()


def _hash_context_files(h: hashlib._Hash, project: Project) -> None:
    for rel, src, kind in _context_entries(project):
        h.update(f"{rel}\0{kind}\0".encode())
        if kind == "link":
            h.update(os.readlink(src).encode())
        elif kind == "file":
            h.update(src.read_bytes())


def current_image(
    project: Project, lock: Lock, target: Target, *, uid: int | None = None, gid: int | None = None
) -> str | None:
    """The image id when the target's tag names an image made of exactly today's inputs;
    None when it must be built. The one place that decides whether an image is fresh."""
    from labship.tools.docker import inspect_image

    found = inspect_image(tags(project, lock, target)[0])
    if found is None:
        return None
    label = (found.get("Config") or {}).get("Labels") or {}
    digest = context_digest(project, lock, target, uid=uid, gid=gid)
    return str(found["Id"]) if label.get(CONTEXT_LABEL) == digest else None


def _read_or_empty(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


# ---------------------------------------------------------------- build


def ca_bundle(project: Project | None) -> Path | None:
    """The CA bundle handed to the build as a secret: labship.toml, the usual variables,
    then the system bundle. Never a layer: BuildKit mounts secrets only for one RUN.
    ``None``: no project (a serving image), so no labship.toml."""
    configured = project.settings.ca_bundle if project is not None else None
    if project is not None and configured:
        path = (project.root / configured).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"{project.config_path}: [docker] ca_bundle {configured!r} does not exist",
                hint="point it at a PEM bundle, or remove the key",
            )
        return path
    for var in CA_ENV_VARS:
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return DEFAULT_CA_BUNDLE if DEFAULT_CA_BUNDLE.is_file() else None


def _context_entries(project: Project) -> Iterator[tuple[str, Path, str]]:
    """(path in the context, source, "dir" | "link" | "file") for everything the build
    context holds from CONTEXT_DIRS, in a stable order: what is staged and what is hashed
    for the rebuild check are one list. Env files and caches are skipped; symlinks stay
    links (a link into data/ cannot pull data in); a symlinked top folder is left out."""
    for name in CONTEXT_DIRS:
        top = project.root / name
        if top.is_dir() and not top.is_symlink():
            yield from walk_context(top, name, _NEVER)
    from labship.targets.bakedfiles import code_entries, package_entries

    extra = {b.name: b for b in (*code_entries(project), *package_entries(project))}
    for name in sorted(extra):
        path = project.root / name
        if extra[name].folder:
            yield name, path, "dir"
            yield from walk_context(path, name, _NEVER)
        else:
            yield name, path, "file"


def walk_context(src: Path, rel: str, never: re.Pattern[str]) -> Iterator[tuple[str, Path, str]]:
    """(path under ``rel``, source, "dir" | "link" | "file") below ``src``, sorted, names
    ``never`` matches left out; a symlink stays a link and is not followed."""
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        if never.match(entry.name):
            continue
        path, sub = Path(entry.path), f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_symlink():
            yield sub, path, "link"
        elif entry.is_dir():
            yield sub, path, "dir"
            yield from walk_context(path, sub, never)
        elif entry.is_file():
            yield sub, path, "file"


def host_uv_for_image() -> Path | None:
    """labship's uv binary when it can stand in for the pinned one inside a Linux x86-64
    image: this host is Linux x86-64, the file is an ELF executable, its version is
    UV_VERSION. None otherwise (the Dockerfile then pip-installs UV_VERSION)."""
    import platform

    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        from labship.tools.uv import uv_bin, uv_version

        path = Path(os.path.realpath(uv_bin()))
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                return None  # a shim script (pyenv, asdf): not usable in the image
        if uv_version() != UV_VERSION:
            return None
    except (LabshipError, OSError, IndexError):
        return None
    return path


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@contextmanager
def stage_context(project: Project) -> Iterator[Path]:
    """A build context holding only the allow-list: pylock*.toml, code/, notebooks/,
    docker/ (without env files, caches, .git, .venv), plus labship's own uv in uv/ (see
    UV_VERSION) and the import check in labship-check/. Why not the project root with a
    .dockerignore: that file is the user's, and one missing line would ship .env_prod or
    data/ into a layer; an allow-list fails closed. Hard links keep staging cheap."""
    from labship.targets.bakedfiles import without_local

    project.state_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="context-", dir=project.state_dir))
    try:
        for name in CONTEXT_FILES:
            src = project.root / name
            if src.is_file():
                # Only the packages part: the [tool.labship] table (resolved_at, ...)
                # would otherwise bust the install layer on a re-lock to the same set.
                # The project's own package is installed after the environment layer.
                text = without_local(src.read_text(encoding="utf-8").partition(TOOL_TABLE)[0])
                (stage / name).write_text(text, encoding="utf-8")
        for name in CONTEXT_DIRS:
            (stage / name).mkdir()  # the Dockerfile COPYs each; an empty one is fine
        for rel, src, kind in _context_entries(project):
            if kind == "dir":
                (stage / rel).mkdir()
            elif kind == "link":
                os.symlink(os.readlink(src), stage / rel)
            else:
                _link_or_copy(src, stage / rel)
        # labship's own uv for the uv stage (empty folder: the stage pip-installs it)
        (stage / STAGED_UV_DIR).mkdir()
        uv = host_uv_for_image()
        if uv is not None:
            _link_or_copy(uv, stage / STAGED_UV_DIR / "uv")
        from labship import envcheck

        envcheck.stage(project, stage / STAGED_CHECK_DIR)
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
    argv = [
        "--target",
        target,
        "--network=host",
        "--progress=plain",
        "--iidfile",
        str(iidfile),
        "--file",
        str(context / DOCKERFILE),
        "--build-arg",
        f"BASE_IMAGE={base_image(project)}",
    ]
    bundle = ca_bundle(project)
    if bundle is not None:
        argv += ["--secret", f"id=ca,src={bundle}"]
    user = build_user(target, uid, gid)
    if user is not None:
        argv += ["--build-arg", f"UID={user[0]}", "--build-arg", f"GID={user[1]}"]
    digest = context_digest(project, lock, target, uid=uid, gid=gid)
    for key, value in {**labels(project, lock, target), CONTEXT_LABEL: digest}.items():
        argv += ["--label", f"{key}={value}"]
    argv.append(str(context))
    return argv


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
    from labship.tools.docker import build_client, docker, ping

    check_target(target)
    lock_file = lock.path(dev=target == "dev")
    if not lock_file.is_file():
        raise StaleLockError(f"{lock_file} is missing", hint="run 'labship lock' first")
    client = build_client()
    ping()
    write_dockerfile(project, force=force, console=console)
    image_tags = tags(project, lock, target)
    console.say(f"building the {target} image {image_tags[0]} on {base_image(project)}")
    with stage_context(project) as context:
        iidfile = context.parent / f"{context.name}.iid"
        try:
            argv = build_argv(project, lock, target, context, iidfile, uid=uid, gid=gid)
            if no_cache:
                argv.insert(0, "--no-cache")
            _run_build(project, lock, target, [*client.build_argv, *argv], client, console)
            image_id = iidfile.read_text(encoding="utf-8").strip()
        finally:
            iidfile.unlink(missing_ok=True)
    if not image_id:
        raise ToolError(f"{target} image build gave no image id; the previous image is unchanged")
    for tag in image_tags:
        docker(["tag", image_id, tag], console=console)
    console.say(f"built {target} image {image_id[:19]}: {', '.join(image_tags)}")
    return BuiltImage(target=target, tags=tuple(image_tags), image_id=image_id, created=True)


def _run_build(
    project: Project, lock: Lock, target: Target, argv: list[str], client: Client, console: Console
) -> None:
    """docker build; a failure is one error: the base image that cannot be pulled, the
    packages that do not import, else docker's own last lines."""
    from labship import envcheck
    from labship.tools.docker import pull_failure
    from labship.tools.process import failure_message, run_tool

    try:
        result = run_tool("docker", argv, console=console, env=client.env(), check=False)
    except KeyboardInterrupt:
        raise Interrupted(
            f"{target} image build interrupted; the previous image is unchanged"
        ) from None
    if result.returncode == 0:
        return
    unpullable = pull_failure(result.stderr)
    if unpullable is not None:
        raise base_unavailable(*unpullable)
    broken = envcheck.image_error(project, lock, target, result.stderr)
    if broken is not None:
        raise broken
    raise ToolError(
        f"{target} image build failed; the previous image is unchanged: "
        + failure_message("docker", argv, result, console)
    )


_USE_LOCAL_BASE = f"point [docker] base_image or {BASE_IMAGE_ENV} at a local image"


def base_unavailable(image: str, why: str) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"the base image {image} is not on this machine and cannot be pulled: {why}",
        hint=f"{_USE_LOCAL_BASE} (docker images), or use --runtime local",
    )


def base_problem(project: Project) -> str | None:
    """Why this project's images cannot be built here, for auto-detection; None when the
    base image is on this machine (one ~1 ms API call) or the engine can pull it (asks
    the registry, at most once a day: see ``pull_problem``)."""
    from labship.tools.docker import inspect_image, pull_problem

    base = base_image(project)
    if inspect_image(base) is not None:
        return None
    why = pull_problem(base)
    if why is None:
        return None
    return f"{base_unavailable(base, why).message}; to use Docker, {_USE_LOCAL_BASE}"


def ensure(
    project: Project,
    lock: Lock,
    target: Target,
    *,
    console: Console,
    uid: int | None = None,
    gid: int | None = None,
) -> BuiltImage:
    """The image for today's inputs: the existing one when fresh, else a new build."""
    found = current_image(project, lock, target, uid=uid, gid=gid)
    if found is not None:
        return BuiltImage(target, tuple(tags(project, lock, target)), found, created=False)
    return build(project, lock, target, console=console, uid=uid, gid=gid)


def check_target(target: str) -> Target:
    if target not in ("dev", "prod"):
        raise UsageError(f"unknown image target {target!r}", hint="use dev or prod")
    return "dev" if target == "dev" else "prod"


__all__ = [
    "HEADER",
    "BuiltImage",
    "ImageTarget",
    "base_image",
    "build",
    "ca_bundle",
    "check_target",
    "current_image",
    "ensure",
    "labels",
    "render_dockerfile",
    "run_labels",
    "stable_tags",
    "stage_context",
    "tags",
    "write_dockerfile",
]
