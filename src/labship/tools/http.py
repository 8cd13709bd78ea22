"""HTTP: every call labship makes over HTTP(S) goes through here (the package index's
JSON API, the MLflow tracking server, a lab's or a tracking server's readiness, a job's
ping URL).

The standard library's client, not a dependency: labship's calls are a handful of small
requests, and ``labship run`` must not pay for importing an HTTP stack (this module
itself is imported only when a call is made). What it adds: a timeout on every call,
the CA bundle a TLS-intercepting proxy needs (``SSL_CERT_FILE`` or
``REQUESTS_CA_BUNDLE`` when set, else the system's), and one error type, ``HTTPError``,
whose ``status`` is the server's answer or None when there was none; callers translate
it into labship's errors where they know what the call was for.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from http.client import HTTPResponse

DEFAULT_TIMEOUT = 10.0
_CA_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


class HTTPError(Exception):
    """A call that did not get a 2xx answer: ``status`` None when no answer came at all
    (refused, timed out, TLS failed), else the status, with the answer's ``body``."""

    def __init__(self, url: str, status: int | None, reason: str, body: bytes = b"") -> None:
        super().__init__(f"{url}: {status} {reason}" if status else f"{url}: {reason}")
        self.url = url
        self.status = status
        self.reason = reason
        self.body = body


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case

    def json(self) -> Any:
        return json.loads(self.body)


@cache
def _tls() -> ssl.SSLContext:
    for var in _CA_VARS:
        path = os.environ.get(var)
        if path and os.path.isfile(path):
            return ssl.create_default_context(cafile=path)
    return ssl.create_default_context()


@contextmanager
def open_url(
    url: str,
    *,
    method: str | None = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Iterator[HTTPResponse]:
    """The answer's body as a stream (a download); HTTPError unless it is a 2xx."""
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}), method=method)
    context = _tls() if url.startswith("https:") else None
    try:
        answer: HTTPResponse = urllib.request.urlopen(request, timeout=timeout, context=context)
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except OSError:
            body = b""
        raise HTTPError(url, exc.code, str(exc.reason), body) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise HTTPError(url, None, str(getattr(exc, "reason", None) or exc)) from None
    with answer:
        yield answer


def request(
    url: str,
    *,
    method: str | None = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Response:
    """One whole request; HTTPError unless the answer is a 2xx."""
    with open_url(url, method=method, data=data, headers=headers, timeout=timeout) as answer:
        try:
            body = answer.read()
        except OSError as exc:
            raise HTTPError(url, None, f"the answer was cut off ({exc})") from None
        status = int(answer.status)
        return Response(status, body, {k.lower(): v for k, v in answer.headers.items()})


def post_json(url: str, body: Any, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """POST ``body`` as JSON and return the answer's JSON."""
    headers = {"Content-Type": "application/json"}
    return request(
        url, method="POST", data=json.dumps(body).encode(), headers=headers, timeout=timeout
    ).json()


def ok(url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 2.0) -> bool:
    """True when ``url`` answers 200 (a readiness probe); any failure is False."""
    try:
        return request(url, headers=headers, timeout=timeout).status == 200
    except HTTPError:
        return False
