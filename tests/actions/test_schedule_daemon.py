"""Scheduled jobs for real: Debian's cron daemon fires a run; the generated wrapper skips
an overlapping run, enforces a timeout (SIGTERM, then SIGKILL), and pings a local HTTP
server. The user's crontab is saved before each test and restored after it; a daemon
the tests start is stopped at the end. Needs root and Debian's ``cron`` (CI installs it
in scripts/engine-up.sh); elsewhere these tests skip, in CI they fail."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from conftest import MakeProject, labship
from labship.tools import crontab

SECRET = "prod-secret-value-456"
USER_LINES = (
    'MAILTO=""\nPATH=/usr/local/bin:/usr/bin:/bin\n# my own nightly job\n0 3 * * * /bin/true\n'
)
CRON_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/root", "SHELL": "/bin/sh", "LANG": "C"}
_MISSING = shutil.which("cron") is None or shutil.which("crontab") is None or os.geteuid() != 0
if _MISSING and os.environ.get("CI") == "true":
    raise RuntimeError("CI needs Debian's cron and root for these tests: run scripts/engine-up.sh")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_MISSING, reason="needs root and Debian's cron (apt-get install cron)"),
]


@pytest.fixture(scope="module")
def cron_daemon() -> Iterator[None]:
    """The machine's cron daemon, or one started here (and stopped after)."""
    if crontab.daemon_running():
        yield
        return
    daemon = subprocess.Popen(["cron", "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # cron notices a crontab change by the spool folder's mtime, in whole seconds: one
    # written in the second cron first read the folder would never be seen. Let it start.
    deadline = time.monotonic() + 10
    while not crontab.daemon_running() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    try:
        yield
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


@pytest.fixture
def saved_crontab() -> Iterator[None]:
    """The user's crontab before the test, put back after it (or removed if none)."""
    before = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    try:
        yield
    finally:
        if before.returncode == 0:
            subprocess.run(["crontab", "-"], input=before.stdout, text=True, check=True)
        else:
            subprocess.run(["crontab", "-r"], capture_output=True)


def _crontab(text: str | None) -> None:
    if text is None:
        subprocess.run(["crontab", "-r"], capture_output=True)
    else:
        subprocess.run(["crontab", "-"], input=text, text=True, check=True)


def _read_crontab() -> str:
    return subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=True).stdout


JOBS = {
    "hello": "python code/hello.py",
    "nap": "python code/nap.py",
    "stubborn": "python code/stubborn.py",
    "fail": "python -c 'import sys; sys.exit(3)'",
}
NAP = "import time\nprint('sleeping', flush=True)\ntime.sleep(4)\n"
STUBBORN = """\
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open("stubborn.pid", "w").write(str(os.getpid()))
print("ignoring SIGTERM", flush=True)
time.sleep(120)
"""


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    """A locked project whose prod environment is built, with a job for every case."""
    root = make_project(jobs=JOBS)
    text = (root / "labship.toml").read_text()
    for name in JOBS:
        text = text.replace(f"[jobs.{name}]\n", f'[jobs.{name}]\nruntime = "local"\n')
    (root / "labship.toml").write_text(text)
    (root / "code" / "nap.py").write_text(NAP)
    (root / "code" / "stubborn.py").write_text(STUBBORN)
    labship("lock", cwd=root, check=True)
    labship("run", "hello", "--profile", "prod", "--runtime", "local", cwd=root, check=True)
    return root


def _schedule_all(root: Path, expression: str, **extra: str) -> None:
    """Give every job a schedule (and ``extra`` keys) and write the wrappers."""
    text = (root / "labship.toml").read_text()
    for name in JOBS:
        keys = "".join(f"{k} = {json.dumps(v)}\n" for k, v in extra.items())
        timeout = "timeout = 2\n" if name == "stubborn" else ""
        text = text.replace(
            f"[jobs.{name}]\n",
            f"[jobs.{name}]\nschedule = {json.dumps(expression)}\n{timeout}{keys}",
        )
    (root / "labship.toml").write_text(text)
    labship("export", "cron", cwd=root, check=True)


def _wrapper(root: Path, job: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["/bin/sh", str(root / ".labship" / "cron" / f"{job}.sh")],
        env=CRON_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[call-overload]
    )


def _run(root: Path, job: str) -> int:
    proc = _wrapper(root, job)
    proc.communicate(timeout=120)
    return proc.returncode


def _records(root: Path, job: str) -> list[dict[str, object]]:
    log = root / ".labship" / "runs.jsonl"
    lines = log.read_text().splitlines() if log.exists() else []
    return [r for r in map(json.loads, lines) if r["job"] == job]


def _logs(root: Path, job: str) -> list[Path]:
    return sorted((root / ".labship" / "cron" / "logs" / job).glob("*.log"))


def test_the_cron_daemon_fires_a_real_run(
    project: Path, cron_daemon: None, saved_crontab: None
) -> None:
    _crontab(USER_LINES)
    before = len(_records(project, "hello"))
    started = time.monotonic()
    result = labship("schedule", "hello", "--cron", "* * * * *", cwd=project, check=True)
    assert "scheduled 'hello': * * * * *" in result.stderr
    deadline = started + 140  # the next minute (or the one after, under load), and the run
    while len(_records(project, "hello")) == before and time.monotonic() < deadline:
        time.sleep(1)
    fired_after = time.monotonic() - started
    [record] = _records(project, "hello")[before:]
    assert (record["exit_code"], record["profile"], record["runtime"]) == (0, "prod", "local")
    assert "outcome" not in record
    [log] = _logs(project, "hello")
    assert "greeting prod-hello" in log.read_text()
    assert _read_crontab().startswith(USER_LINES)
    listed = labship("schedule", "list", cwd=project, check=True).stdout
    assert "exit 0" in listed and " yes " in listed
    for text in (
        _read_crontab(),
        log.read_text(),
        (project / ".labship/cron/hello.sh").read_text(),
    ):
        assert SECRET not in text
    labship("schedule", "remove", "hello", cwd=project, check=True)
    assert _read_crontab() == USER_LINES
    print(f"cron fired the run {fired_after:.0f} s after 'labship schedule'")


def test_the_first_install_for_a_user_without_a_crontab(project: Path, saved_crontab: None) -> None:
    _crontab(None)
    labship("schedule", "hello", "--cron", "0 4 * * *", cwd=project, check=True)
    assert _read_crontab().splitlines()[1].startswith("0 4 * * * /bin/sh ")
    labship("schedule", cwd=project, check=True)  # again: the same table
    assert len(_read_crontab().splitlines()) == 2


def test_an_overlapping_run_is_skipped(project: Path) -> None:
    _schedule_all(project, "@yearly")
    first = _wrapper(project, "nap")
    deadline = time.monotonic() + 30
    while not any("sleeping" in p.read_text() for p in _logs(project, "nap")):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.2)
    second = _wrapper(project, "nap")
    _, err = second.communicate(timeout=60)
    assert second.returncode == 75
    assert "labship: nap: skipped, the previous run is still going" in err
    first.communicate(timeout=60)
    assert first.returncode == 0
    records = _records(project, "nap")
    assert [(r["exit_code"], r.get("outcome", "")) for r in records] == [(75, "skipped"), (0, "")]
    [log] = _logs(project, "nap")  # the skip is a line in the running run's log
    assert "skipped a run of nap: the previous one is still going" in log.read_text()


