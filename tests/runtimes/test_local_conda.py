"""Native packages on the local runtime, end to end: lock from a local channel, build the
environment (venv + conda prefix), a job loads the library through ctypes and runs the
tool; a second project pins the other version of the library, side by side."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import labship
from lock.test_conda import natives_project

USE = """\
import ctypes, os, subprocess, sys
lib = ctypes.CDLL("liblabfoo.so")
print("library", lib.labfoo_version())
if "--tool" in sys.argv:
    print(subprocess.run(["labtool", "hi"], capture_output=True, text=True, check=True).stdout)
    print("config", subprocess.run(["labtool-config"], capture_output=True, text=True).stdout)
print("prefix", os.environ["CONDA_PREFIX"])
"""


def _project(root: Path, channel: Path, packages: list[str], tool: bool) -> Path:
    root = natives_project(root, channel.as_uri(), packages, name=root.name)
    (root / "code" / "use.py").write_text(USE)
    toml = root / "labship.toml"
    if tool:
        toml.write_text(toml.read_text().replace("code/use.py", "code/use.py --tool"))
    return root


def _prefix(output: str) -> Path:
    return Path(next(line for line in output.splitlines() if line.startswith("prefix "))[7:])


def test_a_job_uses_the_library_and_the_tool_and_another_project_pins_another_version(
    tmp_path: Path, conda_channel: Path
):
    store = {"LABSHIP_STORE": str(tmp_path / "store")}
    one = _project(tmp_path / "one", conda_channel, ["labtool"], tool=True)
    two = _project(tmp_path / "two", conda_channel, ["liblabfoo 1.*"], tool=False)
    for root in (one, two):
        labship("lock", cwd=root, check=True)
    first = labship("run", "use", cwd=one, env=store)
    assert first.returncode == 0, first.stderr
    assert "library 20" in first.stdout
    assert "labtool hi, liblabfoo 20" in first.stdout  # the tool, linked to its library
    a = _prefix(first.stdout)
    # the prefix patched into files is the environment's final path, not its build folder
    assert f"config {a}\n" in first.stdout
    second = labship("run", "use", cwd=two, env=store)
    assert second.returncode == 0, second.stderr
    assert "library 10" in second.stdout
    b = _prefix(second.stdout)
    assert a != b and a.parent.parent == b.parent.parent  # two environments in one store
    # each prefix holds exactly its lock's records
    assert sorted(p.name for p in (a / "conda-meta").glob("*.json")) == [
        "labtool-0.3-h1234_0.json",
        "liblabfoo-2.0-h1234_0.json",
    ]
    assert sorted(p.name for p in (b / "conda-meta").glob("*.json")) == [
        "liblabfoo-1.0-h1234_0.json"
    ]
    # labship env shows what the runtime sets
    shown = labship("env", cwd=one, env=store)
    assert f"LD_LIBRARY_PATH={a}/lib" in shown.stdout and f"{a}/bin" in shown.stdout
    # the first run already built it: the second is a no-op on the store
    again = labship("run", "use", cwd=one, env=store)
    assert "building" not in again.stderr and "library 20" in again.stdout


def test_environments_with_the_same_records_share_the_package_cache(
    tmp_path: Path, conda_channel: Path
):
    """Two projects with other PyPI sets and the same native records: two environments,
    whose conda files are hard links into rattler's cache, not copies."""
    store = tmp_path / "store"
    env = {"LABSHIP_STORE": str(store)}
    prefixes = []
    for name, six in (("p1", "1.16"), ("p2", "1.15")):
        root = _project(tmp_path / name, conda_channel, ["labtool"], tool=True)
        spec = root / "environment.yml"
        spec.write_text(spec.read_text().replace("six=1.16", f"six={six}"))
        labship("lock", cwd=root, check=True)
        prefixes.append(_prefix(labship("run", "use", cwd=root, env=env, check=True).stdout))
    assert prefixes[0] != prefixes[1]
    cached = store / "conda" / "pkgs" / "liblabfoo-2.0-h1234_0" / "lib" / "liblabfoo.so"
    inodes = {os.stat(p / "lib" / "liblabfoo.so").st_ino for p in prefixes}
    assert inodes == {os.stat(cached).st_ino}
