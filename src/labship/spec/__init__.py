"""Read the project's environment spec and translate it to PEP 508 requirements for uv.

Two formats: conda's ``environment.yml`` (CEP 24) and pip's ``requirements.txt``.
Everything downstream (lock, lab, jobs, images) works from the :class:`Spec` built here,
so every problem with the file is reported now, as a :class:`SpecError` naming
``file:line`` and what to do.

Conda match-spec translation (``translate_matchspec``), chosen to mirror conda's own
parser (``conda.models.match_spec``):

* ``conda-forge::pandas`` -- the channel prefix is dropped (uv reads PyPI indexes).
* ``pandas=1.5`` -- conda's ``=`` is a prefix ("fuzzy") match: ``pandas==1.5.*``.
  Decision: with three or more numeric components, ``pandas=1.5.3`` becomes the exact
  ``pandas==1.5.3`` (what users mean by it, and reproducible); a version that is not
  purely numeric (``=1.0rc1``) is pinned exactly too, since PEP 440 forbids ``.*`` there.
* ``pandas 1.5`` / ``pandas==1.5`` -- exact: ``pandas==1.5`` (PEP 440 pads zeros, so
  this matches 1.5.0 like conda does). ``pandas 1.5*`` / ``=1.5.*`` -- ``pandas==1.5.*``.
* ``numpy >=1.20, <2`` -- spaces are dropped: ``numpy>=1.20,<2``. ``numpy *`` -- ``numpy``.
* Build strings (``pkg 1.0 py311_0``, ``pkg=1.0=py311_0``, ``[build=...]``) are dropped:
  wheels have no builds. As in conda, ``=1.0=build`` is exact, not fuzzy.
* ``pkg[version='>=1.0']`` -- the bracket's ``version`` is used; other keys are ignored.
* ``a|b`` -- PEP 440 has no "or": alternatives are accepted only when they translate to
  the same thing (or one is ``*``); otherwise a SpecError asks to pin one version.
* Names are renamed or skipped following :mod:`labship.spec.condanames`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from labship.errors import SpecError
from labship.spec import condanames

if TYPE_CHECKING:
    from yaml.nodes import MappingNode, Node

__all__ = ["Spec", "read_spec", "translate_matchspec"]


@dataclass(frozen=True)
class Spec:
    """A project's environment, already translated to what uv understands."""

    path: Path
    python: str | None
    python_spec: str | None
    requirements: tuple[str, ...]
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    variables: dict[str, str] = field(hash=False)
    skipped: tuple[str, ...]  # conda names left out of the lock (native)
    name: str | None
    channels: tuple[str, ...]
    #: The native conda packages as the file writes them (``libgcc-ng=11.2.0=h1d223b6_11``):
    #: no PyPI distribution, left out of the lock; for whatever installs them from conda.
    native: tuple[str, ...] = ()
    #: Debian packages a kept distribution loads at run time, where the spec lists the
    #: native package (``unixodbc`` for pyodbc): images install them, locally a hint.
    system_packages: tuple[str, ...] = ()
    #: PyPI distributions conda packages bundle that are not kept: (conda, pypi) pairs.
    bundled: tuple[tuple[str, str], ...] = ()

    def sha256(self) -> str:
        """Hash what the lock depends on, so reformatting or reordering lines, comments,
        ``name:``, ``channels:`` or ``variables:`` do not make a lock stale."""
        base = self.path.parent
        payload = {
            "python": _canonical_specifier(self.python_spec),
            "requirements": sorted({_canonical_requirement(r) for r in self.requirements}),
            "index_url": self.index_url,
            "extra_index_urls": list(self.extra_index_urls),
            "find_links": [_portable(link, base) for link in self.find_links],
        }
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def read_spec(path: Path, *, root: Path | None = None) -> Spec:
    """Read ``*.yml``/``*.yaml`` as a conda environment, anything else as requirements.txt.
    ``-r`` files must lie inside ``root`` (the project): their lines are quoted in errors."""
    if path.suffix.lower() in (".yml", ".yaml"):
        return _read_conda(path, root)
    return _read_requirements_txt(path, root)


