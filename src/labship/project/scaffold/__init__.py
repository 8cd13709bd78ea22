"""Make projects: ``labship new`` writes a fresh one, ``labship init`` adopts a folder.

Both only ever *add* files, never change one: every file is rendered in memory first
(a template error writes nothing), then created with ``O_EXCL`` so an existing file
can never be overwritten, even by a race. A failure while writing removes what was
written. Profiles (``.env_*``) are created 0600 from the first byte, never chmod-ed
after the secret is on disk.

``init`` recognises the classic Docker + Conda template (docker-compose.yml for the
lab, docker-compose.prod.yml for the jobs, docker/environment.yml, .env_dev and
.env_prod) and takes its settings over, saying each one aloud in ``notes``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.errors import ConfigError, ConflictError, LabshipError, UsageError
from labship.project import CONFIG_NAME
from labship.project.settings import Job, Settings, render_settings

if TYPE_CHECKING:
    import jinja2

__all__ = ["ScaffoldResult", "init_project", "new_project"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")  # the rule project.py enforces
_PYTHON = re.compile(r"^3\.\d+$")
_SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SPEC_PYTHON = re.compile(r"^\s*-\s*python\s*(?:==?|\s)\s*(3\.\d+)", re.MULTILINE)
_SPEC_NAME = re.compile(r"^name\s*:\s*['\"]?([^'\"#\s]+)", re.MULTILINE)
_FIXED_TOKEN = re.compile(r"(?:NotebookApp|ServerApp|IdentityProvider)\.token=['\"]?([^'\"\s]+)")

# The example project's packages: both have cp310-cp313 manylinux wheels.
_EXAMPLE_PACKAGES = ("pandas=2.2.3", "scikit-learn=1.5.2")
_LAB_PACKAGES = ("jupyterlab",)
_DEFAULT_PORT = 8888
# Where init looks for the spec, best first.
_SPEC_CANDIDATES = (
    "docker/environment.yml",
    "docker/environment.yaml",
    "environment.yml",
    "environment.yaml",
    "requirements.txt",
)
_DEV_COMPOSE = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
_PROD_COMPOSE = ("docker-compose.prod.yml", "docker-compose.prod.yaml")


@dataclass(frozen=True)
class ScaffoldResult:
    root: Path
    created: tuple[Path, ...]  # files written
    kept: tuple[Path, ...]  # files that existed and were left untouched (init)
    notes: tuple[str, ...]  # what init took over, or what to do next, said aloud


@dataclass(frozen=True)
class _File:
    rel: str
    content: str
    private: bool = False  # 0600: a profile holding secrets


@dataclass(frozen=True)
class _JobSpec:
    name: str
    argv: tuple[str, ...]

    @property
    def command(self) -> str | list[str]:
        """A plain string when that reads back the same, else the exact argv list."""
        text = shlex.join(self.argv)
        return text if text == " ".join(self.argv) else list(self.argv)

    @property
    def command_text(self) -> str:
        return shlex.join(self.argv)


@dataclass(frozen=True)
class _Var:
    key: str
    comment: str
    dev: str
    prod: str | None  # None: not in .env_prod (lab only)
    example: str = ""
    secret: bool = False


@dataclass
class _Settings:
    """What labship.toml.j2 needs; init fills it piece by piece."""

    name: str
    python: str | None
    spec: str = "docker/environment.yml"
    jobs: list[_JobSpec] = field(default_factory=list)
    port: int = _DEFAULT_PORT
    required: list[str] = field(default_factory=list)
    secret: list[str] = field(default_factory=list)

    def context(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": "0.1.0",
            "python": self.python,
            "spec": self.spec,
            "jobs": self.jobs,
            "port": self.port,
            "packages": list(_LAB_PACKAGES),
            "required": self.required,
            "secret": self.secret,
            "image": self.name,
            "system_packages": [],
        }

    def settings(self) -> Settings:
        return Settings(
            name=self.name,
            python=self.python,
            spec=self.spec,
            jobs={job.name: Job(job.name, job.argv) for job in self.jobs},
            lab_port=self.port,
            required=tuple(self.required),
            secret=tuple(self.secret),
            image=self.name,
        )


# --------------------------------------------------------------------------- new


def new_project(
    dest: Path, *, name: str | None = None, bare: bool = False, python: str | None = None
) -> ScaffoldResult:
    """Write a new project into ``dest``, which must not exist or be empty."""
    root = Path(os.path.abspath(dest))
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        what = "is not empty" if root.is_dir() else "exists and is not a folder"
        raise ConflictError(
            f"{root} {what}",
            hint="choose a new folder, or run 'labship init' there to adopt its files",
        )
    project = _checked_name(name) if name is not None else _derived_name(root.name)
    if project is None:
        raise UsageError(
            f"cannot make a project name from {root.name!r}",
            hint="pass one with --name (lowercase letters, digits, '.', '_', '-')",
        )
    py = _checked_python(python) if python is not None else _host_python()
    files = _new_files(project, py, bare=bare)
    notes = [
        "random JUPYTER_TOKEN and DB_PASSWORD written to .env_dev (mode 0600)",
        "DB_PASSWORD and DB_HOST in .env_prod are placeholders: put the real ones there",
    ]
    if not bare and py not in ("3.10", "3.11", "3.12", "3.13"):
        notes.append(
            f"pandas 2.2.3 and scikit-learn 1.5.2 have wheels for Python 3.10 to 3.13, "
            f"not {py}: change the pins in docker/environment.yml"
        )
    created = _write_all(root, files)
    return ScaffoldResult(root, created, (), tuple(notes))


def _new_files(name: str, python: str, *, bare: bool) -> list[_File]:
    env = _environment()
    settings = _Settings(name=name, python=python)
    variables = _example_variables(name)
    settings.required = [v.key for v in variables if v.prod is not None]
    settings.secret = [v.key for v in variables if v.secret]
    if not bare:
        settings.jobs = [_JobSpec("train", ("python", "code/train.py"))]
    context = settings.context()
    packages = () if bare else _EXAMPLE_PACKAGES
    files = [
        _File(CONFIG_NAME, render_settings(settings.settings())),
        _File("docker/environment.yml", _render_spec(env, name, python, packages)),
        _File(".env_dev", _render_profile(env, variables, "dev"), private=True),
        _File(".env_prod", _render_profile(env, variables, "prod"), private=True),
        _File(".env.example", _render_profile(env, variables, "example")),
        _File(".gitignore", env.get_template("project/gitignore.j2").render()),
        _File(".dockerignore", env.get_template("project/dockerignore.j2").render()),
        _File("README.md", env.get_template("project/README.md.j2").render(context)),
        _File("data/.gitkeep", ""),
        _File("models/.gitkeep", ""),
    ]
    if bare:
        files += [_File("code/.gitkeep", ""), _File("notebooks/.gitkeep", "")]
    else:
        files += [
            _File("code/train.py", _verbatim("train.py.txt")),
            _File("notebooks/explore.ipynb", _verbatim("explore.ipynb")),
        ]
    return files + _compose_files(files[0].content)


def _compose_files(config_text: str) -> list[_File]:
    """compose.yaml / compose.prod.yaml, so the project runs without labship too."""
    import tomllib

    from labship.project import Project, parse_settings
    from labship.targets.compose import render_compose

    settings = parse_settings(tomllib.loads(config_text), source=CONFIG_NAME)
    rendered = render_compose(Project(Path("."), settings))
    return [_File(name, text) for name, text in rendered.items()]


def _example_variables(name: str) -> list[_Var]:
    """The example profiles: one table, so the env files and labship.toml agree."""
    import secrets

    db = re.sub(r"[^a-z0-9_]", "_", name)
    return [
        _Var("RANDOM_SEED", "seed for the train/test split and the model", "42", "42", "42"),
        _Var(
            "DB_HOST",
            "database host (the example job only prints it)",
            "localhost",
            "db.prod.internal",
            "localhost",
        ),
        _Var("DB_NAME", "database name", f"{db}_dev", db, f"{db}_dev"),
        _Var("DB_USER", "database user", db, db, db),
        _Var(
            "DB_PASSWORD",
            "database password (secret)",
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            secret=True,
        ),
        _Var(
            "JUPYTER_TOKEN",
            "token that opens JupyterLab; lab only, so not in .env_prod (secret)",
            secrets.token_hex(24),
            None,
            secret=True,
        ),
    ]


def _render_profile(env: jinja2.Environment, variables: Sequence[_Var], profile: str) -> str:
    if profile == "example":
        header = [
            "Every variable the project reads, documented; committed, so no secrets here.",
            "Copy to .env_<profile> (e.g. .env_dev, .env_prod) and fill in the values.",
        ]
    else:
        header = [
            f"Profile {profile!r}: `labship run --profile {profile}` gives these to the job.",
            "Private: git-ignored, kept out of images, mode 0600. Never commit it.",
        ]
    entries: list[dict[str, Any]] = []
    for var in variables:
        if profile == "example":
            value, comments = var.example, [var.comment]
        elif profile == "dev":
            value, comments = var.dev, []
        elif var.prod is None:
            continue
        else:
            value, comments = var.prod, []
            if var.key == "DB_PASSWORD":
                comments = ["placeholder so the example runs: replace it with the real one"]
            elif var.key == "DB_HOST":
                comments = ["placeholder: the production database host"]
        entries.append({"key": var.key, "value": value, "comments": comments})
    return env.get_template("project/env.j2").render(header=header, entries=entries)


def _render_spec(env: jinja2.Environment, name: str, python: str, packages: Iterable[str]) -> str:
    return env.get_template("project/environment.yml.j2").render(
        name=name, python=python, packages=list(packages)
    )


# -------------------------------------------------------------------------- init


def init_project(
    folder: Path, *, name: str | None = None, python: str | None = None
) -> ScaffoldResult:
    """Make ``folder`` a labship project, adding only the files it lacks."""
    root = Path(os.path.abspath(folder))
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder", hint="run 'labship new NAME' to make one")
    config = root / CONFIG_NAME
    if config.exists():
        raise ConflictError(
            f"{config} exists: {root} is already a labship project",
            hint="edit labship.toml instead",
        )
    if name is not None:
        name = _checked_name(name)
    if python is not None:
        python = _checked_python(python)
    env = _environment()
    notes: list[str] = []
    files: list[_File] = []

    dev_compose = _first(root, _DEV_COMPOSE)
    prod_compose = _first(root, _PROD_COMPOSE)
    composes = [p.name for p in (dev_compose, prod_compose) if p is not None]
    if composes:
        notes.append(f"classic Docker + Conda layout recognised ({', '.join(composes)})")
    else:
        notes.append("no docker-compose files: a minimal labship.toml, add jobs to it")

    spec_path = _first(root, _SPEC_CANDIDATES)
    spec_text = spec_path.read_text(encoding="utf-8", errors="replace") if spec_path else ""
    spec_is_conda = spec_path is not None and spec_path.suffix in (".yml", ".yaml")
    spec_python = _match(_SPEC_PYTHON, spec_text) if spec_is_conda else None

    project = name or _derived_name(root.name)
    if name is None and project is None and spec_is_conda:
        project = _derived_name(_match(_SPEC_NAME, spec_text) or "")
        if project is not None:
            notes.append(f"name {project!r} from {_rel(root, spec_path)}")
    if project is None:
        raise UsageError(
            f"cannot make a project name from {root.name!r}",
            hint="pass one with --name (lowercase letters, digits, '.', '_', '-')",
        )
    if name is None and project != root.name:
        notes.append(f"name {project!r} made from the folder name {root.name!r}")

    if python is not None:
        py = python
        if spec_python and spec_python != python:
            notes.append(f"python {python} given, but {_rel(root, spec_path)} says {spec_python}")
    elif spec_python:
        py = spec_python
        notes.append(f"python {py} from {_rel(root, spec_path)}")
    else:
        py = _host_python()
        notes.append(f"python {py}: the running interpreter's (no python= in a spec)")

    settings = _Settings(name=project, python=py)
    if spec_path is not None:
        settings.spec = _rel(root, spec_path)
        notes.append(f"spec {settings.spec}")
    else:
        files.append(_File("docker/environment.yml", _render_spec(env, project, py, ())))
        notes.append("spec docker/environment.yml created with python only: add your packages")

    if prod_compose is not None:
        settings.jobs = _jobs_from_compose(prod_compose)
        for job in settings.jobs:
            notes.append(
                f"job {job.name!r} from {prod_compose.name} service {job.name}: {job.command_text}"
            )
        if not settings.jobs:
            notes.append(f"no service in {prod_compose.name} has a command: no jobs taken over")
    if dev_compose is not None:
        found = _port_from_compose(dev_compose)
        if found is not None:
            settings.port, service, entry = found
            notes.append(
                f"lab port {settings.port} from {dev_compose.name} service {service} ({entry})"
            )

    keys, required = _profile_keys(root, notes)
    settings.required = required
    settings.secret = [key for key in keys if _SECRET_KEY.search(key)]
    files.append(_File(CONFIG_NAME, render_settings(settings.settings())))

    kept: list[Path] = []
    if keys:
        if (root / ".env.example").exists():
            kept.append(root / ".env.example")
        else:
            entries = [
                {"key": key, "value": "", "comments": ["secret"] if key in settings.secret else []}
                for key in keys
            ]
            header = [
                "Every variable the profiles set, without values; committed, so no secrets.",
                "Copy to .env_<profile> (e.g. .env_dev, .env_prod) and fill in the values.",
            ]
            files.append(
                _File(
                    ".env.example",
                    env.get_template("project/env.j2").render(header=header, entries=entries),
                )
            )
    for rel, template in ((".gitignore", "gitignore.j2"), (".dockerignore", "dockerignore.j2")):
        text = env.get_template(f"project/{template}").render()
        path = root / rel
        if not path.exists():
            files.append(_File(rel, text))
            continue
        kept.append(path)
        missing = _missing_lines(path, text)
        if missing:
            notes.append(f"{rel} kept as it is; recommended lines it lacks: {' '.join(missing)}")

    token = _fixed_token(root)
    if token:
        notes.append(
            f"{token} starts Jupyter with a fixed token; labship lab uses JUPYTER_TOKEN from "
            "the profile instead"
        )
    created = _write_all(root, files)
    return ScaffoldResult(root, created, tuple(kept), tuple(notes))


def _jobs_from_compose(path: Path) -> list[_JobSpec]:
    """One job per service with a command; the job takes the service's name."""
    jobs: list[_JobSpec] = []
    for service, body in _compose_services(path).items():
        command = body.get("command")
        if command is None:
            continue
        if isinstance(command, str):
            try:
                argv = shlex.split(command)
            except ValueError as exc:
                raise ConfigError(
                    f"{path}: service {service}: command cannot be split: {exc}",
                    hint="fix the quoting, or write the command as a list",
                ) from None
        elif isinstance(command, list) and all(
            isinstance(a, str | int | float) and not isinstance(a, bool) for a in command
        ):
            argv = [str(a) for a in command]
        else:
            raise ConfigError(
                f"{path}: service {service}: command must be a string or a list of strings"
            )
        if argv:
            jobs.append(_JobSpec(service, tuple(argv)))
    return jobs


