"""Serving benchmark: ``labship serve`` against ``mlflow models serve``, LitServe and
BentoML on the same model (scikit-learn LogisticRegression on iris) with the same number
of workers, loaded by ``wrk`` (Debian's package; CI installs it in
``scripts/engine-up.sh``), and against labship's own server before the HTTP hardening
(the commit ``BEFORE``) and the prediction-bound limit. Writes docs/benchmarks-serve.md
(``--quick``: a temporary file).

    python -m bench.bench_serve              # 5 s per load
    python -m bench.bench_serve --quick      # 2 s per load
    python -m bench.bench_serve --no-images  # without the image builds and start-ups

Fairness: every server is warmed up once when it starts, never right before a timed
load (a burst of keep-alive connections after a back-to-back warm-up lands on one
worker of a shared socket), the servers alternate at every load, and during each load
``ss -tnp`` counts the connections each process holds and /proc the CPU each used. A
load where one worker of a shared-socket server (uvicorn under MLflow, BentoML) holds more
than ``SKEW`` of the connections is run again (up to ``TRIES``), and the report shows the
spread of the run kept.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench._common import (
    REPO,
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
SKLEARN = "scikit-learn==1.9.1"
PEERS = {  # each in its own venv, cached by these requirements
    "mlflow": ("mlflow==3.17.2", SKLEARN),
    "litserve": ("litserve==0.2.19", SKLEARN, "numpy"),
    "bentoml": ("bentoml==1.4.40", SKLEARN, "numpy"),
    "parsers": ("httptools==0.9.0", "h11==0.16.0"),  # the two parsers the server could use
}
MLFLOW = PEERS["mlflow"]
BEFORE = "96eddcf"  # labship's server before the HTTP hardening (hand-written HTTP)
CONNECTIONS = (16, 64)
BATCH = ("--batch", "32")
BATCH_SIZE = 32
LITSERVE_BATCH_TIMEOUT = 0.001  # s: at 0 LitServe spins on its queue
BENTOML_MAX_LATENCY_MS = 1000  # what a batch may cost at most; at 10 ms it refuses most
PEER_LOAD = (1, 64)  # (rows, connections) of the LitServe / BentoML / batching loads
SKEW = 0.75  # a worker holding more than this share of the connections: run again
TRIES = 3
TARGETS = {"mlflow": 10.0, "p99": 0.1, "peers": 2.0, "limit": 0.5, "hardening": 0.95}
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
SAVE = """
import pickle, sys
from pathlib import Path
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=500).fit(X, y)
out = Path(sys.argv[1])
mlflow.sklearn.save_model(model, out / "signature", signature=infer_signature(X, model.predict(X)))
mlflow.sklearn.save_model(model, out / "example", input_example=X.head(3))
(out / "model.pkl").write_bytes(pickle.dumps(model))  # the same estimator, for the others
"""
# The peers' servers: the estimator pickled beside the MLflow models, the request's rows
# as an array in the estimator's column order (what labship's fast path does).
LITSERVE_APP = """
import pickle, sys, warnings
import numpy as np
import litserve as ls

# as labship's worker: a plain array is predicted on without sklearn's per-call warning
warnings.filterwarnings("ignore", message="X does not have valid feature names")

class Iris(ls.LitAPI):
    def setup(self, device):
        with open(sys.argv[1], "rb") as f:
            self.model = pickle.load(f)
        self.names = [str(n) for n in self.model.feature_names_in_]

    def decode_request(self, request):
        split = request["dataframe_split"]
        order = [split["columns"].index(n) for n in self.names]
        return np.asarray(split["data"], dtype="float64")[:, order]

    def batch(self, inputs):
        return inputs

    def predict(self, x):
        if isinstance(x, list):
            sizes = np.cumsum([len(a) for a in x])[:-1]
            return np.split(self.model.predict(np.concatenate(x)), sizes)
        return self.model.predict(x)

    def unbatch(self, output):
        return output

    def encode_response(self, output):
        return {"predictions": output.tolist()}

