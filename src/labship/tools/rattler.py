"""The one wrapper for rattler (py-rattler, the library pixi is built on): solve conda
match-specs against channels, install exact records into a prefix, ask channels whether
they answer.

rattler runs in a child Python process (``python -m labship.tools.rattler``) that reads
one JSON request on stdin and writes one JSON answer on stdout. Its asyncio runtime can
abort the interpreter while it finalises, after the work is done; the child therefore
writes its answer, flushes, and leaves with ``os._exit`` without finalising, and the
parent trusts only a complete answer. labship's own process never imports rattler.

Errors come back classified (a channel that does not answer, a package or pin the
channels cannot satisfy, an archive that does not match its sha256) and become one line
with the exit code of :mod:`labship.errors`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labship.errors import ChannelUnavailable, CondaPackageError, ToolError

PLATFORM = "linux-64"  # where production runs; images and the lock are for it
# What a linux-64 machine offers the solver. Fixed, not detected, so the lock is the same
# on every machine: glibc 2.28 is manylinux_2_28's floor (Debian 10 and later, UBI 8).
VIRTUAL_PACKAGES = (("__unix", "0", "0"), ("__linux", "4.18", "0"), ("__glibc", "2.28", "0"))


@dataclass(frozen=True)
class Record:
    """One exact conda package: what a lock line holds, and what install needs."""

    name: str
    version: str
    build: str
    url: str
    sha256: str
    channel: str
    subdir: str
    noarch: str = ""  # "", "generic" or "python" (a noarch: python package)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ChannelAnswer:
    channel: str
    ok: bool
    detail: str  # the number of packages offered, or what went wrong


def solve(
    specs: Sequence[str],
    channels: Sequence[str],
    *,
    cache: Path,
    platform: str = PLATFORM,
    constraints: Sequence[str] = (),
) -> list[Record]:
    """The records that satisfy ``specs`` from ``channels``, sorted by name;
    ``constraints`` bind a package only if something pulls it in (python's ABI)."""
    answer = _call(
        {
            "op": "solve",
            "specs": list(specs),
            "constraints": list(constraints),
            "channels": list(channels),
            "platform": platform,
            "cache": str(cache),
        }
    )
    return [Record(**r) for r in answer["records"]]


def install(
    records: Sequence[Record],
    prefix: Path,
    *,
    cache: Path,
    target_prefix: str | None = None,
    platform: str = PLATFORM,
) -> None:
    """Make ``prefix`` hold exactly ``records`` (from rattler's package cache, hard-linked
    where it can). ``target_prefix``: the path the prefix will be used at (an image's),
    patched into files in place of ``prefix``."""
    _call(
        {
            "op": "install",
            "records": [asdict(r) for r in records],
            "prefix": str(prefix),
            "target_prefix": target_prefix,
            "platform": platform,
            "cache": str(cache),
        }
    )


def probe(channels: Sequence[str], *, cache: Path, platform: str = PLATFORM) -> list[ChannelAnswer]:
    """Whether each channel answers (its repodata for ``platform`` and noarch)."""
    answer = _call(
        {"op": "probe", "channels": list(channels), "platform": platform, "cache": str(cache)}
    )
    return [ChannelAnswer(**a) for a in answer["channels"]]


def _call(request: dict[str, Any]) -> dict[str, Any]:
    from labship.tools.process import run_tool

    result = run_tool(
        "rattler",
        [sys.executable, "-m", "labship.tools.rattler"],
        stdin=json.dumps(request),
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    lines = result.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        why = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.returncode}"]
        raise ToolError(f"rattler ({request['op']}) failed without an answer: {why[0]}")
    if "error" in answer:
        raise _error(answer["error"])
    return answer


def _error(error: dict[str, str]) -> Exception:
    kind, message = error.get("kind", ""), error.get("message", "")
    if kind == "unreachable":
        return ChannelUnavailable(
            message, hint="check the URL and the network, or the channel in [conda] channels"
        )
    if kind == "unsatisfiable":
        return CondaPackageError(
            message, hint="check the names and pins in the spec and [conda] packages"
        )
    if kind == "corrupt":
        return CondaPackageError(
            message, hint="the channel changed or damaged the package; run 'labship lock'"
        )
    if kind == "invalid":
        return CondaPackageError(message, hint="write it as a conda match-spec, e.g. 'libfoo >=2'")
    return ToolError(f"rattler: {message}")


# --------------------------------------------------------------------- the child


def _child() -> None:  # pragma: no cover - runs in the child process (tests call it)
    request = json.loads(sys.stdin.read())
    try:
        import asyncio

        answer = asyncio.run(_OPS[request["op"]](request))
    except Exception as exc:
        answer = {"error": _classify(exc, request)}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # never finalise rattler's runtime (see the module's docstring)


def _gateway(request: dict[str, Any], *, fresh: bool = False) -> Any:
    """rattler's gateway; ``fresh``: ask the channel, never answer from the cache."""
    import rattler

    config = rattler.SourceConfig(cache_action="no-cache") if fresh else None
    return rattler.Gateway(
        cache_dir=Path(request["cache"]) / "repodata", default_config=config, show_progress=False
    )


def _virtual() -> list[Any]:
    from rattler import BuildString, GenericVirtualPackage, PackageName, Version

    return [
        GenericVirtualPackage(PackageName(n), Version(v), BuildString(b))
        for n, v, b in VIRTUAL_PACKAGES
    ]


async def _solve(request: dict[str, Any]) -> dict[str, Any]:
    import rattler

    records = await rattler.solve(
        sources=request["channels"],
        specs=request["specs"],
        gateway=_gateway(request),
        platforms=[request["platform"], "noarch"],
        virtual_packages=_virtual(),
        constraints=request.get("constraints") or None,
    )
    found = sorted((_record(r) for r in records), key=lambda r: r["name"])
    return {"records": found}


def _record(r: Any) -> dict[str, str]:
    return {
        "name": r.name.normalized,
        "version": str(r.version),
        "build": str(r.build),
        "url": r.url,
        "sha256": r.sha256.hex() if r.sha256 else "",
        "channel": r.channel or "",
        "subdir": r.subdir,
        "noarch": "python" if r.noarch.python else "generic" if r.noarch.generic else "",
    }


async def _install(request: dict[str, Any]) -> dict[str, Any]:
    """Install exactly the records of the lock, as ``conda create --file`` does from an
    explicit file: no repodata is read; rattler checks each download against the lock's
    sha256 (labship checks file:// archives, which rattler does not)."""
    import rattler

    records = [Record(**r) for r in request["records"]]
    for record in records:
        _check_local_archive(record)
    await rattler.install(
        [_repodata_record(r) for r in records],
        target_prefix=request["prefix"],
        cache_dir=Path(request["cache"]) / "pkgs",
        platform=rattler.Platform(request["platform"]),
        show_progress=False,
        alternative_target_prefix=request.get("target_prefix"),
        execute_link_scripts=False,
    )
    return {"installed": len(records)}


def _repodata_record(record: Record) -> Any:
    from rattler import BuildString, NoArchType, PackageRecord, RepoDataRecord

    number = re.search(r"_(\d+)$", record.build)
    package = PackageRecord(
        record.name,
        record.version,
        BuildString(record.build),
        int(number.group(1)) if number else 0,
        record.subdir,
        noarch=NoArchType(record.noarch or None),  # type: ignore[arg-type]
        sha256=bytes.fromhex(record.sha256),
    )
    return RepoDataRecord(package, record.file_name, record.url, record.channel)


class _Missing(Exception):
    pass


def _check_local_archive(record: Record) -> None:
    """rattler checks the sha256 of what it downloads, not of a file:// archive: labship
    does, so a local channel is held to the lock as a remote one is."""
    if not record.url.startswith("file://"):
        return
    import hashlib
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(record.url).path))
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise _Missing(f"{record.url} cannot be read: {exc.strerror}") from None
    if digest != record.sha256:
        raise _Corrupt(_mismatch(record.url, record.sha256, digest))


