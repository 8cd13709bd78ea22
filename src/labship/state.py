"""``.labship/``: the project's machine-local state, git-ignored. This module is its one
owner: every file and folder under it is named here, and callers reach them through
``of(project)``, so what lives there (and what ``labship gc`` or a reader may find) is
one list, not a path joined in six places.

- ``runs.jsonl`` (``labship.runlog``), ``pushes.jsonl`` (``labship.pushes``): the logs.
- ``lab.json`` and ``lab.log``: the detached lab (``runtimes.lab``).
- ``mlflow/`` and ``mlflow.log``: the tracking server's store and log.
- ``cron/<job>.sh``: the wrappers crontab entries run (``targets.cron``).
- ``airflow/variables-<profile>.json``: the Airflow Variable import file (mode 0600).
- ``context-*``: build contexts while an image builds (hard links need one filesystem).
- ``fresh.json``: the spec's digest last found to mean what the lock was made from
  (``lock.stale_reason``), so an edit that changes nothing is parsed once, not every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labship.project import Project

DIR = ".labship"
RUNS = "runs.jsonl"
PUSHES = "pushes.jsonl"
LAB = "lab.json"
LAB_LOG = "lab.log"
MLFLOW = "mlflow"
MLFLOW_LOG = "mlflow.log"
CRON = "cron"
AIRFLOW = "airflow"
FRESH = "fresh.json"


@dataclass(frozen=True)
class State:
    """Paths under one project's ``.labship/``; nothing is created until asked."""

    dir: Path

    @property
    def runs(self) -> Path:
        return self.dir / RUNS

    @property
    def pushes(self) -> Path:
        return self.dir / PUSHES

    @property
    def lab(self) -> Path:
        return self.dir / LAB

    @property
    def lab_log(self) -> Path:
        return self.dir / LAB_LOG

    @property
    def mlflow(self) -> Path:
        return self.dir / MLFLOW

    @property
    def mlflow_log(self) -> Path:
        return self.dir / MLFLOW_LOG

    @property
    def fresh(self) -> Path:
        return self.dir / FRESH

    @property
    def cron(self) -> Path:
        return self.dir / CRON

    def airflow_variables(self, profile: str) -> Path:
        return self.dir / AIRFLOW / f"variables-{profile}.json"

    def scratch(self, prefix: str) -> Path:
        """A new private folder under ``.labship/`` (a build context), for the caller to
        remove."""
        import tempfile

        self.dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.dir))


def of(project: Project) -> State:
    return State(project.root / DIR)


def at(folder: Path) -> State:
    """The state folder itself (``runlog`` and ``pushes`` are handed it)."""
    return State(folder)
