"""Which published versions of a package have a wheel for a Python version.

Used only when a lock would otherwise build a package from source: the error then
names the versions that would install as wheels. Asks the index's JSON simple API
(PEP 691); the host's CA bundle (SSL_CERT_FILE) is honoured by OpenSSL.
"""

from __future__ import annotations

import json
import re
import urllib.request

from labship.errors import ResolutionError

_WHEEL = re.compile(
    r"^(?P<name>.+?)-(?P<ver>[^-]+)(-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)


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


def wheel_fits(filename: str, python: str) -> bool:
    """Installable on CPython ``python`` (e.g. "3.11") on glibc Linux x86_64."""
    m = _WHEEL.match(filename)
    if not m:
        return False
    major, minor = (int(x) for x in python.split("."))
    pys, abis, plats = (m.group(k).split(".") for k in ("py", "abi", "plat"))
    plat_ok = any(
        p == "any" or (p.endswith("x86_64") and "linux" in p and "musl" not in p) for p in plats
    )
    for py in pys:
        if py in (f"py{major}", f"py{major}{minor}"):
            return plat_ok
        if py.startswith(f"cp{major}"):
            tag_minor = int(py[len(f"cp{major}") :] or 0)
            if tag_minor == minor and any(a in ("none", "abi3", f"cp{major}{minor}") for a in abis):
                return plat_ok
            if tag_minor <= minor and "abi3" in abis:
                return plat_ok
    return False


def compatible_versions(files: list[str], python: str) -> list[str]:
    """Versions with a fitting wheel, oldest first (by the index's order of upload)."""
    seen: dict[str, None] = {}
    for filename in files:
        if wheel_fits(filename, python):
            seen.setdefault(_WHEEL.match(filename).group("ver"), None)  # type: ignore[union-attr]
    return _sort_versions(list(seen))


def _sort_versions(versions: list[str]) -> list[str]:
    def key(v: str) -> tuple[tuple[int, str], ...]:
        return tuple((int(p), "") if p.isdigit() else (-1, p) for p in re.split(r"[.+-]", v))

    return sorted(versions, key=key)
