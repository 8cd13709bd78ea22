"""The story: a Dockerfile + requirements.txt project whose compose file runs a stack.

tests/projects/tracked is such a project as people write it: ``train.Dockerfile``
(``FROM python:3.9-slim``, ``CMD ["python", "train.py"]``), a requirements.txt and a
requirements-dev.txt, python-dotenv's ``.env`` holding the stack's passwords, and a
docker-compose.yml that runs the trainer beside an MLflow tracking server on port 5000,
PostgreSQL and MinIO. It once took 15 actions: init called it a classic Docker + Conda
layout, took the tracking server's port for JupyterLab's, made no job and took no Python
version. Here the user's actions are counted from ``init`` to a production run, with no
edit of the spec and no ``skip_imports``.

Everything goes through the real CLI and real uv installs, on the local runtime.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from conftest import PROJECTS, labship
from labship.locking import read_lock
from labship.project import load_project

SECRETS = ("story-db-password-not-real", "story-minio-secret-not-real")


@pytest.mark.slow
def test_dockerfile_requirements_compose_project_to_a_production_run(tmp_path: Path) -> None:
    root = Path(shutil.copytree(PROJECTS / "tracked", tmp_path / "tracked"))
    theirs = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    steps: list[str] = []

    steps.append("labship init")
    init = labship("init", cwd=root)
    assert init.returncode == 0, init.stderr
    said = init.stderr
    assert "train.Dockerfile + requirements.txt + docker-compose.yml recognised" in said
    assert "classic" not in said
    assert "python 3.9 from train.Dockerfile" in said
    assert "job 'train' from train.Dockerfile CMD/ENTRYPOINT: python train.py" in said
    # Each service the code talks to: what it is, that labship does not run it, the
    # address the code uses (never the password inside it), and what to do instead.
    for service, kind, address in (
        ("mlflow", "an MLflow tracking server", "http://mlflow:5000"),
        ("db", "a database (postgres:15)", "postgresql://db:5432"),
        ("minio", "an object store", "http://minio:9000"),
    ):
        (line,) = [ln for ln in said.splitlines() if f"service {service}: " in ln]
        assert kind in line and "not run by labship" in line and address in line, line
    assert "[services] mlflow = true" in said
    assert not any(secret in init.stdout + said for secret in SECRETS)
    settings = load_project(root).settings
    assert settings.python == "3.9" and settings.spec == "requirements.txt"
    assert settings.lab_port == 8888  # the tracking server's 5000 is not JupyterLab's
    assert {n: j.argv for n, j in settings.jobs.items()} == {"train": ("python", "train.py")}
    assert settings.dev_packages == ("jupyterlab", "pytest", "ruff")
    dev = root / ".env_dev"
    assert stat.S_IMODE(dev.stat().st_mode) == 0o600
    assert dev.read_text().count("JUPYTER_TOKEN=") == 1

    steps.append("labship run train --profile prod")
    run = labship("run", "train", "--profile", "prod", cwd=root)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("accuracy: 0.")
    # .env is the base every profile reads: the job sees the stack's keys, masked in output.
    assert "stores: aws key set" in run.stdout
    assert not any(secret in run.stdout + run.stderr for secret in SECRETS)
    assert (root / "models" / "churn.joblib").is_file()

    assert len(steps) <= 2, steps
    assert {p: p.read_bytes() for p in theirs} == theirs  # their files, unchanged
    lock = read_lock(load_project(root))
    assert lock.python == "3.9"
    assert "scikit-learn" in lock.prod and "pytest" not in lock.prod and "pytest" in lock.dev
    (record,) = json.loads(labship("runs", "--json", cwd=root, check=True).stdout)
    assert (record["job"], record["profile"], record["exit_code"]) == ("train", "prod", 0)