def _port_from_compose(path: Path) -> tuple[int, str, str] | None:
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
            score = rank * 2 + (container != _DEFAULT_PORT)
            if best is None or score < best[0]:
                best = (score, host, service, str(entry))
    return None if best is None else best[1:]


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
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def _profile_keys(root: Path, notes: list[str]) -> tuple[list[str], list[str]]:
    """All keys of the .env_<profile> files, and those every profile sets (required).

    A key only some profiles set (JUPYTER_TOKEN, set for the lab only) is not
    required: requiring it would make every other profile invalid.
    """
    profiles = sorted(
        (p for p in root.glob(".env_*") if p.is_file()),
        key=lambda p: ({".env_dev": 0, ".env_prod": 1}.get(p.name, 2), p.name),
    )
    if not profiles:
        if (root / ".env").is_file():
            notes.append(".env is not a profile: labship reads .env_<profile> files")
        return [], []
    keys: list[str] = []
    sets: list[set[str]] = []
    for profile in profiles:
        found = _env_keys(profile)
        sets.append(set(found))
        keys += [k for k in found if k not in keys]
    required = [k for k in keys if all(k in s for s in sets)]
    names = ", ".join(p.name for p in profiles)
    notes.append(f"required variables from {names}: {', '.join(required) or 'none'}")
    partial = [k for k in keys if k not in required]
    if partial:
        notes.append(f"set in some profiles only, so not required: {', '.join(partial)}")
    secret = [k for k in keys if _SECRET_KEY.search(k)]
    if secret:
        notes.append(f"secret variables (masked): {', '.join(secret)}")
    return keys, required


