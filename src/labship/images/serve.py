"""The serving image: ``labship build serve MODEL``.

The model's locked set (the very lock the local runtime installs, see ``serve.env``),
installed by uv in a builder stage; the server's code (``app/``); the model folder baked
in; a non-root user; a HEALTHCHECK on ``/ping`` (python's urllib: no curl in the image);
workers from the container's cgroup at start (``app/__main__``). The Dockerfile is
``templates/serve/Dockerfile.j2``; its uv stage and bytecode step are the project
image's (``templates/docker/stages.j2``), and so are the base image rule, the CA secret
and the staged uv (``images.build``).

The tag is the digest of everything the image is made of (Dockerfile, lock, server
code, model files, base image): an unchanged model is not rebuilt, not even from cache.
A build tags its image only once it succeeded, so a failure leaves the previous one.
The context is staged from an allow-list (the lock, the code, the model's files without
env files, caches or VCS folders): nothing else on the machine can reach a layer.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from labship.images.tags import CONTEXT_LABEL

if TYPE_CHECKING:
    from labship.console import Console
    from labship.locking import Lock

REPOSITORY = "labship-serve"  # images are REPOSITORY/<model folder name>:<digest>
PORT = 8080  # inside the container, as mlflow's images
MODEL_DIR = "/model"
CODE_DIR = "/opt/labship-serve"
MODEL_LABEL = "org.labship.serve.model"
# Never staged from a model folder, whatever it holds.
_NEVER = re.compile(r"^(\.env.*|\.git|\.hg|\.svn|\.venv|\.labship|__pycache__|.*\.pyc)$")


class ServedModel(Protocol):
    """What the image needs of a model folder (``serve.model.ServedModel`` is one)."""

    @property
    def path(self) -> Path: ...

    @property
    def python(self) -> str: ...


@dataclass(frozen=True)
class Server:
    """The model server's code (``serve/app``), installed in the image as ``package``."""

    package: str
    folder: Path

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.py"))


@dataclass(frozen=True)
class ServeImage:
    tag: str
    image_id: str
    created: bool


def image_name(model: ServedModel) -> str:
    """``labship-serve/<folder name>``, the name made a valid repository component."""
    slug = re.sub(r"[^a-z0-9]+", "-", model.path.name.lower()).strip("-")[:60] or "model"
    return f"{REPOSITORY}/{slug}"


def base_image(python: str) -> str:
    """LABSHIP_BASE_IMAGE (tests, air-gapped machines), else the official slim image of
    the model's Python."""
    from labship.images.base import BASE_IMAGE_ENV, checked_reference

    override = os.environ.get(BASE_IMAGE_ENV)
    if override:
        return checked_reference(override, BASE_IMAGE_ENV)
    return f"python:{python}-slim"


def render_dockerfile(model: ServedModel, server: Server) -> str:
    import json

    from labship.images.container import APP_UID, VENV
    from labship.images.context import UV_VERSION
    from labship.templates import environment

    url = f"http://127.0.0.1:{PORT}/ping"
    ping = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=2)"
    load = f"w.Model(pathlib.Path({MODEL_DIR!r}))"
    entrypoint = ["python", "-m", server.package, "--model", MODEL_DIR, "--host", "0.0.0.0"]
    env = environment().overlay(trim_blocks=False, lstrip_blocks=False)
    return env.get_template("serve/Dockerfile.j2").render(
        model_name=json.dumps(model.path.name),
        base_image=f"python:{model.python}-slim",
        uv_version=UV_VERSION,
        venv=VENV,
        uid=APP_UID,
        package=server.package,
        code_dir=CODE_DIR,
        model_dir=MODEL_DIR,
        port=PORT,
        healthcheck=["python", "-c", ping],
        load_check=["python", "-c", f"import {server.package}.worker as w, pathlib; {load}"],
        entrypoint=[*entrypoint, "--port", str(PORT)],
    )


def _model_files(root: Path) -> Iterator[tuple[str, Path, str]]:
    """(path in the context's model/, source, "dir" | "link" | "file"), sorted: the list
    that is both hashed and staged."""
    from labship.images.context import walk_context

    yield from walk_context(root, "", _NEVER)


