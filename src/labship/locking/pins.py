"""Every pin that cannot be installed, found at once, each with what would work instead.

uv stops at the first problem it meets, and for an old release its message is often
about something else: ``pandas==0.22.0`` on Python 3.11 fails as "invalid metadata" (a
``pytz (>=2011k)`` that older tools accepted) when the truth is that no wheel of it runs
there. So labship asks the index (PEP 691) about every ``==`` pin (exact or ``==1.5.*``)
of the direct requirements, in parallel threads while uv resolves, and, once uv has
locked, about every locked package uv would have to build from source.

A pin is unusable when none of the releases it allows is (1) not yanked, (2) admitted
by its ``requires-python``, and (3) either has a wheel for the Python on Linux x86-64 or
no wheel at all: a source-only release is uv's to build, labship cannot judge it from the
index. It only warns when such a release predates the package's first wheel made for
that very Python (``sqlalchemy==1.2.1`` builds on 3.11 but fails on import there).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from labship.errors import ResolutionError
from labship.locking.wheels import IndexFile, IndexUnavailable, project_files, wheel_fits

if TYPE_CHECKING:
    from labship.console import Console

PYPI = "https://pypi.org/simple"
PARALLEL = 16  # index requests at a time
_PYTHONS = [f"3.{minor}" for minor in range(20, -1, -1)] + ["2.7"]  # newest first
_INVALID_METADATA = re.compile(
    r"Metadata for `([^`]+)` \(v([^)]+)\) could not be parsed:\n\s*(.+)\n\s*(.+)"
)

Releases = Mapping[Version, list[IndexFile]]


@dataclass(frozen=True)
class Unusable:
    """One pin that cannot be installed: what, why, and what would work."""

    name: str  # canonical
    label: str  # as the spec pins it: pandas==0.22.0
    why: str
    fix: str

    def __str__(self) -> str:
        return f"{self.label}: {self.why}; {self.fix}"


@dataclass(frozen=True)
class _Pin:
    name: str
    label: str
    specifier: SpecifierSet


@dataclass(frozen=True)
class Findings:
    problems: list[Unusable]
    warnings: list[str]


class PinCheck:
    """Asks the index only when there is something to explain, in parallel: after uv
    failed, about every ``==`` pin; after it locked, about what it would build from
    source and what it says is yanked. A lock that needs neither costs nothing."""

    def __init__(self, python: str, indexes: tuple[str, ...], *, find_links: bool) -> None:
        self.python = python
        self.indexes = indexes or (PYPI,)
        self.find_links = find_links

    def failed(self, requirements: Iterable[str], uv_stderr: str) -> Findings:
        """Why uv could not lock: the unusable pins, uv's unreadable metadata merged in."""
        pins = _pins(requirements, self.python)
        files = _Lookup({pin.name: self.indexes for pin in pins}).result()
        found: dict[str, Unusable] = {}
        for pin in pins:
            if pin.name not in files or pin.name in found:
                continue  # the index could not tell: uv's message will
            problem = _diagnose(pin, files[pin.name], self.python, self.find_links)
            if problem is not None:
                found[pin.name] = problem
        for name, version, detail in _metadata_errors(uv_stderr):
            why = "its metadata cannot be read by current tools"
            if name in found:  # the index already told the truth; uv's parse error is noise
                found[name] = replace(found[name], why=f"{found[name].why}, and {why}")
                continue
            fix = _fix_from(files.get(name), version, self.python)
            found[name] = Unusable(name, f"{name}=={version}", f"{why} ({detail})", fix)
        notes = [
            _source_only_note(p, _releases(files.get(p.name) or []), self.python) for p in pins
        ]
        return Findings(list(found.values()), [note for note in notes if note])

    def locked(self, packages: Sequence[Mapping[str, Any]], uv_stderr: str) -> Findings:
        """What uv locked but should not be installed: yanked releases, and releases it
        would build from source although they have wheels (for other Pythons)."""
        index = {str(p["name"]): self._index_of(str(p.get("index") or PYPI)) for p in packages}
        builds = [p for p in packages if not p.get("wheels") and "sdist" in p]
        yanked = _yanked(uv_stderr)
        names = [*(str(p["name"]) for p in builds), *(name for name, _v, _r in yanked)]
        files = _Lookup({name: (index.get(name, self.indexes[-1]),) for name in names}).result()
        problems, warnings = [], []
        for name, version, reason in yanked:
            fix = _fix_from(files.get(name), version, self.python)
            problems.append(Unusable(name, f"{name}=={version}", _yanked_why(reason), fix))
        for pkg in builds:
            name, version = str(pkg["name"]), str(pkg["version"])
            pin = _Pin(canonicalize_name(name), f"{name}=={version}", SpecifierSet(f"=={version}"))
            if name not in files:
                continue
            problem = _diagnose(pin, files[name], self.python, find_links=True)
            problems += [problem] if problem else []
            note = _source_only_note(pin, _releases(files[name] or []), self.python)
            warnings += [note] if note else []
        return Findings(problems, warnings)

    def _index_of(self, locked_index: str) -> str:
        """The spec's index URL (with its credentials) that the lock names without them."""
        bare = _without_credentials(locked_index)
        return next((i for i in self.indexes if _without_credentials(i) == bare), locked_index)


