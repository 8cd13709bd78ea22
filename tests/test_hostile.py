"""Hostile input, full disks and stale state, through the real CLI on real files.

Every case in ``CASES`` runs ``python -m labship`` on a copy of one locked project and
asserts: its documented exit code; one line on stderr (plus exactly the warnings the case
allows); no traceback; no secret anywhere in stdout or stderr (a known secret sits in
every profile, declared or only looking secret, and in the caller's environment); the
previous lock, environment and run log as they were; the bystander process never
signalled. The read-only project is a real read-only bind mount, the full disk a real
512 KiB tmpfs filled to the last page: both need root, as CI has (elsewhere they skip,
saying so; with ``CI`` set they fail instead).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

import pytest

from conftest import labship

SECRET = "hostile-db-pw-8c1f0e77"  # DB_PASSWORD: declared secret
API_SECRET = "hostile-api-5d2a9b31"  # API_TOKEN: not declared, looks secret
SERVICE_SECRET = "hostile-svc-7e4b0c55"  # MY_SERVICE_PASSWORD: not declared either
TOKEN = "hostile-jupyter-token-0123456789"  # JUPYTER_TOKEN
CI_SECRET = "hostile-ci-a9b8c7d6"  # in the caller's environment, as a CI token is
URL_TOKEN = "hostile-dsn-3c9e1f42"  # a URL's only credential (SENTRY_DSN=https://<key>@...)
REGISTRY_PASSWORD = "hostile-reg-6b0d2e88"  # user:password@host without a scheme
SECRETS = (SECRET, API_SECRET, SERVICE_SECRET, TOKEN, CI_SECRET, URL_TOKEN, REGISTRY_PASSWORD)
JOB_CODE = 3  # what the job exits with under the "ci" profile

PROFILE = (
    f"GREETING=hi\nDB_PASSWORD={SECRET}\nAPI_TOKEN={API_SECRET}\n"
    f"MY_SERVICE_PASSWORD={SERVICE_SECRET}\n"
)
HELLO = (
    "import os, sys\nimport six\nprint('six', six.__version__)\n"
    "sys.exit(int(os.environ.get('EXIT_CODE', '0')))\n"
)
CONFIG = f"""\
[project]
name = "hostile"
python = "{sys.version_info.major}.{sys.version_info.minor}"
spec = "requirements.txt"

[jobs.hello]
command = "python code/hello.py"

[lab]
packages = ["iniconfig==2.0.0"]

[env]
required = ["GREETING"]
secret = ["DB_PASSWORD"]
"""


# --------------------------------------------------------------------------- the project


@dataclass(frozen=True)
class Base:
    root: Path
    envs: tuple[Path, ...]  # the store's prod and dev environments of its lock


def _lock_hash(text: str) -> str:
    return hashlib.sha256(text.partition("\n[tool.labship]\n")[0].encode()).hexdigest()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """One locked project with both environments built and one run logged."""
    root = tmp_path_factory.mktemp("hostile") / "hostile"
    (root / "code").mkdir(parents=True)
    (root / "code" / "hello.py").write_text(HELLO)
    (root / "requirements.txt").write_text("six==1.16.0\n")
    (root / "labship.toml").write_text(CONFIG)
    (root / ".env_dev").write_text(PROFILE + f"JUPYTER_TOKEN={TOKEN}\n")
    (root / ".env_prod").write_text(PROFILE)
    (root / ".env_ci").write_text(PROFILE + f"EXIT_CODE={JOB_CODE}\n")
    labship("lock", cwd=root, check=True)
    labship("run", cwd=root, check=True)  # the prod environment, and one record
    shell = subprocess.run(  # the dev environment: a shell that reads EOF at once
        [sys.executable, "-m", "labship", "shell"], cwd=root, stdin=subprocess.DEVNULL
    )
    assert shell.returncode == 0
    store = Path(os.environ["LABSHIP_STORE"]) / "envs"
    envs = tuple(
        store / _lock_hash((root / name).read_text())[:16]
        for name in ("pylock.toml", "pylock.dev.toml")
    )
    assert all(env.is_dir() for env in envs)
    return Base(root, envs)


@pytest.fixture(scope="module")
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not labship's: no case may signal it."""
    proc = subprocess.Popen(["sleep", "600"])
    yield proc
    proc.kill()
    proc.wait()


# --------------------------------------------------------------------------- setups

Setup = Callable[[Path, int], None]  # (the project copy, the bystander's pid)


def write(rel: str, content: str | bytes) -> Setup:
    def setup(root: Path, _pid: int) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return setup


def edit(rel: str, old: str, new: str) -> Setup:
    def setup(root: Path, _pid: int) -> None:
        text = (root / rel).read_text()
        assert old in text, (rel, old)
        (root / rel).write_text(text.replace(old, new, 1))

    return setup


def append(rel: str, text: str) -> Setup:
    return lambda root, _pid: (root / rel).write_text((root / rel).read_text() + text)


def command(value: str) -> Setup:
    """The job's command, as TOML."""
    return edit("labship.toml", 'command = "python code/hello.py"', f"command = {value}")


def replaced_by_folder(rel: str) -> Setup:
    def setup(root: Path, _pid: int) -> None:
        (root / rel).unlink()
        (root / rel).mkdir()

    return setup


def removed(rel: str) -> Setup:
    return lambda root, _pid: (root / rel).unlink()


def symlinked(rel: str, target: str) -> Setup:
    def setup(root: Path, _pid: int) -> None:
        (root / rel).symlink_to(target)
        edit("labship.toml", 'spec = "requirements.txt"', f'spec = "{rel}"')(root, 0)

    return setup


def fifo(rel: str) -> Setup:
    """``rel`` a named pipe nobody writes: reading it would block forever."""

    def setup(root: Path, _pid: int) -> None:
        path = root / rel
        path.unlink(missing_ok=True)
        os.mkfifo(path)

    return setup


