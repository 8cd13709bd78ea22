"""``labship doctor``: what is installed and reachable, and what to do about what is not.

Each check returns data (a ``Check``); the CLI prints them, as text or JSON. Each says
which commands need it: ``run``/``lab`` need what the runtime ``run`` would choose needs
(the same decision, ``runtimes.decide``), ``build``/``push`` need the engine, BuildKit and
a base image that is here or pullable and has the lock's Python, ``push`` its registry.
A check no command needs is reported for information. Wherever doctor says a command is
ready, the command has what it needs. Secrets are never read for a report: a login
is looked up where docker keeps it, and tried against the registry only in memory.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import LabshipError

if TYPE_CHECKING:
    from labship.project import Project

EXIT_MISSING = 69  # sysexits' EX_UNAVAILABLE, as for a missing Docker or Python


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # the version or path found, or what is wrong
    fix: str = ""  # what to do when not ok
    needed: bool = True  # False: reported, but the project works without it
    commands: tuple[str, ...] = ()  # the commands that need it


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.needed)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else EXIT_MISSING

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "ready": self.ready,
            "not_ready": self.not_ready,
            "checks": [asdict(c) for c in self.checks],
        }

    @property
    def not_ready(self) -> list[str]:
        """Commands a failed check stops, in the order they were named."""
        failed = [c for c in self.checks if c.needed and not c.ok]
        return list(dict.fromkeys(name for c in failed for name in c.commands))

    @property
    def ready(self) -> list[str]:
        named = dict.fromkeys(name for c in self.checks if c.needed for name in c.commands)
        return [name for name in named if name not in self.not_ready]


def diagnose(project: Project | None) -> Report:
    """Every check, for ``project`` (or for this machine alone when None)."""
    runtime, runs_images = check_runtime(project)
    registry = _registry_name(project)
    jobs = ("run", "lab")
    local = () if runs_images else jobs
    images = ("build", "push", *(jobs if runs_images else ()))
    if project is None:
        images = jobs if runs_images else ()
    checks = [
        _for(check_uv(), ("lock", *jobs)),
        runtime,
        _for(check_python(_python(project), needed=bool(local)), local),
        _for(check_engine(needed=bool(images) or registry is not None), images),
        _for(check_buildkit(needed=bool(images) or registry is not None), images),
    ]
    if project is not None and images and checks[3].ok:
        checks += [_for(c, images) for c in check_base_image(project)]
    checks.append(check_compose())
    checks += [_for(c, ("schedule",)) for c in check_cron(needed=_has_schedules(project))]
    if registry is not None:
        checks += [_for(c, ("push",)) for c in check_registry(registry)]
    if project is not None and project.settings.conda:
        checks += [_for(c, ("lock",)) for c in check_channels(_channels(project))]
    return Report(tuple(checks))


def _for(check: Check, commands: tuple[str, ...]) -> Check:
    return replace(check, commands=commands if check.needed else ())


def check_base_image(project: Project) -> list[Check]:
    """The base image is here or pullable, and (when here) has the lock's Python."""
    from labship.images.base import base_image, base_problem, python_mismatch
    from labship.tools.docker import image_python

    try:
        base = base_image(project)
        problem = base_problem(project)
    except LabshipError as exc:
        return [Check("base image", False, exc.message, fix=exc.hint or "")]
    if problem is not None:
        why, _, fix = problem.partition("; to use Docker, ")
        return [Check(f"base image {base}", False, why, fix=fix)]
    found = image_python(base)
    if found is None:
        return [Check(f"base image {base}", True, "pullable (not on this machine yet)")]
    checks = [Check(f"base image {base}", True, f"on this machine ({found[0][:19]})")]
    mismatch = python_mismatch(project, base, found[1])
    if mismatch is not None:
        checks.append(Check("base image python", False, mismatch.message, mismatch.hint or ""))
    elif found[1]:
        checks.append(Check("base image python", True, f"Python {found[1]}, as the lock"))
    return checks


def _channels(project: Project) -> tuple[str, ...]:
    """The channels the project's natives are locked from ([conda] channels, the spec's)."""
    from labship.locking.conda import DEFAULT_CHANNEL, channels
    from labship.spec import read_spec

    try:
        return channels(project, read_spec(project.spec_path, root=project.root))
    except LabshipError:  # the spec's own problem is lock's to say
        return project.settings.conda_channels or (DEFAULT_CHANNEL,)


def check_channels(channels: tuple[str, ...]) -> list[Check]:
    """Each conda channel, asked for its repodata (linux-64 and noarch)."""
    from labship.dirs import cache_root
    from labship.tools.rattler import probe

    try:
        answers = probe(channels, cache=cache_root() / "conda")
    except LabshipError as exc:
        return [Check(f"conda channel {c}", False, exc.message) for c in channels]
    fix = "check the URL and the network, or [conda] channels in labship.toml"
    return [
        Check(f"conda channel {a.channel}", a.ok, a.detail, fix="" if a.ok else fix)
        for a in answers
    ]


def check_runtime(project: Project | None) -> tuple[Check, bool]:
    """Where this project's jobs would run (``runtimes.choose``, as ``labship run`` without
    ``--runtime`` decides), and whether that runtime runs images (then the engine is
    needed, not the project's Python). An unknown name fails here and needs all tools."""
    from labship.runtimes import choose

    try:
        choice = choose(project, None)
    except LabshipError as exc:
        return Check("runtime", False, exc.message, fix=exc.hint or ""), False
    return Check("runtime", True, str(choice), needed=False), choice.runtime().runs_images


