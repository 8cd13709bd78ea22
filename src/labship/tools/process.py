"""Processes: run a tool and fail with its own words; run a child in the foreground and
pass signals on; wait for a child (stopping it, then killing it, when labship is
signalled); wait until something is ready.

Every runtime runs its children through here, so a signal is handled the same way
whether the child is a job in a venv or a docker client attached to a container.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from labship.console import LINE_LIMIT, Console
from labship.errors import ProfileError, ToolError, UsageError
from labship.tools.procinfo import start_time


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    stdout: str
    stderr: str


def run_tool(
    tool: str,
    argv: Sequence[str],
    *,
    console: Console | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
    stdin: str | None = None,
    stop: Callable[[subprocess.Popen[str]], None] | None = None,
) -> ToolResult:
    """Run ``argv``; stderr lines stream to the console as they come, stdout is captured.

    On failure raise ToolError carrying the tool's last lines of stderr (masked), so
    the user sees the tool's own message, not ours. With ``stop``, the tool runs in its
    own process group and ``stop`` ends it (and what it started) when labship is
    interrupted; without, the tool alone is terminated.
    """
    try:
        proc = subprocess.Popen(
            list(argv),
            process_group=0 if stop else None,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            text=True,
            errors="replace",
        )
    except FileNotFoundError:
        raise ToolError(f"{tool} not found ({argv[0]})", hint=f"install {tool}") from None
    if stdin is not None:
        assert proc.stdin is not None
        # A tool that exits before reading its input: its exit code and stderr say why.
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(stdin)
        with contextlib.suppress(BrokenPipeError):  # closed even when the flush fails
            proc.stdin.close()
    # stdout may be large (docker save, uv export); read it on a thread while stderr streams.
    out_chunks: list[str] = []
    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None
    reader = threading.Thread(target=lambda: out_chunks.append(stdout.read()))
    reader.start()
    err_lines: list[str] = []
    with proc:  # closes the pipes whatever happens
        try:
            for line in stderr:
                err_lines.append(line)
                if console is not None:
                    console.tool_line(line.rstrip("\n"))
            proc.wait()
        except BaseException:
            (stop or _terminate)(proc)
            raise
        finally:
            reader.join()
    result = ToolResult(proc.returncode, "".join(out_chunks), "".join(err_lines))
    if check and proc.returncode != 0:
        raise ToolError(failure_message(tool, argv, result, console))
    return result


@dataclass(frozen=True)
class BytesResult:
    returncode: int
    stdout: bytes
    stderr: str


def run_bytes(tool: str, argv: Sequence[str], *, stdin: bytes | None = None) -> BytesResult:
    """Run a quick tool whose stdin and stdout are data, not text: bytes in, bytes out,
    never decoded (stderr, its message, is text). A missing tool is a ToolError."""
    try:
        proc = subprocess.run(
            list(argv),
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise ToolError(f"{tool} not found ({argv[0]})", hint=f"install {tool}") from None
    return BytesResult(proc.returncode, proc.stdout, proc.stderr.decode(errors="replace"))


def _terminate(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait()


_LAST = 60  # characters of a tool's last line quoted at least


def failure_message(
    tool: str, argv: Sequence[str], result: ToolResult, console: Console | None
) -> str:
    """One line: the tool, its last line of output, and, when there is more than fits,
    the log file holding all of it (masked like everything labship prints)."""
    text = result.stderr or result.stdout or ""
    mask = console.mask if console is not None else (lambda t: t)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    command = " ".join(argv[:3])
    command = command if len(command) <= 60 else command[:57] + "..."
    head = f"{tool} failed ({command} ...)"
    last = lines[-1] if lines else f"exit code {result.returncode}"
    if len(lines) <= 1 and len(head) + len(last) + 2 <= LINE_LIMIT:
        return mask(f"{head}: {last}")
    log = write_log(tool, mask(text))
    where = f"; all its output: {log}" if log is not None else ""
    room = max(_LAST, LINE_LIMIT - len(head) - len(where) - 2)
    shown = last if len(last) <= room else last[: room - 3] + "..."
    return mask(f"{head}: {shown}{where}")


def write_log(tool: str, text: str) -> Path | None:
    """A tool's whole output in the cache's logs/ folder (private); None if unwritable."""
    import os

    from labship.dirs import cache_root

    folder = cache_root() / "logs"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = folder / f"{tool.replace(' ', '-')}-{stamp}-{os.getpid()}.log"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as out:
            out.write(text)
    except OSError:
        return None
    return path


# --------------------------------------------------------------------------- signals

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_GRACE = 10.0  # seconds a signalled child gets before it is killed (as docker stop)
Handler = Callable[[int, FrameType | None], object]


@contextlib.contextmanager
def signals_handled(handler: Handler, signums: Iterable[int]) -> Iterator[None]:
    """``handler`` for ``signums`` while the block runs (main thread only), then restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in signums}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def forward_signals(
    proc: subprocess.Popen[bytes],
    signums: Iterable[int] = FORWARDED,
    *,
    skip: Callable[[int], bool] = lambda _signum: False,
) -> Iterator[list[int]]:
    """Hand ``signums`` to ``proc`` instead of dying; yields the signals passed on.
    ``skip(signum)`` is True for one the child gets by itself (Ctrl-C on a terminal)."""
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        if skip(signum):
            return
        received.append(signum)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

    with signals_handled(forward, signums):
        yield received


