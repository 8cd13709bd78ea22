"""What ``new`` and ``init`` share: the file record, the checks, templates, the writer."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labship.errors import ConfigError, ConflictError, FileWriteError, UsageError
from labship.inputs import read_text
from labship.project.settings import (
    DEFAULT_SPEC,
    NAME_HINT,
    PYTHON_HINT,
    valid_name,
    valid_python,
)
from labship.templates import render

# Hints for the write failures a user can act on; others are said as the OS says them.
_WRITE_HINTS = {
    errno.ENAMETOOLONG: "choose a shorter name",
    errno.ENOSPC: "free some disk space and run the command again",
    errno.EDQUOT: "free some disk space and run the command again",
    errno.EACCES: "choose a folder you may write to",
    errno.EPERM: "choose a folder you may write to",
    errno.EROFS: "choose a folder on a writable file system",
}


@dataclass(frozen=True)
class ScaffoldResult:
    root: Path
    created: tuple[Path, ...]  # files written
    kept: tuple[Path, ...]  # files that existed and were left untouched (init)
    notes: tuple[str, ...]  # what init took over, or what to do next, said aloud


@dataclass(frozen=True)
class File:
    """One file to create, rendered in memory before anything is written."""

    rel: str
    content: str
    private: bool = False  # 0600: a profile holding secrets


def checked_name(name: str) -> str:
    if not valid_name(name):
        raise UsageError(f"{name!r} is not a valid project name", hint=NAME_HINT)
    return name


def checked_python(python: str) -> str:
    if not valid_python(python):
        raise UsageError(f"python {python!r} is not a Python version", hint=PYTHON_HINT)
    return python


def no_name(folder: str) -> UsageError:
    return UsageError(
        f"cannot make a project name from {folder!r}",
        hint="pass one with --name (lowercase letters, digits, '.', '_', '-')",
    )


def host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def verbatim(name: str) -> str:
    """A template file copied as it is (code and JSON that Jinja syntax could mangle)."""
    from importlib import resources

    return resources.files("labship").joinpath("templates", "project", name).read_text("utf-8")


def spec_file(name: str, python: str, packages: Iterable[str]) -> File:
    """docker/environment.yml in conda's format: the prod set, pinned."""
    text = render("project/environment.yml.j2", name=name, python=python, packages=[*packages])
    return File(DEFAULT_SPEC, text)


def env_text(header: Sequence[str], entries: Sequence[Mapping[str, Any]]) -> str:
    """An env file: ``entries`` are {key, value, comments}; the header is comments."""
    return render("project/env.j2", header=header, entries=entries)


def ignore_files() -> list[File]:
    """.gitignore and .dockerignore: profiles, data and models stay out of git and images."""
    return [
        File(".gitignore", render("project/gitignore.j2")),
        File(".dockerignore", render("project/dockerignore.j2")),
    ]


def read_loosely(path: Path) -> str:
    """A file init only looks into: odd bytes are replaced, an unreadable file is named."""
    try:
        return read_text(path, errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def write_error(exc: OSError, path: Path) -> FileWriteError:
    """One line for a failed write (exit 74), with what to do where there is something."""
    return FileWriteError(
        f"cannot write {exc.filename or path}: {exc.strerror}; nothing was changed",
        hint=_WRITE_HINTS.get(exc.errno or 0),
    )


def write_all(root: Path, files: Sequence[File]) -> tuple[Path, ...]:
    """Create every file or none: O_EXCL never overwrites; a failure undoes the rest.

    Files get 0666 and folders 0777 less the umask, as any editor would make them;
    profiles 0600 from the first byte, never chmod-ed after the secret is on disk.
    """
    made_dirs: list[Path] = []
    written: list[Path] = []
    try:
        for item in files:
            path = root / item.rel
            for folder in reversed((path.parent, *path.parent.parents)):
                if not folder.exists():
                    folder.mkdir()
                    made_dirs.append(folder)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            fd = os.open(path, flags, 0o600 if item.private else 0o666)
            written.append(path)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                out.write(item.content)
    except OSError as exc:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        for folder in reversed(made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: never remove what someone else put there
        if isinstance(exc, FileExistsError):
            raise ConflictError(
                f"{exc.filename} appeared while labship was writing; nothing was changed",
                hint="run the command again",
            ) from None
        raise write_error(exc, root) from None
    return tuple(written)