def _mismatch(url: str, expected: str, got: str) -> str:
    return f"{url} does not match the lock: sha256 {got[:16]}..., the lock says {expected[:16]}..."


async def _probe(request: dict[str, Any]) -> dict[str, Any]:
    answers = []
    for channel in request["channels"]:
        try:
            found = await _gateway(request, fresh=True).names(
                [channel], [request["platform"], "noarch"]
            )
            answers.append({"channel": channel, "ok": True, "detail": f"{len(found)} packages"})
        except Exception as exc:
            detail = _missing_folder([channel]) or _first_lines(exc)
            answers.append({"channel": channel, "ok": False, "detail": detail})
    return {"channels": answers}


def _missing_folder(channels: Sequence[str]) -> str | None:
    """For a file:// channel whose folder is not there, say that (rattler's own words are
    about a missing noarch/repodata.json)."""
    from urllib.parse import unquote, urlparse

    for channel in channels:
        url = urlparse(channel)
        if url.scheme == "file" and not Path(unquote(url.path)).is_dir():
            return f"its folder {unquote(url.path)} does not exist"
    return None


class _Corrupt(Exception):
    pass


_OPS = {"solve": _solve, "install": _install, "probe": _probe}


def _first_lines(exc: BaseException) -> str:
    """rattler's message, its 'Caused by' chain joined on one line."""
    parts = [p.strip() for p in str(exc).splitlines() if p.strip()]
    text = "; ".join(p.removeprefix("Caused by: ") for p in parts)
    return text[:500]


