"""conda's ``environment.yml`` (CEP 24): name, channels, dependencies (match-specs and a
``pip:`` list), variables; read with PyYAML's node API so errors name ``file:line``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import SpecError
from labship.inputs import compose_yaml
from labship.spec import condanames
from labship.spec.base import (
    Spec,
    _canonical_specifier,
    _display,
    _python_minor,
    _read_text,
)
from labship.spec.matchspec import _requirements, _translate
from labship.spec.requirements import _Collector

if TYPE_CHECKING:
    from yaml.nodes import MappingNode, Node


def _read_conda(path: Path, root: Path | None) -> Spec:
    shown = _display(path)
    sections = _sections(_compose(_read_text(path, shown), shown), shown)
    channels = tuple(
        _scalar(item, shown, "a channel")
        for item in _sequence(sections.get("channels"), shown, "channels")
    )
    deps = _Dependencies(path, shown)
    deps.pip.root = root
    for item in _sequence(sections.get("dependencies"), shown, "dependencies"):
        deps.add(item)
    python_spec = deps.python_spec or None
    collector = deps.pip
    return Spec(
        path=path,
        python=_python_minor(python_spec),
        python_spec=python_spec,
        requirements=(*deps.requirements, *collector.requirements),
        index_url=collector.index_url,
        extra_index_urls=tuple(collector.extra_index_urls),
        find_links=tuple(collector.find_links),
        variables=_variables(sections.get("variables"), shown),
        skipped=tuple(deps.skipped),
        name=_optional_scalar(sections.get("name"), shown, "'name'"),
        channels=channels,
        local_package=collector.local,
        native=tuple(deps.native),
        system_packages=_runtime_libraries(
            (*deps.requirements, *collector.requirements), deps.skipped
        ),
        bundled=_not_kept(deps.bundled, (*deps.requirements, *collector.requirements)),
    )


def _not_kept(
    bundled: list[tuple[str, str]], requirements: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """Bundled distributions no other line of the spec asks for."""
    kept = {_requirement_name(r) for r in requirements}
    return tuple((conda, pypi) for conda, pypi in bundled if pypi not in kept)


def _requirement_name(requirement: str) -> str:
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    return re.sub(r"[-_.]+", "-", found.group(0)).lower() if found else ""


def _runtime_libraries(requirements: tuple[str, ...], native: list[str]) -> tuple[str, ...]:
    """Debian packages for the native packages that kept distributions load at run time."""
    out: list[str] = []
    for requirement in requirements:
        conda, debian = condanames.RUNTIME_LIBRARIES.get(_requirement_name(requirement), ("", ""))
        if conda in native and debian not in out:
            out.append(debian)
    return tuple(out)


def _compose(text: str, shown: str) -> MappingNode:
    """The YAML document as nodes (which keep line numbers for errors)."""
    import yaml

    try:
        root = compose_yaml(text)  # nested past MAX_DEPTH: a YAMLError, as a syntax error
    except yaml.MarkedYAMLError as err:
        lineno = err.problem_mark.line + 1 if err.problem_mark else 1
        problem = err.problem or err.context or "syntax error"
        raise SpecError(
            f"{shown}:{lineno}: malformed YAML ({problem})", hint="fix the YAML syntax"
        ) from None
    except yaml.YAMLError as err:
        raise SpecError(f"{shown}: malformed YAML ({err})", hint="fix the YAML syntax") from None
    if root is None:
        raise SpecError(
            f"{shown}: the file is empty", hint="list the packages under 'dependencies:'"
        )
    if not isinstance(root, yaml.MappingNode):
        raise SpecError(
            f"{_at(shown, root)}: the top level must be a mapping",
            hint="start with 'name:', 'channels:' and 'dependencies:' keys",
        )
    return root


def _sections(root: MappingNode, shown: str) -> dict[str, Node]:
    sections: dict[str, Node] = {}
    for key_node, value_node in root.value:
        key = _scalar(key_node, shown, "a key")
        if key in sections:
            raise SpecError(f"{_at(shown, key_node)}: '{key}' appears twice", hint="keep one")
        sections[key] = value_node
    return sections


def _variables(node: Node | None, shown: str) -> dict[str, str]:
    import yaml

    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        raise SpecError(
            f"{_at(shown, node)}: 'variables' must be a mapping",
            hint="write 'variables:' followed by indented 'NAME: value' lines",
        )
    variables: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node, shown, "a variable name")
        variables[key] = _scalar(value_node, shown, f"the value of variable '{key}'")
    return variables


class _Dependencies:
    """The ``dependencies:`` list: conda match-specs, the python entry, a ``pip:`` list."""

    def __init__(self, path: Path, shown: str) -> None:
        self.path, self.shown = path, shown
        self.python_spec = ""
        self.python_where = ""
        self.requirements: list[str] = []
        self.skipped: list[str] = []
        self.native: list[str] = []
        self.bundled: list[tuple[str, str]] = []
        self.pip = _Collector()

    def add(self, item: Node) -> None:
        import yaml

        if isinstance(item, yaml.MappingNode):
            self._pip_section(item)
            return
        where = _at(self.shown, item)
        spec_text = _scalar(item, self.shown, "a dependency")
        found, version = _translate(spec_text, where)
        if found is None:
            if version[0] == "python" and version[1]:  # a bare 'python' adds nothing
                self._python(version[1], spec_text, where)
        elif found.native:
            if found.conda not in self.skipped:
                self.skipped.append(found.conda)
                self.native.append(spec_text.strip())
        else:
            for requirement in _requirements(found, version[0], spec_text, where):
                if requirement not in self.requirements:  # matplotlib and matplotlib-base
                    self.requirements.append(requirement)
            self.bundled.extend((found.conda, p) for p in found.bundled)

    def _python(self, translated: str, spec_text: str, where: str) -> None:
        previous = _canonical_specifier(self.python_spec or None)
        if self.python_spec and _canonical_specifier(translated) != previous:
            raise SpecError(
                f"{where}: '{spec_text}' contradicts the python version at {self.python_where}",
                hint="keep one python entry",
            )
        self.python_spec, self.python_where = translated, where

    def _pip_section(self, item: MappingNode) -> None:
        for key_node, value_node in item.value:
            key = _scalar(key_node, self.shown, "a key")
            if key != "pip":
                raise SpecError(
                    f"{_at(self.shown, key_node)}: unknown dependency section '{key}:'",
                    hint="only a 'pip:' list may appear under 'dependencies:'",
                )
            for line_node in _sequence(value_node, self.shown, "pip", required=True):
                line = _scalar(line_node, self.shown, "a pip requirement")
                where = _at(self.shown, line_node)
                self.pip.line(line, where, self.path.parent, (self.path.resolve(),))


def _at(shown: str, node: Node) -> str:
    return f"{shown}:{node.start_mark.line + 1}"


def _scalar(node: Node, shown: str, what: str) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        raise SpecError(
            f"{_at(shown, node)}: expected {what} as a single value",
            hint="write it as plain text (quote it if it contains ':' or '#')",
        )
    return str(node.value)


def _optional_scalar(node: Node | None, shown: str, what: str) -> str | None:
    if node is None or node.tag == "tag:yaml.org,2002:null":
        return None
    return _scalar(node, shown, what)


def _sequence(node: Node | None, shown: str, key: str, *, required: bool = False) -> list[Node]:
    import yaml

    if node is None and not required:
        return []
    if not isinstance(node, yaml.SequenceNode):
        where = _at(shown, node) if node is not None else shown
        raise SpecError(
            f"{where}: '{key}' must be a list", hint=f"write each entry of '{key}:' as '- item'"
        )
    return list(node.value)
