"""The environment store: one virtual environment per lock content, shared by projects.

Layout under the store root (``LABSHIP_STORE``, else ``$XDG_CACHE_HOME/labship``, else
``~/.cache/labship``)::

    envs/<hash16>/          a finished environment (immutable; never modified)
    envs/<hash16>/conda/    its conda prefix, when the lock has native packages
    conda/pkgs/             rattler's package cache (prefixes hard-link from it)
    conda/repodata/         the channels' repodata, cached
    envs/.build-<hash16>-<pid>-<rand>/   one being built (never used; removed on failure)
    projects/<key>.json     which project folders use the store (for gc)

An environment is built aside by uv (packages hard-linked from uv's cache), checked by
the caller's ``check`` (the local runtime imports every direct dependency in it), and
renamed into place, so a failed, broken or killed build never replaces or damages a
working one, and a job that is running keeps its environment while the project is
re-locked. A running job holds a shared ``flock`` on its environment; gc skips
environments it cannot lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labship.atomicfile import write_text_atomic
from labship.dirs import cache_root
from labship.errors import FileWriteError, ToolError
from labship.tools.procinfo import alive

if TYPE_CHECKING:
    from labship.console import Console
    from labship.locking import Lock
    from labship.tools.rattler import Record

MARKER = ".labship-env.json"
CONDA_PREFIX = "conda"  # the native packages' prefix, inside the environment
_LOCKFILE = ".labship-inuse"
_REMEMBERED = 4  # environments remembered per project: prod and dev, and the ones before


@dataclass(frozen=True)
class Registered:
    """A project folder that uses the store, and the environments it used last."""

    path: Path
    root: Path
    envs: tuple[str, ...]


@dataclass(frozen=True)
class GcResult:
    removed: tuple[str, ...]
    kept: int
    in_use: tuple[str, ...]
    freed_bytes: int
    shared_bytes: int


class Store:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root or cache_root()
        self.envs = self.root / "envs"
        self.projects = self.root / "projects"

    def env_path(self, lock_hash: str) -> Path:
        return self.envs / lock_hash[:16]

    def ensure(
        self,
        lock: Lock,
        *,
        dev: bool,
        console: Console,
        check: Callable[[Path], None] | None = None,
        label: str | None = None,
    ) -> tuple[Path, bool]:
        """The environment for one lock set: (path, built now). A new one is given to
        ``check`` before it is renamed into place: a check that raises leaves no trace.
        ``label`` names it in what is said (default: dev or prod)."""
        final = self.env_path(lock.env_key(dev=dev))
        if (final / MARKER).is_file():
            return final, False
        import shutil  # only to build: the warm path never needs it

        self._make(self.envs)
        self._remove_abandoned_builds()
        tmp = self.envs / f".build-{final.name}-{os.getpid()}-{os.urandom(3).hex()}"
        label = label or ("dev" if dev else "prod")
        count = f"{len(lock.dev if dev else lock.prod)} packages"
        if lock.conda is not None and lock.conda.records:
            count += f" and {len(lock.conda.records)} conda packages"
        console.say(f"building the {label} environment {final.name} ({count})")
        started = time.monotonic()
        checked = 0.0
        try:
            self._build(tmp, lock, dev=dev, console=console)
            self._install_conda(tmp, final, lock)
            if check is not None:
                checked = time.monotonic()
                check(tmp)
                checked = time.monotonic() - checked
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
        took = f"{time.monotonic() - started:.1f}s"
        if checked:
            took += f" (imports checked in {checked:.1f}s)"
        console.say(f"environment ready in {took}: {final}")
        return final, True

    def _build(self, tmp: Path, lock: Lock, *, dev: bool, console: Console) -> None:
        from labship.tools.uv import find_python, missing_python, python_not_found, uv

        python = find_python(lock.python) or lock.python  # pyenv's count without a shim
        venv = uv(
            ["venv", "--relocatable", "--no-python-downloads", "--python", python, str(tmp)],
            console=console,
            check=False,
        )
        if venv.returncode != 0:
            if missing_python(venv.stderr) or "not found" in venv.stderr.lower():
                raise python_not_found(lock.python, "the project's lock asks for it")
            raise ToolError(f"uv venv failed: {venv.stderr.strip()[-400:]}")
        # Bytecode is compiled now, by uv in parallel, not by the import check one module
        # at a time, nor by each job that finds it missing in a read-only environment.
        target = ["--python", str(tmp / "bin" / "python"), str(lock.path(dev=dev))]
        uv(["pip", "sync", "--compile-bytecode", *target], console=console)
        quiet_jupyterlab(tmp)
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

    def _install_conda(self, tmp: Path, final: Path, lock: Lock) -> None:
        """The lock's native records into ``conda/``, hard-linked from rattler's cache; the
        files name the final path, which the prefix has once the build is renamed."""
        if lock.conda is None or not lock.conda.records:
            return
        self.stage_prefix(
            lock.conda.records, tmp / CONDA_PREFIX, target_prefix=str(final / CONDA_PREFIX)
        )

    def stage_prefix(self, records: Sequence[Record], dest: Path, *, target_prefix: str) -> None:
        """``records`` linked into ``dest`` from the package cache, for use at
        ``target_prefix`` (an image's): what the image copies, built where the lock's
        sha256 is checked and the cache is shared with the local environments."""
        from labship.tools import rattler

        rattler.install(records, dest, cache=self.root / "conda", target_prefix=target_prefix)

    def _remove_abandoned_builds(self) -> None:
        """Builds whose process is gone (killed with SIGKILL, machine reset)."""
        import shutil

        for path in self.envs.glob(".build-*"):
            if not alive(_build_pid(path)):
                shutil.rmtree(path, ignore_errors=True)

    def _make(self, folder: Path) -> None:
        """``folder`` made if missing: the one place the store's own folders are made,
        so a store that is a file or cannot be written is one line (74) naming it."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from labship.atomicfile import WRITE_HINTS

            source = "LABSHIP_STORE" if os.environ.get("LABSHIP_STORE") else "the default"
            hint = WRITE_HINTS.get(exc.errno or 0, "")
            raise FileWriteError(
                f"the environment store {self.root} ({source}) cannot be used: "
                f"{exc.strerror} ({exc.filename})",
                hint=f"{hint + '; ' if hint else ''}set LABSHIP_STORE to a folder you can write",
            ) from None

    # -- which projects use the store ------------------------------------------------

    def register(self, root: Path, env: Path) -> None:
        """Remember that the project at ``root`` uses ``env``: gc keeps what a project
        used last when its lock cannot be read. Written only when it changes."""
        entry = self.projects / f"{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.json"
        current = _read_entry(entry)
        if current is not None and current.root == root and env.name in current.envs:
            return
        used = [*(current.envs if current is not None else ()), env.name][-_REMEMBERED:]
        self._make(self.projects)
        write_text_atomic(entry, json.dumps({"root": str(root), "envs": used}) + "\n")

    def registered(self) -> tuple[list[Registered], list[Path]]:
        """(the projects that use the store, registry entries that cannot be read)."""
        found: list[Registered] = []
        unreadable: list[Path] = []
        for path in sorted(self.projects.glob("*.json")) if self.projects.is_dir() else ():
            entry = _read_entry(path)
            if entry is None:
                unreadable.append(path)
            else:
                found.append(entry)
        return found, unreadable

    def forget(self, entry: Registered) -> None:
        entry.path.unlink(missing_ok=True)

    @contextlib.contextmanager
    def in_use(self, env: Path) -> Iterator[None]:
        """Held by a running job or lab so gc leaves the environment alone."""
        try:
            fh = open(env / _LOCKFILE, "a")  # noqa: SIM115 - closed below, after the yield
        except OSError as exc:
            raise FileWriteError(
                f"cannot mark {env} in use: {exc.strerror}",
                hint="set LABSHIP_STORE to a folder you can write",
            ) from None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            yield

    def gc(self, keep: Iterable[str], *, dry_run: bool = False) -> GcResult:
        """Remove environments not named in ``keep`` (env folder names) and not in use."""
        import shutil

        keep = set(keep)
        removed: list[str] = []
        busy: list[str] = []
        freed = shared = 0
        envs = sorted(p for p in self.envs.iterdir()) if self.envs.is_dir() else []
        for env in envs:
            if env.name in keep or env.name.startswith(".trash-"):
                continue
            if env.name.startswith(".build-") and alive(_build_pid(env)):
                continue
            with _exclusive(env) as free:  # held across the rename: no job can start in it
                if not free:
                    busy.append(env.name)
                    continue
                own, linked = _disk_usage(env)
                freed, shared = freed + own, shared + linked
                removed.append(env.name)
                if not dry_run:
                    trash = self.envs / f".trash-{env.name}-{os.getpid()}"
                    env.rename(trash)
            if not dry_run:
                shutil.rmtree(self.envs / f".trash-{env.name}-{os.getpid()}", ignore_errors=True)
        kept = len([e for e in envs if e.name in keep])
        return GcResult(tuple(removed), kept, tuple(busy), freed, shared)


# JupyterLab's own settings layer for an environment (its app settings, as Binder's
# docs do it): no "get notified about official Jupyter news?" prompt, no update checks.
JUPYTERLAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    }
}


