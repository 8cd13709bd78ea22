"""labship.toml: the one rule set, read by every command and written by new and init.

Settings are a frozen dataclass validated by hand (no pydantic): ``labship run`` loads
them on every call and must start as quickly as ``python`` does. Rendering needs Jinja,
so it is imported only when a file is written.

```toml
[project]
name = "churn"
version = "0.1.0"
python = "3.11"                     # defaults to the spec's python=, then the host's
spec = "docker/environment.yml"     # or requirements.txt
runtime = "auto"                    # auto | local | docker

[jobs.train]
command = "python code/train.py"    # or a list: ["python", "code/train.py"]
description = "fit the model"
schedule = "0 22 * * *"             # cron; `labship schedule` installs it in your crontab
timezone = "Europe/Berlin"          # the schedule's time zone (default: the machine's)
timeout = "2h"                      # a scheduled run is stopped after it (seconds, or s/m/h/d)
profile = "prod"                    # the profile scheduled runs use (default prod)
runtime = "docker"                  # the runtime scheduled runs use (default: the project's)
ping_url = "https://hc-ping.com/<uuid>"  # pinged at start (/start), success, failure (/<code>)
stop_timeout = 10                   # seconds between SIGTERM and SIGKILL (0 to 3600)
cpu = "500m"                        # Kubernetes quantities: requested and limited (export k8s)
memory = "512Mi"
writable = true                     # the job writes outside /tmp: no read-only root (export k8s)

[lab]
port = 8888
packages = ["jupyterlab"]           # the dev set, locked constrained to the prod set
keep_in_prod = ["ipykernel"]        # development tools the spec lists that prod needs

[services]
mlflow = true                       # an MLflow tracking server beside the lab (dev set)
mlflow_port = 5000                  # default: 5000, or the next free port up to 5019

[env]
required = ["RANDOM_SEED"]
secret = ["DB_PASSWORD", "JUPYTER_TOKEN"]
public = ["SORT_KEY"]               # names that look secret (labship.masking) but are not

[docker]
image = "churn"
base_image = "python:3.11-slim"     # LABSHIP_BASE_IMAGE overrides
system_packages = ["unixodbc"]
ca_bundle = ""                      # else SSL_CERT_FILE, PIP_CERT, REQUESTS_CA_BUNDLE
registry = "registry.example.com/team"  # labship push: the prod image goes to REGISTRY/IMAGE

[check]
skip_imports = ["pyautogui"]        # direct dependencies that cannot import in a batch job

[conda]
enabled = true                      # default: true when packages or channels are listed
packages = ["unixodbc >=2.3"]       # conda match-specs locked beside the spec's natives
channels = ["conda-forge"]          # default: the spec's channels:, else conda-forge
```

``render_settings`` is the inverse of ``parse_settings``: for valid settings ``s``,
``parse_settings(tomllib.loads(render_settings(s)), source=...) == s``.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from labship.errors import ConfigError
from labship.inputs import load_toml, read_text

CONFIG_NAME = "labship.toml"
STATE_DIR = ".labship"  # labship.state.DIR: what is in it is labship.state's
LOCK_NAME = "pylock.toml"
DEV_LOCK_NAME = "pylock.dev.toml"

DEFAULT_VERSION = "0.1.0"
DEFAULT_SPEC = "docker/environment.yml"
DEFAULT_RUNTIME = "auto"
DEFAULT_LAB_PORT = 8888  # JupyterLab's own default, so classic compose files map it
DEFAULT_DEV_PACKAGES = ("jupyterlab",)
DEFAULT_STOP_TIMEOUT = 10  # seconds, as docker stop
DEFAULT_MLFLOW_PORT = 5000  # MLflow's own default; the next free one when it is taken
MLFLOW_PACKAGE = "mlflow"  # what [services] mlflow adds to the dev set
MAX_STOP_TIMEOUT = 3600

NAME_HINT = "use lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
PYTHON_HINT = 'write it as major.minor, e.g. "3.11"'
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_PYTHON = re.compile(r"3\.[0-9]+")
# Also an image tag and a label: letters, digits and . _ + - (PEP 440 and semver fit).
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def valid_name(name: str) -> bool:
    """A project name: also the image name and the conda env name, so kept plain."""
    return _NAME.fullmatch(name) is not None


def name_from(text: str) -> str | None:
    """``text`` made a valid name ('My Churn Model' -> 'my-churn-model'), if anything is left."""
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return name if valid_name(name) else None


def valid_python(python: str) -> bool:
    """major.minor only: the lock pins the interpreter, the patch level is the host's."""
    return _PYTHON.fullmatch(python) is not None


