"""The story: a years-old classic Docker + Conda project to its first production run.

tests/projects/classic is that project as people wrote it: docker-compose.yml and
docker-compose.prod.yml, docker/Dockerfile-dev and -prod (``COPY ./code /code``,
``WORKDIR /code``), a job run as ``python /code/example.py``, an environment.yml with
pins from 2018 and an unpinned jupyterlab but no python, a .env_dev whose last line has
no newline, and no .env_prod. It once took 14 actions to run its job in production; the
user's actions here are counted, and the target is at most four: init, one edit of the
pins labship's single report asks for, making .env_prod as init says, run.

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

# The pins of 2018 and what the user loosens them to, as labship's report suggests:
# versions with wheels for Python 3.11 on Linux (the old ones have none, and
# sqlalchemy 1.2.1, an sdist only, builds but cannot import on 3.11).
LOOSENED = {
    "pandas=0.22.0": "pandas=2.2.3",
    "scikit-learn=0.20.0": "scikit-learn=1.5.2",
    "sqlalchemy=1.2.1": "sqlalchemy=1.4.54",
    "pyodbc=4.0.23": "pyodbc=5.2.0",
}
PROD_VALUES = {
    "RANDOM_SEED": "7",
    "DB_HOST": "db.example.internal",
    "DB_NAME": "classic",
    "DB_USER": "classic",
    "DB_PASSWORD": "story-prod-password-not-real",
}


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("labship: error: ")]


@pytest.mark.slow
def test_classic_project_to_its_first_production_run(tmp_path: Path) -> None:
    root = Path(shutil.copytree(PROJECTS / "classic", tmp_path / "classic"))
    theirs = {
        rel: (root / rel).read_bytes()
        for rel in (
            "docker-compose.yml",
            "docker-compose.prod.yml",
            "docker/Dockerfile-dev",
            "docker/Dockerfile-prod",
            ".env_dev",
            "code/example.py",
        )
    }
    steps: list[str] = []

    # 1. labship init: adopt the folder; locking it reports the unusable pins.
    steps.append("labship init")
    init = labship("init", cwd=root)
    settings = load_project(root).settings
    assert settings.jobs["example"].argv == ("python", "code/example.py"), init.stderr
    assert "/code/example.py -> code/example.py" in init.stderr
    assert "cp .env.example .env_prod && chmod 600 .env_prod" in init.stderr
    assert init.returncode == 76, init.stderr
    # Every unusable pin in one report: a line per pin (sqlalchemy 1.2.1 builds, so it is
    # a warning that it may not run), and one summary line naming the three that cannot.
    report = [ln for ln in init.stderr.splitlines() if ": error: " in ln or ": warning: " in ln]
    for package in ("pandas==0.22.0", "scikit-learn==0.20.0", "sqlalchemy==1.2.1", "pyodbc"):
        assert sum(package in line for line in report) >= 1, report
    (summary,) = [ln for ln in _errors(init.stderr) if "pins cannot be installed" in ln]
    assert all(p in summary for p in ("pandas", "scikit-learn", "pyodbc")), summary

    # 2. One edit of the pins, as the report asks.
    steps.append("edit docker/environment.yml")
    spec = root / "docker" / "environment.yml"
    text = spec.read_text()
    for old, new in LOOSENED.items():
        text = text.replace(old, new)
    spec.write_text(text)

    # 3. .env_prod, made as init said: from .env.example, private, values filled in.
    steps.append("cp .env.example .env_prod, chmod 600, fill in")
    prod = root / ".env_prod"
    shutil.copy(root / ".env.example", prod)
    prod.chmod(0o600)
    lines = prod.read_text().splitlines()
    prod.write_text(
        "".join(
            f"{line}{PROD_VALUES.get(line.rstrip('='), '')}\n"
            if line.endswith("=")
            else f"{line}\n"
            for line in lines
        )
    )

    # 4. Run the job in production. Depends on seam 4bc10f8: run locks first when the
    # lock is missing (here: init's lock failed, so there is none).
    steps.append("labship run example --profile prod")
    run = labship("run", "example", "--profile", "prod", cwd=root)
    assert run.returncode == 0, run.stderr
    assert "running 'example' with PRODUCTION variables from .env_prod" in run.stderr
    assert run.stdout.splitlines() == [
        "db: classic@db.example.internal/classic",
        "pandas 2.2.3, sqlalchemy 1.4.54",
        "accuracy: 1.00 on 40 rows",
    ]
    assert PROD_VALUES["DB_PASSWORD"] not in run.stdout + run.stderr

    assert len(steps) <= 4, steps
    assert {rel: (root / rel).read_bytes() for rel in theirs} == theirs
    assert stat.S_IMODE(prod.stat().st_mode) == 0o600
    (record,) = json.loads(labship("runs", "--json", cwd=root, check=True).stdout)
    assert (record["job"], record["profile"], record["exit_code"]) == ("example", "prod", 0)
    lock = read_lock(load_project(root))
    assert lock.prod["pandas"] == "2.2.3"
    # Depends on "dev tools out of the prod set" (branch h-lock): the unpinned
    # jupyterlab in environment.yml is for the lab, not for production.
    assert "jupyterlab" not in lock.prod and "jupyterlab" in lock.dev
