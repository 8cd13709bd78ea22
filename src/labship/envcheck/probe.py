"""The import check's inside half, run by an environment's own python (never labship's).

It imports each named distribution's top-level modules and reports every outcome as one
marker line on stdout (JSON after ``MARKER``), so labship can read it from a pipe and from
a BuildKit log alike, whatever else the imported packages print. Standard library only,
Python 3.8+: it runs in project environments and in images, not in labship.

    python -I probe.py REQUEST.json      # or "-" to read the request on stdin
    REQUEST: {"names": ["pandas", "scikit-learn"]}

Exit 0 when every module imported, 1 when one did not.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import sys
import sysconfig
from typing import Any

MARKER = "LABSHIP-IMPORTCHECK"
# Folders some distributions install at the top level by mistake: not their code.
_NOT_CODE = frozenset(
    {"tests", "test", "testing", "docs", "doc", "examples", "example", "benchmarks", "conftest"}
)
_MODULE_SUFFIXES = (".py", ".so", ".pyd")


def emit(event: str, **fields: Any) -> None:
    """One line per event, flushed: a crash mid-import still leaves the 'start' line."""
    fields["event"] = event
    sys.stdout.write(f"{MARKER} {json.dumps(fields)}\n")
    sys.stdout.flush()


def normal(name: str) -> str:
    """PEP 503's normalized name: the spelling the request uses."""
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def installed() -> dict[str, tuple[str, str]]:
    """normalized name -> (its .dist-info folder, version), read from the folder names
    (``name-version.dist-info``): no importlib.metadata, which costs more than the scan."""
    found: dict[str, tuple[str, str]] = {}
    paths = sysconfig.get_paths()
    for folder in dict.fromkeys([paths["purelib"], paths["platlib"]]):
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".dist-info") and entry.is_dir():
                name, _, version = entry.name[: -len(".dist-info")].rpartition("-")
                found.setdefault(normal(name), (entry.path, version))
    return found


def modules(dist_info: str) -> list[str]:
    """The import names a distribution declares, main module first: top_level.txt, else
    RECORD's top-level packages and modules. A top-level name that is a namespace here
    (PyQt5 for PyQtChart, google for protobuf) gives the packages and modules right
    inside it instead. Never tests, private modules, subpackages, or files that are not
    modules of a package (Qt plugins, bundled libraries). Private ones only when nothing
    public is declared."""
    record = _read_lines(os.path.join(dist_info, "RECORD"), record=True)
    declared = _read_lines(os.path.join(dist_info, "top_level.txt"), record=False)
    tops = [n.replace("/", ".") for n in declared if not record or _holds(record, n)]
    tops = tops or _tops(record)
    found: list[str] = []
    for top in tops:
        for name in _expand(top, record):
            if name not in found and _importable(name):
                found.append(name)
    public = [n for n in found if not any(p.startswith("_") for p in n.split("."))]
    names = public or found
    main = _main(os.path.basename(dist_info), names)
    return sorted(names, key=lambda n: (n != main, n))


def _holds(record: list[str], name: str) -> bool:
    """RECORD installs something under a declared name (top_level.txt can name a folder
    of the sources, like kiwisolver's 'src', that the wheel never installs)."""
    path = name.replace(".", "/")
    return any(f.startswith((path + "/", path + ".")) for f in record)


def _importable(name: str) -> bool:
    parts = name.split(".")
    return all(p.isidentifier() for p in parts) and not any(p in _NOT_CODE for p in parts)


def _tops(record: list[str]) -> list[str]:
    """Top-level packages (folders holding Python code) and modules in RECORD."""
    found: list[str] = []
    for path in record:
        parts = path.split("/")
        if parts[-1].endswith(_MODULE_SUFFIXES):
            top = parts[0] if len(parts) > 1 else parts[0].split(".")[0]
            if top.isidentifier() and top not in found:
                found.append(top)
    return found


def _expand(top: str, record: list[str]) -> list[str]:
    """``top`` itself when this distribution holds its ``__init__`` or module file (or
    RECORD is missing); for a namespace, what it holds directly inside it."""
    path = top.replace(".", "/")
    inside = [f[len(path) + 1 :] for f in record if f.startswith(path + "/")]
    own = any(
        "/" not in f[len(path) :] and f.startswith(path + ".") and f.endswith(_MODULE_SUFFIXES)
        for f in record
    )
    if not record or own or "__init__.py" in inside:
        return [top]
    found: list[str] = []
    for rest in inside:
        parts = rest.split("/")
        if len(parts) == 2 and parts[1] == "__init__.py":
            name = f"{top}.{parts[0]}"
        elif len(parts) == 1 and rest.endswith(_MODULE_SUFFIXES):
            name = f"{top}.{rest.split('.')[0]}"
        else:
            continue
        if name not in found:
            found.append(name)
    return found or [top]


def _main(dist_info: str, names: list[str]) -> str:
    """The distribution's main module: the one named like it, else the first declared."""
    dist = normal(dist_info[: -len(".dist-info")].rpartition("-")[0])
    for name in names:
        if normal(name) == dist or normal(name.rpartition(".")[2]) == dist:
            return name
    stem = dist.removeprefix("python-").removeprefix("py-").removesuffix("-python")
    for name in names:
        if normal(name.rpartition(".")[2]) in (stem, "py" + stem):
            return name
    return names[0] if names else ""


def _read_lines(path: str, *, record: bool) -> list[str]:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            if record:
                return [row[0].replace("\\", "/") for row in csv.reader(fh) if row]
            return [line.strip() for line in fh if line.strip()]
    except OSError:
        return []


def first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else "")[:300]


def check(names: list[str]) -> int:
    """Import each distribution's modules, main module first. Only a main module's
    failure fails the check; another's (an optional GUI part, a plugin) is reported with
    ``"main": false`` for a warning."""
    failed = 0
    dists = installed()
    for name in names:
        if normal(name) not in dists:  # its marker excludes this machine: not installed
            emit("missing", dist=name)
            continue
        dist_info, version = dists[normal(name)]
        for index, module in enumerate(modules(dist_info)):
            emit("start", dist=name, version=version, module=module, main=index == 0)
            try:
                importlib.import_module(module)
            except (Exception, SystemExit) as exc:
                failed += index == 0
                kind = type(exc).__name__
                emit("failed", dist=name, version=version, module=module, type=kind,
                     message=first_line(exc), main=index == 0)  # fmt: skip
                if index == 0:
                    break  # the rest cannot import without it
    emit("done", failed=failed)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv[1:] in (["-"], []):
        request = json.load(sys.stdin)
    else:
        with open(argv[1], encoding="utf-8") as source:
            request = json.load(source)
    return check([str(n) for n in request.get("names", [])])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