def nested(depth: int, opening: str = "[", closing: str = "]") -> str:
    return opening * depth + closing * depth


def environment_yml(body: str) -> Setup:
    """The spec an environment.yml with ``body`` (its dependencies), six from pip."""
    return then(
        write("environment.yml", f"name: hostile\ndependencies:\n{body}"),
        edit(TOML, 'spec = "requirements.txt"', 'spec = "environment.yml"'),
    )


def without_packages(rel: str) -> Setup:
    """A lock whose ``[[packages]]`` tables are gone, its header and table kept."""

    def setup(root: Path, _pid: int) -> None:
        text = (root / rel).read_text()
        head, _, rest = text.partition("[[packages]]")
        (root / rel).write_text(head + "[tool.labship]" + rest.partition("[tool.labship]")[2])

    return setup


def lab_record(handle: Callable[[int], object], runtime: str = "local") -> Setup:
    """A detached lab's record whose handle is ``handle(bystander pid)``."""

    def setup(root: Path, pid: int) -> None:
        record = {"runtime": runtime, "url": "x", "port": 8888, "handle": handle(pid)}
        write(".labship/lab.json", json.dumps(record))(root, pid)

    return setup


def _start_time(pid: int) -> str | None:
    from labship.tools.procinfo import start_time

    return start_time(pid)


def log_line(record: object) -> Setup:
    """The run log: the fixture's good record, then ``record`` as one line."""

    def setup(root: Path, _pid: int) -> None:
        log = root / ".labship" / "runs.jsonl"
        line = record if isinstance(record, bytes) else json.dumps(record).encode()
        log.write_bytes(log.read_bytes() + line + b"\n")

    return setup


GOOD_RECORD = {
    "job": "hello",
    "profile": "dev",
    "runtime": "local",
    "start": "2026-01-01T00:00:00Z",
    "duration_s": 1.0,
    "exit_code": 0,
    "lock_hash": "0" * 64,
    "git_commit": None,
}


def then(*setups: Setup) -> Setup:
    def setup(root: Path, pid: int) -> None:
        for one in setups:
            one(root, pid)

    return setup


TOML = "labship.toml"
LOCK = "pylock.toml"
OUT = "/work-outside"  # a cwd that is no project (made per case)


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int
    says: str  # in the last stderr line: the error, or the one thing said
    setup: Setup | None = None
    warnings: int = 0  # warning lines allowed, and expected, before it
    disk: Literal["", "ro", "full"] = ""  # the project on a read-only mount / a full disk
    quiet: bool = True  # -q: only warnings and errors reach stderr
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""  # "" the project copy; OUT a folder that is no project
    stdout: str = ""  # in stdout too: what still works


def case(
    id: str,
    argv: str,
    code: int,
    says: str,
    setup: Setup | None = None,
    *,
    warnings: int = 0,
    disk: Literal["", "ro", "full"] = "",
    quiet: bool = True,
    env: dict[str, str] | None = None,
    cwd: str = "",
    stdout: str = "",
) -> Case:
    """A row of the table; ``argv`` split on blanks."""
    argv_ = tuple(argv.split())
    return Case(id, argv_, code, says, setup, warnings, disk, quiet, env or {}, cwd, stdout)


