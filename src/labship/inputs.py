"""Reading what the user gave: regular files only, parsed trees of bounded depth.

Every file labship reads goes through ``read_bytes`` / ``read_text``. They open without
blocking (``O_NONBLOCK``: a named pipe opens at once instead of waiting for a writer) and
refuse anything but a regular file from the open descriptor (no check-then-open race): a
FIFO would hang ``labship lock`` forever, a device could be endless. The refusal is an
``OSError``, so each caller says it with its own error and exit code, as it says "no such
file".

Parsers of TOML and YAML recurse on nesting; a hostile file nested thousands deep would
end in a ``RecursionError``. ``load_toml``, ``load_yaml`` and ``compose_yaml`` turn that,
and any tree deeper than ``MAX_DEPTH``, into the parser's own error, which every caller
already explains (so code walking a parsed tree never meets a deep one either).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

MAX_DEPTH = 100  # levels of nesting no configuration file needs; far below the stack's


class NotRegularFile(OSError):
    """A path that is a folder, a named pipe, a socket or a device."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "Is a directory"
    if stat.S_ISFIFO(mode):
        return "not a regular file but a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "not a regular file but a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "not a regular file but a device"
    return "not a regular file"


def read_bytes(path: Path | str) -> bytes:
    """The content of the regular file ``path`` (symlinks followed); ``OSError`` else."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
            raise NotRegularFile(code, _kind(mode), str(path))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return stream.read()
    finally:
        os.close(fd)


def read_text(path: Path | str, encoding: str = "utf-8", errors: str = "strict") -> str:
    """``read_bytes`` decoded; ``UnicodeDecodeError`` when it is not ``encoding``.
    Line breaks are kept as they are (CR, CRLF), as ``open(newline="")`` keeps them."""
    return read_bytes(path).decode(encoding, errors)


# --------------------------------------------------------------------------- parsers


def _children(node: object) -> list[object] | None:
    """A container's children (a YAML node's too), or None for a scalar."""
    value = getattr(node, "value", None) if hasattr(node, "tag") else node
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, list):  # a YAML mapping node's value: (key, value) pairs
        return [c for item in value for c in (item if isinstance(item, tuple) else (item,))]
    return None


def _too_deep(tree: object, limit: int = MAX_DEPTH) -> str | None:
    """Why ``tree`` (dicts and lists, or YAML nodes) cannot be walked: it nests deeper
    than ``limit``, or refers to itself (a recursive YAML anchor); None when it can.
    Iterative, so a deep tree cannot exhaust the stack here either; each shared node (a
    YAML alias) is walked once."""
    first = _children(tree)
    if first is None:
        return None
    heights: dict[int, int] = {}  # a finished container: levels below it, itself included
    frames: list[tuple[object, Iterator[object], list[int]]] = [(tree, iter(first), [0])]
    on_path = {id(tree)}
    while frames:
        node, rest, below = frames[-1]
        child = next(rest, _END)
        if child is _END:
            frames.pop()
            on_path.discard(id(node))
            heights[id(node)] = below[0] + 1
            if frames:
                frames[-1][2][0] = max(frames[-1][2][0], below[0] + 1)
            continue
        grandchildren = _children(child)
        if grandchildren is None:
            continue
        if id(child) in on_path:
            return "refers to itself (a recursive anchor)"
        if id(child) in heights:
            if len(frames) + heights[id(child)] > limit:
                return f"is nested more than {limit} levels deep"
            below[0] = max(below[0], heights[id(child)])
            continue
        if len(frames) >= limit:
            return f"is nested more than {limit} levels deep"
        frames.append((child, iter(grandchildren), [0]))
        on_path.add(id(child))
    return None


_END = object()


def _deep_message(what: str, why: str | None = None) -> str:
    return f"{what} {why or f'is nested more than {MAX_DEPTH} levels deep'}"


def load_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads``; a tree nested too deeply is a ``TOMLDecodeError`` too."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(_deep_message("a value")) from None
    why = _too_deep(data)
    if why:
        raise tomllib.TOMLDecodeError(_deep_message("a value", why))
    return data


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``; a document nested too deeply is a ``YAMLError`` too."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise yaml.YAMLError(_deep_message("the document")) from None
    if node is None:
        return None
    why = _too_deep(node)
    if why:
        raise yaml.YAMLError(_deep_message("the document", why))
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def compose_yaml(text: str) -> yaml.Node | None:
    """``yaml.compose`` with the safe loader; a document nested too deeply is a
    ``YAMLError`` too."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise yaml.YAMLError(_deep_message("the document")) from None
    why = _too_deep(node) if node is not None else None
    if why:
        raise yaml.YAMLError(_deep_message("the document", why))
    return node


__all__ = [
    "MAX_DEPTH",
    "NotRegularFile",
    "compose_yaml",
    "load_toml",
    "load_yaml",
    "read_bytes",
    "read_text",
]
