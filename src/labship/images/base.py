"""The base image: which one a project's or a model's image is built on, whether it is an
image reference at all (anything else would be injected into a Dockerfile or a docker
command line), why it cannot be had on this machine, and whether its Python is the lock's."""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from labship.errors import ConfigError, RuntimeUnavailable

if TYPE_CHECKING:
    from labship.project import Project

BASE_IMAGE_ENV = "LABSHIP_BASE_IMAGE"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_NAME = re.compile(rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*")
_IMAGE_REF = re.compile(
    rf"{_IMAGE_NAME.pattern}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?"
)


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


def python_mismatch(project: Project, base: str, version: str | None) -> ConfigError | None:
    """A ConfigError (78) when the base image's Python is not the lock's (or, before a
    lock, the project's); None when they agree or there is nothing to compare."""
    wanted = _locked_python(project)
    if version is None or wanted is None:
        return None
    if version.split(".")[:2] == wanted.split(".")[:2]:
        return None
    minor = ".".join(version.split(".")[:2])
    return ConfigError(
        f"the base image {base} has Python {version}, the lock is for Python {wanted}",
        hint=f'set [docker] base_image = "python:{wanted}-slim" (or {BASE_IMAGE_ENV}) to an '
        f'image with Python {wanted}, or relock for it: python = "{minor}" in labship.toml, '
        "then labship lock",
    )


def check_python(project: Project) -> None:
    """Before BuildKit runs: the base image's Python (read once per image ID) must be the
    lock's. A base image not on this machine yet is BuildKit's to pull; nothing to read."""
    from labship.tools.docker import image_python

    base = base_image(project)
    found = image_python(base)
    mismatch = python_mismatch(project, base, found[1]) if found is not None else None
    if mismatch is not None:
        raise mismatch


def _locked_python(project: Project) -> str | None:
    from labship.errors import LabshipError
    from labship.locking import read_lock

    try:
        return read_lock(project, check=False).python
    except LabshipError:
        return project.settings.python or None
