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
- `labship run noop` of a changed project (a comment added to requirements.txt: the lock
  is still fresh, but only reading the spec again can tell) | the environment's python
- with Docker and LABSHIP_BASE_IMAGE: `labship run noop --runtime docker` | `docker run
  --rm IMAGE python code/noop.py` of the same prod image  (target <= 50 ms over)

Every figure is min / median / max over the runs; the overhead is the difference of the
medians. Run it under `flock -x /work/coord/bench.lock` on a shared machine.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
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
RECORDS = 100


@dataclass(frozen=True)
class Row:
    key: str
    pair: Paired
    target_ms: float | None  # over B's median; None: no target of its own


@dataclass(frozen=True)
class StartupData:
    runs: int
    warmup: int
    rows: list[Row]
    docker_note: str
    load_before: str
    load_after: str

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


def measure(work: Path, runs: int, warmup: int, *, docker: bool) -> StartupData:
    cmds = Commands(work / "logs")
    labship = str(labship_cli())
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
    with open(project / "requirements.txt", "a") as spec:
        spec.write("# a comment: the lock stays fresh, its digest of the spec does not\n")
    rows.append(
        pair("changed", Command("labship run noop (spec changed)", run.argv), bare, project, None)
    )
    docker_note = "not measured: run with --docker and LABSHIP_BASE_IMAGE set"
    if docker:
        row, docker_note = docker_pair(cmds, labship, env, project, runs, warmup)
        if row is not None:
            rows.append(row)
    return StartupData(runs, warmup, rows, docker_note, load_before, loadavg())


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
    pair = paired(a, b, env=env, cwd=project, runs=runs, warmup=warmup)
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
        "changed": "`labship run` of a changed project (spec re-read) over the bare interpreter",
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
    return out


def main(argv: list[str] | None = None) -> int:
    p = parser((__doc__ or "").splitlines()[0])
    p.add_argument("--runs", type=int, help="timed pairs per row (30; quick 5)")
    p.add_argument("--warmup", type=int, help="untimed pairs first (3; quick 1)")
    p.add_argument("--docker", action="store_true", help="also the Docker runtime's row")
    args = p.parse_args(argv)
    runs = args.runs or (5 if args.quick else 30)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    if runs < 20 and not args.quick:
        raise BenchError("a full run takes at least 20 runs per row (--runs)")
    out = report_path(args, DOC)
    with work_dir("labship-startup-", parent=args.workdir, keep=args.keep) as work:
        data = measure(work, runs, warmup, docker=args.docker)
    machine = machine_facts(
        {
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