def test_a_timeout_stops_the_job_with_sigterm_then_sigkill(project: Path) -> None:
    _schedule_all(project, "@yearly")
    started = time.monotonic()
    wrapper = _wrapper(project, "stubborn")
    _, err = wrapper.communicate(timeout=120)
    took = time.monotonic() - started
    assert wrapper.returncode == 124, err
    # 2 s, then labship run's grace of 10 s for a job that ignores SIGTERM, then SIGKILL
    assert 11 < took < 30
    records = _records(project, "stubborn")
    assert [(r["exit_code"], r.get("outcome", "")) for r in records] == [
        (137, ""),  # labship run: the job was killed
        (124, "timeout"),  # the wrapper: why
    ]
    pid = int((project / "stubborn.pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    text = _logs(project, "stubborn")[0].read_text()
    assert "ignoring SIGTERM" in text and "was stopped after its timeout of 2 s" in text


class _Pings(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ping_server() -> Iterator[str]:
    _Pings.seen = []
    server = HTTPServer(("127.0.0.1", 0), _Pings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ping/abc"
    finally:
        server.shutdown()
        server.server_close()


def test_pings_at_start_on_success_and_on_failure(project: Path, ping_server: str) -> None:
    _schedule_all(project, "@yearly", ping_url=ping_server)
    assert _run(project, "hello") == 0
    assert _Pings.seen == ["/ping/abc/start", "/ping/abc"]
    _Pings.seen.clear()
    failing = _wrapper(project, "fail")
    _, err = failing.communicate(timeout=120)
    assert failing.returncode == 3
    assert _Pings.seen == ["/ping/abc/start", "/ping/abc/3"]
    assert "labship: fail exited with code 3 (log: " in err


def test_a_ping_that_fails_does_not_fail_the_run(project: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _schedule_all(project, "@yearly", ping_url=f"http://127.0.0.1:{port}/nobody")
    assert _run(project, "hello") == 0
    text = _logs(project, "hello")[0].read_text()
    assert "labship: warning: ping to 127.0.0.1:" in text and "the run is unaffected" in text


def test_log_retention_keeps_the_last_runs(project: Path) -> None:
    from labship.targets.cron import KEEP_LOGS

    _schedule_all(project, "@yearly")
    logs = project / ".labship" / "cron" / "logs" / "hello"
    logs.mkdir(parents=True)
    old = [f"2020-{i:03d}.log" for i in range(KEEP_LOGS + 5)]  # sort before any real name
    for name in old:
        (logs / name).write_text("old\n")
    assert _run(project, "hello") == 0
    kept = sorted(p.name for p in logs.iterdir())
    assert kept[:-1] == old[6:]  # the 6 oldest went: 30 kept, this run's included
    assert "greeting prod-hello" in (logs / kept[-1]).read_text()


def test_a_run_that_never_reached_the_job_gets_a_record(project: Path) -> None:
    _schedule_all(project, "@yearly")
    (project / "requirements.txt").write_text("six==1.16.0\niniconfig==2.0.0\n")  # lock stale
    proc = _wrapper(project, "hello")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 77, err  # --locked: cron never resolves
    [record] = [r for r in _records(project, "hello") if r.get("outcome")]
    assert (record["exit_code"], record["outcome"]) == (77, "error")
    assert "labship lock" in _logs(project, "hello")[0].read_text()
