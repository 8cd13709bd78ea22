"""Shared fixtures: tiny real projects, an isolated environment store, the Docker gate.

Tests that need Docker are marked ``docker``. Without an engine they skip with the
reason; with ``LABSHIP_REQUIRE_DOCKER=1`` (CI) a missing engine fails them instead,
so nothing is skipped silently where it matters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# One store for the whole session: environments are content-addressed, so tests that
# lock the same packages share them, as users' projects do.
_SESSION_STORE = Path(os.environ.get("LABSHIP_TEST_STORE", "/tmp/labship-test-store"))
os.environ["LABSHIP_STORE"] = str(_SESSION_STORE)
os.environ.setdefault("LABSHIP_RUNTIME", "local")

REPO = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "projects"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("docker") for item in items):
        return
    from labship.tools.docker import engine_available

    reason = engine_available()
    if reason is None:
        return
    if os.environ.get("LABSHIP_REQUIRE_DOCKER") == "1":
        raise pytest.UsageError(f"LABSHIP_REQUIRE_DOCKER=1 but no Docker engine: {reason}")
    for item in items:
        if item.get_closest_marker("docker"):
            item.add_marker(pytest.mark.skip(reason=f"no Docker engine: {reason}"))


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
