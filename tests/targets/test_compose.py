"""Compose files: rendering (fast) and real runs with docker-compose (``docker``)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from labship import api, targets
from labship.console import Console
from labship.errors import ConfigError, ConflictError, ProfileError
from labship.generated import state as file_state
from labship.images.tags import stable_tags as image_names
from labship.locking import Lock
from labship.profiles import parse_env_file, parse_env_text
from labship.project import Project, load_project
from labship.targets.base import Context
from labship.targets.compose import DEV_FILE, ENV_FILE_DIFFERENCES, PROD_FILE


def render_compose(project: Project) -> dict[str, str]:
    return targets.render(Context(project), "compose")


def export_compose(project: Project, *, force: bool = False) -> list[Path]:
    return api.export(project, "compose", force=force, console=Console(quiet=True))


LOCAL_BASE = "local/python:3.11-slim"
SECRET = "prod-secret-value-456"
JOBS: dict[str, list[str]] = {
    "dump": ["python", "-c", "import json, os, sys; json.dump(dict(os.environ), sys.stdout)"],
    "fail": ["python", "-c", "import sys; sys.exit(3)"],
    "price": ["sh", "-c", "echo cost: $1", "sh", "$5"],
}
# The common ground of labship's grammar and docker-compose 1.29's: quotes, blanks, '#'.
ENV_PROD = f"""\
# a comment
GREETING="hello \\"world\\" # not a comment"
SPACED=  a b   # trailing comment
HASHY=a#b
MULTI="line1\\nline2\\ttab"
QUOTED_HASH="x # y"
SINGLE='it is $HASHY #1'
WINPATH=C:\\temp\\new
SQ_PATH='C:\\data $HOME $$'
ESCAPES="a\\\\b\\rc"
EMPTY=
DB_PASSWORD={SECRET}
"""


def _write_project(root: Path, name: str = "composedemo") -> Project:
    (root / "code").mkdir(parents=True)
    (root / "requirements.txt").write_text("six==1.16.0\n")
    jobs = "".join(f"[jobs.{k}]\ncommand = {json.dumps(v)}\n" for k, v in JOBS.items())
    (root / "labship.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.2.0"\npython = "3.11"\n'
        f'spec = "requirements.txt"\n{jobs}[lab]\nport = 8899\npackages = []\n'
        '[env]\nsecret = ["DB_PASSWORD"]\n'
    )
    (root / ".env_prod").write_text(ENV_PROD)
    (root / ".env_dev").write_text(f"JUPYTER_TOKEN=tok\nDB_PASSWORD={SECRET}-dev\n")
    return load_project(root)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return _write_project(tmp_path / "composedemo")


def _load(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


# ---------------------------------------------------------------- render


def test_dev_file_is_the_lab_on_loopback(project: Project) -> None:
    text = render_compose(project)[DEV_FILE]
    data = _load(text)
    assert "version" not in data
    (name,) = data["services"]
    lab = data["services"][name]
    assert name == "lab"
    assert lab["image"] == "composedemo:dev"
    assert lab["build"]["target"] == "dev" and lab["build"]["dockerfile"] == "docker/Dockerfile"
    assert lab["ports"] == ["127.0.0.1:${LAB_PORT:-8899}:8888"]
    assert lab["volumes"] == ["./code:/app/code", "./data:/app/data", "./notebooks:/app/notebooks"]
    assert lab["env_file"] == ".env_dev"
    assert lab["user"] == "${HOST_UID:-1000}:${HOST_GID:-1000}"
    assert lab["command"][:2] == ["jupyter", "lab"]
    assert "--ServerApp.root_dir=/app" in lab["command"]


def _with_mlflow(project: Project, services: str) -> Project:
    toml = project.config_path
    toml.write_text(toml.read_text() + f"[services]\n{services}\n")
    return load_project(project.root)


def test_mlflow_service_beside_the_lab(project: Project) -> None:
    project = _with_mlflow(project, "mlflow = true\nmlflow_port = 5055")
    data = _load(render_compose(project)[DEV_FILE])
    lab, mlflow = data["services"]["lab"], data["services"]["mlflow"]
    assert mlflow["image"] == lab["image"] == "composedemo:dev"  # MLflow from the dev set
    assert mlflow["build"] == lab["build"]
    assert mlflow["ports"] == ["127.0.0.1:${MLFLOW_PORT:-5055}:5000"]  # this machine only
    assert mlflow["user"] == "${HOST_UID:-1000}:${HOST_GID:-1000}"  # the host user, not root
    assert mlflow["volumes"] == ["./.labship/mlflow:/mlflow"]  # inside the project
    jobs = "${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}"  # no job runner unless asked
    assert mlflow["environment"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == jobs
    command = mlflow["command"]
    assert command[:2] == ["mlflow", "server"]
    assert "sqlite:////mlflow/mlflow.db" in command and "/mlflow/artifacts" in command
    assert "mlflow:5000" in command[command.index("--allowed-hosts") + 1].split(",")
    assert lab["depends_on"] == ["mlflow"]
    # The lab's URI is a default inside the container: .env_dev's own one wins.
    assert lab["command"][:2] == ["sh", "-c"] and "$${MLFLOW_TRACKING_URI:-" in lab["command"][2]
    assert lab["command"][4:6] == ["jupyter", "lab"]
    assert "MLFLOW_TRACKING_URI" not in lab["environment"]


def test_without_mlflow_there_is_no_service(project: Project) -> None:
    data = _load(render_compose(_with_mlflow(project, "mlflow = false"))[DEV_FILE])
    assert list(data["services"]) == ["lab"]


@pytest.mark.parametrize("own", [None, "http://team-server:5000"])
def test_compose_reads_the_mlflow_service(project: Project, own: str | None) -> None:
    """docker-compose itself parses it, and the lab's command gives the profile's URI
    precedence, as sh runs it in the container."""
    compose = _compose_command()
    if compose is None:
        pytest.skip("neither 'docker compose' nor 'docker-compose' is installed")
    project = _with_mlflow(project, "mlflow = true")
    export_compose(project)
    config = subprocess.run(
        [*compose, "-f", DEV_FILE, "config"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env={**os.environ, "HOST_UID": "1234", "HOST_GID": "1234"},
    )
    assert config.returncode == 0, config.stderr
    services = _load(config.stdout)["services"]
    assert services["mlflow"]["user"] == "1234:1234"
    assert "127.0.0.1" in json.dumps(services["mlflow"]["ports"])
    command = [arg.replace("$$", "$") for arg in services["lab"]["command"]]  # as compose runs it
    environ = {"PATH": os.environ["PATH"], **({"MLFLOW_TRACKING_URI": own} if own else {})}
    shown = subprocess.run(
        [*command[:4], "sh", "-c", 'echo "$MLFLOW_TRACKING_URI"'],
        capture_output=True,
        text=True,
        env=environ,
        check=True,
    )
    assert shown.stdout.strip() == (own or "http://mlflow:5000")


def test_prod_file_has_every_job(project: Project) -> None:
    data = _load(render_compose(project)[PROD_FILE])
    assert "version" not in data
    services = data["services"]
    assert set(services) == set(JOBS)
    for name, argv in JOBS.items():
        service = services[name]
        assert service["image"] == "composedemo:1.2.0"
        assert service["build"]["target"] == "prod"
        assert service["env_file"] == ".env_prod"
        assert service["restart"] == "no"
        assert service["environment"]["LABSHIP_JOB"] == name
        # compose interpolates '$' in the file: each one is doubled to stay literal.
        assert service["command"] == [a.replace("$", "$$") for a in argv]


def test_a_jobs_stop_timeout_is_its_stop_grace_period(project: Project) -> None:
    first, *others = project.settings.jobs
    jobs = dict(project.settings.jobs)
    jobs[first] = dataclasses.replace(jobs[first], stop_timeout=45)
    slow = dataclasses.replace(project, settings=dataclasses.replace(project.settings, jobs=jobs))
    services = _load(render_compose(slow)[PROD_FILE])["services"]
    assert services[first]["stop_grace_period"] == "45s"
    assert all("stop_grace_period" not in services[name] for name in others)  # compose's 10 s


def test_no_values_in_the_files(project: Project) -> None:
    for text in render_compose(project).values():
        assert SECRET not in text
        assert "GREETING" not in text and "hello" not in text


def test_dev_and_prod_images_are_tags_labship_sets(project: Project) -> None:
    from labship.images import tags as image_tags

    lock = Lock(
        root=project.root,
        python="3.11",
        prod_path=project.lock_path,
        dev_path=project.dev_lock_path,
        prod_hash="a" * 64,
        dev_hash="b" * 64,
        meta={},
    )
    dev, prod = image_names(project)
    assert dev != prod
    assert dev in image_tags.tags(project, lock, "dev")
    assert prod in image_tags.tags(project, lock, "prod")


def test_jobs_that_would_share_a_service_name_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / "labship.toml").write_text(
        '[project]\nname = "p"\n[jobs."a b"]\ncommand = "true"\n[jobs.a-b]\ncommand = "true"\n'
    )
    with pytest.raises(ConfigError, match="compose service 'a-b'"):
        render_compose(load_project(root))


def test_export_writes_both_and_detects_hand_edits(project: Project) -> None:
    paths = export_compose(project)
    assert [p.name for p in paths] == [DEV_FILE, PROD_FILE]
    assert all(file_state(p) == "generated" for p in paths)
    first = paths[1].read_text()
    assert first.startswith("# Generated by labship")
    assert export_compose(project) == paths  # idempotent
    paths[1].write_text(first.replace('restart: "no"', 'restart: "always"', 1))
    assert file_state(paths[1]) == "edited"
    dev_before = paths[0].read_text()
    with pytest.raises(ConflictError, match="edited by hand") as info:
        export_compose(project)
    assert info.value.exit_code == 73
    assert 'restart: "always"' in paths[1].read_text()
    assert paths[0].read_text() == dev_before
    export_compose(project, force=True)
    assert paths[1].read_text() == first


def test_export_never_replaces_a_file_labship_did_not_write(project: Project) -> None:
    own = project.root / DEV_FILE
    own.write_text("services:\n  mine:\n    image: x\n")
    assert file_state(own) == "user"
    with pytest.raises(ConflictError, match="not written by labship"):
        export_compose(project)
    assert own.read_text().startswith("services:\n  mine")
    assert not (project.root / PROD_FILE).exists()


def test_difference_table_matches_labships_parser() -> None:
    for line, labship_value, _ in ENV_FILE_DIFFERENCES:
        text = f"A=va\nE=\n{line}\n"
        if labship_value == "ProfileError":
            with pytest.raises(ProfileError):
                parse_env_text(text, source="t")
        else:
            assert parse_env_text(text, source="t")["B"] == labship_value, line


# ---------------------------------------------------------------- real engine


@dataclass(frozen=True)
class Built:
    project: Project
    lock: Lock
    compose: list[str]


def _compose_command() -> list[str] | None:
    """Compose v2 where present, else Debian's docker-compose 1.29."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """A tiny project whose prod image labship built, with its compose files."""
    from labship.locking import lock
    from labship.runtimes.docker import DockerRuntime
    from labship.tools.docker import docker, engine_available

    reason = engine_available()
    if (
        reason is None
        and docker(["image", "inspect", LOCAL_BASE], console=None, check=False).returncode
    ):
        reason = f"base image {LOCAL_BASE} missing (run scripts/engine-up.sh)"
    compose = _compose_command()
    if reason is None and compose is None:
        reason = "neither 'docker compose' nor 'docker-compose' is installed"
    if reason is not None or compose is None:
        pytest.skip(f"no Docker engine: {reason}")
    os.environ.setdefault("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    project = _write_project(tmp_path_factory.mktemp("compose") / "composedemo")
    result = lock(project, console=Console(quiet=True))
    DockerRuntime().prepare(project, result.lock, dev=False, console=Console(quiet=True))
    export_compose(project)
    yield Built(project, result.lock, compose)
    subprocess.run(
        [*compose, "-f", PROD_FILE, "down", "--remove-orphans"],
        cwd=project.root,
        capture_output=True,
        check=False,
    )


def _compose_run(built: Built, job: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*built.compose, "-f", PROD_FILE, "run", "--rm", "-T", job],
        cwd=built.project.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )


