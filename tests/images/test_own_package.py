"""The project's own package: editable on the local runtime, built into the prod image.

A pyproject.toml with a build backend makes the project a package (cookiecutter-data-
science's layout): its jobs import it (``from pkgdemo.config import ...``). The lock holds
it as a PEP 751 directory entry; the local environment installs it editable (the job sees
the project's own files), the prod image builds and installs it after the third-party
set (editable at /app, where it bakes in the code the jobs run). Real uv, real BuildKit,
real containers.
"""

from __future__ import annotations

import os
import textwrap
import tomllib
from pathlib import Path

import pytest

from conftest import labship
from dockerfixtures import LOCAL_BASE
from labship.images.bakedfiles import without_local


def _project(root: Path) -> Path:
    (root / "pkgdemo").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [build-system]
            requires = ["flit_core >=3.2,<4"]
            build-backend = "flit_core.buildapi"

            [project]
            name = "pkgdemo"
            version = "0.0.1"
            description = "a package"
            requires-python = "~=3.11.0"
            dependencies = ["six==1.16.0", "ruff"]
            """
        )
    )
    (root / "pkgdemo" / "__init__.py").write_text("")
    (root / "pkgdemo" / "config.py").write_text("GREETING = 'from the package'\n")
    (root / "pkgdemo" / "job.py").write_text(
        "import pkgdemo, six\n"
        "from pkgdemo.config import GREETING\n"
        "print(GREETING, six.__version__)\n"
        "print('installed at', pkgdemo.__file__)\n"
    )
    (root / "Makefile").write_text("run:\n\tpython pkgdemo/job.py\n")
    return root


def test_the_staged_lock_leaves_the_own_package_for_later() -> None:
    text = (
        'lock-version = "1.0"\n\n[[packages]]\nname = "six"\nversion = "1.16.0"\n'
        "\n# The project's own package: its folder, relative to this file (PEP 751). Installed\n"
        "# editable on the local runtime, built and installed into the prod image.\n"
        '[[packages]]\nname = "pkgdemo"\ndirectory = { path = ".", editable = true }\n'
    )
    kept = tomllib.loads(without_local(text))["packages"]
    assert [p["name"] for p in kept] == ["six"]
    assert "own package" not in without_local(text)


@pytest.mark.slow
@pytest.mark.docker
def test_own_package_editable_locally_and_installed_in_the_prod_image(tmp_path: Path) -> None:
    root = _project(tmp_path / "pkgdemo-project")
    env = {"LABSHIP_BASE_IMAGE": os.environ.get("LABSHIP_BASE_IMAGE", LOCAL_BASE)}
    labship("init", cwd=root, env=env, check=True)
    lock = tomllib.loads((root / "pylock.toml").read_text())
    assert {"name": "pkgdemo", "directory": {"path": ".", "editable": True}} in lock["packages"]
    assert "ruff" not in {p["name"] for p in lock["packages"]}  # a dev tool: the dev set's

    local = labship("run", "run", "--profile", "prod", "--runtime", "local", cwd=root, env=env)
    assert local.returncode == 0, local.stderr
    assert local.stdout.splitlines() == [
        "from the package 1.16.0",
        f"installed at {root / 'pkgdemo' / '__init__.py'}",  # editable: the project's file
    ]

    docker = labship("run", "run", "--profile", "prod", "--runtime", "docker", cwd=root, env=env)
    assert docker.returncode == 0, docker.stderr
    lines = docker.stdout.splitlines()
    assert lines[0] == "from the package 1.16.0"
    # built and installed into the image's environment, as an editable install of /app,
    # where the image bakes the code: __file__ is in the project there as it is locally
    assert lines[1] == "installed at /app/pkgdemo/__init__.py"
    dockerfile = (root / "docker" / "Dockerfile").read_text()
    assert "uv pip install --quiet --no-deps" in dockerfile
    assert "COPY --chown=10001:10001 pkgdemo/ /app/pkgdemo/" in dockerfile
