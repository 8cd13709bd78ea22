"""rattler runs in a child process: labship's own interpreter never loads it (its runtime
can abort an interpreter while it finalises), the child always leaves cleanly after its
answer, and a child that dies without one is one line, not a hang or a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labship.errors import ChannelUnavailable, CondaPackageError, ToolError
from labship.tools import rattler


def test_solve_runs_in_a_child_and_never_loads_rattler_here(tmp_path: Path, conda_channel: Path):
    records = rattler.solve(["labtool"], [conda_channel.as_uri()], cache=tmp_path)
    assert [(r.name, r.version) for r in records] == [("labtool", "0.3"), ("liblabfoo", "2.0")]
    assert all(len(r.sha256) == 64 and r.url.startswith("file://") for r in records)
    assert "rattler" not in sys.modules


def test_the_child_leaves_cleanly_after_each_answer(tmp_path: Path, conda_channel: Path):
    """Several rounds of asyncio work offline against file://: exit 0 every time, with a
    whole answer on stdout (an abort while finalising would be -6, SIGABRT)."""
    prefix = tmp_path / "prefix"
    records = rattler.solve(["liblabfoo 1.*"], [conda_channel.as_uri()], cache=tmp_path)
    requests = [
        {"op": "solve", "specs": ["labtool"], "channels": [conda_channel.as_uri()]},
        {"op": "probe", "channels": [conda_channel.as_uri()]},
        {"op": "install", "records": [r.__dict__ for r in records], "prefix": str(prefix)},
    ]
    for request in requests:
        request.update(platform="linux-64", cache=str(tmp_path))
        proc = subprocess.run(
            [sys.executable, "-m", "labship.tools.rattler"],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert "error" not in json.loads(proc.stdout)
    assert (prefix / "lib" / "liblabfoo.so").is_file()


def test_a_child_that_dies_without_an_answer_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    aborts = tmp_path / "python"
    aborts.write_text("#!/bin/sh\necho 'fatal runtime error' >&2\nkill -ABRT $$\n")
    aborts.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(aborts))
    with pytest.raises(ToolError, match=r"rattler \(solve\) failed without an answer: fatal"):
        rattler.solve(["x"], ["file:///nowhere"], cache=tmp_path)


def test_errors_are_classified(tmp_path: Path, conda_channel: Path):
    with pytest.raises(CondaPackageError, match="No candidates were found for nothere") as info:
        rattler.solve(["nothere"], [conda_channel.as_uri()], cache=tmp_path)
    assert ".;" not in str(info.value)
    gone = tmp_path / "gone"
    with pytest.raises(ChannelUnavailable, match=f"its folder {gone} does not exist; check"):
        rattler.solve(["x"], [gone.as_uri()], cache=tmp_path)
    with pytest.raises(ChannelUnavailable, match=r"http://127\.0\.0\.1:9/c does not answer"):
        rattler.solve(["x"], ["http://127.0.0.1:9/c"], cache=tmp_path)
    answers = rattler.probe(
        [conda_channel.as_uri(), "http://127.0.0.1:9/c", gone.as_uri()], cache=tmp_path
    )
    assert [a.ok for a in answers] == [True, False, False]
    assert answers[2].detail == f"its folder {gone} does not exist"


@pytest.mark.parametrize("python", ["3.10", "3.11"])
def test_a_package_that_needs_python_gets_the_projects(
    tmp_path: Path, conda_channel: Path, python: str
):
    records = rattler.solve(
        ["labpy"], [conda_channel.as_uri()], cache=tmp_path, constraints=[f"python {python}.*"]
    )
    assert {r.name: r.version for r in records} == {"labpy": "1.0", "python": f"{python}.0"}
    # a constraint alone installs nothing
    alone = rattler.solve(
        ["liblabfoo"], [conda_channel.as_uri()], cache=tmp_path, constraints=["python 3.10.*"]
    )
    assert [r.name for r in alone] == ["liblabfoo"]


def test_installing_from_a_local_channel_that_is_gone_is_69(tmp_path: Path, conda_channel: Path):
    """A removed file:// channel is a channel that does not answer, not an unknown package."""
    import shutil

    channel = shutil.copytree(conda_channel, tmp_path / "chan")
    records = rattler.solve(["liblabfoo 1.*"], [channel.as_uri()], cache=tmp_path / "c")
    shutil.rmtree(channel)
    with pytest.raises(ChannelUnavailable, match=f"its folder {channel}/? does not exist") as info:
        rattler.install(records, tmp_path / "prefix", cache=tmp_path / "c")
    assert info.value.exit_code == 69
