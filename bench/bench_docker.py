"""Docker benchmarks: labship's images against a naive single-stage Dockerfile.

Run: ``LABSHIP_BASE_IMAGE=local/python:3.11-slim .venv/bin/python bench/bench_docker.py``
(after scripts/engine-up.sh). Writes docs/benchmarks-docker.md. Every ratio compares
numbers from the same run on the same machine and base image.

(a) rebuild after a code-only change vs the first build (target <= 10 s, no package layer)
(b) prod image size vs naive (pip install of the same set + JupyterLab)   (target <= 60 %)
(c) cold build (no layer cache, fresh cache mounts) naive / labship        (target >= 3x)
(d) 'labship run --runtime docker' overhead over a bare 'docker run'       (target <= 200 ms)
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from dockerfixtures import LOCAL_BASE, docker_skip_reason, write_project  # type: ignore[import-not-found]  # noqa: E402
from labship.console import Console  # noqa: E402
from labship.lock import Lock, lock, read_lock  # noqa: E402
from labship.project import Project  # noqa: E402
from labship.targets import image as images  # noqa: E402
from labship.tools.docker import build_client, docker  # noqa: E402

PROD = ["pandas==2.2.3", "scikit-learn==1.5.2"]
DEV = ["jupyterlab"]
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


ANALYSIS = """\
## What was cut, what limits (b) and (c)

Cold build, before (generated Dockerfile of the previous commit) and after, measured
back to back on this machine under the same load (three runs each, load average ~4.5
on 2 CPUs; median): 19.2 s -> 12.6 s. What changed:

- **uv is no longer pip-installed in the build** (that step took 3.4 s unloaded, 5.6-7.1 s
  loaded, and was on the critical path). labship stages its own uv binary in the
  context (`uv/uv`) when it is exactly the pinned version and a Linux x86-64 ELF; the
  uv stage copies it after checking that it runs in the base image and reports that
  version, else it pip-installs the pinned version as before. The image does not depend
  on which path was taken (uv is not in the final image, the lock's hashes are checked).
- **Bytecode: kept, but not for packages' test suites.** Without .pyc a fresh prod
  container (read-only venv) spends 5.2-5.3 s on `import pandas, sklearn.ensemble,
  sklearn.linear_model` instead of 0.7-0.9 s, on every job run: compiling at build
  time is worth it. But about 60 % of the .pyc (53 of 90 MB) were for `tests/`
  folders that no job imports. `compileall -x '/tests?/'` instead of uv's
  `--compile-bytecode`: 1503 instead of 3561 files, 37 instead of 90 MB, 3.9 instead
  of 9.1 s of CPU (measured in one container under load). The `tests/` sources stay:
  the image holds exactly the lock's packages, file for file.
- **uv's cache mount is used** (verified: a lock change with the cache mounts kept
  downloads nothing), with `UV_LINK_MODE=copy` and an explicit `UV_CACHE_DIR`
  (the mount is another filesystem). `--no-cache` also empties BuildKit cache mounts on
  this engine (20.10), so the cold numbers here are truly cold.
- **Kept: tini from apt.** The apt step (apt-get update + tini, 3-6 s) runs in a
  stage parallel to uv's install and is not on the critical path; removing it (tested)
  gave no measurable gain here, and swapping to dumb-init from PyPI would change the
  images' init and add a package outside the lock.

What limits (c): the critical path is now download (0.6-7 s: ~75 MB of wheels, the
network here varies that much from run to run) + install (~1 s) + bytecode compile
(2-4 s) + copying the ~300 MB venv into the final stage (~1-1.5 s) + exporting the
layer (~1.3 s). The naive build is one pip install of the same set plus JupyterLab
(~100 packages) and pip's compile; labship's advantage is a smaller set (the prod lock
has 10 packages), uv and the parallel stages. On this shared 2-CPU machine the ratio
swings with the download: 1.9x in a run with a slow download, 3.3x in a quieter one
(the table above is the latest run); treat 3x as met on a quiet machine, not always.

