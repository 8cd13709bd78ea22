"""Start-up: what `labship run`, `labship --version` and `labship runs` cost over the
command underneath, each paired with the bare command (A B A B ...).

A tiny project (requirements.txt: six; a no-op job), locked and built once; then, each
pair `--runs` times after `--warmup` untimed pairs:

- `labship run noop` | the environment's `python code/noop.py`  (target <= 25 ms over)
- `uv run python code/noop.py` in a uv project of the same package | its `.venv`'s python:
  uv's own overhead; target: labship's <= 2x uv's
- `labship run noop` with PYTHONDONTWRITEBYTECODE=1 and no bytecode prefix (labship's
  bytecode is what its install left: scripts/bootstrap.sh compiles the editable checkout)
- `labship --version` and `labship runs` (100 records) | labship's python running the
  no-op file  (target <= 15 ms over)
- `labship run noop` of a changed project (a new comment in requirements.txt before each
  run: the lock is still fresh, but only parsing the spec again can tell) | the
  environment's python
- with Docker and LABSHIP_BASE_IMAGE: `labship run noop --runtime docker` | `docker run
  --rm IMAGE python code/noop.py` of the same prod image  (target <= 50 ms over)
- with --lab (JupyterLab from PyPI): `labship lab --detach` | `jupyter lab` from the same
  dev environment, both timed to the moment `/api/status` answers with the token
  (watched every 10 ms for both), warm (target <= 1.05x) and cold: a new store, uv's
  cache warm, against `uv venv` + `uv pip sync pylock.dev.toml` + `jupyter lab`
  (target <= 1.3x; `--lab-runs` pairs, 5)

Every figure is min / median / max over the runs; the overhead is the difference of the
medians. Run it under `flock -x /work/coord/bench.lock` on a shared machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench._common import (
    BenchError,
    Command,
    Commands,
    Paired,
    ProjectFiles,
    Result,
    entry,
    labship_cli,
    labship_python,
    labship_uv,
    loadavg,
    machine_facts,
    paired,
    parser,
    publish,
    report_path,
    sandbox_env,
    say,
    tool_version,
    work_dir,
    write_project,
)

DOC = "benchmarks-startup.md"
TARGET_RUN_MS = 25.0  # labship run over the bare interpreter
TARGET_UV_FACTOR = 2.0  # labship run's overhead over uv run's
TARGET_QUICK_MS = 15.0  # --version, runs: over python
TARGET_DOCKER_MS = 50.0  # labship run --runtime docker over docker run
TARGET_LAB_WARM = 1.05  # labship lab --detach / jupyter lab, warm environment
TARGET_LAB_COLD = 1.3  # / uv venv + uv pip sync + jupyter lab, new store, warm uv cache
RECORDS = 100
LAB_PORT = 18951
LAB_TOKEN = "startup-bench-token-0123456789abcdef"


@dataclass(frozen=True)
class Row:
    key: str
    pair: Paired
    target_ms: float | None  # over B's median; None: no target of its own


@dataclass(frozen=True)
class LabPair:
    """labship's seconds and the bare way's, run in turn, to the lab's readiness."""

    key: str  # "warm" | "cold"
    labship: list[float]
    bare: list[float]
    bare_label: str
    target: float

    @property
    def ratio(self) -> float:
        return sorted(a / b for a, b in zip(self.labship, self.bare, strict=True))[
            len(self.labship) // 2
        ]


@dataclass(frozen=True)
class StartupData:
    runs: int
    warmup: int
    rows: list[Row]
    docker_note: str
    load_before: str
    load_after: str
    labs: list[LabPair] = field(default_factory=list)
    lab_note: str = "not measured: run with --lab"

    def row(self, key: str) -> Row | None:
        return next((r for r in self.rows if r.key == key), None)


def project_files() -> ProjectFiles:
    return ProjectFiles(
        name="startup",
        spec_name="requirements.txt",
        spec_text="six==1.17.0\n",
        dev=("iniconfig",),
        jobs={"noop": "python code/noop.py", "where": "python code/where.py"},
        files={
            "code/noop.py": "pass\n",
            "code/where.py": "import sys\nprint(sys.prefix)\n",
            ".env_dev": "LABSHIP_BENCH=1\n",
            ".env_prod": "LABSHIP_BENCH=1\n",
        },
        runtime="local",
    )


def uv_project(root: Path) -> Path:
    """The same package as a uv project (no build: a virtual project)."""
    root.mkdir(parents=True)
    (root / "code").mkdir()
    (root / "code" / "noop.py").write_text("pass\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "startup"\nversion = "0"\nrequires-python = ">=3.11"\n'
        'dependencies = ["six==1.17.0"]\n\n[tool.uv]\npackage = false\n'
    )
    return root


