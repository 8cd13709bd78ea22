"""labship: from notebook to production, reproducibly.

The library is the product; the ``labship`` command is a thin skin over it::

    from labship import load_project, lock, run
    project = load_project("churn")
    lock(project, console=Console())
    outcome = run(project, "train", profile_name="prod", console=Console())

Names are imported on first use so that ``labship run`` starts as quickly as ``python``.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing itself is not imported for `labship --version`
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "build": "labship.api",
    "env_report": "labship.api",
    "gc": "labship.api",
    "init": "labship.api",
    "lab": "labship.api",
    "lock": "labship.api",
    "new": "labship.api",
    "run": "labship.api",
    "runs": "labship.api",
    "select_runtime": "labship.api",
    "shell": "labship.api",
    "stop": "labship.api",
    "tracking_uri": "labship.api",
    "Console": "labship.console",
    "LabshipError": "labship.errors",
    "Lock": "labship.lock",
    "read_lock": "labship.lock",
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
