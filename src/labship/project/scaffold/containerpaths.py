"""Container paths in adopted job commands, mapped back to the project's own paths.

The classic template runs its jobs in a container where the code sits wherever its
compose files and Dockerfiles put it (``./code:/code``, ``COPY ./code /code``,
``WORKDIR /code``), so a command says ``python /code/example.py``. labship runs a job
from the project root locally and from /app in its image, where code/ is /app/code: a
project-relative path (``code/example.py``) is the one spelling that works on both.

The map is built only from what the project's files say (volume mounts, COPY and ADD
lines, ``working_dir`` and ``WORKDIR``); a path they do not explain is left as it is and
named, never guessed.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from labship.project.scaffold._shared import read_loosely

# Where a service without a ``build`` section was most likely built from, best first.
PROD_DOCKERFILES = (
    "docker/Dockerfile-prod",
    "docker/Dockerfile.prod",
    "Dockerfile-prod",
    "Dockerfile.prod",
    "docker/Dockerfile",
    "Dockerfile",
)
_PYTHON = re.compile(r"python(?:3(?:\.\d+)?)?")
_OPTION_PATH = re.compile(r"(-{1,2}[A-Za-z0-9][\w.-]*=)(/.*)")


@dataclass(frozen=True)
class Mount:
    """A container folder (or file) and the project path it shows: ``.`` is the root."""

    container: PurePosixPath
    project: PurePosixPath
    said_by: str  # where the project says so, e.g. "docker-compose.yml volume ./code:/code"


@dataclass(frozen=True)
class View:
    """What one service's container looks like: its mounts, most trusted first, and
    the folder its command ran in."""

    mounts: tuple[Mount, ...]
    workdir: PurePosixPath | None = None
    workdir_said_by: str = ""

    def project_path(self, root: Path, path: PurePosixPath) -> tuple[PurePosixPath, Mount] | None:
        """The project path a container path shows, by the most specific mount; among
        equally specific ones, the first under which the file exists."""
        candidates = [m for m in self.mounts if path == m.container or m.container in path.parents]
        candidates.sort(key=lambda m: -len(m.container.parts))  # stable: trust order stays
        mapped = [(m.project / path.relative_to(m.container), m) for m in candidates]
        existing = next(((p, m) for p, m in mapped if _exists(root / p)), None)
        return existing or (mapped[0] if mapped else None)


@dataclass(frozen=True)
class Mapped:
    """A command with its container paths replaced, and what was said about it."""

    argv: tuple[str, ...]
    mapped: tuple[str, ...]  # "/code/example.py -> code/example.py (said by ...)"
    left: tuple[str, ...]  # container paths nothing in the project explains
    # The container folder the command ran in and the project folder it is, when that
    # is not the project root (where labship runs jobs).
    workdir: tuple[PurePosixPath, PurePosixPath] | None


def service_view(
    root: Path,
    compose: Path,
    body: Mapping[str, Any],
    fallback_dockerfile: Path | None,
    fallback_mounts: Sequence[Mount] = (),
) -> View:
    """The service's own volumes, then its Dockerfile (``build``, else the fallback),
    then ``fallback_mounts`` (what the other compose file mounts)."""
    mounts = volume_mounts(root, compose, body)
    dockerfile, context = _build(root, compose, body)
    if dockerfile is None and fallback_dockerfile is not None:
        dockerfile, context = fallback_dockerfile, root
    workdir, said_by = None, ""
    if dockerfile is not None and dockerfile.is_file():
        copied, workdir = dockerfile_view(root, dockerfile, context)
        mounts += copied
        said_by = f"{_rel(root, dockerfile)} WORKDIR {workdir}"
    declared = body.get("working_dir")
    if isinstance(declared, str) and declared.startswith("/") and "$" not in declared:
        workdir = PurePosixPath(posixpath.normpath(declared))
        said_by = f"{compose.name} working_dir {declared}"
    return View((*mounts, *fallback_mounts), workdir, said_by)


def volume_mounts(root: Path, compose: Path, body: Mapping[str, Any]) -> list[Mount]:
    """The service's bind mounts of project folders (named volumes are not the project)."""
    volumes = body.get("volumes")
    mounts: list[Mount] = []
    for entry in volumes if isinstance(volumes, list) else []:
        if isinstance(entry, str):
            parts = entry.split(":")
            source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, None)
        elif isinstance(entry, Mapping) and entry.get("type") == "bind":
            source, target = entry.get("source"), entry.get("target")
        else:
            continue
        if not (isinstance(source, str) and isinstance(target, str)):
            continue
        if not source.startswith((".", "/")) or not target.startswith("/"):
            continue  # a named volume, or a target relative to nothing
        project = _inside(root, compose.parent, source)
        if project is not None and "$" not in target:
            said_by = f"{compose.name} volume {source}:{target}"
            mounts.append(Mount(PurePosixPath(posixpath.normpath(target)), project, said_by))
    return mounts


def dockerfile_view(
    root: Path, dockerfile: Path, context: Path
) -> tuple[list[Mount], PurePosixPath | None]:
    """The final stage's COPY and ADD of project files, and its last WORKDIR."""
    mounts: list[Mount] = []
    workdir: PurePosixPath | None = None
    for keyword, args in instructions(read_loosely(dockerfile)):
        if keyword == "FROM":  # a new stage: what came before is not in the final image
            mounts, workdir = [], None
        elif keyword == "WORKDIR" and args and "$" not in args:
            workdir = _absolute(args, workdir)
        elif keyword in ("COPY", "ADD"):
            said_by = f"{_rel(root, dockerfile)} {keyword} {args}"
            mounts += _copied(root, context, _copy_words(args), workdir, said_by)
    return mounts, workdir


