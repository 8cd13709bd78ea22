"""``pyproject.toml`` as a spec, and the project's own package.

* ``[project] dependencies`` is the prod set; ``requires-python`` gives the Python.
* ``[dependency-groups]`` (PEP 735, every group, ``include-group`` followed) and the
  development extras of ``[project.optional-dependencies]`` (``dev``, ``test``, ``lint``,
  ``docs`` and their plurals) feed the dev set: they are locked for the lab only.
* A ``[build-system]`` makes the folder a package (uv's rule, unless ``[tool.uv]
  package = false``): the project itself is installed in its own environment, editable
  on the local runtime and built into the prod image. So is a folder that a spec's
  ``-e .`` line names (:func:`local_package`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labship.errors import SpecError
from labship.spec.base import (
    LocalPackage,
    Spec,
    _display,
    _python_minor,
    _validate_requirement,
)

DEV_EXTRAS = frozenset(
    {"dev", "devel", "development", "test", "tests", "testing", "lint", "docs", "doc"}
)
_NAME = re.compile(r"^\s*name\s*=\s*(\S+)\s*$", re.MULTILINE)
_SETUP_NAME = re.compile(r"\bname\s*=\s*['\"]([A-Za-z0-9][A-Za-z0-9._-]*)['\"]")


@dataclass(frozen=True)
class Pyproject:
    """What a pyproject.toml says, as far as an environment goes."""

    requirements: tuple[str, ...]
    dev_requirements: tuple[str, ...]
    python_spec: str | None
    name: str | None
    package: bool  # it builds: the project is a package
    has_dependencies: bool  # a [project] dependencies list is there (maybe empty)


def read_pyproject(path: Path, shown: str | None = None) -> Pyproject:
    """Read one pyproject.toml; a malformed one is a SpecError naming the file."""
    shown = shown or str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{shown}: malformed TOML ({exc})", hint="fix the syntax") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise SpecError(f"{shown}: cannot read ({why})", hint="check the file") from None
    project = _table(data, "project", shown)
    dependencies = project.get("dependencies")
    requirements = _strings(dependencies, shown, "[project] dependencies")
    extras = _table(project, "optional-dependencies", shown)
    dev: list[str] = []
    for extra, items in extras.items():
        if extra.lower() in DEV_EXTRAS:
            dev += _strings(items, shown, f"[project.optional-dependencies] {extra}")
    groups = _table(data, "dependency-groups", shown)
    for group in groups:
        dev += _group(groups, group, shown, ())
    tool_uv = _table(_table(data, "tool", shown), "uv", shown)
    package = "build-system" in data and tool_uv.get("package", True) is not False
    python = project.get("requires-python")
    name = project.get("name")
    return Pyproject(
        requirements=tuple(requirements),
        dev_requirements=tuple(dict.fromkeys(dev)),
        python_spec=python if isinstance(python, str) and python.strip() else None,
        name=name if isinstance(name, str) else None,
        package=package or tool_uv.get("package") is True,
        has_dependencies=isinstance(dependencies, list),
    )


def local_package(folder: Path, where: str) -> LocalPackage | None:
    """The package in ``folder`` that a ``-e .`` line installs, or None when nothing
    there builds (no pyproject.toml, setup.py or setup.cfg)."""
    pyproject = folder / "pyproject.toml"
    name: str | None = None
    if pyproject.is_file():
        name = read_pyproject(pyproject).name
    if name is None and (folder / "setup.cfg").is_file():
        found = _NAME.search((folder / "setup.cfg").read_text(encoding="utf-8", errors="replace"))
        name = found.group(1) if found else None
    if name is None and (folder / "setup.py").is_file():  # setup(name="src", ...)
        text = (folder / "setup.py").read_text(encoding="utf-8", errors="replace")
        found = _SETUP_NAME.search(text)
        name = found.group(1) if found else None
    if name is None and not (pyproject.is_file() or (folder / "setup.py").is_file()):
        return None
    if name is None:
        raise SpecError(
            f"{where}: cannot tell the name of the package in {folder}",
            hint="give it a [project] name in its pyproject.toml",
        )
    return LocalPackage(name=name, path=".")


def _group(groups: Mapping[str, Any], name: str, shown: str, seen: tuple[str, ...]) -> list[str]:
    """One dependency group's requirements, ``{include-group = "..."}`` followed."""
    if name in seen:
        raise SpecError(f"{shown}: [dependency-groups] {name} includes itself", hint="fix it")
    items = groups.get(name)
    if not isinstance(items, list):
        raise SpecError(f"{shown}: [dependency-groups] {name} must be a list")
    out: list[str] = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("include-group"), str):
            out += _group(groups, item["include-group"], shown, (*seen, name))
        else:
            raise SpecError(f"{shown}: [dependency-groups] {name}: {item!r} is not a requirement")
    return out


def _table(data: Mapping[str, Any], key: str, shown: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise SpecError(f"{shown}: [{key}] must be a table")
    return value


def _strings(value: object, shown: str, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{shown}: {what} must be a list of requirement strings")
    return list(value)


def read_pyproject_spec(path: Path) -> Spec:
    """pyproject.toml as the project's spec."""
    shown = _display(path)
    found = read_pyproject(path, shown)
    for requirement in (*found.requirements, *found.dev_requirements):
        _validate_requirement(requirement, shown, "")
    own = LocalPackage(found.name, ".") if found.package and found.name else None
    return Spec(
        path=path,
        python=_python_minor(found.python_spec),
        python_spec=found.python_spec,
        requirements=found.requirements,
        index_url=None,
        extra_index_urls=(),
        find_links=(),
        variables={},
        skipped=(),
        name=found.name,
        channels=(),
        dev_requirements=found.dev_requirements,
        local_package=own,
    )
