"""labship.project: parsing labship.toml and finding the project root (no subprocesses)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from labship.errors import ConfigError, NotAProjectError, UsageError
from labship.project import find_root, load_project, parse_settings, read_settings


def _settings(**tables: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"project": {"name": "demo"}}
    for key, value in tables.items():
        if key == "project":
            data["project"] = {"name": "demo", **value}
        else:
            data[key] = value
    return data


def _error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(data, source="labship.toml")
    assert info.value.exit_code == 78
    return str(info.value)


def test_minimal_defaults() -> None:
    s = parse_settings({"project": {"name": "demo"}}, source="x")
    assert s.name == "demo"
    assert s.python is None
    assert s.spec == "docker/environment.yml"
    assert s.runtime == "auto"
    assert s.lab_port == 8888
    assert s.dev_packages == ("jupyterlab",)
    assert dict(s.jobs) == {}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"project": {"name": "demo"}, "projcet": {}}, "projcet"),
        (_settings(project={"pyhton": "3.11"}), "pyhton"),
        (_settings(lab={"prot": 8888}), "prot"),
        (_settings(env={"secrets": ["X"]}), "secrets"),
        (_settings(jobs={"train": {"command": "python t.py", "cmd": "x"}}), "cmd"),
        (_settings(docker={"imag": "x"}), "imag"),
    ],
)
def test_unknown_key_is_named(data: dict[str, Any], key: str) -> None:
    message = _error(data)
    assert repr(key) in message
    assert "labship.toml" in message


@pytest.mark.parametrize("port", [0, -1, 65536, "8888", 8888.0, True])
def test_bad_port(port: object) -> None:
    assert "port" in _error(_settings(lab={"port": port}))


@pytest.mark.parametrize("port", [1, 8888, 65535])
def test_good_port(port: int) -> None:
    assert parse_settings(_settings(lab={"port": port}), source="x").lab_port == port


@pytest.mark.parametrize("python", ["3", "3.11.4", "python3.11", "3.x", "2.7.18", " 3.11"])
def test_bad_python(python: str) -> None:
    assert "python" in _error(_settings(project={"python": python}))


def test_python_must_be_a_string() -> None:
    assert "python" in _error(_settings(project={"python": 3.11}))


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.9"])
def test_good_python(python: str) -> None:
    assert parse_settings(_settings(project={"python": python}), source="x").python == python


def test_bad_name_and_runtime() -> None:
    assert "name" in _error({"project": {"name": "My Project"}})
    assert "name" in _error({"project": {}})
    assert "runtime" in _error(_settings(project={"runtime": "podman"}))


def test_job_command_forms() -> None:
    s = parse_settings(
        _settings(
            jobs={
                "listed": {"command": ["python", "code/train.py", "--name", "a b"]},
                "string": {"command": "python code/train.py --name 'a b'", "description": "d"},
                "bare": "python code/bare.py",
            }
        ),
        source="x",
    )
    assert s.jobs["listed"].argv == ("python", "code/train.py", "--name", "a b")
    assert s.jobs["string"].argv == ("python", "code/train.py", "--name", "a b")
    assert s.jobs["string"].description == "d"
    assert s.jobs["bare"].argv == ("python", "code/bare.py")


@pytest.mark.parametrize("command", [[], "", "   ", ["python", 3], 42, None])
def test_job_command_missing_or_bad(command: object) -> None:
    body = {} if command is None else {"command": command}
    assert "command" in _error(_settings(jobs={"train": body}))


def test_lists_of_strings() -> None:
    assert "packages" in _error(_settings(lab={"packages": "jupyterlab"}))
    assert "required" in _error(_settings(env={"required": ["A", 1]}))
    s = parse_settings(_settings(env={"required": ["A"], "secret": ["B"]}), source="x")
    assert s.required == ("A",) and s.secret == ("B",)


def _write_project(root: Path, body: str = "") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "labship.toml").write_text(f'[project]\nname = "demo"\n{body}')


def test_find_root_walks_up(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _write_project(root)
    deep = root / "code" / "sub" / "deeper"
    deep.mkdir(parents=True)
    assert find_root(deep) == root.resolve()
    assert find_root(root) == root.resolve()
    assert load_project(deep).root == root.resolve()


def test_find_root_nearest_wins(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "inner"
    _write_project(outer)
    _write_project(inner)
    (inner / "code").mkdir()
    assert find_root(inner / "code") == inner.resolve()


def test_find_root_ignores_a_folder_named_labship_toml(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    _write_project(outer)
    inner = outer / "inner"
    (inner / "labship.toml").mkdir(parents=True)
    assert find_root(inner) == outer.resolve()


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(NotAProjectError) as info:
        find_root(tmp_path)
    assert info.value.exit_code == 66
    assert str(tmp_path.resolve()) in str(info.value)


def test_read_settings_malformed_toml(tmp_path: Path) -> None:
    path = tmp_path / "labship.toml"
    path.write_text("[project\n")
    with pytest.raises(ConfigError) as info:
        read_settings(path)
    assert str(path) in str(info.value) and "TOML" in str(info.value)


def test_job_selection(tmp_path: Path) -> None:
    _write_project(tmp_path / "one", '[jobs.train]\ncommand = "python t.py"\n')
    one = load_project(tmp_path / "one")
    assert one.job(None).name == "train"
    with pytest.raises(UsageError, match="train"):
        one.job("nope")
    _write_project(tmp_path / "none")
    with pytest.raises(UsageError, match="no jobs"):
        load_project(tmp_path / "none").job(None)


NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_unreadable_folder_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """As nobody, below a folder only root may enter (pytest's own temp root)."""
    (tmp_path / "labship.toml").write_text('[project]\nname = "x"\n')
    proc = subprocess.run(
        [*NOBODY, sys.executable, "-m", "labship", "-C", str(tmp_path), "runs"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 66, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "permission denied" in proc.stderr
