"""Docker benchmark: labship's images against a naive single-stage Dockerfile.
Writes docs/benchmarks-docker.md (``--quick``: a temporary file).

    LABSHIP_BASE_IMAGE=local/python:3.11-slim python -m bench.bench_docker [--quick]

Needs a Docker engine with BuildKit and the base image. Every ratio compares numbers from
the same run on the same machine and base image:

(a) rebuild after a code-only change vs the first build (target <= 10 s, no package layer)
(b) prod image size vs naive (pip install of the same set + the lab packages) (target <= 60 %)
(c) cold build (no layer cache, fresh cache mounts) naive / labship        (target >= 3x)
(d) ``labship run --runtime docker`` overhead over a bare ``docker run``    (target <= 200 ms)
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass, field, replace
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
    loadavg,
    machine_facts,
    output,
    paired,
    parser,
    probe,
    publish,
    report_path,
    sandbox_env,
    say,
    tool_version,
    work_dir,
    write_project,
)

DOC = "benchmarks-docker.md"
DEFAULT_BASE = "local/python:3.11-slim"
NAIVE = """\
FROM {base}
WORKDIR /app
COPY requirements.txt .
RUN --mount=type=secret,id=ca \\
    python3 -m venv /opt/venv \\
 && PIP_CERT=/run/secrets/ca /opt/venv/bin/pip install -r requirements.txt
COPY . .
ENV PATH=/opt/venv/bin:$PATH
CMD ["python3", "code/hello.py"]
"""
CA_ENV_VARS = ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
DEFAULT_CA = Path("/etc/ssl/certs/ca-certificates.crt")

TARGET_REBUILD_S = 10.0
TARGET_SIZE_PCT = 60.0
TARGET_COLD_RATIO = 3.0
TARGET_RUN_OVERHEAD_MS = 200.0


@dataclass(frozen=True)
class Mode:
    name: str
    prod: tuple[str, ...]  # requirements.txt of the project
    dev: tuple[str, ...]  # [lab] packages (in the naive image too)
    runs: int  # timed pairs in (d)
    warmup: int


FULL = Mode("full", ("pandas==2.2.3", "scikit-learn==1.5.2"), ("jupyterlab",), 10, 1)
QUICK = Mode("quick", ("six==1.17.0",), ("iniconfig==2.0.0",), 3, 1)


@dataclass(frozen=True)
class Ctx:
    work: Path
    mode: Mode
    cmds: Commands
    labship: Path
    client: Client
    base: str  # the base image of both images
    salt: str  # makes this run's image names and cache ids its own
    env: dict[str, str]  # for labship and docker: clean, caches under work/
    made: list[str] = field(default_factory=list)  # image ids and tags to remove at the end

    @property
    def image(self) -> str:
        return f"labship-bench-{self.salt}"

    @property
    def docker(self) -> str:
        return self.client.binary


# -- building ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """A docker binary that builds with BuildKit, and how."""

    binary: str
    build: tuple[str, ...]  # `docker buildx build --load`, or `docker build`

    @property
    def how(self) -> str:
        return "buildx" if "buildx" in self.build else "DOCKER_BUILDKIT=1 docker build"


def buildkit_client() -> Client | None:
    """The first docker on PATH (then the usual places) with buildx, else the first whose
    `docker build` takes --secret under DOCKER_BUILDKIT=1 (a client without buildx refuses
    BuildKit then). The same choice labship makes, so both images build alike."""
    dirs = [*os.environ.get("PATH", "").split(os.pathsep), "/usr/bin", "/usr/local/bin"]
    found = [str(Path(d or ".") / "docker") for d in dirs]
    binaries = list(dict.fromkeys(b for b in found if os.access(b, os.X_OK)))
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    for binary in binaries:
        if subprocess.run([binary, "buildx", "version"], capture_output=True).returncode == 0:
            return Client(binary, (binary, "buildx", "build", "--load"))
    for binary in binaries:
        proc = subprocess.run([binary, "build", "--help"], env=env, capture_output=True, text=True)
        if proc.returncode == 0 and "--secret" in proc.stdout:
            return Client(binary, (binary, "build"))
    return None


def engine_problem(client: Client | None, base: str) -> str | None:
    """Why the benchmark cannot run here, or None."""
    if client is None:
        return "no docker client here builds with BuildKit (no buildx, no DOCKER_BUILDKIT=1)"
    try:
        output([client.binary, "info", "--format", "{{.ServerVersion}}"])
    except (OSError, BenchError) as exc:
        return f"no Docker engine answers: {str(exc).splitlines()[0]}"
    try:
        output([client.binary, "image", "inspect", "--format", "{{.Id}}", base])
    except BenchError:
        return f"base image {base} missing (set LABSHIP_BASE_IMAGE to a local image)"
    return None


def make_project(ctx: Ctx) -> Path:
    """A small project (requirements.txt spec), locked and its Dockerfile ejected with
    private cache ids, so "cold" means cold without pruning anyone's build cache."""
    spec = ProjectFiles(
        name="labship-bench",
        spec_name="requirements.txt",
        spec_text="".join(f"{r}\n" for r in ctx.mode.prod),
        dev=ctx.mode.dev,
        jobs={"hello": "python code/hello.py"},
        files={
            "code/hello.py": "print('hello')\n",
            "notebooks/explore.ipynb": "{}\n",
            ".env_dev": "GREETING=hi\n",
        },
        extra_toml=f'\n[docker]\nimage = "{ctx.image}"\n',
    )
    root = write_project(ctx.work / "bench", spec)
    for verb in ("lock", "eject"):
        ctx.cmds.run([str(ctx.labship), "-C", str(root), verb], env=ctx.env, cwd=ctx.work)
    dockerfile = root / "docker" / "Dockerfile"
    text, count = re.subn(r"id=(labship-[a-z-]+)", rf"id=\1-{ctx.salt}", dockerfile.read_text())
    if count == 0:
        say("warning: no cache mount ids to make private in the Dockerfile")
    dockerfile.write_text(text)
    return root


