"""Resolve the spec with uv into two PEP 751 lock files, read them back, check staleness.

``pylock.toml`` is the prod set; ``pylock.dev.toml`` is the prod set plus the dev
packages (JupyterLab by default). Both are exported from one universal ``uv lock``
resolution, so every package in both has the same version in both. Each ends with a
``[tool.labship]`` table (PEP 751 reserves ``[tool]`` for tools) recording what
produced it. The content above that table, hashed, is the key of the environment or
image made from it: re-locking to the same result reuses the same environment.

Development-only tools the spec lists (JupyterLab beside pandas) are locked in the dev
set only (:mod:`labship.locking.devtools`); every unusable pin is reported at once
(:mod:`labship.locking.pins`); both files are checked before either is replaced
(:mod:`labship.locking.files`).
"""

from __future__ import annotations

import hashlib
import json
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.errors import ConfigError, StaleLockError
from labship.inputs import load_toml, read_bytes, read_text
from labship.locking.files import TOOL_TABLE
from labship.locking.files import split as _split

if TYPE_CHECKING:
    from labship.console import Console
    from labship.locking.conda import CondaLock
    from labship.project import Project
    from labship.spec import Spec

__all__ = ["TOOL_TABLE", "Lock", "LockResult", "lock", "read_lock", "stale_reason"]

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
    conda: CondaLock | None = field(default=None, compare=False)  # the native part

    def path(self, *, dev: bool) -> Path:
        return self.dev_path if dev else self.prod_path

    def hash(self, *, dev: bool) -> str:
        return self.dev_hash if dev else self.prod_hash

    def env_key(self, *, dev: bool) -> str:
        """What names the set's environment in the store: the lock's content, and, where
        the lock installs the project itself editable, the project's folder too (an
        editable install points at one folder, so it cannot be shared)."""
        content = self.hash(dev=dev)
        if not self.local_packages:
            return content
        return _content_hash(f"{content}\0{self.root}")

    @cached_property
    def local_packages(self) -> tuple[str, ...]:
        """Names of the folder packages (the project's own) in the lock."""
        return local_packages(self.prod_path)

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


def local_packages(path: Path) -> tuple[str, ...]:
    """Names of the folder packages (PEP 751 ``directory`` entries: the project's own
    package) in a lock file; () when there are none or it cannot be read."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return ()
    packages = data.get("packages", [])
    return tuple(str(p.get("name")) for p in packages if isinstance(p.get("directory"), dict))


def _versions(path: Path) -> dict[str, str]:
    """Package name -> version; a lock broken below its header (a conflict marker, a
    package without a name) is one line, like one broken in its [tool.labship] table."""
    try:
        packages = load_toml(read_text(path))["packages"]  # PEP 751: required, even empty
        if not isinstance(packages, list):
            raise TypeError(packages)
        # the project's own package (a directory entry) has no version: its folder's
        return {str(p["name"]): str(p.get("version", "")) for p in packages}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, LookupError, TypeError):
        raise StaleLockError(
            f"{path}: cannot be read (its [[packages]] are missing or malformed)",
            hint="run 'labship lock'",
        ) from None


def _content_hash(body: str, natives: CondaLock | None = None) -> str:
    """The key of an environment: the PyPI set, and the native records when there are any
    (a lock without them keys its environments as before [conda] existed)."""
    digest = hashlib.sha256(body.encode()).hexdigest()
    if natives is None or not natives.records:
        return digest
    return hashlib.sha256(f"{digest}+conda:{natives.hash}".encode()).hexdigest()


def environments() -> list[str]:
    """Linux x86_64 (where production runs), plus this machine where it differs."""
    import platform

    host = f"sys_platform == '{sys.platform}' and platform_machine == '{platform.machine()}'"
    return [TARGET_ENVIRONMENT] if host == TARGET_ENVIRONMENT else [TARGET_ENVIRONMENT, host]


def project_python(project: Project, spec: Spec | None) -> str:
    declared = project.settings.python
    from_spec = spec.python if spec is not None else None
    wanted = spec.python_spec if spec is not None else None
    if declared and wanted and not _admits(wanted, declared):
        said = f"python={from_spec}" if from_spec else f"python {wanted}"
        raise ConfigError(
            f"{project.config_path}: python = {declared!r} but {project.settings.spec} says {said}",
            hint="make them agree",
        )
    python = declared or from_spec
    if not python:
        raise ConfigError(
            f"{project.config_path}: no Python version for the project",
            hint=f'set [project] python = "3.11" or python=3.11 in {project.settings.spec}',
        )
    return python


def _admits(python_spec: str, version: str) -> bool:
    """True when the spec's python constraint admits ``version`` ("3.11": any 3.11.x)."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        specifier = SpecifierSet(python_spec)
    except InvalidSpecifier:
        return False
    candidates = [version] if version.count(".") >= 2 else [f"{version}.{p}" for p in range(40)]
    return any(specifier.contains(c, prereleases=True) for c in candidates)


