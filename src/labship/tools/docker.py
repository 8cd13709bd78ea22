"""The one wrapper for the docker CLI: which client builds, is the engine there, run it,
and a container's lifecycle (create, start attached, signal, kill, remove).

Two clients can sit on one machine: a new one without the buildx plugin (it refuses
BuildKit) and an older one that does BuildKit itself. Images need BuildKit (cache and
secret mounts), so the build client is chosen by what works, not by PATH order, and the
choice is cached for the process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlparse

from labship.atomicfile import write_text_atomic
from labship.console import Console
from labship.errors import RuntimeUnavailable
from labship.tools.process import ToolResult, run_tool
from labship.tools.process import kept as keeper

if TYPE_CHECKING:
    from labship.tools.process import Ended

HINT = "use the local runtime: --runtime local"
_FALLBACK_CLIENTS = ("/usr/bin/docker", "/usr/local/bin/docker")
_DEFAULT_SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True)
class Client:
    """A docker binary and how it builds with BuildKit."""

    binary: str
    buildx: bool  # True: "docker buildx build"; False: DOCKER_BUILDKIT=1 "docker build"

    @property
    def build_argv(self) -> list[str]:
        return [self.binary, "buildx", "build", "--load"] if self.buildx else [self.binary, "build"]

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_BUILDKIT"] = "1"
        if extra:
            env.update(extra)
        return env


def _candidates() -> list[str]:
    """Every docker binary on PATH, then the usual places, each once."""
    found: list[str] = []
    seen: set[str] = set()
    on_path = [
        os.path.join(d or ".", "docker") for d in os.environ.get("PATH", "").split(os.pathsep)
    ]
    for path in [*on_path, *_FALLBACK_CLIENTS]:
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            continue
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append(path)
    return found


def _quiet(argv: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[int, str]:
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            errors="replace",
            env=dict(env) if env is not None else None,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return proc.returncode, proc.stdout + proc.stderr


@cache
def build_client() -> Client:
    """The first client that builds with BuildKit: buildx, else DOCKER_BUILDKIT=1 build.

    Probing costs ~80 ms of subprocesses, so the answer is remembered per machine (keyed
    by the clients' paths and mtimes): ``labship run`` uses the same client, unprobed.
    """
    candidates = _candidates()
    if not candidates:
        raise RuntimeUnavailable("docker not found (no 'docker' binary on PATH)", hint=HINT)
    key = [[path, os.stat(path).st_mtime_ns] for path in candidates]
    memo = _memo_path("docker-client.json")
    try:
        saved = json.loads(memo.read_text())
        if saved["key"] == key:
            return Client(saved["binary"], buildx=saved["buildx"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    client = _probe(candidates)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps({"key": key, "binary": client.binary, "buildx": client.buildx}))
    except OSError:
        pass
    return client


def _memo_path(name: str) -> Path:
    from labship.dirs import cache_root

    return cache_root() / name


def _probe(candidates: list[str]) -> Client:
    for binary in candidates:
        if _quiet([binary, "buildx", "version"])[0] == 0:
            return Client(binary, buildx=True)
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    for binary in candidates:
        # A client without buildx refuses even --help once BuildKit is asked for.
        code, out = _quiet([binary, "build", "--help"], env)
        if code == 0 and "--secret" in out:
            return Client(binary, buildx=False)
    raise RuntimeUnavailable(
        f"no docker client here can build with BuildKit (tried {', '.join(candidates)}; "
        "no buildx plugin, and 'DOCKER_BUILDKIT=1 docker build' is refused)",
        hint=f"install docker-buildx, or {HINT}",
    )


@cache
def binary() -> str:
    """The client for everything: the build client if any (one client, one behaviour:
    28.x's ``start -a`` does not pass SIGTERM on as 20.10's does), else the first found."""
    try:
        return build_client().binary
    except RuntimeUnavailable:
        candidates = _candidates()
        if not candidates:
            raise
        return candidates[0]


def docker(
    args: Sequence[str],
    *,
    console: Console | None,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> ToolResult:
    """Run ``docker ARGS``; a failure is a ToolError carrying docker's own message."""
    client = Client(binary(), buildx=False)
    return run_tool(
        "docker",
        [client.binary, *args],
        console=console,
        env=client.env(env),
        check=check,
        stdin=stdin,
    )


def ping() -> str:
    """The engine's version, or one RuntimeUnavailable line saying which part is missing."""
    candidates = _candidates()
    if not candidates:
        raise RuntimeUnavailable("docker not found (no 'docker' binary on PATH)", hint=HINT)
    code, out = _quiet([binary(), "version", "--format", "{{.Server.Version}}"])
    if code == 0 and out.strip():
        return out.strip().splitlines()[-1]
    lowered = out.lower()
    if "permission denied" in lowered:
        raise RuntimeUnavailable(
            f"permission denied on the Docker socket ({_socket_label()})",
            hint=f"add yourself to the 'docker' group, or {HINT}",
        )
    if "cannot connect" in lowered or "is the docker daemon running" in lowered:
        raise RuntimeUnavailable(
            f"cannot connect to the Docker engine at {_socket_label()} (daemon not running?)",
            hint=f"start it (scripts/engine-up.sh), or {HINT}",
        )
    detail = " ".join(out.split())[:200] or f"exit code {code}"
    raise RuntimeUnavailable(f"the Docker engine does not answer: {detail}", hint=HINT)


def _socket_label() -> str:
    return os.environ.get("DOCKER_HOST") or f"unix://{_DEFAULT_SOCKET}"


def _engine_get(path: str, timeout: float) -> tuple[int, bytes] | None:
    """GET ``path`` from the engine API over its socket: (status, body), or None when no
    engine answers. No subprocess: a docker CLI call costs ~50 ms, this ~1 ms."""
    return _engine_call("GET", path, None, timeout)


def _engine_call(
    method: str, path: str, body: bytes | None, timeout: float
) -> tuple[int, bytes] | None:
    """One request to the engine API (HTTP/1.0 over its socket, JSON ``body``)."""
    host = os.environ.get("DOCKER_HOST") or f"unix://{_DEFAULT_SOCKET}"
    url = urlparse(host)
    sock: socket.socket | None = None
    try:
        if url.scheme == "unix":
            sock_path = url.path or _DEFAULT_SOCKET
            if not os.path.exists(sock_path):
                return None
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(sock_path)
        elif url.scheme in ("tcp", "http"):
            if url.hostname is None:
                return None
            sock = socket.create_connection((url.hostname, url.port or 2375), timeout=timeout)
        else:  # ssh://, npipe:// and TLS engines: only the CLI can tell
            return None
        request = f"{method} {path} HTTP/1.0\r\nHost: docker\r\n"
        if body is not None:
            request += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        sock.sendall(request.encode() + b"\r\n" + (body or b""))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split()
        if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
            return None
        return int(status[1]), body
    except OSError:
        return None
    finally:
        if sock is not None:
            sock.close()


@cache
def _other_context() -> bool:
    """Whether the CLI talks to another engine than DOCKER_HOST's (a ``docker context``):
    then only the CLI knows where, and a container is created with the CLI."""
    if os.environ.get("DOCKER_HOST"):
        return False  # DOCKER_HOST wins over any context, for the CLI too
    chosen = os.environ.get("DOCKER_CONTEXT")
    if chosen is None:
        folder = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
        try:
            with open(os.path.join(folder, "config.json"), encoding="utf-8") as fh:
                chosen = json.load(fh).get("currentContext")
        except (OSError, ValueError, AttributeError):
            chosen = None
    return chosen not in (None, "", "default")


def engine_reachable(timeout: float = 0.5) -> bool:
    """GET /_ping on the engine's socket: for auto-detection on every run."""
    reply = _engine_get("/_ping", timeout)
    return reply is not None and reply[0] == 200


def inspect_image(ref: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """The engine's view of an image (Id, Config.Labels, ...); None if absent or no API."""
    reply = _engine_get(f"/images/{quote(ref, safe='')}/json", timeout)
    if reply is None or reply[0] != 200:
        return None
    data: dict[str, Any] = json.loads(reply[1])
    return data


def insecure_registry(host: str, timeout: float = 2.0) -> bool:
    """Whether the engine is told to reach ``host`` without verified TLS (daemon.json's
    insecure-registries: a name, or a CIDR holding its address)."""
    import ipaddress

    reply = _engine_get("/info", timeout)
    if reply is None or reply[0] != 200:
        return False
    config = json.loads(reply[1]).get("RegistryConfig") or {}
    index = (config.get("IndexConfigs") or {}).get(host) or {}
    if index.get("Secure") is False:
        return True
    try:
        address = ipaddress.ip_address(host.rsplit(":", 1)[0].strip("[]"))
    except ValueError:
        return False
    cidrs = config.get("InsecureRegistryCIDRs") or []
    return any(address in ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


_PYTHON_ENV = re.compile(r"^PYTHON_VERSION=(\d+\.\d+(?:\.\d+)?)")
_PRINT_PYTHON = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


def image_python(ref: str) -> tuple[str, str | None] | None:
    """(image ID, the Python version its ``python3`` runs) for an image on this machine;
    None when the image is not here. The version is None when the image has no python3.
    Read from the image's PYTHON_VERSION (the official python images set it), else by
    running ``python3`` once; remembered by image ID, which no tag move can fool."""
    found = inspect_image(ref)
    if found is None or not found.get("Id"):
        return None
    image_id = str(found["Id"])
    memo = _memo_path("docker-python.json")
    try:
        seen = dict(json.loads(memo.read_text()))
    except (OSError, ValueError, TypeError):
        seen = {}
    if image_id in seen:
        known = seen[image_id]
        return image_id, known if isinstance(known, str) and known else None
    version = next(
        (m.group(1) for env in (found.get("Config") or {}).get("Env") or []
         if (m := _PYTHON_ENV.match(str(env)))),
        None,
    )  # fmt: skip
    if version is None:
        argv = [binary(), "run", "--rm", "--network", "none", "--entrypoint", "python3"]
        code, out = _quiet([*argv, image_id, "-c", _PRINT_PYTHON])
        lines = out.strip().splitlines()
        version = lines[-1] if code == 0 and lines and re.fullmatch(r"[\d.]+", lines[-1]) else ""
    with contextlib.suppress(OSError):
        write_text_atomic(memo, json.dumps({**seen, image_id: version}))
    return image_id, version or None


PULLABLE_FOR = 24 * 3600.0  # seconds a "the registry has it" answer is trusted


def pull_problem(ref: str, timeout: float = 5.0) -> str | None:
    """None when the engine can get ``ref`` from its registry; else why not, in a few words.
    GET /distribution/REF/json asks the registry for the manifest and pulls nothing. A yes
    is remembered for a day: BuildKit keeps pulled images out of the image list, so
    without it every auto-detection on a connected machine would ask the registry."""
    memo = _memo_path("docker-pullable.json")
    try:
        seen = dict(json.loads(memo.read_text()))
    except (OSError, ValueError, TypeError):
        seen = {}
    when = seen.get(ref)
    if isinstance(when, (int, float)) and 0 <= time.time() - when < PULLABLE_FOR:
        return None
    reply = _engine_get(f"/distribution/{quote(ref, safe='/:@')}/json", timeout)
    if reply is None:
        return f"no answer within {timeout:.0f} s"
    if reply[0] != 200:
        try:
            message = str(json.loads(reply[1]).get("message", ""))
        except (ValueError, AttributeError):
            message = reply[1].decode(errors="replace")
        return registry_problem(message)
    with contextlib.suppress(OSError):
        write_text_atomic(memo, json.dumps({**seen, ref: time.time()}))
    return None


_HOST = re.compile(r"https?://([^/\"\s]+)/|lookup ([^\s:]+)")
_REGISTRY_PROBLEMS = (
    (("no such host", "server misbehaving", "name resolution"), "DNS lookup of {host} failed"),
    (("connection refused",), "{host} refused the connection"),
    (("network is unreachable", "no route to host"), "no network route to {host}"),
    (("i/o timeout", "deadline exceeded", "timeout"), "timed out reaching {host}"),
    (("x509", "certificate"), "the TLS certificate of {host} is not trusted"),
    (("manifest unknown", "not found"), "not found in {host}"),
    (
        ("unauthorized", "denied", "authorization failed", "insufficient_scope", "authenticat"),
        "not found, or access denied by {host} (a private image needs docker login)",
    ),
)


def registry_problem(message: str) -> str:
    """The engine's or BuildKit's registry error as a few words: DNS failure, connection
    refused, timeout, TLS, not found, unauthorized; else its last clause."""
    found = _HOST.search(message)
    host = (found.group(1) or found.group(2)) if found else "the registry"
    lowered = message.lower()
    for needles, words in _REGISTRY_PROBLEMS:
        if any(needle in lowered for needle in needles):
            return words.format(host=host)
    return message.strip().rpartition(": ")[2][:120] or "unknown error"


_METADATA_STEP = re.compile(r"^#(\d+) \[[^\]]*\] load metadata for (\S+)\s*$", re.M)
_STEP_ERROR = re.compile(r"^#(\d+) ERROR: (.+)$", re.M)
_RESOLVE_ERROR = re.compile(r"failed to resolve source metadata for (\S+?): (.+)$", re.M)
_FAILED_STEP = re.compile(r"^ > \[[^\]]*\] load metadata for (\S+?):$", re.M)
_SOLVE_ERROR = re.compile(r"^failed to solve with frontend \S+: (.+)$", re.M)


def pull_failure(log: str) -> tuple[str, str] | None:
    """(image, why) when a BuildKit build failed because it could not get an image it
    starts FROM; None for any other failure."""
    images = {step: ref for step, ref in _METADATA_STEP.findall(log)}
    for step, message in _STEP_ERROR.findall(log):
        if step in images:
            return _short_ref(images[step]), registry_problem(message)
    resolved = _RESOLVE_ERROR.search(log)  # newer BuildKit: one summary line
    if resolved:
        return _short_ref(resolved.group(1)), registry_problem(resolved.group(2))
    summary, solve = _FAILED_STEP.search(log), _SOLVE_ERROR.search(log)  # no step error line
    if summary and solve:
        return _short_ref(summary.group(1)), registry_problem(solve.group(1))
    return None


def _short_ref(ref: str) -> str:
    """docker.io/library/python:3.11-slim -> python:3.11-slim, as a user writes it."""
    return ref.removeprefix("docker.io/").removeprefix("library/")


def create_container(
    name: str, config: Mapping[str, Any], *, console: Console, timeout: float = 30.0
) -> str | None:
    """``docker create`` through the engine API: the new container's id, without starting
    a docker client (~50 ms). None when the API cannot be reached here (ssh://, TLS, no
    socket): use the CLI. A refusal (no such image, name taken) is a ToolError with the
    engine's own message, as the CLI would print it. Values travel in the request body,
    never on a command line."""
    from labship.errors import ToolError

    if _other_context():  # `docker start -a` must find it on the engine the CLI uses
        return None
    body = json.dumps(config).encode()
    reply = _engine_call("POST", f"/containers/create?name={quote(name, safe='')}", body, timeout)
    if reply is None:
        return None
    status, answer = reply
    try:
        data = json.loads(answer or b"{}")
    except ValueError:
        data = {}
    if status == 201 and isinstance(data, dict) and isinstance(data.get("Id"), str):
        return str(data["Id"])
    message = data.get("message") if isinstance(data, dict) else None
    why = f"Error response from daemon: {message or f'HTTP {status}'}"
    raise ToolError(console.mask(f"docker failed (docker create --name {name} ...): {why}"))


def container_exists(name: str, timeout: float = 2.0) -> bool | None:
    """True/False from the engine API; None when it cannot be asked (use the CLI)."""
    reply = _engine_get(f"/containers/{name}/json", timeout)
    if reply is None or reply[0] not in (200, 404):
        return None
    return reply[0] == 200


def engine_available() -> str | None:
    """None when images can be built and run here; else the reason (for test skips)."""
    if shutil.which("docker") is None and not _candidates():
        return "docker not found on PATH"
    if not engine_reachable(timeout=2.0):
        return f"no Docker engine answers at {_socket_label()} (run scripts/engine-up.sh)"
    try:
        build_client()
        ping()
    except RuntimeUnavailable as exc:
        return str(exc)
    return None


__all__ = [
    "HINT",
    "Client",
    "binary",
    "build_client",
    "container_exists",
    "docker",
    "engine_available",
    "engine_reachable",
    "insecure_registry",
    "inspect_image",
    "ping",
    "pull_failure",
    "pull_problem",
    "registry_problem",
]


# ------------------------------------------------------------------ container lifecycle
# Written once for the docker runtime's jobs, lab, shell and tracking server and for
# ``labship serve``'s container: ``docker create`` first (docker's own failures are
# captured there), then ``start -a`` in its own session with SIGINT/SIGTERM/SIGHUP passed
# on once, a kill after the grace period (a docker client that dies does not stop its
# container), and the container removed whatever happened.


def quiet(console: Console | None) -> Console:
    """The same stream and masking, without echoing the command."""
    if console is None:
        return Console(quiet=True)
    return Console(stream=console.stream, quiet=True, mask=console.mask)


def start_attached(name: str, *, interactive: bool = False) -> subprocess.Popen[bytes]:
    """``docker start -a NAME`` in its own session (so a terminal's Ctrl-C reaches labship
    first, which passes it on once); stdin only when the container reads it."""
    argv = [binary(), "start", "-a", *(["-i"] if interactive else []), name]
    return subprocess.Popen(
        argv, stdin=None if interactive else subprocess.DEVNULL, start_new_session=True
    )


def killer(name: str, grace: float, what: str, console: Console) -> Callable[[], None]:
    """What to do after ``grace`` seconds: say so, and kill the container itself."""

    def kill() -> None:
        console.warn(f"{what} did not stop within {grace:.0f} s; killing container {name}")
        docker(["kill", name], console=quiet(console), check=False)

    return kill


def attach(
    name: str, *, grace: float, what: str, console: Console, interactive: bool = False
) -> Ended:
    """Start a created container attached, pass signals on, kill it after ``grace``;
    how it ended."""
    from labship.tools.process import forward_signals, wait

    proc = start_attached(name, interactive=interactive)
    with forward_signals(proc) as received:
        return wait(proc, received, kill=killer(name, grace, what, console), grace=grace)


def kept(name: str, *, grace: float) -> AbstractContextManager[None]:
    """While the block runs, a keeper (``tools.process.kept``) for container ``name``: if
    labship dies, it runs ``docker stop`` (SIGTERM, SIGKILL after ``grace``) and removes
    the container (one created but never started too), as a signalled labship would."""
    client = binary()  # found now: the keeper only runs it
    stop = [client, "stop", "-t", str(int(grace)), name]
    remove = [client, "rm", "-f", name]

    def stop_orphan() -> None:
        for argv in (stop, remove):
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    return keeper(stop_orphan)


def start(name: str, *, console: Console) -> None:
    """``docker start NAME`` (detached); a ToolError carries docker's message."""
    docker(["start", name], console=console)


def stop(name: str, *, grace: float, console: Console) -> None:
    """``docker stop`` (SIGTERM, SIGKILL after ``grace``); a container already gone is fine."""
    docker(["stop", "-t", str(int(grace)), name], console=console, check=False)


def remove(name: str, *, console: Console) -> bool:
    """Remove ``name`` if it still exists; True if it did."""
    if container_exists(name) is False:  # the normal case after --rm: no CLI call
        return False
    # Quiet: "no such container" is the normal case after --rm.
    result = docker(["rm", "-f", name], console=quiet(console), check=False)
    return result.returncode == 0 and name in result.stdout


def running(name: str, *, console: Console) -> bool:
    result = docker(
        ["inspect", "--format", "{{.State.Running}}", name], console=quiet(console), check=False
    )
    return result.stdout.strip() == "true"


def logs(name: str, *, console: Console, tail: int = 30) -> str:
    """The container's last lines, joined on one line for an error message."""
    result = docker(["logs", "--tail", str(tail), name], console=quiet(console), check=False)
    lines = [ln.strip() for ln in (result.stdout + result.stderr).splitlines() if ln.strip()]
    return " | ".join(lines[-tail:]) or "(none)"