CASES = [
    # ---- the command line (64)
    case("unknown-command", "frobnicate", 64, "invalid choice"),
    case("no-command", "", 64, "required"),
    case("unknown-flag", "run --no-such-flag", 64, "unrecognized arguments"),
    case("port-too-big", "lab --port 70000", 64, "--port: '70000' is not a TCP port"),
    case("port-negative", "lab --port -5", 64, "--port: '-5' is not a TCP port"),
    case("port-zero", "lab --port 0", 64, "--port: '0' is not a TCP port"),
    case("port-word", "lab --port many", 64, "--port: 'many' is not a TCP port"),
    case("last-negative", "runs --last -1", 64, "--last: '-1'"),
    case("last-zero", "runs --last 0", 64, "--last: '0'"),
    case("unknown-job", "run nope", 64, "unknown job 'nope'"),
    case("unknown-profile", "run --profile staging", 64, "unknown profile 'staging'"),
    case("profile-traversal", "run --profile ../../etc/passwd", 64, "unknown profile"),
    case("unknown-runtime-flag", "run --runtime k8s", 64, "invalid choice"),
    case("unknown-image-target", "build staging", 64, "invalid choice"),
    case("unknown-export", "export nowhere", 64, "invalid choice"),
    case("program-missing", "run", 64, "not found in the environment", command('"no-such-prog"')),
    case(
        "script-not-executable",
        "run",
        64,
        "is not executable",
        then(write("code/run.sh", "#!/bin/sh\necho hi\n"), command('"code/run.sh"')),
    ),
    # ---- not a project (66)
    case("no-project-here", "runs", 66, "is not a labship project", cwd=OUT),
    case("C-missing-folder", "-C /nonexistent/x runs", 66, "is not a labship project", cwd=OUT),
    case("C-a-file", "-C /etc/passwd runs", 66, "is not a labship project", cwd=OUT),
    case("config-is-a-folder", "runs", 66, "is not a labship project", replaced_by_folder(TOML)),
    # ---- labship.toml (78)
    case("config-not-utf8", "run", 78, "is not UTF-8 text", write(TOML, b"\xff\xfe[project]\n")),
    case("config-malformed", "run", 78, "malformed TOML", append(TOML, "[lab\n")),
    case("config-conflict", "run", 78, "malformed TOML", append(TOML, "<<<<<<< HEAD\n")),
    case("config-unknown-key", "run", 78, "unknown key 'pyhton'", edit(TOML, "python", "pyhton")),
    case("command-open-quote", "run", 78, "cannot be split", command('"python \'code/x.py"')),
    case("command-wrong-type", "run", 78, "must be a string or a list", command("5")),
    case("command-nul", "run", 78, "NUL", command('"python\\u0000 code/hello.py"')),
    case("command-climbs-out", "run", 78, "outside the project", command('"../bin/job.sh"')),
    case(
        "spec-proc-environ",
        "lock --check",
        78,
        "not a path inside the project",
        edit(TOML, 'spec = "requirements.txt"', 'spec = "/proc/self/environ"'),
    ),
    case(
        "spec-climbs-out",
        "lock",
        78,
        "not a path inside the project",
        edit(TOML, 'spec = "requirements.txt"', 'spec = "../../etc/passwd"'),
    ),
    case(
        "spec-linked-out",
        "lock --check",
        78,
        "leads outside the project",
        symlinked("environ.txt", "/proc/self/environ"),
    ),
    case("lab-port-in-config", "run", 78, "[lab] port", edit(TOML, "[lab]\n", "[lab]\nport = 0\n")),
    case(
        "version-injection",
        "export compose",
        78,
        "[project] version",
        edit(TOML, 'name = "hostile"', 'name = "hostile"\nversion = "1.0\\nRUN curl x | sh"'),
    ),
    case(
        "stop-timeout-negative",
        "run",
        78,
        "stop_timeout",
        edit(TOML, 'code/hello.py"\n', 'code/hello.py"\nstop_timeout = -1\n'),
    ),
    case(
        "stop-timeout-string",
        "run",
        78,
        "stop_timeout",
        edit(TOML, 'code/hello.py"\n', 'code/hello.py"\nstop_timeout = "10"\n'),
    ),
    case("public-not-a-list", "env", 78, "public", edit(TOML, "[env]\n", '[env]\npublic = "X"\n')),
    case(
        "runtime-unknown",
        "run",
        78,
        "k8s",
        edit(TOML, "[project]\n", '[project]\nruntime = "k8s"\n'),
        env={"LABSHIP_RUNTIME": ""},
    ),
    case(
        "base-image-injection",
        "export image",
        78,
        "not an image reference",
        append(TOML, '\n[docker]\nbase_image = "python:3.11\\nRUN curl x | sh"\n'),
    ),
    case(
        "image-name-injection",
        "export compose",
        78,
        "not an image reference",
        append(TOML, '\n[docker]\nimage = "x\\n    privileged: true"\n'),
    ),
    case(
        "apt-newline",
        "export image",
        78,
        "not a Debian package name",
        append(TOML, '\n[docker]\nsystem_packages = ["curl\\n"]\n'),
    ),
    case(
        "apt-shell",
        "export image",
        78,
        "not a Debian package name",
        append(TOML, '\n[docker]\nsystem_packages = ["curl; rm -rf /"]\n'),
    ),
    case(
        "compose-service-clash",
        "export compose",
        78,
        "would both be the compose service",
        append(TOML, '\n[jobs."a b"]\ncommand = "true"\n[jobs."a-b"]\ncommand = "true"\n'),
    ),
    # ---- the lock (77)
    case("lock-missing", "run --locked", 77, "no lock", removed(LOCK)),
    case(
        "lock-conflict-in-table",
        "run --locked",
        77,
        "cannot be read",
        append(LOCK, "<<<<<<< HEAD\n"),
    ),
    case(
        "lock-conflict-in-body",
        "run --locked",
        77,
        "malformed",
        edit(LOCK, "[[packages]]", "=======\n[[packages]]"),
    ),
    case(
        "lock-key-missing",
        "run --locked",
        77,
        "[tool.labship] python",
        edit(LOCK, "\npython = ", "\npythn = "),
    ),
    case(
        "lock-package-unnamed", "run", 77, "malformed", edit(LOCK, 'name = "six"', 'nome = "six"')
    ),
    case(
        "lock-not-labships",
        "run --locked",
        77,
        "not written by labship",
        edit(LOCK, "[tool.labship]", "[tool.other]"),
    ),
    case("lock-not-utf8", "run --locked", 77, "not UTF-8", write(LOCK, b"\xff\xfe")),
    case("lock-is-a-folder", "run --locked", 77, "cannot be read", replaced_by_folder(LOCK)),
    case("lock-stale", "lock --check", 77, "stale", write("requirements.txt", "six==1.15.0\n")),
    # ---- profiles (65)
    case("profile-not-utf8", "run", 65, "not UTF-8", write(".env_dev", b"GREETING=h\xe9\n")),
    case("profile-nul", "run", 65, "NUL byte", append(".env_dev", 'BLOB="a\x00b"\n')),
    case("profile-huge-value", "run", 65, "128 KiB", append(".env_dev", f"BLOB={'x' * 140_000}\n")),
    case(
        "profile-over-arg-max",
        "run",
        65,
        "the kernel refused its variables",
        append(".env_dev", "".join(f"B{i}={'x' * 100_000}\n" for i in range(70))),
    ),
    case(
        "profile-missing-required",
        "run",
        65,
        "missing required variable GREETING",
        edit(".env_dev", "GREETING=hi", "GREETING="),
    ),
    case("profile-dollar", "run", 65, ".env_dev:6", append(".env_dev", "URL=$HOME/x\n")),
    case("profile-bare-secret", "run", 65, ".env_dev:6", append(".env_dev", f"{SECRET}\n")),
    case(
        "token-one-char",
        "lab",
        65,
        "too short for JupyterLab (1 characters, at least 16)",
        edit(".env_dev", f"JUPYTER_TOKEN={TOKEN}", "JUPYTER_TOKEN=a"),
    ),
    case(
        "token-missing",
        "lab",
        65,
        "no JUPYTER_TOKEN for JupyterLab",
        edit(".env_dev", f"JUPYTER_TOKEN={TOKEN}", ""),
    ),
    # ---- the spec (65)
    case("spec-missing", "lock", 65, "no such file", removed("requirements.txt")),
    case("spec-a-folder", "lock", 65, "Is a directory", replaced_by_folder("requirements.txt")),
    case(
        "spec-not-a-requirement",
        "lock",
        65,
        "requirements.txt:1",
        write("requirements.txt", "six==1.16.0 ;;; x\n"),
    ),
    case(
        "spec-includes-environ",
        "lock --check",
        65,
        "'-r /proc/self/environ' is outside the project",
        write("requirements.txt", "six==1.16.0\n-r /proc/self/environ\n"),
    ),
    case(
        "spec-includes-a-profile",
        "lock",
        65,
        "'-r .env_prod' is a profile",
        write("requirements.txt", "-r .env_prod\n"),
    ),
    case(
        "spec-is-a-profile",
        "lock --check",
        78,
        "is a profile",
        edit(TOML, 'spec = "requirements.txt"', 'spec = ".env_prod"'),
    ),
    # ---- secrets not declared secret are masked all the same (0)
    case("env-masks-undeclared", "env", 0, "", stdout="API_TOKEN"),
    case("env-json-masks-undeclared", "env --json", 0, "", stdout='"API_TOKEN": "****"'),
    # ---- the run log: a bad line is skipped, said once, the rest still read (0)
    case(
        "log-wrong-type",
        "runs",
        0,
        "skipped 1 line",
        log_line({**GOOD_RECORD, "duration_s": "abc"}),
        warnings=1,
        stdout="hello",
    ),
    case(
        "log-not-utf8",
        "runs",
        0,
        "skipped 1 line",
        log_line(b"\xff\xfe{}"),
        warnings=1,
        stdout="hello",
    ),
    case(
        "log-not-an-object",
        "runs --json",
        0,
        "skipped 3 line",
        then(log_line([1]), log_line("x"), log_line(None)),
        warnings=1,
        stdout="hello",
    ),
    case(
        "log-infinite",
        "runs --json",
        0,
        "skipped 1 line",
        log_line(json.dumps(GOOD_RECORD).replace("1.0", "1e999").encode()),
        warnings=1,
        stdout="hello",
    ),
    case(
        "log-bool-exit",
        "runs",
        0,
        "skipped 1 line",
        log_line({**GOOD_RECORD, "exit_code": True}),
        warnings=1,
        stdout="hello",
    ),
    case(
        "log-missing-key",
        "runs",
        0,
        "skipped 1 line",
        log_line({"job": "x"}),
        warnings=1,
        stdout="hello",
    ),
    # ---- the lab record: never trusted, nothing signalled (0, "no lab was running")
    case(
        "lab-pid-0",
        "stop",
        0,
        "no lab was running",
        lab_record(lambda _: {"pid": 0, "start": "x"}),
        quiet=False,
    ),
    case(
        "lab-pid-1",
        "stop",
        0,
        "no lab was running",
        lab_record(lambda _: {"pid": 1, "start": _start_time(1)}),
        quiet=False,
    ),
    case(
        "lab-pid-string",
        "stop",
        0,
        "no lab was running",
        lab_record(lambda pid: {"pid": str(pid)}),
        quiet=False,
    ),
    case(
        "lab-bystander-no-start",
        "stop",
        0,
        "no lab was running",
        lab_record(lambda pid: {"pid": pid}),
        quiet=False,
    ),
    case(
        "lab-bystander-wrong-start",
        "stop",
        0,
        "no lab was running",
        lab_record(lambda pid: {"pid": pid, "start": "boot:1"}),
        quiet=False,
    ),
    case(
        "lab-bystander-own-start",
        "stop",
        0,
        "no lab was running",
        lab_record(lambda pid: {"pid": pid, "start": _start_time(pid)}),
        quiet=False,
    ),
    case(
        "lab-record-garbage",
        "stop",
        0,
        "no lab was running",
        write(".labship/lab.json", b"\xff{"),
        quiet=False,
    ),
    case(
        "lab-record-other-runtime",
        "stop",
        0,
        "no lab was running",
        lab_record(lambda _: {}, "k8s"),
        quiet=False,
    ),
    # ---- a read-only project: the job's code stands, writes are one line (74)
    case("ro-run", "run --profile ci", JOB_CODE, "cannot record the run", disk="ro", warnings=1),
    case(
        "ro-lock", "lock", 74, "Read-only file system; the old lock files are unchanged", disk="ro"
    ),
    case("ro-export", "export compose", 74, "Read-only file system", disk="ro"),
    case("ro-eject", "eject compose", 74, "Read-only file system", disk="ro"),
    case("ro-new", "new sub", 74, "Read-only file system", disk="ro"),
    case(
        "ro-stop",
        "stop",
        0,
        "no lab was running",
        lab_record(lambda _: {"pid": 0}),
        disk="ro",
        quiet=False,
    ),
    # ---- a full disk: the same
    case(
        "full-run", "run --profile ci", JOB_CODE, "No space left on device", disk="full", warnings=1
    ),
    case(
        "full-lock",
        "lock",
        74,
        "No space left on device; the old lock files are unchanged",
        disk="full",
    ),
    case("full-export", "export compose", 74, "No space left on device", disk="full"),
    case("full-new", "new sub", 74, "No space left on device", disk="full"),
    # ---- names the file system refuses (74)
    case("new-name-too-long", f"new {'a' * 300}", 74, "File name too long", cwd=OUT),
    # ---- issue 17: secrets (0 / 78)
    case(
        "env-url-token-alone",
        "env",
        0,
        "",
        append(".env_dev", f"SENTRY_DSN=https://{URL_TOKEN}@o1.ingest.example/1\n"),
        stdout="https://****@o1.ingest.example/1",
    ),
    case(
        "registry-password-no-scheme",
        "push",
        78,
        "'user:****@host:5000/team/hostile' is not an image reference",
        append(TOML, f'\n[docker]\nregistry = "user:{REGISTRY_PASSWORD}@host:5000/team"\n'),
    ),
    # ---- issue 17: nested past any stack (78, 65, 78)
    case(
        "config-nested-5000",
        "run",
        78,
        "nested more than 100 levels deep",
        append(TOML, f"x = {nested(5000)}\n"),
    ),
    case(
        "init-compose-nested-20000",
        "init sub",
        78,
        "sub/docker-compose.yml: malformed YAML: the document is nested more than 100",
        then(
            write("sub/docker-compose.yml", f"services:\n  {nested(20000)}\n"),
            write("sub/requirements.txt", "six\n"),
        ),
    ),
    # ---- issue 17: values no library may choke on (78)
    case(
        "lab-packages-shell",
        "lock",
        78,
        "[lab] packages: 'jupyterlab; rm -rf /' is not a requirement",
        edit(TOML, '["iniconfig==2.0.0"]', '["jupyterlab; rm -rf /"]'),
    ),
    case(
        "registry-port-too-big",
        "push",
        78,
        "'99999' is not a TCP port",
        append(TOML, '\n[docker]\nregistry = "127.0.0.1:99999/team"\n'),
    ),
    case("registry-port-zero-to", "push --to localhost:0/team/x", 64, "--to: 'localhost:0/team/x'"),
    case(
        "python-spec-disagrees",
        "lock",
        78,
        "but environment.yml says python ==99.1",
        environment_yml("  - python=99.1\n  - pip\n  - pip:\n    - six==1.16.0\n"),
    ),
    case("lab-without-jupyterlab", "lab", 78, "JupyterLab is not in the dev set"),
    # ---- issue 17: the store (74)
    case(
        "store-not-writable",
        "run",
        74,
        "the environment store /sys/labship-store (LABSHIP_STORE) cannot be used",
        env={"LABSHIP_STORE": "/sys/labship-store"},
    ),
    case(
        "store-a-file",
        "run",
        74,
        "cannot be used: Not a directory",
        env={"LABSHIP_STORE": "/etc/hostname"},
    ),
    # ---- issue 17: every file read is a regular file (65 for profiles)
    case(
        "profile-a-folder",
        "run --profile prod",
        65,
        ".env_prod: cannot be read (Is a directory)",
        replaced_by_folder(".env_prod"),
    ),
    case(
        "profile-a-fifo",
        "run --profile prod",
        65,
        ".env_prod: cannot be read (not a regular file but a named pipe",
        fifo(".env_prod"),
    ),
    case(
        "init-profile-a-fifo",
        "init sub",
        65,
        "sub/.env_dev: cannot be read (not a regular file but a named pipe",
        then(write("sub/requirements.txt", "six\n"), fifo("sub/.env_dev")),
    ),
    case(
        "generated-file-a-fifo",
        "export compose",
        73,
        "compose.yaml: cannot read it to check who owns it (not a regular file but a named",
        fifo("compose.yaml"),
    ),
    case(
        "spec-includes-a-fifo",
        "lock",
        65,
        "fifo.txt: cannot read (not a regular file but a named pipe (FIFO))",
        then(write("requirements.txt", "six==1.16.0\n-r fifo.txt\n"), fifo("fifo.txt")),
    ),
    case(
        "spec-a-fifo",
        "lock",
        65,
        "requirements.txt: cannot read (not a regular file but a named pipe (FIFO))",
        fifo("requirements.txt"),
    ),
    case(
        "spec-yaml-nested-20000",
        "lock",
        65,
        "environment.yml: malformed YAML (the document is nested more than 100 levels deep)",
        environment_yml(f"  - {nested(20000)}\n"),
    ),
    case(  # the job runs and its code stands; the record cannot be written, said once
        "log-a-fifo",
        "run --profile ci",
        JOB_CODE,
        "cannot record the run",
        fifo(".labship/runs.jsonl"),
        warnings=1,
    ),
    case(
        "log-a-fifo-read",
        "runs",
        0,
        "skipped 1 line",
        fifo(".labship/runs.jsonl"),
        warnings=1,
    ),
    # ---- issue 17: the right code and words
    case(
        "lock-without-packages",
        "run",
        77,
        "cannot be read (its [[packages]] are missing or malformed)",
        without_packages(LOCK),
    ),
    case(  # the hint makes the profile, never proposes the name typed
        "profile-missing-no-self-hint",
        "run --profile prod",
        64,
        "does not exist; create .env_prod with mode 600",
        removed(".env_prod"),
    ),
    case(
        "schedule-remove-typo",
        "schedule remove helo",
        64,
        "did you mean 'hello'?",
    ),
]


