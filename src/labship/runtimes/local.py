"""The local runtime: jobs and JupyterLab in uv virtual environments from the store."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> Venv:
        lock_hash = lock.hash(dev=dev)
        # Registered before the build: a concurrent gc then keeps what is being made.
        self.store.register(project.root, self.store.env_path(lock_hash))

        def check(env: Path) -> None:  # a new environment, before it is put in place
            from labship.envcheck import check_environment

            check_environment(project, lock, env, dev=dev)

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
        variables = self._environment(
            env, profile, {"LABSHIP_PROFILE": profile.name, "JUPYTER_TOKEN": token}
        )
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
        if not detach:
            console.say(f"JupyterLab at {info.url} (token: JUPYTER_TOKEN in .env_{profile.name})")
            with self.store.in_use(env.path):
                run_foreground(argv, env=variables, cwd=project.root, what="JupyterLab")
            return info
        self._start_detached(project, argv, variables, info, token)
        return info

    def _start_detached(
        self, project: Project, argv: list[str], env: dict[str, str], info: LabInfo, token: str
    ) -> None:
        from labship.atomicfile import write_error
        from labship.runtimes.lab import wait_ready, write_record

        log = project.state_dir / "lab.log"
        try:
            project.state_dir.mkdir(exist_ok=True)
            out = open(log, "ab")  # noqa: SIM115 - closed right after the start
        except OSError as exc:
            raise write_error(exc, log, "JupyterLab was not started") from None
        with out:
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=project.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        try:
            wait_ready(info.port, token, alive=lambda: proc.poll() is None, log=log)
            write_record(project, info, {"pid": proc.pid, "start": procinfo.start_time(proc.pid)})
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
        pid, start = record.handle.get("pid"), record.handle.get("start")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 1:
            return None
        if not isinstance(start, str) or procinfo.start_time(pid) != start:
            return None
        if not procinfo.leads_group(pid):
            return None  # killpg(pid) would signal no lab, or a group that is not ours
        return record.info, pid

    def lab_running(self, project: Project) -> LabInfo | None:
        found = self._lab_pid(project)
        return found[0] if found else None

    def stop(self, project: Project, *, console: Console) -> bool:
        from labship.runtimes.lab import clear_record, read_record

        found = self._lab_pid(project)
        record = read_record(project)
        if record is not None and record.info.runtime == self.name:
            clear_record(project)
        if found is None:
            return False
        pid = found[1]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
            if not wait_until(lambda: not procinfo.alive(pid), timeout=10, interval=0.1):
                os.killpg(pid, signal.SIGKILL)
        return True

    def shell(self, project: Project, env: Venv, profile: Profile, *, console: Console) -> int:
        variables = self._environment(env, profile, {"LABSHIP_PROFILE": profile.name})
        shell = shutil.which("bash") or "/bin/sh"
        with self.store.in_use(env.path):
            return run_foreground([shell], env=variables, cwd=project.root, what="shell").exit_code


def _warn_missing_system_packages(project: Project, console: Console) -> None:
    """Images get ``[docker] system_packages`` by apt; here labship only says what is missing."""
    from labship.tools import dpkg

    wanted = project.settings.system_packages
    missing = dpkg.missing(wanted)
    if missing:
        console.warn(
            f"system packages missing on this machine: {', '.join(missing)} "
            f"(labship.toml [docker] system_packages); install them: "
            f"{dpkg.install_hint(missing)}"
        )
    elif missing is None and wanted:
        console.warn(f"cannot check system packages here (no dpkg): {', '.join(wanted)}")
