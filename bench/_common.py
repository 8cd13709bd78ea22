"""What both benchmark scripts share: timing, clean environments, temporary projects,
disk use, machine facts read at run time, the result row and the one report template.

The benchmarks use labship only through stable surfaces: the ``labship`` command run as
a subprocess and the public library (``labship.load_project``, ``labship.read_lock``,
``labship.Console``, ``labship.store.Store``). The few internals a measurement cannot do
without are the functions at the end of this file, under "labship internals": when
labship's modules move, those are the lines to fix.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
TEMPLATE = "report.md.j2"


class BenchError(RuntimeError):
    """A benchmark step failed: the message says which command and shows its last lines."""


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# -- results -------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """One row of a report's summary: a measured value against its target."""

    name: str
    target: str  # the target in words, "" when there is none
    value: float | None  # None: could not be measured (note says why)
    unit: str  # "x", "ms", "s", "%", "B", "MB"
    met: bool | None  # None: no target, or not measured
    note: str = ""
    digits: int = 1

    @property
    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "B":
            return f"{self.value:,.0f} B"
        sep = "" if self.unit in ("x", "%") else " "
        return f"{self.value:,.{self.digits}f}{sep}{self.unit}"


# -- statistics and timing of whole processes -----------------------------------------


@dataclass(frozen=True)
class Stats:
    median: float
    p90: float
    mean: float
    min: float
    max: float
    n: int


def stats(values: Sequence[float], scale: float = 1.0) -> Stats:
    ordered = sorted(v * scale for v in values)
    if not ordered:
        raise BenchError("no values to summarise")
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return Stats(
        median=statistics.median(ordered),
        p90=p90,
        mean=statistics.fmean(ordered),
        min=ordered[0],
        max=ordered[-1],
        n=len(ordered),
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True)
class Sample:
    """One run of a whole process, as the OS accounts for it once it is reaped."""

    wall: float  # seconds, start to reap
    cpu: float  # user + system seconds, its waited-for children included
    peak_kb: int  # largest resident set of a single process among them