# --------------------------------------------------------------------------- mounts


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode == 0:
        return
    reason = f"cannot mount ({proc.stderr.strip() or proc.returncode}): needs root, as CI has"
    words = ("permission", "not permitted", "superuser")
    denied = os.geteuid() != 0 or any(w in proc.stderr.lower() for w in words)
    if denied and not os.environ.get("CI"):
        pytest.skip(reason)
    raise AssertionError(reason)


def _umount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """``path`` read-only for everyone, root included: a bind mount of itself."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield
    finally:
        _umount(path)


@contextlib.contextmanager
def small_disk(path: Path) -> Iterator[None]:
    path.mkdir()
    _mount("-t", "tmpfs", "-o", "size=512k", "tmpfs", str(path))
    try:
        yield
    finally:
        _umount(path)


def _fill(disk: Path, root: Path) -> None:
    """No free page left. The run log is padded to a whole page first, so that appending
    one line needs a new page too (a partly used page would take it)."""
    log = root / ".labship" / "runs.jsonl"
    body = log.read_bytes().splitlines()[0].rstrip()[:-1]  # the record without its "}"
    log.write_bytes(body + b" " * (4096 - len(body) - 2) + b"}\n")
    with open(disk / "filler", "wb", buffering=0) as fh:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    fh.write(b"\0" * size)
    with pytest.raises(OSError) as info, open(disk / "probe", "wb", buffering=0) as fh:
        fh.write(b"x")
    assert info.value.errno == errno.ENOSPC


# --------------------------------------------------------------------------- checks


def _digest(path: Path) -> str:
    try:
        if path.is_dir():
            return "a folder"
        if path.exists() and not path.is_file():
            return "neither file nor folder"  # a named pipe: reading it would block
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror}"


def _tree(env: Path) -> str:
    """What an environment holds (bytecode caches and the in-use lock aside)."""
    entries = []
    for dirpath, dirs, files in os.walk(env):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name != ".labship-inuse":
                path = Path(dirpath, name)
                entries.append(f"{path.relative_to(env)}\0{path.lstat().st_size}")
    return hashlib.sha256("\0".join(sorted(entries)).encode()).hexdigest()


def snapshot(root: Path, base: Base) -> dict[str, str]:
    state = {rel: _digest(root / rel) for rel in (LOCK, "pylock.dev.toml", ".labship/runs.jsonl")}
    state.update({str(env): _tree(env) for env in base.envs})
    return state


def _place(case: Case, base: Base, tmp_path: Path, pid: int) -> tuple[Path, Path]:
    """(the project copy, where the command runs), with the case's setup done."""
    parent = tmp_path / "disk" if case.disk == "full" else tmp_path
    root = parent / "project"
    shutil.copytree(base.root, root, symlinks=True)
    if case.setup is not None:
        case.setup(root, pid)
    cwd = tmp_path / "outside" if case.cwd == OUT else root
    cwd.mkdir(exist_ok=True)
    return root, cwd