@dataclass(frozen=True)
class Build:
    seconds: float
    image: str  # image id or tag
    log: str  # BuildKit's --progress=plain output (and labship's messages)


def cold_build(ctx: Ctx, project: Path) -> Build:
    """labship's prod image without layer cache, in a process of its own."""
    argv, cwd = probe("build-no-cache", project, "prod")
    seconds, out = ctx.cmds.capture(argv, env=ctx.env, cwd=cwd)
    image_id = out.splitlines()[-1]
    ctx.made.append(image_id)
    return Build(seconds, image_id, ctx.cmds.log_text())


def rebuild(ctx: Ctx, project: Path) -> Build:
    """`labship build prod` after a change to code/ only."""
    (project / "code" / "hello.py").write_text("print('hello, changed')\n")
    argv = [str(ctx.labship), "-v", "-C", str(project), "build", "prod"]
    seconds, out = ctx.cmds.capture(argv, env=ctx.env, cwd=ctx.work)
    found = re.search(r"^prod: (\S+)", out, re.M)
    if found is None:
        raise BenchError(f"no prod image tag in the output of labship build: {out!r}")
    # the id too: a later `labship run` may move the tag to an image of its own
    ctx.made.append(output([ctx.docker, "image", "inspect", "--format", "{{.Id}}", found[1]]))
    return Build(seconds, found.group(1), ctx.cmds.log_text())


def ca_bundle() -> Path | None:
    for var in CA_ENV_VARS:
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    return DEFAULT_CA if DEFAULT_CA.is_file() else None


