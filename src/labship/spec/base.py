"""What a spec is once read (``Spec``: already what uv understands), and what every
grammar shares: reading the file, checking a PEP 508 line, the hash a lock depends on."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from labship.errors import SpecError
from labship.inputs import read_text


@dataclass(frozen=True)
class LocalPackage:
    """The project's own package: a folder (relative to the project root) uv installs."""

    name: str
    path: str  # "." for the project root
    editable: bool = True


@dataclass(frozen=True)
class Spec:
    """A project's environment, already translated to what uv understands."""

    path: Path
    python: str | None
    python_spec: str | None
    requirements: tuple[str, ...]
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    variables: dict[str, str] = field(hash=False)
    skipped: tuple[str, ...]  # conda names left out of the lock (native)
    name: str | None
    channels: tuple[str, ...]
    # locked for the lab only: a pyproject's dependency groups and dev extras
    dev_requirements: tuple[str, ...] = ()
    # the project's own package ('-e .', or a pyproject.toml that builds)
    local_package: LocalPackage | None = None
    #: The native conda packages as the file writes them (``libgcc-ng=11.2.0=h1d223b6_11``):
    #: no PyPI distribution, left out of the lock; for whatever installs them from conda.
    native: tuple[str, ...] = ()
    #: Debian packages a kept distribution loads at run time, where the spec lists the
    #: native package (``unixodbc`` for pyodbc): images install them, locally a hint.
    system_packages: tuple[str, ...] = ()
    #: PyPI distributions conda packages bundle that are not kept: (conda, pypi) pairs.
    bundled: tuple[tuple[str, str], ...] = ()

    def sha256(self) -> str:
        """Hash what the lock depends on, so reformatting or reordering lines, comments,
        ``name:``, ``channels:`` or ``variables:`` do not make a lock stale."""
        base = self.path.parent
        payload = {
            "python": _canonical_specifier(self.python_spec),
            "requirements": sorted({_canonical_requirement(r) for r in self.requirements}),
            "index_url": self.index_url,
            "extra_index_urls": list(self.extra_index_urls),
            "find_links": [_portable(link, base) for link in self.find_links],
        }
        if self.dev_requirements:  # absent when empty: older locks stay fresh
            payload["dev"] = sorted({_canonical_requirement(r) for r in self.dev_requirements})
        if self.local_package is not None:
            payload["local"] = [self.local_package.name, self.local_package.path]
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _validate_requirement(requirement: str, where: str, context: str) -> None:
    """Check a PEP 508 string with packaging; ``context`` says where it came from."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(requirement)
    except InvalidRequirement as err:
        reason = str(err).splitlines()[0]
        what = f"{context} '{requirement}', which is not" if context else f"'{requirement}' is not"
        raise SpecError(
            f"{where}: {what} a valid PEP 508 requirement ({reason})",
            hint="write it as 'name', 'name==1.2' or 'name @ https://...'",
        ) from None


def _read_text(path: Path, shown: str, *, included_at: str | None = None) -> str:
    where = f"{included_at}: " if included_at else ""
    try:
        # A regular file only: a named pipe in -r would block `labship lock` forever.
        text = read_text(path, encoding="utf-8-sig")
        return text.replace("\r\n", "\n").replace("\r", "\n")  # as open() reads text
    except FileNotFoundError:
        raise SpecError(f"{where}{shown}: no such file", hint="create it or fix the path") from None
    except UnicodeDecodeError:
        raise SpecError(f"{where}{shown}: not UTF-8 text", hint="save it as UTF-8") from None
    except OSError as err:
        raise SpecError(
            f"{where}{shown}: cannot read ({err.strerror})", hint="check the path and permissions"
        ) from None


def _display(path: Path) -> str:
    """The path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _canonical_specifier(specifier: str | None) -> str | None:
    if not specifier:
        return None
    from packaging.specifiers import SpecifierSet

    return str(SpecifierSet(specifier))


def _canonical_requirement(requirement: str) -> str:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    parsed = Requirement(requirement)
    extras = ",".join(sorted(canonicalize_name(e) for e in parsed.extras))
    return json.dumps(
        [
            canonicalize_name(parsed.name),
            extras,
            str(parsed.specifier),
            parsed.url,
            str(parsed.marker or ""),
        ]
    )


def _portable(link: str, base: Path) -> str:
    """find-links paths relative to the spec's folder, so the hash is the same on any machine."""
    if "://" in link:
        return link
    return Path(os.path.relpath(link, base.resolve())).as_posix()


def _python_minor(python_spec: str | None) -> str | None:
    """'3.11' when the specifier admits exactly one minor version of Python, else None."""
    if not python_spec:
        return None
    from packaging.specifiers import SpecifierSet

    specifier = SpecifierSet(python_spec)
    found = {
        f"{major}.{minor}"
        for major in (2, 3)
        for minor in range(40)
        if any(
            specifier.contains(f"{major}.{minor}.{patch}", prereleases=True) for patch in range(40)
        )
    }
    return found.pop() if len(found) == 1 else None
