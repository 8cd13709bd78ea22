"""labship push and labship run --image: where an image goes (fast tests), and real pushes
to and pulls from a real registry on loopback (``docker`` marker)."""

from __future__ import annotations

import json
import secrets
import shlex
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import labship
from dockerfixtures import LOCAL_BASE, docker_skip_reason, write_project
from labship import pushes
from labship.actions.push import destination
from labship.console import Console
from labship.errors import ConfigError, UsageError
from labship.images import build as image_build
from labship.images import container
from labship.images import tags as image_tags
from labship.locking import Lock, read_lock
from labship.project import Project, load_project
from labship.tools import docker as dockertool
from labship.tools.registry import Registry
from registryfixtures import Running, add_user, free_port, serve_auth_registry, serve_registry

PASSWORD = "push-pass-5b0e7d1c"
ECHO = ["python", "-c", "import sys; print('args:', sys.argv[1:])", "a b", "it's"]


# ---------------------------------------------------------------- fast


def _project(tmp_path: Path, docker_toml: str = "") -> Project:
    return write_project(tmp_path / "demo", name="churn", extra_toml=docker_toml)


def test_destination_from_settings_flag_or_image_name(tmp_path: Path) -> None:
    plain = _project(tmp_path)
    assert destination(plain, "127.0.0.1:5000/team/churn") == "127.0.0.1:5000/team/churn"
    with pytest.raises(UsageError, match="no registry to push to"):
        destination(plain)
    configured = write_project(tmp_path / "b", extra_toml='registry = "r.example.com/team/"\n')
    assert destination(configured) == "r.example.com/team/demo"
    own = write_project(tmp_path / "c", extra_toml='image = "r.example.com:5000/ml/churn"\n')
    assert destination(own) == "r.example.com:5000/ml/churn"  # the image name says where
    both = write_project(
        tmp_path / "d", extra_toml='image = "old.example.com/churn"\nregistry = "new.example.com"\n'
    )
    assert destination(both) == "new.example.com/churn"  # [docker] registry wins


@pytest.mark.parametrize(
    ("to", "message"),
    [
        ("team/churn", "names no registry host"),
        ("127.0.0.1:5000/Churn", "is not an image reference"),
        ("127.0.0.1:5000/churn:1.0", "is not an image reference"),  # tags are labship's
        ("127.0.0.1:5000/churn;rm -rf /", "is not an image reference"),
    ],
)
def test_a_bad_to_is_a_usage_error(tmp_path: Path, to: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        destination(_project(tmp_path), to)


def test_a_bad_registry_setting_names_labship_toml(tmp_path: Path) -> None:
    project = _project(tmp_path, 'registry = "not a registry"\n')
    with pytest.raises(ConfigError, match=r"labship\.toml: \[docker\] registry"):
        destination(project)


def _lock(project: Project) -> Lock:
    (project.root / "pylock.toml").write_text("lock-version = '1.0'\n")
    return Lock(
        root=project.root,
        python="3.11",
        prod_path=project.root / "pylock.toml",
        dev_path=project.root / "pylock.dev.toml",
        prod_hash="a" * 64,
        dev_hash="b" * 64,
        meta={"variables": {"OMP_NUM_THREADS": "1"}},
    )


def test_the_prod_image_carries_its_jobs_and_a_new_job_rebuilds_it(tmp_path: Path) -> None:
    project = _project(tmp_path)
    lock = _lock(project)
    labels = image_tags.labels(project, lock, "prod")
    assert json.loads(labels[container.JOBS_LABEL]) == {"hello": ["python", "code/hello.py"]}
    env = json.loads(labels[container.ENV_LABEL])
    assert env == {"required": [], "secret": [], "defaults": {"OMP_NUM_THREADS": "1"}}
    assert container.JOBS_LABEL not in image_tags.labels(project, lock, "dev")
    before = image_build.context_digest(project, lock, "prod", uid=None, gid=None)
    with (project.root / "labship.toml").open("a") as fh:
        fh.write('[jobs.score]\ncommand = "python code/hello.py --score"\n')
    changed = load_project(project.root)
    assert image_build.context_digest(changed, lock, "prod", uid=None, gid=None) != before


# ---------------------------------------------------------------- real registry


@dataclass
class Shipped:
    root: Path
    name: str
    registry: Running
    repo: str  # where labship.toml says the prod image goes
    seconds: dict[str, float]


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = labship(*args, cwd=cwd, env={"LABSHIP_BASE_IMAGE": LOCAL_BASE, **(env or {})})
    return proc.returncode, proc.stdout, proc.stderr


def _one_line(stderr: str) -> str:
    """The one error line (progress lines may come before it); never a traceback."""
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("labship: error: ")]
    assert len(errors) == 1 and all(line.startswith("labship: ") for line in lines), stderr
    return errors[0]