def _labship_run(built: Built, job: str) -> subprocess.CompletedProcess[str]:
    script = (
        "import sys\nfrom pathlib import Path\n"
        "from labship.console import Console\n"
        "from labship.locking import read_lock\n"
        "from labship.profiles import load_profile\n"
        "from labship.project import load_project\n"
        "from labship.runtimes.docker import DockerRuntime\n"
        f"p = load_project(Path({str(built.project.root)!r}))\n"
        "prof = load_profile(p.root, 'prod', secret=p.settings.secret)\n"
        f"sys.exit((rt := DockerRuntime()).run(p, rt.prepare(p, read_lock(p), dev=False, "
        f"console=Console(quiet=True)), p.job({job!r}), prof, "
        "console=Console(quiet=True)).exit_code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.docker
def test_compose_run_returns_the_job_exit_code(built: Built) -> None:
    proc = _compose_run(built, "fail")
    assert proc.returncode == 3, proc.stderr


@pytest.mark.docker
def test_compose_keeps_dollars_in_commands_literal(built: Built) -> None:
    proc = _compose_run(built, "price")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "cost: $5"


@pytest.mark.docker
def test_same_values_via_compose_labship_and_the_parser(built: Built) -> None:
    expected = parse_env_file(built.project.root / ".env_prod")
    via_compose = _compose_run(built, "dump", LEAKY_VAR="1")
    assert via_compose.returncode == 0, via_compose.stderr
    via_labship = _labship_run(built, "dump")
    assert via_labship.returncode == 0, via_labship.stderr
    compose_env = json.loads(via_compose.stdout)
    labship_env = json.loads(via_labship.stdout)
    assert {k: compose_env.get(k) for k in expected} == expected
    assert {k: labship_env.get(k) for k in expected} == expected
    assert "LEAKY_VAR" not in compose_env
    for env in (compose_env, labship_env):
        assert env["LABSHIP_PROFILE"] == "prod" and env["LABSHIP_JOB"] == "dump"


@pytest.mark.docker
def test_compose_129_env_file_differences_are_as_documented(built: Built) -> None:
    """Each row of ENV_FILE_DIFFERENCES, read by the real compose."""
    if "docker-compose" not in Path(built.compose[0]).name:
        pytest.skip("the table describes docker-compose 1.29; this is Compose v2")
    env_file = built.project.root / ".env_prod"
    original = env_file.read_text()
    lines = ["A=va", "E="]
    for i, (line, _, _) in enumerate(ENV_FILE_DIFFERENCES):
        lines.append(f"B{i}{line[1:]}")
    lines.append("L=${U:-d}")
    try:
        env_file.write_text("\n".join(lines) + "\n")
        proc = _compose_run(built, "dump", U="from-shell")
    finally:
        env_file.write_text(original)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    for i, (line, _, compose_value) in enumerate(ENV_FILE_DIFFERENCES):
        assert seen.get(f"B{i}") == compose_value, line
    assert seen["L"] == "from-shell"  # 1.29 reads the caller's shell; labship refuses it
    with pytest.raises(ProfileError):
        parse_env_text("L=${U:-d}\n", source="t")
