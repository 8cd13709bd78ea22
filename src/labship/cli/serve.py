"""``labship serve MODEL``: an MLflow model folder as a REST API (no project needed)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from labship.cli.args import finite, port, positive
from labship.console import Console

Add = Callable[..., argparse.ArgumentParser]


def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    from labship import api

    directory = getattr(args, "directory", None)
    return api.serve(
        args.model,
        port=args.port,
        workers=args.workers,
        timeout=args.timeout,
        queue=args.queue,
        tracking_uri=args.tracking_uri,
        directory=Path(directory) if directory else None,
        batch=args.batch,
        batch_wait=args.batch_wait,
        keep_alive=args.keep_alive,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        graceful_timeout=args.graceful_timeout,
        host=args.host,
        runtime=args.runtime,
        console=console,
    )


def register(add: Add) -> None:
    from labship.runtimes import choices as runtime_choices
    from labship.serving import DEFAULT_TIMEOUTS

    seconds = finite(0.001, "a number of seconds (0.001 or more)")

    p = add("serve", cmd_serve, "serve an MLflow model folder as an MLflow-compatible REST API")
    p.add_argument(
        "model",
        help="the folder mlflow.<flavor>.save_model wrote, runs:/<run_id>/<path>, "
        "models:/<name>/<version> or models:/<name>@<alias>",
    )
    p.add_argument(
        "--tracking-uri",
        default=None,
        help="the MLflow tracking server for runs:/ and models:/ (default: $MLFLOW_TRACKING_URI)",
    )
    p.add_argument("--port", type=port, default=5000, help="default: 5000, as mlflow's")
    p.add_argument(
        "--workers", type=positive, default=None, help="default: the CPUs labship may use"
    )
    p.add_argument(
        "--queue", type=positive, default=None, help="requests that may wait (default: 64 a worker)"
    )
    p.add_argument(
        "--timeout", type=seconds, default=60.0, help="seconds a prediction may take (then 504)"
    )
    p.add_argument(
        "--batch",
        type=positive,
        default=1,
        metavar="N",
        help="combine up to N waiting requests into one prediction (default: 1, off)",
    )
    p.add_argument(
        "--batch-wait",
        type=finite(0, "a number of ms (0 or more)"),
        default=0.0,
        metavar="MS",
        help="ms a batch may wait for more while the other workers are busy (default: 0)",
    )
    # --- HTTP timeouts (RFC 9112) and the stop ---
    p.add_argument(
        "--keep-alive",
        type=seconds,
        default=DEFAULT_TIMEOUTS["keep_alive"],
        metavar="S",
        help="close a connection idle this long (default: %(default)g, as uvicorn)",
    )
    p.add_argument(
        "--header-timeout",
        type=seconds,
        default=DEFAULT_TIMEOUTS["header_timeout"],
        metavar="S",
        help="a request's head must arrive within this (then 408; default: %(default)g)",
    )
    p.add_argument(
        "--body-timeout",
        type=seconds,
        default=DEFAULT_TIMEOUTS["body_timeout"],
        metavar="S",
        help="a request's body must arrive within this after its head (default: %(default)g)",
    )
    p.add_argument(
        "--graceful-timeout",
        type=finite(0, "a number of seconds (0 or more)"),
        default=DEFAULT_TIMEOUTS["graceful_timeout"],
        metavar="S",
        help="on SIGTERM/SIGINT, time to finish the requests in flight (default: %(default)g)",
    )
    # --- the runtime and the address (Docker: the port is published on this host) ---
    p.add_argument(
        "--runtime",
        choices=runtime_choices(),
        default=None,
        help="local (default) or docker (the serving image of 'labship build serve')",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)"
    )