def _local_refs(name: str) -> list[str]:
    """Every local repo:tag of this test's images, whatever registry is in front."""
    argv = ["images", "--filter", f"label=org.labship.project={name}"]
    out = dockertool.docker([*argv, "--format", "{{.Repository}}:{{.Tag}}"], console=None).stdout
    return sorted(out.split())


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shipped]:
    """A locked, committed project whose labship.toml names a real loopback registry."""
    reason = docker_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    from labship.locking import lock

    base = tmp_path_factory.mktemp("push")
    name = f"labship-test-push-{secrets.token_hex(3)}"
    with serve_registry(base / "registry") as running:
        root = base / name
        project = write_project(root, name=name, extra_toml=f'registry = "{running.host}/t"\n')
        with (root / "labship.toml").open("a") as fh:
            fh.write(f"[jobs.echo]\ncommand = {json.dumps(ECHO)}\n")
            fh.write('[env]\nrequired = ["GREETING"]\nsecret = ["DB_PASSWORD"]\n')
        (root / "code" / "hello.py").write_text(
            "import os, sys, six\n"
            "print('six', six.__version__)\n"
            "print('greeting', os.environ.get('GREETING'))\n"
            "sys.exit(int(os.environ.get('EXIT_CODE', '0')))\n"
        )
        (root / ".env_prod").write_text("GREETING=prod-hello\nDB_PASSWORD=prod-secret-31f\n")
        (root / "requirements.txt").write_text("six==1.16.0\n")
        lock(load_project(root), console=Console(quiet=True))
        git = ["git", "-C", str(root), "-c", "user.email=t@t", "-c", "user.name=t"]
        (root / ".gitignore").write_text(".env*\n.labship/\n")
        subprocess.run([*git, "init", "-q"], check=True)
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run([*git, "commit", "-qm", "init"], check=True)
        result = Shipped(root, name, running, f"{running.host}/t/{project.name}", {})
        yield result
        print(f"\nlabship push timings: {result.seconds}")  # seen with pytest -s
        ids = dockertool.docker(
            ["images", "-q", "--filter", f"label=org.labship.project={name}"], console=None
        ).stdout.split()
        if ids:
            dockertool.docker(["rmi", "-f", *sorted(set(ids))], console=None, check=False)


