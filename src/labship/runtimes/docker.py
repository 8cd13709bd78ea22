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
- **Images are built only when their inputs changed** (``images.build.ensure``): the
  prod image's ``org.labship.context`` label records the digest of what it is made of
  (Dockerfile, lock, files baked in, base, commit); the dev image's covers its lock,
  Dockerfile, base and build user. A no-op BuildKit build would still cost ~0.5 s a run.
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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import ProfileError, ToolError
from labship.images import container
from labship.runtimes.base import Environment, LabInfo
from labship.runtimes.lab import (
    clear_record,
    port_in_use,
    read_record,
    ready,
)
from labship.tools import docker as containers
from labship.tools.docker import create_container
from labship.tools.process import (
    STOP_GRACE,
    Ended,
    deferred_signals,
    forward_signals,
    signals_handled,
    wait,
    wait_until,
)

if TYPE_CHECKING:
    from labship.console import Console
    from labship.images.tags import Target
    from labship.locking import Lock
    from labship.profiles import Profile
    from labship.project import Job, Project
    from labship.tools.process import ToolResult

SHELL_COMMAND = ("sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi")
LABEL = "org.labship"
READY_TIMEOUT = 60.0
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
class Image(Environment):
    """An image made from the lock: its exact id (a tag could move under a running job)."""

    image_id: str
    tag: str


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
        env["PATH"] = f"{container.VENV_BIN}:{env['PATH']}"
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


def _label_map(project: Project, **more: str) -> dict[str, str]:
    items = {"project": project.name, "root": str(project.root), **more}
    return {f"{LABEL}.{key}": value for key, value in items.items()}


def _labels(project: Project, **more: str) -> list[str]:
    labels = _label_map(project, **more).items()
    return [arg for key, value in labels for arg in ("--label", f"{key}={value}")]


# What ``docker create -i`` asks of the engine: stdin kept open, attached once.
_STDIN_OPEN = {"AttachStdin": True, "OpenStdin": True, "StdinOnce": True}


def create_config(
    project: Project,
    image: Image,
    job: Job,
    values: Mapping[str, str],
    labels: Mapping[str, str],
    *,
    stdin: bool,
) -> dict[str, object]:
    """The engine API's body for what ``_create_with_cli`` asks of the docker client:
    ``create --rm --pull never --stop-timeout N --label ... [-i] -e KEY... IMAGE ARGV``
    (the API never pulls)."""
    return {
        "Image": image.image_id,
        "Cmd": list(job.argv),
        "Env": [f"{key}={value}" for key, value in values.items()],
        "Labels": _label_map(project, **labels),
        "StopTimeout": job.stop_timeout,
        "AttachStdout": True,
        "AttachStderr": True,
        **(_STDIN_OPEN if stdin else {}),
        "HostConfig": {"AutoRemove": True},
    }


