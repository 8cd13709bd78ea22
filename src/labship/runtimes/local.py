"""The local runtime: jobs and JupyterLab in uv virtual environments from the store."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import UsageError
from labship.profiles import job_environment
from labship.runtimes.base import LabInfo, Prepared
from labship.runtimes.labstate import (
    clear_state,
    ensure_port_free,
    read_state,
    wait_ready,
    write_state,
)
from labship.store import Store

if TYPE_CHECKING:
    from labship.console import Console
    from labship.lock import Lock
    from labship.profiles import Profile
    from labship.project import Job, Project


class LocalRuntime:
    name = "local"

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()
        # The API prepares, then runs (which must also work alone): do the work once.
        self._prepared: dict[tuple[Path, str], Prepared] = {}

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> Prepared:
        key = (project.root, lock.hash(dev=dev))
        if key not in self._prepared:
            env, created = self.store.ensure(lock, dev=dev, console=console)
            self.store.register(project)
            _warn_missing_system_packages(project, console)
            self._prepared[key] = Prepared(runtime=self.name, ref=str(env), created=created)
        return self._prepared[key]

    def _environment(self, env: Path, profile: Profile, extra: dict[str, str]) -> dict[str, str]:
        return job_environment(
            profile,
            extra={"VIRTUAL_ENV": str(env), "LABSHIP_RUNTIME": self.name, **extra},
            path_prefix=[str(env / "bin")],
        )

    def run(
        self, project: Project, lock: Lock, job: Job, profile: Profile, *, console: Console
    ) -> int:
        env_dir = Path(self.prepare(project, lock, dev=False, console=console).ref)
        env = self._environment(
            env_dir, profile, {"LABSHIP_PROFILE": profile.name, "LABSHIP_JOB": job.name}
        )
        argv = list(job.argv)
        argv[0] = shutil.which(argv[0], path=env["PATH"]) or argv[0]
        with self.store.in_use(env_dir):
            return run_foreground(argv, env=env, cwd=project.root, what=f"job {job.name!r}")

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
        ensure_port_free(port)
        env_dir = Path(self.prepare(project, lock, dev=True, console=console).ref)
        env = self._environment(
            env_dir, profile, {"LABSHIP_PROFILE": profile.name, "JUPYTER_TOKEN": token}
        )
        argv = [
            str(env_dir / "bin" / "jupyter"),
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={project.root}",
        ]
        if os.geteuid() == 0:  # containers and CI run as root; jupyter refuses without it
            argv.append("--allow-root")
        url = f"http://127.0.0.1:{port}/lab"
        if not detach:
            console.say(f"JupyterLab at {url} (token: JUPYTER_TOKEN in .env_{profile.name})")
            with self.store.in_use(env_dir):
                run_foreground(argv, env=env, cwd=project.root, what="JupyterLab")
            return LabInfo(self.name, url, port)
        project.state_dir.mkdir(exist_ok=True)
        log = project.state_dir / "lab.log"
        with open(log, "ab") as out:
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
            wait_ready(port, token, alive=lambda: proc.poll() is None, log=log)
        except BaseException:  # not answering, or labship interrupted: leave no orphan
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        info = LabInfo(self.name, url, port, pid=proc.pid)
        write_state(project, info)
        return info

    def stop(self, project: Project, *, console: Console) -> bool:
        state = read_state(project)
        if state is None or state.get("runtime") != self.name:
            return False
        pid = int(state["pid"])
        try:
            os.killpg(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        clear_state(project)
        return True

    def shell(self, project: Project, lock: Lock, profile: Profile, *, console: Console) -> int:
        env_dir = Path(self.prepare(project, lock, dev=True, console=console).ref)
        env = self._environment(env_dir, profile, {"LABSHIP_PROFILE": profile.name})
        shell = shutil.which("bash") or "/bin/sh"
        with self.store.in_use(env_dir):
            return run_foreground([shell], env=env, cwd=project.root, what="shell")


def run_foreground(argv: list[str], *, env: dict[str, str], cwd: Path, what: str) -> int:
    """Run a child in the foreground, pass signals on, return its exit code.

    SIGTERM is always passed on. SIGINT reaches the child from the terminal by itself
    (same process group); it is passed on only when there is no terminal, e.g. when a
    scheduler signals labship's pid alone.
    """
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd)
    except FileNotFoundError:
        raise UsageError(
            f"{what}: command {argv[0]!r} not found in the environment",
            hint="check the command in labship.toml",
        ) from None
    except PermissionError:
        raise UsageError(f"{what}: {argv[0]!r} is not executable") from None
    interactive = sys.stdin.isatty()

    def forward(signum: int, _frame: object) -> None:
        if signum == signal.SIGINT and interactive:
            return
        proc.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code


def _warn_missing_system_packages(project: Project, console: Console) -> None:
    """Images get ``[docker] system_packages`` by apt; here labship only says what is missing."""
    from labship.tools import dpkg as syspkgs

    wanted = project.settings.system_packages
    missing = syspkgs.missing(wanted)
    if missing:
        console.warn(
            f"system packages missing on this machine: {', '.join(missing)} "
            f"(labship.toml [docker] system_packages); install them: "
            f"{syspkgs.install_hint(missing)}"
        )
    elif missing is None and wanted:
        console.warn(f"cannot check system packages here (no dpkg): {', '.join(wanted)}")
