"""labship.tools.mlflow, the one MLflow REST client, against a stand-in server (the
standard library's, in a thread) that answers as MLflow's REST API does. The real
tracking server is exercised through it in tests/serve/test_serve_source.py and
tests/runtimes/test_tracking.py; this file covers what a real one will not do on cue
(refusals, broken answers)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from helpers import JSONHandler, http_server
from labship.errors import AuthError, RuntimeUnavailable, UsageError
from labship.tools.mlflow import Client

SEEN: list[dict[str, object]] = []


class _Handler(JSONHandler):
    def do_GET(self) -> None:
        self.send_json(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}')

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append({"path": self.path, "body": body, "auth": self.headers["Authorization"]})
        if self.path.startswith("/broken/"):
            self.send_json(200, b"<html>not mlflow</html>")
        elif self.path.startswith("/locked/"):
            self.send_json(403, b'{"error_code": "PERMISSION_DENIED"}')
        elif self.path.endswith("/experiments/search"):
            self.send_json(200, json.dumps({"experiments": [{"experiment_id": "7"}]}).encode())
        elif self.path.endswith("/runs/search"):
            runs = [{"info": {"run_id": "r1", "experiment_id": "7"}}]
            self.send_json(
                200, json.dumps({"runs": runs if "'t1'" in body["filter"] else []}).encode()
            )
        else:
            self.send_json(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"}')


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with http_server(_Handler) as host:
        yield f"http://{host}"


def test_run_tagged_finds_the_first_run_and_is_none_otherwise(server: str) -> None:
    client = Client(server, {})
    assert client.run_tagged("labship.run_id", "t1") == ("r1", "7")
    query = SEEN[-1]["body"]
    assert isinstance(query, dict) and query["order_by"] == ["attributes.start_time ASC"]
    assert query["experiment_ids"] == ["7"] and SEEN[-1]["path"] == "/api/2.0/mlflow/runs/search"
    assert client.run_tagged("labship.run_id", "t2") is None
    assert Client(f"{server}/broken", {}).run_tagged("x", "y") is None  # never an error
    assert Client("http://127.0.0.1:9", {}, timeout=1).run_tagged("x", "y") is None


def test_credentials_come_from_the_uri_or_mlflows_variables(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-51f0")
    Client(server).post("mlflow/experiments/search", {}, "experiments")
    assert SEEN[-1]["auth"] == "Bearer tok-51f0"
    user_uri = server.replace("http://", "http://ann:pw@")
    client = Client(user_uri)
    assert "pw" not in client.shown
    client.post("mlflow/experiments/search", {}, "experiments")
    assert str(SEEN[-1]["auth"]).startswith("Basic ")


def test_refusals_become_labships_errors(server: str) -> None:
    with pytest.raises(AuthError, match="refused labship"):
        Client(f"{server}/locked", {}).post("mlflow/runs/get", {}, "run r")
    with pytest.raises(UsageError, match="run r not found"):
        Client(server, {}).get("mlflow/runs/get", "run r", run_id="r")
    with pytest.raises(RuntimeUnavailable, match="not MLflow's JSON"):
        Client(f"{server}/broken", {}).post("mlflow/runs/get", {}, "run r")
    with pytest.raises(UsageError, match="not an http"):
        Client("ftp://example.com")
