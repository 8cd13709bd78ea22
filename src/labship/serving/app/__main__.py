"""``python -m labship_serve``: the serving image's entry point. The server with as many
workers as the CPUs the container may use (its cgroup quota, read when it starts, not
when the image was built) and a queue of 64 a worker, unless the arguments say otherwise
(``docker run IMAGE --workers 2``, or LABSHIP_SERVE_WORKERS)."""

from __future__ import annotations

import os
import sys

from . import server
from .cpus import usable_cpus


def _given(argv: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in argv)


def main(argv: list[str]) -> None:
    argv = list(argv)
    if not _given(argv, "--workers"):
        workers = int(os.environ.get("LABSHIP_SERVE_WORKERS") or 0) or usable_cpus()
        argv += ["--workers", str(workers)]
        if not _given(argv, "--queue"):
            argv += ["--queue", str(64 * workers)]
    server.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
