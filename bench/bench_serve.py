"""Serving benchmark: ``labship serve`` against ``mlflow models serve`` on the same model
(scikit-learn LogisticRegression on iris, ``mlflow.sklearn.save_model``) with the same
number of workers, loaded by ``wrk`` (Debian's package; CI installs it in
``scripts/engine-up.sh``). Writes docs/benchmarks-serve.md (``--quick``: a temporary file).

    python -m bench.bench_serve              # 5 s per load, 16 and 64 connections
    python -m bench.bench_serve --quick      # 2 s per load

Targets: at least 5x mlflow's throughput for one row, 3x for 100 rows, and at most a
third of its p99 latency. One more load, single-row at 64 connections, runs against a
third server, labship with micro-batching on (``BATCH``), beside the other two.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench._common import (
    BenchError,
    Result,
    entry,
    labship_cli,
    labship_uv,
    loadavg,
    machine_facts,
    parser,
    publish,
    report_path,
    say,
    tool_version,
    work_dir,
)

DOC = "benchmarks-serve.md"
MLFLOW = ("mlflow==3.17.2", "scikit-learn==1.9.1")
CONNECTIONS = (16, 64)
# The batching row (single-row, 64 connections). No --batch-wait: holding a free worker
# back for more only lowered throughput here (2 ms: ~4,300 rps against ~6,300 without).
BATCH = ("--batch", "32")
BATCHED = "labship " + " ".join(BATCH)
BATCH_LOAD = (1, 64)  # (rows, connections)
TARGETS = {"single": 5.0, "batch": 3.0, "p99": 1 / 3, "image": 0.5}
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
SAVE = """
import sys
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(X, y)
mlflow.sklearn.save_model(model, sys.argv[1], signature=infer_signature(X, model.predict(X)))
"""


@dataclass(frozen=True)
class Load:
    """One wrk run: requests per second, latency percentiles (ms), errors."""

    server: str
    rows: int
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def body(rows: int) -> str:
    data = [[5.1 + (i % 7) * 0.3, 3.5, 1.4 + (i % 5), 0.2 + (i % 3) * 0.8] for i in range(rows)]
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": data}})


def prepare(work: Path) -> tuple[Path, Path]:
    """(mlflow's venv, the iris model folder), built with labship's uv."""
    venv = work / "mlflow-venv"
    uv = labship_uv()
    subprocess.run([uv, "venv", "-q", "--python", "3.11", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *MLFLOW], check=True)
    model = work / "iris"
    subprocess.run([str(python), "-c", SAVE, str(model)], check=True, capture_output=True)
    return venv, model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(argv: list[str], port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise BenchError(f"{argv[:4]} did not answer on port {port}: {log.read_text()[-800:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def wrk(url: str, payload: Path, connections: int, seconds: int) -> tuple[float, float, float, int]:
    """(rps, p50 ms, p99 ms, non-2xx responses) of one wrk run."""
    script = payload.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{payload}") wrk.body = f:read("*a") f:close()\n'
    )
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script)]
    out = subprocess.run([*argv, url + "/invocations"], capture_output=True, text=True, check=True)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out.stdout)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out.stdout)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    total = re.search(r"(\d+) requests in", out.stdout)
    if rps is None or p50 is None or p99 is None:
        raise BenchError(f"wrk output not understood: {out.stdout[-500:]}")
    failed = int(bad.group(1)) if bad else 0
    share = 1 - failed / int(total.group(1)) if total and int(total.group(1)) else 1.0
    return float(rps.group(1)) * share, _ms(p50), _ms(p99), failed  # answered ones only


def _ms(match: re.Match[str]) -> float:
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def load_all(servers: dict[str, str], work: Path, seconds: int) -> list[Load]:
    """Every load against every server, the servers alternating at each step."""
    loads: list[Load] = []
    for rows in (1, 100):
        payload = work / f"rows{rows}.json"
        payload.write_text(body(rows))
        for connections in CONNECTIONS:
            for name, url in servers.items():
                if name == BATCHED and (rows, connections) != BATCH_LOAD:
                    continue
                wrk(url, payload, connections, 1)  # warm-up, not counted
                rps, p50, p99, bad = wrk(url, payload, connections, seconds)
                say(
                    f"{name} rows={rows} c={connections}: {rps:,.0f} rps "
                    f"p50 {p50:.1f} p99 {p99:.1f} ms"
                )
                loads.append(Load(name, rows, connections, rps, p50, p99, bad))
    return loads


def serve_both(
    venv: Path, model: Path, work: Path, workers: int
) -> dict[str, tuple[str, subprocess.Popen[bytes]]]:
    """Both servers on free ports: name -> (url, process)."""
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    port = free_port()
    argv = [str(labship_cli()), "serve", str(model), "--port", str(port), "--workers", str(workers)]
    servers = {
        "labship": (f"http://127.0.0.1:{port}", start(argv, port, work / "labship.log", env))
    }
    port = free_port()
    argv = [str(venv / "bin" / "python"), "-m", "mlflow", "models", "serve", "-m", str(model)]
    argv += ["--env-manager", "local", "--port", str(port), "--workers", str(workers)]
    servers["mlflow"] = (f"http://127.0.0.1:{port}", start(argv, port, work / "mlflow.log", env))
    port = free_port()
    argv = [str(labship_cli()), "serve", str(model), "--port", str(port), "--workers", str(workers)]
    log = work / "labship-batch.log"
    servers[BATCHED] = (f"http://127.0.0.1:{port}", start([*argv, *BATCH], port, log, env))
    return servers


# -- images: labship's serving image and the one MLflow's generated Dockerfile makes ---

# What the generated Dockerfile needs changed to build here, and nothing else: its FROM
# becomes the local base (no registry is reachable); that base has python3 without the
# `python` and `pip` commands the official image has, so a venv provides them first; the
# RUN steps that download get the CA bundle of the TLS proxy as a BuildKit secret (never
# a layer), and pip keeps no cache in the image (PIP_NO_CACHE_DIR=1: smaller than the
# file as generated, which favours MLflow's image).
MLFLOW_PREAMBLE = (
    "# [labship bench] the local base has python3 but no python/pip: a venv gives both\n"
    "RUN python3 -m venv /opt/py\n"
    "ENV PATH=/opt/py/bin:$PATH\n"
)
_DOWNLOADS = "RUN --mount=type=secret,id=ca PIP_CERT=/run/secrets/ca PIP_NO_CACHE_DIR=1 "


def mlflow_dockerfile(text: str, base: str) -> str:
    """MLflow's generated Dockerfile, changed only as MLFLOW_PREAMBLE says."""
    text, n = re.subn(r"^FROM \S+", f"FROM {base}\n{MLFLOW_PREAMBLE}", text, count=1, flags=re.M)
    if n != 1:
        raise BenchError("no FROM line in mlflow's generated Dockerfile")
    lines = []
    for line in text.splitlines():
        if line.startswith("RUN ") and ("pip install" in line or "_install_pyfunc" in line):
            line = _DOWNLOADS + line.removeprefix("RUN ")
        lines.append(line)
    return "\n".join(lines) + "\n"


def docker_bin() -> str:
    from labship.tools.docker import build_client  # INTERNAL: the client labship builds with

    return build_client().binary


def build_mlflow_image(
    venv: Path, model: Path, work: Path, base: str, tag: str, *, no_cache: bool
) -> float:
    """``mlflow models generate-dockerfile`` for the model, changed to build here, built
    with BuildKit (a full run: without layer cache); the build's seconds."""
    from labship.tools.docker import build_client  # INTERNAL: the BuildKit client

    folder = work / "mlflow-docker"
    argv = [str(venv / "bin" / "mlflow"), "models", "generate-dockerfile", "-m", str(model)]
    subprocess.run([*argv, "-d", str(folder)], check=True, capture_output=True)
    dockerfile = folder / "Dockerfile"
    dockerfile.write_text(mlflow_dockerfile(dockerfile.read_text(), base))
    client = build_client()
    build = [*client.build_argv, "--network=host", "--progress=plain", "-t", tag]
    build += ["--no-cache"] if no_cache else []
    ca = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
    build += ["--secret", f"id=ca,src={ca}", str(folder)]
    started = time.monotonic()
    with (work / "mlflow-build.log").open("w") as log:
        done = subprocess.run(build, env=client.env(), stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = (work / "mlflow-build.log").read_text()[-1500:]
        raise BenchError(f"building mlflow's image failed: {tail}")
    return time.monotonic() - started


def build_labship_image(model: Path, work: Path) -> tuple[str, float]:
    """``labship build serve MODEL``: (tag, seconds)."""
    started = time.monotonic()
    with (work / "labship-build.log").open("w") as log:
        done = subprocess.run(
            [str(labship_cli()), "build", "serve", str(model)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    if done.returncode != 0:
        raise BenchError(f"labship build serve failed: {(work / 'labship-build.log').read_text()}")
    return done.stdout.strip().splitlines()[-1], time.monotonic() - started


def image_mb(image: str) -> float:
    return (
        int(subprocess.check_output([docker_bin(), "image", "inspect", "-f", "{{.Size}}", image]))
        / 1e6
    )


@dataclass(frozen=True)
class Images:
    """Both serving images of the same model on the same base: sizes (MB), build times."""

    base: str
    base_mb: float
    labship_tag: str
    labship_mb: float
    labship_build_s: float
    mlflow_mb: float
    mlflow_build_s: float
    dockerfile_edits: str

    @property
    def ratio(self) -> float:
        return self.labship_mb / self.mlflow_mb

    @property
    def above_base_ratio(self) -> float:
        return (self.labship_mb - self.base_mb) / (self.mlflow_mb - self.base_mb)


MLFLOW_IMAGE = "labship-bench-mlflow-serve:latest"


def images(venv: Path, model: Path, work: Path, *, quick: bool) -> Images | str:
    """Build both images; a sentence instead when Docker cannot build here."""
    base = os.environ.get("LABSHIP_BASE_IMAGE")
    if not base:
        return "LABSHIP_BASE_IMAGE is not set (no registry here: point it at a local base)"
    try:
        base_mb = image_mb(base)
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"no Docker engine or no base image {base}: {exc}"
    say(f"building labship's serving image on {base}")
    tag, labship_s = build_labship_image(model, work)
    say(f"building the image of mlflow's generated Dockerfile on {base} (minutes)")
    mlflow_s = build_mlflow_image(venv, model, work, base, MLFLOW_IMAGE, no_cache=not quick)
    edits = "FROM, a venv for python/pip, the CA secret and PIP_NO_CACHE_DIR on pip's RUN lines"
    return Images(
        base, base_mb, tag, image_mb(tag), labship_s, image_mb(MLFLOW_IMAGE), mlflow_s, edits
    )


# -- start-up: from the command to the first answered /ping -----------------------------


@dataclass(frozen=True)
class Startup:
    """Seconds from starting a command to its first 200 on /ping, every run."""

    label: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        return sorted(self.seconds)[len(self.seconds) // 2]


def time_to_ping(argv: list[str], port: int, env: dict[str, str], log: Path) -> float:
    """Start ``argv``, poll /ping every 20 ms, stop it; the seconds until it answered."""
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        while time.monotonic() - started < 600:
            if proc.poll() is not None:
                raise BenchError(f"{argv[:5]} exited {proc.returncode}: {log.read_text()[-800:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - started
            except OSError:
                time.sleep(0.02)
        raise BenchError(f"{argv[:5]} did not answer /ping within 600 s")
    finally:
        stop(proc)


def startups(
    commands: dict[str, list[str]], env: dict[str, str], work: Path, runs: int
) -> list[Startup]:
    """Each command ``runs`` times, the commands alternating (a drift hits all alike);
    one untimed run of each first. ``{port}`` in an argv is a free port; a container
    named ``{name}`` is removed after each run."""
    got: dict[str, list[float]] = {label: [] for label in commands}
    for i in range(runs + 1):
        for label, argv in commands.items():
            port = free_port()
            name = f"labship-bench-start-{port}"
            real = [a.replace("{port}", str(port)).replace("{name}", name) for a in argv]
            try:
                seconds = time_to_ping(real, port, env, work / f"startup-{port}.log")
            finally:
                if "{name}" in argv:
                    subprocess.run([docker_bin(), "rm", "-f", name], capture_output=True)
            if i:
                got[label].append(seconds)
                say(f"start-up {label}: {seconds:.2f} s")
    return [Startup(label, tuple(v)) for label, v in got.items()]


def startup_commands(
    venv: Path, model: Path, workers: int, built: Images | None
) -> dict[str, list[str]]:
    labship = [str(labship_cli()), "serve", str(model), "--port", "{port}"]
    labship += ["--workers", str(workers)]
    mlflow = [str(venv / "bin" / "python"), "-m", "mlflow", "models", "serve", "-m", str(model)]
    mlflow += ["--env-manager", "local", "--port", "{port}", "--workers", str(workers)]
    out = {
        "labship serve (local runtime, environment built)": labship,
        "mlflow models serve --env-manager local": mlflow,
    }
    if built is not None:
        run = [docker_bin(), "run", "--rm", "--name", "{name}", "-p", "127.0.0.1:{port}:8080"]
        out["docker run: labship's serving image"] = [
            *run,
            built.labship_tag,
            "--workers",
            str(workers),
        ]
        out["docker run: mlflow's image"] = [
            *run,
            "-e",
            f"MLFLOW_MODELS_WORKERS={workers}",
            MLFLOW_IMAGE,
        ]
        out["labship serve --runtime docker (image built)"] = [*labship, "--runtime", "docker"]
    return out


@dataclass(frozen=True)
class Compared:
    """labship against mlflow for one load: throughput and p99 ratios."""

    rows: int
    connections: int
    labship: Load
    mlflow: Load

    @property
    def rps_ratio(self) -> float:
        return self.labship.rps / self.mlflow.rps if self.mlflow.rps else 0.0

    @property
    def p99_ratio(self) -> float:
        return self.labship.p99_ms / self.mlflow.p99_ms if self.mlflow.p99_ms else 0.0


def compare(loads: list[Load]) -> list[Compared]:
    by = {(x.server, x.rows, x.connections): x for x in loads}
    return [
        Compared(rows, c, by["labship", rows, c], by["mlflow", rows, c])
        for rows in (1, 100)
        for c in CONNECTIONS
    ]


def batched(loads: list[Load]) -> list[Result]:
    """The batching row: labship with micro-batching against mlflow and plain labship."""
    by = {(x.server, x.rows, x.connections): x for x in loads}
    on, off, mlflow = (by[name, *BATCH_LOAD] for name in (BATCHED, "labship", "mlflow"))
    what = f"1 row, {BATCH_LOAD[1]} connections, `{' '.join(BATCH)}`"
    return [
        Result(
            f"throughput, {what}: labship / mlflow",
            f">= {TARGETS['single']:g}x",
            on.rps / mlflow.rps if mlflow.rps else 0.0,
            "x",
            on.rps >= TARGETS["single"] * mlflow.rps,
            note=f"{on.rps:,.0f} vs {mlflow.rps:,.0f} rps; without batching {off.rps:,.0f}",
        ),
        Result(
            f"p99 latency, {what}: labship / mlflow",
            "<= 0.33x",
            on.p99_ms / mlflow.p99_ms if mlflow.p99_ms else 0.0,
            "x",
            on.p99_ms <= TARGETS["p99"] * mlflow.p99_ms,
            note=f"{on.p99_ms:.1f} vs {mlflow.p99_ms:.1f} ms; without batching {off.p99_ms:.1f}",
            digits=2,
        ),
    ]


def results(compared: list[Compared]) -> list[Result]:
    rows: list[Result] = []
    for c in compared:
        target = TARGETS["single"] if c.rows == 1 else TARGETS["batch"]
        what = "1 row" if c.rows == 1 else f"{c.rows} rows"
        rows.append(
            Result(
                f"throughput, {what}, {c.connections} connections: labship / mlflow",
                f">= {target:g}x",
                c.rps_ratio,
                "x",
                c.rps_ratio >= target,
                note=f"{c.labship.rps:,.0f} vs {c.mlflow.rps:,.0f} rps",
            )
        )
        rows.append(
            Result(
                f"p99 latency, {what}, {c.connections} connections: labship / mlflow",
                "<= 0.33x",
                c.p99_ratio,
                "x",
                c.p99_ratio <= TARGETS["p99"],
                note=f"{c.labship.p99_ms:.1f} vs {c.mlflow.p99_ms:.1f} ms",
                digits=2,
            )
        )
    return rows


@dataclass(frozen=True)
class Measured:
    loads: list[Load]
    versions: dict[str, str]
    images: Images | None
    images_note: str  # why there are no image numbers, or ""
    startups: list[Startup]


def measure(work: Path, workers: int, seconds: int, runs: int, *, quick: bool) -> Measured:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: apt-get install wrk (scripts/engine-up.sh does)")
    venv, model = prepare(work)
    servers = serve_both(venv, model, work, workers)
    try:
        loads = load_all({name: url for name, (url, _p) in servers.items()}, work, seconds)
    finally:
        for _url, proc in servers.values():
            stop(proc)
    built = images(venv, model, work, quick=quick)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    commands = startup_commands(venv, model, workers, built if isinstance(built, Images) else None)
    started = startups(commands, env, work, runs)
    if isinstance(built, Images):
        subprocess.run([docker_bin(), "rmi", MLFLOW_IMAGE], capture_output=True)
    versions = {
        "mlflow": tool_version(
            [str(venv / "bin" / "python"), "-c", "import mlflow; print(mlflow.__version__)"]
        ),
        "wrk": tool_version(["dpkg-query", "-W", "-f=${Version}", "wrk"]),  # no --version
    }
    if isinstance(built, Images):
        return Measured(loads, versions, built, "", started)
    return Measured(loads, versions, None, built, started)


def image_results(m: Measured) -> list[Result]:
    """Image size (target: at most half of mlflow's) and start-up ratios (no target)."""
    rows: list[Result] = []
    if m.images is None:
        rows.append(
            Result(
                "serving image size: labship / mlflow", "<= 0.5x", None, "x", None, m.images_note
            )
        )
    else:
        i = m.images
        rows.append(
            Result(
                "serving image size: labship / mlflow (same model, same base)",
                "<= 0.5x",
                i.ratio,
                "x",
                i.ratio <= TARGETS["image"],
                note=f"{i.labship_mb:,.0f} vs {i.mlflow_mb:,.0f} MB",
                digits=2,
            )
        )
    by = {s.label: s for s in m.startups}
    pairs = [
        (
            "labship serve (local runtime, environment built)",
            "mlflow models serve --env-manager local",
            "start-up to first /ping, local: labship / mlflow",
        ),
        (
            "docker run: labship's serving image",
            "docker run: mlflow's image",
            "start-up to first /ping, docker run: labship / mlflow image",
        ),
    ]
    for mine, theirs, name in pairs:
        if mine in by and theirs in by:
            a, b = by[mine].median, by[theirs].median
            rows.append(
                Result(name, "", a / b, "x", None, note=f"{a:.2f} vs {b:.2f} s, medians", digits=2)
            )
    return rows


def arguments() -> argparse.ArgumentParser:
    p = parser((__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=int, help="seconds per wrk load (5; quick 2)")
    p.add_argument("--workers", type=int, help="workers of both servers (default: labship's)")
    p.add_argument("--runs", type=int, help="timed start-ups of each server (5; quick 2)")
    return p


def main(argv: list[str] | None = None) -> int:
    from labship.serving.app.cpus import usable_cpus

    args = arguments().parse_args(argv)
    seconds = args.seconds or (2 if args.quick else 5)
    workers = args.workers or usable_cpus()
    out = report_path(args, DOC)
    say(f"{workers} workers each, {seconds} s per load; report to {out}")
    runs = args.runs or (2 if args.quick else 5)
    with work_dir("labship-bench-serve-", parent=args.workdir, keep=args.keep) as work:
        m = measure(work, workers, seconds, runs, quick=args.quick)
    loads, versions = m.loads, m.versions
    compared = compare(loads)
    machine = machine_facts(
        {
            "mlflow": versions["mlflow"],
            "wrk": versions["wrk"],
            "workers (both servers)": str(workers),
            "load average (1/5/15 min) at the end": loadavg(),
        }
    )
    return publish(
        args,
        out,
        kind="serve",
        title="Serving benchmark",
        machine=machine,
        results=results(compared) + batched(loads) + image_results(m),
        d={
            "loads": loads,
            "compared": compared,
            "seconds": seconds,
            "workers": workers,
            "batch": " ".join(BATCH),
            "images": m.images,
            "images_note": m.images_note,
            "startups": m.startups,
            "runs": runs,
        },
        targets=TARGETS,
    )


if __name__ == "__main__":
    entry(main, "bench_serve")