def translate_matchspec(spec: str, *, where: str) -> str | None:
    """Translate one conda dependency to a PEP 508 requirement.

    Returns None when it is not a PyPI requirement: a conda-only package (see
    :mod:`labship.spec.condanames`), ``pip``, or ``python`` (which ``read_spec`` turns
    into ``Spec.python`` instead). ``where`` (``file:line``) prefixes error messages.
    """
    kind, _name, requirements = _classify(spec, where)
    return requirements[0] if kind == "requirement" else None


# --- conda match-specs ---------------------------------------------------------------

_Kind = Literal["requirement", "python", "pip", "conda-only"]  # conda-only: native

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_BRACKET_RE = re.compile(r"^(?P<head>[^\[]*)\[(?P<body>.*)\]\s*$")
_BRACKET_ITEM_RE = re.compile(
    r"""\s*(?P<key>[A-Za-z_]+)\s*=\s*(?:'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|(?P<bare>[^,'"]*?))\s*(?:,|$)"""
)
_OPERATOR_RE = re.compile(r"^(==|!=|>=|<=|~=|>|<|=)?(.*)$")
_NUMERIC_RE = re.compile(r"\d+(\.\d+)*")


def _classify(spec: str, where: str) -> tuple[_Kind, str, tuple[str, ...]]:
    """Parse one match-spec: (kind, conda name, PEP 508 requirements or python specifier)."""
    found, version = _translate(spec, where)
    if found is None:
        name = version[0]
        return ("pip" if name == "pip" else "python"), name, version[1:]
    if found.native:
        return "conda-only", found.conda, ()
    return "requirement", found.conda, _requirements(found, version[0], spec, where)


def _requirements(
    found: condanames.CondaName, version: str, spec: str, where: str
) -> tuple[str, ...]:
    """The kept distributions, pinned: the conda version is the kept distribution's (a
    bundle's others have their own versions, so they go unpinned)."""
    pin = version if len(found.pypi) == 1 else ""
    requirements = tuple(name + pin for name in found.pypi)
    for requirement in requirements:
        _validate_requirement(requirement, where, f"conda spec '{spec.strip()}' translates to")
    return requirements


def _translate(spec: str, where: str) -> tuple[condanames.CondaName | None, tuple[str, ...]]:
    """(the conda name's translation, (version,)); (None, (name, version)) for python/pip."""
    text = spec.strip()
    name, version = _split_matchspec(text, where)
    if condanames.special(name):
        return None, (name.lower(), version)
    return condanames.translate(name, _build_string(text)), (version,)


_BUILD_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(?:=|\s+)[^=\s]+(?:=|\s+)([^=\s]+)")


def _build_string(text: str) -> str | None:
    """The build of ``name=version=build`` or ``name version build``, as exports write."""
    found = _BUILD_RE.fullmatch(text.rsplit("::", 1)[-1].strip())
    return found.group(1) if found else None


def _split_matchspec(text: str, where: str) -> tuple[str, str]:
    """Return (conda name, PEP 440 specifier string, possibly empty)."""
    try:
        return _parse_matchspec(text)
    except _Untranslatable as err:
        raise SpecError(
            f"{where}: cannot translate conda spec '{text}' ({err.reason})", hint=err.hint
        ) from None


class _Untranslatable(Exception):
    """Raised inside the match-spec parser; turned into a SpecError with file:line."""

    def __init__(self, reason: str, hint: str = "write it as 'name', 'name=1.2' or 'name>=1.2,<2'"):
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


def _parse_matchspec(text: str) -> tuple[str, str]:
    body = text.rsplit("::", 1)[-1].strip()  # channel prefix
    bracket_version: str | None = None
    match = _BRACKET_RE.match(body)
    if match:
        body = match.group("head").strip()
        bracket_version = _bracket_version(match.group("body"))
    name_match = _NAME_RE.match(body)
    if not name_match:
        raise _Untranslatable("no package name")
    name = name_match.group(0)
    rest = body[name_match.end() :].strip()
    if rest and rest[0] not in "=<>!~*(0123456789":
        raise _Untranslatable(f"unexpected '{rest}' after the name")
    if bracket_version is not None:
        if rest:
            raise _Untranslatable("version given both before and inside [...]", "keep one of them")
        rest = bracket_version.strip()
    return name, _version_expression(rest)