What limits (b): the base image (~253 MB here) is in both images, and the venv is
about 300 MB of which 178 MB are compiled extensions (.so) and ~90 MB Python sources
that must ship as locked. Even with no bytecode at all labship's image would be
~526 MB, 65 % of the naive 804 MB; 60 % would need the venv under ~230 MB, which is
less than the lock's packages themselves. Reaching it would take removing package
files (tests/, stripping .so), which we do not do.
"""


def sh(*args: str) -> str:
    return docker(list(args), console=None).stdout.strip()


def size_mb(image: str) -> float:
    return int(sh("image", "inspect", "--format", "{{.Size}}", image)) / 1e6


def timed_build(project: Project, lk: Lock, *, no_cache: bool = False) -> tuple[float, str, str]:
    stream = io.StringIO()
    console = Console(stream=stream, verbose=True)
    started = time.monotonic()
    built = images.build(project, lk, "prod", console=console, no_cache=no_cache)
    return time.monotonic() - started, built.image_id, stream.getvalue()


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


def naive_build(root: Path, tag: str, project: Project) -> tuple[float, str]:
    ctx = root / "naive"
    ctx.mkdir()
    (ctx / "requirements.txt").write_text("\n".join(PROD + DEV) + "\n")
    (ctx / "code").mkdir()
    (ctx / "code" / "hello.py").write_text("print('hello')\n")
    (ctx / "Dockerfile").write_text(NAIVE.format(base=os.environ["LABSHIP_BASE_IMAGE"]))
    client = build_client()
    bundle = images.ca_bundle(project)
    argv = [*client.build_argv, "--no-cache", "--network=host", "--progress=plain", "-t", tag]
    if bundle:
        argv += ["--secret", f"id=ca,src={bundle}"]
    started = time.monotonic()
    proc = subprocess.run(
        [*argv, str(ctx)], env=client.env(), check=True, capture_output=True, text=True
    )
    return time.monotonic() - started, proc.stderr


def venv_layer_mb(image: str) -> float:
    """The size of the image's biggest layer (the venv for both images here)."""
    sizes = sh("history", "--no-trunc", "--human=false", "--format", "{{.Size}}", image)
    return max(int(s) for s in sizes.split()) / 1e6


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def run_overhead(root: Path, image: str) -> tuple[float | None, float, str]:
    def best(argv: list[str], cwd: Path | None = None) -> float | None:
        times = []
        for _ in range(5):
            started = time.monotonic()
            proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
            if proc.returncode != 0:
                return None
            times.append(time.monotonic() - started)
        return statistics.median(times)

    bare = best([build_client().binary, "run", "--rm", image, "python3", "code/hello.py"])
    assert bare is not None
    labship = best(
        [
            sys.executable,
            "-m",
            "labship",
            "run",
            "hello",
            "--runtime",
            "docker",
            "--profile",
            "dev",
        ],
        cwd=root,
    )
    note = "" if labship is not None else "labship run --runtime docker not available yet"
    return labship, bare, note


