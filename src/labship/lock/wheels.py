"""Which published versions of a package have a wheel for a Python version.

Used only when a lock would otherwise build a package from source: the error then
names the versions that would install as wheels. Asks the index's JSON simple API
(PEP 691); the host's CA bundle (SSL_CERT_FILE) is honoured by OpenSSL.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from functools import cache

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from labship.errors import ResolutionError


def index_files(index: str, name: str) -> list[str]:
    url = f"{index.rstrip('/')}/{name}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data = json.load(response)
    except (OSError, ValueError) as exc:
        raise ResolutionError(
            f"cannot ask {url} which versions of {name} have wheels: {exc}"
        ) from None
    return [f["filename"] for f in data.get("files", [])]


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
