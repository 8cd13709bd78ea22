"""``labship serve MODEL``: an MLflow model folder as a REST API (no project needed)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

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
        host=args.host,
        runtime=args.runtime,
        console=console,
    )


def register(add: Add, port: Callable[[str], int], positive: Callable[[str], int]) -> None:
    from labship.runtimes import choices as runtime_choices

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
        "--timeout", type=float, default=60.0, help="seconds a prediction may take (then 504)"
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
        type=float,
        default=0.0,
        metavar="MS",
        help="ms a batch may wait for more while the other workers are busy (default: 0)",
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
