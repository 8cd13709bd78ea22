"""labship's uv wrapper: uv's preview warning stays out of labship's output, interpreters
are found where pyenv keeps them, uv and its builds stop with labship."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from labship.tools.uv import find_python, uv, uv_bin, uv_env


def test_pylock_preview_warning_stays_out(tmp_path: Path) -> None:
    """`uv pip sync pylock.toml` (how environments are built) says nothing experimental."""
    lock = tmp_path / "pylock.toml"
    lock.write_text('lock-version = "1.0"\ncreated-by = "test"\n[[packages]]\nname = "x"\n')
    uv(["venv", "--quiet", str(tmp_path / "venv")])
    args = ["pip", "sync", "--dry-run", "--python", str(tmp_path / "venv"), str(lock)]
    result = uv(args, check=False)
    assert "experimental" not in result.stderr, result.stderr
    # uv does warn without labship's setting: the test would see a regression
    env = {k: v for k, v in uv_env().items() if k != "UV_PREVIEW_FEATURES"}
    plain = subprocess.run([uv_bin(), *args], env=env, capture_output=True, text=True)
    assert "experimental" in plain.stderr, plain.stderr


def _fake_python(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_pyenv_versions_count_without_a_shim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pyenv"
    _fake_python(root / "versions" / "3.97.2" / "bin" / "python3.97")
    newest = _fake_python(root / "versions" / "3.97.10" / "bin" / "python3.97")
    _fake_python(root / "versions" / "3.970.1" / "bin" / "python3.970")  # another version
    shim = _fake_python(root / "shims" / "python3.97")  # on PATH, but pyenv's own
    monkeypatch.setenv("PYENV_ROOT", str(root))
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "none"))
    assert find_python("3.97") == str(newest)
    assert find_python("3.96") is None
    # uv's own installs count too
    uv_python = _fake_python(
        tmp_path / "uvpy" / "cpython-3.96.4-linux-x86_64-gnu" / "bin" / "python3.96"
    )
    monkeypatch.setenv("UV_PYTHON_INSTALL_DIR", str(tmp_path / "uvpy"))
    assert find_python("3.96") == str(uv_python)