def _bracket_version(body: str) -> str | None:
    """Pull ``version`` out of ``[key=value, ...]``; builds, channels etc. do not apply."""
    version: str | None = None
    pos = 0
    body = body.strip()
    while pos < len(body):
        item = _BRACKET_ITEM_RE.match(body, pos)
        if not item or item.end() == pos:
            raise _Untranslatable("malformed [key=value] part", "write it as name[version='>=1.0']")
        if item.group("key") == "version":
            version = next(v for v in item.group("sq", "dq", "bare") if v is not None)
        pos = item.end()
    return version


def _version_expression(rest: str) -> str:
    """Conda's ``version [build]`` (or ``=version[=build]``) -> PEP 440 specifier string."""
    if not rest:
        return ""
    # Drop spaces around operators, commas and pipes, as conda does.
    rest = re.sub(r"\s*([,|])\s*", r"\1", rest)
    rest = re.sub(r"([<>=!~])\s+", r"\1", rest)
    if rest.startswith("=") and not rest.startswith("=="):
        # name=version[=build]: a fuzzy match unless a build is given (conda's rule).
        parts = re.split(r"(?<![=!<>~|,])=(?!=)", rest[1:], maxsplit=1)
        version, has_build = parts[0].strip(), len(parts) > 1
        if " " in version:
            version, _build = version.split(None, 1)
            has_build = True
        if not version:
            raise _Untranslatable("no version after '='")
        if any(c in version for c in ",|()"):
            return _translate_expression(version)
        return _translate_expression(version if has_build else "=" + version)
    tokens = rest.split()
    if len(tokens) > 2:
        raise _Untranslatable("expected 'version [build]'")
    # 'version build' or 'version=build'; the build string is dropped.
    return _translate_expression(re.split(r"(?<![=!<>~|,])=(?!=)", tokens[0], maxsplit=1)[0])


def _translate_expression(expression: str) -> str:
    alternatives: list[str] = []
    if "(" in expression or ")" in expression:
        if "|" in expression:
            raise _Untranslatable("alternatives are not expressible in PEP 440", "pin one version")
        expression = expression.replace("(", "").replace(")", "")
    for alternative in expression.split("|"):
        clauses = [_translate_constraint(c) for c in alternative.split(",")]
        alternatives.append(",".join(c for c in clauses if c))
    distinct = list(dict.fromkeys(alternatives))
    if "" in distinct:
        return ""  # one alternative is '*': anything goes
    if len(distinct) > 1:
        raise _Untranslatable("alternatives are not expressible in PEP 440", "pin one version")
    return distinct[0]


def _translate_constraint(token: str) -> str:
    """One conda constraint (``>=1.2``, ``1.2*``, ``=1.5``, ``1.0``) -> PEP 440 clause."""
    match = _OPERATOR_RE.match(token.strip())
    assert match is not None  # the pattern matches any string
    operator, version = match.group(1) or "", match.group(2)
    if version.rstrip(".*") == "" and version:
        return ""  # '*' (any version)
    if not version:
        raise _Untranslatable(f"operator '{operator}' without a version")
    star = version.endswith("*")
    core = version.rstrip("*").rstrip(".")
    if "*" in core:
        raise _Untranslatable(f"wildcard inside version '{version}'", "use a trailing '*' only")
    if operator in ("", "=="):
        return f"=={core}.*" if star else f"=={core}"
    if operator == "=":
        # Decision: conda's fuzzy '=' becomes a prefix match for 1-2 numeric components
        # and an exact pin otherwise (see the module docstring).
        if star or (_NUMERIC_RE.fullmatch(core) and core.count(".") < 2):
            return f"=={core}.*"
        return f"=={core}"
    if operator == "!=":
        return f"!={core}.*" if star else f"!={core}"
    return f"{operator}{core}"  # >=, <=, >, <, ~= ignore a trailing '*', like conda


# --- environment.yml -----------------------------------------------------------------


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
        root = yaml.compose(text, Loader=yaml.SafeLoader)
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
        self.kept: list[str] = []  # conda names translated to PyPI requirements
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
            self.requirements.extend(_requirements(found, version[0], spec_text, where))
            self.kept.append(found.conda)
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


