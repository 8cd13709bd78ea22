"""labship init on the layouts people bring: Dockerfiles of any name, Makefiles, compose
stacks, pyproject.toml, python-dotenv's .env. The rules are general; each test writes
the smallest folder that shows one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from labship.profiles import load_profile
from labship.project import read_settings
from labship.project.scaffold import init_project
from labship.project.scaffold.dockerfiles import find_dockerfiles, job_name, read_dockerfile
from labship.project.scaffold.makefile import make_jobs


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_dockerfiles_of_any_name_are_found(tmp_path: Path) -> None:
    names = ["Dockerfile", "train.Dockerfile", "Dockerfile.prod", "docker/Dockerfile-dev"]
    _write(tmp_path, {n: "FROM python:3.9\n" for n in [*names, "README.md", "docker/x.txt"]})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in find_dockerfiles(tmp_path)) == sorted(
        names
    )


@pytest.mark.parametrize(
    ("text", "python", "argv", "lab"),
    [
        ('FROM python:3.9-slim\nCMD ["python", "train.py"]\n', "3.9", ("python", "train.py"),
         False),
        ("FROM docker.io/library/python:3.10.4-bookworm\nCMD python -m pkg.train\n", "3.10",
         ("python", "-m", "pkg.train"), False),
        ('FROM python:3.12 AS base\nFROM base AS final\nENTRYPOINT ["python3"]\nCMD ["x.py"]\n',
         "3.12", ("python", "x.py"), False),
        ('FROM python:3.11\nCMD ["sh", "-c", "python train.py --fast"]\n', "3.11",
         ("python", "train.py", "--fast"), False),
        ('FROM python:3.11\nCMD ["jupyter", "lab", "--ip=0.0.0.0"]\n', "3.11", (), True),
        ('FROM python:3.11\nCMD ["python", "-c", "print(1)"]\n', "3.11", (), False),
        ('FROM continuumio/miniconda3\nCMD ["python", "train.py"]\n', None, ("python", "train.py"),
         False),
        ('FROM python:3.8 AS build\nFROM debian:12\nCMD ["python3", "t.py"]\n', None,
         ("python", "t.py"), False),
    ],
)  # fmt: skip
def test_a_dockerfile_gives_the_python_and_the_job(
    tmp_path: Path, text: str, python: str | None, argv: tuple[str, ...], lab: bool
) -> None:
    path = _write(tmp_path, {"Dockerfile": text}) / "Dockerfile"
    found = read_dockerfile(tmp_path, path)
    assert (found.python, found.argv, found.lab) == (python, argv, lab)


def test_a_dockerfiles_container_paths_become_project_paths(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "jobs/train.py": "",
            "train.Dockerfile": "FROM python:3.9-slim\nWORKDIR /srv\nCOPY jobs/ /srv/jobs/\n"
            'CMD ["python", "/srv/jobs/train.py"]\n',
        },
    )
    found = read_dockerfile(tmp_path, tmp_path / "train.Dockerfile")
    assert found.argv == ("python", "jobs/train.py")
    assert job_name(found) == "train"


def test_makefile_recipes_that_run_the_projects_python_become_jobs(tmp_path: Path) -> None:
    makefile = """\
PYTHON_INTERPRETER = python
PKG := mypkg

define HELP
import re, sys; \\
print(re)
endef

