"""labship.runlog: the outcome of a scheduled run that was skipped or stopped."""

from __future__ import annotations

from pathlib import Path

from labship import runlog


def _record(outcome: str = "", exit_code: int = 0) -> runlog.RunRecord:
    return runlog.RunRecord(
        "train", "prod", "local", "2026-01-01T00:00:00Z", 1.0, exit_code, "a" * 64, None, outcome
    )


def test_outcome_is_kept_and_ordinary_lines_stay_as_they_were(tmp_path: Path) -> None:
    runlog.append(tmp_path, _record())
    runlog.append(tmp_path, _record("skipped", 75))
    first, second = (tmp_path / runlog.LOG_NAME).read_text().splitlines()
    assert '"outcome"' not in first and '"outcome":"skipped"' in second
    assert runlog.read(tmp_path).records == [_record(), _record("skipped", 75)]


def test_the_table_says_why_beside_the_exit_code() -> None:
    lines = runlog.table([_record(), _record("timeout", 124)]).splitlines()
    assert lines[1].split()[5:6] == ["0"]
    assert lines[2].split()[5:7] == ["124", "timeout"]
