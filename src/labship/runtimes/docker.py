"""The ``docker`` runtime: jobs in the prod image, JupyterLab and shells in the dev image.

Why it is shaped this way:

- **Values never reach a command line.** ``docker create -e KEY`` names a variable and the
  docker client copies its value from its *own* environment, which we set. That is exact
  (quotes, ``#``, newlines survive; ``--env-file`` would not parse quotes) and keeps
  secrets out of ``ps`` and out of error messages. Keys the docker client itself reads
  (``DOCKER_*``, ``PATH``, ``HOME``, proxies) would steer the client, so when the profile
  gives them another value they go through a 0600 env-file deleted right after.
- **The same variables as the local runtime**: the profile's values plus
  ``LABSHIP_PROFILE`` / ``LABSHIP_JOB``. The host-only base (``PATH``, ``HOME``, ``LANG``,
  proxies, CA paths...) is not passed: the image has its own, and the caller's shell
  never leaks in (compose's ``env_file:`` gives exactly the same set).
- **create, then start -a** instead of ``docker run``: docker's own failures (bad image,
  name clash, daemon errors: ``docker run``'s exit 125) happen at create, where we capture
  the message for a ToolError; the job's output then streams straight to our stdout and
  stderr, and ``start -a`` returns the container's exit code.
- **Signals**: docker runs in its own session, and labship forwards SIGINT/SIGTERM/SIGHUP
  to it exactly once; a non-TTY ``docker start -a`` proxies them to the container, whose
  PID 1 is tini (both images' ENTRYPOINT), which hands them to the job.
  A ``finally`` removes the container if it is still there, so a killed labship does not
  leave one running.
- **stdin**: a job gets ``-i`` only when stdin is a pipe or a file (``labship run J <
  x.csv`` works as on the local runtime; cron's /dev/null gives EOF). A terminal is not
  attached: a batch job without ``-t`` cannot use it well, and ``labship run &`` would stop
  on SIGTTIN. ``labship shell`` is the interactive one.
- **prod images are always (re)built** before a run: code is baked in, so the image for a
  lock is only right for one state of code/ and notebooks/. BuildKit's cache makes an
  unchanged build about a second; hashing the context ourselves would duplicate what
  ``images`` puts in it and risk running stale code. The dev image has no code in it and
  is built only when its tag (keyed by the dev lock hash) is missing.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import secrets
import signal
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from labship.errors import ProfileError, ToolError
from labship.runtimes.base import LabInfo, Prepared
from labship.runtimes.labstate import (
    clear_state,
    ensure_port_free,
    port_in_use,
    read_state,
    ready,
    write_state,
)
from labship.tools.docker import container_exists, inspect_image

if TYPE_CHECKING:
    from labship.console import Console
    from labship.lock import Lock
    from labship.profiles import Profile
    from labship.project import Job, Project
    from labship.targets.image import Target
    from labship.tools.process import ToolResult

APP_DIR = "/app"
VENV_BIN = "/opt/venv/bin"
MOUNTED = ("code", "data", "notebooks")
LAB_COMMAND = (
    "jupyter",
    "lab",
    "--ip=0.0.0.0",
    "--port=8888",
    "--no-browser",
    f"--ServerApp.root_dir={APP_DIR}",
)
SHELL_COMMAND = ("sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi")
LABEL = "org.labship"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")
# Variables the docker client reads for itself: a profile value for them must not steer it.
_CLIENT_KEYS = frozenset(
    {
        "PATH",
        "HOME",
        "TMPDIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "all_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    }
)


@dataclass(frozen=True)
class ContainerEnv:
    """A container's variables split by how they reach docker: never via argv values."""

    values: Mapping[str, str]
    client_env: Mapping[str, str]
    via_file: Mapping[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [key for key in self.values if key not in self.via_file]


def container_environment(profile: Profile, extra: Mapping[str, str]) -> dict[str, str]:
    """What a container gets: the profile plus ``extra``, as ``job_environment`` builds it,
    minus the host-only base variables the profile did not set itself."""
    from labship.profiles import BASE_VARIABLES, job_environment

    env = job_environment(profile, extra=extra, caller_env={})
    own = profile.values.keys() | extra.keys()
    env = {k: v for k, v in env.items() if k not in BASE_VARIABLES or k in own}
    if "PATH" in env:
        # A profile's PATH must not hide the venv: the local runtime puts it first too.
        env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    return env


def split_environment(
    values: Mapping[str, str], caller: Mapping[str, str] | None = None
) -> ContainerEnv:
    """Route each value: through the client's environment (exact), or, for a key the
    docker client itself reads and whose value differs, through a private env-file."""
    base = dict(os.environ if caller is None else caller)
    client = dict(base)
    via_file: dict[str, str] = {}
    for key, value in values.items():
        steers_client = key.startswith("DOCKER_") or key in _CLIENT_KEYS
        if steers_client and base.get(key) != value:
            if "\n" in value or "\r" in value:
                raise ProfileError(
                    f"{key}: a multi-line value cannot be passed to a container for a "
                    "variable the docker client reads itself",
                    hint="rename the variable or make its value one line",
                )
            via_file[key] = value
        else:
            client[key] = value
    return ContainerEnv(values=dict(values), client_env=client, via_file=via_file)


@contextlib.contextmanager
def _env_args(env: ContainerEnv) -> Iterator[list[str]]:
    """``-e KEY`` for each key (names only), plus ``--env-file`` for the few that need it."""
    args: list[str] = []
    for key in env.names():
        args += ["-e", key]
    if not env.via_file:
        yield args
        return
    with tempfile.TemporaryDirectory(prefix="labship-env-") as tmp:
        path = Path(tmp) / "env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            # docker's env-file takes everything after the first '=' verbatim.
            fh.writelines(f"{k}={v}\n" for k, v in env.via_file.items())
        yield [*args, "--env-file", str(path)]


def container_name(project: Project, role: str) -> str:
    """``labship-<project>-<job>-<random>``: readable in ``docker ps``, unique per run."""
    safe = _NAME_UNSAFE.sub("-", role).strip("-.") or "job"
    return f"labship-{project.name}-{safe}-{secrets.token_hex(3)}"


def _labels(project: Project, **more: str) -> list[str]:
    items = {"project": project.name, "root": str(project.root), **more}
    return [arg for key, value in items.items() for arg in ("--label", f"{LABEL}.{key}={value}")]


def _mounts(project: Project) -> list[str]:
    """Bind mounts of code/ data/ notebooks/; missing folders are made so docker does not
    create them as root."""
    args: list[str] = []
    for folder in MOUNTED:
        source = project.root / folder
        source.mkdir(exist_ok=True)
        buf = io.StringIO()
        # --mount is CSV: quoting keeps a comma in the path from splitting the field.
        csv.writer(buf, lineterminator="").writerow(
            ["type=bind", f"source={source}", f"target={APP_DIR}/{folder}"]
        )
        args += ["--mount", buf.getvalue()]
    return args


def _stdin_is_data() -> bool:
    """True when stdin is a pipe or a file: worth giving to a batch job."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return not os.isatty(0) and (stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISCHR(mode))


def _stdin_is_tty() -> bool:
    try:
        return os.isatty(0)
    except OSError:
        return False


@contextlib.contextmanager
def _signals_handled(
    handler: Callable[[int, FrameType | None], object], signums: Iterable[int]
) -> Iterator[None]:
    """``handler`` for ``signums`` while the block runs (main thread only), then restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in signums}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _forwarder(
    proc: subprocess.Popen[bytes], received: list[int] | None = None
) -> Callable[[int, FrameType | None], None]:
    def forward(signum: int, _frame: FrameType | None) -> None:
        if received is not None:
            received.append(signum)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

    return forward


