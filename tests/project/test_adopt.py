"""labship init: what it takes over from a folder, and that it never changes a file."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from scaffolding import HOST_PYTHON, env_values, files_under, spec_dependencies

from conftest import labship
from labship.errors import ConfigError, ConflictError, UsageError
from labship.profiles import parse_env_file
from labship.project import read_settings
from labship.project.scaffold import init_project

CLASSIC = Path(__file__).resolve().parent.parent / "projects" / "classic"


@pytest.fixture
def classic(tmp_path: Path) -> Path:
    return Path(shutil.copytree(CLASSIC, tmp_path / "classic"))


def test_init_takes_over_the_classic_layout_and_keeps_every_file(classic: Path) -> None:
    before = files_under(classic)

    result = init_project(classic)

    after = files_under(classic)
    assert {k: after[k] for k in before} == before
    created = {p.relative_to(classic).as_posix() for p in result.created}
    assert created == {"labship.toml", ".env.example", ".gitignore", ".dockerignore"}
    assert set(after) == set(before) | created
    settings = read_settings(classic / "labship.toml")
    assert settings.name == "classic"
    # Container paths became project paths: they run from the project root locally and
    # from /app (where code/ is /app/code) in labship's image.
    assert {name: job.argv for name, job in settings.jobs.items()} == {
        "example": ("python", "code/example.py"),
        "report": ("python", "code/report.py", "--out", "data/report.txt"),
    }
    assert settings.lab_port == 8890
    assert settings.python == HOST_PYTHON  # environment.yml names no python
    assert settings.spec == "docker/environment.yml"
    # .env_dev is the only profile: JUPYTER_TOKEN, the lab's, is still not required.
    assert settings.required == ("RANDOM_SEED", "DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD")
    assert settings.secret == ("DB_PASSWORD", "JUPYTER_TOKEN")
    assert settings.image == "classic"
    example = env_values(classic / ".env.example")
    assert list(example) == [*settings.required, "JUPYTER_TOKEN"]
    assert set(example.values()) == {""}
    notes = "\n".join(result.notes)
    for said in (
        "job 'example'",
        "job 'report'",
        "lab port 8890",
        f"python {HOST_PYTHON}",
        "JUPYTER_TOKEN is for labship lab only",
        "docker/Dockerfile-dev starts Jupyter with a fixed token",
        "/code/example.py -> code/example.py (docker/Dockerfile-prod COPY ./code /code)",
        "/data/report.txt -> data/report.txt (docker-compose.prod.yml volume ./data:/data)",
        "report.py -> code/report.py (docker-compose.prod.yml working_dir /code;",
        "docker-compose.prod.yml is unchanged",
        "no .env_prod for labship run --profile prod: make it from .env.example: "
        "cp .env.example .env_prod && chmod 600 .env_prod, then set RANDOM_SEED, DB_HOST, "
        "DB_NAME, DB_USER, DB_PASSWORD in it",
    ):
        assert said in notes, said
    assert ".env_dev for" not in notes  # it exists


def test_init_python_option_wins_and_a_disagreement_is_said(classic: Path) -> None:
    spec = classic / "docker" / "environment.yml"
    spec.write_text(spec.read_text().replace("dependencies:\n", "dependencies:\n  - python=3.11\n"))
    result = init_project(classic, python="3.12", name="legacy")
    settings = read_settings(classic / "labship.toml")
    assert (settings.python, settings.name) == ("3.12", "legacy")
    assert "python 3.12 given, but docker/environment.yml says 3.11" in result.notes


def test_init_twice_is_a_conflict(classic: Path) -> None:
    init_project(classic)
    before = files_under(classic)
    with pytest.raises(ConflictError, match="already a labship project") as caught:
        init_project(classic)
    assert caught.value.exit_code == 73
    assert files_under(classic) == before


def test_init_names_a_malformed_compose_file_and_writes_nothing(classic: Path) -> None:
    (classic / "docker-compose.prod.yml").write_text(
        "services:\n  train:\n    command: [python, code/main.py\n    image: x\n"
    )
    before = files_under(classic)

    with pytest.raises(ConfigError) as caught:
        init_project(classic)

    message = str(caught.value)
    assert re.search(r"docker-compose\.prod\.yml:\d+: malformed YAML", message), message
    assert caught.value.exit_code == 78
    assert files_under(classic) == before


def test_init_rejects_a_compose_file_of_the_wrong_shape(classic: Path) -> None:
    (classic / "docker-compose.prod.yml").write_text("services:\n  - train\n")
    with pytest.raises(ConfigError, match=r"docker-compose\.prod\.yml: 'services' must be"):
        init_project(classic)
    assert not (classic / "labship.toml").exists()


def test_init_leaves_existing_ignore_files_alone_and_says_what_they_lack(
    classic: Path,
) -> None:
    (classic / ".gitignore").write_text(".env_dev\n__pycache__\n")
    (classic / ".env.example").write_text("# mine\nRANDOM_SEED=\n")

    result = init_project(classic)

    assert (classic / ".gitignore").read_text() == ".env_dev\n__pycache__\n"
    assert (classic / ".env.example").read_text() == "# mine\nRANDOM_SEED=\n"
    assert {classic / ".gitignore", classic / ".env.example"} <= set(result.kept)
    assert classic / ".gitignore" not in result.created
    advice = next(n for n in result.notes if n.startswith(".gitignore"))
    assert ".env_*" in advice and "data/*" in advice and "__pycache__" not in advice


@pytest.mark.parametrize(
    ("command", "argv"),
    [
        ("python -u code/x.py --fast", ["python", "-u", "code/x.py", "--fast"]),
        ("['python', 'code/a b.py']", ["python", "code/a b.py"]),
        ("\"python code/'quoted name'.py\"", ["python", "code/quoted name.py"]),
    ],
)
def test_init_job_commands_keep_their_argv(tmp_path: Path, command: str, argv: list[str]) -> None:
    (tmp_path / "docker-compose.prod.yml").write_text(
        f"services:\n  job:\n    image: x\n    command: {command}\n  db:\n    image: postgres\n"
    )
    init_project(tmp_path)
    jobs = read_settings(tmp_path / "labship.toml").jobs
    assert list(jobs) == ["job"]
    assert list(jobs["job"].argv) == argv


@pytest.mark.parametrize(
    ("ports", "port"),
    [
        ('["8888:8888"]', 8888),
        ('["127.0.0.1:8890:8888"]', 8890),
        ('["9000:9000", "8891:8888/tcp"]', 8891),
        ("[{target: 8888, published: '8892'}]", 8892),
        ('["8888"]', 8888),  # not published: the default stays
    ],
)
def test_init_lab_port_is_the_host_side(tmp_path: Path, ports: str, port: int) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        f"services:\n  lab:\n    command: jupyter lab\n    ports: {ports}\n"
    )
    init_project(tmp_path)
    assert read_settings(tmp_path / "labship.toml").lab_port == port


@pytest.mark.parametrize(
    ("token", "fixed"),
    [("mytoken", True), ("${JUPYTER_TOKEN}", False), ("$JUPYTER_TOKEN", False), ("''", False)],
)
def test_init_says_a_jupyter_token_is_fixed_only_when_it_is(
    tmp_path: Path, token: str, fixed: bool
) -> None:
    (tmp_path / "docker-compose.yml").write_text(
        "services:\n  jupyter:\n    command: jupyter lab --ip=0.0.0.0 "
        f"--NotebookApp.token={token}\n    ports: ['8888:8888']\n"
    )
    notes = "\n".join(init_project(tmp_path).notes)
    assert ("docker-compose.yml starts Jupyter with a fixed token" in notes) is fixed


def test_init_plain_folder_with_requirements(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("pandas==2.2.3\n")
    (tmp_path / "analysis.py").write_text("print('hi')\n")

    result = init_project(tmp_path, name="plain", python="3.12")

    settings = read_settings(tmp_path / "labship.toml")
    assert (settings.name, settings.python, settings.spec) == ("plain", "3.12", "requirements.txt")
    assert settings.jobs == {} and settings.required == () and settings.secret == ()
    assert (tmp_path / "requirements.txt").read_text() == "pandas==2.2.3\n"
    assert not (tmp_path / "docker").exists()
    assert not (tmp_path / ".env.example").exists()
    assert any("minimal labship.toml" in note for note in result.notes)


def test_init_empty_folder_gets_a_python_only_spec(tmp_path: Path) -> None:
    folder = tmp_path / "Sales Forecast"
    folder.mkdir()

    init_project(folder)

    settings = read_settings(folder / "labship.toml")
    assert settings.name == "sales-forecast" and settings.python == HOST_PYTHON
    spec = folder / "docker" / "environment.yml"
    assert spec_dependencies(spec) == [f"python={HOST_PYTHON}"]


def test_init_takes_the_keys_of_a_profile_the_portable_grammar_refuses(classic: Path) -> None:
    """Compose expands ${...}; labship refuses it. init still adopts, and says where."""
    prod = classic / ".env_prod"
    prod.write_text("RANDOM_SEED=1\nDB_HOST=h\nDB_URL=postgres://${DB_USER}@${DB_HOST}/x\n")
    before = files_under(classic)

    result = init_project(classic)

    settings = read_settings(classic / "labship.toml")
    assert "DB_URL" in env_values(classic / ".env.example")
    assert settings.required == ("RANDOM_SEED", "DB_HOST")  # DB_URL: .env_dev lacks it
    problem = next(n for n in result.notes if n.startswith(f"{prod}:3: "))
    assert "keys taken line by line" in problem and "postgres" not in problem
    after = files_under(classic)
    assert {k: after[k] for k in before} == before


def test_init_survives_a_profile_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / ".env_dev").write_bytes("NAME=caf\u00e9\nTOKEN=x\n".encode("latin-1"))

    result = init_project(tmp_path, name="plain")

    settings = read_settings(tmp_path / "labship.toml")
    assert settings.required == ("NAME", "TOKEN") and settings.secret == ("TOKEN",)
    assert any("is not UTF-8 text" in note for note in result.notes)


def test_init_names_the_project_after_the_conda_environment_when_the_folder_cannot(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "___"
    (folder / "docker").mkdir(parents=True)
    (folder / "docker" / "environment.yml").write_text(
        "name: churn\ndependencies:\n  - python=3.12\n"
    )

    result = init_project(folder)

    assert read_settings(folder / "labship.toml").name == "churn"
    assert "name 'churn' from docker/environment.yml" in result.notes
    assert not any("folder name" in note for note in result.notes)


@pytest.mark.parametrize("name", ["missing", "a" * 300])
def test_init_needs_an_existing_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError) as caught:
        init_project(tmp_path / name)
    assert caught.value.exit_code == 64
    assert list(tmp_path.iterdir()) == []


def test_cli_init_is_api_init(classic: Path, tmp_path: Path) -> None:
    proc = labship("init", "--no-lock", str(classic), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"{classic}: added 4 files, left 0 untouched" in proc.stderr
    assert "resolving" not in proc.stderr and not (classic / "pylock.toml").exists()
    assert read_settings(classic / "labship.toml").lab_port == 8890

    proc = labship("init", "a" * 300, cwd=tmp_path)
    assert proc.returncode == 64
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("labship: error: ") and "File name too long" in line


def test_env_files_init_writes_end_with_a_newline_when_the_profile_did_not(
    classic: Path,
) -> None:
    """.env_dev's last line has no newline; what init writes from it does, so a line
    appended to a copy of .env.example (as its note says to make .env_prod) stays a line."""
    assert not (classic / ".env_dev").read_bytes().endswith(b"\n")

    init_project(classic)

    example = (classic / ".env.example").read_text()
    assert example.endswith("=\n")
    prod = classic / ".env_prod"
    shutil.copy(classic / ".env.example", prod)
    with prod.open("a") as out:
        out.write("EXTRA=1\n")
    values = parse_env_file(prod)
    assert values["EXTRA"] == "1" and values["JUPYTER_TOKEN"] == ""


def test_cli_init_locks_so_unusable_pins_show_while_adopting(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "requirements.txt").write_text("six==1.16.0\n")
    proc = labship("init", "--python", HOST_PYTHON, str(good), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "updated: pylock.toml (1 packages)" in proc.stderr
    assert (good / "pylock.toml").is_file() and (good / "pylock.dev.toml").is_file()

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "requirements.txt").write_text("no-such-package-labship-test==1.0\n")
    proc = labship("init", "--python", HOST_PYTHON, str(bad), cwd=tmp_path)
    assert proc.returncode == 76, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[-2] == f"labship: {bad} is a labship project now, but its spec does not lock yet:"
    assert lines[-1].startswith("labship: error: requirements.txt: ")
    assert "no-such-package-labship-test" in lines[-1]
    assert (bad / "labship.toml").is_file() and not (bad / "pylock.toml").exists()


@pytest.mark.slow
@pytest.mark.docker
def test_an_adopted_job_runs_the_same_on_both_runtimes(tmp_path: Path) -> None:
    """``python /code/example.py`` (./code:/code) becomes ``python code/example.py``: the
    project root locally, /app in labship's image, where code/ is /app/code."""
    root = tmp_path / "legacy"
    (root / "code").mkdir(parents=True)
    (root / "code" / "example.py").write_text(
        "import os, six\n"
        "print(os.path.relpath(__file__), six.__version__, os.environ['GREETING'])\n"
    )
    (root / "requirements.txt").write_text("six==1.16.0\n")
    (root / "docker-compose.prod.yml").write_text(
        "services:\n  example:\n    image: legacy\n    env_file: [.env_prod]\n"
        "    volumes: ['./code:/code']\n    working_dir: /code\n"
        "    command: python /code/example.py\n"
    )
    (root / ".env_dev").write_text("GREETING=dev\n")
    (root / ".env_prod").write_text("GREETING=prod\n")
    labship("init", "--python", "3.11", cwd=root, check=True)
    assert read_settings(root / "labship.toml").jobs["example"].argv == (
        "python",
        "code/example.py",
    )
    env = {"LABSHIP_BASE_IMAGE": os.environ.get("LABSHIP_BASE_IMAGE", "local/python:3.11-slim")}

    outputs = {
        runtime: labship("run", "--profile", "prod", "--runtime", runtime, cwd=root, env=env)
        for runtime in ("local", "docker")
    }

    for runtime, proc in outputs.items():
        assert proc.returncode == 0, (runtime, proc.stderr)
        assert proc.stdout == "code/example.py 1.16.0 prod\n", runtime