def check_output(case: Case, proc: subprocess.CompletedProcess[str]) -> None:
    """The code, no traceback, no secret, and stderr: the warnings, then one line."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == case.code, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in out
    for secret in SECRETS:
        assert secret not in out, secret
    lines = proc.stderr.splitlines()
    said = case.code not in (0, JOB_CODE) or not case.quiet
    assert len(lines) == case.warnings + said, lines
    assert all(ln.startswith("labship: warning: ") for ln in lines[: case.warnings]), lines
    if case.code not in (0, JOB_CODE):
        assert lines[-1].startswith("labship: error: "), lines
    assert case.says in (lines[-1] if lines else ""), lines
    assert case.stdout in proc.stdout


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_one_line_with_its_code_and_harms_nothing(
    case: Case, base: Base, bystander: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    args = (*(("-q",) if case.quiet else ()), *case.argv)
    env = {"CI_TOKEN": CI_SECRET, "UV_OFFLINE": "1", **case.env}
    with contextlib.ExitStack() as stack:
        if case.disk == "full":
            stack.enter_context(small_disk(tmp_path / "disk"))
        root, cwd = _place(case, base, tmp_path, bystander.pid)
        if case.disk == "full":
            _fill(tmp_path / "disk", root)
        if case.disk == "ro":
            stack.enter_context(read_only(root))
        before = snapshot(root, base)
        proc = labship(*args, cwd=cwd, env=env)
        assert snapshot(root, base) == before, "the lock, an environment or the run log changed"
    check_output(case, proc)
    assert bystander.poll() is None, "the bystander was signalled"


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


# --------------------------------------------------------------------------- secrets


def _copy(base: Base, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(base.root, root, symlinks=True)
    return root


def test_public_is_the_way_to_show_a_name_that_looks_secret(base: Base, tmp_path: Path) -> None:
    root = _copy(base, tmp_path)
    masked = json.loads(labship("env", "--json", cwd=root, check=True).stdout)
    dev = {p["name"]: p for p in masked["profiles"]}["dev"]
    assert dev["values"]["API_TOKEN"] == dev["values"]["MY_SERVICE_PASSWORD"] == "****"
    assert {"API_TOKEN", "MY_SERVICE_PASSWORD", "JUPYTER_TOKEN"} <= set(masked["secret"])
    edit(TOML, "[env]\n", '[env]\npublic = ["API_TOKEN"]\n')(root, 0)
    shown = labship("env", cwd=root, check=True).stdout
    assert API_SECRET in shown  # said public: the user's call
    assert SERVICE_SECRET not in shown and SECRET not in shown


def test_lock_and_generated_files_have_the_modes_of_other_project_files(
    base: Base, tmp_path: Path
) -> None:
    root = _copy(base, tmp_path)
    for name in ("pylock.toml", "pylock.dev.toml"):
        (root / name).unlink()
    umask = os.umask(0o022)
    os.umask(umask)
    labship("lock", cwd=root, check=True, env={"UV_OFFLINE": "1"})
    labship("export", "compose", cwd=root, check=True)
    for name in ("pylock.toml", "pylock.dev.toml", "compose.yaml", "compose.prod.yaml"):
        assert (root / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    (root / "pylock.toml").chmod(0o664)  # the user's choice survives a re-lock
    (root / "requirements.txt").write_text("six==1.16.0\n# a comment\n")
    labship("lock", cwd=root, check=True, env={"UV_OFFLINE": "1"})
    assert (root / "pylock.toml").stat().st_mode & 0o777 == 0o664


# --------------------------------------------------------------------------- injection

NASTY_ARGV = [
    "python",
    'x"\n    privileged: true\n    command: ["sh"]',  # a YAML key, if it were not escaped
    "a\u2028b\x85c",  # line breaks to YAML 1.1
    "\x7f",  # DEL: not allowed raw in YAML
    "$HOME ${HOME} '#",
]
NASTY_JOB = 'evil" job\n[project]'


def test_no_value_injects_into_the_compose_files(base: Base, tmp_path: Path) -> None:
    import yaml

    from labship.templates import toml_key, toml_value

    root = _copy(base, tmp_path)
    job = f"\n[jobs.{toml_key(NASTY_JOB)}]\ncommand = {toml_value(NASTY_ARGV)}\n"
    append(TOML, job)(root, 0)
    labship("export", "compose", cwd=root, check=True)
    services = yaml.safe_load((root / "compose.prod.yaml").read_text())["services"]
    assert set(services) == {"hello", "evil-job-project"}
    evil = services["evil-job-project"]
    assert evil["command"] == [a.replace("$", "$$") for a in NASTY_ARGV]
    assert evil["environment"]["LABSHIP_JOB"] == NASTY_JOB
    assert "privileged" not in evil


def test_the_base_image_from_the_environment_is_checked_too(base: Base) -> None:
    from labship.errors import ConfigError
    from labship.images.base import base_image
    from labship.project import load_project

    project = load_project(base.root)
    os.environ["LABSHIP_BASE_IMAGE"] = "python:3.11\nRUN curl x | sh"
    try:
        with pytest.raises(ConfigError, match="LABSHIP_BASE_IMAGE"):
            base_image(project)
    finally:
        del os.environ["LABSHIP_BASE_IMAGE"]


def test_no_value_injects_into_the_labship_toml_init_writes(tmp_path: Path) -> None:
    import yaml

    folder = tmp_path / "classic"
    folder.mkdir()
    services = {NASTY_JOB: {"image": "x", "command": NASTY_ARGV[:-1]}}
    (folder / "docker-compose.prod.yml").write_text(yaml.safe_dump({"services": services}))
    labship("init", str(folder), "--name", "classic", cwd=tmp_path, check=True)
    from labship.project import load_project

    settings = load_project(folder).settings
    assert (settings.name, list(settings.jobs)) == ("classic", [NASTY_JOB])
    assert list(settings.jobs[NASTY_JOB].argv) == NASTY_ARGV[:-1]


def test_the_next_hint_of_new_is_shell_quoted(tmp_path: Path) -> None:
    made = labship("new", "my churn; rm -rf ~", "--bare", cwd=tmp_path, check=True)
    assert "next: cd 'my churn; rm -rf ~' && labship run" in made.stdout
    assert (tmp_path / "my churn; rm -rf ~" / "labship.toml").is_file()


def test_a_detached_lab_on_a_read_only_project_is_one_error(base: Base, tmp_path: Path) -> None:
    """Its log cannot be opened: one FileWriteError, nothing started. (Through the local
    runtime's start, not the CLI: the project's dev set has no JupyterLab, which `lab`
    refuses first, with 78: case lab-without-jupyterlab.)"""
    from labship.errors import FileWriteError
    from labship.runtimes.local import _spawn_logged

    root = _copy(base, tmp_path)
    log = root / ".labship" / "lab.log"
    argv = [sys.executable, "-c", "open('started', 'w')"]
    with read_only(root), pytest.raises(FileWriteError, match="JupyterLab was not started"):
        _spawn_logged(argv, dict(os.environ), root, log, "JupyterLab")
    assert not (root / "started").exists()


def test_a_container_on_a_read_only_project_is_one_error(base: Base, tmp_path: Path) -> None:
    """The docker runtime makes the mounted folders a container needs; on a read-only
    project that is one FileWriteError, before any container exists."""
    from labship.errors import FileWriteError
    from labship.project import load_project
    from labship.runtimes.docker import _mounts

    root = _copy(base, tmp_path)
    with read_only(root), pytest.raises(FileWriteError, match="no container was started"):
        _mounts(load_project(root))


# --------------------------------------------------------------------------- a killed labship

SLEEPY = (
    "import os, pathlib, time\n"
    "pathlib.Path(os.environ.get('PID_FILE', 'job.pid')).write_text(str(os.getpid()))\n"
    "time.sleep(600)\n"
)
GONE_WITHIN = 15.0  # seconds: the keeper's SIGTERM, or docker stop, then the reaping


def _sleepy_project(base: Base, tmp_path: Path) -> Path:
    root = _copy(base, tmp_path)
    (root / "code" / "sleepy.py").write_text(SLEEPY)
    append(TOML, '\n[jobs.sleepy]\ncommand = "python code/sleepy.py"\nstop_timeout = 3\n')(root, 0)
    return root


def _start_run(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = open(root / "labship.log", "wb")  # noqa: SIM115 - the child holds it
    with log:
        return subprocess.Popen(
            [sys.executable, "-m", "labship", "-q", "run", "sleepy"],
            cwd=root,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )


def _until(what: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.2)
    return what()


def _process_gone(pid: int) -> bool:
    """Gone, or exited and waiting for its new parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def test_a_killed_labship_takes_its_local_job_with_it(base: Base, tmp_path: Path) -> None:
    """kill -9 of `labship run`: the keeper passes SIGTERM to the job (its stop_timeout,
    then SIGKILL), as a signalled labship would. The job is not left as an orphan."""
    root = _sleepy_project(base, tmp_path)
    run = _start_run(root, {"LABSHIP_RUNTIME": "local"})
    pid_file = root / "job.pid"
    try:
        assert _until(lambda: pid_file.is_file() and pid_file.read_text() != "", 120, run), (
            root / "labship.log"
        ).read_text()
        job = int(pid_file.read_text())
        assert not _process_gone(job)
        run.kill()  # SIGKILL: labship runs no code of its own after this
        assert run.wait() == -9
        assert _until(lambda: _process_gone(job), GONE_WITHIN, run), "the job outlived labship"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert "Traceback" not in (root / "labship.log").read_text()


