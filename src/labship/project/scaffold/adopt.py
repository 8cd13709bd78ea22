"""``labship init``: make an existing folder a project, adding only the files it lacks.

It recognises the classic Docker + Conda template (docker-compose.yml for the lab,
docker-compose.prod.yml for the jobs, docker/environment.yml, .env_dev and .env_prod)
and takes its settings over, saying each one aloud in ``notes``; a job command's
container paths become the project paths they show (``containerpaths``). It reads
those files but never changes them.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labship.errors import ConfigError, ConflictError, ProfileError, UsageError
from labship.inputs import load_yaml, read_text
from labship.profiles import DEFAULT_PROFILE, creation_hint, list_profiles, profile_path
from labship.profiles.envfile import parse_env_text, read_env_bytes
from labship.project.scaffold._shared import (
    File,
    ScaffoldResult,
    checked_name,
    checked_python,
    env_text,
    host_python,
    ignore_files,
    no_name,
    read_loosely,
    spec_file,
    write_all,
)
from labship.project.scaffold.containerpaths import (
    PROD_DOCKERFILES,
    Mapped,
    Mount,
    map_command,
    service_view,
    volume_mounts,
)
from labship.project.settings import (
    CONFIG_NAME,
    DEFAULT_LAB_PORT,
    DEFAULT_SPEC,
    Job,
    Settings,
    name_from,
    render_settings,
)

_LAB_TOKEN = "JUPYTER_TOKEN"  # the lab's (api.LAB_TOKEN), never a job's
_SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)
# Only for a profile the portable grammar refuses: its keys, taken line by line.
_LOOSE_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=")
_SPEC_PYTHON = re.compile(r"^\s*-\s*python\s*(?:==?|\s)\s*(3\.\d+)", re.MULTILINE)
_SPEC_NAME = re.compile(r"^name\s*:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)
_FIXED_TOKEN = re.compile(r"(?:NotebookApp|ServerApp|IdentityProvider)\.token=['\"]?([^'\"\s]+)")

# Where init looks for the spec, best first.
_SPEC_CANDIDATES = (
    DEFAULT_SPEC,
    "docker/environment.yaml",
    "environment.yml",
    "environment.yaml",
    "requirements.txt",
)
_DEV_COMPOSE = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
_PROD_COMPOSE = ("docker-compose.prod.yml", "docker-compose.prod.yaml")


@dataclass(frozen=True)
class _Spec:
    """The spec init found, and what a conda one says about the name and Python."""

    rel: str | None  # None: no spec, init writes a python-only one
    python: str | None = None
    name: str | None = None

    @classmethod
    def find(cls, root: Path) -> _Spec:
        path = _first(root, _SPEC_CANDIDATES)
        if path is None:
            return cls(None)
        rel = path.relative_to(root).as_posix()
        if path.suffix not in (".yml", ".yaml"):
            return cls(rel)
        text = read_loosely(path)
        return cls(rel, _match(_SPEC_PYTHON, text), _match(_SPEC_NAME, text))


def init_project(
    folder: Path, *, name: str | None = None, python: str | None = None
) -> ScaffoldResult:
    """Make ``folder`` a labship project, adding only the files it lacks."""
    root = _adoptable(folder)
    name = checked_name(name) if name is not None else None
    python = checked_python(python) if python is not None else None
    dev_compose = _first(root, _DEV_COMPOSE)
    prod_compose = _first(root, _PROD_COMPOSE)
    composes = [p.name for p in (dev_compose, prod_compose) if p is not None]
    notes = [
        f"classic Docker + Conda layout recognised ({', '.join(composes)})"
        if composes
        else "no docker-compose files: a minimal labship.toml, add jobs to it"
    ]
    spec = _Spec.find(root)
    project = _project_name(root, name, spec, notes)
    py = _python(python, spec, notes)
    files: list[File] = []
    if spec.rel is None:
        files.append(spec_file(project, py, ()))
        notes.append(f"spec {DEFAULT_SPEC} created with python only: add your packages")
    else:
        notes.append(f"spec {spec.rel}")
    jobs = _jobs_from_compose(root, prod_compose, dev_compose, notes) if prod_compose else {}
    port = _lab_port(dev_compose, notes) if dev_compose else DEFAULT_LAB_PORT
    keys, required = _profile_keys(root, notes)
    settings = Settings(
        name=project,
        python=py,
        spec=spec.rel or DEFAULT_SPEC,
        jobs=jobs,
        lab_port=port,
        required=tuple(required),
        secret=tuple(key for key in keys if _SECRET_KEY.search(key)),
        image=project,
    )
    files.append(File(CONFIG_NAME, render_settings(settings)))
    kept = _companions(root, keys, settings.secret, files, notes)
    token = _fixed_token(root)
    if token:
        notes.append(
            f"{token} starts Jupyter with a fixed token; labship lab uses JUPYTER_TOKEN from "
            "the profile instead"
        )
    created = write_all(root, files)
    notes += _missing_profiles(root, settings.required)  # after .env.example is written
    return ScaffoldResult(root, created, tuple(kept), tuple(notes))


def _adoptable(folder: Path) -> Path:
    root = Path(os.path.abspath(folder))
    try:
        is_dir = root.is_dir()
    except OSError as exc:  # a name too long for the file system, say
        raise UsageError(f"{root}: {exc.strerror}", hint="give an existing folder") from None
    if not is_dir:
        raise UsageError(f"{root} is not a folder", hint="run 'labship new NAME' to make one")
    config = root / CONFIG_NAME
    if config.exists():
        raise ConflictError(
            f"{config} exists: {root} is already a labship project",
            hint="edit labship.toml instead",
        )
    return root


def _project_name(root: Path, given: str | None, spec: _Spec, notes: list[str]) -> str:
    """The given name, else the folder's made valid, else the conda environment's."""
    if given is not None:
        return given
    name = name_from(root.name)
    if name is not None:
        if name != root.name:
            notes.append(f"name {name!r} made from the folder name {root.name!r}")
        return name
    name = name_from(spec.name or "")
    if name is None:
        raise no_name(root.name)
    notes.append(f"name {name!r} from {spec.rel}")
    return name


def _python(given: str | None, spec: _Spec, notes: list[str]) -> str:
    """The given version, else the conda spec's python=, else the running interpreter's."""
    if given is not None:
        if spec.python and spec.python != given:
            notes.append(f"python {given} given, but {spec.rel} says {spec.python}")
        return given
    if spec.python:
        notes.append(f"python {spec.python} from {spec.rel}")
        return spec.python
    py = host_python()
    notes.append(f"python {py}: the running interpreter's (no python= in a spec)")
    return py


def _companions(
    root: Path, keys: list[str], secret: Iterable[str], files: list[File], notes: list[str]
) -> list[Path]:
    """Add .env.example and the ignore files where missing; return those kept as they are."""
    kept: list[Path] = []
    if keys and (root / ".env.example").exists():
        kept.append(root / ".env.example")
    elif keys:
        header = [
            "Every variable the profiles set, without values; committed, so no secrets.",
            "Copy to .env_<profile> (e.g. .env_dev, .env_prod) and fill in the values.",
        ]
        secrets = set(secret)
        entries = [
            {"key": key, "value": "", "comments": ["secret"] if key in secrets else []}
            for key in keys
        ]
        files.append(File(".env.example", env_text(header, entries)))
    for item in ignore_files():
        path = root / item.rel
        if not path.exists():
            files.append(item)
            continue
        kept.append(path)
        missing = _missing_lines(path, item.content)
        if missing:
            notes.append(
                f"{item.rel} kept as it is; recommended lines it lacks: {' '.join(missing)}"
            )
    return kept


# ---------------------------------------------------------------------- compose


def _jobs_from_compose(
    root: Path, path: Path, dev_compose: Path | None, notes: list[str]
) -> dict[str, Job]:
    """One job per service with a command; the job takes the service's name, and its
    container paths become the project paths they show."""
    jobs: dict[str, Job] = {}
    dockerfile = _first(root, PROD_DOCKERFILES)
    elsewhere = _volumes_of(root, dev_compose) if dev_compose else []
    mapped = False
    for service, body in _compose_services(path).items():
        command = body.get("command")
        if command is None:
            continue
        argv = _compose_argv(path, service, command)
        if not argv:
            continue
        found = map_command(argv, service_view(root, path, body, dockerfile, elsewhere), root)
        jobs[service] = Job(service, found.argv)
        notes.append(
            f"job {service!r} from {path.name} service {service}: {shlex.join(found.argv)}"
        )
        notes.extend(_mapping_notes(service, found))
        mapped = mapped or bool(found.mapped)
    if not jobs:
        notes.append(f"no service in {path.name} has a command: no jobs taken over")
    if mapped:
        notes.append(
            f"{path.name} is unchanged; labship.toml has the project paths, which run the same "
            "locally and in labship's image"
        )
    return jobs


def _volumes_of(root: Path, compose: Path) -> list[Mount]:
    """Every service's bind mounts: where the project's folders sit in its containers."""
    return [
        m
        for body in _compose_services(compose).values()
        for m in volume_mounts(root, compose, body)
    ]


def _mapping_notes(job: str, found: Mapped) -> list[str]:
    """What init changed in a job's command, and what it could not explain."""
    notes = []
    if found.mapped:
        notes.append(f"job {job!r}: container paths mapped: {'; '.join(found.mapped)}")
    if found.workdir is not None:
        there, here = found.workdir
        notes.append(
            f"job {job!r} ran in {there} ({here}/ here); labship runs jobs from the project "
            f"root, so a file the job opens by a relative path may need {here}/ in front"
        )
    if found.left:
        notes.append(
            f"job {job!r}: {', '.join(found.left)}: no volume or COPY puts it in the project, "
            "left as it is; change it in labship.toml if the job needs it"
        )
    return notes


