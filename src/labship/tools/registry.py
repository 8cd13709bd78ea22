"""The one client for image registries: their HTTP API (v2) and docker's own login.

Why HTTP and not the docker CLI: asking which digest a tag holds is one HEAD request
(``Docker-Content-Digest``) of a few milliseconds, where ``docker manifest inspect`` is
experimental on the 20.10 client and ``buildx imagetools`` is missing where there is no
buildx plugin. Credentials are docker's: ``docker login`` writes them to docker's config
(or a credential helper); labship reads them in memory for a request and never prints,
logs or stores them.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from labship.errors import AuthError, ConfigError, LabshipError, RuntimeUnavailable

DOCKER_HUB = "docker.io"
# Docker Hub is named one way in references, another in config.json and in its API.
_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")
_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
_HUB_API = "registry-1.docker.io"
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
WHERE = "[docker] registry, --to, or the image reference"  # where a registry is named


def split(name: str) -> tuple[str, str] | None:
    """(registry host, repository path) of an image name, as docker splits it; None when
    the name has no host part (docker would send it to Docker Hub)."""
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        _check_port(first, name)
        return first, rest
    return None


def _check_port(host: str, name: str) -> None:
    """A host's port, when it has one, is a TCP port: docker refuses any other."""
    port = host.rpartition("]")[2] if host.startswith("[") else host
    _, colon, digits = port.rpartition(":")
    if colon and not (digits.isdigit() and 1 <= int(digits) <= 65535):
        raise ConfigError(
            f"{name!r}: {digits!r} is not a TCP port (1 to 65535)",
            hint=f"fix the registry's port in {WHERE}",
        )


def is_loopback(host: str) -> bool:
    """Docker trusts loopback registries without TLS; so does labship."""
    if host.startswith("["):  # [::1]:5000
        bare = host[1:].partition("]")[0]
    else:
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- errors


def down(host: str, why: str) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"registry {host} does not answer ({why})",
        hint=f"start it, or check its address ({WHERE})",
    )


def not_a_registry(host: str, why: str) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"{host} is not an image registry: {why}",
        hint=f"check the host and port in {WHERE}",
    )


def unknown_host(host: str) -> RuntimeUnavailable:
    return RuntimeUnavailable(
        f"registry host {host.rsplit(':', 1)[0]!r} is unknown (DNS lookup failed)",
        hint=f"check its spelling ({WHERE}) and this machine's DNS",
    )


def refused(host: str, *, had_login: bool) -> AuthError:
    what = "refused docker's login for it" if had_login else "needs a login (none for it here)"
    return AuthError(
        f"registry {host} {what}",
        hint=f"run 'docker login {host}' (labship uses docker's login and never stores it)",
    )


def from_docker(host: str, message: str) -> LabshipError | None:
    """One line for what docker push/pull said about the registry; None if not about it."""
    low = message.lower()
    if "no such host" in low or "server misbehaving" in low or "name resolution" in low:
        return unknown_host(host)
    if "connection refused" in low or "i/o timeout" in low or "no route to host" in low:
        return down(host, "connection refused" if "refused" in low else "timed out")
    if "x509:" in low or "certificate" in low:
        return RuntimeUnavailable(
            f"registry {host}: its TLS certificate is not trusted by the Docker engine",
            hint="install its CA for the engine (/etc/docker/certs.d/HOST/ca.crt)",
        )
    auth = ("no basic auth credentials", "unauthorized", "authentication required", "denied")
    if any(text in low for text in auth):
        return refused(host, had_login=login_source(host) is not None)
    return None


# ---------------------------------------------------------------- docker's login


def _docker_config() -> dict[str, Any]:
    folder = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    try:
        data = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _config_key(host: str) -> str:
    return _HUB_CONFIG_KEY if host in _HUB_NAMES else host


def _bare_key(key: str) -> str:
    """``https://host/v1/`` -> ``host``: config.json keys come in several spellings."""
    return urlsplit(key if "://" in key else f"//{key}").netloc or key


