"""A model folder whose model does not load: the server says so in one line (exit 65,
labship's code for a model folder it cannot use) instead of a traceback, and listens on
nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from labship.serving.env import PACKAGE, stage_code
from labship.store import Store
from serve.serverfixtures import free_port


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["corrupt", "foreign"])
def test_a_model_that_does_not_load_is_one_line_exit_65(
    heavy: Path, tmp_path: Path, broken: str
) -> None:
    folder = tmp_path / "iris"
    shutil.copytree(heavy / "models" / "iris", folder)
    if broken == "corrupt":  # the file is not the zip skops writes
        (folder / "model.skops").write_text("garbage\n")
    else:  # the MLmodel no longer says skops: the zip is read as a pickle
        text = (folder / "MLmodel").read_text()
        (folder / "MLmodel").write_text(text.replace("serialization_format: skops", ""))
    code = stage_code(Store(tmp_path / "store"))
    python = str(heavy / "venv" / "bin" / "python")
    done = subprocess.run(
        [python, "-m", f"{PACKAGE}.server", "--model", str(folder), "--port", str(free_port())],
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 65, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"labship: error: {folder}: the model does not load (")
    if broken == "foreign":  # pickle's message has two lines: both kept, on one
        assert "was encountered, but no persistent_load" in lines[0]
