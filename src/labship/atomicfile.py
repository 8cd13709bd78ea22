"""Replace files all at once: readers see the old content or the new, never half.

Permissions: a replaced file keeps its mode; a new one gets 0666 less the umask, as any
editor would make it (a lock or a generated file is not more private than the project).
A failure is a FileWriteError (exit 74) naming the file, and leaves it as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from labship.errors import FileWriteError

# What the user can do about the failures they can act on; others are said as the OS says.
WRITE_HINTS = {
    errno.ENOSPC: "free some disk space and run the command again",
    errno.EDQUOT: "free some disk space and run the command again",
    errno.EROFS: "the file system is read-only: remount it read-write or work on a copy",
    errno.EACCES: "check the folder's permissions",
    errno.EPERM: "check the folder's permissions",
    errno.ENAMETOOLONG: "choose a shorter name",
}


def write_error(exc: OSError, path: Path, consequence: str) -> FileWriteError:
    """One line for a failed write: which file, why, what happened, what to do."""
    why = exc.strerror or type(exc).__name__
    return FileWriteError(
        f"cannot write {path}: {why}; {consequence}", hint=WRITE_HINTS.get(exc.errno or 0)
    )


def write_text_atomic(path: Path, text: str, *, private: bool = False) -> None:
    """Write beside ``path`` under a unique name, then rename over it; a failure leaves
    the old file untouched and no temporary file behind. ``private``: mode 0600 from the
    first byte (a file holding secret values)."""
    write_texts_atomic({path: text}, private=private)


def write_texts_atomic(
    files: Mapping[Path, str],
    *,
    unchanged: str = "the previous file is unchanged",
    private: bool = False,
) -> None:
    """Every file written aside first, then all renamed: a full disk leaves all of them
    as they were, never a new one beside an old one (a lock's prod and dev halves)."""
    temps: dict[Path, Path] = {}
    current: Path | None = None
    try:
        for path, text in files.items():
            current = path
            path.parent.mkdir(parents=True, exist_ok=True)
            temps[path] = _write_aside(path, text, private=private)
        for path, tmp in temps.items():
            current = path
            os.replace(tmp, path)
    except OSError as exc:
        raise write_error(exc, current or Path(), unchanged) from None
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def _write_aside(path: Path, text: str, *, private: bool = False) -> Path:
    """A new file beside ``path`` holding ``text``, with the mode ``path`` has or would get
    (0600 when ``private``, whatever it had)."""
    tmp = path.with_name(f".{path.name}.{os.urandom(4).hex()}")
    mode: int | None = 0o600 if private else None
    if not private:
        with contextlib.suppress(OSError):  # new: 0666 less the umask, applied by the kernel
            mode = os.stat(path).st_mode & 0o7777
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            fh.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def append_line(path: Path, line: str) -> None:
    """``line`` appended in one write (concurrent writers do not interleave), to a regular
    file only: a named pipe would block the writer until someone reads it (ENXIO here)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(path, flags, 0o666)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        os.set_blocking(fd, True)
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)
