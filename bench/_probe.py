"""Library calls a benchmark times in a process of their own (so labship's import time
counts, as it does for a user), kept here as real functions so mypy checks them::

    python -m bench._probe ensure-dev PROJECT STORE     # build the dev environment
    python -m bench._probe checked-dev PROJECT STORE    # the same, with the import check
                                                        # (then a 2nd line: its seconds)
    python -m bench._probe prepare-dev PROJECT STORE    # as the local runtime: register the
                                                        # project, build, check the imports
    python -m bench._probe ensure-prod PROJECT STORE    # (and -prod: the prod set)
    python -m bench._probe build-no-cache PROJECT TARGET

Each prints what it made on stdout. It imports only labship (and, for build-no-cache,
the internal it needs), nothing of the benchmarks, so the time is labship's.
"""

from __future__ import annotations

import sys
from pathlib import Path


def ensure(project_dir: Path, store_root: Path, *, dev: bool, checked: bool = False) -> str:
    """``Store.ensure(lock, dev=...)``: the environment of the lock set, built if new;
    ``checked``: given the import check the local runtime gives it (nothing else differs)."""
    import labship
    from labship.store import Store

    project = labship.load_project(project_dir)
    lock = labship.read_lock(project)

    spent: list[float] = []

    def check(env: Path) -> None:
        import time

        from labship.envcheck import check_environment

        started = time.perf_counter()
        check_environment(project, lock, env, dev=dev)
        spent.append(time.perf_counter() - started)

    env, _built = Store(store_root).ensure(
        lock, dev=dev, console=labship.Console(quiet=True), check=check if checked else None
    )
    return f"{env}\n{spent[0]:.4f}" if spent else str(env)


def prepare(project_dir: Path, store_root: Path, *, dev: bool) -> str:
    """What the local runtime does before a job or a session: register the project in the
    store (``projects/<key>.json``, which gc reads), then ensure the environment, checking
    that its direct dependencies import when it is new."""
    import labship
    from labship.runtimes.local import LocalRuntime
    from labship.store import Store

    project = labship.load_project(project_dir)
    env = LocalRuntime(Store(store_root)).prepare(
        project, labship.read_lock(project), dev=dev, console=labship.Console(quiet=True)
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
    action, _, which = verb.partition("-")
    if action in ("ensure", "checked") and which in ("dev", "prod"):
        print(ensure(Path(first), Path(second), dev=which == "dev", checked=action == "checked"))
    elif action == "prepare" and which in ("dev", "prod"):
        print(prepare(Path(first), Path(second), dev=which == "dev"))
    elif verb == "build-no-cache":
        print(build_no_cache(Path(first), second))
    else:
        print(f"unknown verb {verb!r}\n{__doc__}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
