"""Find and load a project: a folder with a ``labship.toml``.

What the file may say, and how it is read and written, is ``labship.project.settings``;
its names are re-exported here so ``from labship.project import Settings`` keeps working.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from labship.errors import ConfigError, NotAProjectError, UsageError
from labship.project.settings import (
    CONFIG_NAME,
    DEV_LOCK_NAME,
    LOCK_NAME,
    STATE_DIR,
    Job,
    Settings,
    parse_settings,
    read_settings,
)

__all__ = [
    "CONFIG_NAME",
    "DEV_LOCK_NAME",
    "LOCK_NAME",
    "STATE_DIR",
    "Job",
    "Project",
    "Settings",
    "find_root",
    "load_project",
    "parse_settings",
    "read_settings",
]


@dataclass(frozen=True)
class Project:
    root: Path
    settings: Settings

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def spec_path(self) -> Path:
        """The spec, which must stay inside the project, symlinks followed: labship reads
        it and quotes its lines in errors, so it must not be /proc/self/environ."""
        path = self.root / self.settings.spec
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ConfigError(
                f"{self.config_path}: [project] spec {self.settings.spec!r} leads outside "
                "the project (a symbolic link)",
                hint="copy the file into the project instead of linking to it",
            )
        return path

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_NAME

    @property
    def dev_lock_path(self) -> Path:
        return self.root / DEV_LOCK_NAME

    @property
    def state_dir(self) -> Path:
        """Machine-local state (run log, lab pid): git-ignored."""
        return self.root / STATE_DIR

    @property
    def image(self) -> str:
        return self.settings.image or self.settings.name

    def job(self, name: str | None) -> Job:
        jobs = self.settings.jobs
        if name is None:
            if len(jobs) == 1:
                return next(iter(jobs.values()))
            if not jobs:
                raise UsageError(
                    f"{self.config_path}: no jobs defined",
                    hint='add one to labship.toml, e.g. [jobs.train] command = "python train.py"',
                )
            raise UsageError(
                f"{self.config_path}: several jobs ({', '.join(sorted(jobs))}), none named",
                hint="say which: labship run JOB",
            )
        if name not in jobs:
            raise UsageError(
                f"unknown job {name!r} in {self.config_path}", hint=_job_hint(name, jobs)
            )
        return jobs[name]


def _job_hint(name: str, jobs: Mapping[str, Job]) -> str:
    """A typo gets "did you mean"; every other unknown name, the list of jobs."""
    import difflib

    known = f"jobs defined: {', '.join(sorted(jobs)) or 'none'}"
    close = difflib.get_close_matches(name, list(jobs), n=1)
    return f"did you mean {close[0]!r}? {known}" if close else known


def find_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The nearest folder at or above ``start`` (a path or a string) holding a labship.toml."""
    here = (Path.cwd() if start is None else Path(start)).resolve()
    for folder in (here, *here.parents):
        try:
            if (folder / CONFIG_NAME).is_file():
                return folder
        except PermissionError:
            raise NotAProjectError(
                f"{folder}: permission denied looking for {CONFIG_NAME}",
                hint="run labship as a user who can read the project folder",
            ) from None
    raise NotAProjectError(
        f"{here} is not a labship project (no {CONFIG_NAME} here or above)",
        hint="run 'labship new NAME' or 'labship init' to make one",
    )


def load_project(start: str | os.PathLike[str] | None = None) -> Project:
    root = find_root(start)
    return Project(root=root, settings=read_settings(root / CONFIG_NAME))
