"""``labship init``: make an existing folder a project, adding only the files it lacks.

It reads the layout that is there, and says what it found by name ("classic Docker +
Conda", "cookiecutter-data-science", "train.Dockerfile + requirements.txt +
docker-compose.yml"):

* the spec: ``docker/environment.yml``, ``environment.yml``, ``requirements*.txt`` or a
  ``pyproject.toml`` with ``[project] dependencies``;
* the Python: the spec's, else the ``FROM python:X.Y`` of a Dockerfile, else the host's;
* jobs: compose services of the project that run a command, Dockerfile ``CMD`` and
  ``ENTRYPOINT`` lines that run Python (``dockerfiles``), Makefile recipes that run the
  project's Python (``makefile``); container paths become the project paths they show
  (``containerpaths``);
* the lab port: only from a service that runs Jupyter; the other compose services
  (databases, tracking servers, object stores) are named as not run by labship
  (``services``);
* profiles: ``.env_<name>``, and python-dotenv's ``.env``, which every profile reads
  first (see :mod:`labship.profiles`).

It reads those files but never changes them, with one exception the user asked for:
a ``.env_dev`` without a ``JUPYTER_TOKEN`` gets one line with a random token.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labship.errors import ConfigError, ConflictError, ProfileError, UsageError
from labship.inputs import load_yaml, read_text
from labship.profiles import (
    BASE_NAME,
    DEFAULT_PROFILE,
    creation_hint,
    list_profiles,
    profile_path,
)
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
from labship.project.scaffold.dockerfiles import (
    Dockerfile,
    find_dockerfiles,
    job_name,
    read_dockerfile,
)
from labship.project.scaffold.makefile import find_makefile, make_jobs
from labship.project.scaffold.services import Service, classify, service_note
from labship.project.settings import (
    CONFIG_NAME,
    DEFAULT_DEV_PACKAGES,
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
_DEV_WORDS = re.compile(r"dev|test|lint|doc|ci\b", re.IGNORECASE)

# Where init looks for a conda spec, best first; then requirements*.txt, pyproject.toml.
_CONDA_SPECS = (
    DEFAULT_SPEC,
    "docker/environment.yaml",
    "environment.yml",
    "environment.yaml",
)
_DEV_COMPOSE = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
_PROD_COMPOSE = ("docker-compose.prod.yml", "docker-compose.prod.yaml")


@dataclass(frozen=True)
class _Spec:
    """The spec init found, and what it says about the name and Python."""

    rel: str | None  # None: no spec, init writes a python-only one
    python: str | None = None
    name: str | None = None
    python_spec: str | None = None  # a range (pyproject's requires-python)
    dev: tuple[str, ...] = ()  # a requirements-dev.txt's requirements: the dev set

    @classmethod
    def find(cls, root: Path, elsewhere: Sequence[Path] = ()) -> _Spec:
        """The root's spec, else one in the folder a compose service builds (``app/``)."""
        found = cls._at(root, root)
        for folder in elsewhere:
            if found.rel is not None:
                break
            found = cls._at(root, folder)
        return found

    @classmethod
    def _at(cls, root: Path, folder: Path) -> _Spec:
        path = _first(folder, _CONDA_SPECS)
        if path is not None:
            text = read_loosely(path)
            rel = path.relative_to(root).as_posix()
            return cls(rel, _match(_SPEC_PYTHON, text), _match(_SPEC_NAME, text))
        pyproject = _pyproject(folder)
        requirements = _requirements_files(folder)
        prod = [p for p in requirements if not _DEV_WORDS.search(p.name)]
        dev = tuple(r for p in requirements if p not in prod for r in _plain_lines(p))
        if prod:
            rel = prod[0].relative_to(root).as_posix()
            return cls(rel, python_spec=pyproject.python_spec if pyproject else None, dev=dev)
        if pyproject is not None and pyproject.has_dependencies:
            return cls(
                (folder / "pyproject.toml").relative_to(root).as_posix(),
                _single_minor(pyproject.python_spec),
                pyproject.name,
                pyproject.python_spec,
            )
        return cls(None, python_spec=pyproject.python_spec if pyproject else None)


