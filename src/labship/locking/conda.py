"""The native part of the lock: conda packages solved by rattler, beside the PyPI set.

What is native comes from the spec layer (:func:`native_specs`: the spec's conda-only
packages, as the spec classifies them, plus ``[conda] packages``). They are solved
against ``[conda] channels`` (else the spec's ``channels:``, else conda-forge) for
linux-64, and written as a conda *explicit* file, ``conda-linux-64.lock``: one URL per
package with its sha256, after ``@EXPLICIT``. That is the format ``conda create --file``
and ``micromamba create -f`` install from, so another tool can rebuild the same prefix;
labship reads the exact records back from the same lines.

The file is written together with ``pylock.toml`` and ``pylock.dev.toml`` (all three
or none) and records the same inputs hash, so freshness covers the three at once.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labship.errors import CondaPackageError, StaleLockError
from labship.tools.rattler import PLATFORM, Record

if TYPE_CHECKING:
    from labship.console import Console
    from labship.project import Project
    from labship.spec import Spec

CONDA_LOCK_NAME = f"conda-{PLATFORM}.lock"
DEFAULT_CHANNEL = "conda-forge"
_EXPLICIT = "@EXPLICIT"
_META = "# labship: "
_ARCHIVE = re.compile(r"(.+)-([^-]+)-([^-]+)\.(?:conda|tar\.bz2)")


@dataclass(frozen=True)
class CondaLock:
    path: Path
    records: tuple[Record, ...]
    inputs: str  # the inputs hash of the pylock files written with it
    channels: tuple[str, ...]
    specs: tuple[str, ...]

    @property
    def hash(self) -> str:
        """Of the records alone: the same packages from a re-lock give the same prefix."""
        lines = "".join(f"{r.url}#{r.sha256}\n" for r in self.records)
        return hashlib.sha256(lines.encode()).hexdigest()


def lock_path(project: Project) -> Path:
    return project.root / CONDA_LOCK_NAME


def native_specs(project: Project, spec: Spec) -> tuple[str, ...]:
    """The conda match-specs to lock: the spec's native packages, then ``[conda] packages``.

    The one place that asks the spec layer which packages are native (``Spec.native``,
    each as the file wrote it, pins and build string included)."""
    found = [_conda_text(text) for text in spec.native]
    extra = [p.strip() for p in project.settings.conda_packages]
    named = {_name(s) for s in extra}
    return tuple([s for s in found if _name(s) not in named] + extra)


def channels(project: Project, spec: Spec) -> tuple[str, ...]:
    return project.settings.conda_channels or spec.channels or (DEFAULT_CHANNEL,)


def conda_inputs(project: Project, spec: Spec) -> dict[str, Any] | None:
    """What the conda part of the lock depends on; None when [conda] is off."""
    if not project.settings.conda:
        return None
    return {
        "channels": list(channels(project, spec)),
        "specs": sorted(native_specs(project, spec)),
        "platform": PLATFORM,
    }


def solve(project: Project, spec: Spec, python: str, *, console: Console) -> list[Record]:
    """The records for the project's native packages (none asked: none solved). A
    package that needs Python gets the project's (its ABI), never another one."""
    from labship.dirs import cache_root
    from labship.tools import rattler

    specs, where = native_specs(project, spec), channels(project, spec)
    if not specs:
        return []
    console.say(f"resolving native packages ({', '.join(specs)}) from {', '.join(where)}")
    records = rattler.solve(
        specs, where, cache=cache_root() / "conda", constraints=[f"python {python}.*"]
    )
    pythonic = [r.name for r in records if r.noarch == "python"]
    if pythonic:
        raise CondaPackageError(
            f"conda packages {', '.join(pythonic)} are Python packages (noarch: python): the "
            "conda part of the lock holds native packages only",
            hint="list them in the spec's PyPI requirements instead",
        )
    return records


def render(project: Project, spec: Spec, records: list[Record], inputs: str) -> str:
    from labship import __version__
    from labship.templates import render as render_template

    meta = {"inputs": inputs, "channels": channels(project, spec)}
    meta["specs"] = native_specs(project, spec)
    text = render_template(
        "lock/conda-explicit.txt.j2",
        platform=PLATFORM,
        labship_version=__version__,
        meta=json.dumps(meta, separators=(",", ":")),
        records=records,
    )
    parsed = parse(lock_path(project), text)  # read back before it replaces anything
    if parsed.records != tuple(records) or parsed.inputs != inputs:
        from labship.errors import ToolError

        raise ToolError(
            f"{lock_path(project)}: the lock labship made does not read back as written",
            hint="report this as a bug in labship",
        )
    return text


def read(project: Project) -> CondaLock | None:
    """The conda part of the project's lock, or None when there is none."""
    path = lock_path(project)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError):
        raise StaleLockError(f"{path}: cannot be read", hint="run 'labship lock'") from None
    return parse(path, text)


def parse(path: Path, text: str) -> CondaLock:
    """An explicit file labship wrote: its records and the meta comment."""
    meta: dict[str, Any] | None = None
    records: list[Record] = []
    explicit = False
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line.startswith(_META):
            try:
                meta = json.loads(line[len(_META) :])
            except ValueError:
                meta = None
        elif line == _EXPLICIT:
            explicit = True
        elif line and not line.startswith("#"):
            record = _record(line) if explicit else None
            if record is None:
                raise StaleLockError(
                    f"{path}:{number}: not a package URL with its sha256",
                    hint="run 'labship lock'",
                )
            records.append(record)
    if not isinstance(meta, dict) or not isinstance(meta.get("inputs"), str) or not explicit:
        raise StaleLockError(
            f"{path}: not written by labship (no '{_META.strip()}' line or no {_EXPLICIT})",
            hint="run 'labship lock'",
        )
    return CondaLock(
        path,
        tuple(records),
        meta["inputs"],
        tuple(meta.get("channels", ())),
        tuple(meta.get("specs", ())),
    )


def _record(line: str) -> Record | None:
    """``<channel>/<subdir>/<name>-<version>-<build>.conda#sha256:<hex>`` as a record."""
    url, _, digest = line.partition("#")
    digest = digest.removeprefix("sha256:")
    head, _, file_name = url.rpartition("/")
    channel, _, subdir = head.rpartition("/")
    match = _ARCHIVE.fullmatch(file_name)
    if match is None or not re.fullmatch(r"[0-9a-f]{64}", digest) or not channel:
        return None
    name, version, build = match.groups()
    noarch = "generic" if subdir == "noarch" else ""  # noarch: python is refused by solve
    return Record(name, version, build, url, digest, channel + "/", subdir, noarch)


def _name(match_spec: str) -> str:
    """The package name a match-spec starts with (``conda-forge::gdal >=3`` -> gdal)."""
    text = match_spec.split("::")[-1].strip()
    return re.split(r"[\s=<>!~\[]", text, maxsplit=1)[0].lower()


def _conda_text(item: str) -> str:
    """environment.yml's ``name=1.2`` form in the match-spec form the solver reads."""
    text = item.strip()
    match = re.fullmatch(r"([^\s=<>!~]+)=([^=\s]+)(?:=(\S+))?", text)
    if match is None:
        return text
    name, version, build = match.groups()
    pin = version if version.endswith("*") else f"{version}.*"
    return f"{name} {version} {build}" if build else f"{name} {pin}"