def naive_build(ctx: Ctx) -> Build:
    """One stage: pip install of the prod set plus the lab packages, no layer cache."""
    folder = ctx.work / "naive"
    (folder / "code").mkdir(parents=True)
    (folder / "requirements.txt").write_text(
        "".join(f"{r}\n" for r in ctx.mode.prod + ctx.mode.dev)
    )
    (folder / "code" / "hello.py").write_text("print('hello')\n")
    (folder / "Dockerfile").write_text(NAIVE.format(base=ctx.base))
    tag = f"{ctx.image}-naive:latest"
    argv = [*ctx.client.build, "--no-cache", "--network=host", "--progress=plain", "-t", tag]
    bundle = ca_bundle()
    argv += ["--secret", f"id=ca,src={bundle}"] if bundle else []
    env = {**ctx.env, "DOCKER_BUILDKIT": "1"}
    ctx.made.append(tag)
    seconds = ctx.cmds.run([*argv, str(folder)], env=env, cwd=ctx.work)
    return Build(seconds, tag, ctx.cmds.log_text())


# -- reading build logs and images -----------------------------------------------------


def steps(log: str, *, at_least: float = 0.2) -> list[tuple[str, float]]:
    """BuildKit's per-step wall times (--progress=plain 'DONE' lines), in finishing order.
    Stages run in parallel, so these do not add up to the total."""
    names = dict(re.findall(r"^#(\d+) (\[[^\]]+\][^\n]*|exporting to image)$", log, re.M))
    out = []
    for number, seconds in re.findall(r"^#(\d+) DONE ([\d.]+)s$", log, re.M):
        if float(seconds) >= at_least and number in names:
            name = re.sub(r"\s+", " ", names[number])
            name = re.sub(r"--mount=\S+ ", "", name)
            out.append((name[:90] + ("..." if len(name) > 90 else ""), float(seconds)))
    return out


def sync_split(log: str) -> str:
    """uv's own split of the install step: download, install (copy from the cache), then
    the bytecode compile (the rest of the step)."""
    prepared = re.search(r"^#(\d+) ([\d.]+) Prepared \d+ packages? in ([\d.]+m?s)", log, re.M)
    if prepared is None:
        return "n/a"
    n = prepared.group(1)
    installed = re.search(rf"^#{n} ([\d.]+) Installed \d+ packages? in ([\d.]+m?s)", log, re.M)
    done = re.search(rf"^#{n} DONE ([\d.]+)s$", log, re.M)
    if installed is None or done is None:
        return "n/a"
    compile_s = float(done.group(1)) - float(installed.group(1))
    return (
        f"download {prepared.group(3)}, install {installed.group(2)}, "
        f"bytecode compile {compile_s:.1f}s"
    )


def rerun_env_steps(log: str) -> list[str]:
    """The environment steps (RUN/COPY of the uv, builder and base stages) a build ran
    instead of taking from the cache."""
    env_steps = dict(
        re.findall(r"^#(\d+) \[((?:uv|builder|base) [^\]]+)\] (?:RUN|COPY)", log, re.M)
    )
    if not env_steps:
        raise BenchError("no environment steps found in the rebuild's log")
    return [name for n, name in env_steps.items() if not re.search(rf"^#{n} CACHED$", log, re.M)]


def size_mb(ctx: Ctx, image: str) -> float:
    return int(output([ctx.docker, "image", "inspect", "--format", "{{.Size}}", image])) / 1e6


def layers_mb(ctx: Ctx, image: str) -> list[float]:
    """The sizes of an image's layers, newest first."""
    fmt = ["--no-trunc", "--human=false", "--format", "{{.Size}}"]
    return [int(n) / 1e6 for n in output([ctx.docker, "history", *fmt, image]).split()]


def biggest_own_layer_mb(ctx: Ctx, image: str) -> float:
    """The biggest of the layers an image adds to the base image (the venv, in both)."""
    own = layers_mb(ctx, image)[: -len(layers_mb(ctx, ctx.base)) or None]
    return max(own, default=0.0)


@dataclass(frozen=True)
class Sizes:
    base: float  # MB
    prod: float
    naive: float
    prod_venv: float  # the biggest layer each adds to the base image
    naive_venv: float

    @property
    def pct(self) -> float:
        return 100 * self.prod / self.naive

    @property
    def above_base_pct(self) -> float:
        return 100 * (self.prod - self.base) / (self.naive - self.base)

    @property
    def venv_needed(self) -> float:
        """The venv layer labship's image would need for the size target."""
        return TARGET_SIZE_PCT / 100 * self.naive - (self.prod - self.prod_venv)