def test_the_keeper_leaves_a_job_that_ended_and_says_nothing(base: Base, tmp_path: Path) -> None:
    """The job's own exit code still reaches the caller; nothing of the keeper remains."""
    root = _copy(base, tmp_path)
    proc = labship("run", "--profile", "ci", cwd=root)
    assert proc.returncode == JOB_CODE, proc.stderr
    assert _processes_in(root) == [], "the keeper (a fork of labship, in its folder) is left"


def _processes_in(folder: Path) -> list[int]:
    """Processes whose working folder is ``folder``: the job's keeper would be one."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if Path(os.readlink(entry / "cwd")) == folder:
                    found.append(int(entry.name))
    return found


@pytest.mark.docker
def test_a_killed_labship_takes_its_container_with_it(base: Base, tmp_path: Path) -> None:
    """The same on the docker runtime: a docker client that dies leaves its container
    running, so the keeper runs `docker stop` (stop_timeout, then SIGKILL) and removes
    it (``--rm``; ``rm -f`` for one created but never started)."""
    from labship.runtimes.docker import LABEL
    from labship.tools.docker import docker

    root = _sleepy_project(base, tmp_path)
    mine = f"label={LABEL}.root={root}"

    def containers(*flags: str) -> list[str]:
        out = docker(["ps", "-q", *flags, "--filter", mine], console=None).stdout
        return out.split()

    run = _start_run(
        root,
        {
            "LABSHIP_RUNTIME": "docker",
            "LABSHIP_BASE_IMAGE": os.environ.get("LABSHIP_BASE_IMAGE", "local/python:3.11-slim"),
        },
    )
    try:
        assert _until(lambda: bool(containers()), 600, run), (root / "labship.log").read_text()
        run.kill()
        assert run.wait() == -9
        assert _until(lambda: not containers("-a"), GONE_WITHIN, run), (
            "the container outlived labship"
        )
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        for cid in containers("-a"):
            docker(["rm", "-f", cid], console=None, check=False)


# ----------------------------------------------------------------- a registry that is none


class _AnswersEverything(BaseHTTPRequestHandler):
    """A web server that answers 200 to anything: /v2/ included."""

    def do_GET(self) -> None:
        self._ok()

    def do_HEAD(self) -> None:
        self._ok()

    def do_POST(self) -> None:
        self._ok()

    def _ok(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass

    seen: list[str] = []


@contextlib.contextmanager
def _web_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_web_server_answering_v2_is_not_a_registry(base: Base, tmp_path: Path) -> None:
    """200 to /v2/ proves nothing: no API version header, so no build, no tag, no record."""
    root = _copy(base, tmp_path)
    _AnswersEverything.seen = []
    with _web_server(_AnswersEverything) as host:
        proc = labship("push", "--to", f"{host}/team/x", cwd=root)
    assert proc.returncode == 69, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[-1] == (
        f"labship: error: {host} is not an image registry: /v2/ answered without its API "
        "version header; check the host and port in [docker] registry, --to, or the image "
        "reference"
    )
    assert not any("build" in line for line in lines), lines  # asked before any build
    assert _AnswersEverything.seen == ["GET /v2/"]
    assert not (root / ".labship" / "pushes.jsonl").exists()


def test_a_read_only_registry_is_refused_before_the_build(base: Base, tmp_path: Path) -> None:
    """A real registry (distribution) in read-only mode: it names its API, but opens no
    upload session, so the push stops before a build is spent on it."""
    from registryfixtures import serve_registry

    root = _copy(base, tmp_path)
    with serve_registry(tmp_path / "registry", readonly=True) as running:
        proc = labship("push", "--to", f"{running.host}/team/x", cwd=root)
        posts = running.requests("POST", "/v2/team/x/blobs/uploads/")
    assert proc.returncode == 69, proc.stderr
    assert f"registry {running.host} opened no upload session for team/x" in proc.stderr
    assert not any("build" in line for line in proc.stderr.splitlines())
    assert posts == 1


def test_a_real_registry_passes_and_its_upload_session_is_cancelled(tmp_path: Path) -> None:
    from labship.tools.registry import Registry
    from registryfixtures import serve_registry

    with serve_registry(tmp_path / "registry") as running:
        Registry(running.host).check("team/x")
        assert running.requests("POST", "/v2/team/x/blobs/uploads/") == 1
        assert running.requests("DELETE", "/v2/team/x/blobs/uploads/") == 1


# --------------------------------------------------------------------------- someone else's crontab

FOREIGN = b'MAILTO=""\n# caf\xe9 na\xefve \x85 (Latin-1)\n0 3 * * * /usr/local/bin/backup \xff\r\n'
CRONTAB = """#!/bin/sh
# crontab(1)'s interface over a file, byte for byte as crontab -l prints what it stores
# (no real user's crontab on a shared machine: tests/targets/test_cron_daemon.py has that).
case "$1" in
  -l) [ -f "$FAKE_CRONTAB" ] || { echo "no crontab for $(id -un)" >&2; exit 1; }
      cat "$FAKE_CRONTAB" ;;
  -) cat > "$FAKE_CRONTAB" ;;
