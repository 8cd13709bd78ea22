"""labship.runlog: the outcome of a scheduled run that was skipped or stopped; the MLflow
run a tracked run logged."""

from __future__ import annotations

import dataclasses
import json
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


def _tracked(run_id: str | None = None) -> runlog.RunRecord:
    return dataclasses.replace(_record(), mlflow_run_id=run_id)


def test_mlflow_run_id_is_kept_and_old_lines_still_read(tmp_path: Path) -> None:
    runlog.append(tmp_path, _record())
    runlog.append(tmp_path, _tracked("e448fb97f9624a0c8455e1e0a617bc30"))
    lines = (tmp_path / runlog.LOG_NAME).read_text().splitlines()
    assert "mlflow_run_id" not in lines[0]  # untracked runs' lines stay as they were
    log = runlog.read(tmp_path)
    assert [r.mlflow_run_id for r in log.records] == [None, "e448fb97f9624a0c8455e1e0a617bc30"]
    assert log.skipped == 0


def test_a_bad_mlflow_run_id_makes_the_line_unreadable(tmp_path: Path) -> None:
    line = _record().to_json() | {"mlflow_run_id": 42}
    (tmp_path / runlog.LOG_NAME).write_text(json.dumps(line) + "\n")
    assert runlog.read(tmp_path).skipped == 1


def test_the_table_shows_mlflow_runs_only_when_there_are_some() -> None:
    assert "mlflow run" not in runlog.table([_tracked()])
    table = runlog.table([_tracked(), _tracked("e448fb97")])
    assert "mlflow run" in table.splitlines()[0]
    assert table.splitlines()[2].split()[-1] == "e448fb97"
    assert table.splitlines()[1].split()[-1] == "-"
