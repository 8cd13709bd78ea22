"""labship init maps the container paths of adopted commands to project paths, using only
what the project's compose files and Dockerfiles say, and changes none of them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from scaffolding import files_under

from labship.project import read_settings
from labship.project.scaffold import init_project

MAIN = {"code/main.py": "print('main')\n"}


def adopt(root: Path, files: dict[str, str]) -> tuple[tuple[str, ...], str]:
    """Write the files, init the folder: the job's argv and every note, one per line."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    before = files_under(root)
    result = init_project(root, name="legacy", python="3.11")
    after = files_under(root)
    assert {rel: after[rel] for rel in before} == before  # nothing of the user's changed
    jobs = read_settings(root / "labship.toml").jobs
    assert list(jobs) == ["job"]
    return jobs["job"].argv, "\n".join(result.notes)


def prod(service: str) -> dict[str, str]:
    return {"docker-compose.prod.yml": "services:\n  job:\n" + textwrap.indent(service, "    ")}


@pytest.mark.parametrize(
    ("files", "argv", "said"),
    [
        pytest.param(
            {**MAIN, **prod("volumes: ['./code:/opt/job:ro']\ncommand: python /opt/job/main.py\n")},
            ("python", "code/main.py"),
            "/opt/job/main.py -> code/main.py (docker-compose.prod.yml volume ./code:/opt/job)",
            id="short-volume",
        ),
        pytest.param(
            {
                **MAIN,
                **prod(
                    "volumes:\n  - {type: bind, source: ./code, target: /code}\n"
                    "command: [python, /code/main.py]\n"
                ),
            },
            ("python", "code/main.py"),
            "(docker-compose.prod.yml volume ./code:/code)",
            id="long-volume",
        ),
        pytest.param(
            {
                **MAIN,
                "Dockerfile": "FROM python\nWORKDIR /app\nCOPY . /app\n",
                **prod("build: .\ncommand: python /app/code/main.py\n"),
            },
            ("python", "code/main.py"),
            "/app/code/main.py -> code/main.py (Dockerfile COPY . /app)",
            id="copy-all",
        ),
        pytest.param(
            {
                **MAIN,
                "docker/Dockerfile.prod": "FROM python\nWORKDIR /srv\nCOPY --chown=1:1 code ./c\n",
                **prod(
                    "build:\n  context: .\n  dockerfile: docker/Dockerfile.prod\n"
                    "command: python /srv/c/main.py\n"
                ),
            },
            ("python", "code/main.py"),
            "docker/Dockerfile.prod COPY --chown=1:1 code ./c",
            id="copy-relative-to-workdir",
        ),
        pytest.param(
            {
                **MAIN,
                "docker/Dockerfile-prod": 'FROM python\nADD ["code", "/job"]\nWORKDIR /job\n',
                **prod("image: legacy\ncommand: python main.py --config=/job/main.py\n"),
            },
            ("python", "code/main.py", "--config=code/main.py"),
            "main.py -> code/main.py (docker/Dockerfile-prod WORKDIR /job;",
            id="workdir-and-option",
        ),
        pytest.param(
            {**MAIN, "docker-compose.yml": "services:\n  lab:\n    volumes: [./code:/code]\n"}
            | prod("image: legacy\ncommand: /opt/conda/bin/python /code/main.py\n"),
            ("python", "code/main.py"),
            "/opt/conda/bin/python -> python (the image's interpreter",
            id="dev-mounts-and-interpreter",
        ),
        pytest.param(
            {
                **MAIN,
                "other/x.py": "",
                "code/sub/x.py": "",  # hidden by the mount on /w/sub
                **prod("volumes: [./code:/w, ./other:/w/sub]\ncommand: python /w/sub/x.py\n"),
            },
            ("python", "other/x.py"),
            "/w/sub/x.py -> other/x.py",
            id="most-specific-mount",
        ),
    ],
)
def test_container_paths_become_project_paths(
    tmp_path: Path, files: dict[str, str], argv: tuple[str, ...], said: str
) -> None:
    found, notes = adopt(tmp_path, files)
    assert found == argv
    assert said in notes
    assert "docker-compose.prod.yml is unchanged" in notes


@pytest.mark.parametrize(
    ("files", "left"),
    [
        pytest.param(
            {
                **MAIN,
                "Dockerfile": "FROM python AS build\nCOPY code /code\n"
                "FROM python\nCOPY --from=build /code /code\n",
                **prod("build: .\ncommand: python /code/main.py\n"),
            },
            "/code/main.py",
            id="another-stage-copied-it",
        ),
        *(
            pytest.param(
                {**MAIN, **prod(f"volumes: ['{volume}']\ncommand: python {left}\n")}, left, id=name
            )
            for volume, left, name in (
                ("code:/code", "/code/main.py", "named-volume"),
                ("../shared:/code", "/code/main.py", "outside-the-project"),
                ("./code:/code", "/code/$JOB.py", "a-variable"),
            )
        ),
    ],
)
def test_paths_the_project_does_not_explain_are_left_and_named(
    tmp_path: Path, files: dict[str, str], left: str
) -> None:
    argv, notes = adopt(tmp_path, files)
    assert argv == ("python", left)
    assert f"job 'job': {left}: no volume or COPY puts it in the project" in notes
    assert "is unchanged" not in notes


def test_a_relative_word_is_mapped_only_when_the_file_is_there(tmp_path: Path) -> None:
    files = prod("working_dir: /code\nvolumes: [./code:/code]\ncommand: python main.py gone.py\n")
    files["main.py"] = "print('not the job: it ran in /code')\n"
    argv, notes = adopt(tmp_path, {**MAIN, **files})
    assert argv == ("python", "code/main.py", "gone.py")
    assert "job 'job' ran in /code (code/ here); labship runs jobs from the project root" in notes


def test_a_command_without_container_paths_is_taken_as_it_is(tmp_path: Path) -> None:
    files = {"Dockerfile": "FROM python\nWORKDIR /app\nCOPY . /app\n"}
    files |= prod("build: .\ncommand: python code/main.py -v\n")
    argv, notes = adopt(tmp_path, {**MAIN, **files})
    assert argv == ("python", "code/main.py", "-v")
    assert "mapped" not in notes and "ran in" not in notes and "unchanged" not in notes
