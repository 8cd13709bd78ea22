"""pip's ``requirements.txt``: requirement lines, the index options, and ``-r``/``-c``
files (inside the project, quoted in errors at their own ``file:line``)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from labship.errors import SpecError
from labship.spec.base import (
    Spec,
    _display,
    _read_text,
    _validate_requirement,
)

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
