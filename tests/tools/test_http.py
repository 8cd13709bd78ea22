"""labship.tools.http against a real HTTP server (the standard library's, in a thread)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labship.tools import http


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/ok":
            self._send(200, b'{"fine": true}')
        else:
            self._send(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._send(200, json.dumps({"got": json.loads(body)}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


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
