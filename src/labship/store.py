"""The environment store: one virtual environment per lock content, shared by projects.

Layout under the store root (``LABSHIP_STORE``, else ``$XDG_CACHE_HOME/labship``, else
``~/.cache/labship``)::

    envs/<hash16>/          a finished environment (immutable; never modified)
    envs/.build-<hash16>-<pid>-<rand>/   one being built (never used; removed on failure)
    projects/<key>.json     which project folders use the store (for gc)

An environment is built aside by uv (packages hard-linked from uv's cache) and renamed
into place, so a failed or killed build never replaces or damages a working one, and a
job that is running keeps its environment while the project is re-locked. A running job
holds a shared ``flock`` on its environment; gc skips environments it cannot lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import PythonNotFound, ToolError

if TYPE_CHECKING:
    from labship.console import Console
    from labship.lock import Lock
    from labship.project import Project

MARKER = ".labship-env.json"
_LOCKFILE = ".labship-inuse"


def store_root() -> Path:
    explicit = os.environ.get("LABSHIP_STORE")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "labship"


@dataclass(frozen=True)
class GcResult:
    removed: tuple[str, ...]
    kept: int
    in_use: tuple[str, ...]
    freed_bytes: int
    shared_bytes: int


class Store:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or store_root()
        self.envs = self.root / "envs"
        self.projects = self.root / "projects"

    def env_path(self, lock_hash: str) -> Path:
        return self.envs / lock_hash[:16]

    def ensure(self, lock: Lock, *, dev: bool, console: Console) -> tuple[Path, bool]:
        """The environment for one lock set: (path, built now)."""
        final = self.env_path(lock.hash(dev=dev))
        if (final / MARKER).is_file():
            return final, False
        self.envs.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_builds()
        tmp = self.envs / f".build-{final.name}-{os.getpid()}-{os.urandom(3).hex()}"
        label = "dev" if dev else "prod"
        count = len(lock.dev if dev else lock.prod)
        console.say(f"building the {label} environment {final.name} ({count} packages)")
        started = time.monotonic()
        try:
            self._build(tmp, lock, dev=dev, console=console)
            try:
                tmp.rename(final)
            except OSError:
                if not (final / MARKER).is_file():  # not a concurrent twin: a real failure
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
                return final, False
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        console.say(f"environment ready in {time.monotonic() - started:.1f}s: {final}")
        return final, True

    def _build(self, tmp: Path, lock: Lock, *, dev: bool, console: Console) -> None:
        from labship.tools.uv import uv

        venv = uv(
            ["venv", "--relocatable", "--no-python-downloads", "--python", lock.python, str(tmp)],
            console=console,
            check=False,
        )
        if venv.returncode != 0:
            if missing_python(venv.stderr) or "not found" in venv.stderr.lower():
                raise python_not_found(lock.python, "the project's lock asks for it")
            raise ToolError(f"uv venv failed: {venv.stderr.strip()[-400:]}")
        uv(
            ["pip", "sync", "--python", str(tmp / "bin" / "python"), str(lock.path(dev=dev))],
            console=console,
        )
        (tmp / MARKER).write_text(
            json.dumps(
                {
                    "lock_hash": lock.hash(dev=dev),
                    "set": "dev" if dev else "prod",
                    "python": lock.python,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                indent=2,
            )
        )

    def _remove_abandoned_builds(self) -> None:
        """Builds whose process is gone (killed with SIGKILL, machine reset)."""
        for path in self.envs.glob(".build-*"):
            try:
                pid = int(path.name.split("-")[2])
            except (IndexError, ValueError):
                continue
            if not _alive(pid):
                shutil.rmtree(path, ignore_errors=True)

    # -- which projects use the store ------------------------------------------------

    def register(self, project: Project) -> None:
        key = hashlib.sha256(str(project.root).encode()).hexdigest()[:16]
        entry = self.projects / f"{key}.json"
        if not entry.is_file():
            self.projects.mkdir(parents=True, exist_ok=True)
            entry.write_text(json.dumps({"root": str(project.root)}))

    def referenced(self) -> set[str]:
        """Env names the registered projects' current locks point to."""
        from labship.lock import read_lock
        from labship.project import load_project

        keep: set[str] = set()
        for entry in self.projects.glob("*.json") if self.projects.is_dir() else ():
            root = Path(json.loads(entry.read_text())["root"])
            try:
                lock = read_lock(load_project(root), check=False)
            except Exception:
                if not (root / "labship.toml").is_file():
                    entry.unlink(missing_ok=True)
                continue
            keep |= {self.env_path(lock.prod_hash).name, self.env_path(lock.dev_hash).name}
        return keep

    @contextlib.contextmanager
    def in_use(self, env: Path) -> Iterator[None]:
        """Held by a running job or lab so gc leaves the environment alone."""
        with open(env / _LOCKFILE, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            yield

    def gc(self, *, dry_run: bool = False) -> GcResult:
        keep = self.referenced()
        removed: list[str] = []
        busy: list[str] = []
        freed = shared = 0
        envs = sorted(p for p in self.envs.iterdir()) if self.envs.is_dir() else []
        for env in envs:
            if env.name in keep:
                continue
            if env.name.startswith(".build-"):
                pid = env.name.split("-")[2]
                if pid.isdigit() and _alive(int(pid)):
                    continue
            elif not _lock_exclusive(env):
                busy.append(env.name)
                continue
            own, linked = _disk_usage(env)
            freed += own
            shared += linked
            removed.append(env.name)
            if not dry_run:
                trash = self.envs / f".trash-{env.name}-{os.getpid()}"
                env.rename(trash)
                shutil.rmtree(trash, ignore_errors=True)
        kept = len([e for e in envs if e.name in keep])
        return GcResult(tuple(removed), kept, tuple(busy), freed, shared)


_NO_PYTHON = ("No interpreter found", "Failed to inspect Python interpreter")


def missing_python(uv_stderr: str) -> bool:
    """uv found no usable interpreter for the requested version (none, or a broken shim)."""
    return any(text in uv_stderr for text in _NO_PYTHON)


def python_not_found(version: str, why: str) -> PythonNotFound:
    return PythonNotFound(
        f"Python {version} is not installed on this machine ({why})",
        hint=f"install it (apt-get install python{version}, pyenv install "
        f"{version}, or uv python install {version}); labship never "
        "downloads interpreters on its own",
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_exclusive(env: Path) -> bool:
    lockfile = env / _LOCKFILE
    if not lockfile.exists():
        return True
    with open(lockfile, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _disk_usage(root: Path) -> tuple[int, int]:
    """(bytes only this tree holds, bytes hard-linked with others such as uv's cache)."""
    own = linked = 0
    seen: set[int] = set()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if st.st_ino in seen:
                continue
            seen.add(st.st_ino)
            if st.st_nlink > 1:
                linked += st.st_size
            else:
                own += st.st_size
    return own, linked
