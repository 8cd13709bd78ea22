"""Find and load a project: a folder with a ``labship.toml``.

The settings are a frozen dataclass validated by hand (no pydantic): ``labship run``
loads them on every call and must start as quickly as ``python`` does.

```toml
[project]
name = "churn"
version = "0.1.0"
python = "3.11"                     # defaults to the spec's python=, then the host's
spec = "docker/environment.yml"     # or requirements.txt
runtime = "auto"                    # auto | local | docker

[jobs.train]
command = "python code/train.py"

[lab]
port = 8888
packages = ["jupyterlab"]           # the dev set, locked constrained to the prod set

[env]
required = ["RANDOM_SEED"]
secret = ["DB_PASSWORD", "JUPYTER_TOKEN"]

[docker]
image = "churn"
base_image = "python:3.11-slim"     # LABSHIP_BASE_IMAGE overrides
system_packages = ["unixodbc"]
ca_bundle = ""                      # else SSL_CERT_FILE, PIP_CERT, REQUESTS_CA_BUNDLE
```
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labship.errors import ConfigError, NotAProjectError, UsageError

CONFIG_NAME = "labship.toml"
STATE_DIR = ".labship"
LOCK_NAME = "pylock.toml"
DEV_LOCK_NAME = "pylock.dev.toml"
RUNTIMES = ("auto", "local", "docker")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class Job:
    name: str
    argv: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class Settings:
    name: str
    version: str = "0.1.0"
    python: str | None = None
    spec: str = "docker/environment.yml"
    runtime: str = "auto"
    jobs: Mapping[str, Job] = field(default_factory=dict)
    lab_port: int = 8888
    dev_packages: tuple[str, ...] = ("jupyterlab",)
    required: tuple[str, ...] = ()
    secret: tuple[str, ...] = ()
    image: str = ""
    base_image: str | None = None
    system_packages: tuple[str, ...] = ()
    ca_bundle: str | None = None


@dataclass(frozen=True)
class Project:
    root: Path
    settings: Settings

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def spec_path(self) -> Path:
        return self.root / self.settings.spec

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def dev_lock_path(self) -> Path:
        return self.root / DEV_LOCK_NAME

    @property
    def state_dir(self) -> Path:
        """Machine-local state (run log, lab pid): git-ignored."""
        return self.root / STATE_DIR

    @property
    def image(self) -> str:
        return self.settings.image or self.settings.name

    def job(self, name: str | None) -> Job:
        jobs = self.settings.jobs
        if name is None:
            if len(jobs) == 1:
                return next(iter(jobs.values()))
            if not jobs:
                raise UsageError(
                    f"{self.config_path}: no jobs defined",
                    hint="add a [jobs.NAME] table with a command",
                )
            raise UsageError(
                f"{self.config_path}: several jobs ({', '.join(sorted(jobs))}), none named",
                hint="say which: labship run JOB",
            )
        if name not in jobs:
            known = ", ".join(sorted(jobs)) or "none"
            raise UsageError(
                f"unknown job {name!r} in {self.config_path}",
                hint=f"jobs defined: {known}",
            )
        return jobs[name]


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding a labship.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        try:
            if (folder / CONFIG_NAME).is_file():
                return folder
        except PermissionError:
            raise NotAProjectError(
                f"{folder}: permission denied looking for {CONFIG_NAME}",
                hint="run labship as a user who can read the project folder",
            ) from None
    raise NotAProjectError(
        f"{here} is not a labship project (no {CONFIG_NAME} here or above)",
        hint="run 'labship new NAME' or 'labship init' to make one",
    )


def load_project(start: Path | None = None) -> Project:
    root = find_root(start)
    return Project(root=root, settings=read_settings(root / CONFIG_NAME))


def read_settings(path: Path) -> Settings:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}", hint="fix the syntax") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_settings(data, source=str(path))


def parse_settings(data: Mapping[str, Any], *, source: str) -> Settings:
    reader = _Reader(source)
    reader.only(data, "", {"project", "jobs", "lab", "env", "docker"})
    proj = reader.table(data, "project")
    reader.only(proj, "project", {"name", "version", "python", "spec", "runtime"})
    name = reader.string(proj, "project", "name", required=True)
    if not _NAME.match(name):
        raise ConfigError(
            f"{source}: [project] name {name!r} is not a valid name",
            hint="use lowercase letters, digits, '.', '_' or '-'",
        )
    python = reader.string(proj, "project", "python") or None
    if python is not None and not re.fullmatch(r"3\.\d+", python):
        raise ConfigError(
            f"{source}: [project] python = {python!r} is not a Python version",
            hint='write it as major.minor, e.g. "3.11"',
        )
    runtime = reader.string(proj, "project", "runtime") or "auto"
    if runtime not in RUNTIMES:
        raise ConfigError(
            f"{source}: [project] runtime = {runtime!r} is unknown",
            hint=f"use one of {', '.join(RUNTIMES)}",
        )
    jobs: dict[str, Job] = {}
    for job_name, body in reader.table(data, "jobs").items():
        where = f"jobs.{job_name}"
        if isinstance(body, str):
            body = {"command": body}
        if not isinstance(body, Mapping):
            raise ConfigError(f"{source}: [{where}] must be a table with a command")
        reader.only(body, where, {"command", "description", "schedule"})
        command = body.get("command")
        if isinstance(command, str):
            argv = tuple(shlex.split(command))
        elif isinstance(command, list) and all(isinstance(a, str) for a in command):
            argv = tuple(command)
        else:
            argv = ()
        if not argv:
            raise ConfigError(
                f"{source}: [{where}] command is missing or empty",
                hint='e.g. command = "python code/train.py"',
            )
        jobs[job_name] = Job(job_name, argv, reader.string(body, where, "description"))
    lab = reader.table(data, "lab")
    reader.only(lab, "lab", {"port", "packages"})
    port = lab.get("port", 8888)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError(f"{source}: [lab] port must be a whole number from 1 to 65535")
    env = reader.table(data, "env")
    reader.only(env, "env", {"required", "secret"})
    docker = reader.table(data, "docker")
    reader.only(docker, "docker", {"image", "base_image", "system_packages", "ca_bundle"})
    return Settings(
        name=name,
        version=reader.string(proj, "project", "version") or "0.1.0",
        python=python,
        spec=reader.string(proj, "project", "spec") or "docker/environment.yml",
        runtime=runtime,
        jobs=jobs,
        lab_port=port,
        dev_packages=reader.strings(lab, "lab", "packages", default=("jupyterlab",)),
        required=reader.strings(env, "env", "required"),
        secret=reader.strings(env, "env", "secret"),
        image=reader.string(docker, "docker", "image"),
        base_image=reader.string(docker, "docker", "base_image") or None,
        system_packages=reader.strings(docker, "docker", "system_packages"),
        ca_bundle=reader.string(docker, "docker", "ca_bundle") or None,
    )


class _Reader:
    """Typed access to the parsed TOML, each failure naming the file and the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def only(self, table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            place = f"[{where}] " if where else ""
            raise ConfigError(
                f"{self.source}: {place}unknown key {unknown[0]!r}",
                hint=f"known keys: {', '.join(sorted(allowed))}",
            )

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.source}: [{key}] must be a table")
        return value

    def string(
        self, table: Mapping[str, Any], where: str, key: str, *, required: bool = False
    ) -> str:
        value = table.get(key)
        if value is None:
            if required:
                raise ConfigError(f"{self.source}: [{where}] {key} is missing")
            return ""
        if not isinstance(value, str):
            raise ConfigError(f"{self.source}: [{where}] {key} must be a string")
        return value

    def strings(
        self, table: Mapping[str, Any], where: str, key: str, default: tuple[str, ...] = ()
    ) -> tuple[str, ...]:
        value = table.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.source}: [{where}] {key} must be a list of strings")
        return tuple(value)
