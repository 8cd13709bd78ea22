"""Conda benchmark: a cold lock + install of the native (conda) part against a local
channel, and the disk of two environments that share conda records. Writes
docs/benchmarks-conda.md (``--quick``: a temporary file).

    python -m bench.bench_conda            # 12 packages, about 120 MB unpacked
    python -m bench.bench_conda --quick    # 4 small packages

The channel is built here, offline: real ``.conda`` archives (py-rattler-build's
``assemble_package``) of shared libraries copied from this machine, each depending on the
one before with a version pin, indexed by ``rattler.index.index_fs`` and served by
``python -m http.server`` on 127.0.0.1, so downloads go over HTTP as from a real channel.

The peer. Neither micromamba nor pixi nor conda installs here: none is on PyPI (the
``pixi`` and ``mamba`` there are other projects) or in Debian 12, and conda-lock (PyPI)
solves only by calling one of them. What installs is conda's own package library,
``conda-package-handling`` (PyPI): the peer is ``cph`` driven by the smallest installer
of an explicit file (download, sha256, extract, copy into the prefix), given labship's
solved explicit file for free. It does less than conda (no solve, no prefix patching,
no conda-meta): its time is a lower bound of ``conda create --file``'s, which favours it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench._common import (
    clean_env,
    disk_usage,
    entry,
    loadavg,
    machine_facts,
    mb,
    median,
    parser,
    report_path,
    say,
    work_dir,
    write_report,
)

DOC = "benchmarks-conda.md"
PEER_PACKAGE = "conda-package-handling"
FULL = {"packages": 12, "mb": 120, "rounds": 3}
QUICK = {"packages": 4, "mb": 8, "rounds": 2}
LIBS = Path("/usr/lib/x86_64-linux-gnu")

PEER = r"""
import hashlib, json, shutil, subprocess, sys, urllib.request
from pathlib import Path
explicit, pkgs, prefix = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
pkgs.mkdir(parents=True); prefix.mkdir(parents=True)
for line in explicit.read_text().splitlines():
    if not line.startswith("http"):
        continue
    url, _, digest = line.partition("#sha256:")
    archive = pkgs / url.rsplit("/", 1)[1]
    with urllib.request.urlopen(url) as response, open(archive, "wb") as out:
        shutil.copyfileobj(response, out)
    if hashlib.sha256(archive.read_bytes()).hexdigest() != digest:
        sys.exit(f"sha256 mismatch: {url}")
    unpacked = pkgs / archive.name.removesuffix(".conda")
    from conda_package_handling.api import extract
    extract(str(archive), str(unpacked))
    shutil.copytree(unpacked, prefix, dirs_exist_ok=True, ignore=shutil.ignore_patterns("info"))