@dataclass
class _Found:
    """What init found, said aloud in ``notes`` as it goes."""

    root: Path
    notes: list[str] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)

    def job(self, name: str, argv: tuple[str, ...], said: str) -> None:
        """Add a job unless one runs the same command; a taken name gets a suffix."""
        if not argv or any(j.argv == argv for j in self.jobs.values()):
            return
        base, n = name or "main", 2
        while name in self.jobs or not name:
            name, n = f"{base}-{n}", n + 1
        self.jobs[name] = Job(name, argv)
        self.notes.append(f"job {name!r} from {said}: {shlex.join(argv)}")


@dataclass(frozen=True)
class _Layout:
    """The files that make the folder's layout, read."""

    dev_compose: Path | None
    prod_compose: Path | None
    services: Mapping[Path, Sequence[Service]]
    dockerfiles: Sequence[Dockerfile]
    makefile: Path | None
    spec: _Spec

    @classmethod
    def read(cls, root: Path) -> _Layout:
        dev_compose = _first(root, _DEV_COMPOSE)
        prod_compose = _first(root, _PROD_COMPOSE)
        dockerfiles = [read_dockerfile(root, p) for p in find_dockerfiles(root)]
        services = _services(root, dev_compose, prod_compose)
        dockerfiles += _built_by_services(root, services, {d.path for d in dockerfiles})
        makefile = find_makefile(root)
        contexts = [
            built[1]
            for compose, listed in services.items()
            for service in listed
            if service.project and (built := _build_of(compose, service.body)) is not None
        ]
        inside = [c for c in dict.fromkeys(contexts) if c != root and c.is_relative_to(root)]
        spec = _Spec.find(root, inside)
        return cls(dev_compose, prod_compose, services, dockerfiles, makefile, spec)

    def name(self, root: Path) -> str:
        composes = (self.dev_compose, self.prod_compose)
        return _layout_name(root, self.spec, self.dockerfiles, composes, self.makefile)


def init_project(
    folder: Path, *, name: str | None = None, python: str | None = None
) -> ScaffoldResult:
    """Make ``folder`` a labship project, adding only the files it lacks."""
    root = _adoptable(folder)
    name = checked_name(name) if name is not None else None
    python = checked_python(python) if python is not None else None
    found = _Found(root)
    notes = found.notes
    layout = _Layout.read(root)
    spec = layout.spec
    project = _project_name(root, name, spec, notes)
    py = _python(root, python, spec, layout.dockerfiles, notes)
    files: list[File] = []
    if spec.rel is None:
        files.append(spec_file(project, py, ()))
        notes.append(f"spec {DEFAULT_SPEC} created with python only: add your packages")
    else:
        notes.append(f"spec {spec.rel}")
    if spec.dev:
        notes.append(f"dev set from requirements files: {', '.join(spec.dev)}")
    _collect_jobs(found, layout)
    port = DEFAULT_LAB_PORT
    if layout.dev_compose:
        port = _lab_port(root, layout.dev_compose, layout.services, notes)
    for compose, listed in layout.services.items():
        users = [s for s in listed if s.project]
        notes += [service_note(root, compose, s, users) for s in listed if not s.project]
    keys, required = _profile_keys(root, notes)
    settings = Settings(
        name=project,
        python=py,
        spec=spec.rel or DEFAULT_SPEC,
        jobs=found.jobs,
        lab_port=port,
        dev_packages=(*DEFAULT_DEV_PACKAGES, *spec.dev),
        required=tuple(required),
        secret=tuple(key for key in keys if _SECRET_KEY.search(key)),
        image=project,
    )
    files.append(File(CONFIG_NAME, render_settings(settings)))
    kept = _companions(root, keys, settings.secret, files, notes)
    files += _profiles_to_make(root, keys, notes)
    token = _fixed_token(root)
    if token:
        notes.append(
            f"{token} starts Jupyter with a fixed token; labship lab uses JUPYTER_TOKEN from "
            "the profile instead"
        )
    recognised = layout.name(root)
    notes.insert(
        0,
        f"{recognised} recognised"
        if recognised
        else "no Dockerfile, compose file or Makefile: a minimal labship.toml, add jobs to it",
    )
    created = write_all(root, files)
    appended = _token_line(root)  # after the files: nothing else can fail now
    if appended:
        notes.append(appended)
    notes += _missing_profiles(root, settings.required)  # after .env.example is written
    return ScaffoldResult(root, created, tuple(kept), tuple(notes))


