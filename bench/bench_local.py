#!/usr/bin/env python3
"""Local-runtime benchmark: environment build, ``labship run`` overhead, store disk use.

    python bench/bench_local.py            # full: pandas + scikit-learn + JupyterLab (~100 pkgs)
    python bench/bench_local.py --quick    # smoke: six + iniconfig, a few seconds

Measures in one run and writes ``docs/benchmarks-local.md`` (also printed):

(a) cold build of the example project's DEV set (``pylock.dev.toml``), three ways, each
    with an empty cache for its tool: ``python -m venv`` + ``pip install --no-deps -r``
    of the same pinned set; ``uv venv`` + ``uv pip sync pylock.dev.toml``; labship's own
    ``Store.ensure(lock, dev=True)`` in a fresh subprocess (so labship's import time
    counts). Then the hidden cost: the same builds from a warm uv cache (a new store).
(b) ``labship run`` of a no-op job vs the environment's python running the same file
    (hyperfine when installed, else an own loop), plus ``-X importtime`` of labship.
(c) real disk (unique inodes, ``st_blocks * 512``, across the store and uv's cache)
    added by a second project with the same lock, and by one whose lock differs by one
    package (one added; one pin changed).

It does not use ``labship new``: it writes the example project's files itself, so it
measures only lock, environment and run. Everything lives in one temporary folder on
one file system (uv hard-links from its cache only within one), removed at the end
unless ``--keep``. Needs the repository's venv (``.venv``) with labship installed, and
network access to PyPI.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks-local.md"
INDEX = "https://pypi.org/simple"
# Where every Python started here keeps its bytecode (set in main): an installed labship
# has .pyc files; a checkout run with PYTHONDONTWRITEBYTECODE=1 recompiles on every start.
PYCACHE: Path | None = None

TARGET_PIP_RATIO = 10.0  # labship at least this many times faster than pip
TARGET_UV_RATIO = 1.3  # labship at most this many times slower than raw uv
TARGET_RUN_OVERHEAD_MS = 100.0
TARGET_SECOND_SAME = 0  # bytes
TARGET_ONE_DIFF_PCT = 10.0


@dataclass(frozen=True)
class Mode:
    name: str
    deps: tuple[str, ...]  # conda-style pins in environment.yml
    dev: tuple[str, ...]  # [lab] packages
    imports: tuple[str, ...]  # sanity check of each built environment
    add_one: str  # a package not in the set, for (c)
    pin_from: str
    pin_to: str


FULL = Mode(
    "full",
    deps=("pandas=2.2.3", "scikit-learn=1.5.2"),
    dev=("jupyterlab",),
    imports=("pandas", "sklearn", "jupyterlab"),
    add_one="iniconfig",
    pin_from="scikit-learn=1.5.2",
    pin_to="scikit-learn=1.5.1",
)
QUICK = Mode(
    "quick",
    deps=("six=1.17.0",),
    dev=("iniconfig",),
    imports=("six", "iniconfig"),
    add_one="idna",
    pin_from="six=1.17.0",
    pin_to="six=1.16.0",
)


# -- helpers -------------------------------------------------------------------------


class BenchError(RuntimeError):
    pass


@dataclass
class Ctx:
    work: Path
    mode: Mode
    labship_py: Path
    labship_bin: Path
    uv: str
    interp: str = ""
    rounds: int = 3
    cert: str | None = None
    logs: Path = field(init=False)
    step: int = 0

    def __post_init__(self) -> None:
        self.logs = self.work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)


def base_env() -> dict[str, str]:
    """The caller's environment without anything that would steer uv, pip or labship."""
    drop = ("VIRTUAL_ENV", "LABSHIP_STORE", "LABSHIP_RUNTIME", "PYTHONPATH", "CONDA_PREFIX")
    drop += ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    env = {
        k: v for k, v in os.environ.items() if k not in drop and not k.startswith(("UV_", "PIP_"))
    }
    if PYCACHE is not None:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    return env


def uv_env(cache: Path, store: Path | None = None) -> dict[str, str]:
    env = base_env()
    env["UV_CACHE_DIR"] = str(cache)
    if store is not None:
        env["LABSHIP_STORE"] = str(store)
    return env


def run(ctx: Ctx, argv: list[str], *, env: dict[str, str], cwd: Path | None = None) -> float:
    """Run to completion (output to a log file); wall-clock seconds. Fails loudly."""
    ctx.step += 1
    log = ctx.logs / f"{ctx.step:02d}-{Path(argv[0]).name}.log"
    started = time.perf_counter()
    with open(log, "w") as out:
        out.write("$ " + shlex.join(argv) + "\n")
        out.flush()
        proc = subprocess.run(
            argv, env=env, cwd=cwd or ctx.work, stdout=out, stderr=subprocess.STDOUT
        )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise BenchError(f"failed ({proc.returncode}): {shlex.join(argv)}\n{tail}")
    return elapsed


