"""The one MLflow tracking client: the server's REST API (``/api/2.0/...``) over
``tools.http``, with MLflow's credentials (the URI's user:password,
MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN), its answers checked and its
refusals turned into labship's errors (401/403: AuthError, a missing resource:
UsageError, anything else: RuntimeUnavailable). ``serving.source`` fetches models with
it; ``api`` asks it which MLflow run a tracked job logged. No MLflow package: nothing to
install before a call.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

from labship.errors import AuthError, LabshipError, RuntimeUnavailable, UsageError
from labship.masking import hide_url_credentials
from labship.tools.http import HTTPError, open_url, request

TIMEOUT = 30.0  # seconds for one HTTP request
GIVE_URI = "pass --tracking-uri URL or set MLFLOW_TRACKING_URI"


class Client:
    """The tracking server: its REST API over HTTP(S), with MLflow's credentials (the URI's
    user:password, MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN)."""

    def __init__(
        self, uri: str, headers: dict[str, str] | None = None, *, timeout: float = TIMEOUT
    ) -> None:
        self.timeout = timeout
        self.shown = hide_url_credentials(uri)
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(
                f"tracking URI {self.shown!r} is not an http(s) URL",
                hint="labship fetches models from an MLflow tracking server: " + GIVE_URI,
            )
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port:
            netloc += f":{parts.port}"
        self.scheme = parts.scheme
        self.base = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
        self.headers = dict(headers) if headers is not None else _credentials(parts)

    def at(self, netloc: str) -> Client:
        """The same credentials on another host (``mlflow-artifacts://host:port/...``)."""
        return Client(f"{self.scheme}://{netloc}", self.headers, timeout=self.timeout)

    def get(self, endpoint: str, missing: str, **params: str) -> dict[str, Any]:
        query = urllib.parse.urlencode(params)
        return self._call(f"{endpoint}?{query}", None, missing)

    def post(self, endpoint: str, body: dict[str, Any], missing: str) -> dict[str, Any]:
        return self._call(endpoint, json.dumps(body).encode(), missing)

    def download(self, path: str, dest: Path) -> None:
        """One proxied artifact file into ``dest``, streamed; a file the server lists but
        does not send is its failure (69), like a connection cut in the middle."""
        url = self._url(f"mlflow-artifacts/artifacts/{urllib.parse.quote(path)}")
        try:
            headers = self._headers(None)
            with (
                open_url(url, headers=headers, timeout=self.timeout) as answer,
                dest.open("wb") as out,
            ):
                shutil.copyfileobj(answer, out, 1 << 20)
        except HTTPError as exc:
            if exc.status is None:
                raise RuntimeUnavailable(
                    f"downloading {path} from the MLflow tracking server at {self.shown} "
                    f"failed ({hide_url_credentials(exc.reason)})",
                    hint="try again when it answers",
                ) from None
            refused = self._refused(exc, path)
            if isinstance(refused, AuthError):
                raise refused from None
            raise RuntimeUnavailable(
                f"the MLflow tracking server at {self.shown} did not send {path} "
                f"({exc.status} {exc.reason})",
                hint="see the server's log",
            ) from None
        except OSError as exc:
            raise RuntimeUnavailable(
                f"downloading {path} from the MLflow tracking server at {self.shown} failed "
                f"({hide_url_credentials(str(exc))})",
                hint="try again when it answers",
            ) from None

    def run_tagged(self, tag: str, value: str) -> tuple[str, str] | None:
        """(MLflow run id, experiment id) of the first run (by start time: a parent before
        its nested runs) tagged ``tag = value``; None when there is none, or the server
        cannot say (a job's run is reported when it can be, never an error)."""
        try:
            found = self.post("mlflow/experiments/search", {"max_results": 1000}, "experiments")
            ids = [e["experiment_id"] for e in found.get("experiments", [])]
            if not ids:
                return None
            query = {
                "experiment_ids": ids,
                "filter": f"tags.`{tag}` = '{value}'",
                "order_by": ["attributes.start_time ASC"],
                "max_results": 10,
            }
            runs = self.post("mlflow/runs/search", query, "runs").get("runs", [])
            if runs:
                info = runs[0]["info"]
                return str(info["run_id"]), str(info["experiment_id"])
        except (LabshipError, TypeError, KeyError):
            return None
        return None

    def _url(self, endpoint: str) -> str:
        return f"{self.base}/api/2.0/{endpoint}"

    def _headers(self, data: bytes | None) -> dict[str, str]:
        headers = {**self.headers, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _call(self, endpoint: str, data: bytes | None, missing: str) -> dict[str, Any]:
        url = self._url(endpoint)
        try:
            raw = request(url, data=data, headers=self._headers(data), timeout=self.timeout).body
        except HTTPError as exc:
            if exc.status is None:
                raise RuntimeUnavailable(
                    f"the MLflow tracking server at {self.shown} does not answer "
                    f"({hide_url_credentials(exc.reason)})",
                    hint="start it, or " + GIVE_URI,
                ) from None
            raise self._refused(exc, missing) from None
        try:
            found = json.loads(raw)
        except ValueError:
            found = None
        if not isinstance(found, dict):
            raise RuntimeUnavailable(
                f"{self.shown} answered {url.split('?')[0][len(self.base) :]} "
                "with something that is not MLflow's JSON",
                hint="check that the tracking URI is an MLflow tracking server",
            )
        return found

    def _refused(self, exc: HTTPError, missing: str) -> Exception:
        try:
            body = json.loads(exc.body)
        except ValueError:
            body = {}
        code = body.get("error_code", "") if isinstance(body, dict) else ""
        message = str(body.get("message", "")) if isinstance(body, dict) else ""
        if exc.status in (401, 403):
            return AuthError(
                f"the MLflow tracking server at {self.shown} refused labship ({exc.status})",
                hint="set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, "
                "or MLFLOW_TRACKING_TOKEN",
            )
        if exc.status == 404 or code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            said = f" ({hide_url_credentials(message)})" if message and exc.status != 404 else ""
            return UsageError(f"{missing} not found on {self.shown}{said}")
        return RuntimeUnavailable(
            f"the MLflow tracking server at {self.shown} failed ({exc.status} {exc.reason})",
            hint="see the server's log",
        )


def _credentials(parts: urllib.parse.SplitResult) -> dict[str, str]:
    user = urllib.parse.unquote(parts.username or "") or os.environ.get(
        "MLFLOW_TRACKING_USERNAME", ""
    )
    password = urllib.parse.unquote(parts.password or "") or os.environ.get(
        "MLFLOW_TRACKING_PASSWORD", ""
    )
    if user or password:
        pair = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    token = os.environ.get("MLFLOW_TRACKING_TOKEN", "")
    return {"Authorization": f"Bearer {token}"} if token else {}