def _compose_argv(path: Path, service: str, command: object) -> tuple[str, ...]:
    if isinstance(command, str):
        try:
            return tuple(shlex.split(command))
        except ValueError as exc:
            raise ConfigError(
                f"{path}: service {service}: command cannot be split: {exc}",
                hint="fix the quoting, or write the command as a list",
            ) from None
    if isinstance(command, list) and all(
        isinstance(a, str | int | float) and not isinstance(a, bool) for a in command
    ):
        return tuple(str(a) for a in command)
    raise ConfigError(f"{path}: service {service}: command must be a string or a list of strings")


def _lab_port(path: Path, notes: list[str]) -> int:
    """The host port that reaches Jupyter: the lab service's mapping to 8888 first."""
    services = _compose_services(path)

    def not_lab(item: tuple[str, Mapping[str, Any]]) -> bool:
        text = f"{item[1].get('command')} {item[1].get('entrypoint')}"
        return "jupyter" not in text.lower()  # lab services (False) sort first

    best: tuple[int, int, str, str] | None = None
    for rank, (service, body) in enumerate(sorted(services.items(), key=not_lab)):
        ports = body.get("ports") or []
        if not isinstance(ports, list):
            raise ConfigError(f"{path}: service {service}: ports must be a list")
        for entry in ports:
            host, container = _port_mapping(entry)
            if host is None:
                continue
            score = rank * 2 + (container != DEFAULT_LAB_PORT)
            if best is None or score < best[0]:
                best = (score, host, service, str(entry))
    if best is None:
        return DEFAULT_LAB_PORT
    _, port, service, entry = best
    notes.append(f"lab port {port} from {path.name} service {service} ({entry})")
    return port


