"""The native part of the lock: conda packages solved by rattler from a local channel of
real packages (tests/condachannel.py), written beside the PyPI lock as an explicit file,
and every way it can fail: one line, exit 69 or 65, nothing already locked replaced."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from condachannel import served
from conftest import labship

PY = f"{sys.version_info.major}.{sys.version_info.minor}"


def natives_project(
    root: Path, channel: str, packages: list[str], *, spec_natives: str = "", name: str = "natives"
) -> Path:
    """A project whose environment.yml names a native package (unixodbc) the spec layer
    leaves out of the PyPI set, plus [conda] packages, from ``channel``."""
    root.mkdir(parents=True)
    (root / "code").mkdir()
    (root / "environment.yml").write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            channels: [conda-forge]
            dependencies:
              - python={PY}
              - six=1.16
            """
        )
        + spec_natives
    )
    listed = ", ".join(f'"{p}"' for p in packages)
    (root / "labship.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "{name}"
            spec = "environment.yml"

            [jobs.use]
            command = "python code/use.py"

            [lab]
            packages = []

            [conda]
            packages = [{listed}]
            channels = ["{channel}"]
            """
        )
    )
    (root / ".env_dev").write_text("GREETING=hello\n")
    return root


def test_lock_writes_exact_records_beside_the_pypi_lock(tmp_path: Path, conda_channel: Path):
    root = natives_project(
        tmp_path / "p", conda_channel.as_uri(), ["labtool"], spec_natives="  - unixodbc=2.3\n"
    )
    proc = labship("lock", cwd=root, check=True)
    assert "conda-linux-64.lock (3 conda packages)" in proc.stderr
    text = (root / "conda-linux-64.lock").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "@EXPLICIT"
    files = {line.split("#")[0].rsplit("/", 1)[1]: line.split("#sha256:")[1] for line in lines[1:]}
    # the tool's pin on the library chose 2.0; the spec's unixodbc=2.3 came from its line
    assert set(files) == {
        "labtool-0.3-h1234_0.tar.bz2",
        "liblabfoo-2.0-h1234_0.conda",
        "unixodbc-2.3.12-h1234_0.conda",
    }
    for name, digest in files.items():
        archive = conda_channel / "linux-64" / name
        assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest
    packages = {p["name"] for p in tomllib.loads((root / "pylock.toml").read_text())["packages"]}
    assert "six" in packages
    assert "unixodbc" not in packages  # native: in the conda lock only
    # fresh: the same inputs lock to the same files
    assert "unchanged" in labship("lock", cwd=root, check=True).stderr


def test_conda_settings_are_part_of_freshness(tmp_path: Path, conda_channel: Path):
    root = natives_project(tmp_path / "p", conda_channel.as_uri(), ["liblabfoo"])
    labship("lock", cwd=root, check=True)
    fresh = labship("lock", "--check", cwd=root)
    assert fresh.returncode == 0
    assert "pylock.toml, pylock.dev.toml and conda-linux-64.lock are up to date" in fresh.stderr
    toml = root / "labship.toml"
    toml.write_text(toml.read_text().replace('["liblabfoo"]', '["liblabfoo 1.*"]'))
    check = labship("lock", "--check", cwd=root)
    assert check.returncode == 77, check.stderr
    assert "[conda]" in check.stderr
    assert labship("run", "--locked", "use", cwd=root).returncode == 77
    # the conda lock gone (deleted by hand) is stale too
    labship("lock", cwd=root, check=True)
    assert "liblabfoo-1.0" in (root / "conda-linux-64.lock").read_text()
    (root / "conda-linux-64.lock").unlink()
    check = labship("lock", "--check", cwd=root)
    assert check.returncode == 77 and "conda-linux-64.lock is missing" in check.stderr


def test_conda_off_keeps_todays_behaviour(tmp_path: Path, conda_channel: Path):
    root = natives_project(
        tmp_path / "p", conda_channel.as_uri(), [], spec_natives="  - unixodbc=2.3\n"
    )
    toml = root / "labship.toml"
    toml.write_text(toml.read_text().replace("[conda]\n", "[conda]\nenabled = false\n"))
    proc = labship("lock", cwd=root, check=True)
    assert "stay out of the lock (unixodbc)" in proc.stderr
    assert not (root / "conda-linux-64.lock").exists()


def _lock_files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir() if "lock" in p.name}


@pytest.mark.parametrize(
    ("packages", "code", "words"),
    [
        (["no-such-package"], 65, "no-such-package"),
        (["labtool", "liblabfoo 1.*"], 65, "liblabfoo"),  # labtool needs liblabfoo >=2
        (["liblabfoo ((("], 65, "match-spec"),
    ],
)
def test_a_package_the_channel_cannot_give_is_one_line_and_replaces_nothing(
    tmp_path: Path, conda_channel: Path, packages: list[str], code: int, words: str
):
    root = natives_project(tmp_path / "p", conda_channel.as_uri(), ["liblabfoo"])
    labship("lock", cwd=root, check=True)
    before = _lock_files(root)
    toml = root / "labship.toml"
    listed = ", ".join(f'"{p}"' for p in packages)
    toml.write_text(toml.read_text().replace('["liblabfoo"]', f"[{listed}]"))
    proc = labship("lock", cwd=root)
    assert proc.returncode == code, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert words in error and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
    assert _lock_files(root) == before


def test_a_channel_that_is_down_is_69_and_replaces_nothing(tmp_path: Path, conda_channel: Path):
    with served(conda_channel) as url:
        root = natives_project(tmp_path / "p", url, ["liblabfoo"])
        labship("lock", cwd=root, check=True)
    before = _lock_files(root)
    toml = root / "labship.toml"
    toml.write_text(toml.read_text().replace('["liblabfoo"]', '["labtool"]'))
    proc = labship("lock", cwd=root)  # the server is stopped now
    assert proc.returncode == 69, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert url in error and "does not answer" in error
    assert _lock_files(root) == before


@pytest.mark.parametrize("over", ["file", "http"])
def test_a_package_whose_sha256_is_not_the_locks_is_65_and_builds_nothing(
    tmp_path: Path, conda_channel: Path, over: str
):
    channel = tmp_path / "channel"
    shutil.copytree(conda_channel, channel)
    with served(channel) as url:
        where = url if over == "http" else channel.as_uri()
        root = natives_project(tmp_path / "p", where, ["liblabfoo"])
        labship("lock", cwd=root, check=True)
        archive = channel / "linux-64" / "liblabfoo-2.0-h1234_0.conda"
        # Same name, other bytes: the 1.0 archive under the 2.0 name (repodata not redone).
        shutil.copy(channel / "linux-64" / "liblabfoo-1.0-h1234_0.conda", archive)
        store = tmp_path / "store"
        proc = labship("run", "--frozen", "use", cwd=root, env={"LABSHIP_STORE": str(store)})
    assert proc.returncode == 65, proc.stderr
    error = proc.stderr.strip().splitlines()[-1]
    assert "liblabfoo-2.0-h1234_0.conda does not match the lock" in error, error
    assert "Traceback" not in proc.stderr
    assert [p.name for p in (store / "envs").iterdir()] == []  # nothing half-built stays


def test_doctor_reports_the_channels_and_whether_they_answer(tmp_path: Path, conda_channel: Path):
    with served(conda_channel) as url:
        root = natives_project(tmp_path / "p", url, ["liblabfoo"])
        proc = labship("doctor", "--json", cwd=root)
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks[f"conda channel {url}"]["ok"] is True
    assert "packages" in checks[f"conda channel {url}"]["detail"]
    down = labship("doctor", "--json", cwd=root)  # the server is stopped now
    assert down.returncode == 69
    check = {c["name"]: c for c in json.loads(down.stdout)["checks"]}[f"conda channel {url}"]
    assert check["ok"] is False and "Connection refused" in check["detail"] and check["fix"]


def test_frozen_runs_the_conda_lock_as_it_is(tmp_path: Path, conda_channel: Path):
    root = natives_project(tmp_path / "p", conda_channel.as_uri(), ["liblabfoo"])
    (root / "code" / "use.py").write_text(
        'import ctypes\nprint("library", ctypes.CDLL("liblabfoo.so").labfoo_version())\n'
    )
    labship("lock", cwd=root, check=True)
    toml = root / "labship.toml"
    toml.write_text(toml.read_text().replace('["liblabfoo"]', '["liblabfoo 1.*"]'))
    env = {"LABSHIP_STORE": str(tmp_path / "store")}
    frozen = labship("run", "--frozen", "use", cwd=root, env=env)
    assert frozen.returncode == 0, frozen.stderr
    assert "library 20" in frozen.stdout  # the lock as it is: 2.0
    assert "liblabfoo-2.0" in (root / CONDA_LOCK).read_text()
    auto = labship("run", "use", cwd=root, env=env)  # without a flag: re-locked, then run
    assert auto.returncode == 0, auto.stderr
    assert "library 10" in auto.stdout


CONDA_LOCK = "conda-linux-64.lock"