_YANKED = re.compile(r"warning: `([A-Za-z0-9._-]+)==([^`]+)` is yanked(?: \(reason: \"(.*)\"\))?")


def _yanked(uv_stderr: str) -> list[tuple[str, str, str]]:
    """(name, version, reason) of each yanked release uv says it locked."""
    return [
        (canonicalize_name(name), version, reason)
        for name, version, reason in _YANKED.findall(uv_stderr)
    ]


def _yanked_why(reason: str) -> str:
    return f"yanked by its maintainers{f' ({reason})' if reason else ''}"


def _without_credentials(url: str) -> str:
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", r"\1", url.rstrip("/"), flags=re.I)


def report(problems: list[Unusable], python: str, where: str, console: Console) -> ResolutionError:
    """One line for one problem; for several, one line each, then the summary."""
    if len(problems) == 1:
        return ResolutionError(f"{where}: {problems[0]}")
    for problem in problems:
        console.error(f"{where}: {problem}")
    names = ", ".join(p.label for p in problems)
    return ResolutionError(
        f"{where}: {len(problems)} pins cannot be installed on Python {python} ({names})",
        hint="change each as its line above says, or the project's Python version",
    )


# ------------------------------------------------------------------ which pins, which files


def _pins(requirements: Iterable[str], python: str) -> list[_Pin]:
    target = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    pins: dict[tuple[str, str], _Pin] = {}
    for text in requirements:
        req = Requirement(text)
        if req.url or not any(s.operator == "==" for s in req.specifier):
            continue
        if req.marker is not None and not req.marker.evaluate(target):
            continue
        name = canonicalize_name(req.name)
        pins.setdefault(
            (name, str(req.specifier)), _Pin(name, f"{req.name}{req.specifier}", req.specifier)
        )
    return list(pins.values())


class _Lookup:
    """Each project's files, fetched in daemon threads: an interrupted lock exits at once,
    it does not wait for the index."""

    def __init__(self, projects: Mapping[str, tuple[str, ...]]) -> None:
        self._files: dict[str, list[IndexFile] | None] = {}
        self._gate = threading.Semaphore(PARALLEL)
        self._threads = [
            threading.Thread(target=self._fetch, args=(name, indexes), daemon=True)
            for name, indexes in projects.items()
        ]
        for thread in self._threads:
            thread.start()

    def _fetch(self, name: str, indexes: tuple[str, ...]) -> None:
        """uv's first-index rule: the first index that has the project is the one used."""
        with self._gate, contextlib.suppress(IndexUnavailable):
            files = None
            for index in indexes:
                files = project_files(index, name)
                if files is not None:
                    break
            self._files[name] = files

    def result(self) -> dict[str, list[IndexFile] | None]:
        """Project -> files (None: on no index); a project the index could not tell about
        is absent, and left to uv."""
        for thread in self._threads:
            thread.join()
        return self._files


# ------------------------------------------------------------------------- diagnosis


def _releases(files: list[IndexFile]) -> dict[Version, list[IndexFile]]:
    releases: dict[Version, list[IndexFile]] = {}
    for file in files:
        if file.version is not None:
            releases.setdefault(file.version, []).append(file)
    return releases


def _diagnose(
    pin: _Pin, files: list[IndexFile] | None, python: str, find_links: bool
) -> Unusable | None:
    if files is None:
        if find_links:
            return None  # it may come from a --find-links source
        why, fix = (
            "no such project on the package index",
            "check the name (conda's and PyPI's can differ)",
        )
        return Unusable(pin.name, pin.label, why, fix)
    releases = _releases(files)
    allowed = sorted(v for v in releases if pin.specifier.contains(v, prereleases=True))
    if not allowed:
        if find_links or not releases:
            return None
        newest = max(releases, key=lambda v: (not v.is_prerelease, v))
        return Unusable(
            pin.name, pin.label, "no such release on the index", f"the newest is {newest}"
        )
    reasons = [_why_not(releases[v], python) for v in allowed]
    if any(reason is None for reason in reasons):
        return None
    return Unusable(pin.name, pin.label, str(reasons[-1]), _fix(releases, allowed[-1], python))


