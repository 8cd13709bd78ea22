"""The runtime seam: one rule picks a runtime and says where the choice came from, and
nothing outside ``labship.runtimes`` decides by a runtime's name (so adding one is one
module and one registry line).

What the name check forbids is *dispatch*: a runtime name compared with, assigned to a
``runtime``/``choice``/``where``, passed as ``runtime=`` or returned. A hint that tells
the user which flag to pass (``--runtime local`` where no Docker engine answers) may name
one, but only a registered one, so removing or renaming a runtime fails here too. The
word used for other things (the ``docker`` binary, the ``[docker]`` table, a ``local``
time zone: marked ``# not a runtime``) passes."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest

from labship import runtimes
from labship.console import Console
from labship.errors import ConfigError, UsageError
from labship.project import load_project
from labship.runtimes.base import Interactive, Runtime

SRC = Path(runtimes.__file__).resolve().parent.parent
_FLAG_NAMING = re.compile(r"--runtime[ =]([a-z]+)")


def _name_literals(tree: ast.AST, names: set[str]) -> list[tuple[int, str]]:
    """Runtime names used to decide (see the module's docstring), and ``--runtime NAME``
    in text where NAME is not a registered runtime."""
    found: list[tuple[int, str]] = []
    docstrings = {
        id(n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }

    def constants(node: ast.AST | None) -> list[ast.Constant]:
        if node is None:
            return []
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [c for elt in node.elts for c in constants(elt)]
        if isinstance(node, ast.IfExp):
            return constants(node.body) + constants(node.orelse)
        if isinstance(node, ast.Constant) and node.value in names:
            return [node]
        return []

    def runtimeish(target: ast.AST) -> bool:
        if isinstance(target, (ast.Tuple, ast.List)):
            return any(runtimeish(t) for t in target.elts)
        text = ast.unparse(target).lower()
        return "runtime" in text or "choice" in text or "where" in text

    def decides(node: ast.AST) -> ast.AST | None:
        """The expression a runtime name must not be in, for this node."""
        if isinstance(node, ast.Assign) and any(runtimeish(t) for t in node.targets):
            return node.value
        if isinstance(node, ast.keyword) and node.arg and "runtime" in node.arg:
            return node.value
        return node.value if isinstance(node, ast.Return) else None

    for node in ast.walk(tree):
        hits: list[ast.Constant] = []
        if isinstance(node, ast.Compare):
            hits = [c for operand in (node.left, *node.comparators) for c in constants(operand)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            flagged = [m for m in _FLAG_NAMING.findall(node.value) if m not in names]
            if id(node) not in docstrings:
                found += [(node.lineno, f"--runtime {m} (no such runtime)") for m in flagged]
        else:
            hits = constants(decides(node))
        found += [(c.lineno, repr(c.value)) for c in hits]
    return found


def _offenders(names: set[str]) -> list[str]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        if (SRC / "runtimes") in path.parents:
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        out += [
            f"{path.relative_to(SRC)}:{ln}: {what}"
            for ln, what in _name_literals(ast.parse(text), names)
            if "# not a runtime" not in lines[ln - 1]
        ]
    return out


def test_nothing_outside_runtimes_names_a_runtime() -> None:
    assert _offenders(set(runtimes.names())) == []


@pytest.mark.parametrize(
    "code",
    [
        'if where == "docker": pass',
        'x = runtime not in (None, "auto", "docker")',
        'choice, why = "local", "the default"',
        'choice = "local" if choice == "auto" else choice',
        'f(runtime="docker")',
        'def f(): return "local"',
        'raise UsageError("x", hint="use --runtime podman")',
    ],
)
def test_the_name_check_finds_a_named_runtime(code: str) -> None:
    assert _name_literals(ast.parse(code), {*runtimes.names(), runtimes.AUTO})


def test_a_hint_may_name_a_registered_runtime() -> None:
    code = 'raise UsageError("x", hint="use --runtime local")'
    assert _name_literals(ast.parse(code), {"local"}) == []
    assert _name_literals(ast.parse(code), {"docker"}) != []


def test_the_name_check_passes_other_uses_of_the_word() -> None:
    code = 'run_tool("docker", argv)\ndocker = reader.table(data, "docker")\n"""local docs"""'
    assert _name_literals(ast.parse(code), set(runtimes.names())) == []


def test_every_registered_runtime_declares_the_protocol() -> None:
    for name in runtimes.names():
        rt = runtimes.get(name)
        assert isinstance(rt, Runtime) and rt.name == name
        assert isinstance(rt.runs_images, bool) and isinstance(rt.tracks_jobs, bool)
    assert runtimes.interactive_names() == tuple(
        n for n in runtimes.names() if isinstance(runtimes.get(n), Interactive)
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "labship.toml").write_text(
        '[project]\nname = "p"\nruntime = "local"\n', encoding="utf-8"
    )
    return tmp_path


def test_precedence_flag_env_setting(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = load_project(project)
    last, other = runtimes.names()[-1], runtimes.names()[0]
    monkeypatch.setenv(runtimes.ENV_VAR, other)
    assert runtimes.choose(p, last) == runtimes.Choice(last, "--runtime", "--runtime")
    assert runtimes.choose(p, None) == runtimes.Choice(other, runtimes.ENV_VAR, runtimes.ENV_VAR)
    monkeypatch.delenv(runtimes.ENV_VAR)
    assert runtimes.choose(p, None).source == "labship.toml"


def test_without_a_project_and_without_probing_auto_is_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(runtimes.ENV_VAR, raising=False)
    said = io.StringIO()
    rt = runtimes.select(None, None, console=Console(stream=said), probe=False)
    assert rt.name == runtimes.names()[-1] and not rt.runs_images
    assert said.getvalue() == f"labship: runtime: {rt.name} (the default without a project)\n"


def test_unknown_names_are_one_clear_error(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(runtimes.ENV_VAR, "podman")
    with pytest.raises(UsageError, match=r"unknown runtime 'podman' \(LABSHIP_RUNTIME\)"):
        runtimes.choose(None, None)
    monkeypatch.delenv(runtimes.ENV_VAR)
    (project / "labship.toml").write_text(
        '[project]\nname = "p"\nruntime = "podman"\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"runtime = 'podman' is unknown"):
        runtimes.choose(load_project(project), None)


def test_run_image_takes_only_a_runtime_that_runs_images(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(runtimes.ENV_VAR, runtimes.names()[-1])  # where jobs run, not images
    said = io.StringIO()
    rt = runtimes.running_images(None, console=Console(stream=said))
    assert rt.runs_images
    for name in runtimes.names():
        if not runtimes.get(name).runs_images:
            with pytest.raises(UsageError, match=f"not --runtime {name}"):
                runtimes.running_images(name, console=Console(stream=said))
