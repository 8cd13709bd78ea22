"""The local runtime: jobs and JupyterLab in uv virtual environments from the store."""

from __future__ import annotations

import contextlib
import os
import shutil
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
    from labship.lock import Lock
    from labship.profiles import Profile
    from labship.project import Job, Project


@dataclass(frozen=True)
class Venv(Environment):
    path: Path


class LocalRuntime:
    name = "local"
    tracks_jobs = True  # a dev job reaches the lab's MLflow server on 127.0.0.1

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> Venv:
        lock_hash = lock.hash(dev=dev)
        # Registered before the build: a concurrent gc then keeps what is being made.
        self.store.register(project.root, self.store.env_path(lock_hash))

        def check(env: Path) -> None:  # a new environment, before it is put in place
            from labship.envcheck import check_environment

            check_environment(project, lock, env, dev=dev, console=console)

        path, created = self.store.ensure(lock, dev=dev, console=console, check=check)
        _warn_missing_system_packages(project, console)
        return Venv(self.name, lock_hash, dev, created, path)

    def _environment(self, env: Venv, profile: Profile, extra: dict[str, str]) -> dict[str, str]:
        from labship.profiles import job_environment

        return job_environment(
            profile,
            extra={"VIRTUAL_ENV": str(env.path), "LABSHIP_RUNTIME": self.name, **extra},
            path_prefix=[str(env.path / "bin")],
        )

    def run(
        self, project: Project, env: Venv, job: Job, profile: Profile, *, console: Console
    ) -> Ended:
        variables = self._environment(
            env, profile, {"LABSHIP_PROFILE": profile.name, "LABSHIP_JOB": job.name}
        )
        argv = list(job.argv)
        argv[0] = shutil.which(argv[0], path=variables["PATH"]) or argv[0]
        with self.store.in_use(env.path):
            ended = run_foreground(
                argv,
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
        from labship.runtimes.lab import ensure_port_free

        ensure_port_free(port)
        tracking_port = None
        if project.settings.mlflow:
            from labship.runtimes import tracking

            tracking_port = tracking.choose_port(project.settings.mlflow_port, avoid=port)
        extra = {"LABSHIP_PROFILE": profile.name, "JUPYTER_TOKEN": token}
        argv = [
            str(env.path / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={project.root}",
        ]
        if os.geteuid() == 0:  # containers and CI run as root; jupyter refuses without it
            argv.append("--allow-root")
        info = LabInfo(self.name, f"http://127.0.0.1:{port}/lab", port)
        server: subprocess.Popen[bytes] | None = None
        try:
            if tracking_port is not None:
                server, info = self._start_tracking(project, env, profile, info, tracking_port)
                if not profile.values.get("MLFLOW_TRACKING_URI"):  # never over the profile's
                    extra["MLFLOW_TRACKING_URI"] = str(info.tracking_uri)
                console.say(f"MLflow tracking server at {info.tracking_uri}")
            variables = self._environment(env, profile, extra)
            handle: dict[str, object] = {}
            if server is not None:
                handle["tracking"] = _identity(server.pid)
            if detach:
                self._start_detached(project, argv, variables, info, token, handle)
                return info
            if server is not None:  # so dev runs find the server while the lab runs
                from labship.runtimes.lab import write_record

                write_record(project, info, handle)
            console.say(f"JupyterLab at {info.url} (token: JUPYTER_TOKEN in .env_{profile.name})")
            with self.store.in_use(env.path):
                run_foreground(argv, env=variables, cwd=project.root, what="JupyterLab")
            return info
        except BaseException:
            detach = False  # nothing of a failed start stays up
            raise
        finally:
            if server is not None and not detach:
                from labship.runtimes.lab import clear_record

                _stop_group(server.pid, grace=10, child=server)
                clear_record(project)

    def _start_tracking(
        self, project: Project, env: Venv, profile: Profile, info: LabInfo, port: int
    ) -> tuple[subprocess.Popen[bytes], LabInfo]:
        """``mlflow server`` from the dev environment in its own session (stopping it
        stops its workers too), on 127.0.0.1; returns once it answers ``/health``."""
        from dataclasses import replace

        from labship.runtimes import tracking

        folder = tracking.ensure_data_dir(project)
        log = state.of(project).mlflow_log
        argv = [
            str(env.path / "bin" / "mlflow"),
            *tracking.server_args(host="127.0.0.1", port=port, folder=str(folder)),
        ]
        # The server gets the base environment only: the profile's values are the jobs'.
        variables = self._environment(
            env, replace(profile, values={}), tracking.server_environment(os.environ)
        )
        proc = _spawn_logged(argv, variables, folder, log, "the tracking server")
        uri = f"http://127.0.0.1:{port}"
        try:
            tracking.wait_healthy(uri, alive=lambda: proc.poll() is None, where=str(log))
        except BaseException:
            _stop_group(proc.pid, grace=0, child=proc)
            raise
        return proc, replace(info, tracking_uri=uri)

    def _start_detached(
        self,
        project: Project,
        argv: list[str],
        env: dict[str, str],
        info: LabInfo,
        token: str,
        handle: dict[str, object],
    ) -> None:
        from labship.runtimes.lab import wait_ready, write_record

        log = state.of(project).lab_log
        proc = _spawn_logged(argv, env, project.root, log, "JupyterLab")
        try:
            wait_ready(info.port, token, alive=lambda: proc.poll() is None, log=log)
            write_record(project, info, {**_identity(proc.pid), **handle})
        except BaseException:  # not answering, or labship interrupted: leave no orphan
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise

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
        shell = shutil.which("bash") or "/bin/sh"
        with self.store.in_use(env.path):
            return run_foreground([shell], env=variables, cwd=project.root, what="shell").exit_code


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


def _warn_missing_system_packages(project: Project, console: Console) -> None:
    """Images get ``[docker] system_packages`` by apt, and the Debian packages of native
    conda packages a kept distribution loads (``Spec.system_packages``); here labship
    only says what is missing."""
    from labship.spec import system_packages
    from labship.tools import dpkg

    wanted = list(project.settings.system_packages)
    wanted += [p for p in system_packages(project) if p not in wanted]
    missing = dpkg.missing(wanted)
    if missing:
        console.warn(
            f"system packages missing on this machine: {', '.join(missing)} "
            f"(labship.toml [docker] system_packages, or native packages of "
            f"{project.settings.spec}); install them: {dpkg.install_hint(missing)}"
        )
    elif missing is None and wanted:
        console.warn(f"cannot check system packages here (no dpkg): {', '.join(wanted)}")