def _port_mapping(entry: object) -> tuple[int | None, int | None]:
    """(host, container) of one compose ``ports`` entry; None where unpublished or unclear."""
    if isinstance(entry, Mapping):
        return _port(entry.get("published")), _port(entry.get("target"))
    if not isinstance(entry, str):
        return None, _port(entry)
    parts = entry.split("/", 1)[0].rsplit(":", 2)
    if len(parts) == 1:
        return None, _port(parts[0])
    return _port(parts[-2]), _port(parts[-1])


def _port(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    return value if isinstance(value, int) and 1 <= value <= 65535 else None


def _compose_services(path: Path) -> dict[str, Mapping[str, Any]]:
    import yaml

    try:
        data = load_yaml(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{where}: malformed YAML: {problem}",
            hint="fix the file; labship init reads it but never changes it",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: not a compose file (expected a mapping with 'services')")
    services = data.get("services") or {}
    if not isinstance(services, Mapping):
        raise ConfigError(f"{path}: 'services' must be a mapping of service names")
    result: dict[str, Mapping[str, Any]] = {}
    for service, body in services.items():
        if body is None:
            continue
        if not isinstance(body, Mapping):
            raise ConfigError(f"{path}: service {service} must be a mapping")
        result[str(service)] = body
    return result


# --------------------------------------------------------------------- profiles


def _profile_keys(root: Path, notes: list[str]) -> tuple[list[str], list[str]]:
    """All keys of the .env_<profile> files, and those every profile sets (required).

    A key only some profiles set is not required: requiring it would make every other
    profile invalid. Nor is JUPYTER_TOKEN, the lab's, even where .env_dev is the only one.
    """
    profiles = sorted(
        (profile_path(root, name) for name in list_profiles(root)),
        key=lambda p: ({".env_dev": 0, ".env_prod": 1}.get(p.name, 2), p.name),
    )
    if not profiles:
        if (root / ".env").is_file():
            notes.append(".env is not a profile: labship reads .env_<profile> files")
        return [], []
    keys: list[str] = []
    sets: list[set[str]] = []
    for profile in profiles:
        found = _env_keys(profile, notes)
        sets.append(set(found))
        keys += [k for k in found if k not in keys]
    required = [k for k in keys if k != _LAB_TOKEN and all(k in s for s in sets)]
    names = ", ".join(p.name for p in profiles)
    notes.append(f"required variables from {names}: {', '.join(required) or 'none'}")
    partial = [k for k in keys if k not in required and k != _LAB_TOKEN]
    if partial:
        notes.append(f"set in some profiles only, so not required: {', '.join(partial)}")
    if _LAB_TOKEN in keys:
        notes.append(f"{_LAB_TOKEN} is for labship lab only, so not required of every profile")
    secret = [k for k in keys if _SECRET_KEY.search(k)]
    if secret:
        notes.append(f"secret variables (masked): {', '.join(secret)}")
    return keys, required


def _missing_profiles(root: Path, required: Sequence[str]) -> list[str]:
    """How to make the two profiles every project needs, where they are missing."""
    return [
        f"no {profile_path(root, name).name} for {use}: {creation_hint(root, name, required)}"
        for name, use in (
            (DEFAULT_PROFILE, "labship run and lab"),
            ("prod", "labship run --profile prod"),
        )
        if not profile_path(root, name).is_file()
    ]


def _env_keys(path: Path, notes: list[str]) -> list[str]:
    """The profile's keys, read as ``labship run`` reads it.

    A file that grammar refuses (a ``$`` reference, say, which Compose expands) must not
    stop init: the keys are then taken line by line, and the note says which line
    ``labship run`` will refuse until it is fixed.
    """
    data = read_env_bytes(path)  # unreadable: 65, as `labship run` says it
    try:
        return list(parse_env_text(data.decode("utf-8-sig"), source=str(path)))
    except UnicodeDecodeError:
        notes.append(f"{path}: is not UTF-8 text: keys taken line by line; save it as UTF-8")
    except ProfileError as exc:
        notes.append(f"{exc.message}: keys taken line by line; fix it before `labship run`")
    keys: list[str] = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        found = _LOOSE_KEY.match(line)
        if found and found.group(1) not in keys:
            keys.append(found.group(1))
    return keys


# ------------------------------------------------------------------------ other


def _missing_lines(path: Path, recommended: str) -> list[str]:
    have = {line.strip() for line in read_loosely(path).splitlines()}
    return [
        line
        for line in (raw.strip() for raw in recommended.splitlines())
        if line and not line.startswith("#") and line not in have
    ]


def _fixed_token(root: Path) -> str | None:
    """The first lab file that hard-codes a Jupyter token (the classic template does)."""
    for rel in ("docker/Dockerfile-dev", "docker/Dockerfile", "Dockerfile", *_DEV_COMPOSE):
        path = root / rel
        if path.is_file():
            match = _FIXED_TOKEN.search(read_loosely(path))
            # ${JUPYTER_TOKEN} or $TOKEN comes from the environment: not a fixed token
            if match and match.group(1) not in ("", "''", '""') and match.group(1)[0] != "$":
                return rel
    return None


def _first(root: Path, candidates: Iterable[str]) -> Path | None:
    return next((root / rel for rel in candidates if (root / rel).is_file()), None)


def _match(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(1) if found else None
