"""labship: from notebook to production, reproducibly.

The library is the product; the ``labship`` command is a thin skin over it::

    from labship import Console, load_project, lock, run
    project = load_project("churn")
    lock(project, console=Console())
    outcome = run(project, "train", profile_name="prod", console=Console())

Names are imported on first use so that ``labship run`` starts as quickly as ``python``.
Every verb of ``labship.api`` is here under its own name, and no submodule shares a
public name (the verbs ``lock``, ``serve`` and ``doctor`` live over the packages
``locking``, ``serving`` and ``diagnosis``): importing ``labship.locking.x`` sets
``labship.locking``, never ``labship.lock`` (``tests/test_public_api.py``).
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing itself is not imported for `labship --version`
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "build": "labship.api",
    "build_serve": "labship.api",
    "current_lock": "labship.api",
    "doctor": "labship.api",
    "eject": "labship.api",
    "env_report": "labship.api",
    "export": "labship.api",
    "gc": "labship.api",
    "init": "labship.api",
    "lab": "labship.api",
    "lab_running": "labship.api",
    "lock": "labship.api",
    "model_folder": "labship.api",
    "new": "labship.api",
    "profile": "labship.api",
    "push": "labship.api",
    "run": "labship.api",
    "run_image": "labship.api",
    "runs": "labship.api",
    "schedule": "labship.api",
    "schedule_event": "labship.api",
    "schedule_list": "labship.api",
    "select_runtime": "labship.api",
    "serve": "labship.api",
    "shell": "labship.api",
    "stop": "labship.api",
    "tracking_uri": "labship.api",
    "unschedule": "labship.api",
    "RunOutcome": "labship.api",
    "Console": "labship.console",
    "LabshipError": "labship.errors",
    "Lock": "labship.locking",
    "read_lock": "labship.locking",
    "Profile": "labship.profiles",
    "load_profile": "labship.profiles",
    "Project": "labship.project",
    "load_project": "labship.project",
    "init_project": "labship.project.scaffold",
    "new_project": "labship.project.scaffold",
    "Spec": "labship.spec",
    "read_spec": "labship.spec",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'labship' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