def main() -> int:
    os.environ.setdefault("LABSHIP_BASE_IMAGE", LOCAL_BASE)
    reason = docker_skip_reason()
    if reason:
        print(f"bench_docker: cannot run: {reason}", file=sys.stderr)
        return 69
    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="labship-bench-") as tmp:
        root = Path(tmp) / "bench"
        project = write_project(root, name="labship-bench", lab_packages=DEV)
        (root / ".env_dev").write_text("GREETING=hi\n")
        # labship's own lock (not the test helper's), so 'labship run' accepts it for (d)
        (root / "requirements.txt").write_text("".join(f"{r}\n" for r in PROD))
        lock(project, console=Console(stream=io.StringIO()))
        lk = read_lock(project)
        # a fresh, private cache (ids made unique) so "cold" means cold, without
        # pruning anyone else's build cache on the machine
        path = images.eject(project)
        salt = secrets.token_hex(4)
        path.write_text(re.sub(r"id=(labship-[a-z-]+)", rf"id=\1-{salt}", path.read_text()))

        cold, _, cold_log = timed_build(project, lk, no_cache=True)
        (root / "code" / "hello.py").write_text("print('hello, changed')\n")
        rebuild, _, log = timed_build(project, lk)
        # environment steps are RUN/COPY steps of the uv, builder and base stages
        env_steps = dict(
            re.findall(r"^#(\d+) \[((?:uv|builder|base) [^\]]+)\] (?:RUN|COPY)", log, re.M)
        )
        reran = [
            name for n, name in env_steps.items() if not re.search(rf"^#{n} CACHED$", log, re.M)
        ]
        assert env_steps, log
        naive_tag = f"labship-bench-naive:{salt}"
        naive, naive_log = naive_build(Path(tmp), naive_tag, project)
        prod_tag = images.tags(project, lk, "prod")[0]
        prod_mb, naive_mb = size_mb(prod_tag), size_mb(naive_tag)
        base_mb = size_mb(os.environ["LABSHIP_BASE_IMAGE"])
        prod_venv_mb, naive_venv_mb = venv_layer_mb(prod_tag), venv_layer_mb(naive_tag)
        labship_run, bare_run, note = run_overhead(root, prod_tag)
        docker(["rmi", "-f", naive_tag], console=None, check=False)
    load_after = loadavg()

    rows: list[tuple[str, str, str, bool | None]] = [
        (
            "(a) rebuild after a code-only change",
            f"{rebuild:.1f} s (first build {cold:.1f} s); "
            f"package layers re-run: {', '.join(reran) or 'none'}",
            "<= 10 s, none",
            rebuild <= 10 and not reran,
        ),
        (
            "(b) prod image size vs naive",
            f"{prod_mb:.0f} MB vs {naive_mb:.0f} MB = {100 * prod_mb / naive_mb:.0f} %",
            "<= 60 %",
            prod_mb / naive_mb <= 0.6,
        ),
        (
            "(c) cold build, naive / labship",
            f"{naive:.1f} s / {cold:.1f} s = {naive / cold:.1f}x",
            ">= 3x",
            naive / cold >= 3,
        ),
    ]
    if labship_run is None:
        rows.append(
            (
                "(d) labship run overhead",
                f"n/a ({note}); bare docker run {bare_run:.2f} s",
                "<= 200 ms",
                None,
            )
        )
    else:
        over = (labship_run - bare_run) * 1000
        rows.append(
            (
                "(d) labship run overhead",
                f"{labship_run:.2f} s vs bare {bare_run:.2f} s = {over:+.0f} ms",
                "<= 200 ms",
                over <= 200,
            )
        )
    above = (prod_mb - base_mb) / (naive_mb - base_mb)
    lines = [
        "# Docker benchmarks",
        "",
        f"Generated by `bench/bench_docker.py` on {time.strftime('%Y-%m-%d %H:%M')}, one run, "
        f"base image `{os.environ['LABSHIP_BASE_IMAGE']}`, prod set {', '.join(PROD)}; the "
        "naive image is one stage that pip-installs the same set plus JupyterLab. Ratios "
        f"come from the same run. Load average before/after: {load_before} / {load_after} "
        f"on {os.cpu_count()} CPUs (other builds share this machine: absolute times are noisy).",
        "",
        "| measure | result | target | met |",
        "|---|---|---|---|",
        *(
            f"| {m} | {r} | {t} | {'n/a' if ok is None else ('yes' if ok else 'NO')} |"
            for m, r, t, ok in rows
        ),
        "",
        "## Cold build, step by step",
        "",
        "BuildKit's wall time per step (steps of 0.2 s or more; stages run in parallel, so "
        "the steps do not add up to the total).",
        "",
        f"labship prod, {cold:.1f} s in all; uv's install step: {sync_split(cold_log)}.",
        "",
        "| step | s |",
        "|---|---|",
        *(f"| `{name}` | {seconds:.1f} |" for name, seconds in steps(cold_log)),
        "",
        f"naive, {naive:.1f} s in all:",
        "",
        "| step | s |",
        "|---|---|",
        *(f"| `{name}` | {seconds:.1f} |" for name, seconds in steps(naive_log)),
        "",
        "## Image size",
        "",
        f"Base image {base_mb:.0f} MB in both. labship prod: {prod_mb:.0f} MB, of which the "
        f"venv layer is {prod_venv_mb:.0f} MB; naive: {naive_mb:.0f} MB, of which its "
        f"install layer is {naive_venv_mb:.0f} MB. Above the base, labship's image is "
        f"{100 * above:.0f} % of the naive one.",
        "",
        ANALYSIS,
    ]
    out = REPO / "docs" / "benchmarks-docker.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    print(json.dumps({"written": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