def context_digest(
    model: ServedModel, lock: Lock, server: Server, dockerfile: str, base: str
) -> str:
    """What the image is made of; its first 16 hex digits are the tag."""
    from labship import __version__

    h = hashlib.sha256()
    lock_text = lock.path(dev=False).read_text(encoding="utf-8")
    for part in (dockerfile, lock_text, base, __version__):
        h.update(part.encode() + b"\0")
    for file in server.files():
        h.update(f"code/{file.name}\0".encode() + file.read_bytes() + b"\0")
    for rel, src, kind in _model_files(model.path):
        h.update(f"model/{rel}\0{kind}\0".encode())
        if kind == "link":
            h.update(os.readlink(src).encode())
        elif kind == "file":
            h.update(src.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Plan:
    dockerfile: str
    base: str
    digest: str
    tag: str


def plan(model: ServedModel, lock: Lock, server: Server) -> Plan:
    """What the image for this model and lock is, and its tag; nothing is built."""
    dockerfile = render_dockerfile(model, server)
    base = base_image(model.python)
    digest = context_digest(model, lock, server, dockerfile, base)
    return Plan(dockerfile, base, digest, f"{image_name(model)}:{digest[:16]}")


def current(planned: Plan) -> str | None:
    """The image id when the tag names an image labship built of exactly these inputs."""
    from labship.tools.docker import inspect_image

    found = inspect_image(planned.tag)
    if found is None:
        return None
    labels = (found.get("Config") or {}).get("Labels") or {}
    return str(found["Id"]) if labels.get(CONTEXT_LABEL) == planned.digest else None


def ensure(model: ServedModel, lock: Lock, server: Server, *, console: Console) -> ServeImage:
    """The serving image for this model: found by its tag, else built and then tagged."""
    planned = plan(model, lock, server)
    found = current(planned)
    if found is not None:
        console.say(f"serving image {planned.tag} is up to date")
        return ServeImage(planned.tag, found, created=False)
    return ServeImage(
        planned.tag, _build(model, lock, server, planned, console=console), created=True
    )


@contextmanager
def _stage(model: ServedModel, lock: Lock, server: Server, dockerfile: str) -> Iterator[Path]:
    """The build context: Dockerfile, pylock.toml, labship_serve/, model/, uv/. Model
    files are copied readable by all (the image's user is not their owner)."""
    from labship.images.context import STAGED_UV_DIR, host_uv_for_image

    stage = Path(tempfile.mkdtemp(prefix="labship-serve-context-"))
    try:
        (stage / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        shutil.copyfile(lock.path(dev=False), stage / "pylock.toml")
        (stage / server.package).mkdir()
        for file in server.files():
            shutil.copyfile(file, stage / server.package / file.name)
        (stage / "model").mkdir()
        for rel, src, kind in _model_files(model.path):
            target = stage / "model" / rel
            if kind == "dir":
                target.mkdir()
            elif kind == "link":
                os.symlink(os.readlink(src), target)
            else:
                shutil.copyfile(src, target)
                target.chmod(0o755 if os.access(src, os.X_OK) else 0o644)
        (stage / STAGED_UV_DIR).mkdir()
        uv = host_uv_for_image()
        if uv is not None:
            shutil.copy2(uv, stage / STAGED_UV_DIR / "uv")
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _build(
    model: ServedModel, lock: Lock, server: Server, planned: Plan, *, console: Console
) -> str:
    from labship import __version__
    from labship.images import buildkit
    from labship.images.ca import ca_bundle

    client = buildkit.engine()
    console.say(f"building the serving image {planned.tag} on {planned.base}")
    with _stage(model, lock, server, planned.dockerfile) as context:
        request = buildkit.Build(
            what="serving image",
            context=context,
            dockerfile=context / "Dockerfile",
            stage="serve",
            base=planned.base,
            ca=ca_bundle(None),
            labels={
                CONTEXT_LABEL: planned.digest,
                MODEL_LABEL: model.path.name,
                "org.labship.version": __version__,
                "org.opencontainers.image.title": model.path.name,
            },
            unchanged="nothing was tagged",
        )
        image_id = buildkit.run(request, [planned.tag], client, console=console)
    console.say(f"built serving image {image_id[:19]}: {planned.tag}")
    return image_id
