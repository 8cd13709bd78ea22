"""The public surface is pinned: a change to it is a decision, not an accident."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import labship
from labship import api

# The verbs (labship.api) and the types and readers beside them. Pinned by hand: a change
# to this set is a decision, not an accident.
EXPECTED = {
    "__version__",
    "Console",
    "LabshipError",
    "Lock",
    "Profile",
    "Project",
    "RunOutcome",
    "Spec",
    "build",
    "build_serve",
    "current_lock",
    "doctor",
    "eject",
    "env_report",
    "export",
    "gc",
    "init",
    "init_project",
    "lab",
    "lab_running",
    "load_profile",
    "load_project",
    "lock",
    "model_folder",
    "new",
    "new_project",
    "profile",
    "push",
    "read_lock",
    "read_spec",
    "run",
    "run_image",
    "runs",
    "schedule",
    "schedule_event",
    "schedule_list",
    "select_runtime",
    "serve",
    "shell",
    "stop",
    "tracking_uri",
    "unschedule",
}

# In a fresh interpreter: import every submodule first (Python then sets each as an
# attribute of its parent), and only then the public names, each of which must be the
# function or class itself, not a module of the same name.
_AFTER_EVERY_SUBMODULE = """
import importlib, inspect, json, pkgutil, labship
for found in pkgutil.walk_packages(labship.__path__, "labship."):
    # serving.app runs inside a model's environment (httptools, the model's packages),
    # never in labship's own interpreter
    if found.name != "labship.__main__" and not found.name.startswith("labship.serving.app."):
        importlib.import_module(found.name)
out = {}
for name in labship.__all__:
    value = getattr(labship, name)
    exec(f"from labship import {name} as imported")
    same = imported is value
    kind = "str" if isinstance(value, str) else (
        "function" if inspect.isfunction(value) else "class" if inspect.isclass(value)
        else type(value).__name__)
    home = getattr(value, "__module__", "")
    out[name] = [kind, same, home]
print(json.dumps(out))
"""


def test_exported_names_are_pinned() -> None:
    assert set(labship.__all__) == EXPECTED
    assert labship.__all__ == ["__version__", *sorted(EXPECTED - {"__version__"})]


def test_every_public_function_of_the_api_is_exported() -> None:
    verbs = {
        name
        for name, value in vars(api).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == api.__name__
    }
    assert verbs <= set(labship.__all__), verbs - set(labship.__all__)


def test_each_public_name_is_the_thing_itself_after_every_submodule_is_imported() -> None:
    import json

    proc = subprocess.run(
        [sys.executable, "-c", _AFTER_EVERY_SUBMODULE], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    found: dict[str, list[object]] = json.loads(proc.stdout)
    assert set(found) == EXPECTED
    for name, (kind, same, home) in found.items():
        assert same, name
        if name == "__version__":
            assert kind == "str"
            continue
        assert kind in {"function", "class"}, f"labship.{name} is a {kind}"
        assert str(home).startswith("labship."), (name, home)
    assert found["lock"] == ["function", True, "labship.api"]
    assert found["serve"] == ["function", True, "labship.api"]
    assert found["doctor"] == ["function", True, "labship.api"]


def test_no_submodule_shares_a_public_name() -> None:
    """The cause of the old clash: a module ``labship.lock`` under a verb ``lock``."""
    import pkgutil

    modules = {found.name for found in pkgutil.iter_modules(labship.__path__)}
    assert modules & set(labship.__all__) == set()
    assert "locking" in modules  # the check sees the real package


def test_cli_import_stays_light() -> None:
    """`labship run` must start like `python`: the CLI must not pull heavy modules."""
    code = (
        "import sys, labship.cli; "
        "heavy = {'jinja2', 'yaml', 'packaging', 'urllib.request', 'labship.images.build'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_verb_that_talks_has_a_default_console(tmp_path: Path) -> None:
    # A library caller need not build a Console: none means the default one (stderr).
    talking = {
        name: inspect.signature(obj).parameters["console"]
        for name, obj in vars(api).items()
        if inspect.isfunction(obj)
        and obj.__module__ == api.__name__
        and not name.startswith("_")
        and "console" in inspect.signature(obj).parameters
    }
    assert {"lock", "run", "lab", "shell", "build", "gc", "serve"} <= set(talking)
    assert {name for name, p in talking.items() if p.default is not None} == set()
    assert labship.gc(dry_run=True, store_root=tmp_path / "store").removed == ()