@contextlib.contextmanager
def deferred_signals(signums: Iterable[int] = FORWARDED) -> Iterator[list[int]]:
    """Note signals instead of dying, so a step that must finish (creating a container
    that a ``finally`` removes) is not cut in half."""
    received: list[int] = []
    with signals_handled(lambda signum, _frame: received.append(signum), signums):
        yield received


# --------------------------------------------------------------------------- a killed labship

# What a killed labship owes its job: what a signalled one does. Signalled, labship passes
# SIGTERM on, waits the job's stop_timeout, then kills it. Killed (SIGKILL, the OOM
# killer, a crash) it can do nothing, so a keeper does it instead: a fork of labship, in a
# session of its own, that holds the read end of a pipe whose write end only labship
# holds. The kernel closes that end whatever way labship ends; EOF without labship's
# "done" byte means the job lost its caller, and the keeper stops it (``on_orphan``) as
# labship would have: the same on every runtime (a process here, a container there).
# Why not PR_SET_PDEATHSIG: it only signals a direct child and cannot wait a grace period
# or stop a container (a docker client that dies leaves its container running).


@contextlib.contextmanager
def kept(on_orphan: Callable[[], None]) -> Iterator[None]:
    """Run ``on_orphan`` in a keeper process if labship dies, or the block raises, before
    the block ends; a block that ends normally dismisses the keeper."""
    read_end, write_end = os.pipe()  # not inherited by children labship starts
    pid = os.fork()
    if pid == 0:  # the keeper
        try:
            _keep(read_end, write_end, on_orphan)
        finally:
            os._exit(0)
    os.close(read_end)
    try:
        yield
    except BaseException:
        os.close(write_end)  # EOF without "done": the keeper stops what is left
        raise
    with contextlib.suppress(OSError):
        os.write(write_end, b"done")
    os.close(write_end)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _keep(read_end: int, write_end: int, on_orphan: Callable[[], None]) -> None:
    os.close(write_end)
    os.setsid()  # no terminal's signals, nor the ones sent to labship's process group
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(signum, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # nobody waits on labship's pipes because of the keeper
        os.dup2(null, fd)
    os.closerange(3, read_end)  # nor holds labship's files and locks open
    os.closerange(read_end + 1, 65536)
    while True:
        try:
            said = os.read(read_end, 4)
            break
        except InterruptedError:
            continue
    if not said:
        on_orphan()


def stop_orphan(pid: int, started: str | None, grace: float) -> None:
    """SIGTERM to ``pid`` (if it is still the process that ``started``), ``grace`` seconds,
    then SIGKILL: what labship does to its job when it is signalled itself. Runs in the
    keeper (a fork): nothing here imports or takes a lock another thread might hold."""

    def same() -> bool:
        return started is not None and start_time(pid) == started and not _zombie(pid)

    if not same():
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not same():
            return
        time.sleep(0.1)
    if same():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    """Exited, not yet reaped by its new parent: nothing left to stop."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[:1] == ["Z"]
    except OSError:
        return True


@dataclass(frozen=True)
class Ended:
    """How a child ended: its exit code (128+N for a signal N, as shells report it), the
    first signal labship passed on to it, and whether labship had to kill it."""

    exit_code: int
    signal: int | None = None
    killed: bool = False

    @property
    def signal_name(self) -> str | None:
        return signal.Signals(self.signal).name if self.signal is not None else None


def wait(
    proc: subprocess.Popen[bytes],
    received: list[int],
    *,
    kill: Callable[[], None],
    grace: float = STOP_GRACE,
) -> Ended:
    """Wait for ``proc``; once a signal was passed on, give it ``grace`` seconds (none
    after a second signal), then ``kill()`` it."""
    deadline: float | None = None
    first: int | None = None
    killed = False
    # A thread blocks in wait(): Popen.wait(timeout) polls with sleeps up to 50 ms, which
    # every run would pay; the event wakes us the moment the child exits.
    done = threading.Event()

    def reap() -> None:
        proc.wait()
        done.set()

    threading.Thread(target=reap, daemon=True).start()
    while not done.wait(timeout=0.2):
        if not received:
            continue
        first = received[0] if first is None else first
        if deadline is None:
            deadline = time.monotonic() + grace
        if len(received) > 1 or time.monotonic() > deadline:
            kill()
            killed = True
            received.clear()
            deadline = None
    first = received[0] if first is None and received else first
    code = proc.returncode
    return Ended(128 - code if code < 0 else code, first, killed)


def run_foreground(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    what: str,
    grace: float = STOP_GRACE,
) -> Ended:
    """Run a child in the foreground, pass signals on, return how it ended.

    SIGTERM and SIGHUP are always passed on. SIGINT reaches the child from the terminal by
    itself (same process group); it is passed on only when there is no terminal, e.g. when
    a scheduler signals labship's pid alone. A child that ignores the signal is killed
    after ``grace`` seconds: labship must not wait forever, nor leave it behind.
    """
    try:
        proc = subprocess.Popen(list(argv), env=dict(env), cwd=cwd)
    except FileNotFoundError:
        raise UsageError(
            f"{what}: command {argv[0]!r} not found in the environment",
            hint="check the command in labship.toml",
        ) from None
    except PermissionError:
        raise UsageError(f"{what}: {argv[0]!r} is not executable") from None
    except (OSError, ValueError) as exc:  # E2BIG, or a NUL byte (ValueError)
        raise ProfileError(
            f"{what}: the kernel refused its variables or arguments "
            f"({getattr(exc, 'strerror', None) or 'a NUL byte'})",
            hint="keep each value under 128 KiB and free of NUL bytes; pass big data in a file",
        ) from None
    interactive = sys.stdin.isatty()

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()

    def from_terminal(signum: int) -> bool:
        return signum == signal.SIGINT and interactive

    started = start_time(proc.pid)
    with (
        kept(lambda: stop_orphan(proc.pid, started, grace)),
        forward_signals(proc, skip=from_terminal) as received,
    ):
        return wait(proc, received, kill=kill, grace=grace)


def wait_until(
    ready: Callable[[], bool],
    *,
    alive: Callable[[], bool] = lambda: True,
    timeout: float,
    interval: float = 0.3,
) -> bool:
    """Poll ``ready`` until it is True (True), or ``alive`` is False or time is up (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        if ready():
            return True
        time.sleep(interval)
    return False
