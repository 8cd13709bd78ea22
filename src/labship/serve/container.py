"""``labship serve MODEL --runtime docker``: the serving image (``images.serve``) run in
the foreground, its port published on the host given (127.0.0.1 by default).

As the docker runtime runs jobs: ``docker create`` (docker's own failures are captured
there), then ``docker start -a`` in its own session, SIGINT/SIGTERM/SIGHUP passed on once
(a non-TTY ``start -a`` proxies them to the container, where the server stops its
workers and exits 0), then the container removed whatever happened (``--rm``, and a
``finally`` for a client that died), and the server's exit code returned.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labship.console import Console
    from labship.images.serve import ServeImage
    from labship.serve import ServeOptions
    from labship.serve.model import ModelFolder
    from labship.tools.process import Ended

STOP_GRACE = 10


def build_image(folder: Path, *, console: Console) -> ServeImage:
    """``labship build serve MODEL``: the model folder's serving image, built if needed."""
    from labship.images.serve import ensure
    from labship.serve.env import model_lock, server
    from labship.serve.model import read_model
    from labship.store import Store

    model = read_model(folder)
    lock = model_lock(model, Store(), console=console)
    return ensure(model, lock, server(), console=console)


def serve_container(
    model: ModelFolder,
    options: ServeOptions,
    *,
    console: Console,
    constraints: tuple[str, ...] = (),
) -> int:
    from labship.images import serve as image
    from labship.serve.env import model_lock, server
    from labship.store import Store
    from labship.tools.docker import docker
    from labship.tools.process import deferred_signals

    lock = model_lock(model, Store(), console=console, constraints=constraints)
    built = image.ensure(model, lock, server(), console=console)
    name = f"{image.image_name(model).replace('/', '-')}-{secrets.token_hex(4)}"
    argv = ["create", "--rm", "--name", name, "--pull", "never"]
    argv += ["--stop-timeout", str(STOP_GRACE), "--label", "org.labship.kind=serve"]
    host = f"[{options.host}]" if ":" in options.host else options.host  # IPv6
    argv += ["-p", f"{host}:{options.port}:{image.PORT}", built.image_id]
    argv += ["--timeout", f"{options.timeout:g}"]
    if options.workers is not None:  # else the container's CPUs, from its cgroup
        queue = options.queue if options.queue is not None else 64 * options.workers
        argv += ["--workers", str(options.workers), "--queue", str(queue)]
    elif options.queue is not None:
        argv += ["--queue", str(options.queue)]
    if options.batch > 1:
        argv += ["--batch", str(options.batch), "--batch-wait", f"{options.batch_wait:g}"]
    quiet = _quiet(console)
    try:
        with deferred_signals() as early:
            docker(argv, console=quiet)
        if early:  # stopped before the server began: do not start it
            return 0
        console.say(
            f"serving {model.path} on http://{options.host}:{options.port} "
            f"(container {name}, image {built.tag})"
        )
        ended = _attach(name, console)
    finally:
        _remove(name, quiet)
    return 0 if ended.signal is not None and not ended.killed else ended.exit_code


def _attach(name: str, console: Console) -> Ended:
    from labship.tools.docker import binary, docker
    from labship.tools.process import forward_signals, wait

    proc = subprocess.Popen(
        [binary(), "start", "-a", name], stdin=subprocess.DEVNULL, start_new_session=True
    )

    def kill() -> None:
        console.warn(f"the server did not stop within {STOP_GRACE} s; killing container {name}")
        docker(["kill", name], console=_quiet(console), check=False)

    with forward_signals(proc) as received:
        return wait(proc, received, kill=kill, grace=STOP_GRACE)


def _remove(name: str, console: Console) -> None:
    from labship.tools.docker import container_exists, docker

    if container_exists(name) is not False:
        docker(["rm", "-f", name], console=console, check=False)


def _quiet(console: Console) -> Console:
    from labship.console import Console

    return Console(stream=console.stream, quiet=True, mask=console.mask)