if __name__ == "__main__":  # LitServe's workers are spawned: they import this file
    batch = int(sys.argv[4])
    api = Iris(api_path="/invocations", max_batch_size=batch,
               batch_timeout=float(sys.argv[5]) if batch > 1 else 0.0)
    server = ls.LitServer(api, accelerator="cpu", devices=1,
                          workers_per_device=int(sys.argv[3]), healthcheck_path="/ping")
    server.run(port=int(sys.argv[2]), generate_client_file=False, log_level="warning")
"""
BENTOML_APP = """
import os, pickle, warnings
import numpy as np
import bentoml

warnings.filterwarnings("ignore", message="X does not have valid feature names")

WORKERS = int(os.environ["BENCH_WORKERS"])
BATCH = int(os.environ["BENCH_BATCH"])


def load():
    with open(os.environ["BENCH_MODEL"], "rb") as f:
        model = pickle.load(f)
    return model, [str(n) for n in model.feature_names_in_]


def rows(split, names):
    order = [split["columns"].index(n) for n in names]
    return np.asarray(split["data"], dtype="float64")[:, order]


@bentoml.service(workers=WORKERS, logging={"access": {"enabled": False}})
class Iris:
    def __init__(self):
        self.model, self.names = load()

    @bentoml.api(route="/invocations")
    def invocations(self, dataframe_split: dict) -> dict:
        return {"predictions": self.model.predict(rows(dataframe_split, self.names)).tolist()}


# Batched, as BentoML documents it: adaptive batching happens between services, so the
# MLflow-shaped endpoint calls a batchable model service.
@bentoml.service(workers=WORKERS, logging={"access": {"enabled": False}})
class Model:
    def __init__(self):
        self.model, self.names = load()

    @bentoml.api(batchable=True, max_batch_size=max(BATCH, 2),
                 max_latency_ms=int(os.environ["BENCH_LATENCY_MS"]))
    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x)


@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class IrisBatched:
    model = bentoml.depends(Model)

    def __init__(self):
        _model, self.names = load()

    @bentoml.api(route="/invocations")
    async def invocations(self, dataframe_split: dict) -> dict:
        out = await self.model.to_async.predict(rows(dataframe_split, self.names))
        return {"predictions": out.tolist()}
"""


@dataclass(frozen=True)
class Load:
    """One wrk run: requests per second, latency percentiles (ms), errors, and how the
    load spread over the server's processes (connections held, CPU seconds used)."""

    server: str
    rows: int
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    spread: str = ""  # connections per process, from ss -tnp
    cpu: str = ""  # CPU seconds per process during the load
    tries: int = 1


