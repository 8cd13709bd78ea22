"""``labship serve MODEL`` on a runtime that runs images: the serving image
(``images.serve``) run in the foreground, its port published on the host given
(127.0.0.1 by default).

As the docker runtime runs jobs, through ``tools.docker``'s container lifecycle:
``docker create`` (docker's own failures are captured there), then ``docker start -a``
in its own session, SIGINT/SIGTERM/SIGHUP passed on once (a non-TTY ``start -a``
proxies them to the container, where the server stops its workers and exits 0), then
the container removed whatever happened (``--rm``, and a ``finally`` for a client that
died), and the server's exit code returned.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labship.console import Console
    from labship.images.serve import ServeImage
    from labship.serving import ServeOptions
    from labship.serving.model import ModelFolder


def stop_grace(options: ServeOptions) -> int:
    """Seconds docker waits after SIGTERM before SIGKILL: the server's graceful timeout
    and a margin."""
    from labship.serving import STOP_MARGIN

    return int(options.graceful_timeout + STOP_MARGIN + 0.999)


def build_image(folder: Path, *, console: Console) -> ServeImage:
    """``labship build serve MODEL``: the model folder's serving image, built if needed."""
    from labship.images.serve import ensure
    from labship.serving.env import model_lock, server
    from labship.serving.model import read_model
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
    from labship.serving.env import model_lock, server
    from labship.store import Store
    from labship.tools import docker as containers
    from labship.tools.process import deferred_signals

    lock = model_lock(model, Store(), console=console, constraints=constraints)
    built = image.ensure(model, lock, server(), console=console)
    name = f"{image.image_name(model).replace('/', '-')}-{secrets.token_hex(4)}"
    argv = ["create", "--rm", "--name", name, "--pull", "never"]
    argv += ["--stop-timeout", str(stop_grace(options)), "--label", "org.labship.kind=serve"]
    host = f"[{options.host}]" if ":" in options.host else options.host  # IPv6
    argv += ["-p", f"{host}:{options.port}:{image.PORT}", built.image_id]
    argv += ["--timeout", repr(options.timeout), "--keep-alive", repr(options.keep_alive)]
    argv += ["--header-timeout", repr(options.header_timeout)]
    argv += ["--body-timeout", repr(options.body_timeout)]
    argv += ["--graceful-timeout", repr(options.graceful_timeout)]
    if options.workers is not None:  # else the container's CPUs, from its cgroup
        queue = options.queue if options.queue is not None else 64 * options.workers
        argv += ["--workers", str(options.workers), "--queue", str(queue)]
    elif options.queue is not None:
        argv += ["--queue", str(options.queue)]
    if options.batch > 1:
        argv += ["--batch", str(options.batch), "--batch-wait", f"{options.batch_wait:g}"]
    quiet = containers.quiet(console)
    try:
        with deferred_signals() as early:
            containers.docker(argv, console=quiet)
        if early:  # stopped before the server began: do not start it
            return 0
        console.say(
            f"serving {model.path} on http://{options.host}:{options.port} "
            f"(container {name}, image {built.tag})"
        )
        grace = stop_grace(options)
        ended = containers.attach(name, grace=grace, what="the server", console=console)
    finally:
        containers.remove(name, console=console)
    return 0 if ended.signal is not None and not ended.killed else ended.exit_code