.PHONY: data train lint requirements help
requirements:
\t$(PYTHON_INTERPRETER) -m pip install -U pip
data: requirements
\t$(PYTHON_INTERPRETER) $(PKG)/dataset.py
train:
\t@echo training
\t${PYTHON_INTERPRETER} -m $(PKG).modeling.train --epochs 3
lint:
\truff check
help:
\t@$(PYTHON_INTERPRETER) -c "${HELP}" < $(MAKEFILE_LIST)
missing:
\tpython nothere.py
"""
    _write(
        tmp_path,
        {
            "Makefile": makefile,
            "mypkg/__init__.py": "",
            "mypkg/dataset.py": "",
            "mypkg/modeling/__init__.py": "",
            "mypkg/modeling/train.py": "",
        },
    )
    jobs = {j.target: j.argv for j in make_jobs(tmp_path, tmp_path / "Makefile")}
    assert jobs == {
        "data": ("python", "mypkg/dataset.py"),
        "train": ("python", "-m", "mypkg.modeling.train", "--epochs", "3"),
    }


STACK = """\
services:
  lab:
    build: .
    command: jupyter lab --ip=0.0.0.0
    ports: ["8890:8888"]
  app:
    build: {context: ., dockerfile: app.Dockerfile}
    environment:
      DATABASE_URL: postgresql://app:s3cret-pw@warehouse:5432/app
      TRACKING: http://tracker:5000
  warehouse:
    image: postgres:16
    ports: ["5432:5432"]
  tracker:
    image: ghcr.io/mlflow/mlflow:v2.16.2
    command: mlflow server --host 0.0.0.0
    ports: ["5000:5000"]
  queue:
    image: rabbitmq:3
