"""The import check on real environments: real uv, real packages from PyPI that install
but do not import (scikit-learn 1.1.3 beside numpy 2, SQLAlchemy 1.2.1 on Python 3.11,
pyodbc without libodbc), the real store, the real CLI."""

from __future__ import annotations

import ctypes.util
import sys
from pathlib import Path

import pytest

from conftest import MakeProject, labship
from labship.console import Console
from labship.errors import ImportCheckError
from labship.locking import read_lock
from labship.project import load_project
from labship.runtimes.local import LocalRuntime
from labship.store import MARKER, Store

pytestmark = pytest.mark.slow

BROKEN = "scikit-learn==1.1.3\npyodbc==5.2.0\nsqlalchemy==1.2.1\nsix==1.16.0\n"
NEEDS_311 = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11), reason="the broken set is broken on Python 3.11"
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "store"
    monkeypatch.setenv("LABSHIP_STORE", str(root))
    return root


def envs(store: Path) -> list[str]:
    return sorted(p.name for p in (store / "envs").iterdir())


@NEEDS_311
def test_a_set_that_installs_but_does_not_import_is_refused(
    make_project: MakeProject, store: Path
) -> None:
    root = make_project("broken")
    labship("lock", cwd=root, check=True)
    assert labship("run", cwd=root).returncode == 0
    working = envs(store)
    assert len(working) == 1

    (root / "requirements.txt").write_text(BROKEN)
    labship("lock", cwd=root, check=True)
    ran = labship("run", cwd=root)
    assert ran.returncode == 65, ran.stderr
    assert "Traceback" not in ran.stderr and "six" not in ran.stdout  # the job never started
    error = ran.stderr[ran.stderr.index("labship: error: ") :].splitlines()
    assert error[0].endswith("was not put in place: 3 direct dependencies do not import")
    lines = {line.split()[0]: line for line in error[1:]}
    assert set(lines) == ({"scikit-learn", "sqlalchemy", "pyodbc"})
    assert "it was built for NumPy 1.x and the lock has numpy 2." in lines["scikit-learn"]
    assert "pin numpy<2 in requirements.txt" in lines["scikit-learn"]
    assert "does not support Python 3.11" in lines["sqlalchemy"]
    assert "MutableMapping" in lines["sqlalchemy"]
    if ctypes.util.find_library("odbc") is None:
        assert "libodbc.so.2 is missing; sudo apt-get install unixodbc" in lines["pyodbc"]
    # Nothing was put in place, nothing is left aside; the working environment stays.
    assert envs(store) == working

    # A package that cannot import in a batch process is exempted in labship.toml.
    with (root / "labship.toml").open("a") as fh:
        fh.write('\n[check]\nskip_imports = ["scikit-learn", "SQLAlchemy", "pyodbc"]\n')
    ran = labship("run", cwd=root)
    assert ran.returncode == 0, ran.stderr
    assert "imports checked in" in ran.stderr
    assert len(envs(store)) == 2


def test_the_check_runs_before_the_rename_and_only_on_a_new_environment(
    make_project: MakeProject, store: Path
) -> None:
    root = make_project("checked")
    labship("lock", cwd=root, check=True)
    project = load_project(root)
    lock = read_lock(project)
    seen: list[Path] = []

    def refuse(env: Path) -> None:
        seen.append(env)
        assert (env / MARKER).is_file() and (env / "bin" / "python").exists()
        raise ImportCheckError("no")

    quiet = Console(quiet=True)
    with pytest.raises(ImportCheckError):
        Store().ensure(lock, dev=False, console=quiet, check=refuse)
    assert seen[0].name.startswith(".build-")
    assert envs(store) == []  # neither the environment nor its build folder

    env = LocalRuntime(Store()).prepare(project, lock, dev=False, console=quiet)
    assert env.created and envs(store) == [env.path.name]
    # The check imported six there and left its bytecode: the first job does not compile it.
    assert list(env.path.glob("lib/python3.*/site-packages/__pycache__/six.*.pyc"))
    path, built = Store().ensure(lock, dev=False, console=quiet, check=refuse)
    assert (path, built) == (env.path, False) and len(seen) == 1  # not checked again
