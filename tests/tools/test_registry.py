"""The registry client: names, docker's login, one line per failure, and the HTTP API
against a real registry (Debian's docker-registry, no Docker engine needed)."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from helpers import free_port, http_server
from labship.errors import AuthError, RuntimeUnavailable
from labship.tools import registry
from labship.tools.registry import Registry
from registryfixtures import (
    Running,
    docker_config,
    put_manifest,
    serve_auth_registry,
    serve_registry,
)

PASSWORD = "reg-pass-7c41d9e2"


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("127.0.0.1:5000/team/churn", ("127.0.0.1:5000", "team/churn")),
        ("registry.example.com/churn", ("registry.example.com", "churn")),
        ("localhost/churn", ("localhost", "churn")),
        ("team/churn", None),  # Docker Hub: no host part
        ("churn", None),
    ],
)
def test_split_like_docker(name: str, split: tuple[str, str] | None) -> None:
    assert registry.split(name) == split


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("10.1.2.3:5000", False),
        ("registry.example.com", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert registry.is_loopback(host) is loopback


# ---------------------------------------------------------------- docker's output


@pytest.mark.parametrize(
    ("stderr", "kind", "code"),
    [
        (
            'Get "http://127.0.0.1:15999/v2/": dial tcp 127.0.0.1:15999: connect: '
            "connection refused",
            "does not answer",
            69,
        ),
        (
            'Get "https://nosuch.invalid/v2/": dial tcp: lookup nosuch.invalid on '
            "10.0.0.53:53: no such host",
            "is unknown",
            69,
        ),
        ("no basic auth credentials", "needs a login", 67),
        ("unauthorized: authentication required", "needs a login", 67),
    ],
)
def test_docker_messages_become_one_line(
    stderr: str, kind: str, code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))  # no login here
    error = registry.from_docker("127.0.0.1:15999", stderr)
    assert error is not None and error.exit_code == code
    assert kind in str(error) and "\n" not in str(error)


def test_a_missing_manifest_is_not_the_registrys_fault() -> None:
    message = "manifest for x/y:1 not found: manifest unknown: manifest unknown"
    assert registry.from_docker("127.0.0.1:5000", message) is None


# ---------------------------------------------------------------- docker's login


def test_login_from_config_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path, "r.io:5000", "u", "p:w")))
    assert registry.login_source("r.io:5000") == "config.json"
    assert registry.credentials("r.io:5000") == ("u", "p:w")  # a ':' in the secret survives
    assert registry.login_source("other.io") is None
    assert registry.credentials("other.io") is None


def test_config_keys_in_their_other_spellings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = base64.b64encode(b"hubuser:hubpass").decode()
    config = {"auths": {"https://index.docker.io/v1/": {"auth": auth}, "https://r.io/": {}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert registry.credentials("docker.io") == ("hubuser", "hubpass")
    assert registry.login_source("r.io") is None  # an empty entry is no login


def test_no_or_broken_config_is_no_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert registry.credentials("r.io") is None
    (tmp_path / "config.json").write_text("{not json")
    assert registry.login_source("r.io") is None
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"r.io": {"auth": "%%%"}}}))
    assert registry.credentials("r.io") is None


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A credential helper on PATH (a fake beside the real registry) that logs its verbs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    script = bin_dir / "docker-credential-labshiptest"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$1" >> {calls}\n'
        'case "$1" in\n'
        '  list) echo \'{"127.0.0.1:5000": "helperuser"}\' ;;\n'
        f'  get) read host; echo \'{{"ServerURL": "\'$host\'", "Username": "helperuser", '
        f'"Secret": "{PASSWORD}"}}\' ;;\n'
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = {"auths": {}, "credHelpers": {"127.0.0.1:5000": "labshiptest"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    return calls


def test_a_credential_helper_is_listed_for_a_report_and_asked_only_to_log_in(
    helper: Path,
) -> None:
    assert registry.login_source("127.0.0.1:5000") == "docker-credential-labshiptest"
    assert helper.read_text().split() == ["list"]  # no secret read to say "logged in"
    assert registry.credentials("127.0.0.1:5000") == ("helperuser", PASSWORD)
    assert registry.login_source("127.0.0.1:5001") is None


# ---------------------------------------------------------------- a real registry


@pytest.fixture(scope="module")
def open_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_registry(tmp_path_factory.mktemp("open-registry")) as running:
        yield running


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with serve_auth_registry(tmp_path_factory.mktemp("registry"), "tester", PASSWORD) as running:
        yield running


def test_digest_of_a_tag_from_a_real_registry(open_registry: Running) -> None:
    pushed = put_manifest(open_registry.host, "team/tiny", "1.0")
    client = Registry(open_registry.host)
    client.check("team/tiny")
    assert client.needs_login() is False
    assert client.digest("team/tiny", "1.0") == pushed
    assert client.digest("team/tiny", "2.0") is None  # an unknown tag
    assert client.digest("team/never", "1.0") is None  # an unknown repository


def test_a_down_registry_is_one_line() -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(RuntimeUnavailable) as caught:
        Registry(host).check("x")
    assert str(caught.value).startswith(f"registry {host} does not answer (connection refused)")


def test_an_unknown_host_is_one_line() -> None:
    with pytest.raises(RuntimeUnavailable, match=r"'nosuch\.invalid' is unknown"):
        Registry("nosuch.invalid:5000", timeout=5).check("x")


def test_basic_auth_without_then_with_docker_login(
    auth_registry: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = auth_registry.host
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    with pytest.raises(AuthError, match=f"registry {host} needs a login") as caught:
        Registry(host).check("team/x")
    assert caught.value.exit_code == 67 and f"docker login {host}" in str(caught.value)
    assert Registry(host).needs_login() is True
    wrong = "wrong-pass-91ab"
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path / "bad", host, "tester", wrong)))
    with pytest.raises(AuthError, match="refused docker's login") as refused:
        Registry(host).check("team/x")
    assert wrong not in str(refused.value)
    monkeypatch.setenv(
        "DOCKER_CONFIG", str(docker_config(tmp_path / "ok", host, "tester", PASSWORD))
    )
    client = Registry(host)
    client.check("team/x")
    auth = "Basic " + base64.b64encode(f"tester:{PASSWORD}".encode()).decode()
    pushed = put_manifest(host, "team/x", "1", auth=auth)
    assert client.digest("team/x", "1") == pushed


# ---------------------------------------------------------------- bearer tokens


class _TokenRegistry(BaseHTTPRequestHandler):
    """A fake of a token-auth registry (Hub, GitLab, Harbor): /v2/ challenges with Bearer,
    /token gives a token for the right basic login, manifests need the token."""

    digest = "sha256:" + "d" * 64

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_POST(self) -> None:  # an upload session, as labship's check opens one
        self._answer()

    def do_DELETE(self) -> None:  # and cancels it
        self._answer()

    def _answer(self) -> None:
        host = self.headers["Host"]
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/token"):
            good = "Basic " + base64.b64encode(f"tester:{PASSWORD}".encode()).decode()
            ok = auth == good and "scope=repository%3Ateam%2Fx%3A" in self.path
            self._send(200 if ok else 401, json.dumps({"token": "tok-1"} if ok else {}))
        elif auth != "Bearer tok-1":
            challenge = f'Bearer realm="http://{host}/token",service="fake"'
            self._send(401, "{}", {"WWW-Authenticate": challenge})
        elif self.path == "/v2/team/x/manifests/1":
            self._send(200, "", {"Docker-Content-Digest": self.digest})
        elif self.path.startswith("/v2/team/x/blobs/uploads/"):
            if self.command == "POST":
                self._send(202, "", {"Location": "/v2/team/x/blobs/uploads/u-1"})
            else:
                self._send(204 if self.path.endswith("/u-1") else 404, "")
        else:
            self._send(200 if self.path == "/v2/" else 404, "{}")

    def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


def test_a_bearer_token_is_fetched_with_docker_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with http_server(_TokenRegistry) as host:
        monkeypatch.setenv("DOCKER_CONFIG", str(docker_config(tmp_path, host, "tester", "no")))
        with pytest.raises(AuthError):
            Registry(host).check("team/x")
        docker_config(tmp_path, host, "tester", PASSWORD)
        client = Registry(host)
        client.check("team/x")
        assert client.digest("team/x", "1") == _TokenRegistry.digest


def test_a_web_server_that_is_not_a_registry_is_one_line(tmp_path: Path) -> None:
    from functools import partial
    from http.server import SimpleHTTPRequestHandler

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = partial(Quiet, directory=str(tmp_path))
    with (
        http_server(handler) as host,
        pytest.raises(RuntimeUnavailable, match="HTTP 404: not an image"),
    ):
        Registry(host).check("team/x")