def quiet_jupyterlab(env: Path) -> None:
    """Write JupyterLab's overrides.json into an environment that has JupyterLab,
    keeping any overrides a package put there."""
    if not (env / "share" / "jupyter" / "lab").is_dir():
        return
    path = env / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = {}
    if not isinstance(current, dict):
        current = {}
    for plugin, values in JUPYTERLAB_OVERRIDES.items():
        current[plugin] = {**(current.get(plugin) or {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")


def native_variables(env: Path, current: str | None = None) -> tuple[list[str], dict[str, str]]:
    """(PATH entries, variables) that let a job use the environment's conda prefix: its
    ``bin`` after the venv's, its ``lib`` first for the loader (ctypes, extensions), and
    CONDA_PREFIX for tools that look for their data there. Nothing without a prefix."""
    if not (env / CONDA_PREFIX / "conda-meta").is_dir():
        return [], {}
    return native_layout(env, current)


def native_layout(env: Path, current: str | None = None) -> tuple[list[str], dict[str, str]]:
    """What :func:`native_variables` sets for ``env``, built or not (``labship env``)."""
    prefix = env / CONDA_PREFIX
    libs = os.pathsep.join(p for p in (str(prefix / "lib"), current) if p)
    return [str(prefix / "bin")], {"CONDA_PREFIX": str(prefix), "LD_LIBRARY_PATH": libs}


def _read_entry(path: Path) -> Registered | None:
    """A registry entry, or None when it is missing or malformed (never a crash)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        root, envs = data["root"], data.get("envs", [])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if not isinstance(root, str) or not isinstance(envs, list):
        return None
    return Registered(path, Path(root), tuple(e for e in envs if isinstance(e, str)))


@contextlib.contextmanager
def _exclusive(env: Path) -> Iterator[bool]:
    """An exclusive flock on ``env`` while the block runs; False when a job holds it."""
    try:
        fh = open(env / _LOCKFILE, "a")  # noqa: SIM115 - closed below, after the yield
    except OSError:
        yield True  # not an environment labship can lock (a broken folder): removable
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


def _build_pid(path: Path) -> int:
    """The pid in ``.build-<hash>-<pid>-<rand>``; 0 (never alive) when unreadable."""
    parts = path.name.split("-")
    return int(parts[2]) if len(parts) > 3 and parts[2].isdigit() else 0


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