"""


def build_channel(channel: Path, count: int, megabytes: int) -> None:
    """In a child process (rattler's runtime stays out of this one)."""
    argv = [sys.executable, "-m", "bench.bench_conda", "--build-channel", channel, count, megabytes]
    subprocess.run([str(a) for a in argv], check=True)


def _build_channel(channel: Path, count: int, megabytes: int) -> None:
    import asyncio

    import rattler
    from rattler_build import assemble_package

    libs = sorted(
        (p for p in LIBS.glob("*.so*") if p.is_file() and not p.is_symlink()),
        key=lambda p: -p.stat().st_size,
    )
    budget, chosen, total = megabytes * 1_000_000, [], 0
    for lib in libs:
        if total >= budget:
            break
        if total + lib.stat().st_size <= budget * 1.1:
            chosen.append(lib)
            total += lib.stat().st_size
    out = channel / "linux-64"
    out.mkdir(parents=True)
    (channel / "noarch").mkdir()
    for i in range(count):
        stage = channel.parent / "stage" / f"libbench{i}" / "lib"
        stage.mkdir(parents=True)
        for lib in chosen[i::count]:
            shutil.copy(lib, stage / lib.name)
        assemble_package(
            name=f"libbench{i}",
            version="1.0",
            target_platform="linux-64",
            build_string="h0_0",
            output_dir=str(out),
            files_dir=str(stage.parent),
            depends=[f"libbench{i - 1} ==1.0"] if i else [],
            compression_level=3,
        )

    async def index() -> None:
        for subdir in ("linux-64", "noarch"):
            await rattler.index.index_fs(channel, target_platform=rattler.Platform(subdir))

    asyncio.run(index())


def _serve(channel: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=channel,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _peer_python(work: Path) -> Path:
    """A venv with conda-package-handling, made by uv (labship's own)."""
    from bench._common import labship_uv

    venv = work / "peer-venv"
    env = clean_env()
    env.pop("LABSHIP_STORE", None)
    subprocess.run([labship_uv(), "venv", "-q", str(venv)], check=True, env={**os.environ})
    subprocess.run(
        [
            labship_uv(),
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            PEER_PACKAGE,
        ],
        check=True,
        env={**os.environ},
    )
    return venv / "bin" / "python"


def run(args: Sequence[str] | None = None) -> int:
    ns = parser(__doc__ or "").parse_args(args)
    size = QUICK if ns.quick else FULL
    from labship.tools import rattler

    say(f"load before: {loadavg()}")
    load_before = loadavg()
    with work_dir("conda-", parent=ns.workdir, keep=ns.keep) as work:
        channel = work / "channel"
        say(f"building a channel of {size['packages']} packages ({size['mb']} MB)")
        build_channel(channel, size["packages"], size["mb"])
        archives = sum(p.stat().st_size for p in (channel / "linux-64").glob("*.conda"))
        peer = _peer_python(work)
        (work / "peer.py").write_text(PEER)
        server, url = _serve(channel)
        top = f"libbench{size['packages'] - 1}"
        rows: list[dict[str, float]] = []
        try:
            for n in range(size["rounds"]):
                r = work / f"round{n}"
                cache = r / "cache"
                records: list[rattler.Record] = []
                t0 = time.perf_counter()
                records = rattler.solve([top], [url], cache=cache)
                t_solve = time.perf_counter() - t0
                t0 = time.perf_counter()
                rattler.install(records, r / "env1", cache=cache)
                t_install = time.perf_counter() - t0
                t0 = time.perf_counter()
                rattler.install(records, r / "env2", cache=cache)
                t_second = time.perf_counter() - t0
                explicit = r / "conda-linux-64.lock"
                explicit.write_text(
                    "@EXPLICIT\n" + "".join(f"{x.url}#sha256:{x.sha256}\n" for x in records)
                )
                peer_times = []
                for k in (1, 2):
                    t0 = time.perf_counter()
                    subprocess.run(
                        [peer, work / "peer.py", explicit, r / f"peer-pkgs{k}", r / f"peer-env{k}"],
                        check=True,
                    )
                    peer_times.append(time.perf_counter() - t0)
                shared = disk_usage(cache / "pkgs", r / "env1", r / "env2").total
                one_env = disk_usage(r / "env1").total
                independent = disk_usage(r / "peer-env1", r / "peer-env2").total
                rows.append(
                    {
                        "solve": t_solve,
                        "install": t_install,
                        "labship": t_solve + t_install,
                        "second": t_second,
                        "peer": peer_times[0],
                        "shared_mb": shared / 1e6,
                        "one_env_mb": one_env / 1e6,
                        "independent_mb": independent / 1e6,
                        # what the second environment adds to the cache and the first
                        "added_mb": (shared - disk_usage(cache / "pkgs", r / "env1").total) / 1e6,
                    }
                )
                say(f"round {n}: {json.dumps({k: round(v, 2) for k, v in rows[-1].items()})}")
        finally:
            server.terminate()
            server.wait()
    load_after = loadavg()
    text = _report(
        size, rows, archives, load_before, load_after, peer_hash=_hash(PEER), quick=ns.quick
    )
    write_report(text, report_path(ns, DOC))
    return 0


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _report(
    size: dict[str, int],
    rows: list[dict[str, float]],
    archives: int,
    load_before: str,
    load_after: str,
    *,
    peer_hash: str,
    quick: bool,
) -> str:
    import jinja2

    m = {key: median([r[key] for r in rows]) for key in rows[0]}
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return env.get_template("conda.md.j2").render(
        quick=quick,
        size=size,
        rows=rows,
        m=m,
        archives_mb=mb(archives),
        speed=m["peer"] / m["labship"],
        disk=m["independent_mb"] / m["shared_mb"],
        load_before=load_before,
        load_after=load_after,
        facts=machine_facts({"py-rattler": _version("py-rattler")}),
        peer_hash=peer_hash,
    )


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--build-channel":
        _build_channel(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        sys.stdout.flush()
        os._exit(0)
    return run()


if __name__ == "__main__":
    entry(main, "bench_conda")