def input_digest(project: Project, python: str) -> str:
    """A cheap fingerprint of the raw inputs: checked first on every run."""
    h = hashlib.sha256()
    try:
        h.update(read_bytes(project.spec_path))
    except OSError:
        h.update(b"<missing>")
    settings = project.settings
    inputs: list[object] = [python, list(settings.lock_dev_packages)]
    if settings.keep_in_prod:
        inputs.append(list(settings.keep_in_prod))
    if settings.conda:  # absent when off: locks made before [conda] existed stay fresh
        inputs.append(["conda", list(settings.conda_channels), list(settings.conda_packages)])
    h.update(json.dumps(inputs).encode())
    return h.hexdigest()


def inputs_hash(
    spec: Spec,
    python: str,
    dev_packages: tuple[str, ...],
    keep_in_prod: tuple[str, ...] = (),
    conda: Mapping[str, Any] | None = None,
) -> str:
    """The meaning of the inputs: a comment changed in the spec does not make it stale."""
    from labship.locking.devtools import split

    payload: list[object] = [spec.sha256(), python, list(dev_packages), environments()]
    moved = split(spec.requirements, keep_in_prod).moved_names
    if moved:  # absent when none: locks made before the dev set took them stay fresh
        payload.append(sorted(moved))
    if conda is not None:  # the same: absent while [conda] is off
        payload.append({"conda": dict(conda)})
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


def _check_requirements(project: Project, key: str, entries: tuple[str, ...]) -> None:
    """Each ``[lab] <key>`` entry is a PEP 508 requirement, or one line (78) naming it."""
    from packaging.requirements import InvalidRequirement, Requirement

    for entry in entries:
        try:
            Requirement(entry)
        except InvalidRequirement as exc:
            why = str(exc).splitlines()[0]
            raise ConfigError(
                f"{project.config_path}: [lab] {key}: {entry!r} is not a requirement ({why})",
                hint='write a package name with an optional version, e.g. "jupyterlab>=4"',
            ) from None