def _collect_jobs(found: _Found, layout: _Layout) -> None:
    """Jobs from compose commands, Dockerfile CMDs and Makefile recipes, in that order;
    a command already taken is not taken twice."""
    if layout.prod_compose:
        services = layout.services[layout.prod_compose]
        _jobs_from_compose(found, layout.prod_compose, layout.dev_compose, services)
    if layout.dev_compose:
        services = layout.services[layout.dev_compose]
        _jobs_from_compose(found, layout.dev_compose, None, services, python_only=True)
    for dockerfile in layout.dockerfiles:
        if dockerfile.argv:
            found.job(job_name(dockerfile), dockerfile.argv, f"{dockerfile.rel} CMD/ENTRYPOINT")
    if layout.makefile is not None:
        for job in make_jobs(found.root, layout.makefile):
            found.job(job.target, job.argv, f"{layout.makefile.name} target {job.target}")
    made = layout.dev_compose or layout.prod_compose or layout.dockerfiles or layout.makefile
    if not found.jobs and made:
        found.notes.append("no command that runs Python found: no jobs; add them to labship.toml")


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


def _python(
    root: Path,
    given: str | None,
    spec: _Spec,
    dockerfiles: Sequence[Dockerfile],
    notes: list[str],
) -> str:
    """The given version, else the spec's, else .python-version's (pyenv, uv), else a
    Dockerfile's FROM python:X.Y, else a requires-python that admits one minor version,
    else the running interpreter's."""
    if given is not None:
        if spec.python and spec.python != given:
            notes.append(f"python {given} given, but {spec.rel} says {spec.python}")
        return given
    if spec.python:
        notes.append(f"python {spec.python} from {spec.rel}")
        return spec.python
    pinned = _python_version_file(root)
    if pinned:
        notes.append(f"python {pinned} from .python-version")
        return pinned
    from_image = next((d for d in dockerfiles if d.python and d.argv), None)
    from_image = from_image or next((d for d in dockerfiles if d.python), None)
    if from_image is not None and from_image.python:
        notes.append(f"python {from_image.python} from {from_image.rel} (FROM python:...)")
        return from_image.python
    single = _single_minor(spec.python_spec)
    if single:
        notes.append(f"python {single} from pyproject.toml requires-python")
        return single
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


def _services(
    root: Path, dev_compose: Path | None, prod_compose: Path | None
) -> dict[Path, list[Service]]:
    """Each compose file's services, the project's marked; a service using an image
    that a project service builds is the project too (the classic prod file's jobs)."""
    found: dict[Path, list[Service]] = {}
    for compose in (prod_compose, dev_compose):
        if compose is not None:
            found[compose] = classify(root, compose, _compose_services(compose))
    images = {s.image for listed in found.values() for s in listed if s.project and s.image}
    return {
        compose: [
            Service(s.name, s.body, True, s.kind, s.image, s.jupyter)
            if not s.project and s.image in images
            else s
            for s in listed
        ]
        for compose, listed in found.items()
    }


def _jobs_from_compose(
    found: _Found,
    path: Path,
    dev_compose: Path | None,
    services: Sequence[Service],
    *,
    python_only: bool = False,
) -> None:
    """One job per project service with a command; the job takes the service's name, and
    its container paths become the project paths they show. In the dev compose file
    (``python_only``), only commands that run Python: the others serve the lab."""
    root = found.root
    dockerfile = _first(root, PROD_DOCKERFILES)
    elsewhere = _volumes_of(root, dev_compose) if dev_compose else []
    mapped = False
    before = len(found.jobs)
    for service in services:
        command = service.body.get("command")
        if command is None or not service.project or service.jupyter:
            continue
        argv = _compose_argv(path, service.name, command)
        if not argv or (python_only and "python" not in argv[0]):
            continue
        view = service_view(root, path, service.body, dockerfile, elsewhere)
        result = map_command(argv, view, root)
        found.job(service.name, result.argv, f"{path.name} service {service.name}")
        found.notes.extend(_mapping_notes(service.name, result))
        mapped = mapped or bool(result.mapped)
    if len(found.jobs) == before and not python_only:
        found.notes.append(f"no service in {path.name} has a command: no jobs taken over")
    if mapped:
        found.notes.append(
            f"{path.name} is unchanged; labship.toml has the project paths, which run the same "
            "locally and in labship's image"
        )


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


