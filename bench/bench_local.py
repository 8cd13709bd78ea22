"""Local-runtime benchmark: environment builds, start-up and ``labship run`` overhead,
store disk use. Writes docs/benchmarks-local.md (``--quick``: a temporary file).

    python -m bench.bench_local            # full: pandas + scikit-learn + JupyterLab
    python -m bench.bench_local --quick    # smoke: six + iniconfig, every code path

(a) cold build of the example project's dev set (``pylock.dev.toml``), each from an empty
    cache for its tool: ``python -m venv`` + ``pip install --no-deps -r``; ``uv venv`` +
    ``uv pip sync``; labship's ``Store.ensure(lock, dev=True)`` in a new process. Then
    the same uv and labship builds from a warm cache, and uv's interpreter search.
(b) ``labship run`` of a no-op job against the environment's own python running the same
    file; start-up of ``labship --version`` against its bare interpreter; import times.
(c) real disk added by a second project with the same lock, and by projects whose lock
    differs by one package (one added; one pin changed).

Every measurement is a function returning data; ``main`` renders them with the one
report template (bench/report.md.j2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from bench._common import (
    BenchError,
    Command,
    Commands,
    Paired,
    ProjectFiles,
    Result,
    Usage,
    clean_env,
    disk_usage,
    entry,
    labship_cli,
    labship_python,
    labship_uv,
    loadavg,
    lock_packages,
    machine_facts,
    mb,
    median,
    output,
    paired,
    parser,
    probe,
    publish,
    report_path,
    sandbox_env,
    say,
    time_process,
    tool_version,
    work_dir,
    write_project,
)

DOC = "benchmarks-local.md"
INDEX = "https://pypi.org/simple"

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
    rounds: int  # cold (and warm) builds by raw uv and by labship, alternating
    runs: int  # timed pairs in (b)
    warmup: int  # untimed pairs before them
    search_runs: int  # uv venv runs per interpreter request (2 more, untimed, first)


FULL = Mode(
    "full",
    deps=("pandas=2.2.3", "scikit-learn=1.5.2"),
    dev=("jupyterlab",),
    imports=("pandas", "sklearn", "jupyterlab"),
    add_one="iniconfig",
    pin_from="scikit-learn=1.5.2",
    pin_to="scikit-learn=1.5.1",
    rounds=3,
    runs=30,
    warmup=5,
    search_runs=10,
)
QUICK = Mode(
    "quick",
    deps=("six=1.17.0",),
    dev=("iniconfig",),
    imports=("six", "iniconfig"),
    add_one="idna",
    pin_from="six=1.17.0",
    pin_to="six=1.16.0",
    rounds=2,
    runs=5,
    warmup=2,
    search_runs=3,
)


@dataclass(frozen=True)
class Ctx:
    work: Path
    mode: Mode
    cmds: Commands
    labship: Path  # the labship command
    uv: str  # the uv labship runs
    interp: str  # the Python 3.11 every environment is made from
    cert: str | None  # CA bundle for pip (TLS proxies)
    pycache: Path  # PYTHONPYCACHEPREFIX of every Python started

    def uv_env(self, cache: Path) -> dict[str, str]:
        return clean_env(pycache=self.pycache, UV_CACHE_DIR=str(cache))

    def labship_env(self, store: Path, cache: Path) -> dict[str, str]:
        return sandbox_env(self.work / "sandbox", store=store, uv_cache=cache, pycache=self.pycache)


# -- the example project ---------------------------------------------------------------


def example(mode: Mode, deps: tuple[str, ...] | None = None) -> ProjectFiles:
    """The example project of `labship new` (environment.yml, [lab], a no-op job)."""
    lines = "".join(f"  - {d}\n" for d in ("python=3.11", *(deps or mode.deps)))
    return ProjectFiles(
        name="bench",
        spec_name="docker/environment.yml",
        spec_text=f"name: bench\nchannels:\n  - conda-forge\ndependencies:\n{lines}",
        dev=mode.dev,
        jobs={"noop": "python code/noop.py", "where": "python code/where.py"},
        files={
            "code/noop.py": "pass\n",
            "code/where.py": "import sys\nprint(sys.prefix)\n",
            ".env_dev": "LABSHIP_BENCH=1\n",
        },
        runtime="local",
    )


@dataclass(frozen=True)
class LockInfo:
    seconds: float
    n_prod: int
    n_dev: int


def lock(ctx: Ctx, project: Path) -> LockInfo:
    """`labship lock`, with its own caches (not counted against the builds)."""
    env = sandbox_env(ctx.work / "lock-sandbox", pycache=ctx.pycache)
    t = ctx.cmds.run([str(ctx.labship), "-C", str(project), "lock"], env=env, cwd=ctx.work)
    return LockInfo(
        t,
        len({p["name"] for p in lock_packages(project / "pylock.toml")}),
        len({p["name"] for p in lock_packages(project / "pylock.dev.toml")}),
    )


def export_requirements(pylock: Path, out: Path) -> None:
    """`name==version ; marker` for every package of the lock (pip evaluates the markers)."""
    lines = []
    for pkg in lock_packages(pylock):
        marker = f" ; {pkg['marker']}" if pkg.get("marker") else ""
        lines.append(f"{pkg['name']}=={pkg['version']}{marker}\n")
    out.write_text("".join(lines))


def lock_diff(a: Path, b: Path) -> list[str]:
    va = {(x["name"], x["version"]) for x in lock_packages(a)}
    vb = {(x["name"], x["version"]) for x in lock_packages(b)}
    gone = {n for n, _ in va - vb}
    new = dict(vb - va)
    old = dict(va)
    out = [f"{n} {old[n]} -> {v}" if n in gone else f"+{n} {v}" for n, v in sorted(new.items())]
    return out + [f"-{n}" for n in sorted(gone - set(new))]


def pyvenv_version(env: Path) -> str:
    for line in (env / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return "?"


def envs_in(store: Path) -> list[str]:
    folder = store / "envs"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


# -- (a) cold and warm builds ----------------------------------------------------------


@dataclass(frozen=True)
class Build:
    venv: float  # seconds to create the venv
    install: float  # seconds to install the set

    @property
    def total(self) -> float:
        return self.venv + self.install


def check_env(ctx: Ctx, env: Path) -> None:
    """Every built environment imports the set's top packages."""
    code = "; ".join(f"import {m}" for m in ctx.mode.imports)
    output([str(env / "bin" / "python"), "-c", code], env=clean_env())


