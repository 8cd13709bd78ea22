"""pyproject.toml as a spec, and '-e .': the project's own package."""

from __future__ import annotations

from pathlib import Path

import pytest

from labship.errors import SpecError
from labship.spec import read_spec
from labship.spec.base import LocalPackage

BUILDS = '[build-system]\nrequires = ["flit_core >=3.2,<4"]\nbuild-backend = "flit_core.buildapi"\n'


def test_project_dependencies_are_the_spec_and_groups_the_dev_set(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[project]\nname = "churn"\nrequires-python = "~=3.10.0"\n'
        'dependencies = ["pandas>=2", "typer"]\n'
        '[project.optional-dependencies]\ndev = ["pytest"]\nplot = ["matplotlib"]\n'
        '[dependency-groups]\nlint = ["ruff"]\nall = [{include-group = "lint"}, "mypy"]\n'
    )
    spec = read_spec(path)
    assert spec.requirements == ("pandas>=2", "typer")
    assert spec.python == "3.10"
    assert spec.dev_requirements == ("pytest", "ruff", "mypy")  # not the plot extra
    assert spec.local_package is None  # no build system: not a package (uv's rule)


def test_a_pyproject_that_builds_is_the_projects_own_package(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(BUILDS + '[project]\nname = "churn"\ndependencies = []\n')
    assert read_spec(path).local_package == LocalPackage("churn", ".")
    path.write_text(BUILDS + '[project]\nname = "churn"\n[tool.uv]\npackage = false\n')
    assert read_spec(path).local_package is None


def test_editable_dot_installs_the_project_with_its_dependencies(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        BUILDS + '[project]\nname = "churn"\ndependencies = ["loguru"]\n'
    )
    env = tmp_path / "environment.yml"
    env.write_text("dependencies:\n  - python=3.10\n  - typer\n  - pip:\n    - -e .\n")
    spec = read_spec(env, root=tmp_path)
    assert spec.local_package == LocalPackage("churn", ".")
    assert spec.requirements == ("typer", "loguru")
    req = tmp_path / "requirements.txt"
    req.write_text("six\n-e .\n")
    assert read_spec(req, root=tmp_path).local_package == LocalPackage("churn", ".")


def test_another_editable_folder_is_still_refused(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "pyproject.toml").write_text(BUILDS + '[project]\nname = "lib"\n')
    req = tmp_path / "requirements.txt"
    req.write_text("-e ./lib\n")
    with pytest.raises(SpecError, match=r"requirements.txt:1: editable installs"):
        read_spec(req, root=tmp_path)


def test_a_malformed_pyproject_is_one_error(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[project\n")
    with pytest.raises(SpecError, match="malformed TOML") as caught:
        read_spec(path)
    assert caught.value.exit_code == 65