def _lab_port(
    root: Path, path: Path, services: Mapping[Path, Sequence[Service]], notes: list[str]
) -> int:
    """The host port that reaches Jupyter: only a service that runs Jupyter gives it (a
    tracking server's 5000 is not the lab's), its mapping to 8888 first."""
    best: tuple[int, int, str, str] | None = None
    for service in services.get(path, ()):
        if not (service.jupyter or _runs_jupyter(root, path, service)):
            continue
        ports = service.body.get("ports") or []
        if not isinstance(ports, list):
            raise ConfigError(f"{path}: service {service.name}: ports must be a list")
        for entry in ports:
            host, container = _port_mapping(entry)
            if host is None:
                continue
            score = int(container != DEFAULT_LAB_PORT)
            if best is None or score < best[0]:
                best = (score, host, service.name, str(entry))
    if best is None:
        return DEFAULT_LAB_PORT
    _, port, service_name, entry = best
    notes.append(f"lab port {port} from {path.name} service {service_name} ({entry})")
    return port


def _build_of(compose: Path, body: Mapping[str, Any]) -> tuple[Path, Path] | None:
    """(Dockerfile, context) of a service's ``build``, or None."""
    build = body.get("build")
    if isinstance(build, str):
        context = Path(os.path.normpath(compose.parent / build))
        return context / "Dockerfile", context
    if isinstance(build, Mapping) and isinstance(build.get("context", "."), str):
        context = Path(os.path.normpath(compose.parent / str(build.get("context", "."))))
        name = build.get("dockerfile", "Dockerfile")
        if isinstance(name, str):
            return Path(os.path.normpath(context / name)), context
    return None


def _built_by_services(
    root: Path, services: Mapping[Path, Sequence[Service]], known: set[Path]
) -> list[Dockerfile]:
    """The Dockerfiles the project's services build that live elsewhere (``app/``),
    read with their own build context."""
    found: list[Dockerfile] = []
    for compose, listed in services.items():
        for service in listed:
            built = _build_of(compose, service.body) if service.project else None
            if built is None or built[0] in known or service.body.get("command") is not None:
                continue
            dockerfile, context = built
            if dockerfile.is_file() and dockerfile.is_relative_to(root):
                known.add(dockerfile)
                found.append(read_dockerfile(root, dockerfile, context))
    return found


def _runs_jupyter(root: Path, compose: Path, service: Service) -> bool:
    """The service's own Dockerfile starts Jupyter (its CMD), or its name says so."""
    if "jupyter" in service.name.lower():
        return True
    built = _build_of(compose, service.body)
    if built is None:
        return False
    dockerfile, context = built
    return (
        dockerfile.is_file()
        and dockerfile.is_relative_to(root)
        and read_dockerfile(root, dockerfile, context).lab
    )


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
    base = root / BASE_NAME
    if base.is_file():
        found = _env_keys(base, notes)
        secret = [k for k in found if _SECRET_KEY.search(k)]
        notes.append(
            f"{BASE_NAME} (python-dotenv's file): every profile reads it first, and a "
            f".env_<profile> value wins over it; {len(found)} variables"
            + (f", secret ones masked: {', '.join(secret)}" if secret else "")
        )
    if not profiles:
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


def _profiles_to_make(root: Path, keys: Sequence[str], notes: list[str]) -> list[File]:
    """.env_dev with a random JupyterLab token where there is none; and, where the
    project's profiles set nothing (so there is nothing to fill in), an empty .env_prod.
    Both private (0600) from the first byte."""
    files: list[File] = []
    dev, prod = profile_path(root, DEFAULT_PROFILE), profile_path(root, "prod")
    if not dev.exists():
        header = ["Variables for labship run and lab (the dev profile); never committed."]
        entries = [{"key": _LAB_TOKEN, "value": secrets.token_hex(24), "comments": []}]
        files.append(File(dev.name, env_text(header, entries), private=True))
        notes.append(f"{dev.name} written (mode 0600) with a random {_LAB_TOKEN} for the lab")
    if not prod.exists() and not [k for k in keys if k != _LAB_TOKEN]:
        header = ["Variables for labship run --profile prod; never committed."]
        files.append(File(prod.name, env_text(header, []), private=True))
        notes.append(f"{prod.name} written empty (mode 0600): the profiles set no variables")
    return files


