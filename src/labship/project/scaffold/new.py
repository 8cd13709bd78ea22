"""``labship new``: a fresh project with an example job, notebook and profiles.

The settings are built as a ``Settings`` object and written with ``render_settings``, so
the new labship.toml obeys the one rule set. Files other packages own (the compose files)
come in through ``extra_files``: this package never imports the targets.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from labship.errors import ConflictError
from labship.project import Project
from labship.project.scaffold._shared import (
    File,
    ScaffoldResult,
    checked_name,
    checked_python,
    env_text,
    host_python,
    ignore_files,
    no_name,
    spec_file,
    verbatim,
    write_all,
    write_error,
)
from labship.project.settings import CONFIG_NAME, Job, Settings, name_from, render_settings
from labship.templates import render

ExtraFiles = Callable[[Project], Mapping[str, str]]

# The example project's packages: both have cp310-cp313 manylinux wheels.
_EXAMPLE_PACKAGES = ("pandas=2.2.3", "scikit-learn=1.5.2")
_EXAMPLE_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
_EXAMPLE_JOB = Job("train", ("python", "code/train.py"))


@dataclass(frozen=True)
class _Var:
    """One variable of the example profiles, with its value in each."""

    key: str
    comment: str
    dev: str
    prod: str | None  # None: not in .env_prod (lab only)
    example: str = ""
    secret: bool = False


def new_project(
    dest: Path,
    *,
    name: str | None = None,
    bare: bool = False,
    python: str | None = None,
    extra_files: ExtraFiles | None = None,
) -> ScaffoldResult:
    """Write a new project into ``dest``, which must not exist or be empty.

    ``extra_files``, given the Project the new settings make (root = ``dest``), returns
    more relative path -> text files, written in the same all-or-nothing write.
    """
    root = Path(os.path.abspath(dest))
    _check_free(root)
    project = checked_name(name) if name is not None else name_from(root.name)
    if project is None:
        raise no_name(root.name)
    py = checked_python(python) if python is not None else host_python()
    variables = _example_variables(project)
    settings = Settings(
        name=project,
        python=py,
        jobs={} if bare else {_EXAMPLE_JOB.name: _EXAMPLE_JOB},
        required=tuple(v.key for v in variables if v.prod is not None),
        secret=tuple(v.key for v in variables if v.secret),
        image=project,
    )
    files = _files(settings, variables, bare=bare)
    if extra_files is not None:
        files += _extra(extra_files(Project(root, settings)), files)
    notes = [
        "random JUPYTER_TOKEN and DB_PASSWORD written to .env_dev (mode 0600)",
        "DB_PASSWORD and DB_HOST in .env_prod are placeholders: put the real ones there",
    ]
    if not bare and py not in _EXAMPLE_PYTHONS:
        notes.append(
            f"pandas 2.2.3 and scikit-learn 1.5.2 have wheels for Python 3.10 to 3.13, "
            f"not {py}: change the pins in docker/environment.yml"
        )
    return ScaffoldResult(root, write_all(root, files), (), tuple(notes))


def _check_free(root: Path) -> None:
    """``new`` only ever fills a new or empty folder; ``init`` is for the others."""
    try:
        taken = root.exists() and (not root.is_dir() or any(root.iterdir()))
    except OSError as exc:  # a name too long, a parent we may not read
        raise write_error(exc, root) from None
    if taken:
        what = "is not empty" if root.is_dir() else "exists and is not a folder"
        raise ConflictError(
            f"{root} {what}",
            hint="choose a new folder, or run 'labship init' there to adopt its files",
        )


def _files(settings: Settings, variables: Sequence[_Var], *, bare: bool) -> list[File]:
    python = settings.python or host_python()
    readme = {
        "name": settings.name,
        "spec": settings.spec,
        "image": settings.image,
        "jobs": [
            {"name": name, "command_text": shlex.join(job.argv)}
            for name, job in settings.jobs.items()
        ],
    }
    files = [
        File(CONFIG_NAME, render_settings(settings)),
        spec_file(settings.name, python, () if bare else _EXAMPLE_PACKAGES),
        File(".env_dev", _profile(variables, "dev"), private=True),
        File(".env_prod", _profile(variables, "prod"), private=True),
        File(".env.example", _profile(variables, "example")),
        *ignore_files(),
        File("README.md", render("project/README.md.j2", **readme)),
        File("data/.gitkeep", ""),
        File("models/.gitkeep", ""),
    ]
    if bare:
        return [*files, File("code/.gitkeep", ""), File("notebooks/.gitkeep", "")]
    return [
        *files,
        File("code/train.py", verbatim("train.py.txt")),
        File("notebooks/explore.ipynb", verbatim("explore.ipynb")),
    ]


def _extra(extra: Mapping[str, str], files: Sequence[File]) -> list[File]:
    """The caller's files: inside the project, and none of the project's own."""
    own = {PurePosixPath(f.rel) for f in files}
    for rel in extra:
        path = PurePosixPath(rel)
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise ValueError(f"extra_files: {rel!r} is not a path inside the project")
        if path in own:
            raise ValueError(f"extra_files: {rel!r} is one of the project's own files")
    return [File(rel, text) for rel, text in extra.items()]


def _example_variables(name: str) -> list[_Var]:
    """The example profiles: one table, so the env files and labship.toml agree."""
    import secrets

    db = re.sub(r"[^a-z0-9_]", "_", name)
    return [
        _Var("RANDOM_SEED", "seed for the train/test split and the model", "42", "42", "42"),
        _Var(
            "DB_HOST",
            "database host (the example job only prints it)",
            "localhost",
            "db.prod.internal",
            "localhost",
        ),
        _Var("DB_NAME", "database name", f"{db}_dev", db, f"{db}_dev"),
        _Var("DB_USER", "database user", db, db, db),
        _Var(
            "DB_PASSWORD",
            "database password (secret)",
            secrets.token_urlsafe(24),
            secrets.token_urlsafe(24),
            secret=True,
        ),
        _Var(
            "JUPYTER_TOKEN",
            "token that opens JupyterLab; lab only, so not in .env_prod (secret)",
            secrets.token_hex(24),
            None,
            secret=True,
        ),
    ]


def _profile(variables: Sequence[_Var], profile: str) -> str:
    """.env_dev, .env_prod, or (``example``) the committed .env.example without secrets."""
    if profile == "example":
        header = [
            "Every variable the project reads, documented; committed, so no secrets here.",
            "Copy to .env_<profile> (e.g. .env_dev, .env_prod) and fill in the values.",
        ]
    else:
        header = [
            f"Profile {profile!r}: `labship run --profile {profile}` gives these to the job.",
            "Private: git-ignored, kept out of images, mode 0600. Never commit it.",
        ]
    entries: list[dict[str, Any]] = []
    for var in variables:
        if profile == "example":
            value, comments = var.example, [var.comment]
        elif profile == "dev":
            value, comments = var.dev, []
        elif var.prod is None:
            continue
        else:
            value, comments = var.prod, _PROD_COMMENTS.get(var.key, [])
        entries.append({"key": var.key, "value": value, "comments": comments})
    return env_text(header, entries)


_PROD_COMMENTS = {
    "DB_PASSWORD": ["placeholder so the example runs: replace it with the real one"],
    "DB_HOST": ["placeholder: the production database host"],
}