def sizes(ctx: Ctx, prod: str, naive: str) -> Sizes:
    return Sizes(
        size_mb(ctx, ctx.base),
        size_mb(ctx, prod),
        size_mb(ctx, naive),
        biggest_own_layer_mb(ctx, prod),
        biggest_own_layer_mb(ctx, naive),
    )


# -- (d) run overhead ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunOverhead:
    pair: Paired | None  # labship run vs docker run; None: labship run failed
    note: str


def run_overhead(ctx: Ctx, project: Path, prod: str) -> RunOverhead:
    """`labship run hello --runtime docker` against `docker run --rm` of its prod image."""
    ls = (str(ctx.labship), "run", "hello", "--runtime", "docker", "--profile", "dev")
    bare = (ctx.docker, "run", "--rm", prod, "python3", "code/hello.py")
    say(f"(d) {ctx.mode.warmup} warmup + {ctx.mode.runs} timed pairs: labship run | docker run")
    try:
        pair = paired(
            Command("labship run hello --runtime docker", ls),
            Command("docker run --rm IMAGE python3 code/hello.py", bare),
            env=ctx.env,
            cwd=project,
            runs=ctx.mode.runs,
            warmup=ctx.mode.warmup,
        )
    except BenchError as exc:
        return RunOverhead(None, f"labship run --runtime docker failed: {exc}")
    return RunOverhead(pair, "")


# -- the whole run ---------------------------------------------------------------------


@dataclass(frozen=True)
class DockerData:
    mode: Mode
    base: str
    cold: Build
    rebuild: Build
    reran: list[str]
    naive: Build
    sizes: Sizes
    run: RunOverhead
    load_before: str
    load_after: str

    @property
    def cold_steps(self) -> list[tuple[str, float]]:
        return steps(self.cold.log)

    @property
    def slowest_cold_step(self) -> tuple[str, float]:
        return max(self.cold_steps, key=lambda step: step[1], default=("n/a", 0.0))

    @property
    def naive_steps(self) -> list[tuple[str, float]]:
        return steps(self.naive.log)

    @property
    def sync_split(self) -> str:
        return sync_split(self.cold.log)

    @property
    def cold_ratio(self) -> float:
        return self.naive.seconds / self.cold.seconds

    @property
    def overhead_ms(self) -> float | None:
        return None if self.run.pair is None else self.run.pair.median_diff


def measure(ctx: Ctx) -> DockerData:
    load_before = loadavg()
    project = make_project(ctx)
    say("(c) labship's prod image, cold (no layer cache, private cache mounts)")
    cold = cold_build(ctx, project)
    say(f"    {cold.seconds:.1f}s; (a) rebuild after a code-only change")
    again = rebuild(ctx, project)
    say(f"    {again.seconds:.1f}s; (c) the naive image, cold")
    naive = naive_build(ctx)
    say(f"    {naive.seconds:.1f}s; (b) sizes")
    measured = sizes(ctx, again.image, naive.image)
    run = run_overhead(ctx, project, again.image)
    return DockerData(
        ctx.mode,
        ctx.base,
        cold,
        again,
        rerun_env_steps(again.log),
        naive,
        measured,
        run,
        load_before,
        loadavg(),
    )