def pip_cold(ctx: Ctx, project: Path) -> Build:
    """python -m venv + pip install --no-deps of the lock's pins, no cache, no config."""
    venv, req = ctx.work / "venv-pip", ctx.work / "requirements.dev.txt"
    export_requirements(project / "pylock.dev.toml", req)
    env = clean_env(pycache=ctx.pycache, PIP_CONFIG_FILE=os.devnull)  # no PIP_* at all
    t_venv = ctx.cmds.run([ctx.interp, "-m", "venv", str(venv)], env=env, cwd=ctx.work)
    argv = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-cache-dir"]
    argv += ["--disable-pip-version-check", "--no-deps", "--index-url", INDEX]
    argv += ["--cert", ctx.cert] if ctx.cert else []
    t_install = ctx.cmds.run([*argv, "-r", str(req)], env=env, cwd=ctx.work)
    log = ctx.cmds.log_text()
    if "/opt/" in log or "Looking in links" in log:
        raise BenchError(f"pip still used a local index or find-links; see {ctx.cmds.logs}")
    check_env(ctx, venv)
    return Build(t_venv, t_install)


def uv_build(ctx: Ctx, project: Path, venv: Path, cache: Path) -> Build:
    """uv venv --python 3.11 (the request labship makes) + uv pip sync pylock.dev.toml."""
    env = ctx.uv_env(cache)
    t_venv = ctx.cmds.run([ctx.uv, "venv", "--python", "3.11", str(venv)], env=env, cwd=ctx.work)
    sync = [ctx.uv, "pip", "sync", "--python", str(venv / "bin" / "python")]
    t_sync = ctx.cmds.run([*sync, str(project / "pylock.dev.toml")], env=env, cwd=ctx.work)
    check_env(ctx, venv)
    return Build(t_venv, t_sync)


def labship_build(ctx: Ctx, project: Path, store: Path, cache: Path) -> tuple[float, Path]:
    """Store.ensure(lock, dev=True) in a new process: labship's import time counts."""
    argv, cwd = probe("ensure-dev", project, store)
    seconds, env_path = ctx.cmds.capture(argv, env=ctx.labship_env(store, cache), cwd=cwd)
    found = envs_in(store)
    if len(found) != 1 or Path(env_path) != store / "envs" / found[0]:
        raise BenchError(f"expected one environment in {store}, found {found}")
    check_env(ctx, Path(env_path))
    return seconds, Path(env_path)