def _helper(config: Mapping[str, Any], host: str) -> str | None:
    helpers = config.get("credHelpers")
    if isinstance(helpers, dict):
        for key, name in helpers.items():
            if _bare_key(key) == _bare_key(_config_key(host)) and isinstance(name, str):
                return name
    store = config.get("credsStore")
    return store if isinstance(store, str) and store else None


def _call_helper(name: str, verb: str, stdin: str) -> Any:
    """``docker-credential-NAME VERB``: its JSON answer, or None. Its output holds secrets:
    it is never shown, not even in an error."""
    try:
        proc = subprocess.run(
            [f"docker-credential-{name}", verb],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        return json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None


def _auths_entry(config: Mapping[str, Any], host: str) -> Mapping[str, Any] | None:
    auths = config.get("auths")
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if _bare_key(key) == _bare_key(_config_key(host)) and isinstance(entry, dict):
            return entry
    return None


def login_source(host: str) -> str | None:
    """Where docker keeps a login for ``host`` ("docker-credential-pass", "config.json"),
    or None. Asks a helper to *list* (server -> user), so no secret is read."""
    config = _docker_config()
    helper = _helper(config, host)
    if helper is not None:
        listed = _call_helper(helper, "list", "")
        keys = {_bare_key(k) for k in listed} if isinstance(listed, dict) else set()
        return f"docker-credential-{helper}" if _bare_key(_config_key(host)) in keys else None
    entry = _auths_entry(config, host)
    if entry and (entry.get("auth") or entry.get("identitytoken")):
        return "config.json"
    return None


def credentials(host: str) -> tuple[str, str] | None:
    """(user, secret) docker would send to ``host``; in memory only, never shown."""
    config = _docker_config()
    helper = _helper(config, host)
    if helper is not None:
        found = _call_helper(helper, "get", _config_key(host))
        if isinstance(found, dict) and found.get("Username") and found.get("Secret"):
            return str(found["Username"]), str(found["Secret"])
        return None
    entry = _auths_entry(config, host) or {}
    try:
        user, sep, secret = base64.b64decode(str(entry.get("auth", ""))).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, secret) if sep and user else None


# ---------------------------------------------------------------- the HTTP API


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # names lower-cased
    body: bytes


