"""Runtimes: a registry from name to implementation, and the one rule that picks one.

A runtime turns (project, lock, profile) into running things (``runtimes.base``): jobs,
the lab, the tracking server, ``serve``, ``run --image``. Adding one is one module and
one line in ``_REGISTRY``; its module is imported only when it is used, and its
availability check (for ``auto``) without importing it. Nothing outside this package
names a runtime: callers ask ``choose``/``select`` and read the runtime's declared
properties (``runtimes.base.Runtime``); ``tests/test_architecture.py`` holds that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
FLAG = "--runtime"
SETTING = "labship.toml"


class _Entry(NamedTuple):
    implementation: str  # "module:class"
    available: str | None  # "module:function" -> bool, for auto-detection; None: always
    why_available: str
    why_not: str
    # "module:function" (project) -> None, or why this project cannot use it here; asked
    # only once ``available`` said yes
    usable: str | None = None


# In auto-detection order: the first available one wins. The last one is always
# available: the default where nothing is probed.
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


@dataclass(frozen=True)
class Choice:
    """Which runtime, where the choice came from (the flag, ``ENV_VAR``, labship.toml, the
    running lab, auto-detection, the default), and why, as it is said aloud."""

    name: str
    source: str
    why: str

    def __str__(self) -> str:
        return f"{self.name} ({self.why})"

    def runtime(self) -> Runtime[Any]:
        return get(self.name)


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


def _detect(project: Project | None) -> Choice:
    """The first available runtime in registry order, and why."""
    skipped: list[str] = []
    for name, entry in _REGISTRY.items():
        probe: Callable[[], bool] | None = _load(entry.available) if entry.available else None
        if probe is not None and not probe():
            skipped.append(entry.why_not)
            continue
        usable = _load(entry.usable) if entry.usable and project is not None else None
        problem: str | None = usable(project) if usable is not None else None
        if problem is None:
            return Choice(name, AUTO, "; ".join(skipped) or entry.why_available or "the default")
        skipped.append(f"{entry.why_available}, but {problem}")
    raise UsageError("no runtime is available")  # unreachable: the last is always available


def _default() -> Choice:
    return Choice(next(reversed(_REGISTRY)), AUTO, "the default without a project")


def _running_lab(project: Project) -> Choice | None:
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
    return Choice(record.info.runtime, "lab", "the project's lab runs there")


def _requested(project: Project | None, requested: str | None) -> tuple[str, str]:
    if requested:
        return requested, FLAG
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR], ENV_VAR
    if project is not None:
        return project.settings.runtime, SETTING
    return AUTO, AUTO


def choose(project: Project | None, requested: str | None, *, probe: bool = True) -> Choice:
    """The one rule. Precedence: ``requested`` (the flag), then LABSHIP_RUNTIME, then
    labship.toml, then (``auto``) the project's running lab's runtime, then
    auto-detection (``probe``) or, without it, the default (the last registered, which
    needs nothing: ``serve`` asks for that, since a model server should start in a
    second, not after an image build, unless another runtime is named). Says nothing."""
    name, source = _requested(project, requested)
    if name not in choices():
        hint = f"use one of {', '.join(choices())}"
        if source == SETTING and project is not None:
            raise ConfigError(
                f"{project.config_path}: [project] runtime = {name!r} is unknown", hint=hint
            )
        raise UsageError(f"unknown runtime {name!r} ({source})", hint=hint)
    if name != AUTO:
        return Choice(name, source, source)
    lab = _running_lab(project) if project is not None else None
    if lab is not None:
        return lab
    return _detect(project) if probe else _default()


def select(
    project: Project | None, requested: str | None, *, console: Console, probe: bool = True
) -> Runtime[Any]:
    """``choose``, said aloud (``runtime: NAME (why)``), and the runtime itself."""
    choice = choose(project, requested, probe=probe)
    console.say(f"runtime: {choice}")
    return choice.runtime()


def running_images(requested: str | None, *, console: Console) -> Runtime[Any]:
    """The runtime for ``run --image``: the one ``--runtime`` names, which must run images,
    or else the first registered one that does (LABSHIP_RUNTIME and labship.toml choose
    where a project's jobs run, not where a pushed image does)."""
    able = [n for n in _REGISTRY if get(n).runs_images]
    if requested and requested != AUTO:
        if requested not in able:
            raise UsageError(
                f"--image runs on {' or '.join(able)}, not {FLAG} {requested}",
                hint=f"drop {FLAG}, or pass {FLAG} {able[0]}",
            )
        choice = Choice(requested, FLAG, FLAG)
    else:
        choice = Choice(able[0], AUTO, "it runs images")
    console.say(f"runtime: {choice}")
    return choice.runtime()


def interactive_names() -> tuple[str, ...]:
    """The runtimes that host a lab and shells, for a hint."""
    from labship.runtimes.base import Interactive

    return tuple(n for n in _REGISTRY if isinstance(get(n), Interactive))
