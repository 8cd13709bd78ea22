"""The CPU count and the model folder's errors, without servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labship.serving.app.cpus import cgroup_quota, usable_cpus
from serve.serverfixtures import free_port


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("max 100000\n", None),
        ("200000 100000\n", 2),
        ("150000 100000", 2),
        ("50000 100000", 1),
        ("junk", None),
    ],
)
def test_cgroup_quota(tmp_path: Path, text: str, want: int | None) -> None:
    (tmp_path / "cpu.max").write_text(text)
    assert cgroup_quota(tmp_path / "cpu.max") == want


def test_usable_cpus_is_the_affinity_capped_by_the_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert usable_cpus(tmp_path / "cpu.max") == 1
    assert usable_cpus(tmp_path / "absent") == len(os.sched_getaffinity(0))


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labship", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_not_a_model_folder_is_one_line_exit_64(tmp_path: Path) -> None:
    done = _serve(str(tmp_path))
    assert done.returncode == 64
    assert done.stderr.count("\n") == 1 and "no MLmodel file" in done.stderr


def test_a_pip_option_in_requirements_is_named(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function: {python_version: 3.11.7}\n")
    (tmp_path / "requirements.txt").write_text("pandas\n--index-url http://x\n")
    done = _serve(str(tmp_path))
    assert done.returncode == 65 and "requirements.txt:2" in done.stderr


def test_a_taken_port_is_exit_75(tmp_path: Path) -> None:
    import socket

    (tmp_path / "MLmodel").write_text("flavors:\n  python_function: {python_version: 3.11.7}\n")
    (tmp_path / "requirements.txt").write_text("pandas\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _serve(str(tmp_path), "--port", str(taken.getsockname()[1]))
    assert done.returncode == 75 and "in use" in done.stderr


def test_a_requirement_uv_cannot_parse_is_one_line_exit_76(tmp_path: Path) -> None:
    """uv's error and cause, not its last line (carets under the echoed requirement), and
    requirements.txt named instead of labship's temporary copy."""
    (tmp_path / "MLmodel").write_text("flavors:\n  python_function: {python_version: 3.11.7}\n")
    (tmp_path / "requirements.txt").write_text("scikit-learn==0.0.1nope\n")
    done = _serve(str(tmp_path), "--port", str(free_port()))
    assert done.returncode == 76, done.stderr
    error = done.stderr.splitlines()[-1]
    assert error.startswith("labship: error: ") and "^^^" not in error
    assert "`nope`" in error and "requirements.txt" in error and "labship-serve-" not in error