def _mounts(project: Project) -> list[str]:
    """Bind mounts of code/ data/ notebooks/; missing folders are made so docker does not
    create them as root."""
    from labship.atomicfile import write_error

    args: list[str] = []
    for folder in container.MOUNTED:
        source = project.root / folder
        try:
            source.mkdir(exist_ok=True)
        except OSError as exc:  # a read-only or full project folder
            raise write_error(exc, source, "no container was started") from None
        buf = io.StringIO()
        # --mount is CSV: quoting keeps a comma in the path from splitting the field.
        csv.writer(buf, lineterminator="").writerow(
            ["type=bind", f"source={source}", f"target={container.APP_DIR}/{folder}"]
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
def _ignore_sigint() -> Iterator[None]:
    """While an interactive container owns the terminal, Ctrl-C is its business."""
    with signals_handled(lambda _signum, _frame: None, (signal.SIGINT,)):
        yield


class DockerRuntime:
    """Runs a project's lab, jobs and shells in containers built from its lock."""

    name = "docker"
    runs_images = True
    tracks_jobs = False  # the lab's MLflow server is on the host's 127.0.0.1, not the job's

    def __init__(self, *, uid: int | None = None, gid: int | None = None) -> None:
        # Settable so tests (and rootless setups) can run the lab as another user.
        self.uid = os.getuid() if uid is None else uid
        self.gid = os.getgid() if gid is None else gid

    # ------------------------------------------------------------------ images

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> Image:
        """The image for ``lock``: built only when what it is made of changed."""
        from labship.images import build as images

        target: Target = "dev" if dev else "prod"
        built = images.ensure(project, lock, target, console=console, uid=self.uid, gid=self.gid)
        tag = built.tags[0]
        return Image(self.name, lock.hash(dev=dev), dev, built.created, built.image_id, tag)

    # ------------------------------------------------------------------ jobs

    def run(
        self, project: Project, env: Image, job: Job, profile: Profile, *, console: Console
    ) -> Ended:
        """The job in a fresh prod container; its exit code, its output unbuffered by us."""
        values = container_environment(
            profile,
            {
                "LABSHIP_RUNTIME": self.name,
                "LABSHIP_PROFILE": profile.name,
                "LABSHIP_JOB": job.name,
            },
        )
        name = container_name(project, job.name)
        stdin_data = _stdin_is_data()
        labels = {"kind": "run", "job": job.name, "profile": profile.name}
        # A killed labship's container is stopped (stop_timeout, then killed) and removed
        # by the keeper, as the local runtime's job is: a docker client does neither.
        with containers.kept(name, grace=job.stop_timeout):
            return self._run(project, env, job, values, labels, name, stdin_data, console)

    def _run(
        self,
        project: Project,
        env: Image,
        job: Job,
        values: Mapping[str, str],
        labels: Mapping[str, str],
        name: str,
        stdin_data: bool,
        console: Console,
    ) -> Ended:
        try:
            with deferred_signals() as early:
                # The engine's API when it is reachable (no second docker client); the CLI
                # else. Both: --rm, --pull never, --stop-timeout for a `docker stop` by anyone.
                config = create_config(project, env, job, values, labels, stdin=stdin_data)
                created = create_container(name, config, console=console)
                if created is None:
                    self._create_with_cli(
                        project, name, env, job, values, labels, stdin_data, console
                    )
            if early:  # stopped before the job began: do not start it
                return Ended(128 + early[0], early[0])
            return containers.attach(
                name,
                grace=job.stop_timeout,
                what="the job",
                console=console,
                interactive=stdin_data,
            )
        finally:
            containers.remove(name, console=console)

    def _create_with_cli(
        self,
        project: Project,
        name: str,
        env: Image,
        job: Job,
        values: Mapping[str, str],
        labels: Mapping[str, str],
        stdin_data: bool,
        console: Console,
    ) -> None:
        split = split_environment(values)
        options = ["--rm", "--name", name, "--pull", "never"]
        options += ["--stop-timeout", str(job.stop_timeout)]
        options += _labels(project, **labels)
        options += ["-i"] if stdin_data else []
        with _env_args(split) as env_args:
            _docker(
                ["create", *options, *env_args, env.image_id, *job.argv],
                console,
                env=split.client_env,
            )

    # ------------------------------------------------------------------ lab

    def lab(
        self,
        project: Project,
        env: Image,
        profile: Profile,
        *,
        port: int,
        token: str,
        detach: bool,
        console: Console,
    ) -> LabInfo:
        """JupyterLab in the dev image, the project's folders mounted, on 127.0.0.1 only;
        with ``[services] mlflow``, MLflow's tracking server beside it in its own container
        (the same image, the host user, the store in ``.labship/mlflow``), the two on a
        network of their own, where the lab reaches it as ``http://mlflow:5000``."""
        from labship.runtimes.session import session

        parts = _DockerLab(self, project, env, profile, token, console)
        return session(
            project,
            profile,
            parts,
            runtime=self.name,
            port=port,
            token=token,
            detach=detach,
            console=console,
        )

    def _start_tracking(
        self, project: Project, env: Image, port: int, console: Console
    ) -> dict[str, str]:
        """The tracking server's container, on a new network, answering on 127.0.0.1:port;
        its handle (container and network names)."""
        from labship.runtimes import tracking

        folder = tracking.ensure_data_dir(project)
        name = container_name(project, "mlflow")
        network = name  # one network per lab: the lab and its server, nothing else
        handle = {"container": name, "network": network}
        quiet = containers.quiet(console)
        _docker(["network", "create", *_labels(project, kind="lab"), network], quiet)
        try:
            mount = io.StringIO()
            csv.writer(mount, lineterminator="").writerow(
                ["type=bind", f"source={folder}", f"target={container.MLFLOW_DATA}"]
            )
            options = ["--pull", "never", *_labels(project, kind="mlflow")]
            options += ["--user", f"{self.uid}:{self.gid}", "-e", "HOME=/tmp"]
            for key, value in tracking.server_environment(os.environ).items():
                options += ["-e", f"{key}={value}"]
            options += ["--network", network, "--network-alias", container.MLFLOW_HOST]
            options += ["--mount", mount.getvalue()]
            options += ["-p", f"127.0.0.1:{port}:{container.MLFLOW_PORT}"]
            command = tracking.container_command()
            _docker(["create", "--name", name, *options, env.image_id, *command], console)
            try:
                containers.start(name, console=console)
            except ToolError as exc:
                if "already allocated" in str(exc) or "address already in use" in str(exc):
                    raise tracking.port_taken(port) from None
                raise
            url = f"http://127.0.0.1:{port}"
            try:
                tracking.wait_healthy(
                    url,
                    alive=lambda: containers.running(name, console=console),
                    where=f"docker logs {name}",
                )
            except ToolError:
                logs = containers.logs(name, console=console)
                raise ToolError(
                    f"the MLflow tracking server did not start; its logs: {logs}"
                ) from None
        except BaseException:
            self._stop_tracking(handle, console)
            raise
        return handle

    def _stop_tracking(self, handle: object, console: Console) -> bool:
        """Remove the tracking server's container and its network; True if it was there."""
        if not isinstance(handle, dict):
            return False
        name, network = handle.get("container"), handle.get("network")
        removed = False
        if isinstance(name, str) and name.startswith("labship-"):
            containers.stop(name, grace=STOP_GRACE, console=containers.quiet(console))
            removed = containers.remove(name, console=console)
        if isinstance(network, str) and network.startswith("labship-"):
            _docker(["network", "rm", network], containers.quiet(console), check=False)
        return removed

    def _interactive_options(
        self, project: Project, kind: str, profile: Profile, values: dict[str, str]
    ) -> list[str]:
        """What lab and shell containers share: the host user, /app, the mounts."""
        # The host user may not exist in the image's /etc/passwd: give it a writable HOME.
        values.setdefault("HOME", "/tmp")
        options = ["--pull", "never", *_labels(project, kind=kind, profile=profile.name)]
        options += ["--user", f"{self.uid}:{self.gid}", "-w", container.APP_DIR]
        return [*options, *_mounts(project)]

    def _start_detached(self, name: str, port: int, token: str, console: Console) -> None:
        try:
            containers.start(name, console=console)
        except ToolError as exc:
            if "already allocated" in str(exc) or "address already in use" in str(exc):
                raise port_in_use(port) from None
            raise
        up = wait_until(
            lambda: ready(port, token),
            alive=lambda: containers.running(name, console=console),
            timeout=READY_TIMEOUT,
        )
        if up:
            return
        logs = containers.logs(name, console=console)
        why = (
            f"did not answer on 127.0.0.1:{port} within {READY_TIMEOUT:.0f} s"
            if containers.running(name, console=console)
            else "exited before it was ready"
        )
        raise ToolError(console.mask(f"JupyterLab {why}; container logs: {logs}"))

    def _lab_foreground(self, name: str, info: LabInfo, token: str, console: Console) -> None:
        proc = containers.start_attached(name)
        with containers.kept(name, grace=STOP_GRACE), forward_signals(proc) as received:
            up = wait_until(
                lambda: ready(info.port, token),
                alive=lambda: proc.poll() is None and not received,
                timeout=READY_TIMEOUT,
            )
            if up:
                console.say(
                    f"JupyterLab at {info.url} (token: JUPYTER_TOKEN in .env_dev; Ctrl-C stops it)"
                )
            signalled = bool(received)
            kill = containers.killer(name, STOP_GRACE, "JupyterLab", console)
            code = wait(proc, received, kill=kill).exit_code
        if code not in (0, 130, 143) and not (signalled or received):
            raise ToolError(f"JupyterLab exited with code {code} (its output is above)")

    def _lab_containers(self, project: Project, kind: str = "lab") -> list[str]:
        """This project's lab (or ``mlflow``) containers, found by the labels labship gave
        them."""
        found = _docker(
            [
                "ps",
                "-a",
                "--filter",
                f"label={LABEL}.root={project.root}",
                "--filter",
                f"label={LABEL}.kind={kind}",
                "--format",
                "{{.Names}}",
            ],
            _quiet_console(),
            check=False,
        )
        return found.stdout.split()

    def lab_running(self, project: Project) -> LabInfo | None:
        record = read_record(project)
        if record is None or record.info.runtime != self.name:
            return None
        name = record.handle.get("container")
        if not isinstance(name, str) or name not in self._lab_containers(project):
            return None  # not a container labship made for this project: not ours
        return record.info

    def tracking_running(self, project: Project) -> str | None:
        record = read_record(project)
        if record is None or record.info.runtime != self.name or not record.info.tracking_uri:
            return None
        handle = record.handle.get("tracking")
        name = handle.get("container") if isinstance(handle, dict) else None
        if not isinstance(name, str) or name not in self._lab_containers(project, "mlflow"):
            return None
        return record.info.tracking_uri

    def stop(self, project: Project, *, console: Console) -> bool:
        """Stop and remove the lab container(s) of this project; False if there were none.
        Only containers labelled as this project's lab are touched, whatever the record says."""
        record = read_record(project)
        if record is not None and record.info.runtime != self.name:
            return False  # another runtime's lab: not ours to stop
        stopped = False
        for name in self._lab_containers(project):
            containers.stop(name, grace=STOP_GRACE, console=console)
            stopped = containers.remove(name, console=console) or stopped
        for name in self._lab_containers(project, "mlflow"):  # the tracking server, its network
            if self._stop_tracking({"container": name, "network": name}, console):
                console.say(f"MLflow tracking server stopped (container {name})")
                stopped = True
        clear_record(project)
        return stopped

    # ------------------------------------------------------------------ shell

    def shell(self, project: Project, env: Image, profile: Profile, *, console: Console) -> int:
        """bash (or sh) in the dev image, the project's folders mounted, as the host user."""
        values = container_environment(
            profile, {"LABSHIP_RUNTIME": self.name, "LABSHIP_PROFILE": profile.name}
        )
        name = container_name(project, "shell")
        options = ["--rm", "-i", *(["-t"] if _stdin_is_tty() else []), "--name", name]
        options += self._interactive_options(project, "shell", profile, values)
        split = split_environment(values)
        try:
            with _env_args(split) as env_args:
                argv = [_binary(), "run", *options, *env_args, env.image_id, *SHELL_COMMAND]
                with _ignore_sigint():
                    proc = subprocess.Popen(argv, env=dict(split.client_env))
                    # SIGTERM/SIGHUP to the interactive client; SIGINT stays the container's.
                    with forward_signals(proc, (signal.SIGTERM, signal.SIGHUP)):
                        code = proc.wait()
            if code == 125:
                raise ToolError("docker could not start the shell container (its message is above)")
            return code
        finally:
            containers.remove(name, console=console)


class _DockerLab:
    """The docker runtime's part of a lab session (``runtimes.lab.session``): containers of
    the dev image, the tracking server's on a network of its own."""

    def __init__(
        self,
        runtime: DockerRuntime,
        project: Project,
        env: Image,
        profile: Profile,
        token: str,
        console: Console,
    ) -> None:
        self.runtime, self.project, self.env, self.profile = runtime, project, env, profile
        self.token, self.console = token, console
        self.mask = console.with_secrets([token])
        self.name = container_name(project, "lab")

    def handle(self) -> dict[str, object]:
        return {"container": self.name}

    def start_tracking(self, port: int) -> tuple[dict[str, object], str]:
        from labship.runtimes import tracking

        served = self.runtime._start_tracking(self.project, self.env, port, self.console)
        return dict(served), tracking.container_uri()

    def stop_tracking(self, handle: object) -> None:
        self.runtime._stop_tracking(handle, self.console)

    def _create(
        self, extra: dict[str, str], info: LabInfo, handle: dict[str, object], *, detach: bool
    ) -> None:
        rt = self.runtime
        values = container_environment(self.profile, {"LABSHIP_RUNTIME": rt.name, **extra})
        options = [*rt._interactive_options(self.project, "lab", self.profile, values)]
        options += ["-p", f"127.0.0.1:{info.port}:{container.LAB_PORT}"]
        options += [] if detach else ["--rm"]
        served = handle.get("tracking")
        if isinstance(served, dict):
            options += ["--network", str(served["network"])]
        split = split_environment(values)
        with _env_args(split) as env_args:
            # JupyterLab refuses uid 0 unless told; root on the host means root's files.
            command = [*container.LAB_COMMAND, *(["--allow-root"] if rt.uid == 0 else [])]
            _docker(
                ["create", "--name", self.name, *options, *env_args, self.env.image_id, *command],
                self.mask,
                env=split.client_env,
            )

    def start_detached(
        self, extra: dict[str, str], info: LabInfo, handle: dict[str, object]
    ) -> dict[str, object]:
        self._create(extra, info, handle, detach=True)
        self.runtime._start_detached(self.name, info.port, self.token, self.mask)
        return {}

    def run_foreground(
        self, extra: dict[str, str], info: LabInfo, handle: dict[str, object]
    ) -> None:
        self._create(extra, info, handle, detach=False)
        self.runtime._lab_foreground(self.name, info, self.token, self.mask)

    def discard(self, handle: dict[str, object]) -> None:
        containers.remove(self.name, console=self.console)


def _quiet_console() -> Console:
    from labship.console import Console

    return Console(quiet=True)


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
    "Image",
    "container_environment",
    "container_name",
    "split_environment",
]
