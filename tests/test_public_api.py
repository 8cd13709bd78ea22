"""The public surface is pinned: a change to it is a decision, not an accident."""

from __future__ import annotations

import subprocess
import sys

import labship

EXPECTED = {
    "__version__",
    "Console",
    "LabshipError",
    "Lock",
    "Profile",
    "Project",
    "Spec",
    "build",
    "env_report",
    "gc",
    "init",
    "init_project",
    "lab",
    "load_profile",
    "load_project",
    "lock",
    "new",
    "new_project",
    "read_lock",
    "read_spec",
    "run",
    "runs",
    "select_runtime",
    "shell",
    "stop",
    "tracking_uri",
}


def test_exported_names_are_pinned() -> None:
    assert set(labship.__all__) == EXPECTED


def test_every_exported_name_resolves() -> None:
    for name in labship.__all__:
        assert getattr(labship, name) is not None


def test_cli_import_stays_light() -> None:
    """`labship run` must start like `python`: the CLI must not pull heavy modules."""
    code = (
        "import sys, labship.cli; "
        "heavy = {'jinja2', 'yaml', 'packaging', 'urllib.request', 'labship.images.build'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