def lock(project: Project, *, console: Console) -> LockResult:
    """Resolve, report every unusable pin at once, then replace both files together."""
    from labship.locking import conda
    from labship.locking.devtools import split
    from labship.locking.resolve import Request, resolve
    from labship.spec import read_spec

    settings = project.settings
    _check_requirements(project, "packages", settings.dev_packages)
    spec = read_spec(project.spec_path, root=project.root)
    _report_conda(project, spec, console)
    python = project_python(project, spec)
    natives = conda.solve(project, spec, python, console=console) if settings.conda else None
    parts = split(spec.requirements, settings.keep_in_prod)
    if parts.moved:
        names = parts.moved_names
        example = next((n for n in names if n.lower() == "ipykernel"), names[0])
        console.say(
            f"{settings.spec} lists development tools ({', '.join(names)}): they are locked "
            f"in {project.dev_lock_path.name} only, not for production; to keep one there, "
            f'add it to labship.toml: [lab] keep_in_prod = ["{example}"]'
        )
    if spec.dev_requirements:
        console.say(
            f"{settings.spec}: its dependency groups and dev extras "
            f"({', '.join(spec.dev_requirements)}) are locked in {project.dev_lock_path.name} only"
        )
    if spec.local_package is not None:
        console.say(
            f"the project's own package {spec.local_package.name!r} is locked as a folder: "
            "installed editable on the local runtime, built into the prod image"
        )
    console.say(f"resolving {settings.spec} for Python {python} with uv")
    request = Request(
        name=project.name,
        python=python,
        prod=parts.prod,
        dev=(*parts.moved, *spec.dev_requirements, *settings.lock_dev_packages),
        spec=spec,
        where=settings.spec,
        environments=tuple(environments()),
    )
    texts = resolve(request, console=console)
    previous = _previous(project)
    table = _table(project, spec, python, parts.moved_names)
    extra = {}
    if natives is not None:
        extra[conda.lock_path(project)] = conda.render(project, spec, natives, table["inputs"])
    _write(project, texts, table, extra)
    if natives is None:  # [conda] turned off: its lock goes with it
        conda.lock_path(project).unlink(missing_ok=True)
    new = read_lock(project, check=False)
    skipped = () if settings.conda else spec.skipped
    return LockResult(lock=new, changed=previous != (new.prod_hash, new.dev_hash), skipped=skipped)


SHOWN = 5  # names a report lists before "and N more"


def _few(names: tuple[str, ...]) -> str:
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


def _report_conda(project: Project, spec: Spec, console: Console) -> None:
    """What the conda part of the spec left out, said once (never a line per package)."""
    where = project.settings.spec
    if spec.skipped and project.settings.conda:
        console.say(
            f"{where}: {len(spec.skipped)} native conda package(s) ({_few(spec.skipped)}) "
            "are locked from a conda channel ([conda] in labship.toml), not from PyPI"
        )
    elif spec.skipped:
        count = len(spec.skipped)
        full = f"; all {count}: [tool.labship] conda-native in {project.lock_path.name}"
        system = ""
        if spec.system_packages:
            system = f"; images get {', '.join(spec.system_packages)} by apt"
        console.warn(
            f"{where}: {count} conda package(s) hold no Python distribution and stay out of "
            f"the lock ({_few(spec.skipped)}){full if count > SHOWN else ''}{system}; "
            "[conda] would lock them"
        )
    if spec.bundled:
        conda = tuple(dict.fromkeys(c for c, _ in spec.bundled))
        names = tuple(p for _, p in spec.bundled)
        console.say(
            f"{where}: {', '.join(conda)} also bundle(s) {_few(names)}, which PyPI ships "
            f"apart: not locked; add one under 'pip:' if the code imports it"
        )


def _table(project: Project, spec: Spec, python: str, moved: tuple[str, ...]) -> dict[str, Any]:
    """What the [tool.labship] table of both files records."""
    from datetime import UTC, datetime

    from labship import __version__
    from labship.tools.uv import uv_version

    settings = project.settings
    return {
        "python": python,
        "spec": settings.spec,
        "inputs": inputs_hash(
            spec,
            python,
            settings.lock_dev_packages,
            settings.keep_in_prod,
            conda_inputs(project, spec),
        ),
        "digest": input_digest(project, python),
        "dev_packages": settings.lock_dev_packages,
        "moved": moved,
        "uv_version": uv_version(),
        "labship_version": __version__,
        "resolved_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "variables": spec.variables,
        "conda_native": spec.native,
    }


def conda_inputs(project: Project, spec: Spec) -> dict[str, Any] | None:
    from labship.locking.conda import conda_inputs as inputs

    return inputs(project, spec)


