"""The local runtime with real uv environments and real job processes.

A running job keeps its environment while the project moves on; two projects with
conflicting pins run at the same time; every run is logged; SIGTERM reaches the job.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from conftest import MakeProject, labship

pytestmark = pytest.mark.slow


def start(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """``labship ARGS`` in the background, as a user or scheduler starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "labship", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def wait_until(probe: Callable[[], object], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def lock_hash(root: Path) -> str:
    body = (root / "pylock.toml").read_text(encoding="utf-8").partition("\n[tool.labship]\n")[0]
    return hashlib.sha256(body.encode()).hexdigest()


def store_env(root: Path) -> Path:
    return Path(os.environ["LABSHIP_STORE"]) / "envs" / lock_hash(root)[:16]


def records(root: Path) -> list[dict[str, object]]:
    lines = (root / ".labship" / "runs.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


# ----------------------------------------------------------------------- immutability

HOLD_JOB = """\
import pathlib, time
pathlib.Path(".started").write_text("1")
deadline = time.monotonic() + 120
while not pathlib.Path(".release").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
import six  # only now, after the project has moved on
print("held six", six.__version__)
"""


def test_running_job_keeps_its_environment_while_the_project_is_relocked(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A store of its own, so both environments are built while the job runs.
    monkeypatch.setenv("LABSHIP_STORE", str(tmp_path / "store"))
    root = make_project(jobs={"hold": "python code/hold.py", "hello": "python code/hello.py"})
    (root / "code" / "hold.py").write_text(HOLD_JOB)
    labship("lock", cwd=root, check=True)
    old_env, old_hash = store_env(root), lock_hash(root)

    held = start("run", "hold", cwd=root)
    try:
        wait_until(lambda: (root / ".started").exists(), timeout=120, what="the held job")
        (root / "requirements.txt").write_text("six==1.17.0\n")
        labship("lock", cwd=root, check=True)
        new_env = store_env(root)
        assert new_env != old_env
        other = labship("run", "hello", cwd=root, check=True)
        assert "six 1.17.0" in other.stdout
        assert "building the prod environment" in other.stderr
        assert held.poll() is None, "the held job ended before the project moved on"
    finally:
        (root / ".release").write_text("1")
        out, err = finish(held)
    assert held.returncode == 0, err
    assert "held six 1.16.0" in out
    assert (old_env / ".labship-env.json").is_file() and (new_env / ".labship-env.json").is_file()

    by_job = {r["job"]: r for r in records(root)}
    assert by_job["hold"]["lock_hash"] == old_hash
    assert by_job["hello"]["lock_hash"] == lock_hash(root) != old_hash


# -------------------------------------------------------------- conflicting projects

BARRIER_JOB = """\
import json, os, pathlib, sys, time
import numpy, pandas
barrier = pathlib.Path(os.environ["BARRIER"])
(barrier / os.environ["ME"]).touch()
deadline = time.monotonic() + 300
while len(list(barrier.iterdir())) < 2:
    if time.monotonic() > deadline:
        sys.exit("the other project never started")
    time.sleep(0.02)
started = time.time()
time.sleep(2)
print(json.dumps({"pandas": pandas.__version__, "numpy": numpy.__version__,
                  "start": started, "end": time.time()}))
"""


def test_conflicting_pins_run_side_by_side(make_project: MakeProject, tmp_path: Path) -> None:
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    pins = {"old": "pandas==1.5.3\nnumpy<2\n", "new": "pandas==2.2.3\n"}
    roots = {
        me: make_project(
            f"pandas-{me}",
            requirements=requirements,
            jobs={"versions": "python code/versions.py"},
            env_dev=f"GREETING=hi\nBARRIER={barrier}\nME={me}\n",
        )
        for me, requirements in pins.items()
    }
    locks = {me: start("lock", cwd=root) for me, root in roots.items()}
    for me, proc in locks.items():
        _, err = finish(proc)
        assert proc.returncode == 0, f"{me}: {err}"
    for root in roots.values():
        (root / "code" / "versions.py").write_text(BARRIER_JOB)
    assert lock_hash(roots["old"]) != lock_hash(roots["new"])

    runs = {me: start("run", cwd=root) for me, root in roots.items()}
    seen = {}
    for me, proc in runs.items():
        out, err = finish(proc, timeout=600)
        assert proc.returncode == 0, f"{me}: {err}"
        seen[me] = json.loads(out.strip().splitlines()[-1])

    assert seen["old"]["pandas"] == "1.5.3"
    assert seen["old"]["numpy"].startswith("1.")
    assert seen["new"]["pandas"] == "2.2.3"
    assert not seen["new"]["numpy"].startswith("1."), seen["new"]
    # They ran at the same time, each in its own environment.
    assert max(s["start"] for s in seen.values()) < min(s["end"] for s in seen.values()), seen
    assert store_env(roots["old"]) != store_env(roots["new"])


# -------------------------------------------------------------------------- run log

RECORD_KEYS = {
    "job",
    "profile",
    "runtime",
    "start",
    "duration_s",
    "exit_code",
    "lock_hash",
    "git_commit",
    "signal",
    "killed",
}


def _git(root: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_every_run_appends_a_record(make_project: MakeProject) -> None:
    root = make_project(
        jobs={"hello": "python code/hello.py", "nap": "python -c 'import time; time.sleep(1)'"},
        env_prod="GREETING=prod-hello\nDB_PASSWORD=prod-secret-value-456\nEXIT_CODE=3\n",
    )
    labship("lock", cwd=root, check=True)
    window = [time.time()]

    first = labship("run", "hello", cwd=root, check=True)  # not a git repository yet
    assert "greeting hello" in first.stdout
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "initial")
    head = _git(root, "rev-parse", "HEAD")
    prod = labship("run", "hello", "--profile", "prod", cwd=root)
    assert prod.returncode == 3, prod.stderr
    assert "PRODUCTION" in prod.stderr and "exited with code 3" in prod.stderr
    labship("run", "nap", cwd=root, check=True)
    window.append(time.time())

    logged = records(root)
    assert [set(r) for r in logged] == [RECORD_KEYS] * 3
    assert [(r["job"], r["profile"], r["exit_code"]) for r in logged] == [
        ("hello", "dev", 0),
        ("hello", "prod", 3),
        ("nap", "dev", 0),
    ]
    assert {r["runtime"] for r in logged} == {"local"}
    assert {r["lock_hash"] for r in logged} == {lock_hash(root)}
    assert [r["git_commit"] for r in logged] == [None, head, head]
    starts = [
        datetime.strptime(str(r["start"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        for r in logged
    ]
    assert starts == sorted(starts)
    assert window[0] - 1 <= starts[0] and starts[-1] <= window[1]
    durations = [float(str(r["duration_s"])) for r in logged]
    assert all(d >= 0 for d in durations)
    assert 1.0 <= durations[2] < window[1] - window[0]  # the nap job sleeps 1 s

    listed = labship("runs", "--json", cwd=root, check=True)
    assert json.loads(listed.stdout) == logged


# --------------------------------------------------------------------------- signals

# os.write, not print: the signal may land while "ready" is still being flushed.
TRAP_JOB = """\
import os, signal, sys, time
def on_term(signum, frame):
    os.write(1, b"got TERM\\n")
    sys.exit(143)
signal.signal(signal.SIGTERM, on_term)
os.write(1, b"ready\\n")
time.sleep(120)
print("never interrupted")
"""
PLAIN_JOB = """\
import os, time
os.write(1, b"ready\\n")
time.sleep(120)
print("never interrupted")
"""


def _terminated_run(root: Path) -> tuple[subprocess.Popen[str], str, str, float]:
    """``labship run`` sent SIGTERM once its job is ready: (the process, stdout, stderr,
    the seconds it took to end)."""
    proc = start("run", cwd=root)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc, timeout=30)
    return proc, out, err, time.monotonic() - sent


@pytest.mark.parametrize("traps", [True, False], ids=["job-traps-TERM", "job-dies-of-TERM"])
def test_sigterm_reaches_the_job(make_project: MakeProject, traps: bool) -> None:
    root = make_project(jobs={"wait": "python code/wait.py"})
    (root / "code" / "wait.py").write_text(TRAP_JOB if traps else PLAIN_JOB)
    labship("lock", cwd=root, check=True)

    proc, out, err, took = _terminated_run(root)
    assert took < 10
    assert proc.returncode == 143, err
    assert "never interrupted" not in out
    if traps:
        assert out.strip() == "got TERM"
    assert "exited with code 143" in err
    assert "Traceback" not in err
    (record,) = records(root)
    assert (record["job"], record["exit_code"]) == ("wait", 143)
    assert (record["signal"], record["killed"]) == ("SIGTERM", False)


# A job that traps TERM and goes on: only its stop_timeout ends it.
STUBBORN_JOB = """\
import os, signal, time
signal.signal(signal.SIGTERM, lambda signum, frame: os.write(1, b"ignoring TERM\\n"))
os.write(1, b"ready\\n")
for _ in range(1200):
    time.sleep(0.1)
print("never interrupted")
"""


def test_a_job_that_ignores_sigterm_is_killed_after_its_stop_timeout(
    make_project: MakeProject,
) -> None:
    root = make_project(jobs={"stubborn": "python code/stubborn.py"})
    config = root / "labship.toml"
    config.write_text(
        config.read_text().replace(
            '[jobs.stubborn]\ncommand = "python code/stubborn.py"\n',
            '[jobs.stubborn]\ncommand = "python code/stubborn.py"\nstop_timeout = 2\n',
        )
    )
    (root / "code" / "stubborn.py").write_text(STUBBORN_JOB)
    labship("lock", cwd=root, check=True)

    proc, out, err, took = _terminated_run(root)
    assert 2 <= took < 8, took  # its own 2 s, not the default 10 s
    assert proc.returncode == 137, err
    assert "ignoring TERM" in out and "never interrupted" not in out
    assert "did not stop within 2 s" in err and "stop_timeout" in err
    (record,) = records(root)
    assert (record["exit_code"], record["signal"], record["killed"]) == (137, "SIGTERM", True)
    table = labship("runs", cwd=root, check=True).stdout
    assert "137 (SIGTERM, killed)" in table


def test_old_run_records_without_the_signal_fields_still_read(make_project: MakeProject) -> None:
    root = make_project()
    (root / ".labship").mkdir()
    old = {
        "job": "hello",
        "profile": "dev",
        "runtime": "local",
        "start": "2026-01-01T00:00:00Z",
        "duration_s": 1.5,
        "exit_code": 0,
        "lock_hash": "a" * 64,
        "git_commit": None,
    }
    (root / ".labship" / "runs.jsonl").write_text(json.dumps(old) + "\n")
    listed = labship("runs", "--json", cwd=root, check=True)
    assert json.loads(listed.stdout) == [{**old, "signal": None, "killed": False}]
    assert listed.stderr == ""


def test_missing_system_package_is_reported_with_its_install_command(
    make_project: MakeProject,
) -> None:
    root = make_project(
        extra_toml='\n[docker]\nsystem_packages = ["coreutils", "labship-no-such-package"]\n'
    )
    labship("lock", cwd=root, check=True)
    proc = labship("run", cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert "system packages missing on this machine: labship-no-such-package " in proc.stderr
    assert "sudo apt-get install labship-no-such-package" in proc.stderr
    assert "coreutils," not in proc.stderr


def test_native_packages_a_kept_package_loads_are_system_packages(tmp_path: Path) -> None:
    """pyodbc kept, unixodbc native: the local runtime names unixodbc with the rest."""
    from labship.project import load_project
    from labship.spec import system_packages

    (tmp_path / "labship.toml").write_text(
        '[project]\nname = "odbc"\npython = "3.11"\nspec = "environment.yml"\n'
    )
    (tmp_path / "environment.yml").write_text(
        "dependencies:\n  - python=3.11\n  - pyodbc=5.2.0=py311h2dc5d0c_0\n"
        "  - unixodbc=2.3.12=h661eb56_0\n  - libgcc-ng=13.2.0=h807b86a_3\n"
    )
    assert system_packages(load_project(tmp_path)) == ("unixodbc",)
    (tmp_path / "environment.yml").write_text("dependencies:\n  - unixodbc\n  - six\n")
    assert system_packages(load_project(tmp_path)) == ()  # nothing kept loads it
