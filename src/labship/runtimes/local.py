"""The local runtime: jobs and JupyterLab in uv virtual environments from the store."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.errors import PortInUse, ToolError, UsageError
from labship.profiles import job_environment
from labship.runtimes.base import LabInfo, Prepared
from labship.store import Store

if TYPE_CHECKING:
    from labship.console import Console
    from labship.lock import Lock
    from labship.profiles import Profile
    from labship.project import Job, Project

LAB_STATE = "lab.json"


class LocalRuntime:
    name = "local"

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or Store()

    def prepare(self, project: Project, lock: Lock, *, dev: bool, console: Console) -> Prepared:
        env, created = self.store.ensure(lock, dev=dev, console=console)
        self.store.register(project)
        return Prepared(runtime=self.name, ref=str(env), created=created)

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
            wait_for_lab(port, token, alive=lambda: proc.poll() is None, log=log)
        except BaseException:  # not answering, or labship interrupted: leave no orphan
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        info = LabInfo(self.name, url, port, pid=proc.pid)
        write_lab_state(project, info)
        return info

    def stop(self, project: Project, *, console: Console) -> bool:
        state = read_lab_state(project)
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
        (project.state_dir / LAB_STATE).unlink(missing_ok=True)
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


def ensure_port_free(port: int) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise PortInUse(
                f"port {port} on 127.0.0.1 is already in use",
                hint="stop what uses it, or pick another: labship lab --port N "
                "(or [lab] port in labship.toml)",
            ) from None


def wait_for_lab(
    port: int,
    token: str,
    *,
    alive: Callable[[], bool] | None = None,
    log: Path | None = None,
    timeout: float = 90,
) -> None:
    """Until JupyterLab answers its REST API with our token."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {token}"}
    )
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            break
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    where = f"; see {log}" if log else ""
    raise ToolError(f"JupyterLab did not answer on 127.0.0.1:{port}{where}")


def write_lab_state(project: Project, info: LabInfo) -> None:
    project.state_dir.mkdir(exist_ok=True)
    (project.state_dir / LAB_STATE).write_text(
        json.dumps(
            {
                "runtime": info.runtime,
                "url": info.url,
                "port": info.port,
                "pid": info.pid,
                "container": info.container,
            }
        )
    )


def read_lab_state(project: Project) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((project.state_dir / LAB_STATE).read_text())
    except (OSError, ValueError):
        return None
    return data
