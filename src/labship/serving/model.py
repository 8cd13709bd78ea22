"""An MLflow model folder as labship reads it: its flavour, Python and requirements."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labship.errors import SpecError, UsageError

SERVED_FLAVORS = ("sklearn", "python_function")


@dataclass(frozen=True)
class ModelFolder:
    path: Path
    python: str  # major.minor, from python_env.yaml (else the MLmodel's python_version)
    requirements: tuple[str, ...]
    # The sklearn flavour's serialization_format ("skops", "cloudpickle", "pickle"); None
    # for a model without that flavour (python_function only: served through mlflow).
    sklearn_format: str | None = None


def read_model(path: Path) -> ModelFolder:
    """The folder's facts; one line naming the file and the fix when it cannot be used."""
    path = path.resolve()
    mlmodel = path / "MLmodel"
    if not mlmodel.is_file():
        raise UsageError(
            f"{path}: not an MLflow model folder (no MLmodel file)",
            hint="pass the folder mlflow.<flavor>.save_model wrote",
        )
    meta = _yaml(mlmodel)
    found = meta.get("flavors")
    flavors: dict[str, Any] = found if isinstance(found, dict) else {}
    if not any(name in flavors for name in SERVED_FLAVORS):
        raise UsageError(
            f"{mlmodel}: flavours {sorted(flavors)} cannot be served",
            hint="labship serves python_function and sklearn models",
        )
    env = _yaml(path / "python_env.yaml") if (path / "python_env.yaml").is_file() else {}
    pyfunc = flavors.get("python_function") or {}
    version = str(env.get("python") or pyfunc.get("python_version") or "")
    match = re.match(r"(3\.\d+)", version)
    if match is None:
        raise SpecError(
            f"{path}: no Python version in python_env.yaml or MLmodel",
            hint="save the model with mlflow >= 2, which records it",
        )
    sklearn = flavors.get("sklearn")
    fmt = None
    if isinstance(sklearn, dict):
        fmt = str(sklearn.get("serialization_format") or "pickle")
    return ModelFolder(path, match.group(1), _requirements(path / "requirements.txt"), fmt)


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: not a YAML mapping")
    return data


def _requirements(path: Path) -> tuple[str, ...]:
    """PEP 508 lines; pip options and nested files are refused, naming the line."""
    if not path.is_file():
        raise SpecError(
            f"{path.parent}: no requirements.txt",
            hint="save the model with mlflow, which writes it",
        )
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot be read ({type(exc).__name__})") from None
    found: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise SpecError(
                f"{path}:{number}: {line!r} is a pip option",
                hint="list packages only (PEP 508), one a line",
            )
        found.append(line)
    return tuple(found)
