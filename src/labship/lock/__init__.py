"""Resolve the spec with uv into two PEP 751 lock files, read them back, check staleness.

``pylock.toml`` is the prod set; ``pylock.dev.toml`` is the prod set plus the dev
packages (JupyterLab by default). Both are exported from one universal ``uv lock``
resolution, so every package in both has the same version in both. Each ends with a
``[tool.labship]`` table (PEP 751 reserves ``[tool]`` for tools) recording what
produced it. The content above that table, hashed, is the key of the environment or
image made from it: re-locking to the same result reuses the same environment.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.atomicfile import write_texts_atomic
from labship.errors import ConfigError, ResolutionError, StaleLockError

if TYPE_CHECKING:
    from labship.console import Console
    from labship.project import Project
    from labship.spec import Spec

TOOL_TABLE = "\n[tool.labship]\n"
TARGET_ENVIRONMENT = "sys_platform == 'linux' and platform_machine == 'x86_64'"


@dataclass(frozen=True)
class Lock:
    root: Path
    python: str
    prod_path: Path
    dev_path: Path
    prod_hash: str
    dev_hash: str
    meta: Mapping[str, Any] = field(compare=False)

    def path(self, *, dev: bool) -> Path:
        return self.dev_path if dev else self.prod_path

    def hash(self, *, dev: bool) -> str:
        return self.dev_hash if dev else self.prod_hash

    @cached_property
    def prod(self) -> Mapping[str, str]:
        """Package name -> version of the prod set."""
        return _versions(self.prod_path)

    @cached_property
    def dev(self) -> Mapping[str, str]:
        return _versions(self.dev_path)


@dataclass(frozen=True)
class LockResult:
    lock: Lock
    changed: bool
    skipped: tuple[str, ...]


def _versions(path: Path) -> dict[str, str]:
    """Package name -> version; a lock broken below its header (a conflict marker, a
    package without a name) is one line, like one broken in its [tool.labship] table."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return {str(p["name"]): str(p["version"]) for p in data.get("packages", [])}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, LookupError, TypeError):
        raise StaleLockError(
            f"{path}: cannot be read (its [[packages]] are malformed)", hint="run 'labship lock'"
        ) from None


def _split(text: str) -> tuple[str, str]:
    """(packages part, tool table part) of a lock file labship wrote."""
    body, sep, tail = text.partition(TOOL_TABLE)
    return body, sep + tail


def _content_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def environments() -> list[str]:
    """Linux x86_64 (where production runs), plus this machine where it differs."""
    host = f"sys_platform == '{sys.platform}' and platform_machine == '{platform.machine()}'"
    return [TARGET_ENVIRONMENT] if host == TARGET_ENVIRONMENT else [TARGET_ENVIRONMENT, host]


def project_python(project: Project, spec: Spec | None) -> str:
    declared = project.settings.python
    from_spec = spec.python if spec is not None else None
    if declared and from_spec and declared != from_spec:
        raise ConfigError(
            f"{project.config_path}: python = {declared!r} but {project.settings.spec} "
            f"says python={from_spec}",
            hint="make them agree",
        )
    python = declared or from_spec
    if not python:
        raise ConfigError(
            f"{project.config_path}: no Python version for the project",
            hint=f'set [project] python = "3.11" or python=3.11 in {project.settings.spec}',
        )
    return python


def input_digest(project: Project, python: str) -> str:
    """A cheap fingerprint of the raw inputs: checked first on every run."""
    h = hashlib.sha256()
    try:
        h.update(project.spec_path.read_bytes())
    except OSError:
        h.update(b"<missing>")
    h.update(json.dumps([python, list(project.settings.dev_packages)]).encode())
    return h.hexdigest()


def inputs_hash(spec: Spec, python: str, dev_packages: tuple[str, ...]) -> str:
    """The meaning of the inputs: a comment changed in the spec does not make it stale."""
    payload = json.dumps([spec.sha256(), python, list(dev_packages), environments()])
    return hashlib.sha256(payload.encode()).hexdigest()