def _python(project: Project | None) -> str:
    if project is not None and project.settings.python:
        return project.settings.python
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _registry_name(project: Project | None) -> str | None:
    """The project's push destination, if it names one (a bad one is a failed check)."""
    if project is None:
        return None
    from labship.actions.push import destination

    try:
        return destination(project)
    except LabshipError:
        return None if not project.settings.registry else project.settings.registry


def _has_schedules(project: Project | None) -> bool:
    """cron is needed once a job has a schedule ([jobs.X] schedule, read by the cron work)."""
    jobs = project.settings.jobs.values() if project is not None else ()
    return any(job.schedule for job in jobs)


def check_uv() -> Check:
    try:
        from labship.tools.uv import uv_bin, uv_version

        return Check("uv", True, f"{uv_version()} ({uv_bin()})")
    except LabshipError as exc:
        return Check("uv", False, exc.message, fix="pip install uv (labship depends on it)")


def check_python(version: str, *, needed: bool) -> Check:
    """An interpreter for the project's version, found exactly as the store finds it to
    build environments (``find_python``), else by uv."""
    from labship.tools.uv import find_python, python_not_found, uv

    name = f"python {version}"
    found = find_python(version)
    if found is not None:
        return Check(name, True, found, needed=needed)
    try:
        asked = uv(["python", "find", "--no-python-downloads", version], check=False)
    except LabshipError as exc:
        return Check(name, False, exc.message, fix="install uv first", needed=needed)
    if asked.returncode == 0 and asked.stdout.strip():
        return Check(name, True, asked.stdout.strip(), needed=needed)
    missing = python_not_found(version, "uv python find found none")
    return Check(name, False, missing.message, fix=missing.hint or "", needed=needed)


def check_engine(*, needed: bool) -> Check:
    from labship.tools.docker import ping

    try:
        return Check("docker engine", True, f"Docker {ping()}", needed=needed)
    except LabshipError as exc:
        return Check("docker engine", False, exc.message, fix=exc.hint or "", needed=needed)


def check_buildkit(*, needed: bool) -> Check:
    from labship.tools.docker import build_client

    try:
        client = build_client()
    except LabshipError as exc:
        return Check("buildkit client", False, exc.message, fix=exc.hint or "", needed=needed)
    how = f"{client.binary} buildx" if client.buildx else f"DOCKER_BUILDKIT=1 {client.binary}"
    return Check("buildkit client", True, how, needed=needed)


def check_compose() -> Check:
    """docker compose (v2) or docker-compose (1.x): for the exported compose files only."""
    from labship.tools.docker import binary
    from labship.tools.process import run_tool

    candidates = [[binary(), "compose"]] if shutil.which(binary()) else []
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for argv in candidates:
        found = run_tool("compose", [*argv, "version", "--short"], check=False)
        if found.returncode == 0 and found.stdout.strip():
            return Check("compose", True, f"{' '.join(argv)} {found.stdout.strip()}", needed=False)
    fix = "apt-get install docker-compose (only the exported compose files need it)"
    return Check("compose", False, "neither 'docker compose' nor docker-compose", fix, False)


def check_cron(*, needed: bool) -> list[Check]:
    """The cron daemon and crontab: for scheduled jobs."""
    checks = []
    for tool, package in (("cron", "cron"), ("crontab", "cron")):
        path = shutil.which(tool) or next(
            (p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}") if os.access(p, os.X_OK)), None
        )
        fix = "" if path else f"apt-get install {package}"
        checks.append(Check(tool, path is not None, path or "not installed", fix, needed))
    running = _process_running({"cron", "crond"})
    state, fix = ("running", "") if running else ("not running", "start it: cron (as root)")
    checks.append(Check("cron daemon", running, state, fix, needed))
    return checks


def _process_running(names: set[str]) -> bool:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text(encoding="utf-8").strip() in names:
                return True
        except OSError:
            continue  # the process ended while we looked
    return False


def check_registry(name: str) -> list[Check]:
    """The registry answers, and lets docker's login push there (tried in memory)."""
    from labship.actions.push import registry_for
    from labship.tools.registry import login_source, split

    found = split(name)
    if found is None:
        return [
            Check("registry", False, f"{name!r} names no registry host", fix="see labship.toml")
        ]
    host, path = found
    registry = registry_for(host)
    try:
        needs_login = registry.needs_login()
    except LabshipError as exc:
        return [Check(f"registry {host}", False, exc.message, fix=exc.hint or "")]
    reach = Check(f"registry {host}", True, f"answers; pushes go to {name}")
    if not needs_login:
        return [reach, Check("registry login", True, "none needed")]
    source = login_source(host)
    if source is None:
        return [reach, Check("registry login", False, "not logged in", f"docker login {host}")]
    try:
        registry.check(path)
    except LabshipError as exc:
        return [reach, Check("registry login", False, exc.message, fix=f"docker login {host}")]
    return [reach, Check("registry login", True, f"logged in ({source})")]


__all__ = ["EXIT_MISSING", "Check", "Report", "diagnose"]
