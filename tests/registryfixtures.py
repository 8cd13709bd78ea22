"""A real image registry for tests: Debian's ``docker-registry`` (distribution 2.8) on a
free loopback port, with a filesystem root, optionally behind htpasswd basic auth.

It needs no Docker engine (the HTTP tests use it alone). Where the binary is missing the
tests skip, saying so, unless ``LABSHIP_REQUIRE_DOCKER=1`` (CI), where they fail
(helpers.missing).
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from helpers import free_port, require_tool

BINARY = "docker-registry"


@dataclass(frozen=True)
class Running:
    host: str  # 127.0.0.1:PORT
    log: Path  # its access log: what clients asked it

    def requests(self, method: str, fragment: str) -> int:
        """How many ``METHOD ...fragment...`` requests the registry has answered."""
        lines = self.log.read_text(errors="replace").splitlines()
        return sum(1 for line in lines if f'"{method} ' in line and fragment in line)


def add_user(htpasswd: Path, user: str, password: str) -> None:
    """A bcrypt entry, the only kind distribution accepts."""
    line = subprocess.run(
        ["htpasswd", "-Bbn", user, password], capture_output=True, text=True, check=True
    ).stdout.strip()
    with htpasswd.open("a") as fh:
        fh.write(line + "\n")


@contextmanager
def serve_registry(
    root: Path, *, htpasswd: Path | None = None, readonly: bool = False
) -> Iterator[Running]:
    """Start a registry storing under ``root``; stop it (and wait) on the way out.
    ``readonly``: it answers reads but refuses every upload (its maintenance mode)."""
    require_tool(BINARY, "htpasswd")
    root.mkdir(parents=True, exist_ok=True)
    host = f"127.0.0.1:{free_port()}"
    config = {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}},
        "http": {"addr": host, "secret": "labship-tests"},
    }
    if readonly:
        config["storage"]["maintenance"] = {"readonly": {"enabled": True}}  # type: ignore[index]
    if htpasswd is not None:
        config["auth"] = {"htpasswd": {"realm": "labship-tests", "path": str(htpasswd)}}
    (root / "config.yml").write_text(json.dumps(config))  # YAML reads JSON
    log = root / "registry.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [BINARY, "serve", str(root / "config.yml")], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_answering(host, proc, log)
        yield Running(host, log)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def serve_auth_registry(root: Path, user: str, password: str) -> Iterator[Running]:
    """A registry behind htpasswd basic auth, with one bcrypt user; its file is
    ``root / "htpasswd"`` (rewrite it to change the password: it is re-read)."""
    root.mkdir(parents=True, exist_ok=True)
    add_user(root / "htpasswd", user, password)
    with serve_registry(root, htpasswd=root / "htpasswd") as running:
        yield running


def _wait_until_answering(host: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"registry exited: {log.read_text()[-800:]}")
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # 401: it answers, behind auth
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"registry on {host} did not answer in 20 s")


def docker_config(folder: Path, host: str, user: str, password: str) -> Path:
    """A DOCKER_CONFIG folder holding a login for ``host``, as ``docker login`` writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return folder


def put_manifest(host: str, path: str, tag: str, auth: str | None = None) -> str:
    """Upload a tiny image (an empty config, no layers) over the HTTP API; its digest."""
    import hashlib

    headers = {"Authorization": auth} if auth else {}
    config = b"{}"
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    start = urllib.request.Request(
        f"http://{host}/v2/{path}/blobs/uploads/", method="POST", headers=headers
    )
    with urllib.request.urlopen(start) as reply:
        location = reply.headers["Location"]
    sep = "&" if "?" in location else "?"
    upload = urllib.request.Request(
        f"{location}{sep}digest={config_digest}",
        data=config,
        method="PUT",
        headers={**headers, "Content-Type": "application/octet-stream"},
    )
    urllib.request.urlopen(upload).close()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [],
        }
    ).encode()
    put = urllib.request.Request(
        f"http://{host}/v2/{path}/manifests/{tag}",
        data=manifest,
        method="PUT",
        headers={
            **headers,
            "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
        },
    )
    urllib.request.urlopen(put).close()
    return "sha256:" + hashlib.sha256(manifest).hexdigest()
