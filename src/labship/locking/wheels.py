"""What a package index publishes for a project, and which wheels fit a Python version.

Asks the index's JSON simple API (PEP 691: file names, ``yanked``, ``requires-python``,
PEP 700 ``upload-time``); the host's CA bundle (SSL_CERT_FILE) is honoured by OpenSSL.
Credentials in an index URL (``https://user:token@host/simple``) are sent as a header,
never put in a message.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cache

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

TIMEOUT = 20.0  # seconds for one index page


@dataclass(frozen=True)
class IndexFile:
    filename: str
    version: Version | None
    yanked: str | None  # the reason ("" when none is given), None when not yanked
    requires_python: str | None
    upload_time: str | None

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


class IndexUnavailable(Exception):
    """The index cannot say (unreachable, no JSON API): the caller leaves it to uv."""


def project_files(index: str, name: str) -> list[IndexFile] | None:
    """Every file of project ``name`` on ``index``; None when the index does not have it."""
    url, headers = _request_parts(f"{index.rstrip('/')}/{name}/")
    from labship.tools import http

    try:
        response = http.request(url, headers=headers, timeout=TIMEOUT)
        raw = response.body
        if response.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        data = json.loads(raw)
    except http.HTTPError as exc:
        if exc.status == 404:
            return None
        raise IndexUnavailable(f"{url}: HTTP {exc.status}" if exc.status else str(exc)) from None
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"{url}: {exc}") from None
    return [_index_file(entry) for entry in data.get("files", []) if "filename" in entry]


def _request_parts(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its credentials, and the headers that carry them."""
    headers = {
        "Accept": "application/vnd.pypi.simple.v1+json",
        "Accept-Encoding": "gzip",
    }
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        return url, headers
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers["Authorization"] = f"Basic {token}"
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc)), headers


def _index_file(entry: dict[str, object]) -> IndexFile:
    filename = str(entry["filename"])
    yanked = entry.get("yanked", False)
    requires = entry.get("requires-python")
    uploaded = entry.get("upload-time")
    return IndexFile(
        filename=filename,
        version=file_version(filename),
        yanked=(yanked if isinstance(yanked, str) else "") if yanked else None,
        requires_python=requires if isinstance(requires, str) and requires else None,
        upload_time=uploaded if isinstance(uploaded, str) else None,
    )


def file_version(filename: str) -> Version | None:
    """The version a wheel's or sdist's name carries; None for other or malformed files.
    Read from the name's parts, not parsed whole: an index lists thousands of files."""
    if filename.endswith(".whl"):
        parts = filename.split("-")
        text = parts[1] if len(parts) in (5, 6) else ""
    elif filename.endswith((".tar.gz", ".zip")):
        text = filename.removesuffix(".zip").removesuffix(".tar.gz").rpartition("-")[2]
    else:
        return None
    return _version(text)


@cache
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _platforms() -> list[str]:
    """glibc Linux x86_64, where production runs: every manylinux tag, oldest to newest."""
    manylinux = [f"manylinux_2_{minor}_x86_64" for minor in range(50, 4, -1)]
    legacy = ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    return [*manylinux, *legacy, "linux_x86_64"]


@cache
def supported_tags(python: str) -> frozenset[Tag]:
    """The wheel tags CPython ``python`` (e.g. "3.11") installs on glibc Linux x86_64."""
    version = tuple(int(part) for part in python.split("."))
    platforms = _platforms()
    return frozenset(
        [
            *cpython_tags(version, platforms=platforms),
            *compatible_tags(version, f"cp{version[0]}{version[1]}", platforms),
        ]
    )


@cache
def wheel_fits(filename: str, python: str) -> bool:
    """Installable on CPython ``python`` on glibc Linux x86_64."""
    try:
        tags = parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return False
    return not tags.isdisjoint(supported_tags(python))


def compatible_versions(files: list[str], python: str) -> list[str]:
    """Versions with a fitting wheel, oldest first."""
    found: set[Version] = set()
    for filename in files:
        if filename.endswith(".whl") and wheel_fits(filename, python):
            with contextlib.suppress(InvalidWheelFilename, InvalidVersion):
                found.add(parse_wheel_filename(filename)[1])
    return [str(v) for v in sorted(found)]
