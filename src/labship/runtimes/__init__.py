"""Runtimes: a registry from name to implementation, and the one rule that picks one.

A runtime turns (project, lock, profile) into running things (``runtimes.base``).
Adding one is one module and one line in ``_REGISTRY``; its module is imported only
when it is used, and its availability check (for ``auto``) without importing it.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any, NamedTuple

from labship.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from labship.console import Console
    from labship.project import Project
    from labship.runtimes.base import Runtime

AUTO = "auto"
ENV_VAR = "LABSHIP_RUNTIME"


class _Entry(NamedTuple):
    implementation: str  # "module:class"
    available: str | None  # "module:function" -> bool, for auto-detection; None: always
    why_available: str
    why_not: str
    # "module:function" (project) -> None, or why this project cannot use it here; asked
    # only once ``available`` said yes
    usable: str | None = None


# In auto-detection order: the first available one wins.
_REGISTRY = {
    "docker": _Entry(
        "labship.runtimes.docker:DockerRuntime",
        "labship.tools.docker:engine_reachable",
        "a Docker engine answered",
        "no Docker engine reachable",
        "labship.images.base:base_problem",
    ),
    "local": _Entry("labship.runtimes.local:LocalRuntime", None, "", ""),
}


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def choices() -> tuple[str, ...]:
    """What ``--runtime``, LABSHIP_RUNTIME and ``[project] runtime`` accept."""
    return (AUTO, *_REGISTRY)


def _load(dotted: str) -> Any:
    module, _, attr = dotted.partition(":")
    return getattr(import_module(module), attr)


def get(name: str) -> Runtime[Any]:
    entry = _REGISTRY.get(name)
    if entry is None:
        raise UsageError(f"unknown runtime {name!r}", hint=f"use one of {', '.join(choices())}")
    runtime: Runtime[Any] = _load(entry.implementation)()
    return runtime


def _detect(project: Project) -> tuple[str, str]:
    """The first available runtime in registry order, and why."""
    skipped: list[str] = []
    for name, entry in _REGISTRY.items():
        probe: Callable[[], bool] | None = _load(entry.available) if entry.available else None
        if probe is not None and not probe():
            skipped.append(entry.why_not)
            continue
        problem: str | None = _load(entry.usable)(project) if entry.usable else None
        if problem is None:
            return name, "; ".join(skipped) or entry.why_available or "the default"
        skipped.append(f"{entry.why_available}, but {problem}")
    raise UsageError("no runtime is available")  # unreachable: local is always available


def _running_lab(project: Project) -> tuple[str, str] | None:
    """The runtime of the project's running lab: with ``auto``, jobs follow it, so a dev
    job meets the lab's tracking server and environment, whatever else is available."""
    from labship.runtimes.base import Interactive
    from labship.runtimes.lab import read_record

    record = read_record(project)
    if record is None or record.info.runtime not in _REGISTRY:
        return None
    rt = get(record.info.runtime)
    if not isinstance(rt, Interactive) or rt.lab_running(project) is None:
        return None
    return record.info.runtime, "the project's lab runs there"


def select(project: Project, requested: str | None, *, console: Console) -> Runtime[Any]:
    """The runtime :func:`decide` chooses; the choice and its reason are said aloud."""
    choice, why = decide(project, requested)
    console.say(f"runtime: {choice} ({why})")
    return get(choice)


def decide(project: Project, requested: str | None) -> tuple[str, str]:
    """(runtime, why). Precedence: the flag, then LABSHIP_RUNTIME, then labship.toml, then
    (``auto``) the running lab's runtime, then auto-detection. doctor asks the same."""
    if requested:
        choice, why = requested, "--runtime"
    elif os.environ.get(ENV_VAR):
        choice, why = os.environ[ENV_VAR], ENV_VAR
    else:
        choice, why = project.settings.runtime, "labship.toml"
    if choice not in choices():
        hint = f"use one of {', '.join(choices())}"
        if why == "labship.toml":
            raise ConfigError(
                f"{project.config_path}: [project] runtime = {choice!r} is unknown", hint=hint
            )
        raise UsageError(f"unknown runtime {choice!r} ({why})", hint=hint)
    if choice == AUTO:
        choice, why = _running_lab(project) or _detect(project)
    return choice, why