def _env_keys(path: Path) -> list[str]:
    """Keys of KEY=VALUE lines; comments, blanks and odd lines are skipped."""
    keys: list[str] = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key = line.split("=", 1)[0].strip()
        if _ENV_KEY.match(key) and key not in keys:
            keys.append(key)
    return keys


def _missing_lines(path: Path, recommended: str) -> list[str]:
    have = {
        line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
    }
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
            match = _FIXED_TOKEN.search(path.read_text(encoding="utf-8", errors="replace"))
            if match and match.group(1) not in ("", "''", '""'):
                return rel
    return None


# ------------------------------------------------------------------------ shared


def _environment() -> jinja2.Environment:
    from labship.templates import environment

    return environment()


def _verbatim(name: str) -> str:
    """A template file copied as it is (code and JSON that Jinja syntax could mangle)."""
    from importlib import resources

    return resources.files("labship").joinpath("templates", "project", name).read_text("utf-8")


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"{name!r} is not a valid project name",
            hint="use lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return name


def _derived_name(text: str) -> str | None:
    """A folder name made valid: 'My Churn Model' -> 'my-churn-model'."""
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return name if _NAME.match(name) else None


def _checked_python(python: str) -> str:
    if not _PYTHON.match(python):
        raise UsageError(
            f"python {python!r} is not a Python version", hint='write major.minor, e.g. "3.11"'
        )
    return python


def _host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _first(root: Path, candidates: Iterable[str]) -> Path | None:
    return next((root / rel for rel in candidates if (root / rel).is_file()), None)


def _match(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return found.group(1) if found else None


def _rel(root: Path, path: Path | None) -> str:
    return "" if path is None else path.relative_to(root).as_posix()


def _write_all(root: Path, files: Sequence[_File]) -> tuple[Path, ...]:
    """Create every file or none: O_EXCL never overwrites; a failure undoes the rest."""
    made_dirs: list[Path] = []
    written: list[Path] = []
    try:
        for item in files:
            path = root / item.rel
            for folder in reversed((path.parent, *path.parent.parents)):
                if not folder.exists():
                    folder.mkdir()
                    made_dirs.append(folder)
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if item.private else 0o666
            )
            written.append(path)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                out.write(item.content)
    except OSError as exc:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        for folder in reversed(made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: never remove what someone else put there
        if isinstance(exc, FileExistsError):
            raise ConflictError(
                f"{exc.filename} appeared while labship was writing; nothing was changed",
                hint="run the command again",
            ) from None
        raise LabshipError(
            f"cannot write {exc.filename or root}: {exc.strerror}; nothing was changed"
        ) from None
    return tuple(written)