esac
"""


def test_schedule_keeps_foreign_crontab_lines_byte_for_byte(base: Base, tmp_path: Path) -> None:
    """`schedule` then `schedule remove`: the user's lines, in Latin-1, come back exact."""
    root = _copy(base, tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "crontab").write_text(CRONTAB)
    (bin_dir / "crontab").chmod(0o755)
    table = tmp_path / "table"
    table.write_bytes(FOREIGN)
    env = {"FAKE_CRONTAB": str(table), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    added = labship("schedule", "hello", "--cron", "0 4 * * *", cwd=root, env=env)
    assert added.returncode == 0, added.stderr
    assert table.read_bytes().startswith(FOREIGN)
    assert b"# labship:" in table.read_bytes()[len(FOREIGN) :]
    removed = labship("schedule", "remove", "hello", cwd=root, env=env)
    assert removed.returncode == 0, removed.stderr
    assert table.read_bytes() == FOREIGN


def test_a_read_only_store_is_one_line_naming_it(base: Base, tmp_path: Path) -> None:
    """LABSHIP_STORE on a read-only mount (root cannot write it either): 74, its path."""
    root = _copy(base, tmp_path)
    store = tmp_path / "store"
    store.mkdir()
    with read_only(store):
        proc = labship("-q", "run", cwd=root, env={"LABSHIP_STORE": str(store)})
    assert proc.returncode == 74, proc.stderr
    assert proc.stderr.splitlines() == [
        f"labship: error: the environment store {store} (LABSHIP_STORE) cannot be used: "
        f"Read-only file system ({store / 'projects'}); the file system is read-only: remount "
        "it read-write or work on a copy; set LABSHIP_STORE to a folder you can write"
    ]
