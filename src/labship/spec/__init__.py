"""Read the project's environment spec and translate it to PEP 508 requirements for uv.

Three formats: conda's ``environment.yml`` (CEP 24), pip's ``requirements.txt`` and a
``pyproject.toml`` (``[project] dependencies``).
Everything downstream (lock, lab, jobs, images) works from the :class:`Spec` built here,
so every problem with the file is reported now, as a :class:`SpecError` naming
``file:line`` and what to do.

One module per grammar: ``matchspec`` (conda match-specs), ``environment_yml``,
``requirements`` (with ``-r``/``-c``), ``pyproject`` (and the project's own package);
``base`` holds :class:`Spec`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from labship.spec.base import Spec
from labship.spec.matchspec import translate_matchspec

if TYPE_CHECKING:
    from pathlib import Path

    from labship.project import Project

__all__ = ["Spec", "read_spec", "system_packages", "translate_matchspec"]


def read_spec(path: Path, *, root: Path | None = None) -> Spec:
    """Read ``*.yml``/``*.yaml`` as a conda environment, ``pyproject.toml`` as a Python
    project, anything else as requirements.txt. ``-r`` files must lie inside ``root``
    (the project): their lines are quoted in errors."""
    if path.suffix.lower() in (".yml", ".yaml"):
        from labship.spec.environment_yml import _read_conda

        return _read_conda(path, root)
    if path.name == "pyproject.toml":
        from labship.spec.pyproject import read_pyproject_spec

        return read_pyproject_spec(path)
    from labship.spec.requirements import _read_requirements_txt

    return _read_requirements_txt(path, root)


def system_packages(project: Project) -> tuple[str, ...]:
    """The Debian packages the spec's native conda packages stand for, where a kept
    distribution loads them (``Spec.system_packages``): images install them beside
    ``[docker] system_packages``, the local runtime names them. Empty for a spec that no
    longer reads: that error is said where the spec is read for the lock."""
    from labship.errors import LabshipError

    try:
        return read_spec(project.spec_path, root=project.root).system_packages
    except LabshipError:
        return ()