@dataclass(frozen=True)
class ColdBuilds:
    pip: Build
    uv: list[Build]  # one per round
    labship: list[float]
    env_dev: Path  # the first round's labship environment (kept for (b) and (c))
    store: Path
    cache: Path
    env_size: Usage  # the dev environment's own real disk
    added: Usage  # store + uv cache after the first round's labship build

    @property
    def uv_total(self) -> float:
        return median([b.total for b in self.uv])

    @property
    def labship_total(self) -> float:
        return median(self.labship)


def cold_builds(ctx: Ctx, project: Path) -> ColdBuilds:
    """pip once; then raw uv and labship, each round alternating which goes first."""
    say(f"(a) pip cold: python -m venv + pip install of {project.name}'s dev set")
    pip = pip_cold(ctx, project)
    say(f"    {pip.total:.1f}s")
    uv_runs: list[Build] = []
    ls_runs: list[float] = []
    env_dev = Path()
    for i in range(ctx.mode.rounds):
        tag = "" if i == 0 else f"-r{i}"
        venv_uv, cache_uv = ctx.work / f"venv-uv{tag}", ctx.work / f"cache-uv{tag}"
        store, cache = ctx.work / f"store{tag}", ctx.work / f"cache-labship{tag}"
        for who in ("uv", "labship") if i % 2 == 0 else ("labship", "uv"):
            say(f"(a) {who} cold, round {i + 1}/{ctx.mode.rounds}")
            if who == "uv":
                uv_runs.append(uv_build(ctx, project, venv_uv, cache_uv))
                say(f"    {uv_runs[-1].total:.1f}s")
            else:
                seconds, env = labship_build(ctx, project, store, cache)
                ls_runs.append(seconds)
                env_dev = env if i == 0 else env_dev
                say(f"    {seconds:.1f}s")
        if i > 0:  # only the first round's trees are used further on
            for path in (venv_uv, cache_uv, store, cache):
                shutil.rmtree(path, ignore_errors=True)
    store, cache = ctx.work / "store", ctx.work / "cache-labship"
    size, added = disk_usage(env_dev), disk_usage(store, cache)
    return ColdBuilds(pip, uv_runs, ls_runs, env_dev, store, cache, size, added)


@dataclass(frozen=True)
class WarmBuilds:
    uv: list[Build]
    labship: list[float]

    @property
    def uv_total(self) -> float:
        return median([b.total for b in self.uv])

    @property
    def labship_total(self) -> float:
        return median(self.labship)


def warm_builds(ctx: Ctx, project: Path, cache: Path) -> WarmBuilds:
    """A new environment whose packages are all in the cache: raw uv, labship (new store)."""
    say("(a) warm: raw uv into a new venv, labship into a new store, from the warm cache")
    uv_runs: list[Build] = []
    ls_runs: list[float] = []
    for i in range(ctx.mode.rounds):
        store, venv = ctx.work / f"store-warm{i}", ctx.work / f"venv-uv-warm{i}"
        for who in ("uv", "labship") if i % 2 == 0 else ("labship", "uv"):
            if who == "uv":
                uv_runs.append(uv_build(ctx, project, venv, cache))
            else:
                ls_runs.append(labship_build(ctx, project, store, cache)[0])
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(venv, ignore_errors=True)
    return WarmBuilds(uv_runs, ls_runs)


@dataclass(frozen=True)
class Search:
    """uv's interpreter search: `uv venv --python 3.11` against the interpreter's path."""

    by_version_ms: float
    by_path_ms: float
    runs: int
    found_on_path: str  # what a search for python3.11 on PATH finds first


def interpreter_search(ctx: Ctx, cache: Path) -> Search:
    say("(a) uv's interpreter search: uv venv --python 3.11 vs --python /path/to/python")
    result: dict[str, float] = {}
    runs = ctx.mode.search_runs
    for label, request in (("version", "3.11"), ("path", ctx.interp)):
        times = []
        for i in range(runs + 2):
            target = ctx.work / f"venv-probe-{label}-{i}"
            argv = [ctx.uv, "venv", "-q", "--python", request, str(target)]
            times.append(time_process(argv, env=ctx.uv_env(cache), cwd=ctx.work).wall)
            shutil.rmtree(target, ignore_errors=True)
        result[label] = median(times[2:]) * 1000
    on_path = shutil.which("python3.11") or "none"
    return Search(result["version"], result["path"], runs, on_path)


# -- (c) disk added by more projects ----------------------------------------------------


@dataclass(frozen=True)
class SameLock:
    seconds: float
    added: Usage  # environments + uv cache
    added_all: Usage  # + the store's record of the project
    envs_before: int
    envs_after: int