def output(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Usage:
    files: int  # bytes of regular files and symlinks
    dirs: int  # bytes of directories
    inodes: int

    @property
    def total(self) -> int:
        return self.files + self.dirs

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.files - other.files, self.dirs - other.dirs, self.inodes - other.inodes)


def disk_usage(*roots: Path) -> Usage:
    """Real disk: st_blocks * 512 over unique inodes (a hard link counts once)."""
    seen: set[tuple[int, int]] = set()
    files = dirs = 0
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames, None]:
                path = dirpath if name is None else os.path.join(dirpath, name)
                if name is not None and name in dirnames and not os.path.islink(path):
                    continue  # counted when walked into
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                if os.path.isdir(path) and not os.path.islink(path):
                    dirs += st.st_blocks * 512
                else:
                    files += st.st_blocks * 512
    return Usage(files, dirs, len(seen))


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def envs_in(store: Path) -> list[str]:
    folder = store / "envs"
    return (
        sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
        if folder.is_dir()
        else []
    )


def pyvenv_version(env: Path) -> str:
    for line in (env / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return "?"


# -- the example project ---------------------------------------------------------------


def write_project(root: Path, mode: Mode, deps: tuple[str, ...] | None = None) -> Path:
    """The example project's files, as `labship new` makes them (minus notebook and docs)."""
    (root / "docker").mkdir(parents=True, exist_ok=True)
    (root / "code").mkdir(exist_ok=True)
    lines = "\n".join(f"  - {d}" for d in ("python=3.11", *(deps or mode.deps)))
    (root / "docker" / "environment.yml").write_text(
        f"name: bench\nchannels:\n  - conda-forge\ndependencies:\n{lines}\n"
    )
    dev = ", ".join(json.dumps(p) for p in mode.dev)
    (root / "labship.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "bench"
            python = "3.11"
            spec = "docker/environment.yml"
            runtime = "local"

            [jobs.noop]
            command = "python code/noop.py"

            [lab]
            packages = [{dev}]
            """
        )
    )
    (root / "code" / "noop.py").write_text("pass\n")
    (root / ".env_dev").write_text("LABSHIP_BENCH=1\n")
    return root


def lock_packages(path: Path) -> list[dict[str, Any]]:
    return list(tomllib.loads(path.read_text())["packages"])


def export_requirements(pylock: Path, out: Path) -> int:
    """`name==version ; marker` for every package of the lock (pip evaluates the markers)."""
    lines = []
    for pkg in lock_packages(pylock):
        line = f"{pkg['name']}=={pkg['version']}"
        if pkg.get("marker"):
            line += f" ; {pkg['marker']}"
        lines.append(line)
    out.write_text("\n".join(lines) + "\n")
    return len(lines)


def lock_diff(a: Path, b: Path) -> list[str]:
    def versions(p: Path) -> set[tuple[str, str]]:
        return {(x["name"], x["version"]) for x in lock_packages(p)}

    va, vb = versions(a), versions(b)
    gone = {n for n, _ in va - vb}
    new = {n: v for n, v in vb - va}
    out = [
        f"{n} {dict(va)[n]} -> {v}" if n in gone else f"+{n} {v}" for n, v in sorted(new.items())
    ]
    out += [f"-{n}" for n in sorted(gone - set(new))]
    return out


# -- (a) cold and warm builds ----------------------------------------------------------

ENSURE = """\
import sys
from pathlib import Path
from labship.console import Console
from labship.lock import read_lock
from labship.project import load_project
from labship.store import Store
project = load_project(Path(sys.argv[1]))
store = Store(Path(sys.argv[2]))
env, built = store.ensure(read_lock(project), dev=True, console=Console(quiet=True))
print(env, built)
"""

PREPARE = """\
import sys
from pathlib import Path
from labship.console import Console
from labship.lock import read_lock
from labship.project import load_project
from labship.runtimes.local import LocalRuntime
from labship.store import Store
project = load_project(Path(sys.argv[1]))
prepared = LocalRuntime(Store(Path(sys.argv[2]))).prepare(
    project, read_lock(project), dev=True, console=Console(quiet=True))
print(prepared.ref, prepared.created)
"""


def check_env(ctx: Ctx, env: Path) -> None:
    code = "; ".join(f"import {m}" for m in ctx.mode.imports)
    output([str(env / "bin" / "python"), "-c", code], env=base_env())


def pip_build(ctx: Ctx, project: Path, venv: Path) -> dict[str, float]:
    req = ctx.work / "requirements.dev.txt"
    export_requirements(project / "pylock.dev.toml", req)
    env = base_env()  # no PIP_* at all (find-links, config), and no config file either
    env["PIP_CONFIG_FILE"] = os.devnull
    t_venv = run(ctx, [ctx.interp, "-m", "venv", str(venv)], env=env)
    argv = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir"]
    argv += ["--disable-pip-version-check", "--no-deps", "--index-url", INDEX]
    argv += ["--cert", ctx.cert] if ctx.cert else []
    argv += ["-r", str(req)]
    t_install = run(ctx, argv, env=env)
    log = (ctx.logs / f"{ctx.step:02d}-python.log").read_text(errors="replace")
    if "/opt/" in log or "Looking in links" in log:
        raise BenchError("pip still used a local index or find-links; see " + str(ctx.logs))
    return {"venv": t_venv, "install": t_install, "total": t_venv + t_install}


def uv_build(ctx: Ctx, project: Path, venv: Path, cache: Path) -> dict[str, float]:
    env = uv_env(cache)
    # The same request labship makes (`--python 3.11`), so both pay uv's interpreter search.
    t_venv = run(ctx, [ctx.uv, "venv", "--python", "3.11", str(venv)], env=env)
    sync = [ctx.uv, "pip", "sync", "--python", str(venv / "bin" / "python")]
    t_sync = run(ctx, [*sync, str(project / "pylock.dev.toml")], env=env)
    return {"venv": t_venv, "install": t_sync, "total": t_venv + t_sync}


def labship_build(ctx: Ctx, project: Path, store: Path, cache: Path) -> tuple[float, Path]:
    env = uv_env(cache, store)
    script = ctx.work / "ensure.py"
    script.write_text(ENSURE)
    t = run(ctx, [str(ctx.labship_py), str(script), str(project), str(store)], env=env)
    found = envs_in(store)
    if len(found) != 1:
        raise BenchError(f"expected one environment in {store}, found {found}")
    return t, store / "envs" / found[0]


# -- (b) run overhead ------------------------------------------------------------------


def stats_ms(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return {
        "median": statistics.median(ordered) * 1000,
        "p90": p90 * 1000,
        "mean": statistics.fmean(ordered) * 1000,
        "min": ordered[0] * 1000,
        "n": len(ordered),
    }


def time_commands(
    ctx: Ctx,
    commands: dict[str, list[str]],
    *,
    env: dict[str, str],
    cwd: Path,
    warmup: int,
    runs: int,
) -> tuple[dict[str, dict[str, float]], str]:
    hyperfine = shutil.which("hyperfine")
    if hyperfine:
        out = ctx.work / "hyperfine.json"
        argv = [hyperfine, "-N", "--warmup", str(warmup), "--runs", str(runs)]
        argv += ["--export-json", str(out), "--style", "none"]
        for name, cmd in commands.items():
            argv += ["-n", name, shlex.join(cmd)]
        run(ctx, argv, env=env, cwd=cwd)
        results = json.loads(out.read_text())["results"]
        version = output([hyperfine, "--version"])
        return {r["command"]: stats_ms(r["times"]) for r in results}, f"{version} (-N, no shell)"
    timings: dict[str, dict[str, float]] = {}
    for name, cmd in commands.items():
        times = []
        for i in range(warmup + runs):
            started = time.perf_counter()
            subprocess.run(
                cmd,
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            if i >= warmup:
                times.append(time.perf_counter() - started)
        timings[name] = stats_ms(times)
    return timings, "own loop (subprocess.run, perf_counter)"


def interleaved(
    commands: dict[str, list[str]], *, env: dict[str, str], cwd: Path, warmup: int, runs: int
) -> dict[str, list[float]]:
    """Round-robin: each round runs every command once, so load drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(warmup + runs):
        for name, cmd in commands.items():
            started = time.perf_counter()
            subprocess.run(
                cmd,
                env=env,
                cwd=cwd,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            if i >= warmup:
                times[name].append(time.perf_counter() - started)
    return times


def loadavg() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def importtime(argv: list[str], *, env: dict[str, str], cwd: Path) -> list[tuple[str, int, int]]:
    """(module, self us, cumulative us) from ``-X importtime``."""
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        rows.append((name, int(self_us), int(cum)))
    return rows


def group_imports(rows: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Self time summed per top-level package; (package, us, modules)."""
    groups: dict[str, list[int]] = {}
    for name, self_us, _ in rows:
        top = name.split(".")[0]
        g = groups.setdefault(top, [0, 0])
        g[0] += self_us
        g[1] += 1
    return sorted(((k, v[0], v[1]) for k, v in groups.items()), key=lambda x: -x[1])


# -- main --------------------------------------------------------------------------------


NO_PYC = "labship run noop, no bytecode cache (PYTHONDONTWRITEBYTECODE=1 as in the calling shell)"


def machine_info(ctx: Ctx) -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "date (UTC)": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "nproc": str(os.cpu_count()),
        "CPU": cpu,
        "memory": mem,
        "OS": f"{platform.system()} {platform.release()}",
        "Python of the environments": output([ctx.interp, "-VV"]).replace("\n", " "),
        "Python running labship": output([str(ctx.labship_py), "-V"]),
        "uv": output([ctx.uv, "--version"]),
        "labship": output([str(ctx.labship_bin), "--version"]),
        "pip (in the pip venv)": output(
            [ctx.interp, "-c", "import ensurepip; print(ensurepip.version())"]
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a tiny set (six + iniconfig): a smoke run"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--out", type=Path, default=DOC, help=f"default: {DOC.relative_to(REPO)}")
    parser.add_argument(
        "--workdir", type=Path, help="parent of the temporary folder (default: TMPDIR)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="cold builds by raw uv and by labship, alternating (default 3)",
    )
    parser.add_argument(
        "--runs", type=int, help="timed runs per command in (b) (default 30, quick 10)"
    )
    args = parser.parse_args()
    mode = QUICK if args.quick else FULL

    venv = REPO / ".venv"
    labship_py, labship_bin = venv / "bin" / "python", venv / "bin" / "labship"
    if not labship_bin.exists():
        raise SystemExit(f"{labship_bin} is missing: install labship into {venv} first")
    uv = output([str(labship_py), "-c", "from labship.tools.uv import uv_bin; print(uv_bin())"])
    work = Path(tempfile.mkdtemp(prefix="labship-bench-", dir=args.workdir))
    global PYCACHE
    PYCACHE = work / "pycache"
    ctx = Ctx(
        work=work,
        mode=mode,
        labship_py=labship_py,
        labship_bin=labship_bin,
        uv=uv,
        rounds=max(1, args.rounds),
    )
    ctx.cert = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    ctx.interp = output([uv, "python", "find", "--system", "3.11"], env=base_env(), cwd=work)
    say(f"mode {mode.name}; working in {work}")
    try:
        report = bench(ctx, args)
    finally:
        if args.keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)
    say(f"wrote {args.out}")
    return 0


def bench(ctx: Ctx, args: argparse.Namespace) -> str:
    mode, work = ctx.mode, ctx.work
    info = machine_info(ctx)
    project = write_project(work / "proj", mode)

    say("labship lock (its own uv cache, not measured against the builds)")
    t_lock = run(
        ctx, [str(ctx.labship_bin), "-C", str(project), "lock"], env=uv_env(work / "cache-lock")
    )
    dev_pkgs = lock_packages(project / "pylock.dev.toml")
    n_dev = len({p["name"] for p in dev_pkgs})
    n_prod = len({p["name"] for p in lock_packages(project / "pylock.toml")})

    # (a) cold builds, in this order: pip, raw uv, labship.
    say(f"(a) pip cold: python -m venv + pip install of {n_dev} packages")
    pip = pip_build(ctx, project, work / "venv-pip")
    check_env(ctx, work / "venv-pip")
    say(f"    {pip['total']:.1f}s")
    # raw uv and labship: N rounds, alternating which goes first (network noise).
    store, cache = work / "store", work / "cache-labship"
    uv_runs: list[dict[str, float]] = []
    ls_runs: list[float] = []
    env_dev = Path()
    for i in range(ctx.rounds):
        tag = "" if i == 0 else f"-r{i}"
        venv_uv, cache_uv = work / f"venv-uv{tag}", work / f"cache-uv{tag}"
        store_i, cache_i = work / f"store{tag}", work / f"cache-labship{tag}"
        for who in ("uv", "labship") if i % 2 == 0 else ("labship", "uv"):
            say(f"(a) {who} cold, round {i + 1}/{ctx.rounds}")
            if who == "uv":  # uv venv + uv pip sync pylock.dev.toml
                uv_runs.append(uv_build(ctx, project, venv_uv, cache_uv))
                check_env(ctx, venv_uv)
                say(f"    {uv_runs[-1]['total']:.1f}s")
            else:  # Store.ensure(dev=True) in a new process
                t, env_i = labship_build(ctx, project, store_i, cache_i)
                check_env(ctx, env_i)
                ls_runs.append(t)
                env_dev = env_i if i == 0 else env_dev
                say(f"    {t:.1f}s")
        if i > 0:  # only the first round's trees are used further on
            for path in (venv_uv, cache_uv, store_i, cache_i):
                shutil.rmtree(path, ignore_errors=True)
    uvc = {k: statistics.median(r[k] for r in uv_runs) for k in ("venv", "install", "total")}
    t_ls = statistics.median(ls_runs)
    versions = {
        "pip": pyvenv_version(work / "venv-pip"),
        "uv": pyvenv_version(work / "venv-uv"),
        "labship": pyvenv_version(env_dev),
    }
    env_size = disk_usage(env_dev)
    cold_added = disk_usage(store, cache)

    say("(a) warm: labship into a new store from the warm cache; raw uv likewise")
    uvw_runs: list[dict[str, float]] = []
    lsw_runs: list[float] = []
    for i in range(ctx.rounds):
        a, b = work / f"store-warm{i}", work / f"venv-uv-warm{i}"
        if i % 2 == 0:
            uvw_runs.append(uv_build(ctx, project, b, cache))
            lsw_runs.append(labship_build(ctx, project, a, cache)[0])
        else:
            lsw_runs.append(labship_build(ctx, project, a, cache)[0])
            uvw_runs.append(uv_build(ctx, project, b, cache))
        shutil.rmtree(a, ignore_errors=True)
        shutil.rmtree(b, ignore_errors=True)
    uvw = {k: statistics.median(r[k] for r in uvw_runs) for k in ("venv", "install", "total")}
    t_ls_warm = statistics.median(lsw_runs)
    say("(a) uv's interpreter search: uv venv --python 3.11 vs --python /path/to/python")
    discovery = {}
    for label, request in (("3.11", "3.11"), ("path", ctx.interp)):
        times = []
        for i in range(12):
            target = work / f"venv-probe-{label}-{i}"
            argv = [ctx.uv, "venv", "-q", "--python", request, str(target)]
            started = time.perf_counter()
            subprocess.run(argv, env=uv_env(cache), check=True, capture_output=True)
            times.append(time.perf_counter() - started)
            shutil.rmtree(target, ignore_errors=True)
        discovery[label] = statistics.median(times[2:]) * 1000

    # (c) disk added by further projects (store + labship's uv cache).
    say("(c) a second project with the same lock")
    prepare = work / "prepare.py"
    prepare.write_text(PREPARE)
    penv = uv_env(cache, store)
    second = work / "proj-same"
    shutil.copytree(project, second)
    envs_before = envs_in(store)
    before = disk_usage(store / "envs", cache)
    before_all = disk_usage(store, cache)
    t_same = run(ctx, [str(ctx.labship_py), str(prepare), str(second), str(store)], env=penv)
    same_added = disk_usage(store / "envs", cache) - before  # environments + uv cache
    same_added_all = disk_usage(store, cache) - before_all  # + the project registry entry
    envs_after_same = envs_in(store)

    variants = []
    for label, deps in (
        (f"one package added ({mode.add_one})", (*mode.deps, mode.add_one)),
        (
            f"one pin changed ({mode.pin_from} → {mode.pin_to.split('=')[1]})",
            tuple(mode.pin_to if d == mode.pin_from else d for d in mode.deps),
        ),
    ):
        say(f"(c) a project with {label}")
        other = write_project(work / f"proj-{len(variants)}", mode, deps)
        b0 = disk_usage(store, cache)
        t_l = run(ctx, [str(ctx.labship_bin), "-C", str(other), "lock"], env=penv)
        b1, c1 = disk_usage(store, cache), disk_usage(cache)
        t_b = run(ctx, [str(ctx.labship_py), str(prepare), str(other), str(store)], env=penv)
        b2, c2 = disk_usage(store, cache), disk_usage(cache)
        diff = lock_diff(project / "pylock.dev.toml", other / "pylock.dev.toml")
        variants.append(
            {
                "label": label,
                "lock_added": b1 - b0,
                "build_added": b2 - b1,
                "cache_added": c2 - c1,  # new packages' files in uv's cache
                "diff": diff,
                "t_lock": t_l,
                "t_build": t_b,
            }
        )
    envs_final = envs_in(store)

    # (b) run overhead, the prod environment built first (from the warm cache).
    say("(b) labship run: first run builds the prod environment")
    t_first_run = run(
        ctx,
        [str(ctx.labship_bin), "-C", str(project), "run", "noop", "--runtime", "local"],
        env=penv,
    )
    prod_env = output(
        [
            str(ctx.labship_py),
            "-c",
            "import sys; from pathlib import Path; from labship.lock import read_lock; "
            "from labship.project import load_project; from labship.store import Store; "
            "print(Store(Path(sys.argv[2])).env_path(read_lock(load_project(Path(sys.argv[1]))).prod_hash))",
            str(project),
            str(store),
        ],
        env=penv,
    )
    runs = args.runs or (10 if mode is QUICK else 30)
    warmup = 3 if mode is QUICK else 5
    commands = {
        "python code/noop.py (venv's python)": [f"{prod_env}/bin/python", "code/noop.py"],
        "labship --version": [str(ctx.labship_bin), "--version"],
        "labship run noop": [str(ctx.labship_bin), "run", "noop", "--runtime", "local"],
    }
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # How this checkout behaves in a shell that never writes bytecode: labship's
        # sources (an editable install without __pycache__) are compiled on every start.
        no_pyc = ["env", "-u", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE=1"]
        commands[NO_PYC] = [*no_pyc, *commands["labship run noop"]]
    say(f"(b) timing {len(commands)} commands, {warmup} warmup + {runs} runs each")
    load_before = loadavg()
    timings, timer = time_commands(ctx, commands, env=penv, cwd=project, warmup=warmup, runs=runs)
    say("(b) interleaved check")
    pair = {k: commands[k] for k in ("python code/noop.py (venv's python)", "labship run noop")}
    rounds = interleaved(pair, env=penv, cwd=project, warmup=2, runs=runs)
    diffs = [b - a for a, b in zip(*rounds.values(), strict=True)]
    paired = stats_ms(diffs)
    load_after = loadavg()
    direct, ls_run = timings["python code/noop.py (venv's python)"], timings["labship run noop"]
    overhead = ls_run["median"] - direct["median"]
    overhead_p90 = ls_run["p90"] - direct["p90"]

    it_cli = importtime(
        [str(ctx.labship_py), "-X", "importtime", "-c", "import labship.cli"], env=penv, cwd=project
    )
    cli_cum = next(cum for name, _, cum in it_cli if name == "labship.cli")
    cli_labship_self = sum(s for name, s, _ in it_cli if name.split(".")[0] == "labship")
    it_run = importtime(
        [
            str(ctx.labship_py),
            "-X",
            "importtime",
            "-m",
            "labship",
            "run",
            "noop",
            "--runtime",
            "local",
        ],
        env=penv,
        cwd=project,
    )
    run_total = sum(s for _, s, _ in it_run)
    run_labship_self = sum(s for name, s, _ in it_run if name.split(".")[0] == "labship")

    # -- the report ------------------------------------------------------------------------
    pip_ratio = pip["total"] / t_ls
    uv_ratio = t_ls / uvc["total"]

    def ok(good: bool) -> str:
        return "**met**" if good else "**missed**"

    same_ok = same_added.total <= TARGET_SECOND_SAME and envs_after_same == envs_before
    lines: list[str] = []
    w = lines.append
    title = "Local runtime benchmark" + (
        " (QUICK smoke run: not representative)" if mode is QUICK else ""
    )
    w(f"# {title}\n")
    w(
        "Generated by `python bench/bench_local.py"
        + (" --quick" if mode is QUICK else "")
        + "` (see `bench/README.md`). One run: network times vary from run to run; "
        "re-run before drawing fine conclusions.\n"
    )
    w("## Machine\n")
    w("| | |\n|---|---|")
    for k, v in info.items():
        w(f"| {k} | {v} |")
    w("")
    w("## Summary\n")
    w("| target | measured | |\n|---|---|---|")
    w(
        f"| cold dev build: labship >= {TARGET_PIP_RATIO:.0f}x faster than pip "
        f"| {pip_ratio:.1f}x | {ok(pip_ratio >= TARGET_PIP_RATIO)} |"
    )
    w(
        f"| cold dev build: labship within {TARGET_UV_RATIO}x of raw uv "
        f"| {uv_ratio:.2f}x | {ok(uv_ratio <= TARGET_UV_RATIO)} |"
    )
    w(
        f"| `labship run` overhead <= {TARGET_RUN_OVERHEAD_MS:.0f} ms (median difference) "
        f"| {overhead:.0f} ms | {ok(overhead <= TARGET_RUN_OVERHEAD_MS)} |"
    )
    w(
        "| disk added by a 2nd project, same lock: 0 (environments + uv cache) "
        f"| {same_added.total:,} B; envs {len(envs_before)} -> {len(envs_after_same)} "
        f"| {ok(same_ok)} |"
    )
    for v in variants:
        pct = 100 * v["build_added"].total / env_size.total
        w(
            f"| disk added by a project with {v['label']}: "
            f"<= {TARGET_ONE_DIFF_PCT:.0f}% of the first env "
            f"| {pct:.1f}% ({mb(v['build_added'].total)}) | {ok(pct <= TARGET_ONE_DIFF_PCT)} |"
        )
    w("")

    w("## (a) Building the dev environment\n")
    w(
        f"The example project (`environment.yml`: python=3.11, {', '.join(mode.deps)}; "
        f"`[lab] packages = {list(mode.dev)}`), locked by `labship lock` in {t_lock:.1f}s: "
        f"`pylock.toml` {n_prod} packages, `pylock.dev.toml` {n_dev} packages. "
        "Each build starts from an empty cache for its tool and installs exactly the "
        "pinned set of `pylock.dev.toml` from PyPI. Order: pip once, then "
        f"{ctx.rounds} round(s) of raw uv and labship, alternating which goes first "
        "(uv, labship | labship, uv | ...); the uv and labship rows show the median of the "
        "rounds.\n"
    )
    w("| method | create venv | install | total | ratio |\n|---|---:|---:|---:|---:|")
    w(
        "| `python -m venv` + `pip install --no-deps -r requirements.txt` "
        f"(cold: `--no-cache-dir`) | {pip['venv']:.2f}s | {pip['install']:.2f}s "
        f"| **{pip['total']:.2f}s** | pip/labship = **{pip_ratio:.1f}x** |"
    )
    w(
        "| `uv venv` + `uv pip sync pylock.dev.toml` (cold: new `UV_CACHE_DIR`) "
        f"| {uvc['venv']:.2f}s | {uvc['install']:.2f}s | **{uvc['total']:.2f}s** | |"
    )
    w(
        "| labship `Store.ensure(lock, dev=True)`, new process, new `LABSHIP_STORE` "
        f"+ `UV_CACHE_DIR` | | | **{t_ls:.2f}s** | labship/uv = **{uv_ratio:.2f}x** |"
    )
    w(
        "| *warm cache* (hidden cost): raw uv into a new venv "
        f"| {uvw['venv']:.2f}s | {uvw['install']:.2f}s | {uvw['total']:.2f}s | |"
    )
    w(
        "| *warm cache* (hidden cost): labship into a new store (env not built yet) "
        f"| | | {t_ls_warm:.2f}s | labship/uv = {t_ls_warm / uvw['total']:.2f}x |"
    )
    w("")

    def secs(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    w(
        "Every round (seconds, in order): "
        f"raw uv cold {secs([r['total'] for r in uv_runs])}; labship cold {secs(ls_runs)}; "
        f"raw uv warm {secs([r['total'] for r in uvw_runs])}; labship warm {secs(lsw_runs)}. "
        "labship's fixed cost over raw uv (warm medians): "
        f"{t_ls_warm - uvw['total']:.2f}s.\n"
    )
    w(
        f"- Interpreters: all three environments from `{ctx.interp}` (pyvenv.cfg: pip "
        f"{versions['pip']}, uv {versions['uv']}, labship {versions['labship']}).\n"
        "- labship's time is the wall clock of a fresh `python` process that imports "
        "labship, reads the lock and calls `Store.ensure` (which runs `uv venv --relocatable` "
        "then `uv pip sync` into a temporary folder and renames it into place); so it "
        "includes labship's import time and its two uv calls.\n"
        "- uv's interpreter search, paid by labship and by the raw uv row alike: "
        f"`uv venv --python 3.11` takes {discovery['3.11']:.0f} ms here, `uv venv --python "
        f"{ctx.interp}` {discovery['path']:.0f} ms (median of 10, warm cache); the "
        "difference is uv looking for a 3.11 on PATH (here through pyenv shims).\n"
        "- pip ran without any configuration (`PIP_CONFIG_FILE=/dev/null`, no `PIP_*` "
        "variables: no local find-links or extra index), `--index-url "
        "https://pypi.org/simple`, `--cert` kept for the TLS proxy, `--no-deps` on "
        "`name==version ; marker` lines exported from `pylock.dev.toml`. pip queries the "
        "index for each package, uv reads the wheel URLs straight from the lock; pip also "
        "byte-compiles what it installs (uv does not by default). pip's time includes "
        "`python -m venv` (ensurepip).\n"
        "- Size of the built dev environment (real disk, unique inodes): "
        f"{mb(env_size.total)} ({mb(env_size.dirs)} of it directories, "
        f"{env_size.inodes:,} inodes). Store + uv cache after the cold labship build: "
        f"{mb(cold_added.total)}.\n"
    )

    w("## (b) `labship run` overhead\n")
    w(
        "A job whose command is `python code/noop.py` (`pass`), its prod environment "
        "already built (the first `labship run`, which built it from the warm cache, took "
        f"{t_first_run:.2f}s). Timer: {timer}; {warmup} warmup runs, {runs} timed runs per "
        "command, cwd = the project.\n"
    )
    w("| command | median | p90 | mean | min |\n|---|---:|---:|---:|---:|")
    for name, st in timings.items():
        label = f"*{name}*" if name == NO_PYC else f"`{name}`"
        w(
            f"| {label} | {st['median']:.1f} ms | {st['p90']:.1f} ms "
            f"| {st['mean']:.1f} ms | {st['min']:.1f} ms |"
        )
    w("")
    w(
        "All commands ran with a bytecode cache (`PYTHONPYCACHEPREFIX` in the temporary "
        "folder, filled by the warmup runs), as an installed labship has; a row marked "
        "*no bytecode cache* shows what a shell with `PYTHONDONTWRITEBYTECODE=1` pays for "
        "this checkout (including ~1 ms for `env`).\n"
    )
    w(
        f"Load average (1/5/15 min) before and after (b): {load_before} -> {load_after} on "
        f"{os.cpu_count()} CPUs (other work on the machine makes single runs noisy). "
        f"Cross-check with an interleaved loop ({runs} rounds, each running the venv's "
        "python then `labship run`): per-round difference median "
        f"{paired['median']:.0f} ms, p90 {paired['p90']:.0f} ms, min {paired['min']:.0f} ms.\n"
    )
    w(
        f"Overhead of `labship run` over the activated venv: **{overhead:.0f} ms** median "
        f"({overhead_p90:.0f} ms at p90); target <= {TARGET_RUN_OVERHEAD_MS:.0f} ms: "
        f"{ok(overhead <= TARGET_RUN_OVERHEAD_MS)}. Of it, interpreter start + "
        "`import labship.cli` + argparse (`labship --version`) is "
        f"{timings['labship --version']['median']:.0f} ms.\n"
    )
    w("Import cost (`python -X importtime`, one run, noisy):\n")
    w(
        f"- `import labship.cli`: {cli_cum / 1000:.1f} ms cumulative "
        f"({cli_labship_self / 1000:.1f} ms in labship's own modules).\n"
        f"- everything `labship run noop` imports: {run_total / 1000:.1f} ms "
        f"({run_labship_self / 1000:.1f} ms in labship's own modules, {len(it_run)} "
        "modules). By top-level package (self time):\n"
    )
    w("| package | self time | modules |\n|---|---:|---:|")
    for pkg, us, count in group_imports(it_run)[:12]:
        w(f"| `{pkg}` | {us / 1000:.1f} ms | {count} |")
    w("")
    w("Slowest single modules imported by `labship run` (self time):\n")
    w("| module | self | cumulative |\n|---|---:|---:|")
    for name, self_us, cum_us in sorted(it_run, key=lambda r: -r[1])[:10]:
        w(f"| `{name}` | {self_us / 1000:.1f} ms | {cum_us / 1000:.1f} ms |")
    w("")

    w("## (c) Disk added by more projects\n")
    w(
        "Real disk use: the sum of `st_blocks x 512` over unique inodes (a file hard-linked "
        "from uv's cache into an environment counts once) across the store and labship's "
        "uv cache, before and after; directories included (a new environment's directory "
        "tree is real disk even when every file in it is a hard link). Percentages are of "
        f"the first dev environment's own size ({mb(env_size.total)}).\n"
    )
    w(
        "| second project | lock: added | build: added (target) | of which new packages "
        "in uv's cache | of which the env's own tree | envs | lock differs by |"
    )
    w("|---|---:|---:|---:|---:|---:|---|")
    pct = 100 * same_added.total / env_size.total
    w(
        f"| same lock (copied project) | - | {same_added.total:,} B ({pct:.2f}%) | - | - "
        f"| {len(envs_before)} -> {len(envs_after_same)} | nothing |"
    )
    for v in variants:
        b, la, ca = v["build_added"], v["lock_added"], v["cache_added"]
        own = b - ca

        def cell(u: Usage) -> str:
            return f"{mb(u.total)} ({100 * u.total / env_size.total:.1f}%)"

        w(
            f"| {v['label']} | {mb(la.total)} | {cell(b)} | {cell(ca)} "
            f"| {cell(own)}: dirs {mb(own.dirs)}, files {mb(own.files)} | +1 "
            f"| {'; '.join(v['diff']) or 'nothing'} |"
        )
    w("")
    w(
        f"Environments in the store at the end of (c): {len(envs_final)}. The same-lock "
        f"project took {t_same:.2f}s and added no environment (it is shared); the store only "
        f"records the project (`projects/<key>.json`: {same_added_all.total:,} B with its "
        'folder, not counted above). "lock: added" is what `labship lock` of that project '
        "put into uv's cache (index pages the build-only cache did not have yet). \"build: "
        'added" is the new environment plus any new wheel unpacked into uv\'s cache; "the '
        "env's own tree\" is what the environment holds beyond hard links into the cache: "
        "its directories and per-environment files (dist-info RECORD/INSTALLER, scripts, "
        "pyvenv.cfg), the fixed cost of a second environment.\n"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench_local: {exc}", file=sys.stderr)
        sys.exit(1)