"""


def test_compose_services_the_project_talks_to_are_named_not_run(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "docker-compose.yml": STACK,
            "app.Dockerfile": 'FROM python:3.11\nCMD ["python", "app.py"]\n',
            "app.py": "",
            "requirements.txt": "six\n",
        },
    )
    notes = init_project(tmp_path).notes
    said = "\n".join(notes)
    assert "s3cret-pw" not in said
    assert notes[0] == "app.Dockerfile + requirements.txt + docker-compose.yml recognised"
    assert "lab port 8890 from docker-compose.yml service lab" in said
    (warehouse,) = [n for n in notes if "service warehouse:" in n]
    assert "a database (postgres:16), not run by labship" in warehouse
    assert "postgresql://warehouse:5432 (DATABASE_URL in compose service app)" in warehouse
    (tracker,) = [n for n in notes if "service tracker:" in n]
    assert "an MLflow tracking server" in tracker and "[services] mlflow = true" in tracker
    assert "http://tracker:5000" in tracker
    assert any("service queue: a message queue (rabbitmq:3)" in n for n in notes)
    settings = read_settings(tmp_path / "labship.toml")
    assert settings.lab_port == 8890
    assert {n: j.argv for n, j in settings.jobs.items()} == {"app": ("python", "app.py")}


def test_a_tracking_servers_port_is_not_the_labs(tmp_path: Path) -> None:
    _write(tmp_path, {"docker-compose.yml": STACK.split("  app:")[0].replace("lab:", "web:")
                      .replace("command: jupyter lab --ip=0.0.0.0", "command: python web.py")
                      + STACK[STACK.index("  tracker:"):]})  # fmt: skip
    init_project(tmp_path)
    assert read_settings(tmp_path / "labship.toml").lab_port == 8888


def test_pyproject_gives_the_spec_the_python_and_the_dev_set(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": '[project]\nname = "x"\nrequires-python = "~=3.10.0"\n'
            'dependencies = ["six"]\n[project.optional-dependencies]\ndev = ["pytest"]\n',
            "Makefile": "run:\n\tpython x/run.py\n",
            "x/__init__.py": "",
            "x/run.py": "",
        },
    )
    result = init_project(tmp_path)
    settings = read_settings(tmp_path / "labship.toml")
    assert (settings.spec, settings.python) == ("pyproject.toml", "3.10")
    assert "python 3.10 from pyproject.toml" in result.notes
    assert settings.jobs["run"].argv == ("python", "x/run.py")


def test_dotenv_is_the_base_every_profile_reads(tmp_path: Path) -> None:
    _write(tmp_path, {".env": "SHARED=base\nBOTH=base\n", ".env_prod": "BOTH=prod\n"})
    result = init_project(tmp_path, name="dotenv", python="3.11")
    assert any(
        n.startswith(".env (python-dotenv's file): every profile reads it") for n in result.notes
    )
    profile = load_profile(tmp_path, "prod")
    assert profile.values == {"SHARED": "base", "BOTH": "prod"}
    dev = tmp_path / ".env_dev"
    assert stat.S_IMODE(dev.stat().st_mode) == 0o600
    assert load_profile(tmp_path, "dev").values["JUPYTER_TOKEN"]
    assert load_profile(tmp_path, "dev").values["SHARED"] == "base"


def test_an_env_dev_without_a_token_gets_one_line(tmp_path: Path) -> None:
    _write(tmp_path, {".env_dev": "A=1"})  # no newline at the end
    (tmp_path / ".env_dev").chmod(0o644)
    result = init_project(tmp_path, name="token", python="3.11")
    assert stat.S_IMODE((tmp_path / ".env_dev").stat().st_mode) == 0o600
    lines = (tmp_path / ".env_dev").read_text().splitlines()
    assert lines[0] == "A=1" and lines[1].startswith("JUPYTER_TOKEN=") and len(lines) == 2
    assert len(lines[1]) > len("JUPYTER_TOKEN=") + 32
    assert (
        ".env_dev had no JUPYTER_TOKEN: one random token line added for the lab, and its "
        "mode 644 is 600 now" in result.notes
    )
    assert lines[1].split("=", 1)[1] not in "\n".join(result.notes)


def test_a_service_built_from_a_subfolder_gives_its_job_and_python(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "docker-compose.yml": "services:\n  app:\n    build: ./app\n"
            "  cache:\n    image: redis:7\n",
            "app/Dockerfile": "FROM python:3.10-slim\nWORKDIR /srv\nCOPY . .\n"
            'CMD ["python", "train.py"]\n',
            "app/train.py": "",
            "app/requirements.txt": "six\n",
            ".python-version": "3.12.1\n",
        },
    )
    result = init_project(tmp_path)
    settings = read_settings(tmp_path / "labship.toml")
    assert settings.jobs["train"].argv == ("python", "app/train.py")
    assert settings.spec == "app/requirements.txt"  # the built folder's, none at the root
    assert settings.python == "3.12"  # .python-version comes before a Dockerfile's FROM
    assert "python 3.12 from .python-version" in result.notes
    assert any("service cache: a cache (redis:7), not run by labship" in n for n in result.notes)


def test_an_old_cookiecutter_layout_with_setup_py_is_a_package(tmp_path: Path) -> None:
    """cookiecutter-data-science v1: requirements.txt starts with '-e .', setup.py names
    the package 'src', the Makefile's data step runs src/data/make_dataset.py."""
    from labship.spec import read_spec
    from labship.spec.base import LocalPackage

    _write(
        tmp_path,
        {
            "requirements.txt": "# local package\n-e .\n\n# external requirements\nclick\n",
            "setup.py": "from setuptools import find_packages, setup\n\n"
            "setup(\n    name='src',\n    packages=find_packages(),\n)\n",
            "src/__init__.py": "",
            "src/data/make_dataset.py": "",
            "Makefile": "data: requirements\n\t$(PYTHON_INTERPRETER) src/data/make_dataset.py "
            "data/raw data/processed\n\nPYTHON_INTERPRETER = python3\n",
            "data/raw/.gitkeep": "",
            "data/processed/.gitkeep": "",
            "references/.gitkeep": "",
        },
    )
    result = init_project(tmp_path, name="v1", python="3.11")
    assert (
        result.notes[0]
        == "cookiecutter-data-science layout (requirements.txt, Makefile) recognised"
    )
    job = read_settings(tmp_path / "labship.toml").jobs["data"]
    assert job.argv == ("python", "src/data/make_dataset.py", "data/raw", "data/processed")
    spec = read_spec(tmp_path / "requirements.txt", root=tmp_path)
    assert spec.local_package == LocalPackage("src", ".") and spec.requirements == ("click",)
