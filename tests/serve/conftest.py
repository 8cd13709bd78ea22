"""The heavy test environment (mlflow + scikit-learn), built once per requirements by
labship's uv and kept across runs; the test models saved in it; real servers."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from serve.serverfixtures import labship_serve, mlflow_serve, stop
from serve.trackingfixtures import Tracking, start_tracking

HEAVY_REQUIREMENTS = ("mlflow==3.17.2", "scikit-learn==1.9.1")
HEAVY_PYTHON = "3.11"
HERE = Path(__file__).resolve().parent
HEAVY_ROOT = Path(os.environ.get("LABSHIP_TEST_HEAVY", "/tmp/labship-test-heavy"))


def _key() -> str:
    text = "\n".join(
        ["relocatable", HEAVY_PYTHON, *HEAVY_REQUIREMENTS, (HERE / "make_models.py").read_text()]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.fixture(scope="session")
def heavy() -> Path:
    """The folder: ``venv/`` (mlflow + scikit-learn) and ``models/`` (iris, tricky).
    Built aside and renamed into place, so an interrupted build is never reused."""
    from labship.tools.uv import uv_bin, uv_env

    final = HEAVY_ROOT / _key()
    if (final / "models" / "tricky" / "MLmodel").is_file():
        return final
    tmp = HEAVY_ROOT / f".build-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    env = uv_env()
    python = tmp / "venv" / "bin" / "python"
    subprocess.run(
        [uv_bin(), "venv", "-q", "--relocatable", "--python", HEAVY_PYTHON, str(tmp / "venv")],
        env=env,
        check=True,
    )
    subprocess.run(
        [uv_bin(), "pip", "install", "-q", "--python", str(python), *HEAVY_REQUIREMENTS],
        env=env,
        check=True,
    )
    subprocess.run([str(python), str(HERE / "make_models.py"), str(tmp / "models")], check=True)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


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
