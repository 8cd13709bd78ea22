"""One HTTP call as a client makes it: (status, JSON body)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def post(
    url: str,
    body: bytes | str | dict[str, Any],
    ctype: str = "application/json",
    timeout: float = 60,
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    data = data.encode() if isinstance(data, str) else data
    request = urllib.request.Request(
        url + "/invocations", data=data, method="POST", headers={"Content-Type": ctype}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.read().decode()