def fill_run_log(state: Path, n: int) -> None:
    """``n`` records as `labship run` appends them (the log is JSON lines)."""
    record = {
        "job": "noop",
        "profile": "dev",
        "runtime": "local",
        "start": "2026-01-01T00:00:00Z",
        "duration_s": 0.01,
        "exit_code": 0,
        "lock_hash": "0" * 64,
        "git_commit": None,
    }
    with open(state / "runs.jsonl", "a") as log:
        for _ in range(n):
            log.write(json.dumps(record, separators=(",", ":")) + "\n")


def measure(
    work: Path,
    runs: int,
    warmup: int,
    *,
    docker: bool,
    lab_runs: int | None,
    labship: str,
) -> StartupData:
    cmds = Commands(work / "logs")
    env = sandbox_env(work / "sandbox", pycache=work / "pycache")
    env["LABSHIP_RUNTIME"] = "local"
    project = write_project(work / "proj", project_files())
    say("labship lock; the first run builds the prod environment")
    cmds.run([labship, "lock"], env=env, cwd=project)
    cmds.run([labship, "run", "noop"], env=env, cwd=project)
    prefix = cmds.capture([labship, "-q", "run", "where"], env=env, cwd=project)[1]
    venv_python = f"{prefix.splitlines()[-1]}/bin/python"
    state = project / ".labship"
    log_lines = (state / "runs.jsonl").read_text().count("\n")
    fill_run_log(state, RECORDS - log_lines)

    uv = labship_uv()
    uvp = uv_project(work / "uvproj")
    say("uv sync of the same package (uv's cache is labship's: nothing is downloaded twice)")
    cmds.run([uv, "sync", "--python", venv_python], env=env, cwd=uvp)

    def pair(key: str, a: Command, b: Command, cwd: Path, target: float | None) -> Row:
        say(f"{warmup} warmup + {runs} timed pairs: {a.label} | {b.label}")
        return Row(key, paired(a, b, env=env, cwd=cwd, runs=runs, warmup=warmup), target)

    bare = Command("python code/noop.py (the environment's)", (venv_python, "code/noop.py"))
    own = Command("python code/noop.py (labship's)", (str(labship_python()), "code/noop.py"))
    run = Command("labship run noop", (labship, "run", "noop"))
    load_before = loadavg()
    rows = [
        pair("run", run, bare, project, TARGET_RUN_MS),
        pair(
            "uv",
            Command("uv run python code/noop.py", (uv, "run", "python", "code/noop.py")),
            Command("python code/noop.py (its .venv's)", (".venv/bin/python", "code/noop.py")),
            uvp,
            None,
        ),
        pair(
            "no_pyc",
            Command(
                "labship run noop, PYTHONDONTWRITEBYTECODE=1",
                ("env", "-u", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE=1", *run.argv),
            ),
            bare,
            project,
            TARGET_RUN_MS,
        ),
        pair(
            "version",
            Command("labship --version", (labship, "--version")),
            own,
            project,
            TARGET_QUICK_MS,
        ),
        pair(
            "runs",
            Command(f"labship runs ({RECORDS} records)", (labship, "runs")),
            own,
            project,
            TARGET_QUICK_MS,
        ),
    ]
    # Before every run a new comment: the lock stays fresh, but only reading the spec again
    # can tell (the digest it keeps of the spec no longer matches). Both sides pay the sh.
    edit = 'echo "# $$" >> requirements.txt; exec "$0" "$@"'
    same = 'echo "# $$" >> /dev/null; exec "$0" "$@"'
    rows.append(
        pair(
            "changed",
            Command("labship run noop, spec edited before each run", ("sh", "-c", edit, *run.argv)),
            Command("python code/noop.py, the same sh before", ("sh", "-c", same, *bare.argv)),
            project,
            None,
        )
    )
    docker_note = "not measured: run with --docker and LABSHIP_BASE_IMAGE set"
    if docker:
        row, docker_note = docker_pair(cmds, labship, env, project, runs, warmup)
        if row is not None:
            rows.append(row)
    data = StartupData(runs, warmup, rows, docker_note, load_before, loadavg())
    if lab_runs:
        labs = lab_pairs(cmds, labship, work, lab_runs)
        data = StartupData(
            runs, warmup, rows, docker_note, load_before, loadavg(), labs, "measured"
        )
    return data


# -- the lab ------------------------------------------------------------------------------


def _lab_ready(port: int) -> bool:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/status", headers={"Authorization": f"token {LAB_TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _jupyter_to_ready(argv: list[str], env: dict[str, str], cwd: Path, started: float) -> float:
    """Start ``jupyter lab``, watch /api/status every 10 ms (as labship does), stop it."""
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while not _lab_ready(LAB_PORT):
            if proc.poll() is not None or time.perf_counter() - started > 120:
                raise BenchError(f"jupyter lab did not answer: {' '.join(argv)}")
            time.sleep(0.01)
        return time.perf_counter() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def lab_pairs(cmds: Commands, labship: str, work: Path, runs: int) -> list[LabPair]:
    from labship import load_project, read_lock
    from labship.store import Store

    root = work / "labproj"
    files = ProjectFiles(
        name="labbench",
        spec_name="requirements.txt",
        spec_text="six==1.17.0\n",
        dev=("jupyterlab",),
        jobs={"noop": "python code/noop.py"},
        files={"code/noop.py": "pass\n", ".env_dev": f"JUPYTER_TOKEN={LAB_TOKEN}\n"},
        runtime="local",
        extra_toml=f"port = {LAB_PORT}\n",
    )
    project = write_project(root, files)
    env = sandbox_env(work / "lab-sandbox", pycache=work / "pycache")
    cmds.run([labship, "lock"], env=env, cwd=project)
    say("labship lab --detach, first start: builds the dev environment (untimed)")
    cmds.run([labship, "lab", "--detach"], env=env, cwd=project)
    cmds.run([labship, "stop"], env=env, cwd=project)
    lock = read_lock(load_project(project))
    dev = Store(Path(env["LABSHIP_STORE"])).env_path(lock.hash(dev=True))
    jupyter = [
        str(dev / "bin" / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={LAB_PORT}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={project}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]
    jenv = {**env, "JUPYTER_TOKEN": LAB_TOKEN, "PATH": f"{dev / 'bin'}:{env['PATH']}"}

    def labship_lab(run_env: dict[str, str]) -> float:
        started = time.perf_counter()
        cmds.run([labship, "lab", "--detach"], env=run_env, cwd=project)
        took = time.perf_counter() - started
        cmds.run([labship, "stop"], env=run_env, cwd=project)
        return took

    warm_a: list[float] = []
    warm_b: list[float] = []
    say(f"lab, warm: 1 untimed + {runs} pairs: labship lab --detach | jupyter lab")
    for i in range(runs + 1):
        a = labship_lab(env)
        b = _jupyter_to_ready(jupyter, jenv, project, time.perf_counter())
        if i:
            warm_a.append(a)
            warm_b.append(b)
    cold_a: list[float] = []
    cold_b: list[float] = []
    uv = labship_uv()
    say(f"lab, cold: {runs} pairs: labship lab --detach (new store) | uv venv + sync + jupyter")
    for i in range(runs):
        fresh = {**env, "LABSHIP_STORE": str(work / f"lab-store-{i}")}
        cold_a.append(labship_lab(fresh))
        venv = work / f"lab-venv-{i}"
        started = time.perf_counter()
        cmds.run(
            [uv, "venv", "--python", str(dev / "bin" / "python"), str(venv)], env=env, cwd=project
        )
        cmds.run(
            [uv, "pip", "sync", "--python", str(venv / "bin" / "python"), "pylock.dev.toml"],
            env=env,
            cwd=project,
        )
        argv = [str(venv / "bin" / "jupyter"), *jupyter[1:]]
        venv_env = {**jenv, "PATH": f"{venv / 'bin'}:{env['PATH']}"}
        cold_b.append(_jupyter_to_ready(argv, venv_env, project, started))
        shutil.rmtree(venv, ignore_errors=True)
        shutil.rmtree(work / f"lab-store-{i}", ignore_errors=True)
    return [
        LabPair("warm", warm_a, warm_b, "jupyter lab (the same dev environment)", TARGET_LAB_WARM),
        LabPair(
            "cold",
            cold_a,
            cold_b,
            "uv venv + uv pip sync pylock.dev.toml + jupyter lab",
            TARGET_LAB_COLD,
        ),
    ]


def docker_pair(
    cmds: Commands, labship: str, env: dict[str, str], project: Path, runs: int, warmup: int
) -> tuple[Row | None, str]:
    docker = shutil.which("docker")
    base = os.environ.get("LABSHIP_BASE_IMAGE")
    if docker is None or not base:
        return None, "not measured: no docker client, or LABSHIP_BASE_IMAGE is not set"
    env = {**env, "LABSHIP_BASE_IMAGE": base, "LABSHIP_RUNTIME": "docker"}
    say("labship build prod (the image both commands run)")
    built = cmds.capture([labship, "build", "prod"], env=env, cwd=project)[1]
    image = built.split(": ", 1)[1].split()[0]
    cmds.run([labship, "run", "noop"], env=env, cwd=project)  # the first run, untimed
    a = Command("labship run noop --runtime docker", (labship, "run", "noop"))
    b = Command(
        "docker run --rm IMAGE python code/noop.py",
        (docker, "run", "--rm", image, "python", "code/noop.py"),
    )
    say(f"{warmup} warmup + {runs} timed pairs: {a.label} | {b.label}")
    try:
        pair = paired(a, b, env=env, cwd=project, runs=runs, warmup=warmup)
    finally:  # the run's tags (its image goes with the last one)
        subprocess.run([docker, "rmi", *built.split(": ", 1)[1].split()[:-1]], capture_output=True)
    return Row("docker", pair, TARGET_DOCKER_MS), f"image {image} on {base}"


def results(d: StartupData) -> list[Result]:
    out: list[Result] = []
    uv = d.row("uv")
    uv_over = uv.pair.median_diff if uv is not None else None
    names = {
        "run": "`labship run` (warm, unchanged) over the bare interpreter",
        "no_pyc": "the same with PYTHONDONTWRITEBYTECODE=1",
        "version": "`labship --version` over python",
        "runs": f"`labship runs` ({RECORDS} records) over python",
        "changed": "`labship run` of a changed project (spec parsed again) over the bare one",
        "docker": "`labship run --runtime docker` over `docker run` of the same image",
        "uv": "`uv run` over its interpreter (for reference)",
    }
    for row in d.rows:
        over = row.pair.median_diff
        target = f"<= {row.target_ms:.0f} ms" if row.target_ms is not None else ""
        met = None if row.target_ms is None else over <= row.target_ms
        out.append(Result(names[row.key], target, over, "ms", met, digits=1))
        if row.key == "run" and uv_over is not None:
            factor = over / uv_over if uv_over > 0 else float("inf")
            out.append(
                Result(
                    "`labship run`'s overhead over `uv run`'s",
                    f"<= {TARGET_UV_FACTOR:.0f}x",
                    factor,
                    "x",
                    factor <= TARGET_UV_FACTOR,
                    note=f"uv run: {uv_over:.1f} ms over its interpreter",
                )
            )
    for lab in d.labs:
        out.append(
            Result(
                f"`labship lab --detach`, {lab.key}, over {lab.bare_label} (pair by pair)",
                f"<= {lab.target}x",
                lab.ratio,
                "x",
                lab.ratio <= lab.target,
                note=f"medians {sorted(lab.labship)[len(lab.labship) // 2]:.2f} s vs "
                f"{sorted(lab.bare)[len(lab.bare) // 2]:.2f} s",
                digits=2,
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    p = parser((__doc__ or "").splitlines()[0])
    p.add_argument("--runs", type=int, help="timed pairs per row (30; quick 5)")
    p.add_argument("--warmup", type=int, help="untimed pairs first (3; quick 1)")
    p.add_argument("--docker", action="store_true", help="also the Docker runtime's row")
    p.add_argument("--lab", action="store_true", help="also the lab, warm and cold")
    p.add_argument("--lab-runs", type=int, default=5, help="lab pairs, warm and cold (5)")
    p.add_argument(
        "--labship",
        type=Path,
        help="another labship command to time (an older checkout: before/after figures)",
    )
    args = p.parse_args(argv)
    runs = args.runs or (5 if args.quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    if runs < 20 and not args.quick:
        raise BenchError("a full run takes at least 20 runs per row (--runs)")
    out = report_path(args, DOC)
    with work_dir("labship-startup-", parent=args.workdir, keep=args.keep) as work:
        lab_runs = max(1, args.lab_runs) if args.lab else None
        labship = str(args.labship or labship_cli())
        data = measure(work, runs, warmup, docker=args.docker, lab_runs=lab_runs, labship=labship)
    machine = machine_facts(
        {
            "labship command timed": str(args.labship or labship_cli()),
            "docker": tool_version(["docker", "version", "--format", "{{.Server.Version}}"])
            if args.docker
            else "not used",
            "load average (1/5/15 min) before / after the timed pairs": (
                f"{data.load_before} -> {data.load_after}"
            ),
        }
    )
    return publish(
        args,
        out,
        kind="startup",
        title="Start-up benchmark",
        machine=machine,
        results=results(data),
        d=data,
    )


if __name__ == "__main__":
    entry(main, "bench_startup")