@dataclass
class Server:
    """A server under load: its name, URL, process, and whether its workers share one
    listening socket (then the spread of connections is checked)."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    shared_socket: bool
    loads: tuple[tuple[int, int], ...]  # (rows, connections) it is measured at
    pids: list[int] = field(default_factory=list)


def body(rows: int) -> str:
    data = [[5.1 + (i % 7) * 0.3, 3.5, 1.4 + (i % 5), 0.2 + (i % 3) * 0.8] for i in range(rows)]
    return json.dumps({"dataframe_split": {"columns": COLUMNS, "data": data}})


def cache_root() -> Path:
    return Path(os.environ.get("LABSHIP_BENCH_CACHE", Path.home() / ".cache" / "labship-bench"))


def peer_venv(name: str) -> Path:
    """The peer's venv, built once per requirements with labship's uv (from PyPI) and
    kept in the cache (relocatable: built aside and renamed into place)."""
    requirements = PEERS[name]
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:12]
    final = cache_root() / "serve" / f"{name}-{key}"
    if (final / ".done").is_file():
        return final
    uv = labship_uv()
    tmp = final.with_name(f".{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"installing {' '.join(requirements)} into {final}")
    subprocess.run([uv, "venv", "-q", "--relocatable", "--python", "3.11", str(tmp)], check=True)
    python = tmp / "bin" / "python"
    subprocess.run([uv, "pip", "install", "-q", "--python", str(python), *requirements], check=True)
    (tmp / ".done").write_text("\n".join(requirements))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def prepare(work: Path) -> tuple[Path, Path]:
    """(mlflow's venv, the folder with both iris models and the pickled estimator)."""
    venv = peer_venv("mlflow")
    models = work / "models"
    models.mkdir()
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", SAVE, str(models)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BenchError(f"saving the models failed: {done.stderr[-800:]}")
    return venv, models


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(
    argv: list[str],
    port: int,
    log: Path,
    env: dict[str, str],
    cwd: Path | None = None,
    health: str = "/ping",
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=cwd
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{health}", timeout=2):
                return proc
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise BenchError(f"{argv[:4]} did not answer on port {port}: {log.read_text()[-800:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def group(proc: subprocess.Popen[bytes]) -> list[int]:
    """The server's processes: its session and every descendant (BentoML's circus
    starts its workers in sessions of their own)."""
    out = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
    found = {int(p) for p in out.stdout.split()} | {proc.pid}
    todo = list(found)
    while todo:
        kids = subprocess.run(["pgrep", "-P", str(todo.pop())], capture_output=True, text=True)
        for pid in (int(p) for p in kids.stdout.split()):
            if pid not in found:
                found.add(pid)
                todo.append(pid)
    return sorted(found)


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return out


def connections_per_process(port: int) -> dict[int, int]:
    """Established connections to ``port`` per process holding them (``ss -tnp``)."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
    ).stdout
    held: collections.Counter[int] = collections.Counter()
    for line in out.splitlines():
        match = re.search(r"pid=(\d+)", line)
        if match:
            held[int(match.group(1))] += 1
    return dict(held)


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


def measured_load(server: Server, payload: Path, rows: int, connections: int, seconds: int) -> Load:
    """One load, with the spread of its connections and CPU; run again when one worker of
    a shared socket took most of the connections (up to TRIES; the most even run is kept)."""
    port = int(server.url.rsplit(":", 1)[1])
    best: tuple[float, Load] | None = None
    for attempt in range(1, TRIES + 1):
        pids = group(server.proc)
        held: dict[int, int] = {}

        def sample(port: int = port, held: dict[int, int] = held) -> None:
            time.sleep(seconds / 2)
            held.update(connections_per_process(port))

        sampler = threading.Thread(target=sample)
        before = cpu_seconds(pids)
        sampler.start()
        rps, p50, p99, bad = wrk(server.url, payload, connections, seconds)
        sampler.join()
        after = cpu_seconds(pids)
        used = {pid: after[pid] - before[pid] for pid in after if pid in before}
        busy = sorted((v for v in used.values() if v >= 0.05 * seconds), reverse=True)
        spread = "/".join(str(n) for n in sorted(held.values(), reverse=True)) or "-"
        cpu = "/".join(f"{v:.1f}" for v in busy) or "-"
        load = Load(server.name, rows, connections, rps, p50, p99, bad, spread, cpu, attempt)
        top = max(held.values()) / sum(held.values()) if held else 1.0
        if best is None or top < best[0]:
            best = (top, load)
        if not server.shared_socket or top <= SKEW or len(group(server.proc)) < 2:
            break
        say(f"{server.name}: one worker held {spread} connections; running the load again")
        time.sleep(2)
    assert best is not None
    return best[1]


def load_all(servers: list[Server], work: Path, seconds: int) -> list[Load]:
    """Every load against every server that measures it, the servers alternating at each
    step; no warm-up right before a load (each server was warmed up when it started)."""
    loads: list[Load] = []
    for rows in (1, 100):
        payload = work / f"rows{rows}.json"
        payload.write_text(body(rows))
        for connections in CONNECTIONS:
            for server in servers:
                if (rows, connections) not in server.loads:
                    continue
                load = measured_load(server, payload, rows, connections, seconds)
                say(
                    f"{server.name} rows={rows} c={connections}: {load.rps:,.0f} rps "
                    f"p50 {load.p50_ms:.1f} p99 {load.p99_ms:.1f} ms, connections {load.spread}, "
                    f"CPU s {load.cpu}"
                )
                loads.append(load)
    return loads


ALL = tuple((r, c) for r in (1, 100) for c in CONNECTIONS)
BATCHED = "labship " + " ".join(BATCH)


def warm(server: Server, work: Path) -> None:
    """Once, when the server starts: first requests (imports, caches), few connections."""
    payload = work / "warm.json"
    payload.write_text(body(1))
    wrk(server.url, payload, 2, 2)


def serve_all(venv: Path, models: Path, work: Path, workers: int, *, peers: bool) -> list[Server]:
    """Every server on a free port, started and warmed up."""
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    servers: list[Server] = []

    def add(
        name: str,
        argv: list[str],
        port: int,
        shared: bool,
        loads: tuple[tuple[int, int], ...],
        *,
        env: dict[str, str] = env,
        cwd: Path | None = None,
        health: str = "/ping",
    ) -> None:
        proc = start(argv, port, work / f"{name.replace(' ', '_')}.log", env, cwd, health)
        server = Server(name, f"http://127.0.0.1:{port}", proc, shared, loads)
        servers.append(server)
        warm(server, work)

    for kind in ("signature", "example"):
        model = models / kind
        port = free_port()
        argv = [str(labship_cli()), "serve", str(model), "--port", str(port)]
        add(f"labship ({kind})", [*argv, "--workers", str(workers)], port, False, ALL)
        port = free_port()
        argv = [str(venv / "bin" / "python"), "-m", "mlflow", "models", "serve", "-m", str(model)]
        argv += ["--env-manager", "local", "--port", str(port), "--workers", str(workers)]
        add(f"mlflow ({kind})", argv, port, True, ALL)
    before = before_server(servers[0], work)
    port = free_port()
    add(
        "labship before hardening",
        [*before[0], "--port", str(port)],
        port,
        False,
        ALL,
        env=before[1],
        cwd=models / "signature",
    )
    port = free_port()
    argv = [str(labship_cli()), "serve", str(models / "signature"), "--port", str(port)]
    add(BATCHED, [*argv, "--workers", str(workers), *BATCH], port, False, (PEER_LOAD,))
    if peers:
        lit = peer_venv("litserve")
        (work / "lit_app.py").write_text(LITSERVE_APP)
        for batch in (1, BATCH_SIZE):
            port = free_port()
            argv = [
                str(lit / "bin" / "python"),
                str(work / "lit_app.py"),
                str(models / "model.pkl"),
            ]
            argv += [str(port), str(workers), str(batch), str(LITSERVE_BATCH_TIMEOUT)]
            name = "litserve" + (
                f" batch {batch}, {LITSERVE_BATCH_TIMEOUT * 1000:g} ms" if batch > 1 else ""
            )
            add(name, argv, port, True, (PEER_LOAD,), env={**os.environ})  # API servers
        bento = peer_venv("bentoml")
        (work / "bento_app.py").write_text(BENTOML_APP)
        for batch, service in ((1, "Iris"), (BATCH_SIZE, "IrisBatched")):
            port = free_port()
            argv = [str(bento / "bin" / "python"), "-m", "bentoml", "serve", f"bento_app:{service}"]
            argv += ["--port", str(port), "--host", "127.0.0.1"]
            benv = {
                **os.environ,
                "BENCH_WORKERS": str(workers),
                "BENCH_BATCH": str(batch),
                "BENCH_MODEL": str(models / "model.pkl"),
                "BENCH_LATENCY_MS": str(BENTOML_MAX_LATENCY_MS),
                "BENTOML_HOME": str(work / "bentoml"),
                "BENTOML_DO_NOT_TRACK": "true",
            }
            name = "bentoml" + (f" batch {batch}, {BENTOML_MAX_LATENCY_MS} ms" if batch > 1 else "")
            shared = batch == 1  # batched: one entry process, the batching service behind
            add(name, argv, port, shared, (PEER_LOAD,), env=benv, cwd=work, health="/readyz")
    return servers


def before_server(labship: Server, work: Path) -> tuple[list[str], dict[str, str]]:
    """labship's server as it was at BEFORE, run by the same environment's Python as the
    current one (read from its process), with the same flags as ``labship serve`` gave."""
    server_pid = next(
        pid
        for pid in group(labship.proc)
        if b"labship_serve.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    argv = Path(f"/proc/{server_pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    env = dict(
        line.split("=", 1)
        for line in Path(f"/proc/{server_pid}/environ").read_bytes().decode().split("\0")
        if "=" in line
    )
    code = work / "before"
    (code / "labship_serve").mkdir(parents=True)
    listing = subprocess.run(
        ["git", "-C", str(REPO), "ls-tree", "--name-only", BEFORE, "src/labship/serve/app/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for path in listing:
        text = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{BEFORE}:{path}"], capture_output=True, check=True
        ).stdout
        (code / "labship_serve" / Path(path).name).write_bytes(text)
    keep = []  # the flags the old server knows
    skip = {"--keep-alive", "--header-timeout", "--body-timeout", "--graceful-timeout", "--port"}
    args = iter(argv)
    for arg in args:
        if arg in skip:
            next(args)
            continue
        keep.append(arg)
    env["PYTHONPATH"] = str(code)
    return keep, env


PARSE = """
import sys, time
import h11, httptools

REQUEST = (b"POST /invocations HTTP/1.1\\r\\nHost: 127.0.0.1:5000\\r\\n"
           b"Content-Type: application/json\\r\\nContent-Length: 148\\r\\n\\r\\n" + b"x" * 148)
N = 20000

class Callbacks:
    def on_url(self, url): pass
    def on_header(self, name, value): pass
    def on_body(self, body): pass
    def on_message_complete(self): pass

parser = httptools.HttpRequestParser(Callbacks())
t = time.perf_counter()
for _ in range(N):
    parser.feed_data(REQUEST)
llhttp = (time.perf_counter() - t) / N

conn = h11.Connection(h11.SERVER)
t = time.perf_counter()
for _ in range(N):  # one keep-alive connection: request, response, next cycle
    conn.receive_data(REQUEST)
    while not isinstance(conn.next_event(), h11.EndOfMessage):
        pass
    conn.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
    conn.send(h11.EndOfMessage())
    conn.start_next_cycle()
pure = (time.perf_counter() - t) / N
print(llhttp * 1e6, pure * 1e6)
"""


def parser_costs() -> tuple[float, float]:
    """(µs httptools, µs h11) to parse one request like wrk's, on one keep-alive
    connection (h11 also writes its answer's head: it is a state machine for both)."""
    python = peer_venv("parsers") / "bin" / "python"
    out = subprocess.run([str(python), "-c", PARSE], capture_output=True, text=True, check=True)
    first, second = out.stdout.split()
    return float(first), float(second)


def prediction_limit(labship: Server, models: Path, workers: int) -> tuple[float, float]:
    """(µs a single-row prediction takes in a worker, alone, the request's parsing and
    answer included; requests/s ``workers`` such workers can do at most)."""
    server_pid = next(
        pid
        for pid in group(labship.proc)
        if b"labship_serve.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    )
    python = Path(f"/proc/{server_pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    env = dict(
        line.split("=", 1)
        for line in Path(f"/proc/{server_pid}/environ").read_bytes().decode().split("\0")
        if "=" in line
    )
    probe = (
        "import sys, time, pathlib\n"
        "from labship_serve import worker\n"
        "m = worker.Model(pathlib.Path(sys.argv[1])); worker.preload()\n"
        "b = pathlib.Path(sys.argv[2]).read_bytes()\n"
        "for _ in range(500): worker.answer_one(m, 'application/json', b)\n"
        "n = 5000; t = time.perf_counter()\n"
        "for _ in range(n): worker.answer_one(m, 'application/json', b)\n"
        "print((time.perf_counter() - t) / n)\n"
    )
    payload = models / "rows1.json"
    payload.write_text(body(1))
    out = subprocess.run(
        [python, "-c", probe, str(models / "signature"), str(payload)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    seconds = float(out.stdout.strip())
    return seconds * 1e6, workers / seconds


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
    """labship against another server for one load: throughput and p99 ratios."""

    rows: int
    connections: int
    labship: Load
    other: Load

    @property
    def rps_ratio(self) -> float:
        return self.labship.rps / self.other.rps if self.other.rps else 0.0

    @property
    def p99_ratio(self) -> float:
        return self.labship.p99_ms / self.other.p99_ms if self.other.p99_ms else 0.0


def _by(loads: list[Load]) -> dict[tuple[str, int, int], Load]:
    return {(x.server, x.rows, x.connections): x for x in loads}


def compare(loads: list[Load], mine: str, theirs: str) -> list[Compared]:
    by = _by(loads)
    return [
        Compared(r, c, by[mine, r, c], by[theirs, r, c])
        for r, c in ALL
        if (mine, r, c) in by and (theirs, r, c) in by
    ]


def _p99s(a: Load, b: Load) -> str:
    return f"p99 {a.p99_ms:.1f} vs {b.p99_ms:.1f} ms"


def _what(rows: int, connections: int) -> str:
    return f"{'1 row' if rows == 1 else f'{rows} rows'}, {connections} connections"


def results(loads: list[Load], limit: tuple[float, float], workers: int) -> list[Result]:
    rows: list[Result] = []
    for kind in ("signature", "example"):
        for c in compare(loads, f"labship ({kind})", f"mlflow ({kind})"):
            what = f"{_what(c.rows, c.connections)}, model with {kind}"
            rows.append(
                Result(
                    f"throughput, {what}: labship / mlflow",
                    f">= {TARGETS['mlflow']:g}x",
                    c.rps_ratio,
                    "x",
                    c.rps_ratio >= TARGETS["mlflow"],
                    note=f"{c.labship.rps:,.0f} vs {c.other.rps:,.0f} rps",
                )
            )
            rows.append(
                Result(
                    f"p99 latency, {what}: labship / mlflow",
                    f"<= {TARGETS['p99']:g}x",
                    c.p99_ratio,
                    "x",
                    c.p99_ratio <= TARGETS["p99"],
                    note=f"{c.labship.p99_ms:.1f} vs {c.other.p99_ms:.1f} ms",
                    digits=2,
                )
            )
    by = _by(loads)
    mine = by.get(("labship (signature)", *PEER_LOAD))
    mine_batched = by.get((BATCHED, *PEER_LOAD))
    for (name, server), ours in (
        (("LitServe", "litserve"), mine),
        (("BentoML", "bentoml"), mine),
        (
            (
                "LitServe, both batched",
                f"litserve batch {BATCH_SIZE}, {LITSERVE_BATCH_TIMEOUT * 1000:g} ms",
            ),
            mine_batched,
        ),
        (
            ("BentoML, both batched", f"bentoml batch {BATCH_SIZE}, {BENTOML_MAX_LATENCY_MS} ms"),
            mine_batched,
        ),
    ):
        theirs = by.get((server, *PEER_LOAD))
        if ours is None or theirs is None:
            continue
        ratio = ours.rps / theirs.rps if theirs.rps else 0.0
        rows.append(
            Result(
                f"throughput, {_what(*PEER_LOAD)}: labship / {name}",
                f">= {TARGETS['peers']:g}x",
                ratio,
                "x",
                ratio >= TARGETS["peers"],
                note=f"{ours.rps:,.0f} vs {theirs.rps:,.0f} rps; " + _p99s(ours, theirs),
            )
        )
    micros, most = limit
    best = max(
        (x.rps for x in loads if x.server == "labship (signature)" and x.rows == 1), default=0.0
    )
    rows.append(
        Result(
            "unbatched throughput, 1 row: labship / the prediction-bound limit",
            f">= {TARGETS['limit'] * 100:.0f} %",
            100 * best / most,
            "%",
            best >= TARGETS["limit"] * most,
            note=f"{best:,.0f} rps; limit: {workers} workers at {micros:.0f} µs a request, "
            f"{most:,.0f} rps",
            digits=0,
        )
    )
    for r, n in ALL:
        new = by.get(("labship (signature)", r, n))
        old = by.get(("labship before hardening", r, n))
        if new is None or old is None:
            continue
        ratio = new.rps / old.rps if old.rps else 0.0
        rows.append(
            Result(
                f"throughput, {_what(r, n)}: labship / labship before hardening ({BEFORE})",
                f">= {TARGETS['hardening']:g}x",
                ratio,
                "x",
                ratio >= TARGETS["hardening"],
                note=f"{new.rps:,.0f} vs {old.rps:,.0f} rps; " + _p99s(new, old),
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
    limit: tuple[float, float]
    parsers: tuple[float, float]


def measure(
    work: Path, workers: int, seconds: int, runs: int, *, quick: bool, images_too: bool, peers: bool
) -> Measured:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed: apt-get install wrk (scripts/engine-up.sh does)")
    venv, models = prepare(work)
    servers = serve_all(venv, models, work, workers, peers=peers)
    try:
        limit = prediction_limit(servers[0], models, workers)
        say(f"prediction-bound limit: {limit[0]:.0f} µs a request, {limit[1]:,.0f} rps")
        loads = load_all(servers, work, seconds)
    finally:
        for server in servers:
            stop(server.proc)
    model = models / "signature"
    built: Images | str = "not measured in this run (--no-images)"
    started: list[Startup] = []
    if images_too:
        built = images(venv, model, work, quick=quick)
        env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
        commands = startup_commands(
            venv, model, workers, built if isinstance(built, Images) else None
        )
        started = startups(commands, env, work, runs)
        if isinstance(built, Images):
            subprocess.run([docker_bin(), "rmi", MLFLOW_IMAGE], capture_output=True)
    versions = {
        name: tool_version(
            [
                str(peer_venv(name) / "bin" / "python"),
                "-c",
                f"import {name}; print({name}.__version__)",
            ]
        )
        for name in (("mlflow", "litserve", "bentoml") if peers else ("mlflow",))
    }
    versions["wrk"] = tool_version(["dpkg-query", "-W", "-f=${Version}", "wrk"])  # no --version
    parsers = parser_costs()
    say(f"parsing a request: httptools {parsers[0]:.1f} µs, h11 {parsers[1]:.1f} µs")
    if isinstance(built, Images):
        return Measured(loads, versions, built, "", started, limit, parsers)
    return Measured(loads, versions, None, built, started, limit, parsers)


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
    p.add_argument("--workers", type=int, help="workers of every server (default: labship's)")
    p.add_argument("--runs", type=int, help="timed start-ups of each server (5; quick 2)")
    p.add_argument("--no-images", action="store_true", help="skip image builds and start-ups")
    p.add_argument("--no-peers", action="store_true", help="skip LitServe and BentoML")
    return p


def main(argv: list[str] | None = None) -> int:
    from labship.serving.app.cpus import usable_cpus

    args = arguments().parse_args(argv)
    seconds = args.seconds or (2 if args.quick else 5)
    workers = args.workers or usable_cpus()
    out = report_path(args, DOC)
    say(f"{workers} workers each, {seconds} s per load; report to {out}; load {loadavg()}")
    runs = args.runs or (2 if args.quick else 5)
    start_load = loadavg()
    with work_dir("labship-bench-serve-", parent=args.workdir, keep=args.keep) as work:
        m = measure(
            work,
            workers,
            seconds,
            runs,
            quick=args.quick,
            images_too=not args.no_images,
            peers=not args.no_peers,
        )
    machine = machine_facts(
        {
            **{name: version for name, version in m.versions.items()},
            "workers (every server)": str(workers),
            "load average (1/5/15 min) at the start": start_load,
            "load average (1/5/15 min) at the end": loadavg(),
        }
    )
    return publish(
        args,
        out,
        kind="serve",
        title="Serving benchmark",
        machine=machine,
        results=results(m.loads, m.limit, workers) + image_results(m),
        d={
            "loads": m.loads,
            "seconds": seconds,
            "workers": workers,
            "batch": " ".join(BATCH),
            "images": m.images,
            "images_note": m.images_note,
            "startups": m.startups,
            "runs": runs,
            "limit": m.limit,
            "parsers": m.parsers,
            "before": BEFORE,
            "skew": SKEW,
            "tries": TRIES,
            "litserve_timeout_ms": LITSERVE_BATCH_TIMEOUT * 1000,
            "bentoml_latency_ms": BENTOML_MAX_LATENCY_MS,
        },
        targets=TARGETS,
    )


if __name__ == "__main__":
    entry(main, "bench_serve")