def results(d: DockerData) -> list[Result]:
    s, over = d.sizes, d.overhead_ms
    pair = d.run.pair
    return [
        Result(
            "(a) rebuild after a code-only change",
            f"<= {TARGET_REBUILD_S:.0f} s, no package layer re-run",
            d.rebuild.seconds,
            "s",
            d.rebuild.seconds <= TARGET_REBUILD_S and not d.reran,
            note=f"first build {d.cold.seconds:.1f} s; package layers re-run: "
            + (", ".join(d.reran) or "none"),
        ),
        Result(
            "(b) prod image size, of the naive image's",
            f"<= {TARGET_SIZE_PCT:.0f}%",
            s.pct,
            "%",
            s.pct <= TARGET_SIZE_PCT,
            note=f"{s.prod:.0f} MB vs {s.naive:.0f} MB",
            digits=0,
        ),
        Result(
            "(c) cold build, naive / labship",
            f">= {TARGET_COLD_RATIO:.0f}x",
            d.cold_ratio,
            "x",
            d.cold_ratio >= TARGET_COLD_RATIO,
            note=f"{d.naive.seconds:.1f} s / {d.cold.seconds:.1f} s",
        ),
        Result(
            "(d) `labship run --runtime docker` overhead over `docker run` (medians)",
            f"<= {TARGET_RUN_OVERHEAD_MS:.0f} ms",
            over,
            "ms",
            None if over is None else over <= TARGET_RUN_OVERHEAD_MS,
            note=d.run.note
            if pair is None
            else f"{pair.a.wall.median / 1000:.2f} s vs {pair.b.wall.median / 1000:.2f} s",
            digits=0,
        ),
    ]


def cleanup(ctx: Ctx) -> None:
    """Remove the images this run made (its image name carries the run's salt)."""
    refs = output([ctx.docker, "images", "--format", "{{.ID}}", ctx.image]).split()
    refs += ctx.made
    if refs:
        proc = subprocess.run(
            [ctx.docker, "rmi", "-f", *dict.fromkeys(refs)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            say(f"warning: could not remove every image of this run: {proc.stderr.strip()}")


def facts(ctx: Ctx) -> list[tuple[str, str]]:
    server = "{{.Server.Version}} (API {{.Server.APIVersion}})"
    return machine_facts(
        {
            "Docker engine": tool_version([ctx.docker, "version", "--format", server]),
            "Docker client": tool_version(
                [ctx.docker, "version", "--format", "{{.Client.Version}}"]
            ),
            "docker client of the naive build and `docker run`": f"{ctx.docker} ({ctx.client.how})",
            "base image": f"{ctx.base} ({size_mb(ctx, ctx.base):.0f} MB)",
            "load average (1/5/15 min) at the end": loadavg(),
        }
    )


def make_ctx(work: Path, mode: Mode, labship: Path, client: Client, base: str) -> Ctx:
    env = sandbox_env(work / "sandbox", pycache=work / "pycache")
    env["LABSHIP_BASE_IMAGE"] = base
    return Ctx(
        work, mode, Commands(work / "logs"), labship, client, base, secrets.token_hex(4), env
    )


def arguments() -> argparse.ArgumentParser:
    p = parser((__doc__ or "").splitlines()[0])
    p.add_argument("--runs", type=int, help="timed pairs in (d) (10; quick 3)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    mode = QUICK if args.quick else FULL
    mode = replace(mode, runs=args.runs or mode.runs)
    base = os.environ.get("LABSHIP_BASE_IMAGE") or DEFAULT_BASE
    client = buildkit_client()
    problem = engine_problem(client, base)
    if problem is not None or client is None:
        print(f"bench_docker: cannot run: {problem}", file=sys.stderr)
        return 69
    out = report_path(args, DOC)
    say(f"mode {mode.name}; base image {base}; report to {out}")
    with work_dir("labship-bench-docker-", parent=args.workdir, keep=args.keep) as work:
        ctx = make_ctx(work, mode, labship_cli(), client, base)
        try:
            data = measure(ctx)
            machine = facts(ctx)
        finally:
            if not args.keep:
                cleanup(ctx)
    return publish(
        args,
        out,
        kind="docker",
        title="Docker benchmark",
        machine=machine,
        results=results(data),
        d=data,
        targets={
            "rebuild_s": TARGET_REBUILD_S,
            "size_pct": TARGET_SIZE_PCT,
            "cold_ratio": TARGET_COLD_RATIO,
            "run_ms": TARGET_RUN_OVERHEAD_MS,
        },
    )


if __name__ == "__main__":
    entry(main, "bench_docker")