def _token_line(root: Path) -> str | None:
    """Append a random JUPYTER_TOKEN to an existing .env_dev that has none."""
    path = profile_path(root, DEFAULT_PROFILE)
    try:
        text = path.read_bytes()
    except OSError:
        return None
    if re.search(rb"^\s*(?:export\s+)?" + _LAB_TOKEN.encode() + rb"\s*=", text, re.MULTILINE):
        return None
    line = f"{_LAB_TOKEN}={secrets.token_hex(24)}\n".encode()
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:  # private before the secret is on disk
            path.chmod(0o600)
        with path.open("ab") as out:
            out.write((b"\n" if text and not text.endswith(b"\n") else b"") + line)
    except OSError as exc:
        return f"{path.name} has no {_LAB_TOKEN} and cannot be written ({exc.strerror}): add one"
    private = f", and its mode {mode:o} is 600 now" if mode & 0o077 else ""
    return f"{path.name} had no {_LAB_TOKEN}: one random token line added for the lab{private}"


def _layout_name(
    root: Path,
    spec: _Spec,
    dockerfiles: Sequence[Dockerfile],
    composes: Sequence[Path | None],
    makefile: Path | None,
) -> str:
    """The layout by the name people know it, else by the files that make it."""
    present = [c.name for c in composes if c is not None]
    if not (present or dockerfiles or makefile):
        return ""
    if present and spec.rel == DEFAULT_SPEC:
        return f"classic Docker + Conda layout ({', '.join(present)})"
    data = all((root / "data" / d).is_dir() for d in ("raw", "processed"))
    if (
        makefile is not None
        and data
        and ((root / "references").is_dir() or (root / "reports").is_dir())
    ):
        parts = [p for p in (spec.rel, "Makefile") if p]
        return f"cookiecutter-data-science layout ({', '.join(parts)})"
    names = [d.rel for d in dockerfiles]
    names += [spec.rel] if spec.rel else []
    names += present + ([makefile.name] if makefile is not None else [])
    return " + ".join(names)


@dataclass(frozen=True)
class _Pyproject:
    """What init needs of a pyproject.toml (labship.spec reads it as a spec)."""

    name: str | None
    python_spec: str | None
    has_dependencies: bool


def _pyproject(root: Path) -> _Pyproject | None:
    import tomllib

    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(read_loosely(path))
    except tomllib.TOMLDecodeError:
        return None  # labship lock says what is wrong with it, if it is the spec
    project = data.get("project")
    if not isinstance(project, Mapping):
        return None
    name, python = project.get("name"), project.get("requires-python")
    return _Pyproject(
        name if isinstance(name, str) else None,
        python if isinstance(python, str) else None,
        isinstance(project.get("dependencies"), list),
    )


def _requirements_files(root: Path) -> list[Path]:
    """requirements.txt first, then requirements*.txt and requirements/*.txt by name."""
    found = sorted(root.glob("requirements*.txt")) + sorted(root.glob("requirements/*.txt"))
    found += sorted(root.glob("*-requirements.txt"))
    return sorted(
        dict.fromkeys(p for p in found if p.is_file()),
        key=lambda p: (p.name != "requirements.txt", len(p.parts), p.name),
    )


def _plain_lines(path: Path) -> list[str]:
    """The requirement lines of a dev requirements file (options and -r left out)."""
    out = []
    for raw in read_loosely(path).splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-")):
            out.append(line)
    return out


def _python_version_file(root: Path) -> str | None:
    """3.11 from a .python-version of "3.11" or "3.11.7" (pyenv's and uv's file)."""
    path = root / ".python-version"
    if not path.is_file():
        return None
    found = re.match(r"\s*(3\.\d+)(?:\.\d+)?\s*$", read_loosely(path).split("\n", 1)[0])
    return found.group(1) if found else None


def _single_minor(python_spec: str | None) -> str | None:
    """'3.10' for '~=3.10.0' or '==3.10.*': a range that admits one minor version only."""
    if not python_spec:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        specifier = SpecifierSet(python_spec)
    except InvalidSpecifier:
        return None
    minors = {
        f"3.{m}" for m in range(6, 20) if any(specifier.contains(f"3.{m}.{p}") for p in range(30))
    }
    return minors.pop() if len(minors) == 1 else None


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
