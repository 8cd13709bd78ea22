"""The one wrapper for the docker CLI: which client builds, is the engine there, run it.

Two clients can sit on one machine: a new one without the buildx plugin (it refuses
BuildKit) and an older one that does BuildKit itself. Images need BuildKit (cache and
secret mounts), so the build client is chosen by what works, not by PATH order, and the
choice is cached for the process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlparse

from labship.console import Console
from labship.errors import RuntimeUnavailable
from labship.tools.process import ToolResult, run_tool

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
    """The first client that builds with BuildKit: buildx, else DOCKER_BUILDKIT=1 build."""
    candidates = _candidates()
    if not candidates:
        raise RuntimeUnavailable("docker not found (no 'docker' binary on PATH)", hint=HINT)
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
def _binary() -> str:
    """The client for everything but builds: the build client if any, else the first found."""
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
    client = Client(_binary(), buildx=False)
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
    code, out = _quiet([_binary(), "version", "--format", "{{.Server.Version}}"])
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


def engine_reachable(timeout: float = 0.5) -> bool:
    """GET /_ping on the engine's socket: no subprocess, for auto-detection on every run."""
    host = os.environ.get("DOCKER_HOST") or f"unix://{_DEFAULT_SOCKET}"
    url = urlparse(host)
    sock: socket.socket | None = None
    try:
        if url.scheme == "unix":
            path = url.path or _DEFAULT_SOCKET
            if not os.path.exists(path):
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(path)
        elif url.scheme in ("tcp", "http"):
            if url.hostname is None:
                return False
            sock = socket.create_connection((url.hostname, url.port or 2375), timeout=timeout)
        else:  # ssh://, npipe:// and TLS engines: only the CLI can tell
            return False
        sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        reply = b""
        while len(reply) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        status = reply.split(b"\r\n", 1)[0]
        return status.startswith(b"HTTP/1.") and b" 200 " in status + b" "
    except OSError:
        return False
    finally:
        if sock is not None:
            sock.close()


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
    "build_client",
    "docker",
    "engine_available",
    "engine_reachable",
    "ping",
]