def _python_minor(python_spec: str | None) -> str | None:
    """'3.11' when the specifier admits exactly one minor version of Python, else None."""
    if not python_spec:
        return None
    from packaging.specifiers import SpecifierSet

    specifier = SpecifierSet(python_spec)
    found = {
        f"{major}.{minor}"
        for major in (2, 3)
        for minor in range(40)
        if any(
            specifier.contains(f"{major}.{minor}.{patch}", prereleases=True) for patch in range(40)
        )
    }
    return found.pop() if len(found) == 1 else None


# --- pip requirement lines -----------------------------------------------------------

_COMMENT_RE = re.compile(r"(^|\s+)#.*$")
_VALUE_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "-f": "find-links",
    "--find-links": "find-links",
    "-e": "editable",
    "--editable": "editable",
    "-c": "constraint",
    "--constraint": "constraint",
}


@dataclass
class _Collector:
    """Accumulates pip lines across ``pip:`` and nested ``-r`` files."""

    requirements: list[str] = field(default_factory=list)
    index_url: str | None = None
    index_url_where: str = ""
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    root: Path | None = None  # where -r files may be (the project)

    def line(self, text: str, where: str, base: Path, stack: tuple[Path, ...]) -> None:
        """One logical pip line; ``base`` resolves relative paths, ``stack`` finds cycles."""
        text = _COMMENT_RE.sub("", text).strip()
        if not text:
            return
        if text.startswith("-"):
            for option, value in _options(text, where):
                self._option(option, value, where, base, stack)
            return
        requirement, extra = _split_requirement_options(text)
        for option, _value in _options(extra, where) if extra else ():
            if option != "--hash":
                raise SpecError(
                    f"{where}: pip option '{option}' is not supported on a requirement line",
                    hint="remove it (only --hash is accepted, and ignored: uv re-resolves)",
                )
        _validate_requirement(requirement, where, "")
        self.requirements.append(requirement)

    def _option(
        self, option: str, value: str, where: str, base: Path, stack: tuple[Path, ...]
    ) -> None:
        kind = _VALUE_OPTIONS.get(option)
        if kind == "requirement":
            self._include(value, where, base, stack)
        elif kind == "index-url":
            if self.index_url is not None and self.index_url != value:
                raise SpecError(
                    f"{where}: a second --index-url '{value}'"
                    f" (the first is at {self.index_url_where})",
                    hint="keep one --index-url and use --extra-index-url for the others",
                )
            self.index_url, self.index_url_where = value, where
        elif kind == "extra-index-url":
            if value not in self.extra_index_urls:
                self.extra_index_urls.append(value)
        elif kind == "find-links":
            link = value if "://" in value else str((base / value).resolve())
            if link not in self.find_links:
                self.find_links.append(link)
        elif kind == "editable":
            raise SpecError(
                f"{where}: editable installs ('{option} {value}') cannot be locked",
                hint="list the package by name, or as 'name @ file:///path' or 'name @ git+https://...'",
            )
        elif kind == "constraint":
            raise SpecError(
                f"{where}: constraint files ('{option} {value}') are not supported",
                hint="move the pins into the requirements themselves",
            )
        else:
            raise SpecError(
                f"{where}: pip option '{option}' is not supported",
                hint="remove it (supported: -r, --index-url, --extra-index-url, --find-links)",
            )

    def _include(self, value: str, where: str, base: Path, stack: tuple[Path, ...]) -> None:
        if "://" in value:
            raise SpecError(
                f"{where}: '-r {value}' points at a URL", hint="copy the file into the project"
            )
        target = (base / value).resolve()
        outside = self.root is not None and not target.is_relative_to(self.root.resolve())
        if outside or target.name.startswith(".env"):
            raise SpecError(
                f"{where}: '-r {value}' is {'outside the project' if outside else 'a profile'}",
                hint="include only requirement files inside the project",
            )
        if target in stack:
            chain = " -> ".join(_display(p) for p in (*stack, target))
            raise SpecError(
                f"{where}: '-r {value}' includes itself ({chain})", hint="remove the cycle"
            )
        shown = _display(target)
        text = _read_text(target, shown, included_at=where)
        for lineno, logical in _logical_lines(text):
            self.line(logical, f"{shown}:{lineno}", target.parent, (*stack, target))