@dataclass(frozen=True)
class Variant:
    label: str
    lock_added: Usage
    build_added: Usage
    cache_added: Usage  # new packages' files in uv's cache
    diff: list[str]
    t_lock: float
    t_build: float

    @property
    def own(self) -> Usage:
        """What the new environment holds beyond hard links into uv's cache."""
        return self.build_added - self.cache_added


@dataclass(frozen=True)
class Disk:
    env_size: Usage  # the first dev environment's own size
    same: SameLock
    variants: list[Variant]
    envs_final: int

    def pct(self, usage: Usage) -> float:
        return 100 * usage.total / self.env_size.total


def same_lock(ctx: Ctx, project: Path, store: Path, cache: Path) -> SameLock:
    say("(c) a second project with the same lock")
    second = ctx.work / "proj-same"
    shutil.copytree(project, second)
    envs_before = len(envs_in(store))
    before, before_all = disk_usage(store / "envs", cache), disk_usage(store, cache)
    argv, cwd = probe("prepare-dev", second, store)
    seconds = ctx.cmds.run(argv, env=ctx.labship_env(store, cache), cwd=cwd)
    return SameLock(
        seconds,
        disk_usage(store / "envs", cache) - before,
        disk_usage(store, cache) - before_all,
        envs_before,
        len(envs_in(store)),
    )


def variant(
    ctx: Ctx, project: Path, n: int, label: str, deps: tuple[str, ...], store: Path, cache: Path
) -> Variant:
    say(f"(c) a project with {label}")
    other = write_project(ctx.work / f"proj-{n}", example(ctx.mode, deps))
    env = ctx.labship_env(store, cache)
    b0 = disk_usage(store, cache)
    t_lock = ctx.cmds.run([str(ctx.labship), "-C", str(other), "lock"], env=env, cwd=ctx.work)
    b1, c1 = disk_usage(store, cache), disk_usage(cache)
    argv, cwd = probe("prepare-dev", other, store)
    t_build = ctx.cmds.run(argv, env=env, cwd=cwd)
    b2, c2 = disk_usage(store, cache), disk_usage(cache)
    diff = lock_diff(project / "pylock.dev.toml", other / "pylock.dev.toml")
    return Variant(label, b1 - b0, b2 - b1, c2 - c1, diff, t_lock, t_build)


def disk_more_projects(ctx: Ctx, project: Path, cold: ColdBuilds) -> Disk:
    mode, store, cache = ctx.mode, cold.store, cold.cache
    same = same_lock(ctx, project, store, cache)
    changed = tuple(mode.pin_to if d == mode.pin_from else d for d in mode.deps)
    specs = (
        (f"one package added ({mode.add_one})", (*mode.deps, mode.add_one)),
        (f"one pin changed ({mode.pin_from} → {mode.pin_to.split('=')[1]})", changed),
    )
    variants = [
        variant(ctx, project, n, label, deps, store, cache) for n, (label, deps) in enumerate(specs)
    ]
    return Disk(cold.env_size, same, variants, len(envs_in(store)))


# -- (b) start-up and run overhead ----------------------------------------------------


NO_PYC = "labship run noop, no bytecode cache (PYTHONDONTWRITEBYTECODE=1 as in the calling shell)"


@dataclass(frozen=True)
class RunOverhead:
    first_run: float  # the first `labship run`, which builds the prod environment
    prod_env: Path
    run: Paired  # labship run noop vs the env's python code/noop.py
    startup: Paired  # labship --version vs labship's python code/noop.py
    no_pyc: Paired | None  # labship run noop without bytecode vs the env's python
    load_before: str
    load_after: str