def _why_not(files: list[IndexFile], python: str) -> str | None:
    """Why this release cannot be installed on ``python``, or None."""
    if all(f.yanked is not None for f in files):
        return _yanked_why(next((f.yanked for f in files if f.yanked), ""))
    excluding = [r for f in files if (r := f.requires_python) and not _admits(r, python)]
    if excluding and len(excluding) == len(files):
        return f"it requires Python {excluding[0]}"
    wheels = [f.filename for f in files if f.is_wheel]
    if not wheels or any(wheel_fits(w, python) for w in wheels):
        return None
    return f"no wheel for Python {python} on Linux x86-64 (it would be compiled from source)"


@cache  # an index repeats a few requires-python strings thousands of times
def _admits(requires_python: str, python: str) -> bool:
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True  # unreadable: not labship's to refuse on


def _fix(releases: Releases, pinned: Version, python: str) -> str:
    """The releases that do install on ``python``; the Pythons the pinned one installs on."""
    good = sorted(v for v, files in releases.items() if _has_wheel_for(files, python))
    finals = [v for v in good if not v.is_prerelease] or good
    if finals:
        nearest = next((v for v in finals if v >= pinned), finals[-1])
        parts = [
            f"releases with a Python {python} wheel: {finals[0]} to {finals[-1]} "
            f"(nearest: {nearest})"
        ]
    else:
        parts = [f"no release has a Python {python} wheel"]
    files = releases.get(pinned, [])
    if any(f.is_wheel for f in files) and not _runs_on(files, python):
        parts.append(_newest_python(str(pinned), files))
    return "; ".join(parts)


def _fix_from(files: list[IndexFile] | None, version: str, python: str) -> str:
    releases = _releases(files or [])
    return _fix(releases, Version(version), python) if releases else "pin another release"


def _has_wheel_for(files: list[IndexFile], python: str) -> bool:
    return not all(f.yanked is not None for f in files) and _runs_on(files, python)


def _runs_on(files: list[IndexFile], python: str) -> bool:
    """A wheel among ``files`` installs on ``python`` (its tags and requires-python)."""
    return any(
        f.is_wheel
        and wheel_fits(f.filename, python)
        and (f.requires_python is None or _admits(f.requires_python, python))
        for f in files
    )


def _newest_python(version: str, files: list[IndexFile]) -> str:
    from labship.tools.uv import find_python

    newest = next((p for p in _PYTHONS if _runs_on(files, p)), None)
    if newest is None:
        return f"{version} has no wheel for Linux x86-64 for any Python"
    found = find_python(newest)
    where = f"installed here ({found})" if found else "not installed here"
    return f"{version} has wheels up to Python {newest}, {where}"


def _metadata_errors(uv_stderr: str) -> list[tuple[str, str, str]]:
    """(name, version, the line uv could not parse) for each release with invalid metadata."""
    return [
        (canonicalize_name(name), version, line.strip())
        for name, version, _reason, line in _INVALID_METADATA.findall(uv_stderr)
    ]


def _source_only_note(pin: _Pin, releases: Releases, python: str) -> str | None:
    """A warning for a source-only release older than the project's first wheel built for
    exactly this Python: it will be built, and was never made for that Python."""
    allowed = [v for v in releases if pin.specifier.contains(v, prereleases=True)]
    if not allowed or any(f.is_wheel for v in allowed for f in releases[v]):
        return None
    pinned = max(allowed)
    tag = "cp" + python.replace(".", "")
    first = min(
        (
            (f.upload_time, v)
            for v, files in releases.items()
            for f in files
            if f.is_wheel and f.upload_time and _built_for(f.filename, tag)
        ),
        default=None,
    )
    uploaded = min((f.upload_time for f in releases[pinned] if f.upload_time), default=None)
    if first is None or uploaded is None or uploaded >= first[0]:
        return None
    return (
        f"{pin.label}: published only as source, on {uploaded[:10]}, before the first "
        f"Python {python} wheel of {pin.name} ({first[1]}, {first[0][:10]}): uv will build it, "
        f"and it may not run on Python {python}; {_fix(releases, pinned, python)}"
    )


def _built_for(filename: str, tag: str) -> bool:
    with contextlib.suppress(InvalidWheelFilename):
        return any(t.interpreter == tag for t in parse_wheel_filename(filename)[3])
    return False
