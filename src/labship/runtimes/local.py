"""The local runtime: jobs and JupyterLab in uv virtual environments from the store."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labship import state
from labship.runtimes.base import Environment, LabInfo
from labship.store import Store
from labship.tools import procinfo
from labship.tools.process import Ended, run_foreground, wait_until

if TYPE_CHECKING:
    from labship.console import Console
    from labship.locking import Lock
    from labship.profiles import Profile
    from labship.project import Job, Project


@dataclass(frozen=True)
class Venv(Environment):
    path: Path


class LocalRuntime:
    name = "local"
    runs_images = False
    tracks_jobs = True  # a dev job reaches the lab's MLflow server on 127.0.0.1

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> Venv:
        lock_hash = lock.hash(dev=dev)
        # Registered before the build: a concurrent gc then keeps what is being made.
        self.store.register(project.root, self.store.env_path(lock.env_key(dev=dev)))

        def check(env: Path) -> None:  # a new environment, before it is put in place
            from labship.envcheck import check_environment
            from labship.store import native_variables

            native = native_variables(env, os.environ.get("LD_LIBRARY_PATH"))
            check_environment(project, lock, env, dev=dev, native=native, console=console)

        path, created = self.store.ensure(lock, dev=dev, console=console, check=check)
        _warn_missing_system_packages(project, lock, console, new=created)
        return Venv(self.name, lock_hash, dev, created, path)

    def _environment(self, env: Venv, profile: Profile, extra: dict[str, str]) -> dict[str, str]:
        from labship.profiles import job_environment
        from labship.store import native_variables

        paths, native = native_variables(env.path, profile.values.get("LD_LIBRARY_PATH"))
        return job_environment(
            profile,
            extra={"VIRTUAL_ENV": str(env.path), "LABSHIP_RUNTIME": self.name, **native, **extra},
            path_prefix=[str(env.path / "bin"), *paths],
        )

    def run(
        self, project: Project, env: Venv, job: Job, profile: Profile, *, console: Console
    ) -> Ended:
        variables = self._environment(
            env, profile, {"LABSHIP_PROFILE": profile.name, "LABSHIP_JOB": job.name}
        )
        # subprocess finds argv[0] on the child's PATH (the environment's bin/ first).
        with self.store.in_use(env.path):
            ended = run_foreground(
                job.argv,
                env=variables,
                cwd=project.root,
                what=f"job {job.name!r}",
                grace=job.stop_timeout,
            )
        if ended.killed:
            console.warn(
                f"job {job.name!r} did not stop within {job.stop_timeout} s of the signal "
                "(its stop_timeout); it was killed (SIGKILL)"
            )
        return ended

    def lab(
        self,
        project: Project,
        env: Venv,
        profile: Profile,
        *,
        port: int,
        token: str,
        detach: bool,
        console: Console,
    ) -> LabInfo:
        from labship.runtimes.session import session

        parts = _LocalLab(self, project, env, profile, token, console)
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

    def _lab_pid(self, project: Project) -> tuple[LabInfo, int] | None:
        """The recorded lab and its pid, only while that pid is still the process labship
        started (same start time) and leads its own process group, as a lab labship
        starts does: a reused pid, or one written into the record, is never signalled."""
        from labship.runtimes.lab import read_record

        record = read_record(project)
        if record is None or record.info.runtime != self.name:
            return None
        pid = _own_group(record.handle)
        return (record.info, pid) if pid is not None else None

    def lab_running(self, project: Project) -> LabInfo | None:
        found = self._lab_pid(project)
        return found[0] if found else None

    def tracking_running(self, project: Project) -> str | None:
        found = self._tracking_pid(project)
        return found[0] if found else None

    def _tracking_pid(self, project: Project) -> tuple[str, int] | None:
        """The recorded tracking server's URI and pid, on the same terms as the lab's."""
        from labship.runtimes.lab import read_record

        record = read_record(project)
        if record is None or record.info.runtime != self.name or not record.info.tracking_uri:
            return None
        handle = record.handle.get("tracking")
        pid = _own_group(handle) if isinstance(handle, dict) else None
        return (record.info.tracking_uri, pid) if pid is not None else None

    def stop(self, project: Project, *, console: Console) -> bool:
        from labship.runtimes.lab import clear_record, read_record

        found = self._lab_pid(project)
        server = self._tracking_pid(project)
        record = read_record(project)
        if record is not None and record.info.runtime == self.name:
            clear_record(project)
        if found is not None:
            _stop_group(found[1], grace=10)
        if server is not None:  # its workers too: the whole process group
            _stop_group(server[1], grace=10)
            console.say(f"MLflow tracking server stopped ({server[0]})")
        return found is not None or server is not None

    def shell(self, project: Project, env: Venv, profile: Profile, *, console: Console) -> int:
        variables = self._environment(env, profile, {"LABSHIP_PROFILE": profile.name})
        import shutil

        shell = shutil.which("bash") or "/bin/sh"
        with self.store.in_use(env.path):
            return run_foreground([shell], env=variables, cwd=project.root, what="shell").exit_code


class _LocalLab:
    """The local runtime's part of a lab session (``runtimes.lab.session``): processes in
    their own sessions, from the dev environment."""

    def __init__(
        self,
        runtime: LocalRuntime,
        project: Project,
        env: Venv,
        profile: Profile,
        token: str,
        console: Console,
    ) -> None:
        self.runtime, self.project, self.env, self.profile = runtime, project, env, profile
        self.token, self.console = token, console
        self.server: subprocess.Popen[bytes] | None = None

    def handle(self) -> dict[str, object]:
        return {}

    def _argv(self, port: int) -> list[str]:
        argv = [
            str(self.env.path / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.project.root}",
        ]
        if os.geteuid() == 0:  # containers and CI run as root; jupyter refuses without it
            argv.append("--allow-root")
        return argv

    def start_tracking(self, port: int) -> tuple[dict[str, object], str]:
        """``mlflow server`` from the dev environment in its own session (stopping it
        stops its workers too), on 127.0.0.1; returns once it answers ``/health``."""
        from dataclasses import replace

        from labship.runtimes import tracking

        folder = tracking.ensure_data_dir(self.project)
        log = state.of(self.project).mlflow_log
        argv = [
            str(self.env.path / "bin" / "mlflow"),
            *tracking.server_args(host="127.0.0.1", port=port, folder=str(folder)),
        ]
        # The server gets the base environment only: the profile's values are the jobs'.
        variables = self.runtime._environment(
            self.env, replace(self.profile, values={}), tracking.server_environment(os.environ)
        )
        proc = _spawn_logged(argv, variables, folder, log, "the tracking server")
        uri = f"http://127.0.0.1:{port}"
        try:
            tracking.wait_healthy(uri, alive=lambda: proc.poll() is None, where=str(log))
        except BaseException:
            _stop_group(proc.pid, grace=0, child=proc)
            raise
        self.server = proc
        return _identity(proc.pid), uri

    def stop_tracking(self, handle: object) -> None:
        if self.server is not None:
            _stop_group(self.server.pid, grace=10, child=self.server)

    def start_detached(
        self, extra: dict[str, str], info: LabInfo, handle: dict[str, object]
    ) -> dict[str, object]:
        from labship.runtimes.lab import wait_ready

        log = state.of(self.project).lab_log
        variables = self.runtime._environment(self.env, self.profile, extra)
        proc = _spawn_logged(self._argv(info.port), variables, self.project.root, log, "JupyterLab")
        try:
            wait_ready(info.port, self.token, alive=lambda: proc.poll() is None, log=log)
        except BaseException:  # not answering, or labship interrupted: leave no orphan
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        return _identity(proc.pid)

    def run_foreground(
        self, extra: dict[str, str], info: LabInfo, handle: dict[str, object]
    ) -> None:
        variables = self.runtime._environment(self.env, self.profile, extra)
        self.console.say(
            f"JupyterLab at {info.url} (token: JUPYTER_TOKEN in .env_{self.profile.name})"
        )
        with self.runtime.store.in_use(self.env.path):
            run_foreground(
                self._argv(info.port), env=variables, cwd=self.project.root, what="JupyterLab"
            )

    def discard(self, handle: dict[str, object]) -> None:
        return None  # a detached start that failed killed its own process


def _spawn_logged(
    argv: list[str], env: dict[str, str], cwd: Path, log: Path, what: str
) -> subprocess.Popen[bytes]:
    """``argv`` started in its own session, its output appended to ``log``."""
    from labship.atomicfile import write_error

    try:
        log.parent.mkdir(exist_ok=True)
        out = open(log, "ab")  # noqa: SIM115 - closed right after the start
    except OSError as exc:
        raise write_error(exc, log, f"{what} was not started") from None
    with out:
        return subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


def _identity(pid: int) -> dict[str, object]:
    return {"pid": pid, "start": procinfo.start_time(pid)}


def _own_group(handle: Mapping[str, object]) -> int | None:
    """The pid in ``handle`` while it is still the process labship started (same start
    time) and leads its own process group; else None (never signalled)."""
    pid, start = handle.get("pid"), handle.get("start")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
        return None
    if not isinstance(start, str) or procinfo.start_time(pid) != start:
        return None
    if not procinfo.leads_group(pid):
        return None  # killpg(pid) would signal no lab, or a group that is not ours
    return pid


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(pgid: int, *, grace: float, child: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM to the whole group, SIGKILL after ``grace`` s if any process of it is left.
    ``child``: the leader when it is this process's child, reaped so it does not linger."""

    def gone() -> bool:
        if child is not None:
            child.poll()
        return not _group_alive(pgid)

    with contextlib.suppress(ProcessLookupError):
        if grace > 0:
            os.killpg(pgid, signal.SIGTERM)
            if wait_until(gone, timeout=grace, interval=0.1):
                return
        os.killpg(pgid, signal.SIGKILL)
    if child is not None:
        child.wait()


def _warn_missing_system_packages(
    project: Project, lock: Lock, console: Console, *, new: bool
) -> None:
    """Images get ``[docker] system_packages`` by apt, and the Debian packages of native
    conda packages a kept distribution loads (``Spec.system_packages``, read only when the
    environment is new: a warm run reads no spec); here labship only says what is
    missing, less what the environment's conda prefix provides."""
    wanted_list = list(project.settings.system_packages)
    if new and lock.conda is None:  # with [conda], natives come from the conda lock
        from labship.spec import system_packages

        wanted_list += [p for p in system_packages(project) if p not in wanted_list]
    if not wanted_list:
        return
    from labship.tools import dpkg

    native = {r.name for r in lock.conda.records} if lock.conda is not None else set()
    wanted = tuple(p for p in wanted_list if p not in native)
    missing = dpkg.missing(wanted)
    if missing:
        console.warn(
            f"system packages missing on this machine: {', '.join(missing)} "
            f"(labship.toml [docker] system_packages, or native packages of "
            f"{project.settings.spec}); install them: {dpkg.install_hint(missing)}"
        )
    elif missing is None and wanted:
        console.warn(f"cannot check system packages here (no dpkg): {', '.join(wanted)}")