def run_overhead(ctx: Ctx, project: Path, store: Path, cache: Path) -> RunOverhead:
    env = ctx.labship_env(store, cache)
    say("(b) labship run: the first run builds the prod environment")
    first = ctx.cmds.run(
        [str(ctx.labship), "-C", str(project), "run", "noop", "--runtime", "local"],
        env=env,
        cwd=ctx.work,
    )
    where = [str(ctx.labship), "-q", "-C", str(project), "run", "where", "--runtime", "local"]
    prod_env = Path(ctx.cmds.capture(where, env=env, cwd=ctx.work)[1].splitlines()[-1])
    direct = Command(
        "python code/noop.py (venv's python)", (f"{prod_env}/bin/python", "code/noop.py")
    )
    ls_run = Command("labship run noop", (str(ctx.labship), "run", "noop", "--runtime", "local"))
    version = Command("labship --version", (str(ctx.labship), "--version"))
    bare = Command(
        "python code/noop.py (labship's python)", (str(labship_python()), "code/noop.py")
    )
    load_before = loadavg()
    runs, warmup = ctx.mode.runs, ctx.mode.warmup
    say(f"(b) {warmup} warmup + {runs} timed pairs: labship run noop | the venv's python")
    run = paired(ls_run, direct, env=env, cwd=project, runs=runs, warmup=warmup)
    say(f"(b) {warmup} warmup + {runs} timed pairs: labship --version | labship's python")
    startup = paired(version, bare, env=env, cwd=project, runs=runs, warmup=warmup)
    no_pyc = None
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        # How this checkout behaves in a shell that never writes bytecode: labship's
        # sources (an editable install without __pycache__) are compiled on every start.
        argv = ("env", "-u", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE=1", *ls_run.argv)
        say(f"(b) {runs} timed pairs: {NO_PYC}")
        cmd = Command(NO_PYC, argv)
        no_pyc = paired(cmd, direct, env=env, cwd=project, runs=runs, warmup=warmup)
    return RunOverhead(first, prod_env, run, startup, no_pyc, load_before, loadavg())


@dataclass(frozen=True)
class Imports:
    """``python -X importtime`` of one command: (module, self µs, cumulative µs)."""

    rows: list[tuple[str, int, int]]

    @property
    def total_ms(self) -> float:
        return sum(s for _, s, _ in self.rows) / 1000

    @property
    def labship_ms(self) -> float:
        return sum(s for n, s, _ in self.rows if n.split(".")[0] == "labship") / 1000

    def by_package(self, top: int = 12) -> list[tuple[str, float, int]]:
        """(top-level package, self ms, modules), largest first."""
        groups: dict[str, list[int]] = {}
        for name, self_us, _ in self.rows:
            g = groups.setdefault(name.split(".")[0], [0, 0])
            g[0] += self_us
            g[1] += 1
        ranked = sorted(groups.items(), key=lambda kv: -kv[1][0])
        return [(k, v[0] / 1000, v[1]) for k, v in ranked[:top]]

    def slowest(self, top: int = 10) -> list[tuple[str, float, float]]:
        ranked = sorted(self.rows, key=lambda r: -r[1])[:top]
        return [(n, s / 1000, c / 1000) for n, s, c in ranked]


def import_times(ctx: Ctx, project: Path, env: dict[str, str], *args: str) -> Imports:
    """The labship command under ``-X importtime`` (not inherited by the job it starts)."""
    argv = [str(labship_python()), "-X", "importtime", str(ctx.labship), *args]
    proc = subprocess.run(argv, env=env, cwd=project, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cum, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        rows.append((name, int(self_us), int(cum)))
    if proc.returncode != 0 or not rows:
        raise BenchError(f"-X importtime of labship {' '.join(args)} failed: {proc.stderr[-500:]}")
    return Imports(rows)


# -- the whole run ---------------------------------------------------------------------


@dataclass(frozen=True)
class LocalData:
    mode: Mode
    interp: str
    lock: LockInfo
    cold: ColdBuilds
    warm: WarmBuilds
    search: Search
    disk: Disk
    run: RunOverhead
    imports_version: Imports  # labship --version
    imports_run: Imports  # labship run noop
    pyvenv: dict[str, str]  # which Python each environment of (a) was made from

    @property
    def pip_ratio(self) -> float:
        return self.cold.pip.total / self.cold.labship_total

    @property
    def uv_ratio(self) -> float:
        return self.cold.labship_total / self.cold.uv_total


def measure(ctx: Ctx) -> LocalData:
    project = write_project(ctx.work / "proj", example(ctx.mode))
    say("labship lock (its own caches, not counted against the builds)")
    locked = lock(ctx, project)
    cold = cold_builds(ctx, project)
    warm = warm_builds(ctx, project, cold.cache)
    search = interpreter_search(ctx, cold.cache)
    disk = disk_more_projects(ctx, project, cold)
    run = run_overhead(ctx, project, cold.store, cold.cache)
    say("(b) -X importtime of labship --version and labship run noop")
    env = ctx.labship_env(cold.store, cold.cache)
    imports_version = import_times(ctx, project, env, "--version")
    imports_run = import_times(ctx, project, env, "run", "noop", "--runtime", "local")
    pyvenv = {
        "pip": pyvenv_version(ctx.work / "venv-pip"),
        "uv": pyvenv_version(ctx.work / "venv-uv"),
        "labship": pyvenv_version(cold.env_dev),
    }
    return LocalData(
        ctx.mode,
        ctx.interp,
        locked,
        cold,
        warm,
        search,
        disk,
        run,
        imports_version,
        imports_run,
        pyvenv,
    )


def results(d: LocalData) -> list[Result]:
    """The summary: every target of the issue, measured."""
    same, run, startup = d.disk.same, d.run.run, d.run.startup
    rows = [
        Result(
            "cold dev build: how many times faster labship is than pip",
            f">= {TARGET_PIP_RATIO:.0f}x",
            d.pip_ratio,
            "x",
            d.pip_ratio >= TARGET_PIP_RATIO,
        ),
        Result(
            "cold dev build: labship's time over raw uv's",
            f"<= {TARGET_UV_RATIO}x",
            d.uv_ratio,
            "x",
            d.uv_ratio <= TARGET_UV_RATIO,
            digits=2,
        ),
        Result(
            "`labship run` overhead (difference of the medians)",
            f"<= {TARGET_RUN_OVERHEAD_MS:.0f} ms",
            run.median_diff,
            "ms",
            run.median_diff <= TARGET_RUN_OVERHEAD_MS,
            note=f"pair by pair: median {run.diff.median:.0f} ms",
            digits=0,
        ),
        Result(
            "start-up: `labship --version` (median)",
            "",
            startup.a.wall.median,
            "ms",
            None,
            note=f"its interpreter alone {startup.b.wall.median:.0f} ms; "
            f"{startup.ratio:.1f}x pair by pair",
            digits=0,
        ),
        Result(
            "disk added by a 2nd project with the same lock (environments + uv cache)",
            f"{TARGET_SECOND_SAME} B",
            same.added.total,
            "B",
            same.added.total <= TARGET_SECOND_SAME and same.envs_after == same.envs_before,
            note=f"environments {same.envs_before} -> {same.envs_after}",
        ),
    ]
    for v in d.disk.variants:
        pct = d.disk.pct(v.build_added)
        rows.append(
            Result(
                f"disk added by a project with {v.label}, of the first environment",
                f"<= {TARGET_ONE_DIFF_PCT:.0f}%",
                pct,
                "%",
                pct <= TARGET_ONE_DIFF_PCT,
                note=mb(v.build_added.total),
            )
        )
    return rows


def make_ctx(work: Path, mode: Mode) -> Ctx:
    uv = labship_uv()
    interp = output([uv, "python", "find", "--system", "3.11"], env=clean_env())
    return Ctx(
        work=work,
        mode=mode,
        cmds=Commands(work / "logs"),
        labship=labship_cli(),
        uv=uv,
        interp=interp,
        cert=os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE"),
        pycache=work / "pycache",
    )


def facts(ctx: Ctx) -> list[tuple[str, str]]:
    return machine_facts(
        {
            "Python of the environments": tool_version([ctx.interp, "-VV"]),
            "pip (in the pip venv)": tool_version(
                [str(ctx.work / "venv-pip" / "bin" / "python"), "-m", "pip", "--version"]
            ).split(" from ")[0],
            "load average (1/5/15 min) at the end": loadavg(),
        }
    )


def arguments() -> argparse.ArgumentParser:
    p = parser((__doc__ or "").splitlines()[0])
    p.add_argument("--rounds", type=int, help="cold builds by raw uv and labship (3; quick 2)")
    p.add_argument("--runs", type=int, help="timed pairs in (b) (30; quick 5)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    mode = QUICK if args.quick else FULL
    mode = replace(mode, rounds=max(1, args.rounds or mode.rounds), runs=args.runs or mode.runs)
    out = report_path(args, DOC)
    say(f"mode {mode.name}; report to {out}")
    with work_dir("labship-bench-", parent=args.workdir, keep=args.keep) as work:
        ctx = make_ctx(work, mode)
        data = measure(ctx)
        machine = facts(ctx)
    return publish(
        args,
        out,
        kind="local",
        title="Local runtime benchmark",
        machine=machine,
        results=results(data),
        d=data,
        no_pyc_label=NO_PYC,
        targets={
            "pip": TARGET_PIP_RATIO,
            "uv": TARGET_UV_RATIO,
            "run_ms": TARGET_RUN_OVERHEAD_MS,
            "one_diff_pct": TARGET_ONE_DIFF_PCT,
        },
    )


if __name__ == "__main__":
    entry(main, "bench_local")