def time_process(argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> Sample:
    """Start ``argv`` with empty stdin, discard its output, time it from outside."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"exit {proc.returncode}: {shlex.join(argv)}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


@dataclass(frozen=True)
class Timed:
    """One command's runs: wall time in ms, CPU time in ms, peak memory in MB."""

    label: str
    argv: tuple[str, ...]
    samples: tuple[Sample, ...]

    @property
    def wall(self) -> Stats:
        return stats([s.wall for s in self.samples], 1000)

    @property
    def cpu(self) -> Stats:
        return stats([s.cpu for s in self.samples], 1000)

    @property
    def peak_mb(self) -> float:
        return median([s.peak_kb / 1024 for s in self.samples])


@dataclass(frozen=True)
class Paired:
    """A and B run in turn (A B A B ...), so a drift in the machine's speed hits both."""

    a: Timed
    b: Timed
    floor_mb: float  # peak memory cannot read below the timing process's own (fork)

    @property
    def diff(self) -> Stats:
        """A - B pair by pair, in ms."""
        pairs = zip(self.a.samples, self.b.samples, strict=True)
        return stats([x.wall - y.wall for x, y in pairs], 1000)

    @property
    def ratio(self) -> float:
        """Median of A / B pair by pair."""
        pairs = zip(self.a.samples, self.b.samples, strict=True)
        return median([x.wall / y.wall for x, y in pairs])

    @property
    def median_diff(self) -> float:
        """Difference of the medians, in ms."""
        return self.a.wall.median - self.b.wall.median


@dataclass(frozen=True)
class Command:
    label: str
    argv: tuple[str, ...]


def paired(
    a: Command, b: Command, *, env: Mapping[str, str], cwd: Path, runs: int, warmup: int
) -> Paired:
    got: dict[str, list[Sample]] = {"a": [], "b": []}
    for i in range(warmup + runs):
        for key, cmd in (("a", a), ("b", b)):
            sample = time_process(cmd.argv, env=env, cwd=cwd)
            if i >= warmup:
                got[key].append(sample)
    floor = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return Paired(
        Timed(a.label, a.argv, tuple(got["a"])), Timed(b.label, b.argv, tuple(got["b"])), floor
    )


# -- commands whose output goes to a log ----------------------------------------------


@dataclass
class Commands:
    """Runs commands to completion, each one's output in its own numbered log file."""

    logs: Path
    step: int = 0

    def __post_init__(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)

    def run(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> float:
        """Wall-clock seconds; raises BenchError with the log's tail on failure."""
        return self._run(argv, env=env, cwd=cwd)[0]

    def capture(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path
    ) -> tuple[float, str]:
        """Wall-clock seconds and its stdout (its stderr goes to the log)."""
        return self._run(argv, env=env, cwd=cwd, capture=True)

    def log_text(self) -> str:
        """The log of the last command."""
        return self._log().read_text(errors="replace")

    def _log(self) -> Path:
        return self.logs / f"{self.step:02d}.log"

    def _run(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, capture: bool = False
    ) -> tuple[float, str]:
        self.step += 1
        log = self._log()
        started = time.perf_counter()
        with open(log, "w") as out:
            out.write(f"$ {shlex.join(argv)}\n")
            out.flush()
            proc = subprocess.run(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else out,
                stderr=out if capture else subprocess.STDOUT,
                text=True,
            )
            elapsed = time.perf_counter() - started
            if capture:
                out.write(f"--- stdout ---\n{proc.stdout}")
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            raise BenchError(f"failed ({proc.returncode}): {shlex.join(argv)}\n{tail}")
        return elapsed, (proc.stdout or "").strip()


def output(argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
    """A short command's stdout, for facts (versions, paths)."""
    proc = subprocess.run(
        list(argv), env=None if env is None else dict(env), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BenchError(f"failed ({proc.returncode}): {shlex.join(argv)}\n{proc.stderr}")
    return proc.stdout.strip()


# -- environments and temporary folders ------------------------------------------------

# What would steer uv, pip or labship away from the folders a benchmark gives them.
_STEERING = (
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
    "LABSHIP_STORE",
    "LABSHIP_RUNTIME",
    "XDG_CACHE_HOME",
)


def clean_env(*, pycache: Path | None = None, **extra: str) -> dict[str, str]:
    """The caller's environment without anything that steers uv, pip or labship.

    ``pycache``: where every Python started keeps its bytecode (an installed labship has
    .pyc files; a checkout in a shell with PYTHONDONTWRITEBYTECODE=1 would have none).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _STEERING and not k.startswith(("UV_", "PIP_"))
    }
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_NO_PROGRESS"] = "1"
    env.update(extra)
    return env


def sandbox_env(
    root: Path,
    *,
    store: Path | None = None,
    uv_cache: Path | None = None,
    pycache: Path | None = None,
) -> dict[str, str]:
    """A clean environment whose caches are folders under ``root`` (empty at first):
    XDG_CACHE_HOME, LABSHIP_STORE and UV_CACHE_DIR."""
    folders = {
        "XDG_CACHE_HOME": root / "xdg-cache",
        "LABSHIP_STORE": store or root / "store",
        "UV_CACHE_DIR": uv_cache or root / "uv-cache",
    }
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return clean_env(pycache=pycache, **{k: str(v) for k, v in folders.items()})


@contextmanager
def work_dir(prefix: str, *, parent: Path | None, keep: bool) -> Iterator[Path]:
    """One temporary folder for a whole run (one file system: uv hard-links within one)."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    say(f"working in {work}")
    try:
        yield work
    finally:
        if keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# -- projects --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectFiles:
    """A labship project as a benchmark writes it (not `labship new`: only what it needs)."""

    name: str
    spec_name: str  # e.g. "docker/environment.yml" or "requirements.txt"
    spec_text: str
    dev: tuple[str, ...]  # [lab] packages
    jobs: Mapping[str, str]  # name -> command
    files: Mapping[str, str] = field(default_factory=dict)  # relative path -> text
    runtime: str | None = None  # [project] runtime
    extra_toml: str = ""  # more tables after [lab]


def write_project(root: Path, spec: ProjectFiles) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    dev = ", ".join(f'"{p}"' for p in spec.dev)
    jobs = "".join(f'[jobs.{k}]\ncommand = "{v}"\n\n' for k, v in spec.jobs.items())
    runtime = f'runtime = "{spec.runtime}"\n' if spec.runtime else ""
    toml = (
        f'[project]\nname = "{spec.name}"\npython = "3.11"\nspec = "{spec.spec_name}"\n'
        f"{runtime}\n{jobs}[lab]\npackages = [{dev}]\n{spec.extra_toml}"
    )
    for rel, text in {"labship.toml": toml, spec.spec_name: spec.spec_text, **spec.files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def lock_packages(pylock: Path) -> list[dict[str, Any]]:
    """The packages of a PEP 751 lock file."""
    return list(tomllib.loads(pylock.read_text())["packages"])


# -- disk ------------------------------------------------------------------------------


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
            paths = [dirpath, *(os.path.join(dirpath, n) for n in filenames)]
            # symlinks to directories are listed in dirnames but never walked into
            paths += [os.path.join(dirpath, n) for n in dirnames]
            for path in paths:
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


# -- machine facts, read at run time ---------------------------------------------------


def loadavg() -> str:
    try:
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "n/a"


def _memory() -> str:
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return "n/a"
    return f"{kb / 1024 / 1024:.1f} GiB"


def now_utc() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")


def tool_version(argv: Sequence[str]) -> str:
    """A tool's own version line, or why there is none."""
    try:
        return output(argv).replace("\n", " ") or "n/a"
    except (OSError, BenchError) as exc:
        return f"n/a ({exc})".splitlines()[0]


def machine_facts(extra: Mapping[str, str]) -> list[tuple[str, str]]:
    """What the numbers depend on, read now: date, CPUs, memory, OS, Python, tools."""
    facts = {
        "date (UTC)": now_utc(),
        "CPUs (os.cpu_count)": str(os.cpu_count()),
        "CPU": _cpu_model(),
        "memory": _memory(),
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python running labship": f"{platform.python_version()} ({sys.executable})",
        "labship": tool_version([str(labship_cli()), "--version"]),
        "uv": tool_version([labship_uv(), "--version"]),
        **extra,
    }
    return list(facts.items())


# -- the labship command and its Python ------------------------------------------------


def labship_cli() -> Path:
    """The ``labship`` command next to this Python (the venv it is installed in)."""
    here = Path(sys.executable).parent / "labship"
    if here.exists():
        return here
    found = shutil.which("labship")
    if found is None:
        raise BenchError(f"no labship command next to {sys.executable} nor on PATH")
    return Path(found)


def labship_python() -> Path:
    """The Python that runs labship (this one: the benchmarks run in labship's venv)."""
    return Path(sys.executable)


def probe(verb: str, *args: str | Path) -> tuple[list[str], Path]:
    """argv and cwd of ``python -m bench._probe VERB ARGS`` (see bench/_probe.py)."""
    return [str(labship_python()), "-m", "bench._probe", verb, *map(str, args)], REPO


# -- command line and report -----------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--quick",
        action="store_true",
        help="a small, fast smoke run (tiny packages, few repetitions); writes to a "
        "temporary file unless --out says otherwise",
    )
    p.add_argument("--out", type=Path, help="where to write the report")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs/)")
    p.add_argument("--workdir", type=Path, help="parent of the temporary folder (TMPDIR)")
    return p


def report_path(args: argparse.Namespace, doc: str) -> Path:
    """--out, else docs/<doc> for a full run, else a new temporary file for --quick."""
    if args.out is not None:
        return Path(args.out)
    if not args.quick:
        return REPO / "docs" / doc
    fd, name = tempfile.mkstemp(prefix=f"quick-{Path(doc).stem}-", suffix=".md")
    os.close(fd)
    return Path(name)


def render_report(context: Mapping[str, object]) -> str:
    """The one template, for both benchmarks (``kind`` says which sections)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(BENCH),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        mb=mb,
        median=median,
        secs=lambda v, d=2: f"{v:.{d}f}s",
        ms=lambda v, d=1: f"{v:.{d}f} ms",
        verdict=lambda met: "n/a" if met is None else ("**met**" if met else "**missed**"),
    )
    return env.get_template(TEMPLATE).render(**context)


def write_report(text: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    say(f"wrote {out}")


def publish(
    args: argparse.Namespace, out: Path, *, kind: str, title: str, **context: object
) -> int:
    """Render one benchmark's report (``context``: machine, results, d, targets, ...),
    print it and write it to ``out``; 0, the benchmark's exit code."""
    module = f"bench.bench_{kind.replace('-', '')}"
    command = f"python -m {module}" + (" --quick" if args.quick else "")
    full = {"kind": kind, "title": title, "quick": args.quick, "command": command, **context}
    write_report(render_report(full), out)
    return 0


def entry(main: Callable[[], int], name: str) -> NoReturn:
    """A benchmark's ``__main__``: its exit code, or one line when a step failed."""
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(1)


# -- labship internals -------------------------------------------------------------------
# The only places the benchmarks reach past labship's public surface. Each is one small
# function: when labship's modules move, fix the import here.


def labship_uv() -> str:
    """The uv binary labship itself runs (so raw uv and labship are timed with one uv).
    INTERNAL: labship.tools.uv.uv_bin."""
    from labship.tools.uv import uv_bin

    return uv_bin()


def build_image_no_cache(project_dir: Path, target: str) -> str:
    """Build one image as ``labship build`` does, but without BuildKit's layer cache
    (neither the public API nor the command has --no-cache); its image id. Meant for a
    process of its own (``python -m bench._probe build-no-cache``): labship's messages
    and BuildKit's --progress=plain output go to stderr.
    INTERNAL: labship.images.build.build(no_cache=True)."""
    import labship
    from labship.images.build import build

    project = labship.load_project(project_dir)
    built = build(
        project,
        labship.read_lock(project),
        "dev" if target == "dev" else "prod",
        console=labship.Console(verbose=True),
        uid=os.getuid(),
        gid=os.getgid(),
        no_cache=True,
    )
    return built.image_id
