"""Conda match-spec translation (``translate_matchspec``), chosen to mirror conda's own
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
* Names become PyPI's, or native (left out), by :mod:`labship.spec.condanames`, which
  reads an export's build string too (``=1.0=h7f98852_0`` has no ``py`` tag).
"""

from __future__ import annotations

import re
from typing import Literal

from labship.errors import SpecError
from labship.spec import condanames
from labship.spec.base import _validate_requirement


def translate_matchspec(spec: str, *, where: str) -> str | None:
    """Translate one conda dependency to a PEP 508 requirement.

    Returns None when it is not a PyPI requirement: a conda-only package (see
    :mod:`labship.spec.condanames`), ``pip``, or ``python`` (which ``read_spec`` turns
    into ``Spec.python`` instead). ``where`` (``file:line``) prefixes error messages.
    """
    kind, _name, requirements = _classify(spec, where)
    return requirements[0] if kind == "requirement" else None


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


def _translate(spec: str, where: str) -> tuple[condanames.CondaName | None, tuple[str, ...]]:
    """(the conda name's translation, (version,)); (None, (name, version)) for python/pip."""
    text = spec.strip()
    name, version = _split_matchspec(text, where)
    if condanames.special(name):
        return None, (name.lower(), version)
    return condanames.translate(name, _build_string(text)), (version,)


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
