"""labship.tools.http against a real HTTP server (the standard library's, in a thread)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from helpers import JSONHandler, http_server
from labship.tools import http


class _Handler(JSONHandler):
    def do_GET(self) -> None:
        if self.path == "/ok":
            self.send_json(200, b'{"fine": true}')
        else:
            self.send_json(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_json(200, json.dumps({"got": json.loads(body)}).encode())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with http_server(_Handler) as host:
        yield f"http://{host}"


def test_a_2xx_answer_is_returned_with_lower_case_headers(server: str) -> None:
    answer = http.request(f"{server}/ok")
    assert answer.status == 200 and answer.json() == {"fine": True}
    assert answer.headers["content-type"] == "application/json"
    assert http.ok(f"{server}/ok")
    assert http.post_json(f"{server}/echo", {"a": 1}) == {"got": {"a": 1}}


def test_an_error_status_is_one_error_with_the_body(server: str) -> None:
    with pytest.raises(http.HTTPError) as caught:
        http.request(f"{server}/missing")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert not http.ok(f"{server}/missing")


def test_no_answer_is_the_same_error_without_a_status() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(http.HTTPError) as caught:
            http.request(f"http://127.0.0.1:{port}/", timeout=2)
    assert caught.value.status is None
    assert not http.ok(f"http://127.0.0.1:{port}/")
