"""Jobs from a Makefile: each target whose recipe runs one of the project's Python files.

``data: requirements`` / ``$(PYTHON_INTERPRETER) pkg/dataset.py`` becomes the job
``data`` running ``python pkg/dataset.py``; ``python -m pkg.train`` counts too. Only
recipes that run the project's own code become jobs: ``python -m pip``, ``python -c``
and tools (``ruff``, ``pytest``) are how the project is set up, linted or tested, not
what it does. Prerequisites (``data: requirements``) are left out: installing is
labship's part. Variables are expanded from the Makefile's own plain assignments.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from labship.project.scaffold._shared import read_loosely

NAMES = ("Makefile", "makefile", "GNUmakefile")
_ASSIGN = re.compile(r"^(?:export\s+|override\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*([:?+]?=|::=)\s*(.*)$")
_TARGET = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_./-]*)\s*:(?![=:])(.*)$")
_REFERENCE = re.compile(r"\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]")
_PYTHON = re.compile(r"(?:.*/)?python(?:3(?:\.\d+)?)?")


@dataclass(frozen=True)
class MakeJob:
    target: str
    argv: tuple[str, ...]
    line: int  # where the recipe line is, for the note


def find_makefile(root: Path) -> Path | None:
    return next((root / n for n in NAMES if (root / n).is_file()), None)


def make_jobs(root: Path, path: Path) -> list[MakeJob]:
    """One job per target whose recipe runs a project Python file or module."""
    variables: dict[str, str] = {}
    recipes: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    defining = False  # inside define ... endef: text, not rules
    for lineno, line in _logical_lines(read_loosely(path)):
        word = line.split(None, 1)[0] if line.strip() else ""
        if defining or word == "define":
            defining = word != "endef"
            continue
        if line.startswith("\t"):
            if current is not None:
                recipes.setdefault(current, []).append((lineno, line[1:].strip()))
            continue
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assign = _ASSIGN.match(line)
        if assign:
            name, op, value = assign.groups()
            value = value.split(" #", 1)[0].strip()
            if op == "+=":
                value = f"{variables.get(name, '')} {value}".strip()
            if op != "?=" or name not in variables:
                variables[name] = value
            current = None
            continue
        rule = _TARGET.match(line)
        current = rule.group(1) if rule and not rule.group(1).startswith(".") else None
    jobs = []
    for target, lines in recipes.items():
        for lineno, recipe in lines:
            argv = _python_argv(_expand(recipe, variables), root)
            if argv:
                jobs.append(MakeJob(target, argv, lineno))
                break
    return jobs


def _python_argv(recipe: str, root: Path) -> tuple[str, ...]:
    """The command when it runs one of the project's Python files or modules, else ()."""
    text = recipe.lstrip("@-+ ")
    if any(token in text for token in ("&&", "||", ";", "|", ">", "<", "`", "$(")):
        return ()
    try:
        words = shlex.split(text)
    except ValueError:
        return ()
    if len(words) < 2 or not _PYTHON.fullmatch(words[0]):
        return ()
    if words[1] == "-m" and len(words) > 2 and _in_project(root, words[2].replace(".", "/")):
        return ("python", *words[1:])
    if not words[1].startswith("-") and words[1].endswith(".py") and (root / words[1]).is_file():
        return ("python", *words[1:])
    return ()


def _in_project(root: Path, module: str) -> bool:
    """A module path (pkg/train) that is a file or a package of the project."""
    for base in (root, root / "src"):
        if (base / f"{module}.py").is_file() or (base / module / "__init__.py").is_file():
            return True
        if (base / module / "__main__.py").is_file():
            return True
    return False


def _expand(text: str, variables: dict[str, str], depth: int = 0) -> str:
    if depth > 10:
        return text
    expanded = _REFERENCE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)
    return expanded if expanded == text else _expand(expanded, variables, depth + 1)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined, numbered by their first line."""
    out: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = lineno
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        out.append((start, pending + raw))
        pending = ""
    if pending:
        out.append((start, pending))
    return out