def _fetch(
    method: str, url: str, headers: Mapping[str, str], *, timeout: float, verify: bool
) -> Reply:
    """One HTTP(S) request; OSError (and ssl.SSLError) when it cannot be made."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target or "/", headers=dict(headers))
        response = conn.getresponse()
        body = response.read(1 << 20)
        found = {k.lower(): v for k, v in response.getheaders()}
        return Reply(response.status, found, body)
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {exc}") from None
    finally:
        conn.close()


class Registry:
    """One registry host as its HTTP API v2 sees it, let in the way docker would be:
    anonymously, with basic auth, or with a bearer token got with docker's login."""

    def __init__(self, host: str, *, insecure: bool = False, timeout: float = 10.0) -> None:
        self.host = host
        self.api_host = _HUB_API if host in _HUB_NAMES else host
        # Docker's rule for an insecure registry: TLS without verification, then plain HTTP.
        self._verify = not (insecure or is_loopback(host))
        self._schemes = ["https"] if self._verify else ["https", "http"]
        self._timeout = timeout
        self._authorization: str | None = None  # a header value: never shown

    def needs_login(self) -> bool:
        """Whether the registry answers ``/v2/`` only to a login (it answers at all, or
        this raises the one line for down or unknown)."""
        return self._send("GET", "/v2/", {}).status == 401

    def check(self, path: str) -> None:
        """Raise one line unless the registry answers, is one, and lets us push to
        ``path``. Any web server answers ``/v2/`` with 200; a registry also names its API
        (``Docker-Distribution-API-Version: registry/2.0``) and opens an upload session
        for ``path`` (202 with a ``Location``), which is cancelled at once: proven before
        labship spends a build on it."""
        scope = f"repository:{path}:pull,push"
        reply = self._call("GET", "/v2/", scope=scope)
        if reply.status != 200:
            raise down(self.host, f"/v2/ answered HTTP {reply.status}: not an image registry?")
        api = reply.headers.get("docker-distribution-api-version", "")
        if not api.startswith("registry/2."):
            raise not_a_registry(self.host, "/v2/ answered without its API version header")
        upload = self._call("POST", f"/v2/{path}/blobs/uploads/", scope=scope)
        location = upload.headers.get("location", "")
        if upload.status != 202 or not location:  # read-only, or not for this repository
            raise RuntimeUnavailable(
                f"registry {self.host} opened no upload session for {path} "
                f"(HTTP {upload.status}): it takes no push there",
                hint=f"check that it is writable, or push elsewhere ({WHERE})",
            )
        self._cancel(location)

    def _cancel(self, location: str) -> None:
        """DELETE the upload session just opened (a registry expires it anyway)."""
        parts = urlsplit(location)
        if parts.netloc and parts.netloc != self.api_host:
            return  # elsewhere (a storage redirect): leave it to expire
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        with contextlib.suppress(LabshipError):
            self._send("DELETE", target, {})

    def digest(self, path: str, reference: str) -> str | None:
        """The manifest digest ``path:reference`` names in the registry; None if absent."""
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        reply = self._call(
            "HEAD", f"/v2/{path}/manifests/{reference}", scope=f"repository:{path}:pull", **headers
        )
        found = reply.headers.get("docker-content-digest", "")
        return found if reply.status == 200 and _DIGEST.fullmatch(found) else None

    def _call(self, method: str, target: str, *, scope: str, **headers: str) -> Reply:
        reply = self._send(method, target, headers)
        if reply.status == 401 and self._authorization is None:
            challenge = reply.headers.get("www-authenticate", "")
            self._authorization = self._authorize(challenge, scope)
            reply = self._send(method, target, headers)
        if reply.status in (401, 403):
            raise refused(self.host, had_login=login_source(self.host) is not None)
        if reply.status >= 500:
            raise down(self.host, f"HTTP {reply.status} on {target}")
        return reply

    def _send(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        sent = dict(headers)
        if self._authorization:
            sent["Authorization"] = self._authorization
        for scheme in list(self._schemes):
            url = f"{scheme}://{self.api_host}{target}"
            try:
                reply = _fetch(method, url, sent, timeout=self._timeout, verify=self._verify)
            except socket.gaierror:
                raise unknown_host(self.host) from None
            except ssl.SSLCertVerificationError as exc:
                raise down(
                    self.host, f"TLS certificate not trusted: {exc.verify_message}"
                ) from None
            except ssl.SSLError:
                if scheme == self._schemes[-1]:
                    raise down(self.host, "TLS handshake failed") from None
                continue  # an insecure registry speaking plain HTTP
            except OSError as exc:
                raise down(self.host, _why(exc)) from None
            self._schemes = [scheme]  # what worked, for the next request
            return reply
        raise down(self.host, "no scheme worked")  # unreachable: the loop returns or raises

    def _authorize(self, challenge: str, scope: str) -> str:
        """The Authorization header for a 401's challenge, from docker's login."""
        scheme, _, rest = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(rest))
        login = credentials(self.host)
        basic = base64.b64encode(f"{login[0]}:{login[1]}".encode()).decode() if login else None
        if scheme.lower() == "basic" and basic:
            return f"Basic {basic}"
        if scheme.lower() == "bearer" and params.get("realm"):
            return f"Bearer {self._token(params, scope, basic)}"
        raise refused(self.host, had_login=login_source(self.host) is not None)

    def _token(self, params: Mapping[str, str], scope: str, basic: str | None) -> str:
        query = urlencode({"service": params.get("service", ""), "scope": scope})
        headers = {"Authorization": f"Basic {basic}"} if basic else {}
        try:
            reply = _fetch(
                "GET", f"{params['realm']}?{query}", headers, timeout=self._timeout, verify=True
            )
            answer = json.loads(reply.body)
            token = answer.get("token") or answer.get("access_token")
        except (OSError, ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise refused(self.host, had_login=basic is not None)
        return token


def _why(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return exc.strerror or str(exc) or type(exc).__name__


__all__ = [
    "DOCKER_HUB",
    "MANIFEST_TYPES",
    "Registry",
    "Reply",
    "credentials",
    "down",
    "from_docker",
    "is_loopback",
    "login_source",
    "not_a_registry",
    "refused",
    "split",
    "unknown_host",
]