def _classify(exc: BaseException, request: dict[str, Any]) -> dict[str, str]:
    """(kind, one-line message) for an exception raised in the child."""
    name = type(exc).__name__
    text = _first_lines(exc)
    channels = ", ".join(request.get("channels", [])) or "the lock's channels"
    if isinstance(exc, _Missing):
        for url in dict.fromkeys(r.get("channel", "") for r in request.get("records", [])):
            gone = _missing_folder([url])  # the whole local channel, not one package of it
            if gone:
                message = f"conda channel {url} does not answer: {gone}"
                return {"kind": "unreachable", "message": message}
        return {"kind": "unsatisfiable", "message": str(exc)}
    missing = re.search(r"(\S+\.conda)\S*; .*(404 Not Found|No such file)", text)
    if missing:
        message = f"{missing.group(1)} is gone from its channel ({missing.group(2)})"
        return {"kind": "unsatisfiable", "message": message}
    if isinstance(exc, _Corrupt):
        return {"kind": "corrupt", "message": str(exc)}
    if name == "SolverError":
        why = text.removeprefix("Cannot solve the request because of: ").rstrip(".")
        return {"kind": "unsatisfiable", "message": f"no solution from {channels}: {why}"}
    if name == "InvalidMatchSpecError":
        return {"kind": "invalid", "message": f"not a conda match-spec: {text}"}
    mismatch = re.search(r"hash mismatch when extracting (\S+) .*expected (\w+), got (\w+)", text)
    if mismatch:
        return {"kind": "corrupt", "message": _mismatch(*mismatch.groups())}
    if name in {"GatewayError", "FetchRepoDataError", "FetchRepoDataException"} or any(
        w in text for w in ("error sending request", "Connection refused", "dns error")
    ):
        return {
            "kind": "unreachable",
            "message": f"conda channel {channels} does not answer: "
            f"{_missing_folder(request.get('channels', [])) or text}",
        }
    return {"kind": "other", "message": f"{name}: {text}"}


if __name__ == "__main__":  # pragma: no cover
    _child()
