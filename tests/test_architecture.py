"""The shape of the package, kept by a test.

The layer order is declared once, in ``labship._layers``; this file checks every module
against it: nothing imports upward, no two parts import each other (directly or round a
loop), counting imports inside functions, ``TYPE_CHECKING`` imports and lazy registry
strings (``"labship.images.base:base_problem"``). The checkers are fed fake edges too,
so a test that could never fail would show.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import NamedTuple

import pytest

from labship._layers import LAYERS, rank

SRC = Path(__file__).resolve().parent.parent / "src" / "labship"
# "pkg.module:attr" (optionally with the labship. prefix): a registry's lazy import
_REGISTRY_STRING = re.compile(r"[\"'](?:labship\.)?([a-z_]+(?:\.[a-z_]+)+):[A-Za-z_]+[\"']")


class Edge(NamedTuple):
    source: str  # module
    target: str  # module
    where: str  # path:line


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def part(module: str) -> str:
    """The top-level part a module belongs to: ``labship.images.tags`` -> ``images``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else pieces[0]


def _resolve(target: str, known: set[str]) -> str | None:
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


def _edges_of(name: str, path: Path, known: set[str]) -> list[Edge]:
    text = path.read_text(encoding="utf-8")
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(text)):  # every depth: functions, TYPE_CHECKING blocks
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pieces = package.split(".")
                base = ".".join([*pieces[: len(pieces) - node.level + 1], base]).strip(".")
            found += [(f"{base}.{a.name}", node.lineno) for a in node.names] + [(base, node.lineno)]
    for match in _REGISTRY_STRING.finditer(text):
        found.append((f"labship.{match.group(1)}", text.count("\n", 0, match.start()) + 1))
    shown = path.relative_to(SRC.parent) if path.is_relative_to(SRC.parent) else path
    edges = set()
    for target, line in found:
        resolved = _resolve(target, known) if target.startswith("labship") else None
        if resolved and resolved != name:
            edges.add(Edge(name, resolved, f"{shown}:{line}"))
    return sorted(edges)


def edges() -> list[Edge]:
    modules = _modules()
    known = set(modules)
    return [e for name, path in sorted(modules.items()) for e in _edges_of(name, path, known)]


def upward(found: list[Edge]) -> list[str]:
    """Each import of a higher layer, said as 'where: source -> target'."""
    return [
        f"{e.where}: {e.source} -> {e.target}"
        for e in found
        if rank(part(e.target)) < rank(part(e.source))
    ]


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One loop in ``graph`` (node -> the nodes it imports), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None and (found := visit(node)):
            return found
    return None


def part_graph(found: list[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for e in found:
        if part(e.source) != part(e.target):
            graph.setdefault(part(e.source), set()).add(part(e.target))
    return graph


# ---------------------------------------------------------------- the package as it is


def test_every_part_of_the_package_is_in_exactly_one_layer() -> None:
    declared = [p for layer in LAYERS for p in layer]
    assert len(declared) == len(set(declared))
    assert {part(m) for m in _modules()} == set(declared)


def test_nothing_imports_a_higher_layer() -> None:
    assert upward(edges()) == []


def test_no_cycle_between_parts() -> None:
    assert cycle(part_graph(edges())) is None


def test_no_cycle_between_modules_even_through_function_level_imports() -> None:
    """Modules too (a package's ``__init__`` importing its own parts aside)."""
    graph: dict[str, set[str]] = {}
    for e in edges():
        if not e.target.startswith(e.source + "."):
            graph.setdefault(e.source, set()).add(e.target)
    assert cycle(graph) is None


def test_registry_strings_are_counted() -> None:
    found = edges()
    assert any(
        e.source == "labship.runtimes" and e.target == "labship.images.base" for e in found
    ), "the docker runtime's 'labship.images.base:base_problem' was not seen"


# ---------------------------------------------------------------- the checkers can fail


def test_an_upward_import_is_caught() -> None:
    fake = [
        Edge("labship.tools.uv", "labship.api", "tools/uv.py:1"),
        Edge("labship.api", "labship.tools.uv", "api.py:1"),
    ]
    assert upward(fake) == ["tools/uv.py:1: labship.tools.uv -> labship.api"]


def test_a_cycle_is_caught_between_parts_of_one_layer() -> None:
    fake = [
        Edge("labship.store", "labship.envcheck.probe", "store.py:1"),
        Edge("labship.envcheck", "labship.store", "envcheck/__init__.py:1"),
    ]
    assert upward(fake) == []  # one layer: neither is upward...
    assert cycle(part_graph(fake)) == ["envcheck", "store", "envcheck"]  # ...but a loop
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_imports_inside_functions_and_registry_strings_are_parsed(tmp_path: Path) -> None:
    module = tmp_path / "fake.py"
    module.write_text(
        "def f():\n    from labship.api import run\n"
        "REGISTRY = {'x': 'labship.targets.image:ImageTarget'}\n"
    )
    known = {"labship.tools.fake", "labship.api", "labship.targets.image"}
    found = _edges_of("labship.tools.fake", module, known)
    assert [e.target for e in found] == ["labship.api", "labship.targets.image"]
    assert len(upward(found)) == 2


@pytest.mark.parametrize("name", ["labship.tools.uv", "labship.nosuchpart.x"])
def test_a_part_no_layer_names_is_refused(name: str) -> None:
    if part(name) == "nosuchpart":
        with pytest.raises(KeyError):
            rank(part(name))
    else:
        assert rank(part(name)) == len(LAYERS) - 2


def test_runtimes_and_targets_are_listed_once() -> None:
    """The registries are the only place that names every runtime / target."""
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "__init__.py" or path.parent.name not in ("runtimes", "targets"):
            assert '("auto", "local", "docker")' not in text, path
            assert 'choices=("compose",)' not in text, path
