"""Which compose services are the project, and what the others are to it.

Only a service that builds the project (a ``build`` context at the project root) or
mounts the project's code is the project: its command is a job, its port the lab's
when it runs Jupyter. Every other service (a database, a tracking server, an object
store, a queue) is something the code talks to that labship does not run; init names
each one, what it is, and the host name the code reaches it by (from the project
service's ``environment`` and the project's own files), so the user knows what the
profiles must point at instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labship.project.scaffold.containerpaths import volume_mounts

# What an image (or a command) says a service is: first match wins.
_KINDS: tuple[tuple[str, str], ...] = (
    (r"mlflow", "an MLflow tracking server"),
    (
        r"postgres|postgis|mysql|mariadb|mongo|mssql|sqlserver|oracle|timescale|clickhouse"
        r"|cassandra|neo4j|elasticsearch|opensearch|influxdb|cockroach",
        "a database",
    ),
    (r"minio|localstack|azurite|fake-gcs|seaweedfs|ceph", "an object store"),
    (r"rabbitmq|kafka|redpanda|nats|activemq|pulsar|zookeeper", "a message queue"),
    (r"redis|memcached|valkey|keydb", "a cache"),
    (r"tensorboard|wandb|aim|clearml", "an experiment tracker"),
    (r"nginx|traefik|caddy|haproxy|envoy", "a proxy"),
    (r"adminer|pgadmin|phpmyadmin|mongo-express", "an admin tool"),
)
_TEXT_SUFFIXES = (".py", ".ipynb", ".env", ".yml", ".yaml", ".toml", ".cfg", ".ini", ".json")
_MAX_READ = 1 << 20  # bytes: larger files are data, not where a host name is written
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".labship", "data"}


@dataclass(frozen=True)
class Service:
    name: str
    body: Mapping[str, Any]
    project: bool  # builds or mounts the project: its command is a job
    kind: str  # what it is, for the others ("a database")
    image: str
    jupyter: bool


def classify(root: Path, compose: Path, services: Mapping[str, Mapping[str, Any]]) -> list[Service]:
    """Every service of one compose file, the project's marked."""
    out = []
    for name, body in services.items():
        image = str(body.get("image") or "")
        runs = f"{body.get('command') or ''} {body.get('entrypoint') or ''}".lower()
        text = f"{image} {runs}".lower()
        kind = next((what for pattern, what in _KINDS if re.search(rf"\b(?:{pattern})", text)), "")
        jupyter = "jupyter" in runs or "jupyter" in image.lower()
        builds = _builds_project(root, compose, body)
        mounts = any(
            m.project.as_posix() == "." or _has_code(root / m.project)
            for m in volume_mounts(root, compose, body)
        )
        # a service of no known kind whose command runs Python is the project's job too
        python = re.match(r"\W*(?:\S*/)?python", runs) is not None and not kind
        project = (builds or mounts or python) and not kind.startswith("an MLflow")
        out.append(Service(name, body, project, kind or "a service", image, jupyter))
    return out


def service_note(root: Path, compose: Path, service: Service, users: list[Service]) -> str:
    """One line: what the service is, that labship does not run it, and what instead."""
    what = f"{service.kind} ({service.image})" if service.image else service.kind
    hosts = _host_uses(root, service, users)
    used = f"; the code reaches it as {', '.join(hosts)}" if hosts else ""
    if service.kind.startswith("an MLflow"):
        instead = (
            "[services] mlflow = true in labship.toml runs one beside the lab; for other "
            "profiles set MLFLOW_TRACKING_URI to the server"
        )
    else:
        instead = "point the profiles (.env_dev, .env_prod) at the one each should use"
    return f"{compose.name} service {service.name}: {what}, not run by labship{used}; {instead}"


def _host_uses(root: Path, service: Service, users: list[Service]) -> list[str]:
    """How the project reaches the service: URLs or host names naming it, with where."""
    names = {service.name}
    for key in ("hostname", "container_name"):
        if isinstance(service.body.get(key), str):
            names.add(str(service.body[key]))
    # scheme://[user:password@]host[:port], or host:port; the user part is never shown
    pattern = re.compile(
        r"(?:(?P<scheme>[a-z][a-z0-9+.-]*)://(?:[^@/\s'\"]*@)?)?\b(?P<host>"
        + "|".join(map(re.escape, sorted(names)))
        + r")(?P<port>:\d+)?(?=[/'\"\s,]|$)"
    )
    found: dict[str, str] = {}
    for user in users:
        for key, value in _environment(user.body).items():
            for match in pattern.finditer(value):
                if match["scheme"] or match["port"] or value == match["host"]:
                    found.setdefault(_shown(match), f"{key} in compose service {user.name}")
    for path in _project_files(root):
        try:
            if path.stat().st_size > _MAX_READ:
                continue  # a data file, not code
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for match in pattern.finditer(text):
            if match["scheme"] or match["port"]:
                found.setdefault(_shown(match), path.relative_to(root).as_posix())
    return [f"{host} ({where})" for host, where in list(found.items())[:3]]


def _shown(match: re.Match[str]) -> str:
    """The address without its user and password."""
    scheme = f"{match['scheme']}://" if match["scheme"] else ""
    return f"{scheme}{match['host']}{match['port'] or ''}"


def _environment(body: Mapping[str, Any]) -> dict[str, str]:
    env = body.get("environment")
    if isinstance(env, Mapping):
        return {str(k): str(v) for k, v in env.items() if v is not None}
    if isinstance(env, list):
        pairs = (str(e).split("=", 1) for e in env)
        return {p[0]: p[1] for p in pairs if len(p) == 2}
    return {}


def _builds_project(root: Path, compose: Path, body: Mapping[str, Any]) -> bool:
    build = body.get("build")
    context = build if isinstance(build, str) else None
    if isinstance(build, Mapping):
        context = str(build.get("context", "."))
    if context is None or "://" in context:
        return False
    folder = Path(os.path.normpath(compose.parent / context))
    return folder == root or (folder.is_relative_to(root) and _has_code(folder))


def _has_code(folder: Path) -> bool:
    """A folder holding Python code or a Python spec (not a data or config folder)."""
    if folder.is_file():
        return folder.suffix == ".py"
    try:
        entries = list(folder.iterdir())
    except OSError:
        return False
    return any(
        e.suffix in (".py", ".ipynb") or e.name in ("requirements.txt", "pyproject.toml")
        for e in entries
    )


def _project_files(root: Path, limit: int = 400) -> list[Path]:
    """The project's own text files that may name a host (code, notebooks, configs)."""
    out: list[Path] = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            # profiles are secrets, and compose files were read above
            if name.endswith(_TEXT_SUFFIXES) and not name.startswith(".env"):
                out += [Path(dirpath) / name] if "compose" not in name else []
            if len(out) >= limit:
                return out
    return out
