"""Whether a served model came from the project's own run, and then the pins of the
project's prod lock, which the model's environment keeps: a model logged by ``labship run``
is served with exactly the versions it was trained with.

The model's MLmodel names the MLflow run that logged it (``run_id``); the project's run
log records the MLflow run of each job run that logged one (``mlflow_run_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labship.errors import NotAProjectError

if TYPE_CHECKING:
    from labship.serving.model import ModelFolder


@dataclass(frozen=True)
class ProdPins:
    """The prod lock of the project whose run logged the model, as ``name==version``."""

    lock: Path
    run_id: str
    pins: tuple[str, ...]


def prod_pins(model: ModelFolder, start: Path | None = None) -> ProdPins | None:
    """The prod lock's pins when ``start`` (else the working folder) is inside a labship
    project whose run log holds the model's MLflow run; None otherwise."""
    from labship import runlog
    from labship.locking import read_lock
    from labship.project import STATE_DIR, find_root, load_project

    run_id = run_of(model.path)
    if run_id is None:
        return None
    try:
        root = find_root(start)
    except NotAProjectError:
        return None
    records = runlog.read(root / STATE_DIR).records
    if not any(getattr(record, "mlflow_run_id", None) == run_id for record in records):
        return None
    project = load_project(root)
    lock = read_lock(project, check=False)
    pins = tuple(f"{name}=={version}" for name, version in sorted(lock.prod.items()))
    return ProdPins(project.lock_path, run_id, pins)


def run_of(folder: Path) -> str | None:
    """The MLflow run that logged the model (MLmodel's ``run_id``), if it says."""
    from labship.serving.model import _yaml

    found = _yaml(folder / "MLmodel").get("run_id")
    return found if isinstance(found, str) and found else None