@pytest.mark.docker
def test_push_builds_tags_records_and_says_how_to_run_it(shipped: Shipped) -> None:
    started = time.monotonic()
    code, out, err = _cli("push", cwd=shipped.root)
    shipped.seconds["first push (build + upload)"] = time.monotonic() - started
    assert code == 0, err
    project = load_project(shipped.root)
    record = pushes.last_pushed(project)
    assert record is not None and record.uploaded and record.image == shipped.repo
    assert out.splitlines()[0].startswith(f"pushed {record.ref} in ")
    lock = read_lock(project)
    expected = [t.rpartition(":")[2] for t in image_tags.tags(project, lock, "prod")]
    assert list(record.tags) == expected and len(expected) == 3  # version, commit, lock
    assert record.lock_hash == lock.prod_hash
    head = subprocess.run(
        ["git", "-C", str(shipped.root), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    assert record.git_commit == head.stdout.strip()
    client = Registry(shipped.registry.host)
    path = shipped.repo.partition("/")[2]
    assert {client.digest(path, tag) for tag in record.tags} == {record.digest}
    for argv in (["python", "code/hello.py"], ECHO):
        line = shlex.join(["docker", "run", "--rm", "--env-file", ".env_prod", record.ref, *argv])
        assert line in out
    assert f"labship run --image {record.ref} hello --profile prod" in out
    labels = dockertool.inspect_image(record.ref)["Config"]["Labels"]  # type: ignore[index]
    assert json.loads(labels[container.JOBS_LABEL])["echo"] == ECHO


@pytest.mark.docker
def test_the_second_push_asks_the_registry_and_uploads_nothing(shipped: Shipped) -> None:
    uploads = shipped.registry.requests("POST", "/blobs/uploads/")
    cancelled = shipped.registry.requests("DELETE", "/blobs/uploads/")
    blobs = shipped.registry.requests("PUT", "/blobs/uploads/")
    manifests = shipped.registry.requests("PUT", "/manifests/")
    before = pushes.read(load_project(shipped.root).state_dir)
    started = time.monotonic()
    code, out, err = _cli("push", cwd=shipped.root)
    shipped.seconds["second push (skipped)"] = time.monotonic() - started
    assert code == 0, err
    assert out.startswith(f"already there: {before[-1].ref} (nothing uploaded")
    # The check opens one upload session and cancels it; no blob, no manifest is sent.
    assert shipped.registry.requests("POST", "/blobs/uploads/") == uploads + 1
    assert shipped.registry.requests("DELETE", "/blobs/uploads/") == cancelled + 1
    assert shipped.registry.requests("PUT", "/blobs/uploads/") == blobs
    assert shipped.registry.requests("PUT", "/manifests/") == manifests
    after = pushes.read(load_project(shipped.root).state_dir)
    assert len(after) == len(before) + 1
    assert after[-1].digest == before[-1].digest and after[-1].uploaded is False


@pytest.mark.docker
@pytest.mark.parametrize(
    ("to", "code", "message"),
    [
        ("127.0.0.1:{free}/t/x", 69, "does not answer (connection refused)"),
        ("nosuch.invalid/t/x", 69, "'nosuch.invalid' is unknown (DNS lookup failed)"),
        ("t/x", 64, "names no registry host"),
    ],
)
def test_a_registry_down_or_unknown_is_one_line_and_changes_nothing(
    shipped: Shipped, to: str, code: int, message: str
) -> None:
    state = shipped.root / ".labship" / pushes.LOG_NAME
    log_before = state.read_text() if state.exists() else ""
    refs_before = _local_refs(shipped.name)
    got, out, err = _cli("push", "--to", to.format(free=free_port()), cwd=shipped.root)
    assert got == code and message in _one_line(err) and out == ""
    assert (state.read_text() if state.exists() else "") == log_before
    assert _local_refs(shipped.name) == refs_before


@pytest.mark.docker
def test_a_push_that_fails_midway_puts_the_tags_back(shipped: Shipped, tmp_path: Path) -> None:
    """The registry passes labship's check (it opens an upload session), then fails the
    upload itself (its disk, a 1 MiB tmpfs, is full): the registry-named tags labship set
    for the push are removed again, and nothing is recorded."""
    log = shipped.root / ".labship" / pushes.LOG_NAME
    log_before, refs_before = log.read_text(), _local_refs(shipped.name)
    disk = tmp_path / "small"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small disk (needs root): {mounted.stderr!r}")
    try:
        with serve_registry(disk / "registry") as running:
            code, out, err = _cli("push", "--to", f"{running.host}/t/x", cwd=shipped.root)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    assert code == 70 and "docker push" in _one_line(err) and out == ""
    assert not any(ref.startswith(running.host) for ref in refs_before)
    assert _local_refs(shipped.name) == refs_before
    assert log.read_text() == log_before


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[Running]:
    with serve_auth_registry(tmp_path / "registry", "tester", PASSWORD) as running:
        yield running


def _docker_login(host: str, config: Path, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [dockertool.binary(), "login", "-u", "tester", "--password-stdin", host],
        input=password,
        env={"DOCKER_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.docker
def test_a_registry_behind_a_login(
    shipped: Shipped, auth_registry: Running, tmp_path: Path
) -> None:
    config = tmp_path / "docker-config"
    config.mkdir()
    env = {"DOCKER_CONFIG": str(config)}
    to = f"{auth_registry.host}/team/{shipped.name}"
    log = shipped.root / ".labship" / pushes.LOG_NAME
    log_before, refs_before = log.read_text(), _local_refs(shipped.name)
    code, out, err = _cli("push", "--to", to, cwd=shipped.root, env=env)
    line = _one_line(err)
    assert code == 67 and "needs a login" in line and f"docker login {auth_registry.host}" in line
    assert log.read_text() == log_before and _local_refs(shipped.name) == refs_before
    assert _docker_login(auth_registry.host, config, PASSWORD).returncode == 0
    code, out, err = _cli("push", "--to", to, cwd=shipped.root, env=env)
    assert code == 0, err
    assert out.startswith(f"pushed {to}@sha256:")
    assert PASSWORD not in out + err
    for path in (shipped.root / ".labship").rglob("*"):
        assert not path.is_file() or PASSWORD not in path.read_text(errors="replace"), path
    # a login the registry no longer accepts: one line again, nothing recorded
    (auth_registry.log.parent / "htpasswd").write_text("")
    add_user(auth_registry.log.parent / "htpasswd", "tester", "changed-" + PASSWORD)
    time.sleep(1.1)  # distribution re-reads htpasswd when its mtime changes
    log_before = log.read_text()
    code, out, err = _cli("push", "--to", to, cwd=shipped.root, env=env)
    assert code == 67 and "refused docker's login" in _one_line(err)
    assert log.read_text() == log_before and PASSWORD not in err


@pytest.mark.docker
def test_run_the_pushed_image_by_digest_without_the_project(
    shipped: Shipped, tmp_path: Path
) -> None:
    record = pushes.last_pushed(load_project(shipped.root), shipped.repo)
    assert record is not None
    dockertool.docker(["rmi", "-f", *_local_refs(shipped.name)], console=None)
    assert dockertool.inspect_image(record.ref) is None  # really gone: it must be pulled
    elsewhere = tmp_path / "server"
    elsewhere.mkdir()
    (elsewhere / ".env_prod").write_text("GREETING=far-away\nDB_PASSWORD=x\nEXIT_CODE=3\n")
    started = time.monotonic()
    code, out, err = _cli("run", "--image", record.ref, "hello", "--profile", "prod", cwd=elsewhere)
    shipped.seconds["pull + run by digest"] = time.monotonic() - started
    assert code == 3, err
    assert "six 1.16.0" in out and "greeting far-away" in out
    assert f"pulling {record.ref}" in err and "PRODUCTION variables" in err
    assert dockertool.inspect_image(record.ref) is not None
    code, out, err = _cli("run", "--image", record.ref, "echo", "-p", "prod", cwd=elsewhere)
    assert code == 0 and "args: ['a b', \"it's\"]" in out, err


@pytest.mark.docker
def test_image_mode_bad_input_is_one_line_each(shipped: Shipped, tmp_path: Path) -> None:
    record = pushes.last_pushed(load_project(shipped.root), shipped.repo)
    assert record is not None
    (tmp_path / ".env_prod").write_text("GREETING=x\n")
    cases = [
        (["run", "--image", record.ref, "nope", "-p", "prod"], 64, "unknown job 'nope' in image"),
        (["run", "--image", record.ref, "-p", "prod"], 64, "several jobs (echo, hello)"),
        (["run", "--image", record.ref, "hello", "-p", "dev"], 64, "unknown profile 'dev'"),
        (
            ["run", "--image", f"{shipped.repo.rpartition('/')[0]}/never@sha256:{'0' * 64}"],
            64,
            "is neither on this machine nor in registry",
        ),
        (["run", "--image", "Not A Ref"], 64, "is not an image reference"),
        (["run", "--image", record.ref, "hello", "--runtime", "local"], 64, "runs on docker"),
    ]
    for args, code, message in cases:
        got, _, err = _cli(*args, cwd=tmp_path)
        assert got == code and message in _one_line(err), (args, err)
    (tmp_path / ".env_prod").write_text("DB_PASSWORD=x\n")  # GREETING is required (label)
    got, _, err = _cli("run", "--image", record.ref, "hello", "-p", "prod", cwd=tmp_path)
    assert got == 65 and "missing required variable GREETING" in _one_line(err)