def map_command(argv: Sequence[str], view: View, root: Path) -> Mapped:
    """Each word that is a container path becomes the project path it shows."""
    out: list[str] = []
    mapped: list[str] = []
    left: list[str] = []
    here = _workdir_here(view, root)
    for index, word in enumerate(argv):
        new, why = _map_word(word, view, root, here, program=index == 0)
        if why:
            mapped.append(f"{word} -> {new} ({why})")
        elif _is_container_path(new):
            left.append(new)
        out.append(new)
    workdir = (view.workdir, here[0]) if here and view.workdir else None
    return Mapped(tuple(out), tuple(mapped), tuple(left), workdir)


def _map_word(
    word: str,
    view: View,
    root: Path,
    here: tuple[PurePosixPath, str] | None,
    *,
    program: bool,
) -> tuple[str, str]:
    """(the word for labship, why it changed or ""): an absolute path (also after
    ``--opt=``), a path relative to a working folder inside the project, or the image's
    python."""
    option = _OPTION_PATH.fullmatch(word)
    prefix, value = (option.group(1), option.group(2)) if option else ("", word)
    if value.startswith("/") and "$" not in value:
        found = view.project_path(root, PurePosixPath(posixpath.normpath(value)))
        if found is not None:
            return prefix + found[0].as_posix(), found[1].said_by
        if program and _PYTHON.fullmatch(PurePosixPath(value).name):
            return "python", "the image's interpreter: labship runs the environment's python"
    elif here is not None and not program and not word.startswith("-") and "$" not in word:
        folder, said_by = here
        candidate = folder / word  # relative to the folder it ran in, as in the container
        if _exists(root / candidate):
            return candidate.as_posix(), said_by
    return word, ""


def _workdir_here(view: View, root: Path) -> tuple[PurePosixPath, str] | None:
    """The project folder the command ran in, when it is one and not the root."""
    if view.workdir is None:
        return None
    found = view.project_path(root, view.workdir)
    if found is None or found[0] == PurePosixPath("."):
        return None
    return found[0], f"{view.workdir_said_by}; {found[1].said_by}"


def _is_container_path(word: str) -> bool:
    option = _OPTION_PATH.fullmatch(word)
    value = option.group(2) if option else word
    return value.startswith("/") and not _exists(Path(value))


def _copied(
    root: Path,
    context: Path,
    words: Sequence[str],
    workdir: PurePosixPath | None,
    said_by: str,
) -> list[Mount]:
    """Mounts for one COPY/ADD: each project source and where it lands."""
    if len(words) < 2 or "$" in words[-1]:
        return []
    *sources, dest = words
    target = _absolute(dest, workdir)
    mounts = []
    for source in sources:
        if any(c in source for c in "*?[$") or "://" in source:
            continue  # globs, variables and URLs say nothing certain about a path
        project = _inside(root, context, source)
        if project is None or not _exists(root / project):
            continue
        lands = target
        if (root / project).is_file() and (dest.endswith("/") or len(sources) > 1):
            lands = target / PurePosixPath(source).name
        mounts.append(Mount(lands, project, said_by))
    return mounts


def _copy_words(args: str) -> list[str]:
    """Sources and destination of COPY/ADD, in either form; none for ``--from`` (another
    stage's files, not the project's)."""
    text = args.strip()
    if text.startswith("["):
        try:
            words = json.loads(text)
        except ValueError:
            return []
    else:
        try:
            words = shlex.split(text)
        except ValueError:
            return []
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        return []
    flags = [w for w in words if w.startswith("--")]
    if any(f.startswith("--from") for f in flags):
        return []
    return [w for w in words if not w.startswith("--")]


def instructions(text: str) -> Iterator[tuple[str, str]]:
    """(KEYWORD, arguments) of each Dockerfile instruction, continuation lines joined."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, args = whole.partition(" ")
        yield keyword.upper(), args.strip()


def _build(root: Path, compose: Path, body: Mapping[str, Any]) -> tuple[Path | None, Path]:
    """The service's Dockerfile and build context, as its ``build`` section says."""
    build = body.get("build")
    if isinstance(build, str):
        context, name = build, "Dockerfile"
    elif isinstance(build, Mapping) and isinstance(build.get("context", "."), str):
        context, name = build.get("context", "."), build.get("dockerfile", "Dockerfile")
    else:
        return None, root
    folder = Path(os.path.normpath(compose.parent / context))
    if "://" in context or not isinstance(name, str) or _inside(root, folder, ".") is None:
        return None, root
    return Path(os.path.normpath(folder / name)), folder


def _inside(root: Path, base: Path, path: str) -> PurePosixPath | None:
    """``path`` (relative to ``base``) as a project-relative path, if it is in the project."""
    full = os.path.normpath(os.path.join(base, path))
    rel = os.path.relpath(full, root)
    if rel == ".." or rel.startswith(".." + os.sep) or os.path.isabs(rel):
        return None
    return PurePosixPath(Path(rel).as_posix())


def _absolute(path: str, workdir: PurePosixPath | None) -> PurePosixPath:
    """A container path; a relative one is relative to the current WORKDIR (else /)."""
    joined = posixpath.join(str(workdir or "/"), path)
    return PurePosixPath(posixpath.normpath(joined))


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _exists(path: Path) -> bool:
    """Path.exists, but a word too long or odd for a file name is simply not a file."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False
