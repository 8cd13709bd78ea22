"""A tool's failure is one short line; its long output goes to a log file named there."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from labship.console import Console
from labship.tools.process import LINE_LIMIT, failure_message, run_tool


def test_a_long_failure_is_one_short_line_and_a_private_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABSHIP_STORE", str(tmp_path / "store"))
    # as BuildKit fails: many lines, the last one several KB (the whole RUN command)
    script = (
        "for i in $(seq 40); do echo step $i >&2; done; printf 'ERROR: %05000d\\n' 7 >&2; exit 1"
    )
    argv = ["sh", "-c", script]
    result = run_tool("docker", argv, check=False)
    console = Console(mask=lambda text: text.replace("step 3\n", "***\n"))
    message = failure_message("docker", argv, result, console)
    assert len(message) <= LINE_LIMIT and "\n" not in message
    assert message.startswith("docker failed (sh -c for i in") and "ERROR: 0000" in message
    log = Path(message.rpartition("all its output: ")[2])
    text = log.read_text()
    assert "step 40" in text and "0" * 4000 in text
    assert "step 3\n" not in text  # masked in the log as on the screen
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_a_short_failure_stays_inline_without_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABSHIP_STORE", str(tmp_path / "store"))
    argv = ["sh", "-c", "echo 'no such image' >&2; exit 3"]
    result = run_tool("docker", argv, check=False)
    assert failure_message("docker", argv, result, None) == (
        "docker failed (sh -c echo 'no such image' >&2; exit 3 ...): no such image"
    )
    assert not (tmp_path / "store" / "logs").exists()
