"""Build contexts: what may enter an image, staged from an allow-list.

Why not the project root with a .dockerignore: that file is the user's, and one missing
line would ship .env_prod or data/ into a layer; an allow-list fails closed. The list
that is staged is the list that is hashed for the rebuild check (``hash_files``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import LabshipError
from labship.locking import TOOL_TABLE

if TYPE_CHECKING:
    import hashlib

    from labship.locking import Lock
    from labship.project import Project


# uv inside the builder stage: pinned, so the same Dockerfile builds the same on every
# machine (the host's uv version must not change the image). When labship's own uv is
# exactly this version and a Linux x86-64 ELF, it is staged in the context (uv/uv) and
# copied in, saving the pip install of uv (~3 s of a cold build); the Dockerfile checks
# it runs and reports this version in the base image, else pip-installs this version.
UV_VERSION = "0.13.9"
STAGED_UV_DIR = "uv"
STAGED_CHECK_DIR = "labship-check"  # the import check's probe and names (labship.envcheck)
STAGED_CONDA_DIR = "conda"  # the conda lock's records, linked at the image's prefix

# What may enter a build context, and what never may even inside those folders.
CONTEXT_FILES = ("pylock.toml", "pylock.dev.toml")
CONTEXT_DIRS = ("code", "notebooks", "docker")
_NEVER = re.compile(r"^(\.env.*|\.git|\.venv|\.labship|__pycache__|\.ipynb_checkpoints)$")


def hash_files(h: hashlib._Hash, project: Project) -> None:
    for rel, src, kind in _context_entries(project):
        h.update(f"{rel}\0{kind}\0".encode())
        if kind == "link":
            h.update(os.readlink(src).encode())
        elif kind == "file":
            h.update(src.read_bytes())


def _context_entries(project: Project) -> Iterator[tuple[str, Path, str]]:
    """(path in the context, source, "dir" | "link" | "file") for everything the build
    context holds from CONTEXT_DIRS, in a stable order: what is staged and what is hashed
    for the rebuild check are one list. Env files and caches are skipped; symlinks stay
    links (a link into data/ cannot pull data in); a symlinked top folder is left out."""
    for name in CONTEXT_DIRS:
        top = project.root / name
        if top.is_dir() and not top.is_symlink():
            yield from walk_context(top, name, _NEVER)


def walk_context(src: Path, rel: str, never: re.Pattern[str]) -> Iterator[tuple[str, Path, str]]:
    """(path under ``rel``, source, "dir" | "link" | "file") below ``src``, sorted, names
    ``never`` matches left out; a symlink stays a link and is not followed."""
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        if never.match(entry.name):
            continue
        path, sub = Path(entry.path), f"{rel}/{entry.name}" if rel else entry.name
        if entry.is_symlink():
            yield sub, path, "link"
        elif entry.is_dir():
            yield sub, path, "dir"
            yield from walk_context(path, sub, never)
        elif entry.is_file():
            yield sub, path, "file"


def host_uv_for_image() -> Path | None:
    """labship's uv binary when it can stand in for the pinned one inside a Linux x86-64
    image: this host is Linux x86-64, the file is an ELF executable, its version is
    UV_VERSION. None otherwise (the Dockerfile then pip-installs UV_VERSION)."""
    import platform

    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        from labship.tools.uv import uv_bin, uv_version

        path = Path(os.path.realpath(uv_bin()))
        with path.open("rb") as handle:
            if handle.read(4) != b"\x7fELF":
                return None  # a shim script (pyenv, asdf): not usable in the image
        if uv_version() != UV_VERSION:
            return None
    except (LabshipError, OSError, IndexError):
        return None
    return path


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@contextmanager
def stage_context(project: Project, lock: Lock | None = None) -> Iterator[Path]:
    """A build context holding only the allow-list: pylock*.toml, code/, notebooks/,
    docker/ (without env files, caches, .git, .venv), plus labship's own uv in uv/ (see
    UV_VERSION), the import check in labship-check/ and, with [conda], the conda lock's
    records in conda/ (see ``stage_conda``). Why not the project root with a
    .dockerignore: that file is the user's, and one missing line would ship .env_prod or
    data/ into a layer; an allow-list fails closed. Hard links keep staging cheap."""
    from labship import state

    stage = state.of(project).scratch("context-")
    try:
        for name in CONTEXT_FILES:
            src = project.root / name
            if src.is_file():
                # Only the packages part: the [tool.labship] table (resolved_at, ...)
                # would otherwise bust the install layer on a re-lock to the same set.
                text = src.read_text(encoding="utf-8")
                (stage / name).write_text(text.partition(TOOL_TABLE)[0], encoding="utf-8")
        for name in CONTEXT_DIRS:
            (stage / name).mkdir()  # the Dockerfile COPYs each; an empty one is fine
        for rel, src, kind in _context_entries(project):
            if kind == "dir":
                (stage / rel).mkdir()
            elif kind == "link":
                os.symlink(os.readlink(src), stage / rel)
            else:
                _link_or_copy(src, stage / rel)
        # labship's own uv for the uv stage (empty folder: the stage pip-installs it)
        (stage / STAGED_UV_DIR).mkdir()
        uv = host_uv_for_image()
        if uv is not None:
            _link_or_copy(uv, stage / STAGED_UV_DIR / "uv")
        from labship import envcheck

        envcheck.stage(project, stage / STAGED_CHECK_DIR)
        if project.settings.conda:
            stage_conda(lock, stage / STAGED_CONDA_DIR)
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def stage_conda(lock: Lock | None, dest: Path) -> None:
    """The conda lock's records linked by rattler at ``dest`` (from the store's package
    cache, each download checked against the lock's sha256) with the image's prefix
    patched in: the image's conda stage copies exactly this, so no conda, mamba or
    rattler enters any image, and a file:// channel works as well as a remote one."""
    from labship.images.container import CONDA_PREFIX
    from labship.store import Store

    if lock is None or lock.conda is None or not lock.conda.records:
        dest.mkdir()
        return
    Store().stage_prefix(lock.conda.records, dest, target_prefix=CONDA_PREFIX)
