"""Library calls a benchmark times in a process of their own (so labship's import time
counts, as it does for a user), kept here as real functions so mypy checks them::

    python -m bench._probe ensure-dev PROJECT STORE     # build the dev environment
    python -m bench._probe prepare-dev PROJECT STORE    # the same, and register the project
    python -m bench._probe build-no-cache PROJECT TARGET

Each prints what it made on stdout. It imports only labship (and, for build-no-cache,
the internal it needs), nothing of the benchmarks, so the time is labship's.
"""

from __future__ import annotations

import sys
from pathlib import Path


def ensure_dev(project_dir: Path, store_root: Path) -> str:
    """``Store.ensure(lock, dev=True)``: the environment of pylock.dev.toml, built if new."""
    import labship
    from labship.store import Store

    project = labship.load_project(project_dir)
    env, _built = Store(store_root).ensure(
        labship.read_lock(project), dev=True, console=labship.Console(quiet=True)
    )
    return str(env)


def prepare_dev(project_dir: Path, store_root: Path) -> str:
    """What the local runtime does before a dev session: register the project in the
    store (``projects/<key>.json``, which gc reads), then ensure the environment."""
    import labship
    from labship.runtimes.local import LocalRuntime
    from labship.store import Store

    project = labship.load_project(project_dir)
    env = LocalRuntime(Store(store_root)).prepare(
        project, labship.read_lock(project), dev=True, console=labship.Console(quiet=True)
    )
    return str(env.path)


def build_no_cache(project_dir: Path, target: str) -> str:
    from bench._common import build_image_no_cache

    return build_image_no_cache(project_dir, target)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    verb, first, second = argv
    if verb == "ensure-dev":
        print(ensure_dev(Path(first), Path(second)))
    elif verb == "prepare-dev":
        print(prepare_dev(Path(first), Path(second)))
    elif verb == "build-no-cache":
        print(build_no_cache(Path(first), second))
    else:
        print(f"unknown verb {verb!r}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