def lock(project: Project, *, console: Console) -> LockResult:
    """Resolve, check that every package has a wheel, then replace both files atomically."""
    from labship.spec import read_spec
    from labship.tools.uv import uv, uv_version

    spec = read_spec(project.spec_path, root=project.root)
    if spec.skipped:
        console.warn(
            f"{project.settings.spec}: conda-only packages left out of the lock: "
            f"{', '.join(spec.skipped)} (list system libraries in [docker] system_packages)"
        )
    python = project_python(project, spec)
    console.say(f"resolving {project.settings.spec} for Python {python} with uv")
    with tempfile.TemporaryDirectory(prefix="labship-lock-") as tmp:
        work = Path(tmp)
        (work / "pyproject.toml").write_text(_resolver_project(project, spec, python))
        result = uv(["lock", "--directory", tmp], console=console, check=False)
        if result.returncode != 0:
            from labship.tools.uv import missing_python, python_not_found

            if missing_python(result.stderr):
                raise python_not_found(python, "the project asks for it")
            raise _resolution_error(result.stderr, project.settings.spec)
        texts = {}
        for dev in (False, True):
            out = work / ("pylock.dev.toml" if dev else "pylock.toml")
            args = ["export", "--directory", tmp, "--frozen", "--no-header", "--quiet"]
            args += ["--format", "pylock.toml", "-o", str(out)]
            args += ["--all-groups"] if dev else ["--no-dev"]
            uv(args, console=console)
            texts[dev] = out.read_text(encoding="utf-8")
    _check_wheels(texts[True], python, project.settings.spec)

    from labship import __version__
    from labship.templates import render

    meta = {
        "python": python,
        "spec": project.settings.spec,
        "inputs": inputs_hash(spec, python, project.settings.dev_packages),
        "digest": input_digest(project, python),
        "dev_packages": project.settings.dev_packages,
        "uv_version": uv_version(),
        "labship_version": __version__,
        "resolved_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "variables": spec.variables,
    }
    previous = _hashes(project)
    files = {}
    for dev, path in ((False, project.lock_path), (True, project.dev_lock_path)):
        table = render("lock/labship-table.toml.j2", set="dev" if dev else "prod", **meta)
        files[path] = texts[dev].rstrip("\n") + "\n" + table
    write_texts_atomic(files)  # both or neither: a full disk keeps the previous pair
    new = read_lock(project, check=False)
    return LockResult(
        lock=new,
        changed=previous != (new.prod_hash, new.dev_hash),
        skipped=spec.skipped,
    )


def _resolver_project(project: Project, spec: Spec, python: str) -> str:
    from labship.templates import render

    indexes = []
    if spec.index_url:
        indexes.append({"url": spec.index_url, "default": True})
    indexes += [{"url": url, "default": False} for url in spec.extra_index_urls]
    return render(
        "lock/pyproject.toml.j2",
        name=project.name,
        python=python,
        requirements=spec.requirements,
        dev_requirements=project.settings.dev_packages,
        environments=environments(),
        find_links=spec.find_links,
        indexes=indexes,
    )


_NOT_FOUND = re.compile(r"Because ([A-Za-z0-9._-]+) was not found in the package registry")


def _resolution_error(stderr: str, where: str) -> ResolutionError:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    missing = _NOT_FOUND.search(stderr)
    if missing:
        return ResolutionError(
            f"{where}: unknown package {missing.group(1)!r}: not found on the package index",
            hint="check the name (conda and PyPI names can differ)",
        )
    causes = [ln.removeprefix("╰─▶ ") for ln in lines if not ln.startswith(("Using ", "hint:"))]
    detail = " ".join(c.removeprefix("error: ") for c in causes)[:600]
    if "No solution found" in stderr or "unsatisfiable" in stderr:
        return ResolutionError(
            f"{where}: the pins cannot be satisfied together: {detail}",
            hint="relax or change the pins uv names",
        )
    return ResolutionError(f"{where}: uv could not resolve: {detail}")