def _write(
    project: Project, texts: tuple[str, str], meta: dict[str, Any], extra: dict[Path, str]
) -> None:
    """All files rendered and read back before any replaces anything."""
    from labship.locking.files import render_lock, replace_together

    paths = (project.lock_path, project.dev_lock_path)
    rendered = {
        path: render_lock(path, text, meta, dev=dev)
        for path, text, dev in zip(paths, texts, (False, True), strict=True)
    }
    replace_together({**rendered, **extra})


def _previous(project: Project) -> tuple[str, str] | None:
    try:
        old = read_lock(project, check=False)
    except StaleLockError:  # missing or unreadable: whatever is written now is a change
        return None
    return old.prod_hash, old.dev_hash


def read_lock(project: Project, *, check: bool = True) -> Lock:
    """The project's lock; with ``check``, refuse one that no longer matches the spec."""
    texts = []
    for path in (project.lock_path, project.dev_lock_path):
        try:
            texts.append(read_text(path))
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
    natives = None
    if project.settings.conda:  # off, a conda lock left behind is not read (nor rattler loaded)
        from labship.locking import conda

        natives = conda.read(project)
    result = Lock(
        root=project.root,
        python=meta["python"],
        prod_path=project.lock_path,
        dev_path=project.dev_lock_path,
        prod_hash=_content_hash(prod_body, natives),
        dev_hash=_content_hash(dev_body, natives),
        meta=meta,
        conda=natives,
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
        meta = load_toml(table)["tool"]["labship"]
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
    """Why the lock does not match the inputs, or None. The common case costs one hash;
    a spec edited without changing its meaning (a comment) is parsed once, then known."""
    python = project.settings.python or lock.python
    if python != lock.python:
        return f"labship.toml asks for Python {python}, the lock is for {lock.python}"
    reason = _conda_reason(project, lock)
    if reason:
        return reason
    digest = input_digest(project, python)
    if digest == lock.meta.get("inputs-digest") or _known_fresh(project, lock, digest):
        return None
    from labship.spec import read_spec

    spec = read_spec(project.spec_path, root=project.root)
    python = project_python(project, spec)
    settings = project.settings
    dev_packages = settings.lock_dev_packages
    conda = conda_inputs(project, spec)
    if inputs_hash(spec, python, dev_packages, settings.keep_in_prod, conda) != lock.meta.get(
        "inputs"
    ):
        what = ", [conda]" if settings.conda else ""
        return (
            f"{settings.spec}, [lab] packages{what} or [services] mlflow changed since it was "
            "locked"
        )
    _remember_fresh(project, lock, digest)
    return None


def _conda_reason(project: Project, lock: Lock) -> str | None:
    """The three files belong together: [conda] on needs its lock, written with the others."""
    if not project.settings.conda:
        return None
    from labship.locking.conda import CONDA_LOCK_NAME

    if lock.conda is None:
        return f"[conda] is on in labship.toml but {CONDA_LOCK_NAME} is missing"
    if lock.conda.inputs != lock.meta.get("inputs"):
        return f"{CONDA_LOCK_NAME} was not written with {project.lock_path.name}"
    return None


def _known_fresh(project: Project, lock: Lock, digest: str) -> bool:
    """Whether this digest of the inputs was found to mean this lock's inputs before."""
    from labship import state

    try:
        known = json.loads(state.of(project).fresh.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(known == {"inputs": lock.meta.get("inputs"), "digest": digest})


def _remember_fresh(project: Project, lock: Lock, digest: str) -> None:
    """Best effort: a project that cannot be written to is checked in full every run."""
    from labship import state
    from labship.atomicfile import write_text_atomic
    from labship.errors import FileWriteError

    path = state.of(project).fresh
    record = json.dumps({"inputs": lock.meta.get("inputs"), "digest": digest})
    try:
        path.parent.mkdir(exist_ok=True)
        write_text_atomic(path, record + "\n")
    except (OSError, FileWriteError):
        pass
