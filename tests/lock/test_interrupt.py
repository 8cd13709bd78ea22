"""Killing ``labship lock`` (SIGTERM, Ctrl-C) leaves nothing behind: no uv, no source
build uv started, no temporary folder, no half-written lock.

The spec needs a package built from a local sdist whose setup.py sleeps: the signal
arrives while uv waits for that build, the worst moment.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from conftest import MakeProject

SETUP = """\
import os, time
with open({pidfile!r}, "w") as handle:
    handle.write(str(os.getpid()))
time.sleep(300)
"""


def _slow_sdist(folder: Path, pidfile: Path) -> Path:
    sdist = folder / "slowpkg-1.0.tar.gz"
    data = SETUP.format(pidfile=str(pidfile)).encode()
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo("slowpkg-1.0/setup.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return sdist


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for every purpose here
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args and str(os.getpid()) != cmdline.parent.name:
            found.append(args[:200])
    return found


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_interrupted_lock_leaves_nothing_behind(
    make_project: MakeProject, tmp_path: Path, how: str
) -> None:
    pidfile = tmp_path / "build.pid"
    sdist = _slow_sdist(tmp_path, pidfile)
    root = make_project(requirements=f"slowpkg @ {sdist.as_uri()}\n")
    tmpdir, cache = tmp_path / "tmp", tmp_path / "uv-cache"  # private: nothing else uses them
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "UV_CACHE_DIR": str(cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "labship", "lock"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group, as a shell's foreground job
        # a background job of a shell starts with SIGINT ignored; Ctrl-C is what is tested
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 180
    while not pidfile.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert pidfile.exists(), proc.communicate()
    time.sleep(0.3)
    build = int(pidfile.read_text())
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)  # to labship alone, as a scheduler does
    else:
        os.killpg(proc.pid, signal.SIGINT)  # to the foreground group, as a terminal does
    started = time.monotonic()
    _out, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 15, "labship took too long to stop"
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("labship: error: "), err
    assert "Traceback" not in err
    assert not _alive(build), "the source build uv started is still running"
    assert _processes_mentioning(str(tmp_path)) == [], "uv or its build is still running"
    assert list(tmpdir.iterdir()) == [], "labship left temporary files behind"
    builds = cache / "builds-v0"
    assert not builds.is_dir() or list(builds.iterdir()) == [], "uv's build folder was left"
    assert not (root / "pylock.toml").exists()
