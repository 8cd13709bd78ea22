"""What the quick commands import, read from ``python -X importtime``: module names only.

``labship run`` on a warm project is meant to cost little more than ``python``; most of
what it could cost is imports. These tests pin which labship modules the quick commands
may import, and which heavy standard-library and third-party modules they must not, so a
new top-level import on the way is caught here, by name. How long anything takes is the
benchmark's business (bench/bench_local.py, docs/benchmarks-local.md), never a test's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MakeProject, labship

# Everything `labship run` on the local runtime needs: the CLI, the project, its profile,
# the lock (read and checked for freshness), the runtime, the store, the child, the log.
RUN_MAY_IMPORT = frozenset(
    {
        "labship",
        "labship.api",
        "labship.atomicfile",
        "labship.cli",
        "labship.cli.args",
        "labship.console",
        "labship.dirs",
        "labship.errors",
        "labship.inputs",  # every file read: regular files only (standard library)
        "labship.locking",
        "labship.locking.files",
        "labship.masking",
        "labship.profiles",
        "labship.profiles.envfile",
        "labship.project",
        "labship.project.settings",
        "labship.runlog",
        "labship.runtimes",
        "labship.runtimes.base",
        "labship.runtimes.local",
        "labship.state",  # the owner of .labship/ (run log), where it exists
        "labship.store",
        "labship.tools",
        "labship.tools.git",
        "labship.tools.process",
        "labship.tools.procinfo",
    }
)

# Never on a quick path: other commands' parsers and modules, templates, YAML, the image
# engine, HTTP, and what shutil (zlib, bz2, lzma), platform or secrets would pull in.
NEVER = frozenset(
    {
        "labship.cli.completion",
        "labship.cli.schedule",
        "labship.cli.serve",
        "labship.cli.ship",
        "labship.cli.targets",
        "labship.envcheck",
        "labship.images",
        "labship.runtimes.docker",
        "labship.runtimes.lab",
        "labship.serving",
        "labship.spec",
        "labship.targets",
        "labship.templates",
        "labship.tools.uv",
        "asyncio",
        "bz2",
        "email",
        "http",
        "jinja2",
        "lzma",
        "platform",
        "secrets",
        "shutil",
        "urllib.request",
        "uuid",
        "yaml",
        "zlib",
    }
)


# -X importtime lists what import statements load, but not a module loaded by
# importlib.import_module (the runtime registry's way): sys.modules at exit adds those.
_PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('modules:', *sorted(sys.modules), file=sys.stderr))\n"
    "from labship.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def imported(*args: str, cwd: Path) -> set[str]:
    """The modules ``labship ARGS`` imports, by name, as ``-X importtime`` lists them."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE, *args],
        cwd=cwd,
        env={**os.environ, "LABSHIP_RUNTIME": "local"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    names = {
        line.rpartition("|")[2].strip()
        for line in lines
        if line.startswith("import time:") and "|" in line
    }
    assert "labship.cli" in names  # the output was read at all
    at_exit = [line.split()[1:] for line in lines if line.startswith("modules: ")]
    assert len(at_exit) == 1, proc.stderr
    return names | set(at_exit[0])


def _labship(names: set[str]) -> set[str]:
    return {name for name in names if name == "labship" or name.startswith("labship.")}


@pytest.fixture
def warm_project(make_project: MakeProject) -> Path:
    """A locked project whose environment is built: the next run is the warm path."""
    root = make_project()
    labship("run", "hello", "--runtime", "local", cwd=root, check=True)
    return root


def test_run_imports_only_what_a_run_needs(warm_project: Path) -> None:
    names = imported("run", "hello", "--runtime", "local", cwd=warm_project)
    assert _labship(names) - RUN_MAY_IMPORT == set()
    assert {n for n in names if n in NEVER} == set()
    # the run did run: the job and the log are on the path
    assert {"labship.runtimes.local", "labship.runlog", "labship.locking"} <= names


def test_version_and_runs_import_neither_lock_nor_runtime(warm_project: Path) -> None:
    version = imported("--version", cwd=warm_project)
    assert _labship(version) <= {
        "labship",
        "labship.cli",
        "labship.cli.args",
        "labship.console",
        "labship.errors",
        "labship.masking",
    }
    runs = imported("runs", cwd=warm_project)
    assert _labship(runs) & {"labship.locking", "labship.store", "labship.runtimes"} == set()
    assert not any(n.startswith("labship.runtimes.") for n in runs)
    assert {n for n in version | runs if n in NEVER} == set()
    assert {"tomllib", "hashlib", "typing", "pathlib", "dataclasses"} & version == set()


def test_every_command_parses_alone_as_in_the_whole_parser() -> None:
    """Only the named command's parser is built: each must equal its twin in the whole
    parser (flags, defaults, choices), or ``labship CMD`` would accept other input than
    ``labship --help`` documents."""
    from labship.cli import _GROUPS, build_parser, command_in

    def shape(parser: object, name: str) -> list[tuple[object, ...]]:
        sub = next(a for a in parser._actions if a.dest == "command")  # type: ignore[attr-defined]
        p = sub.choices[name]
        return [
            (a.dest, tuple(a.option_strings), a.nargs, a.default, a.choices, a.help)
            for a in p._actions
        ]

    whole = build_parser()
    assert set(_GROUPS) == set(next(a for a in whole._actions if a.dest == "command").choices)
    for name in _GROUPS:
        alone = build_parser(name)
        assert set(next(a for a in alone._actions if a.dest == "command").choices) == {name}
        assert shape(alone, name) == shape(whole, name), name
    assert command_in(["-C", "x", "-v", "run", "job"]) == "run"
    assert command_in(["-Cx", "-q", "lock", "--check"]) == "lock"
    assert command_in(["--version"]) == ""
    assert command_in(["-h"]) is command_in(["rnu"]) is command_in([]) is None
