"""The story: a ``conda env export`` project to its first production run.

tests/projects/conda-export is such a project as people share it: 155 conda packages with
build strings (fonts, X11, gstreamer, Qt, ``python_abi``: conda-only, native), Python
3.10, renamed packages (matplotlib-base, seaborn-base, pyqt, python-tzdata), a ``pip:``
section, a Dockerfile that runs ``python train.py``, no labship files. It once took 12
actions (42 errors, one per native package; an import check that refused a working
environment). Here: no edit of the spec, no ``skip_imports``; the actions are counted.

Everything goes through the real CLI and real uv installs (Python 3.10 from PATH), on the
local runtime.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from conftest import PROJECTS, labship
from labship.locking import read_lock
from labship.project import load_project

MAX_LINE = 300  # no line labship prints is longer


@pytest.mark.slow
def test_conda_export_to_its_first_production_run(tmp_path: Path) -> None:
    root = Path(shutil.copytree(PROJECTS / "conda-export", tmp_path / "churn"))
    spec = (root / "environment.yml").read_bytes()
    assert spec.count(b"\n") >= 100
    steps: list[str] = []
    said: list[str] = []

    # 1. labship init: adopts the folder and locks it, for Python 3.10.
    steps.append("labship init")
    init = labship("init", cwd=root)
    said += init.stderr.splitlines()
    assert init.returncode == 0, init.stderr
    assert "no such project" not in init.stderr
    # What the export holds that is not Python is said once: a count, a few names, where.
    (native,) = [line for line in said if "hold no Python distribution" in line]
    assert "117 conda package(s)" in native and "_libgcc_mutex" in native
    assert "and 112 more" in native and "conda-native in pylock.toml" in native
    (bundled,) = [line for line in said if "PyPI ships apart" in line]
    assert "pyqtchart" in bundled and "pyqt5-sip" not in bundled  # the export lists sip
    lock = read_lock(load_project(root))
    assert lock.python == "3.10"
    pins = {"pandas": "2.1.4", "matplotlib": "3.8.2", "seaborn": "0.13.0", "pyqt5": "5.15.9"}
    assert {name: lock.prod.get(name) for name in pins} == pins
    assert lock.prod["tzdata"] == "2023.4"  # python-tzdata; conda's tzdata is native
    assert not {"font-ttf-ubuntu", "python-abi", "qt-main", "pyqtchart"} & set(lock.prod)
    table = tomllib.loads(lock.path(dev=False).read_text())["tool"]["labship"]
    assert "font-ttf-ubuntu=0.83=hab24e00_0" in table["conda-native"]
    assert len(table["conda-native"]) == 117

    # 2. The job: from the Dockerfile's CMD where init reads it, else one line added.
    settings = load_project(root).settings
    if not any(job.argv == ("python", "train.py") for job in settings.jobs.values()):
        steps.append("add [jobs.train] to labship.toml")
        with (root / "labship.toml").open("a") as config:
            config.write('\n[jobs.train]\ncommand = "python train.py"\n')
    (job,) = [n for n, j in load_project(root).settings.jobs.items() if j.argv[-1] == "train.py"]

    # 3. A prod profile, where init did not make one.
    if not (root / ".env_prod").exists():
        steps.append("touch .env_prod && chmod 600 .env_prod")
        (root / ".env_prod").touch(mode=0o600)

    # 4. The prod run: the environment builds, its imports are checked, the job runs.
    steps.append(f"labship run {job} --profile prod")
    run = labship("run", job, "--profile", "prod", cwd=root)
    said += run.stderr.splitlines()
    assert run.returncode == 0, run.stderr
    assert "pandas    2.1.4" in run.stdout and "accuracy" in run.stdout
    assert "not import" not in run.stderr  # no refusal and no false warning

    assert (root / "environment.yml").read_bytes() == spec  # no edit of the spec
    assert "skip_imports" not in (root / "labship.toml").read_text()
    assert all(len(line) <= MAX_LINE for line in said), max(said, key=len)
    assert len(steps) <= 4, steps
