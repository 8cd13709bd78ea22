"""What a project's own Dockerfiles say: the Python they run, and the job they start.

Any name counts: ``Dockerfile``, ``train.Dockerfile``, ``Dockerfile.prod``,
``Dockerfile-dev``, at the root or under ``docker/``. Only the final stage matters:
``FROM python:3.9-slim`` there gives the project's Python, and a ``CMD`` or
``ENTRYPOINT`` that runs Python (``["python", "train.py"]``) is a job, its container
paths mapped back to project paths as compose commands' are (``containerpaths``).
A Dockerfile that starts Jupyter is the lab's, not a job.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from labship.project.scaffold._shared import read_loosely
from labship.project.scaffold.containerpaths import (
    View,
    dockerfile_view,
    instructions,
    map_command,
)

_FOLDERS = ("", "docker/")
# python:3.9, python:3.9-slim, docker.io/library/python:3.11.4-bookworm, python:3.10@sha..
_PYTHON_IMAGE = re.compile(r"(?:^|/)python:(3\.\d+)(?:[.\-@]|$)")
_PYTHON_WORD = re.compile(r"(?:.*/)?python(?:3(?:\.\d+)?)?")
_SHELLS = ("sh", "bash", "/bin/sh", "/bin/bash")


@dataclass(frozen=True)
class Dockerfile:
    """One Dockerfile of the project, read."""

    path: Path
    rel: str
    python: str | None  # from FROM python:X.Y of the final stage
    argv: tuple[str, ...]  # ENTRYPOINT + CMD of the final stage, when it runs Python
    lab: bool  # it starts Jupyter: the lab's image, not a job's


def find_dockerfiles(root: Path) -> list[Path]:
    """The project's Dockerfiles, root first, by name."""
    found: list[Path] = []
    for folder in _FOLDERS:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.iterdir()):
            name = path.name
            lowered = name.lower()
            if not path.is_file() or lowered.endswith((".dockerignore", ".md", ".txt")):
                continue
            if (
                lowered == "dockerfile"
                or lowered.startswith(("dockerfile.", "dockerfile-", "dockerfile_"))
                or lowered.endswith(".dockerfile")
            ):
                found.append(path)
    return found


def read_dockerfile(root: Path, path: Path, context: Path | None = None) -> Dockerfile:
    """The final stage's Python version and command; ``context`` is the build context
    its COPY lines read from (the project root unless a compose file says otherwise)."""
    python: str | None = None
    stages: dict[str, str | None] = {}  # stage name -> its Python
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    for keyword, args in instructions(read_loosely(path)):
        if keyword == "FROM":
            parts = [w for w in args.split() if not w.startswith("--")]
            image = parts[0].lower() if parts else ""
            found = _PYTHON_IMAGE.search(image)
            python = found.group(1) if found else stages.get(image)
            if len(parts) == 3 and parts[1].upper() == "AS":
                stages[parts[2].lower()] = python
            entrypoint, cmd = (), ()
        elif keyword == "ENTRYPOINT":
            entrypoint, cmd = _exec_words(args), ()  # a new ENTRYPOINT resets CMD
        elif keyword == "CMD":
            cmd = _exec_words(args)
    words = _unwrap((*entrypoint, *cmd))
    lab = any("jupyter" in w.lower() for w in words)
    runs_python = bool(words) and _PYTHON_WORD.fullmatch(words[0]) is not None
    argv: tuple[str, ...] = ()
    if runs_python and not lab and len(words) > 1 and words[1] != "-c":
        mounts, workdir = dockerfile_view(root, path, context or root)
        view = View(tuple(mounts), workdir, f"{_rel(root, path)} WORKDIR {workdir}")
        argv = map_command(words, view, root).argv
        argv = ("python", *argv[1:])  # the image's interpreter: labship runs the environment's
    return Dockerfile(path, _rel(root, path), python, argv, lab)


def job_name(dockerfile: Dockerfile) -> str:
    """The job's name: the script's stem (train.py -> train, -m pkg.train -> train)."""
    argv = dockerfile.argv
    if len(argv) > 2 and argv[1] == "-m":
        return argv[2].rsplit(".", 1)[-1].replace("_", "-")
    script = next((w for w in argv[1:] if not w.startswith("-")), "")
    stem = PurePosixPath(script).stem if script else ""
    if stem in ("", "main", "__main__", "app", "run"):
        named = dockerfile.path.name.lower().replace("dockerfile", "").strip(".-_")
        stem = named or stem or "main"
    return stem.replace("_", "-").lower()


def _exec_words(args: str) -> tuple[str, ...]:
    """CMD/ENTRYPOINT words: the JSON (exec) form, else the shell form split."""
    text = args.strip()
    if text.startswith("["):
        try:
            words = json.loads(text)
        except ValueError:
            return ()
        if isinstance(words, list) and all(isinstance(w, str) for w in words):
            return tuple(words)
        return ()
    try:
        return tuple(shlex.split(text))
    except ValueError:
        return ()


def _unwrap(words: tuple[str, ...]) -> tuple[str, ...]:
    """``sh -c "python train.py"`` and ``tini -- python x.py``: the command inside."""
    while words and PurePosixPath(words[0]).name in ("tini", "dumb-init", "env"):
        words = words[1:]
        if words and words[0] == "--":
            words = words[1:]
    if len(words) == 3 and words[0] in _SHELLS and words[1] == "-c":
        try:
            inner = tuple(shlex.split(words[2]))
        except ValueError:
            return words
        if inner and inner[0] == "exec":
            inner = inner[1:]
        return inner if "&&" not in inner and ";" not in words[2] else words
    return words


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)