def _check_wheels(dev_text: str, python: str, where: str) -> None:
    """Refuse a package whose locked version has wheels, but none for our Python.

    uv would otherwise lock its sdist and fail later with a compiler traceback. A
    package published only as an sdist (pure Python, like pyspark) is left alone.
    """
    data = tomllib.loads(dev_text)
    for pkg in data.get("packages", []):
        if pkg.get("wheels") or "sdist" not in pkg:
            continue
        from labship.lock.wheels import compatible_versions, index_files

        files = index_files(pkg.get("index", "https://pypi.org/simple"), pkg["name"])
        has_wheels = any(
            f.endswith(".whl") and f"-{pkg['version']}-" in f.replace("_", "-") for f in files
        )
        if not has_wheels:
            continue
        good = compatible_versions(files, python)
        span = f"{good[0]} to {good[-1]}" if good else "none"
        raise ResolutionError(
            f"{where}: {pkg['name']} {pkg['version']} has no wheel for Python {python} "
            f"(it would have to be compiled); versions with one: {span}",
            hint=f"pin {pkg['name']} to a version in that range",
        )


def _hashes(project: Project) -> tuple[str, str] | None:
    try:
        return (
            _content_hash(_split(project.lock_path.read_text(encoding="utf-8"))[0]),
            _content_hash(_split(project.dev_lock_path.read_text(encoding="utf-8"))[0]),
        )
    except OSError:
        return None


def read_lock(project: Project, *, check: bool = True) -> Lock:
    """The project's lock; with ``check``, refuse one that no longer matches the spec."""
    texts = []
    for path in (project.lock_path, project.dev_lock_path):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise StaleLockError(
                f"{project.root}: no lock ({path.name} is missing)", hint="run 'labship lock'"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise StaleLockError(
                f"{path}: cannot be read ({why})", hint="run 'labship lock'"
            ) from None
    (prod_body, prod_tail), (dev_body, _) = (_split(t) for t in texts)
    if not prod_tail:
        raise StaleLockError(
            f"{project.lock_path}: not written by labship (no [tool.labship] table)",
            hint="run 'labship lock'",
        )
    meta = _meta(project.lock_path, prod_tail)
    result = Lock(
        root=project.root,
        python=meta["python"],
        prod_path=project.lock_path,
        dev_path=project.dev_lock_path,
        prod_hash=_content_hash(prod_body),
        dev_hash=_content_hash(dev_body),
        meta=meta,
    )
    if check:
        reason = stale_reason(project, result)
        if reason:
            raise StaleLockError(
                f"{project.lock_path.name} is stale: {reason}", hint="run 'labship lock'"
            )
    return result


def _meta(path: Path, table: str) -> dict[str, Any]:
    """The [tool.labship] table, checked: a lock with a conflict marker or a missing key
    is unusable, and says so in one line (never a traceback)."""
    try:
        meta = tomllib.loads(table)["tool"]["labship"]
    except (tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        why = "not valid TOML" if isinstance(exc, tomllib.TOMLDecodeError) else "no [tool.labship]"
        raise StaleLockError(f"{path}: cannot be read ({why})", hint="run 'labship lock'") from None
    for key in ("python", "inputs"):
        if not isinstance(meta.get(key), str):
            raise StaleLockError(
                f"{path}: [tool.labship] {key} is missing or not a string",
                hint="run 'labship lock'",
            )
    return dict(meta)


def stale_reason(project: Project, lock: Lock) -> str | None:
    """Why the lock does not match the inputs, or None. The common case costs one hash."""
    python = project.settings.python or lock.python
    if python != lock.python:
        return f"labship.toml asks for Python {python}, the lock is for {lock.python}"
    if input_digest(project, python) == lock.meta.get("inputs-digest"):
        return None
    from labship.spec import read_spec

    spec = read_spec(project.spec_path, root=project.root)
    python = project_python(project, spec)
    if inputs_hash(spec, python, project.settings.dev_packages) != lock.meta.get("inputs"):
        return f"{project.settings.spec} or [lab] packages changed since it was locked"
    return None
