"""Targets: turn the project, its lock and a profile into files another system runs.

A target is one module with one class: a ``name`` and ``plan(context)``, the files it
would write (each with labship's header, see ``labship.generated``). ``export`` checks
them all and writes them; ``eject`` hands them to the user. Adding a target (cron,
Airflow, Kubernetes) is one module and one line in ``_REGISTRY``.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import UsageError

if TYPE_CHECKING:
    from labship.console import Console
    from labship.targets.base import Context, Target

# name -> "module:class"; modules are imported only when their target is used.
_REGISTRY = {
    "image": "labship.targets.image:ImageTarget",
    "compose": "labship.targets.compose:ComposeTarget",
    "cron": "labship.targets.cron:CronTarget",
    "k8s": "labship.targets.k8s:K8sTarget",
    "airflow": "labship.targets.airflow:AirflowTarget",
}


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get(name: str) -> Target:
    spec = _REGISTRY.get(name)
    if spec is None:
        raise UsageError(f"unknown target {name!r}", hint=f"use one of {', '.join(_REGISTRY)}")
    module, _, cls = spec.partition(":")
    target: Target = getattr(import_module(module), cls)()
    return target


def export(
    context: Context, name: str, *, force: bool = False, console: Console | None = None
) -> list[Path]:
    """Write the target's files; a hand-edited or foreign file is a conflict (exit 73)
    unless ``force``; a file the user took over and the target keeps is left alone."""
    from labship import generated

    target = get(name)
    _check_accepts(target, context)
    planned = target.plan(context)
    before = generated.write_all(planned, force=force)
    if console is not None:
        for path, state in before.items():
            if state == "user" and not force:
                console.say(f"using your own {path.name} as is (labship does not touch it)")
        for note in getattr(target, "notes", ()):  # what the target could not do as asked
            console.warn(note)
    after = getattr(target, "after_export", None)  # optional: files beside, next steps
    if after is not None:
        after(context, console)
    return [p.path for p in planned]


def _check_accepts(target: Target, context: Context) -> None:
    """Job names and switches only for a target that declares them (``accepts``)."""
    accepts: frozenset[str] = getattr(target, "accepts", frozenset())
    # a switch with a value ("serve=<folder>") is accepted by its name
    asked = {o.partition("=")[0] for o in context.options} | ({"jobs"} if context.jobs else set())
    extra = sorted(asked - accepts)
    if extra:
        what = ", ".join("job names" if e == "jobs" else f"--{e}" for e in extra)
        raise UsageError(f"'labship export {target.name}' takes no {what}")


def summary(name: str) -> str:
    """The target's one-line description (its class docstring's first line)."""
    doc = (type(get(name)).__doc__ or "").strip().replace("``", "")
    return doc.splitlines()[0] if doc else ""


def render(context: Context, name: str) -> dict[str, str]:
    """Path relative to the project -> full text, for callers that write the files
    themselves (``labship new`` writes them with the rest of a new project)."""
    root = context.project.root
    return {str(p.path.relative_to(root)): p.text for p in get(name).plan(context)}


def eject(context: Context, name: str) -> list[Path]:
    """Hand the target's files to the user: labship stops generating them."""
    from labship import generated

    return [generated.eject(p.path, p.text) for p in get(name).plan(context)]