def _options(text: str, where: str) -> Iterator[tuple[str, str]]:
    """Split ``--opt value``, ``--opt=value``, ``-o value`` and ``-ovalue`` pairs."""
    try:
        tokens = shlex.split(text)
    except ValueError as err:
        raise SpecError(
            f"{where}: cannot parse '{text}' ({err})", hint="check the quoting"
        ) from None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("-"):
            raise SpecError(
                f"{where}: unexpected '{token}' in '{text}'",
                hint="put each requirement on its own line",
            )
        if token.startswith("--") and "=" in token:
            option, value = token.split("=", 1)
        elif token.startswith("--") or len(token) == 2:
            option = token
            if token not in _VALUE_OPTIONS and token != "--hash":
                value = ""
            elif i + 1 < len(tokens):
                i += 1
                value = tokens[i]
            else:
                raise SpecError(f"{where}: '{token}' needs a value", hint=f"write '{token} VALUE'")
        else:
            option, value = token[:2], token[2:]
        yield option, value
        i += 1


def _split_requirement_options(text: str) -> tuple[str, str]:
    """Separate ``pkg==1.0 --hash=sha256:...`` into requirement and options, as pip does."""
    match = re.search(r"(^|\s)--?[A-Za-z]", text)
    if not match:
        return text, ""
    return text[: match.start()].strip(), text[match.start() :].strip()


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """requirements.txt lines with ``\\`` continuations joined; numbered by first line."""
    pending: list[str] = []
    start = 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = lineno
        if raw.endswith("\\") and not _COMMENT_RE.match(raw):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        yield start, " ".join(part.strip() for part in pending)
        pending = []
    if pending:
        yield start, " ".join(part.strip() for part in pending)


def _read_requirements_txt(path: Path, root: Path | None) -> Spec:
    shown = _display(path)
    text = _read_text(path, shown)
    collector = _Collector(root=root)
    for lineno, logical in _logical_lines(text):
        collector.line(logical, f"{shown}:{lineno}", path.parent, (path.resolve(),))
    return Spec(
        path=path,
        python=None,
        python_spec=None,
        requirements=tuple(collector.requirements),
        index_url=collector.index_url,
        extra_index_urls=tuple(collector.extra_index_urls),
        find_links=tuple(collector.find_links),
        variables={},
        skipped=(),
        name=None,
        channels=(),
    )


# --- shared helpers ------------------------------------------------------------------


def _validate_requirement(requirement: str, where: str, context: str) -> None:
    """Check a PEP 508 string with packaging; ``context`` says where it came from."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(requirement)
    except InvalidRequirement as err:
        reason = str(err).splitlines()[0]
        what = f"{context} '{requirement}', which is not" if context else f"'{requirement}' is not"
        raise SpecError(
            f"{where}: {what} a valid PEP 508 requirement ({reason})",
            hint="write it as 'name', 'name==1.2' or 'name @ https://...'",
        ) from None


def _read_text(path: Path, shown: str, *, included_at: str | None = None) -> str:
    where = f"{included_at}: " if included_at else ""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError(f"{where}{shown}: no such file", hint="create it or fix the path") from None
    except UnicodeDecodeError:
        raise SpecError(f"{where}{shown}: not UTF-8 text", hint="save it as UTF-8") from None
    except OSError as err:
        raise SpecError(
            f"{where}{shown}: cannot read ({err.strerror})", hint="check the path and permissions"
        ) from None


def _display(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _canonical_specifier(specifier: str | None) -> str | None:
    if not specifier:
        return None
    from packaging.specifiers import SpecifierSet

    return str(SpecifierSet(specifier))


def _canonical_requirement(requirement: str) -> str:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    parsed = Requirement(requirement)
    extras = ",".join(sorted(canonicalize_name(e) for e in parsed.extras))
    return json.dumps(
        [
            canonicalize_name(parsed.name),
            extras,
            str(parsed.specifier),
            parsed.url,
            str(parsed.marker or ""),
        ]
    )


def _portable(link: str, base: Path) -> str:
    """find-links paths relative to the spec's folder, so the hash is the same on any machine."""
    if "://" in link:
        return link
    return Path(os.path.relpath(link, base.resolve())).as_posix()
