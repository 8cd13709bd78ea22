"""Shared fixtures: tiny real projects, an isolated environment store, the local package
index, the Docker gate (helpers.py holds the plain helpers).

Tests that need Docker are marked ``docker``. Without an engine (or its local base image)
they skip with the reason; with ``LABSHIP_REQUIRE_DOCKER=1`` (CI) they fail instead, so
nothing is skipped silently where it matters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import cache_root, docker_skip_reason, missing
from packageindex import PackageIndex
from packageindex import package_index as _package_index

# One store for the whole session (every worker's): environments are content-addressed,
# so tests that lock the same packages share them, as users' projects do. Never the
# user's own store: ``LABSHIP_TEST_STORE``, else ``store/`` in the tests' cache.
_SESSION_STORE = Path(os.environ.get("LABSHIP_TEST_STORE") or cache_root() / "store")
os.environ["LABSHIP_STORE"] = str(_SESSION_STORE)
os.environ.setdefault("LABSHIP_RUNTIME", "local")

REPO = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "projects"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """The ``docker`` marker: before any fixture builds anything for the test."""
    if item.get_closest_marker("docker"):
        reason = docker_skip_reason()
        if reason is not None:
            missing(reason)


# Under pytest-xdist (scripts/test: -n N --dist loadgroup) a module's tests run on one
# worker, so its module fixtures (a built image, a running lab, AIRFLOW_HOME, root's real
# crontab) are made once and never shared by two workers. Modules across which nothing
# is shared but the content-addressed store and uv's cache (both safe to share) then run
# in parallel. SPREAD: modules of many independent tests whose set-up per worker is cheap;
# their tests are dealt out one by one.
SPREAD = frozenset[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if module not in SPREAD and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(module))


@pytest.fixture(scope="session")
def package_index() -> PackageIndex:
    """The local package index (helpers' cache, made once): offline installs."""
    return _package_index()


def labship(
    *args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess, as a user runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "labship", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"labship {' '.join(args)} -> {proc.returncode}\n{proc.stderr}")
    return proc


MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """Write a small project: requirements, jobs, profiles, all overridable."""

    def make(
        name: str = "demo",
        *,
        requirements: str = "six==1.16.0\n",
        dev_packages: tuple[str, ...] = ("iniconfig==2.0.0",),
        jobs: dict[str, str] | None = None,
        env_dev: str = "GREETING=hello\nDB_PASSWORD=dev-secret-value-123\n",
        env_prod: str | None = "GREETING=prod-hello\nDB_PASSWORD=prod-secret-value-456\n",
        required: tuple[str, ...] = ("GREETING",),
        secret: tuple[str, ...] = ("DB_PASSWORD",),
        extra_toml: str = "",
    ) -> Path:
        root = tmp_path / name
        root.mkdir()
        (root / "code").mkdir()
        (root / "requirements.txt").write_text(requirements)
        jobs = jobs or {"hello": "python code/hello.py"}
        (root / "code" / "hello.py").write_text(
            textwrap.dedent(
                """\
                import os, sys
                import six
                print("six", six.__version__)
                print("greeting", os.environ.get("GREETING"))
                sys.exit(int(os.environ.get("EXIT_CODE", "0")))
                """
            )
        )
        job_tables = "".join(f'[jobs.{k}]\ncommand = "{v}"\n\n' for k, v in jobs.items())
        (root / "labship.toml").write_text(
            textwrap.dedent(
                f"""\
                [project]
                name = "{name}"
                python = "{sys.version_info.major}.{sys.version_info.minor}"
                spec = "requirements.txt"

                """
            )
            + job_tables
            + f"[lab]\npackages = {list(dev_packages)!r}\n\n".replace("'", '"')
            + f"[env]\nrequired = {list(required)!r}\nsecret = {list(secret)!r}\n".replace("'", '"')
            + extra_toml
        )
        (root / ".env_dev").write_text(env_dev)
        if env_prod is not None:
            (root / ".env_prod").write_text(env_prod)
        return root

    return make


@pytest.fixture
def locked_project(make_project: MakeProject) -> Iterator[Path]:
    root = make_project()
    labship("lock", cwd=root, check=True)
    yield root


@pytest.fixture(scope="session")
def conda_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local conda channel of real packages (see tests/condachannel.py), as a folder."""
    from condachannel import build_channel

    return build_channel(tmp_path_factory.mktemp("conda") / "channel")
