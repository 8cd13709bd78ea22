"""One resolution with uv in a throwaway project: lock, then export the two sets.

The throwaway folder is also uv's TMPDIR, so what uv's builds leave there goes with it,
interrupted or not. Pin problems are found by :mod:`labship.locking.pins` while uv works.
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import ResolutionError
from labship.locking.pins import PYPI, PinCheck, Unusable, report

if TYPE_CHECKING:
    from labship.console import Console
    from labship.spec import Spec
    from labship.tools.process import ToolResult


@dataclass(frozen=True)
class Request:
    """What to resolve: the prod and dev requirements, for one Python, from one spec."""

    name: str
    python: str
    prod: tuple[str, ...]
    dev: tuple[str, ...]
    spec: Spec
    where: str  # the spec as the user names it, for messages
    environments: tuple[str, ...]


def resolve(request: Request, *, console: Console) -> tuple[str, str]:
    """(prod, dev) pylock.toml texts; every unusable pin is reported at once."""
    spec = request.spec
    check = PinCheck(
        request.python,
        (*spec.extra_index_urls, spec.index_url or PYPI),
        find_links=bool(spec.find_links),
    )
    texts = ("", "")
    with tempfile.TemporaryDirectory(prefix="labship-lock-") as tmp:
        work = Path(tmp)
        (work / "tmp").mkdir()
        (work / "pyproject.toml").write_text(_resolver_project(request), encoding="utf-8")
        result = _uv_lock(work, request.python, console)
        if result.returncode == 0:
            texts = (
                _export(work, dev=False, console=console),
                _export(work, dev=True, console=console),
            )
    if result.returncode != 0:
        findings = check.failed((*request.prod, *request.dev), result.stderr)
    else:
        findings = check.locked(tomllib.loads(texts[1]).get("packages", []), result.stderr)
    for warning in findings.warnings:
        console.warn(f"{request.where}: {warning}")
    if findings.problems:
        unique: dict[str, Unusable] = {}
        for problem in findings.problems:
            unique.setdefault(problem.name, problem)
        raise report(list(unique.values()), request.python, request.where, console)
    if result.returncode != 0:
        raise _resolution_error(result.stderr, request.where)
    return texts


def _uv_env(work: Path) -> dict[str, str]:
    return {"TMPDIR": str(work / "tmp")}


def _uv_lock(work: Path, python: str, console: Console) -> ToolResult:
    """``uv lock``; when uv finds no interpreter (pyenv's, with no shim selecting it),
    once more with the one labship finds."""
    from labship.tools.uv import find_python, missing_python, python_not_found, uv

    args = ["lock", "--directory", str(work)]
    result = uv(args, console=console, env=_uv_env(work), check=False)
    if result.returncode != 0 and missing_python(result.stderr):
        interpreter = find_python(python)
        if interpreter is None:
            raise python_not_found(python, "the project asks for it")
        result = uv(
            [*args, "--python", interpreter], console=console, env=_uv_env(work), check=False
        )
        if result.returncode != 0 and missing_python(result.stderr):
            raise python_not_found(python, f"{interpreter} does not run")
    return result


def _export(work: Path, *, dev: bool, console: Console) -> str:
    from labship.tools.uv import uv

    out = work / ("pylock.dev.toml" if dev else "pylock.toml")
    args = ["export", "--directory", str(work), "--frozen", "--no-header", "--quiet"]
    args += ["--format", "pylock.toml", "-o", str(out)]
    args += ["--all-groups"] if dev else ["--no-dev"]
    uv(args, console=console, env=_uv_env(work))
    return out.read_text(encoding="utf-8")


def _resolver_project(request: Request) -> str:
    from labship.templates import render

    spec = request.spec
    indexes = []
    if spec.index_url:
        indexes.append({"url": spec.index_url, "default": True})
    indexes += [{"url": url, "default": False} for url in spec.extra_index_urls]
    return render(
        "lock/pyproject.toml.j2",
        name=request.name,
        python=request.python,
        requirements=request.prod,
        dev_requirements=request.dev,
        environments=request.environments,
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
