"""Native packages on the Docker runtime, end to end against a real engine: the image's
conda stage holds exactly the conda lock's records at /opt/labship/conda (no conda,
mamba or rattler in the image), apt is not asked for what the lock provides, the job
loads the library and runs the tool; a second project pins the other library version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import labship
from dockerfixtures import LOCAL_BASE, docker_skip_reason
from labship.tools.docker import docker
from runtimes.test_local_conda import _project

pytestmark = [pytest.mark.docker, pytest.mark.slow]

LISTING = """\
import json, os, shutil
meta = sorted(os.listdir("/opt/labship/conda/conda-meta"))
tools = [t for t in ("conda", "mamba", "micromamba", "rattler", "pixi") if shutil.which(t)]
print(json.dumps({"meta": meta, "tools": tools}))
"""


@pytest.fixture(autouse=True)
def _engine() -> None:
    reason = docker_skip_reason()
    if reason:
        pytest.skip(reason)


def test_images_hold_exactly_the_locked_records_and_jobs_use_them(
    tmp_path: Path, conda_channel: Path
):
    env = {"LABSHIP_BASE_IMAGE": LOCAL_BASE, "LABSHIP_STORE": str(tmp_path / "store")}
    one = _project(tmp_path / "conda-one", conda_channel, ["labtool"], tool=True)
    two = _project(tmp_path / "conda-two", conda_channel, ["liblabfoo 1.*"], tool=False)
    # apt is not asked for a native the conda lock provides
    toml = one / "labship.toml"
    toml.write_text(toml.read_text() + '\n[docker]\nsystem_packages = ["liblabfoo"]\n')
    (one / "code" / "listing.py").write_text(LISTING)
    toml.write_text(
        toml.read_text().replace(
            "[lab]", '[jobs.listing]\ncommand = "python code/listing.py"\n\n[lab]'
        )
    )
    for root in (one, two):
        labship("lock", cwd=root, check=True)
    first = labship("run", "--runtime", "docker", "use", cwd=one, env=env)
    assert first.returncode == 0, first.stderr
    assert "library 20" in first.stdout and "labtool hi, liblabfoo 20" in first.stdout
    assert "prefix /opt/labship/conda" in first.stdout
    assert "config /opt/labship/conda\n" in first.stdout  # the image's path, patched in
    dockerfile = (one / "docker" / "Dockerfile").read_text()
    assert "FROM scratch AS conda" in dockerfile
    assert "liblabfoo" not in dockerfile.split("apt-get $ca install", 1)[1].split("\n")[1]
    listing = labship("run", "--runtime", "docker", "listing", cwd=one, env=env)
    assert listing.returncode == 0, listing.stderr
    found = json.loads(listing.stdout.strip().splitlines()[-1])
    assert sorted(m for m in found["meta"] if m.endswith(".json")) == [
        "labtool-0.3-h1234_0.json",
        "liblabfoo-2.0-h1234_0.json",
    ]
    assert found["tools"] == []
    second = labship("run", "--runtime", "docker", "use", cwd=two, env=env)
    assert second.returncode == 0, second.stderr
    assert "library 10" in second.stdout
    # both images stay, side by side, each with its own version
    for name, version in (("conda-one", "2.0"), ("conda-two", "1.0")):
        out = docker(
            ["run", "--rm", "--entrypoint", "ls", f"{name}:0.1.0", "/opt/labship/conda/conda-meta"],
            console=None,
        ).stdout
        assert f"liblabfoo-{version}-h1234_0.json" in out


def test_the_conda_stage_follows_the_lock(tmp_path: Path, conda_channel: Path):
    """A re-lock to another library version rebuilds: the image's context digest holds the
    conda lock's records."""
    env = {"LABSHIP_BASE_IMAGE": LOCAL_BASE, "LABSHIP_STORE": str(tmp_path / "store")}
    root = _project(tmp_path / "conda-relock", conda_channel, ["liblabfoo"], tool=False)
    labship("lock", cwd=root, check=True)
    assert "library 20" in labship("run", "--runtime", "docker", "use", cwd=root, env=env).stdout
    toml = root / "labship.toml"
    toml.write_text(toml.read_text().replace('["liblabfoo"]', '["liblabfoo 1.*"]'))
    labship("lock", cwd=root, check=True)
    again = labship("run", "--runtime", "docker", "use", cwd=root, env=env)
    assert again.returncode == 0, again.stderr
    assert "library 10" in again.stdout and "building the prod image" in again.stderr
