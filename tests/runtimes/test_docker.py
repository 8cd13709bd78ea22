"""The docker runtime: what reaches a container (fast tests) and real runs (``docker``)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import labship
from labship.console import Console
from labship.errors import PortInUse, ProfileError
from labship.locking import Lock
from labship.profiles import Profile, parse_env_file
from labship.project import Project, load_project
from labship.runtimes.docker import (
    DockerRuntime,
    container_environment,
    container_name,
    split_environment,
)
from labship.runtimes.lab import LAB_STATE, ensure_port_free

LOCAL_BASE = "local/python:3.11-slim"
TOKEN = "tok-" + "5f1c2b9a7e" * 3
# Values that an env-file round trip or a command line would get wrong.
ENV_PROD = """\
GREETING="hello \\"world\\" # not a comment"
SPACED=  a b   # trailing comment
HASHY=a#b
MULTI="line1\\nline2"
LITERAL='single $GREETING'
EMPTY=
DB_PASSWORD=prod-secret-value-456
"""


def _profile(values: dict[str, str], name: str = "prod") -> Profile:
    return Profile(name=name, path=Path(f".env_{name}"), values=values)


# ---------------------------------------------------------------- fast


def test_container_gets_profile_and_extras_not_the_host_base() -> None:
    env = container_environment(
        _profile({"A": "1", "TZ": "UTC"}), {"LABSHIP_JOB": "j", "LABSHIP_PROFILE": "prod"}
    )
    # PATH/HOME/LANG... of the host stay on the host; TZ is the profile's own.
    assert env == {"A": "1", "TZ": "UTC", "LABSHIP_JOB": "j", "LABSHIP_PROFILE": "prod"}


def test_profile_path_keeps_the_venv_first() -> None:
    env = container_environment(_profile({"PATH": "/x/bin"}), {})
    assert env["PATH"] == "/opt/venv/bin:/x/bin"


def test_values_go_through_the_client_environment_not_argv() -> None:
    env = split_environment({"A": 'q"#\n', "B": ""}, caller={"HOME": "/root"})
    assert env.names() == ["A", "B"]
    assert env.client_env == {"HOME": "/root", "A": 'q"#\n', "B": ""}
    assert not env.via_file


def test_keys_the_docker_client_reads_go_through_a_private_file() -> None:
    caller = {"DOCKER_HOST": "unix:///var/run/docker.sock", "PATH": "/usr/bin"}
    env = split_environment({"DOCKER_HOST": "tcp://db:2375", "PATH": "/usr/bin"}, caller)
    assert env.via_file == {"DOCKER_HOST": "tcp://db:2375"}
    assert env.client_env["DOCKER_HOST"] == "unix:///var/run/docker.sock"
    assert env.names() == ["PATH"]
    with pytest.raises(ProfileError, match="DOCKER_CONFIG"):
        split_environment({"DOCKER_CONFIG": "a\nb"}, caller)


def test_container_names_are_readable_and_unique(tmp_path: Path) -> None:
    project = _write_project(tmp_path / "p", lab_packages=[])
    a, b = container_name(project, "train/v2"), container_name(project, "train/v2")
    assert a.startswith("labship-demo-train-v2-") and a != b


def test_port_in_use_is_named_with_the_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port}.*--port") as info:
            ensure_port_free(port)
    assert info.value.exit_code == 75
    ensure_port_free(port)  # free again


# ---------------------------------------------------------------- real engine

JOBS = {
    "dump": ["python", "-c", "import json, os, sys; json.dump(dict(os.environ), sys.stdout)"],
    "fail": ["python", "-c", "import sys; sys.exit(3)"],
    "term": ["sh", "-c", "trap 'echo got TERM; exit 143' TERM; echo started; sleep 60 & wait"],
    "stdin": ["python", "-c", "import sys; print(sys.stdin.read().upper())"],
    "stubborn": [
        "sh",
        "-c",
        "trap 'echo ignoring TERM' TERM; echo started; while :; do sleep 0.1; done",
    ],
}
STOP_TIMEOUTS = {"stubborn": 2}


def _write_project(root: Path, *, lab_packages: list[str], name: str = "demo") -> Project:
    (root / "code").mkdir(parents=True)
    (root / "requirements.txt").write_text("six==1.16.0\n")
    jobs = "".join(
        f"[jobs.{k}]\ncommand = {json.dumps(v)}\n"
        + (f"stop_timeout = {STOP_TIMEOUTS[k]}\n" if k in STOP_TIMEOUTS else "")
        for k, v in JOBS.items()
    )
    (root / "labship.toml").write_text(
        f'[project]\nname = "{name}"\npython = "3.11"\nspec = "requirements.txt"\n'
        f"{jobs}[lab]\nport = 18890\npackages = {json.dumps(lab_packages)}\n"
        '[env]\nsecret = ["DB_PASSWORD"]\n'
    )
    (root / ".env_prod").write_text(ENV_PROD)
    (root / ".env_dev").write_text(f"JUPYTER_TOKEN={TOKEN}\nGREETING=dev\n")
    return load_project(root)


@dataclass(frozen=True)
class Locked:
    project: Project
    lock: Lock


def _skip_reason() -> str | None:
    from labship.tools.docker import docker, engine_available

    reason = engine_available()
    if reason is None:
        found = docker(["image", "inspect", LOCAL_BASE], console=None, check=False)
        if found.returncode != 0:
            reason = f"base image {LOCAL_BASE} missing (run scripts/engine-up.sh)"
    return reason


@pytest.fixture(scope="session")
def docker_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Locked]:
    """One locked project for every real test: six for jobs, jupyterlab for the lab."""
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(f"no Docker engine: {reason}")
    from labship.locking import lock

    os.environ.setdefault("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    project = _write_project(
        tmp_path_factory.mktemp("docker") / "demo", lab_packages=["jupyterlab"]
    )
    result = lock(project, console=Console(quiet=True))
    yield Locked(project, result.lock)


def _run_script(locked: Locked, job: str) -> str:
    """A tiny driver: DockerRuntime.run in its own process, as the CLI would call it."""
    return (
        "import sys\n"
        "from labship.console import Console\n"
        "from labship.locking import read_lock\n"
        "from labship.profiles import load_profile\n"
        "from labship.project import load_project\n"
        "from labship.runtimes.docker import DockerRuntime\nfrom pathlib import Path\n"
        f"p = load_project(Path({str(locked.project.root)!r}))\n"
        "prof = load_profile(p.root, 'prod', secret=p.settings.secret)\n"
        f"sys.exit((rt := DockerRuntime()).run(p, rt.prepare(p, read_lock(p), dev=False, "
        f"console=Console(quiet=True)), p.job({job!r}), prof, "
        "console=Console(quiet=True)).exit_code)\n"
    )


def _containers(project: Project) -> list[str]:
    out = subprocess.run(
        [
            *("docker", "ps", "-a", "--format", "{{.Names}}"),
            *("--filter", f"label=org.labship.root={project.root}"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def _run(
    locked: Locked, job: str, *, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _run_script(locked, job)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        input=input,
    )


@pytest.mark.docker
def test_run_passes_exactly_the_profile(docker_project: Locked) -> None:
    proc = _run(docker_project, "dump", env={**os.environ, "LEAKY_VAR": "1"})
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    expected = parse_env_file(docker_project.project.root / ".env_prod")
    assert {k: seen.get(k) for k in expected} == expected
    assert seen["LABSHIP_JOB"] == "dump" and seen["LABSHIP_PROFILE"] == "prod"
    assert "LEAKY_VAR" not in seen
    assert seen["HOME"] == "/app" and seen["PATH"].startswith("/opt/venv/bin")
    assert _containers(docker_project.project) == []


@pytest.mark.docker
def test_run_returns_the_job_exit_code_and_removes_the_container(
    docker_project: Locked,
) -> None:
    proc = _run(docker_project, "fail")
    assert proc.returncode == 3, proc.stderr
    assert _containers(docker_project.project) == []


@pytest.mark.docker
def test_run_gives_piped_stdin_to_the_job(docker_project: Locked) -> None:
    proc = _run(docker_project, "stdin", input="piped data\n")
    assert proc.returncode == 0, proc.stderr
    assert "PIPED DATA" in proc.stdout


def _start_job(project: Project, job: str) -> tuple[subprocess.Popen[str], str]:
    """``labship run JOB`` on the docker runtime, once its container exists."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "labship", "run", job, "--profile", "prod", "--runtime", "docker"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    names: list[str] = []
    deadline = time.monotonic() + 120
    while not names and time.monotonic() < deadline and proc.poll() is None:
        names = _containers(project)
        time.sleep(0.2)
    if not names:
        proc.kill()
        raise AssertionError(proc.communicate()[1])
    return proc, names[0]