DEFAULT_JOB_PROFILE = "prod"  # scheduled runs are production runs unless a job says otherwise
_DURATION = re.compile(r"([0-9]+)([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PROFILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_RUNTIME = re.compile(r"[a-z][a-z0-9-]*")


@dataclass(frozen=True)
class Job:
    """A command, and how ``labship schedule`` runs it (``schedule`` empty: never)."""

    name: str
    argv: tuple[str, ...]
    description: str = ""
    schedule: str = ""
    timezone: str = ""
    timeout: int | None = None
    profile: str = DEFAULT_JOB_PROFILE
    runtime: str = ""
    ping_url: str = ""
    stop_timeout: int = DEFAULT_STOP_TIMEOUT  # after a signal, before it is killed
    cpu: str = ""  # a Kubernetes quantity ("500m", "2"); "" = no request or limit
    memory: str = ""  # a Kubernetes quantity ("512Mi", "2Gi")
    writable: bool = False  # needs a writable root filesystem (else only /tmp is)


@dataclass(frozen=True)
class Settings:
    name: str
    version: str = DEFAULT_VERSION
    python: str | None = None
    spec: str = DEFAULT_SPEC
    runtime: str = DEFAULT_RUNTIME
    jobs: Mapping[str, Job] = field(default_factory=dict)
    lab_port: int = DEFAULT_LAB_PORT
    dev_packages: tuple[str, ...] = DEFAULT_DEV_PACKAGES
    keep_in_prod: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    secret: tuple[str, ...] = ()
    public: tuple[str, ...] = ()  # names that look secret but are not
    image: str = ""
    base_image: str | None = None
    system_packages: tuple[str, ...] = ()
    ca_bundle: str | None = None
    registry: str = ""
    skip_imports: tuple[str, ...] = ()
    mlflow: bool = False  # [services] mlflow: a tracking server beside the lab
    mlflow_port: int | None = None  # None: DEFAULT_MLFLOW_PORT or the next free one
    conda: bool = False  # [conda] enabled: native packages locked from a conda channel
    conda_packages: tuple[str, ...] = ()  # match-specs, beside the spec's native packages
    conda_channels: tuple[str, ...] = ()  # names or URLs; empty: the spec's channels

    @property
    def lock_dev_packages(self) -> tuple[str, ...]:
        """What the dev set adds to the prod set: [lab] packages, and MLflow when tracking
        is on (unless [lab] packages already name it)."""
        if not self.mlflow:
            return self.dev_packages
        if any(_bare_name(p) == MLFLOW_PACKAGE for p in self.dev_packages):
            return self.dev_packages
        return (*self.dev_packages, MLFLOW_PACKAGE)


def _bare_name(requirement: str) -> str:
    """The normalized project name a requirement starts with ("MLflow>=3" -> "mlflow")."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    name = match.group(1) if match else requirement
    return re.sub(r"[-_.]+", "-", name).lower()


# -------------------------------------------------------------------------- read


def read_settings(path: Path) -> Settings:
    try:
        data = load_toml(read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}", hint="fix the syntax") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: is not UTF-8 text", hint="save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_settings(data, source=str(path))


def parse_settings(data: Mapping[str, Any], *, source: str) -> Settings:
    reader = _Reader(source)
    tables = {"project", "jobs", "lab", "env", "docker", "check", "services", "conda"}
    reader.only(data, "", tables)
    project = _project_table(reader, reader.table(data, "project"))
    jobs = {name: _job(reader, name, body) for name, body in reader.table(data, "jobs").items()}
    lab = reader.table(data, "lab")
    reader.only(lab, "lab", {"port", "packages", "keep_in_prod"})
    port = lab.get("port", DEFAULT_LAB_PORT)
    if not _whole_in(port, 1, 65535):
        raise ConfigError(f"{source}: [lab] port must be a whole number from 1 to 65535")
    env = reader.table(data, "env")
    reader.only(env, "env", {"required", "secret", "public"})
    docker = reader.table(data, "docker")
    reader.only(
        docker, "docker", {"image", "base_image", "system_packages", "ca_bundle", "registry"}
    )
    check = reader.table(data, "check")
    reader.only(check, "check", {"skip_imports"})
    mlflow, mlflow_port = _services(reader, reader.table(data, "services"), port)
    conda, conda_packages, conda_channels = _conda(reader, reader.table(data, "conda"))
    return replace(
        project,
        jobs=jobs,
        lab_port=port,
        dev_packages=reader.strings(lab, "lab", "packages", default=DEFAULT_DEV_PACKAGES),
        keep_in_prod=reader.strings(lab, "lab", "keep_in_prod"),
        required=reader.strings(env, "env", "required"),
        secret=reader.strings(env, "env", "secret"),
        public=reader.strings(env, "env", "public"),
        image=reader.string(docker, "docker", "image"),
        base_image=reader.string(docker, "docker", "base_image") or None,
        system_packages=reader.strings(docker, "docker", "system_packages"),
        ca_bundle=reader.string(docker, "docker", "ca_bundle") or None,
        registry=reader.string(docker, "docker", "registry"),
        skip_imports=reader.strings(check, "check", "skip_imports"),
        mlflow=mlflow,
        mlflow_port=mlflow_port,
        conda=conda,
        conda_packages=conda_packages,
        conda_channels=conda_channels,
    )


_CHANNEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*|(?:https?|file)://\S+")


def _conda(
    reader: _Reader, table: Mapping[str, Any]
) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    """[conda]: whether native packages come from a conda channel, which, and extra ones.

    Off unless asked for (enabled = true, or packages/channels listed): a lock then
    needs a reachable channel, which projects that never asked for one must not."""
    source = reader.source
    reader.only(table, "conda", {"enabled", "packages", "channels"})
    packages = reader.strings(table, "conda", "packages")
    channels = reader.strings(table, "conda", "channels")
    enabled = table.get("enabled", bool(packages or channels))
    if not isinstance(enabled, bool):
        raise ConfigError(
            f"{source}: [conda] enabled must be true or false",
            hint="enabled = true locks the spec's native packages from a conda channel",
        )
    for spec in packages:
        if not spec.strip() or not spec.isprintable():
            raise ConfigError(
                f"{source}: [conda] packages: {_shown(spec)} is not a conda match-spec",
                hint='e.g. packages = ["unixodbc >=2.3", "graphviz"]',
            )
    for channel in channels:
        if not _CHANNEL.fullmatch(channel):
            raise ConfigError(
                f"{source}: [conda] channels: {_shown(channel)} is not a channel name or URL",
                hint='e.g. channels = ["conda-forge"] or ["https://conda.example.com/main"]',
            )
    return enabled, packages, channels


def _services(reader: _Reader, table: Mapping[str, Any], lab_port: int) -> tuple[bool, int | None]:
    """[services]: mlflow (true/false) and its port."""
    source = reader.source
    reader.only(table, "services", {"mlflow", "mlflow_port"})
    mlflow = table.get("mlflow", False)
    if not isinstance(mlflow, bool):
        raise ConfigError(
            f"{source}: [services] mlflow must be true or false",
            hint="mlflow = true starts an MLflow tracking server beside the lab",
        )
    port = table.get("mlflow_port")
    if port is not None and not _whole_in(port, 1, 65535):
        raise ConfigError(
            f"{source}: [services] mlflow_port must be a whole number from 1 to 65535",
            hint=f"e.g. mlflow_port = {DEFAULT_MLFLOW_PORT}, or leave it out for the first free "
            f"port from {DEFAULT_MLFLOW_PORT}",
        )
    if port is not None and port == lab_port:
        raise ConfigError(
            f"{source}: [services] mlflow_port {port} is also the lab's port ([lab] port)",
            hint="give the tracking server another port",
        )
    return mlflow, port


def _project_table(reader: _Reader, table: Mapping[str, Any]) -> Settings:
    """Settings from [project] alone; the other tables are filled in by the caller."""
    source = reader.source
    reader.only(table, "project", {"name", "version", "python", "spec", "runtime"})
    name = reader.string(table, "project", "name", required=True)
    if not valid_name(name):
        raise ConfigError(f"{source}: [project] name {name!r} is not a valid name", hint=NAME_HINT)
    python = reader.string(table, "project", "python") or None
    if python is not None and not valid_python(python):
        raise ConfigError(
            f"{source}: [project] python = {python!r} is not a Python version",
            hint=PYTHON_HINT,
        )
    runtime = reader.string(table, "project", "runtime") or DEFAULT_RUNTIME
    if not _RUNTIME.fullmatch(runtime):
        # Which names exist is the runtime registry's to say (labship.runtimes.select).
        raise ConfigError(
            f"{source}: [project] runtime = {runtime!r} is not a runtime name",
            hint='e.g. runtime = "local"',
        )
    version = reader.string(table, "project", "version") or DEFAULT_VERSION
    if not _VERSION.fullmatch(version):
        raise ConfigError(
            f"{source}: [project] version {_shown(version)} is not a version",
            hint='use letters, digits, ".", "_", "+", "-", e.g. "0.1.0"',
        )
    spec = reader.string(table, "project", "spec") or DEFAULT_SPEC
    if not inside_project(spec) or PurePosixPath(spec).name.startswith(".env"):
        what = "a profile" if inside_project(spec) else "not a path inside the project"
        raise ConfigError(
            f"{source}: [project] spec {_shown(spec)} is {what}",
            hint='write it relative to labship.toml, e.g. "docker/environment.yml"',
        )
    return Settings(name=name, version=version, python=python, spec=spec, runtime=runtime)


def inside_project(rel: str) -> bool:
    """True for a relative path that cannot climb out of the project (no '..', not
    absolute): labship reads it and may quote it, so it must not name /proc/self/environ."""
    path = PurePosixPath(rel)
    return bool(rel) and "\0" not in rel and not path.is_absolute() and ".." not in path.parts


def _whole_in(value: object, low: int, high: int) -> bool:
    """An integer (TOML's, not a bool) from ``low`` to ``high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _shown(value: str) -> str:
    """A value for an error message: quoted, control characters escaped, cut short."""
    return repr(value if len(value) <= 60 else value[:60] + "...")


_JOB_KEYS = {"command", "description", "stop_timeout"} | {
    "schedule", "timezone", "timeout", "profile", "runtime", "ping_url",
    "cpu", "memory", "writable",
}  # fmt: skip


def _job(reader: _Reader, name: str, body: object) -> Job:
    """One [jobs.NAME] table, or the short form ``NAME = "command"``."""
    where = f"jobs.{name}"
    if isinstance(body, str):
        body = {"command": body}
    if not isinstance(body, Mapping):
        raise ConfigError(f"{reader.source}: [{where}] must be a table with a command")
    reader.only(body, where, _JOB_KEYS)
    argv = _argv(reader, where, body.get("command"))
    stop_timeout = body.get("stop_timeout", DEFAULT_STOP_TIMEOUT)
    if not _whole_in(stop_timeout, 0, MAX_STOP_TIMEOUT):
        raise ConfigError(
            f"{reader.source}: [{where}] stop_timeout must be a whole number of seconds "
            f"from 0 to {MAX_STOP_TIMEOUT}",
            hint=f"e.g. stop_timeout = 30 (default {DEFAULT_STOP_TIMEOUT})",
        )
    description = reader.string(body, where, "description")
    schedule = _schedule(reader, where, body)
    resources = _resources(reader, where, body)
    return Job(name, argv, description, stop_timeout=stop_timeout, **schedule, **resources)


def _argv(reader: _Reader, where: str, command: object) -> tuple[str, ...]:
    """The command as argv. Its first word, which labship resolves from the project
    folder, is a program (on PATH, or absolute: the machine's or the image's) or a script
    inside the project; the paths after it are the program's business."""
    example = 'e.g. command = "python code/train.py"'
    if isinstance(command, str):
        try:
            argv = tuple(shlex.split(command))
        except ValueError as exc:
            raise ConfigError(
                f"{reader.source}: [{where}] command cannot be split: {exc}",
                hint="close the quote, or write the command as a list of strings",
            ) from None
    elif isinstance(command, list) and all(isinstance(a, str) for a in command):
        argv = tuple(command)
    elif command is not None:
        raise ConfigError(
            f"{reader.source}: [{where}] command must be a string or a list of strings",
            hint=example,
        )
    else:
        argv = ()
    if not argv:
        raise ConfigError(f"{reader.source}: [{where}] command is missing or empty", hint=example)
    if any("\0" in arg for arg in argv):
        raise ConfigError(f"{reader.source}: [{where}] command holds a NUL byte", hint=example)
    first = PurePosixPath(argv[0])
    if not first.is_absolute() and ".." in first.parts:
        raise ConfigError(
            f"{reader.source}: [{where}] command {_shown(argv[0])} is outside the project",
            hint="name a program (python, sh, /usr/bin/env) or a script inside the "
            "project (code/run.sh)",
        )
    return argv


def _schedule(reader: _Reader, where: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The keys that say how ``labship schedule`` runs the job, each checked."""
    source = reader.source
    schedule = reader.string(body, where, "schedule")
    if schedule:
        check_schedule(schedule, f"{source}: [{where}] schedule")
    timezone = reader.string(body, where, "timezone")
    if timezone:
        check_timezone(timezone, f"{source}: [{where}] timezone")
    profile = reader.string(body, where, "profile") or DEFAULT_JOB_PROFILE
    if not _PROFILE.fullmatch(profile):
        raise ConfigError(f"{source}: [{where}] profile = {profile!r} is not a profile name")
    runtime = reader.string(body, where, "runtime")
    if runtime and not _RUNTIME.fullmatch(runtime):
        raise ConfigError(f"{source}: [{where}] runtime = {runtime!r} is not a runtime name")
    ping_url = reader.string(body, where, "ping_url")
    if ping_url and not re.match(r"https?://[^\s/]", ping_url):
        raise ConfigError(
            f"{source}: [{where}] ping_url must be an http:// or https:// URL",
            hint='e.g. ping_url = "https://hc-ping.com/<uuid>"',
        )
    return {
        "schedule": schedule,
        "timezone": timezone,
        "timeout": _timeout(body.get("timeout"), f"{source}: [{where}] timeout"),
        "profile": profile,
        "runtime": runtime,
        "ping_url": ping_url,
    }


_QUANTITY = re.compile(
    r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?", re.ASCII
)


def _resources(reader: _Reader, where: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """What the job's container gets where resources are declared (Kubernetes)."""
    writable = body.get("writable", False)
    if not isinstance(writable, bool):
        raise ConfigError(f"{reader.source}: [{where}] writable must be true or false")
    return {
        "cpu": _quantity(body.get("cpu"), f"{reader.source}: [{where}] cpu", '"500m" or 2'),
        "memory": _quantity(body.get("memory"), f"{reader.source}: [{where}] memory", '"512Mi"'),
        "writable": writable,
    }


def _quantity(value: object, where: str, example: str) -> str:
    """A positive Kubernetes quantity, kept as text ("500m", "2", "1.5Gi"); "" when unset."""
    if value is None:
        return ""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not (isinstance(text, str) and _QUANTITY.fullmatch(text) and re.search("[1-9]", text)):
        raise ConfigError(
            f"{where} must be a positive Kubernetes quantity",
            hint=f"e.g. {example} (suffixes m, k, M, G, Ki, Mi, Gi, ...)",
        )
    if where.endswith("memory") and text.endswith("m"):
        raise ConfigError(
            f"{where} = {text!r} means thousandths of a byte",
            hint=f"write {text[:-1]}Mi (mebibytes) or {text[:-1]}M (megabytes)",
        )
    return text


def check_schedule(text: str, where: str) -> None:
    """ConfigError naming ``where``, the field and the value, for an expression cron
    would refuse or never run."""
    from labship.project.cronexpr import CronSyntaxError, parse

    try:
        parse(text)
    except CronSyntaxError as exc:
        raise ConfigError(f"{where} = {text!r}: {exc}") from None


def check_timezone(name: str, where: str) -> None:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # not found, not a key ('../x'), a folder
        raise ConfigError(
            f"{where} = {name!r} is not a time zone", hint='use an IANA name, e.g. "Europe/Berlin"'
        ) from None


def _timeout(value: object, where: str) -> int | None:
    """Seconds: a whole number, or a string with a unit ("90s", "30m", "2h", "1d")."""
    if value is None:
        return None
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is not None:
        value = int(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(
            f'{where} must be a positive number of seconds, or a duration like "30m"',
            hint='e.g. timeout = "2h" (units s, m, h, d)',
        )
    return value


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


# ------------------------------------------------------------------------- write


def render_settings(settings: Settings) -> str:
    """labship.toml text that parses back to ``settings``, with comments for people."""
    from labship.templates import render

    jobs = [
        {
            "name": name,
            "command": _command_value(job.argv),
            "description": job.description,
            "stop_timeout": job.stop_timeout if job.stop_timeout != DEFAULT_STOP_TIMEOUT else None,
            "hint": _run_hint(name),
            "job": job,
            "profile": None if job.profile == DEFAULT_JOB_PROFILE else job.profile,
        }
        for name, job in settings.jobs.items()
    ]
    runtime = None if settings.runtime == DEFAULT_RUNTIME else settings.runtime
    return render("project/labship.toml.j2", s=settings, runtime=runtime, jobs=jobs)


def _command_value(argv: tuple[str, ...]) -> str | list[str]:
    """A plain string when it splits back to ``argv`` as written, else the exact list."""
    text = " ".join(argv)
    return text if shlex.join(argv) == text else list(argv)


def _run_hint(name: str) -> str:
    """The command that runs the job, for a comment; none where a comment can't hold it."""
    word = shlex.quote(name)
    return f"labship run {word}" if word.isprintable() else ""
