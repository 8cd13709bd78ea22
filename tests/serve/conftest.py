"""The heavy test environment (mlflow + scikit-learn), built once per requirements by
labship's uv and kept across runs (helpers.heavy_cache); the test models saved in it;
real servers."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import built_once, heavy_cache
from serve.serverfixtures import labship_serve, mlflow_serve, stop
from serve.trackingfixtures import Tracking, start_tracking

HEAVY_REQUIREMENTS = ("mlflow==3.17.2", "scikit-learn==1.9.1")
HEAVY_PYTHON = "3.11"
HERE = Path(__file__).resolve().parent


def _key() -> str:
    text = "\n".join(
        ["relocatable", HEAVY_PYTHON, *HEAVY_REQUIREMENTS, (HERE / "make_models.py").read_text()]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _build(folder: Path) -> None:
    from labship.tools.uv import uv_bin, uv_env

    env = uv_env()
    python = folder / "venv" / "bin" / "python"
    subprocess.run(
        [uv_bin(), "venv", "-q", "--relocatable", "--python", HEAVY_PYTHON, str(folder / "venv")],
        env=env,
        check=True,
    )
    subprocess.run(
        [uv_bin(), "pip", "install", "-q", "--python", str(python), *HEAVY_REQUIREMENTS],
        env=env,
        check=True,
    )
    subprocess.run([str(python), str(HERE / "make_models.py"), str(folder / "models")], check=True)


@pytest.fixture(scope="session")
def heavy() -> Path:
    """The folder: ``venv/`` (mlflow + scikit-learn) and ``models/`` (iris, tricky), built
    once in helpers.heavy_cache() (CI: ``LABSHIP_TEST_HEAVY_CACHE``)."""
    return built_once(heavy_cache() / f"mlflow-{_key()}", _build)


@pytest.fixture(scope="session")
def iris_labship(heavy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, proc = labship_serve(
        heavy / "models" / "iris", tmp_path_factory.mktemp("logs"), "--workers", "2"
    )
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def iris_mlflow(heavy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, proc = mlflow_serve(heavy, heavy / "models" / "iris", tmp_path_factory.mktemp("logs"), 2)
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def tracking(heavy: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracking]:
    """A real MLflow tracking server with the iris model logged (``runs:/<run_id>/model``)
    and registered (``models:/iris/1``, ``models:/iris@champion``)."""
    server = start_tracking(heavy, tmp_path_factory.mktemp("tracking"))
    yield server
    stop(server.proc)
