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
    """Its importable top-level packages and modules, from RECORD (every installer writes
    it; a namespace package gives its first real package, e.g. google.protobuf), else
    top_level.txt. Private ones only when there is nothing public."""
    found = _from_record(_read_lines(os.path.join(dist_info, "RECORD"), record=True))
    if not found:
        top_level = _read_lines(os.path.join(dist_info, "top_level.txt"), record=False)
        found = {n.replace("/", ".") for n in top_level}
    names = sorted(
        n
        for n in found
        if n and all(p.isidentifier() for p in n.split(".")) and n.split(".")[0] not in _NOT_CODE
    )
    public = [n for n in names if not any(p.startswith("_") for p in n.split("."))]
    return public or names


def _read_lines(path: str, *, record: bool) -> list[str]:
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            if record:
                return [row[0].replace("\\", "/") for row in csv.reader(fh) if row]
            return [line.strip() for line in fh if line.strip()]
    except OSError:
        return []


def _from_record(files: list[str]) -> set[str]:
    packages = {f[: -len("/__init__.py")] for f in files if f.endswith("/__init__.py")}
    found: set[str] = set()
    for path in files:
        parts = path.split("/")
        top = parts[0] if len(parts) > 1 else parts[0].split(".")[0]
        if not top.isidentifier():  # ../bin, *.dist-info, *.libs, *.data
            continue
        for depth in range(1, len(parts)):
            if "/".join(parts[:depth]) in packages:
                found.add(".".join(parts[:depth]))
                break
        else:
            if parts[-1].endswith(_MODULE_SUFFIXES):
                found.add(".".join([*parts[:-1], parts[-1].split(".")[0]]))
    return found


def first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else "")[:300]


def check(names: list[str]) -> int:
    failed = 0
    dists = installed()
    for name in names:
        if normal(name) not in dists:  # its marker excludes this machine: not installed
            emit("missing", dist=name)
            continue
        dist_info, version = dists[normal(name)]
        for module in modules(dist_info):
            emit("start", dist=name, version=version, module=module)
            try:
                importlib.import_module(module)
            except (Exception, SystemExit) as exc:
                failed += 1
                kind = type(exc).__name__
                emit("failed", dist=name, version=version, module=module, type=kind,
                     message=first_line(exc))  # fmt: skip
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