def _inspect(name: str, template: str) -> str:
    found = subprocess.run(
        ["docker", "inspect", "--format", template, name],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def _terminate(proc: subprocess.Popen[str]) -> tuple[str, str, float]:
    """SIGTERM to ``labship run`` once the job's trap is in place: (stdout, stderr, the
    seconds it took to end)."""
    try:
        time.sleep(1.0)  # let the trap be installed
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        return out, err, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.docker
def test_sigterm_reaches_the_job_and_no_container_is_left(docker_project: Locked) -> None:
    project = docker_project.project
    proc, name = _start_job(project, "term")
    found = json.loads(_inspect(name, "{{json .Config.Labels}}"))
    out, err, _ = _terminate(proc)
    assert name.startswith("labship-demo-term-")
    assert found["org.labship.project"] == "demo"
    assert found["org.labship.job"] == "term"
    assert found["org.labship.profile"] == "prod"
    assert "got TERM" in out, err
    assert proc.returncode == 143, err
    assert _containers(project) == []


@pytest.mark.docker
def test_a_job_that_ignores_sigterm_is_killed_after_its_stop_timeout(
    docker_project: Locked,
) -> None:
    project = docker_project.project
    proc, name = _start_job(project, "stubborn")
    timeout = _inspect(name, "{{.Config.StopTimeout}}")
    out, err, took = _terminate(proc)
    assert timeout == "2"  # a `docker stop` by anyone waits as long
    assert 2 <= took < 9  # its own 2 s, not the default 10 s
    assert "ignoring TERM" in out, err
    assert proc.returncode == 137, err
    assert "did not stop within 2 s" in err
    assert _containers(project) == []
    record = json.loads((project.state_dir / "runs.jsonl").read_text().splitlines()[-1])
    assert (record["job"], record["signal"], record["killed"]) == ("stubborn", "SIGTERM", True)


@pytest.mark.docker
def test_create_failure_is_a_tool_error_with_dockers_message(docker_project: Locked) -> None:
    from labship.errors import ToolError

    runtime = DockerRuntime()
    project, lock = docker_project.project, docker_project.lock
    env = runtime.prepare(project, lock, dev=False, console=Console(quiet=True))
    missing = dataclasses.replace(env, image_id="labship-no-such-image:1")
    with pytest.raises(ToolError, match=r"No such image|not found|pull access") as info:
        runtime.run(
            project,
            missing,
            project.job("fail"),
            _profile({"DB_PASSWORD": "prod-secret-value-456"}),
            console=Console(quiet=True).with_secrets(["prod-secret-value-456"]),
        )
    assert info.value.exit_code == 70
    assert "prod-secret-value-456" not in str(info.value)


def _status(port: int, token: str | None) -> int:
    headers = {"Authorization": f"token {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _put_file(port: int, path: str) -> None:
    body = json.dumps({"type": "file", "format": "text", "content": "hi"}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/contents/{path}",
        data=body,
        method="PUT",
        headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.docker
@pytest.mark.parametrize("uid", [None, 1234], ids=["host-user", "uid-1234"])
def test_lab_answers_with_the_token_only_on_loopback(
    docker_project: Locked, uid: int | None
) -> None:
    from labship.profiles import load_profile

    project, lock = docker_project.project, docker_project.lock
    runtime = DockerRuntime(uid=uid, gid=uid)
    console = Console(quiet=True)
    profile = load_profile(project.root, "dev")
    port = _free_port()
    notebooks = project.root / "notebooks"
    notebooks.mkdir(exist_ok=True)
    notebooks.chmod(0o777)  # uid 1234 must be able to write where root's tmp dir is
    env = runtime.prepare(project, lock, dev=True, console=console)
    info = runtime.lab(project, env, profile, port=port, token=TOKEN, detach=True, console=console)
    try:
        assert info.url == f"http://127.0.0.1:{port}/lab"
        state = json.loads((project.state_dir / LAB_STATE).read_text())
        container = state["handle"]["container"]
        assert state == {
            "runtime": "docker",
            "handle": {"container": container},
            "port": port,
            "url": info.url,
        }
        assert runtime.lab_running(project) == info
        assert _status(port, TOKEN) == 200
        assert _status(port, None) == 403
        published = subprocess.run(
            ["docker", "port", container], capture_output=True, text=True, check=True
        )
        assert published.stdout.split() == ["8888/tcp", "->", f"127.0.0.1:{port}"]
        name = f"made-by-{uid or 'host'}.txt"
        _put_file(port, f"notebooks/{name}")
        owner = (notebooks / name).stat()
        expected = os.getuid() if uid is None else uid
        assert (owner.st_uid, owner.st_gid) == (expected, os.getgid() if uid is None else uid)
        with pytest.raises(PortInUse):
            runtime.lab(project, env, profile, port=port, token=TOKEN, detach=True, console=console)
    finally:
        stopped = runtime.stop(project, console=console)
    assert stopped
    assert not (project.state_dir / LAB_STATE).exists()
    assert _containers(project) == []
    assert runtime.stop(project, console=console) is False


@pytest.mark.docker
def test_foreground_lab_stops_and_is_removed_on_ctrl_c(docker_project: Locked) -> None:
    project = docker_project.project
    port = _free_port()
    script = (
        "from labship.console import Console\n"
        "from labship.locking import read_lock\n"
        "from labship.profiles import load_profile\n"
        "from labship.project import load_project\n"
        "from labship.runtimes.docker import DockerRuntime\nfrom pathlib import Path\n"
        f"p = load_project(Path({str(project.root)!r}))\n"
        "rt = DockerRuntime()\n"
        "env = rt.prepare(p, read_lock(p), dev=True, console=Console())\n"
        f"rt.lab(p, env, load_profile(p.root, 'dev'), port={port}, "
        f"token={TOKEN!r}, detach=False, console=Console())\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _status(port, TOKEN) == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(2)  # labship polls readiness too, then says the URL: let it
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"JupyterLab at http://127.0.0.1:{port}/lab" in err
    assert TOKEN not in err.split("JupyterLab at")[-1].splitlines()[0]
    assert _containers(project) == []
    assert not (project.state_dir / LAB_STATE).exists()


@pytest.mark.docker
def test_shell_runs_as_the_host_user_with_the_profile(docker_project: Locked) -> None:
    project = docker_project.project
    script = (
        "import sys\n"
        "from labship.console import Console\n"
        "from labship.locking import read_lock\n"
        "from labship.profiles import load_profile\n"
        "from labship.project import load_project\n"
        "from labship.runtimes.docker import DockerRuntime\nfrom pathlib import Path\n"
        f"p = load_project(Path({str(project.root)!r}))\n"
        "rt = DockerRuntime()\n"
        "env = rt.prepare(p, read_lock(p), dev=True, console=Console(quiet=True))\n"
        "sys.exit(rt.shell(p, env, load_profile(p.root, 'dev'), "
        "console=Console(quiet=True)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input='echo "$(id -u) $GREETING $HOME $(pwd)"; ls; exit 4\n',
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 4, proc.stderr
    lines = proc.stdout.split()
    assert lines[:4] == [str(os.getuid()), "dev", "/tmp", "/app"]
    assert {"code", "data", "notebooks"} <= set(lines[4:])
    assert _containers(project) == []


@pytest.mark.docker
def test_build_prod_then_run_does_not_rebuild(docker_project: Locked) -> None:
    """One function decides freshness: what `labship build prod` made is what `labship run
    --runtime docker` runs (the caller's uid is not part of the prod image)."""
    root = docker_project.project.root
    built = labship("build", "prod", cwd=root)
    assert built.returncode == 0, built.stderr
    image_id = built.stdout.split("(")[-1].rstrip(")\n")
    tag = built.stdout.split()[1]
    ran = labship("run", "fail", "--profile", "prod", "--runtime", "docker", cwd=root)
    assert ran.returncode == 3, ran.stderr
    assert "building the prod image" not in ran.stderr
    after = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True,
        text=True,
        check=True,
    )
    assert after.stdout.strip().startswith(image_id)


@pytest.mark.docker
def test_api_create_asks_the_engine_for_what_the_cli_create_does(
    docker_project: Locked,
) -> None:
    """`labship run` creates its container through the engine API (no second docker
    client); where that cannot be reached it runs `docker create`: both must give the
    engine the same container (variables, labels, stop timeout, --rm, stdin)."""
    from labship.runtimes.docker import container_name, create_config
    from labship.tools.docker import create_container

    runtime = DockerRuntime()
    project, lock = docker_project.project, docker_project.lock
    console = Console(quiet=True)
    image = runtime.prepare(project, lock, dev=False, console=console)
    job = project.job("stubborn")
    values = {"A": 'q"#\nline two', "DOCKER_HOST": "tcp://db:2375", "PATH": "/x:/y", "E": ""}
    labels = {"kind": "run", "job": job.name, "profile": "prod"}
    seen = []
    for stdin in (False, True):
        by_api, by_cli = container_name(project, "api"), container_name(project, "cli")
        try:
            config = create_config(project, image, job, values, labels, stdin=stdin)
            assert create_container(by_api, config, console=console) is not None
            runtime._create_with_cli(project, by_cli, image, job, values, labels, stdin, console)
            for name in (by_api, by_cli):
                out = subprocess.run(
                    ["docker", "inspect", name], capture_output=True, text=True, check=True
                )
                (data,) = json.loads(out.stdout)
                conf, host = data["Config"], data["HostConfig"]
                keys = ("Image", "Cmd", "Labels", "StopTimeout", "OpenStdin", "StdinOnce")
                keys += ("AttachStdin", "AttachStdout", "AttachStderr", "Tty")
                seen.append(
                    (
                        {k: conf[k] for k in keys},
                        sorted(e for e in conf["Env"] if e.split("=")[0] in values),
                        (host["AutoRemove"], host.get("NetworkMode"), host.get("Init")),
                    )
                )
        finally:
            subprocess.run(["docker", "rm", "-f", by_api, by_cli], capture_output=True)
        assert seen[-2] == seen[-1]
    assert seen[0][0]["OpenStdin"] is False and seen[2][0]["OpenStdin"] is True
    assert seen[0][0]["StopTimeout"] == 2 and seen[0][2][0] is True
    assert 'A=q"#\nline two' in seen[0][1] and "DOCKER_HOST=tcp://db:2375" in seen[0][1]
