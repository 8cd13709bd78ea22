"""The shape of the package, kept by a test: no import cycles (function-level imports
included), nothing imports upward, tools know nothing of labship's domain, and the
registries are the only lists of runtimes and targets."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "labship"

# Modules every layer may use: errors, messages, masking, paths, atomic writes, templates.
FOUNDATION = {
    "labship",
    "labship.errors",
    "labship.console",
    "labship.masking",
    "labship.dirs",
    "labship.atomicfile",
    "labship.inputs",
    "labship.templates",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks: annotations only, never executed."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every labship module ``name`` imports when it runs, at any depth of the code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", 0) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("labship") and target != name:
                yield target


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(name, path, known)) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + "."):
                continue  # a package's own submodules: it is importing its parts
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


def test_no_import_cycles_even_through_function_level_imports() -> None:
    assert _cycle(_graph()) is None


def test_the_checker_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("layer", "allowed"),
    [
        ("labship.tools", {"labship.tools"}),
        ("labship.spec", {"labship.spec"}),
        ("labship.profiles", {"labship.profiles"}),
        ("labship.store", {"labship.tools", "labship.lock"}),
        ("labship.envcheck", {"labship.envcheck", "labship.spec", "labship.tools"}),
        ("labship.lock", {"labship.lock", "labship.spec", "labship.tools", "labship.project"}),
        ("labship.project", {"labship.project", "labship.profiles"}),
    ],
)
def test_lower_layers_do_not_import_upward(layer: str, allowed: set[str]) -> None:
    graph = _graph()
    bad = {
        (name, target)
        for name, targets in graph.items()
        if name == layer or name.startswith(layer + ".")
        for target in targets
        if target not in FOUNDATION and not any(target.startswith(a) for a in allowed)
    }
    assert bad == set()


def test_foundation_modules_stay_at_the_bottom() -> None:
    graph = _graph()
    for name in FOUNDATION - {"labship"}:
        assert graph.get(name, set()) <= FOUNDATION, name


def test_runtimes_and_targets_are_listed_once() -> None:
    """The registries are the only place that names every runtime / target."""
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if path.name != "__init__.py" or path.parent.name not in ("runtimes", "targets"):
            assert '("auto", "local", "docker")' not in text, path
            assert 'choices=("compose",)' not in text, path