@contextlib.contextmanager
def _forward_signals(proc: subprocess.Popen[bytes]) -> Iterator[list[int]]:
    """Hand SIGINT/SIGTERM/SIGHUP to ``proc`` (the docker client) instead of dying."""
    received: list[int] = []
    with _signals_handled(_forwarder(proc, received), _FORWARDED):
        yield received


@contextlib.contextmanager
def _deferred_signals() -> Iterator[list[int]]:
    """Note SIGINT/SIGTERM/SIGHUP instead of dying while a container is being created, so
    the ``finally`` that removes it still runs."""
    received: list[int] = []
    with _signals_handled(lambda signum, _frame: received.append(signum), _FORWARDED):
        yield received


@contextlib.contextmanager
def _ignore_sigint() -> Iterator[None]:
    """While an interactive container owns the terminal, Ctrl-C is its business."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class DockerRuntime:
    """Runs a project's lab, jobs and shells in containers built from its lock."""

    name = "docker"

    def __init__(self, *, uid: int | None = None, gid: int | None = None) -> None:
        # Settable so tests (and rootless setups) can run the lab as another user.
        self.uid = os.getuid() if uid is None else uid
        self.gid = os.getgid() if gid is None else gid
        # One build per (project, target, lock) per process: api calls prepare, then run.
        self._prepared: dict[tuple[Path, str, str], tuple[Prepared, str]] = {}

    # ------------------------------------------------------------------ images

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> Prepared:
        """The image for ``lock``; dev only when missing, prod always (code is baked in)."""
        from labship.targets import image as images

        target: Target = "dev" if dev else "prod"
        key = (project.root, target, lock.hash(dev=dev))
        if key in self._prepared:
            return self._prepared[key][0]
        tag = images.tags(project, lock, target)[0]
        uid, gid = (self.uid, self.gid) if dev else (None, None)
        current = inspect_image(tag)
        before = current["Id"] if current else None
        # Dev has no code baked in: the lock alone names it. Prod is rebuilt only when
        # what it is made of changed (a no-op BuildKit build still costs ~0.5 s a run).
        fresh = current is not None and (
            dev
            or (current.get("Config") or {}).get("Labels", {}).get(images.CONTEXT_LABEL)
            == images.context_digest(project, lock, target, uid=uid, gid=gid)
        )
        if fresh and before is not None:
            prepared = Prepared(runtime=self.name, ref=tag, created=False)
            image_id = before
        else:
            built = images.build(project, lock, target, console=console, uid=uid, gid=gid)
            prepared = Prepared(
                runtime=self.name, ref=built.tags[0], created=built.image_id != before
            )
            image_id = built.image_id
        self._prepared[key] = (prepared, image_id)
        return prepared

    def image(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> str:
        """The exact image id to run: a tag could move under us (a concurrent build)."""
        self.prepare(project, lock, dev=dev, console=console)
        return self._prepared[(project.root, "dev" if dev else "prod", lock.hash(dev=dev))][1]

    # ------------------------------------------------------------------ jobs

    def run(
        self, project: Project, lock: Lock, job: Job, profile: Profile, *, console: Console
    ) -> int:
        """The job in a fresh prod container; its exit code, its output unbuffered by us."""
        image = self.image(project, lock, dev=False, console=console)
        values = container_environment(
            profile,
            {
                "LABSHIP_RUNTIME": self.name,
                "LABSHIP_PROFILE": profile.name,
                "LABSHIP_JOB": job.name,
            },
        )
        env = split_environment(values)
        name = container_name(project, job.name)
        stdin_data = _stdin_is_data()
        options = ["--rm", "--name", name, "--pull", "never"]
        options += _labels(project, kind="run", job=job.name, profile=profile.name)
        options += ["-i"] if stdin_data else []
        try:
            with _deferred_signals() as early, _env_args(env) as env_args:
                _docker(
                    ["create", *options, *env_args, image, *job.argv],
                    console,
                    env=env.client_env,
                )
            if early:  # stopped before the job began: do not start it
                return 128 + early[0]
            return self._attach(name, interactive=stdin_data, console=console)
        finally:
            self._remove(name, console)

    def _attach(self, name: str, *, interactive: bool, console: Console) -> int:
        argv = [_binary(), "start", "-a", *(["-i"] if interactive else []), name]
        proc = subprocess.Popen(
            argv,
            stdin=None if interactive else subprocess.DEVNULL,
            start_new_session=True,
        )
        with _forward_signals(proc) as received:
            return self._wait(proc, name, received, console)

    def _wait(
        self, proc: subprocess.Popen[bytes], name: str, received: list[int], console: Console
    ) -> int:
        """Wait for the docker client; once signalled, give the job STOP_TIMEOUT seconds
        (as ``docker stop`` does), or none after a second signal, then kill it: a client
        that dies does not stop its container, so labship must not leave before it."""
        deadline: float | None = None
        # A thread blocks in wait(): Popen.wait(timeout) polls with sleeps up to 50 ms,
        # which every run would pay; the event wakes us the moment the client exits.
        done = threading.Event()

        def reap() -> None:
            proc.wait()
            done.set()

        threading.Thread(target=reap, daemon=True).start()
        while True:
            if done.wait(timeout=0.2):
                return proc.returncode
            if not received:
                continue
            if deadline is None:
                deadline = time.monotonic() + STOP_TIMEOUT
            if len(received) > 1 or time.monotonic() > deadline:
                console.warn(f"the job did not stop; killing container {name}")
                _docker(["kill", name], _quiet(console), check=False)
                received.clear()
                deadline = None

    def _remove(self, name: str, console: Console) -> bool:
        """Remove ``name`` if it still exists; True if it did."""
        if container_exists(name) is False:  # the normal case after --rm: no CLI call
            return False
        # Quiet: "no such container" is the normal case after --rm.
        result = _docker(["rm", "-f", name], _quiet(console), check=False)
        return result.returncode == 0 and name in result.stdout

    # ------------------------------------------------------------------ lab

    def lab(
        self,
        project: Project,
        lock: Lock,
        profile: Profile,
        *,
        port: int,
        token: str,
        detach: bool,
        console: Console,
    ) -> LabInfo:
        """JupyterLab in the dev image, the project's folders mounted, on 127.0.0.1 only."""
        ensure_port_free(port)
        image = self.image(project, lock, dev=True, console=console)
        values = container_environment(
            profile,
            {"LABSHIP_RUNTIME": self.name, "LABSHIP_PROFILE": profile.name, "JUPYTER_TOKEN": token},
        )
        # The host user may not exist in the image's /etc/passwd: give it a writable HOME.
        values.setdefault("HOME", "/tmp")
        env = split_environment(values)
        name = container_name(project, "lab")
        url = f"http://127.0.0.1:{port}/lab"
        options = ["--name", name, "--pull", "never"]
        options += [*_labels(project, kind="lab", profile=profile.name)]
        options += ["--user", f"{self.uid}:{self.gid}", "-w", APP_DIR]
        options += ["-p", f"127.0.0.1:{port}:8888", *_mounts(project)]
        options += [] if detach else ["--rm"]
        mask = _mask_with(console, token)
        with _env_args(env) as env_args:
            # JupyterLab refuses uid 0 unless told; root on the host means root's files anyway.
            command = [*LAB_COMMAND, *(["--allow-root"] if self.uid == 0 else [])]
            _docker(["create", *options, *env_args, image, *command], mask, env=env.client_env)
        info = LabInfo(runtime=self.name, url=url, port=port, container=name)
        ok = False
        try:
            write_state(project, info)
            if detach:
                self._start_detached(name, port, token, mask)
            else:
                self._lab_foreground(name, port, token, url, mask)
            ok = detach
            return info
        finally:
            if not ok:  # foreground ended, or a detached start failed: leave nothing behind
                self._remove(name, console)
                clear_state(project)

    def _start_detached(self, name: str, port: int, token: str, console: Console) -> None:
        try:
            _docker(["start", name], console)
        except ToolError as exc:
            if "already allocated" in str(exc) or "address already in use" in str(exc):
                raise port_in_use(port) from None
            raise
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if ready(port, token):
                return
            if not self._running(name, console):
                break
            time.sleep(0.3)
        else:
            logs = self._logs(name, console)
            raise ToolError(
                console.mask(
                    f"JupyterLab did not answer on 127.0.0.1:{port} within "
                    f"{READY_TIMEOUT:.0f} s; container logs: {logs}"
                )
            )
        logs = self._logs(name, console)
        raise ToolError(console.mask(f"JupyterLab exited before it was ready; its logs: {logs}"))

    def _lab_foreground(self, name: str, port: int, token: str, url: str, console: Console) -> None:
        proc = subprocess.Popen(
            [_binary(), "start", "-a", name], stdin=subprocess.DEVNULL, start_new_session=True
        )
        with _forward_signals(proc) as received:
            deadline = time.monotonic() + READY_TIMEOUT
            while proc.poll() is None and not received and time.monotonic() < deadline:
                if ready(port, token):
                    console.say(
                        f"JupyterLab at {url} (token: JUPYTER_TOKEN in .env_dev; Ctrl-C stops it)"
                    )
                    break
                time.sleep(0.3)
            code = self._wait(proc, name, received, console)
        if code not in (0, 130, 143) and not received:
            raise ToolError(f"JupyterLab exited with code {code} (its output is above)")

    def _running(self, name: str, console: Console) -> bool:
        result = _docker(
            ["inspect", "--format", "{{.State.Running}}", name], _quiet(console), check=False
        )
        return result.stdout.strip() == "true"

    def _logs(self, name: str, console: Console) -> str:
        result = _docker(["logs", "--tail", "30", name], _quiet(console), check=False)
        lines = [ln.strip() for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
        return " | ".join(lines[-30:]) or "(none)"

    def stop(self, project: Project, *, console: Console) -> bool:
        """Stop and remove the lab container(s) of this project; False if there were none."""
        recorded = read_state(project)
        if recorded and recorded.get("runtime") not in (None, self.name):
            return False  # the local runtime's lab: not ours to stop
        names: list[str] = []
        container = recorded.get("container") if recorded else None
        if isinstance(container, str):
            names.append(container)
        found = _docker(
            [
                "ps",
                "-a",
                "--filter",
                f"label={LABEL}.root={project.root}",
                "--filter",
                f"label={LABEL}.kind=lab",
                "--format",
                "{{.Names}}",
            ],
            console,
            check=False,
        )
        names += [n for n in found.stdout.split() if n not in names]
        stopped = False
        for name in names:
            _docker(["stop", "-t", str(STOP_TIMEOUT), name], console, check=False)
            stopped = self._remove(name, console) or stopped
        clear_state(project)
        return stopped

    # ------------------------------------------------------------------ shell

    def shell(self, project: Project, lock: Lock, profile: Profile, *, console: Console) -> int:
        """bash (or sh) in the dev image, the project's folders mounted, as the host user."""
        image = self.image(project, lock, dev=True, console=console)
        values = container_environment(
            profile, {"LABSHIP_RUNTIME": self.name, "LABSHIP_PROFILE": profile.name}
        )
        values.setdefault("HOME", "/tmp")
        env = split_environment(values)
        name = container_name(project, "shell")
        options = ["--rm", "-i", *(["-t"] if _stdin_is_tty() else [])]
        options += ["--name", name, "--pull", "never"]
        options += [*_labels(project, kind="shell", profile=profile.name)]
        options += ["--user", f"{self.uid}:{self.gid}", "-w", APP_DIR, *_mounts(project)]
        try:
            with _env_args(env) as env_args:
                argv = [_binary(), "run", *options, *env_args, image, *SHELL_COMMAND]
                with _ignore_sigint():
                    proc = subprocess.Popen(argv, env=dict(env.client_env))
                    with _forward_signals_except_int(proc):
                        code = proc.wait()
            if code == 125:
                raise ToolError("docker could not start the shell container (its message is above)")
            return code
        finally:
            self._remove(name, console)


@contextlib.contextmanager
def _forward_signals_except_int(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """SIGTERM/SIGHUP to the interactive docker client; SIGINT stays ignored."""
    with _signals_handled(_forwarder(proc), (signal.SIGTERM, signal.SIGHUP)):
        yield


def _mask_with(console: Console, token: str) -> Console:
    return console.with_secrets([token]) if token else console


def _quiet(console: Console) -> Console:
    from labship.console import Console

    return Console(stream=console.stream, quiet=True, mask=console.mask)


def _binary() -> str:
    from labship.tools.docker import binary

    return binary()


def _docker(
    args: Sequence[str],
    console: Console,
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
) -> ToolResult:
    from labship.tools.docker import docker

    return docker(list(args), console=console, check=check, env=env)


__all__ = [
    "DockerRuntime",
    "container_environment",
    "container_name",
    "split_environment",
]
