"""The front process: HTTP on asyncio (``front``), predictions in forked worker processes
(``pool``), its command line, and its stop.

On SIGTERM, SIGINT or SIGHUP the server stops accepting connections, answers the
requests it has read (``/ping`` with 503, so a load balancer drains it), closes each
connection after its last answer, and exits 0 once they are all closed or
``--graceful-timeout`` has passed (a second Ctrl-C: at once). Workers ignore those
signals: a process group's stop must not kill a prediction in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from . import openapi, protocol, worker
from .pool import Pool

# The defaults of the timeouts (seconds); labship's own flags and the Kubernetes
# Deployment (terminationGracePeriodSeconds) are made from the same numbers.
KEEP_ALIVE = 5.0  # uvicorn's
HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 60.0
GRACEFUL_TIMEOUT = 20.0

VERSION = b'"labship-serve 0.1.0"'


def _mlflow_version(model: worker.Model) -> bytes:
    """mlflow's version, as mlflow's /version; without mlflow (a sklearn model's set) the
    one that saved the model."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlflow").encode()
    except PackageNotFoundError:
        return model.mlflow_version.encode() if model.mlflow_version else VERSION


def _openapi(folder: Path) -> bytes:
    """The OpenAPI document, built once; a generic one if the signature cannot be read."""
    try:
        return openapi.document(folder)
    except Exception as exc:  # never a reason not to serve the model
        print(f"labship-serve: generic OpenAPI document: {exc!r}", file=sys.stderr, flush=True)
        return protocol.dumps(openapi.build({}, None, None, None))


LOAD_FAILED = 65  # labship's exit code for a model folder it cannot use (SpecError)


def _load(folder: Path) -> worker.Model:
    """The model, loaded once before the workers fork; one line and exit 65 when it does
    not load (a corrupt or foreign file, a flavour whose module is missing)."""
    try:
        model = worker.Model(folder)
        worker.preload()
        return model
    except Exception as exc:
        first = " ".join(str(exc).split())[:300]  # one line, however many it had
        print(
            f"labship: error: {folder}: the model does not load ({type(exc).__name__}: "
            f"{first}); check that mlflow.pyfunc.load_model loads it where it was saved",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(LOAD_FAILED) from None


async def _main(args: argparse.Namespace, model: worker.Model) -> None:
    from .front import Front, Settings  # httptools: after the model loaded (or said why not)

    loop = asyncio.get_running_loop()
    pool = Pool(model, args.workers, args.queue, args.timeout, args.batch, args.batch_wait / 1000)
    await pool.start()
    stopping = asyncio.Event()
    forced = asyncio.Event()

    first: list[float] = []

    def on_signal(signum: int) -> None:
        """The first signal stops gracefully; a second SIGINT a moment later (Ctrl-C
        again) at once. The same signal sent to the process group and passed on by
        labship arrives twice together: that is still the first."""
        if not stopping.is_set():
            first.append(loop.time())
            stopping.set()
        elif signum == signal.SIGINT and loop.time() - first[0] > 0.5:
            forced.set()

    signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    loop.add_signal_handler(signal.SIGCHLD, pool.reap)
    front = Front(
        Settings(
            pool,
            _mlflow_version(model),
            _openapi(Path(args.model)),
            keep_alive=args.keep_alive,
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
        )
    )
    server = await loop.create_server(front, args.host, args.port, reuse_address=True, backlog=2048)
    print(
        f"labship-serve: listening on http://{args.host}:{args.port} "
        f"({args.workers} workers, queue {args.queue}, timeout {args.timeout:g}s"
        + (
            f", batches of up to {args.batch}, wait {args.batch_wait:g} ms)"
            if args.batch > 1
            else ")"
        ),
        file=sys.stderr,
        flush=True,
    )
    try:
        await stopping.wait()
        server.close()  # no new connection; those open answer what they have read
        front.drain()
        print(
            f"labship-serve: stopping: finishing {len(front.connections)} connections "
            f"within {args.graceful_timeout:g}s",
            file=sys.stderr,
            flush=True,
        )
        done = asyncio.ensure_future(front.empty.wait())
        force = asyncio.ensure_future(forced.wait())
        await asyncio.wait(
            {done, force}, timeout=args.graceful_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for task in (done, force):
            task.cancel()
        if front.connections:
            print(
                f"labship-serve: {len(front.connections)} connections cut at the stop",
                file=sys.stderr,
                flush=True,
            )
            front.abort()
    finally:
        # Signals first: a late SIGTERM must not kill the process between here and its
        # exit (nor a SIGCHLD of a worker reach a closed loop's wakeup fd).
        for signum in (*signals, signal.SIGCHLD):
            loop.remove_signal_handler(signum)
        for signum in signals:
            signal.signal(signum, signal.SIG_IGN)
        server.close()
        front.close()
        pool.stop()
        if args.batch > 1:
            print(
                f"labship-serve: {pool.requests} requests in {pool.frames} frames",
                file=sys.stderr,
                flush=True,
            )


USAGE = 64  # labship's exit code for a bad command line


def _number(kind: type[float] | type[int], low: float, what: str) -> Callable[[str], Any]:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value) or value < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"labship-serve: error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(USAGE)


def arguments() -> argparse.ArgumentParser:
    seconds = _number(float, 0, "a finite number of seconds (0 or more)")
    positive = _number(float, 1e-3, "a finite number of seconds (at least 0.001)")
    count = _number(int, 1, "a whole number from 1 up")
    parser = _Parser(prog="labship-serve")
    parser.add_argument("--model", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_number(int, 0, "a TCP port"), default=5000)
    parser.add_argument("--workers", type=count, default=1)
    parser.add_argument("--queue", type=count, default=64)
    parser.add_argument("--timeout", type=positive, default=60.0)
    parser.add_argument("--batch", type=count, default=1)  # requests a frame may carry
    parser.add_argument("--batch-wait", type=seconds, default=0.0)  # ms, see Pool
    parser.add_argument("--keep-alive", type=positive, default=KEEP_ALIVE)
    parser.add_argument("--header-timeout", type=positive, default=HEADER_TIMEOUT)
    parser.add_argument("--body-timeout", type=positive, default=BODY_TIMEOUT)
    parser.add_argument("--graceful-timeout", type=seconds, default=GRACEFUL_TIMEOUT)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = arguments().parse_args(argv)
    model = _load(Path(args.model))
    asyncio.run(_main(args, model))


if __name__ == "__main__":
    main()
